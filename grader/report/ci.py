"""Output for CI: a job summary, annotations, JUnit XML and an exit status.

``grade`` and ``grade check`` call :func:`publish` once their results are
known. Everything here reads results and writes text; nothing changes a grade.

- ``GITHUB_STEP_SUMMARY`` (set by GitHub Actions) names a file: a Markdown
  table of the results is appended to it and shown on the run's page.
- ``GITHUB_ACTIONS=true``: failing tests are printed as ``::error`` workflow
  commands, which GitHub shows as annotations. Elsewhere they would be noise.
- ``--junit FILE``: JUnit XML, which GitLab (``artifacts:reports:junit``) and
  most CI systems display as a test report.
- ``--fail-under SCORE``: exit status :data:`FAIL_UNDER_STATUS` when a result
  scores below SCORE percent, so that a student's push gets a red mark.

Text from a notebook or a test is a stranger's text: every format escapes it
by its own rules, so a hostile test name cannot forge a workflow command, a
table column or an XML element.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.errors import ExitCode
from grader.files import atomic_write
from grader.results.model import NOT_RUN, Result, Status, TestResult

FAIL_UNDER_STATUS = ExitCode.BELOW_THRESHOLD  # 1 and 2 already mean grader error and usage error
MAX_MESSAGE = 1000  # characters of a test's output put into an annotation or a summary cell

_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_MARKDOWN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- command line -----------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The CI options, the same for ``grade`` and ``grade check``."""
    parser.add_argument("--fail-under", type=percentage, metavar="SCORE",
                        help=f"exit with status {FAIL_UNDER_STATUS} if a result scores below SCORE percent (0-100)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML to FILE")


def percentage(text: str) -> float:
    """An argparse type: a number from 0 to 100, so a typo is a usage error, not a silent pass."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage from 0 to 100")
    return value


def publish(results: list[Result], args: argparse.Namespace, notebook: Path | None = None) -> int:
    """Write every CI output asked for; return 0, or :data:`FAIL_UNDER_STATUS`.

    ``results`` are as the gradebook has them: the overrides in force, the late penalty in
    ``final_score``. ``notebook`` is given by ``grade check``: then only public tests ran and
    their output may be shown. In a batch, hidden tests ran too, so
    annotations carry test names and scores but never a test's output.
    """
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        text = check_summary(results[0], args.fail_under) if notebook else batch_summary(results)
        append_summary(Path(summary), text)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        lines = check_annotations(results[0], notebook) if notebook else batch_annotations(results)
        if lines:
            print("\n".join(lines), flush=True)
    if args.junit is not None:
        write_junit(args.junit, results)
    if args.fail_under is not None and below(results, args.fail_under):
        return FAIL_UNDER_STATUS
    return 0


# --- scores -----------------------------------------------------------------------------------

def percent(result: Result) -> float:
    """The result's final score (after any late penalty) in percent. A notebook that could not be
    graded scores 0, even with no tests, so that a timeout can never pass ``--fail-under``."""
    if result.status != Status.GRADED:
        return 0.0
    if result.max_score == 0:
        return 100.0
    return 100.0 * result.final_score / result.max_score


def below(results: list[Result], threshold: float) -> list[Result]:
    """The results that score under ``threshold`` percent."""
    return [r for r in results if percent(r) < threshold]


# --- GitHub annotations -------------------------------------------------------------------------

def escape_data(text: str) -> str:
    """A workflow command's message: GitHub reads ``%``, CR and LF as escapes and line ends."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (title, file): ``:`` and ``,`` end it, so escape them too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(title: str, message: str, file: str | None = None) -> str:
    """One ``::error`` line; everything in it escaped, so it stays one command on one line."""
    props = ([f"file={escape_property(file)}"] if file else []) + [f"title={escape_property(_utf8(title))}"]
    return f"::error {','.join(props)}::{escape_data(_utf8(_clip(message)))}"


def check_annotations(result: Result, notebook: Path | None) -> list[str]:
    """``grade check``: one annotation per failing public test, with its output."""
    file = notebook.as_posix() if notebook is not None else None
    lines = [annotation(f"{t.name} ({t.score:g} / {t.max_score:g})", t.output or "failed", file)
             for t in result.tests if t.status == "failed"]
    if result.status != Status.GRADED:
        lines.insert(0, annotation(f"{result.lab}: {result.status}", result.message or result.status, file))
    return lines


def batch_annotations(results: list[Result]) -> list[str]:
    """``grade``: one annotation per (student, lab) with failing tests, naming them. One per
    result, not per test, because GitHub shows only the first ten error annotations of a step;
    no test output, because hidden tests ran."""
    lines = []
    for r in sorted(results, key=lambda r: (r.student, r.lab)):
        failed = [t.name for t in r.tests if t.status == "failed"]
        if failed or r.status != Status.GRADED:
            parts = [f"{r.status}: {r.message}"] if r.status != Status.GRADED else []
            parts += ["failed: " + "; ".join(failed)] if failed else []
            lines.append(annotation(f"{r.student} / {r.lab}: {r.final_score:g} / {r.max_score:g}", "\n".join(parts)))
    return lines


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " …"


def _utf8(text: str) -> str:
    """``text`` with lone surrogates (an undecodable file name) made ``?``: they cannot be written as
    UTF-8, and a crash while reporting would hide grades that are already safe on disk."""
    return text.encode("utf-8", "replace").decode("utf-8")


# --- Markdown job summary -----------------------------------------------------------------------

def markdown_cell(text: str) -> str:
    """Text as one table cell: on one line, every ASCII punctuation character backslash-escaped
    (CommonMark allows it for all of them), so nothing can end the cell, start a link or HTML."""
    text = " ".join(_MARKDOWN_CONTROL.sub(" ", _utf8(text)).split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; every cell escaped."""
    lines = [_row(header), "|" + "|".join(" --- " for _ in header) + "|"]
    lines += [_row(row) for row in rows]
    return "\n".join(lines) + "\n"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(markdown_cell(c) or " " for c in cells) + " |"


def check_summary(result: Result, fail_under: float | None) -> str:
    """``grade check``: the lab's score, each exercise's subtotal if the lab has exercises, then
    one row per public test."""
    verdict = ""
    if fail_under is not None:
        verdict = " (passes)" if percent(result) >= fail_under else f" (below the required {fail_under:g}%)"
    head = f"### {markdown_cell(f'Public tests, {result.lab}: {result.score:g} / {result.max_score:g}')}{verdict}\n\n"
    if result.status != Status.GRADED:
        head += markdown_cell(f"{result.status}: {result.message}") + "\n\n"
    if subtotals := result.subtotals():
        head += markdown_table(["exercise", "points", "tests passed"],
                               [[s.label, f"{s.score:g} / {s.max_score:g}", f"{s.passed} of {s.total}"]
                                for s in subtotals]) + "\n"
    rows = [[t.name, f"{t.score:g} / {t.max_score:g}", t.status, _clip(t.output)] for t in result.tests]
    return head + markdown_table(["test", "points", "result", "message"], rows) + "\n"


def batch_summary(results: list[Result]) -> str:
    """``grade``: one row per (student, lab), like the gradebook: the final score, and the late
    penalty said in the note."""
    rows = [[r.student, r.lab, f"{r.final_score:g} / {r.max_score:g}", f"{percent(r):.0f}%", r.status,
             _clip("; ".join(part for part in (r.late_note, r.message) if part))]
            for r in sorted(results, key=lambda r: (r.student, r.lab))]
    head = f"### Grades: {len(results)} results\n\n"
    return head + markdown_table(["student", "lab", "score", "percent", "status", "note"], rows) + "\n"


def append_summary(path: Path, text: str) -> None:
    """Append to the step summary; a summary that cannot be written is reported, never fatal,
    since the grades themselves are already safe on disk."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        print(f"grade: warning: cannot write the step summary: {exc}", file=sys.stderr)


# --- JUnit XML ----------------------------------------------------------------------------------

def xml_text(text: str) -> str:
    """Text XML 1.0 can hold: characters it forbids (most controls, lone surrogates) removed, line
    ends made LF, since a parser would turn a bare CR into LF anyway. ElementTree escapes the rest."""
    return _XML_FORBIDDEN.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def junit_xml(results: list[Result]) -> str:
    """One ``testsuite`` per (student, lab), one ``testcase`` per test. A failing test of a graded
    notebook is a ``failure``; when the notebook could not be graded (timeout, memory, crash,
    invalid) its tests are ``error``s and one extra ``notebook`` testcase says why, so that a
    result without tests still shows up red."""
    suites = [_testsuite(r) for r in sorted(results, key=lambda r: (r.student, r.lab))]
    root = ET.Element("testsuites", name="grade")
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key)) for s in suites)))
    root.set("time", f"{sum(r.execution_time for r in results):.3f}")
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testsuite(r: Result) -> ET.Element:
    suite = ET.Element("testsuite", name=xml_text(f"{r.student} / {r.lab}"))
    props = ET.SubElement(suite, "properties")
    for name, value in (("student", r.student), ("lab", r.lab), ("status", r.status), ("score", f"{r.final_score:g}"),
                        ("max_score", f"{r.max_score:g}"), ("sandboxed", str(r.sandboxed).lower())):
        ET.SubElement(props, "property", name=name, value=xml_text(value))
    kind = "failure" if r.status == Status.GRADED else "error"
    cases = [_testcase(r, t, kind) for t in r.tests]
    if r.status != Status.GRADED:
        cases.insert(0, _testcase(r, TestResult("notebook", 0, 0, "failed", r.message or r.status), "error"))
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("time", f"{r.execution_time:.3f}")
    return suite


def _testcase(r: Result, t: TestResult, kind: str) -> ET.Element:
    case = ET.Element("testcase", name=xml_text(t.name), classname=xml_text(f"{r.lab}.{r.student}"), time="0")
    if t.status == NOT_RUN:
        ET.SubElement(case, "skipped", message=xml_text(t.output)[:200])
    elif t.status != "passed":
        output = xml_text(t.output)
        first_line = output.strip().split("\n", 1)[0] if output.strip() else t.status
        problem = ET.SubElement(case, kind, message=first_line[:200], type=r.status if kind == "error" else "failed")
        problem.text = output
    return case


def write_junit(path: Path, results: list[Result]) -> None:
    """Write the JUnit XML atomically, creating the folder: a CI report step may read it any time."""
    atomic_write(path, junit_xml(results))
