"""CI output: step summary, annotations, JUnit XML and --fail-under.

The formats are checked the way their consumers read them: annotations are
unescaped by GitHub's rules, the summary is parsed as a GitHub-flavoured
Markdown table, the JUnit file is parsed as XML and held to a small schema.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import LAB, notebook, run_grade, solution_cells, write_notebook
from grader.report import ci
from grader.results.model import Result
from grader.results.model import TestResult as Case  # not "Test...", which pytest would try to collect

HOSTILE = [
    "q1: a, b % 100%0A::warning::forged",
    "line one\nline two\r\nthree\rfour",
    "| pipe | <script>alert(1)</script> *bold* _x_ `code` [link](http://evil) \\ \\| # > -",
    "ctrl \x00\x07\x1b[31m\x7f and a lone surrogate \ud800 and ]]> & \"quotes\" 'single'",
    "&amp; &#x41; <!-- comment --> ![img](x) 1. item",
]

# A minimal JUnit schema, written down as data (no XSD validator is installed): for each element,
# the attributes it must have and the children it may have. GitLab and Jenkins read these.
JUNIT_SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    "testsuites": ({"name", "tests", "failures", "errors", "time"}, {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors", "skipped", "time"}, {"properties", "testcase"}),
    "properties": (set(), {"property"}),
    "property": ({"name", "value"}, set()),
    "testcase": ({"name", "classname", "time"}, {"failure", "error"}),
    "failure": ({"message", "type"}, set()),
    "error": ({"message", "type"}, set()),
}
COUNTS = ("tests", "failures", "errors", "skipped")


def hostile_result(student: str = "mallory", status: str = "graded") -> Result:
    """A result whose every text field is a stranger's, with passing and failing tests."""
    tests = [Case(name, 0.0, 1.0, "failed", output=HOSTILE[(i + 1) % len(HOSTILE)])
             for i, name in enumerate(HOSTILE)]
    tests.append(Case("fine", 2.0, 2.0, "passed"))
    return Result(student, LAB, status, tests, message=HOSTILE[1], execution_time=1.5)


# --- annotations --------------------------------------------------------------------------------

def unescape(text: str) -> str:
    """What GitHub's runner does to a workflow command's escaped value."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def utf8(text: str) -> str:
    """Lone surrogates cannot be printed as UTF-8; the grader writes them as ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command split as GitHub splits it: ``::name props::message``."""
    match = re.fullmatch(r"::(\w+) ([^:]*)::(.*)", line)
    assert match, line
    props = dict(p.split("=", 1) for p in match.group(2).split(","))
    return match.group(1), {k: unescape(v) for k, v in props.items()}, unescape(match.group(3))


@pytest.mark.parametrize("text", HOSTILE)
def test_annotation_escaping_round_trips(text):
    line = ci.annotation(text, text, file="labs/a,b:c.ipynb")
    assert "\n" not in line and "\r" not in line
    command, props, message = parse_command(line)
    assert command == "error"
    assert props == {"file": "labs/a,b:c.ipynb", "title": utf8(text)}
    assert message == utf8(text)


def test_escape_rules_are_githubs():
    assert ci.escape_data("100%\r\n:,") == "100%25%0D%0A:,"
    assert ci.escape_property("100%\r\n:,") == "100%25%0D%0A%3A%2C"
    assert ci.escape_property("%3A") == "%253A"  # an escape in the input is not taken for one


def test_check_annotations_one_per_failing_test():
    lines = ci.check_annotations(hostile_result(), Path("labs") / LAB / "lab.ipynb")
    assert len(lines) == len(HOSTILE)
    parsed = [parse_command(line) for line in lines]
    assert [p[1]["title"] for p in parsed] == [utf8(f"{name} (0 / 1)") for name in HOSTILE]
    assert {p[1]["file"] for p in parsed} == {f"labs/{LAB}/lab.ipynb"}


def test_batch_annotations_never_show_test_output():
    secret = "assert nb.call('mean', []) is None  # expected None, the hidden value"
    result = Result("bob", LAB, "graded", [Case("q2: mean of an empty list", 0, 2, "failed", secret),
                                           Case("q1", 1, 1, "passed")])
    timed_out = Result("tim", LAB, "timeout", [Case("q1", 0, 1, "failed", secret)], message="took too long")
    lines = ci.batch_annotations([result, timed_out, Result("ann", LAB, "graded", [Case("q1", 1, 1, "passed")])])
    assert len(lines) == 2 and not any("expected None" in line or "nb.call" in line for line in lines)
    (_, bob, bob_msg), (_, tim, tim_msg) = map(parse_command, lines)
    assert bob["title"] == f"bob / {LAB}: 1 / 3" and bob_msg == "failed: q2: mean of an empty list"
    assert tim["title"] == f"tim / {LAB}: 0 / 1" and tim_msg == "timeout: took too long\nfailed: q1"


# --- Markdown step summary ----------------------------------------------------------------------

def table_rows(markdown: str, first: str | None = None) -> list[list[str]]:
    """The rows of the table in ``markdown`` (the one whose header starts with ``first`` where there
    are several), as rendered text; only plain text is allowed in a cell (no HTML, link, emphasis or
    code), so a hostile name cannot become markup."""
    tables, rows, row = [], [], []
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type == "table_open":
            rows = []
        elif token.type == "table_close":
            tables.append(rows)
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            rows.append(row)
        elif token.type == "inline" and token.level > 2:  # inside a table cell
            assert {c.type for c in token.children} <= {"text"}, token.children
            row.append("".join(c.content for c in token.children))
    chosen = [t for t in tables if first is None or t[0][0] == first]
    assert len(chosen) == 1, tables
    return chosen[0]


def plain(text: str) -> str:
    """A cell's expected text: control characters gone, whitespace collapsed (the summary is for
    reading; the exact text is in the results JSON)."""
    return " ".join(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", utf8(text)).split())


def test_check_summary_is_a_markdown_table():
    rows = table_rows(ci.check_summary(hostile_result(), 50))
    assert rows[0] == ["test", "points", "result", "message"]
    assert len(rows) == 1 + len(HOSTILE) + 1 and all(len(r) == 4 for r in rows)
    assert [r[0] for r in rows[1:]] == [plain(name) for name in HOSTILE] + ["fine"]
    assert rows[1][3] == plain(HOSTILE[1]) and rows[-1][1:3] == ["2 / 2", "passed"]


def test_batch_summary_is_a_markdown_table():
    results = [hostile_result(name) for name in HOSTILE] + [Result("zed", LAB, "invalid", message="not JSON")]
    text = ci.batch_summary(results)
    rows = table_rows(text)
    assert rows[0] == ["student", "lab", "score", "percent", "status", "note"]
    assert sorted(r[0] for r in rows[1:]) == sorted(plain(n) for n in HOSTILE + ["zed"])
    assert all(len(r) == 6 for r in rows)
    assert ["zed", LAB, "0 / 0", "0%", "invalid", "not JSON"] in rows
    assert "<script>" not in MarkdownIt("commonmark").enable("table").render(text)


# --- JUnit XML ----------------------------------------------------------------------------------

def validate_junit(xml: str) -> ET.Element:
    """Parse ``xml`` and hold it to JUNIT_SCHEMA, with counts that add up."""
    root = ET.fromstring(xml.encode("utf-8"))
    for element in root.iter():
        required, children = JUNIT_SCHEMA[element.tag]
        assert required <= set(element.attrib), (element.tag, element.attrib)
        assert {c.tag for c in element} <= children, element.tag
        for key in set(COUNTS) & set(element.attrib):
            assert int(element.get(key)) >= 0
        if "time" in element.attrib:
            assert float(element.get("time")) >= 0
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases)
    for key in ("tests", "failures", "errors"):
        assert int(root.get(key)) == sum(int(s.get(key)) for s in root.iter("testsuite"))
    return root


def test_junit_is_valid_with_hostile_text():
    xml = ci.junit_xml([hostile_result(name) for name in HOSTILE])
    root = validate_junit(xml)
    suites = root.findall("testsuite")
    assert len(suites) == len(HOSTILE)
    assert {s.find("properties/property[@name='student']").get("value") for s in suites} == \
        {ci.xml_text(n) for n in HOSTILE}
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == [ci.xml_text(n) for n in HOSTILE] + ["fine"]
    assert cases[0].find("failure").text == ci.xml_text(HOSTILE[1]) and cases[-1].find("failure") is None


def test_junit_marks_ungraded_notebooks_as_errors():
    timed_out = Result("tim", LAB, "timeout", [Case("q1", 0, 1, "failed", "not run: timeout")],
                       message="the notebook took longer than 60 s")
    invalid = Result("zed", LAB, "invalid", message="not a valid notebook")
    root = validate_junit(ci.junit_xml([timed_out, invalid]))
    tim, zed = root.findall("testsuite")
    assert (tim.get("tests"), tim.get("errors"), tim.get("failures")) == ("2", "2", "0")
    assert tim.find("testcase[@name='notebook']/error").get("message") == "the notebook took longer than 60 s"
    assert (zed.get("tests"), zed.get("errors")) == ("1", "1")


def test_xml_text_strips_what_xml_forbids():
    assert ci.xml_text("a\x00b\x1bc\ud800d\ufffee\tf\ng\r\nh\ri") == "abcde\tf\ng\nh\ni"


# --- scores -------------------------------------------------------------------------------------

def test_percent_and_below():
    half = Result("a", LAB, "graded", [Case("x", 1, 1, "passed"), Case("y", 0, 1, "failed")])
    empty = Result("b", LAB, "graded")
    crashed = Result("c", LAB, "crashed")
    assert [ci.percent(r) for r in (half, empty, crashed)] == [50.0, 100.0, 0.0]
    assert ci.below([half, empty, crashed], 50) == [crashed]
    assert ci.below([half, empty, crashed], 50.5) == [half, crashed]


@pytest.mark.parametrize("text", ["-1", "100.1", "abc", "nan"])
def test_percentage_rejects_what_is_not_one(text):
    with pytest.raises(argparse.ArgumentTypeError):
        ci.percentage(text)


# --- the commands -------------------------------------------------------------------------------

def test_check_fail_under_exit_status(course):
    """--fail-under: 3 below the threshold, 0 at or above it, 2 for a bad value."""
    mine = write_notebook(course / "labs" / LAB / "mine.ipynb", notebook(*solution_cells()[:2]))  # q1 only
    assert run_grade("check", str(mine), "--fail-under", "25", cwd=course).returncode == 0
    proc = run_grade("check", str(mine), "--fail-under", "25.1", cwd=course)
    assert proc.returncode == ci.FAIL_UNDER_STATUS, proc.stderr
    assert run_grade("check", str(mine), cwd=course).returncode == 0  # without the flag, scores never fail
    assert run_grade("check", str(mine), "--fail-under", "101", cwd=course).returncode == 2


def test_check_writes_summary_annotations_and_junit(course, tmp_path):
    mine = write_notebook(course / "labs" / LAB / "mine.ipynb", notebook(*solution_cells()[:2]))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = run_grade("check", f"labs/{LAB}/mine.ipynb", "--junit", "out/public.xml", cwd=course, env=env)
    assert proc.returncode == 0, proc.stderr
    assert summary.read_text().startswith("earlier step\n")  # appended, not replaced
    rows = table_rows(summary.read_text(), "test")
    assert [r[2] for r in rows[1:]] == ["passed", "failed", "failed", "failed"]
    exercises = table_rows(summary.read_text(), "exercise")
    assert [(r[0], r[2]) for r in exercises[1:]] == [("q1", "1 of 1"), ("q2", "0 of 1"), ("q3", "0 of 1"),
                                                     ("q4", "0 of 1")]
    commands = [parse_command(line) for line in proc.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 3 and {c[1]["file"] for c in commands} == {f"labs/{LAB}/mine.ipynb"}
    root = validate_junit((course / "out" / "public.xml").read_text())
    assert (root.get("tests"), root.get("failures")) == ("4", "3")
    assert mine.is_file()


@pytest.mark.parametrize("settings, stopped", [
    (None, False),  # the copy grade assign wrote: the lab's own limit, 5 s a cell
    ("cell_timeout = 1\n", True),  # a tighter limit in labs/<id>/lab.toml is in force
])
def test_check_in_a_labs_only_repository_runs_under_the_labs_settings(course, settings, stopped):
    """A student's repository holds labs/ alone: grade check reads labs/<id>/lab.toml, the settings
    grade assign copied there (a cell that needs 2 s tells which limit is read)."""
    shutil.rmtree(course / "solutions")
    if settings is not None:
        (course / "labs" / LAB / "lab.toml").write_text(settings)
    slow = "import time\nstart = time.monotonic()\nwhile time.monotonic() - start < 2:\n    pass"
    mine = write_notebook(course / "labs" / LAB / "mine.ipynb", notebook(slow, *solution_cells()))
    proc = run_grade("check", str(mine), "--fail-under", "100", cwd=course,
                     env={"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": ""})
    assert proc.returncode == 0 and f"{LAB}: 4 / 4" in proc.stdout, proc.stdout + proc.stderr
    assert ("cell 1 exceeded 1 s" in proc.stdout) is stopped


def test_no_ci_output_outside_ci(course):
    """Without GITHUB_ACTIONS and GITHUB_STEP_SUMMARY a terminal gets no workflow commands."""
    lab = course / "labs" / LAB / "lab.ipynb"
    proc = run_grade("check", str(lab), cwd=course, env={"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": ""})
    assert proc.returncode == 0 and "::error" not in proc.stdout and f"{LAB}: 0 / 4" in proc.stdout


def test_batch_ci_output_hides_hidden_test_output(course, tmp_path):
    """Even when the lab shows hidden tests' output in results, annotations do not."""
    (course / "solutions" / LAB / "lab.toml").write_text("show_hidden_output = true\n")
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    write_notebook(course / "submissions" / "bob.ipynb", notebook(*solution_cells()[:3]))
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = run_grade("submissions", "--junit", "grades/junit.xml", "--fail-under", "100", cwd=course, env=env)
    assert proc.returncode == ci.FAIL_UNDER_STATUS, proc.stderr
    hidden_outputs = [t["output"] for t in json.loads((course / "grades" / "bob" / f"{LAB}.json").read_text())["tests"]
                      if t["status"] == "failed" and t["output"]]
    assert hidden_outputs  # there is output that must not leak
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1 and annotations[0].count("bob") == 1
    assert not any(ci.escape_data(out[:40]) in annotations[0] for out in hidden_outputs)
    rows = table_rows(summary.read_text())
    assert [(r[0], r[4]) for r in rows[1:]] == [("amy", "graded"), ("bob", "graded")]
    assert rows[1][3] == "100%" and rows[2][3] != "100%"
    root = validate_junit((course / "grades" / "junit.xml").read_text())
    assert [s.get("name") for s in root.findall("testsuite")] == [f"amy / {LAB}", f"bob / {LAB}"]
    assert root.find("testsuite").get("failures") == "0"


def test_batch_fail_under_passes_when_all_score(course):
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    assert run_grade("submissions", "--fail-under", "100", cwd=course).returncode == 0
