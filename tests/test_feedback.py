"""The feedback page students read: content, escaping, hidden tests, and what a browser shows."""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from conftest import LAB, notebook, run_grade, solution_cells, write_notebook
from grader.report.feedback import CSP, feedback_path, render, write_feedback
from grader.report.filters import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, clean_html
from grader.results.model import Result
from grader.results.model import TestResult as Check  # not named Test*: pytest would collect it

HOSTILE_NAME = '<img src=x onerror="document.title=\'name\'">'
SECRET = "expected 42 but the secret answer is 1337"
PWN = "document.title='pwned';document.body.setAttribute('data-pwned','1')"


def graded_result(student: str = "amy") -> Result:
    """A result with a passed and a failed public test and a failed hidden test."""
    return Result(student, LAB, "graded", [
        Check("q1: square(3) is 9", 1, 1, "passed"),
        Check("q2: mean([1, 2, 3]) is 2", 0, 1, "failed", "assert <b>None</b> == 2"),
        Check("q2: mean of an empty list is None", 0, 2, "failed", SECRET),
    ])


def with_exercises(result: Result) -> Result:
    """The result with each test in the exercise its name starts with ("q2: ..." is q2)."""
    for test in result.tests:
        test.exercise = test.name.split(":")[0]
    return result


class SummaryTables(HTMLParser):
    """The summary's tables as a parser reads the page: each table's class ("" for the tests'
    table) to its rows, each row the text of its cells."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        start = page.index('<section class="grader-summary">')
        self.feed(page[start:page.index("</section>", start)])
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._rows = self.tables.setdefault(dict(attrs).get("class") or "", [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def executed_notebook() -> nbformat.NotebookNode:
    """A notebook as it ran: one cell raised, outputs try to run script in the browser."""
    nb = notebook("def square(x):\n    return x * x", "1 / 0", "show()")
    nb.cells[1].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                  traceback=["\x1b[31mZeroDivisionError\x1b[0m: division by zero"])]
    nb.cells[2].outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": f"<script>{PWN}</script><b>shown</b>",
                                                     "application/javascript": PWN}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "figure"},
                               metadata={"image/png": {"width": f"1 onerror={PWN}"}}),
        nbformat.v4.new_output("stream", name="stdout", text=f"<script>{PWN}</script>"),
    ]
    nb.cells.append(nbformat.v4.new_markdown_cell(f'# My answers\n<img src=x onerror="{PWN}">'))
    return nb


def test_page_shows_score_tests_and_public_messages():
    page = render(graded_result(), executed_notebook(), title="Warm-up")
    assert "Score: 1 / 4" in page and "<h1>Warm-up</h1>" in page
    for name in ("q1: square(3) is 9", "q2: mean([1, 2, 3]) is 2", "q2: mean of an empty list is None"):
        assert html.escape(name) in page
    assert html.escape("assert <b>None</b> == 2") in page  # a public test's message, escaped
    assert '<span class="nf">square</span>' in page  # the notebook itself, highlighted


def test_hidden_tests_show_name_and_result_only():
    result = graded_result()
    result.tests[2].hidden = True
    page = render(result, executed_notebook())
    row = re.search(r'<tr class="grader-test"><td>q2: mean of an empty list is None</td>.*?</tr>', page).group(0)
    assert "failed" in row and "hidden test" in row
    assert SECRET not in page and "1337" not in page


def test_hidden_failure_is_recognised_by_its_stored_flag():
    """A hidden test's output is never shown as a message, whatever it says."""
    result = graded_result()
    result.tests[2].output, result.tests[2].hidden = "failed (hidden test)", True
    page = render(result, None)
    assert "failed (hidden test)" not in page and "<em>hidden test</em>" in page


def test_student_text_is_escaped():
    result = graded_result(HOSTILE_NAME)
    result.message = "<script>alert(1)</script>"
    page = render(result, None)
    assert HOSTILE_NAME not in page and html.escape(HOSTILE_NAME, quote=False) in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_hostile_outputs_cannot_run_script():
    page = render(graded_result(), executed_notebook())
    assert "<script" not in page.lower()
    assert not re.search(r"\bon\w+\s*=", page, re.I)  # no event handler attribute
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "script-src" not in CSP and "default-src 'none'" in CSP  # so no script at all may run
    assert "<b>shown</b>" in page  # sanitised HTML output is still shown


def test_errors_are_marked():
    page = render(graded_result(), executed_notebook())
    assert page.count("celltag_grader-error") == 2  # the CSS rule and the one cell that raised
    assert '<p class="grader-error-label">Error: ZeroDivisionError</p>' in page


def test_missing_notebook_is_said():
    result = Result("zed", LAB, "invalid", message="not a valid notebook: Expecting value")
    page = render(result, None)
    assert "Your notebook as it ran is not available (not a valid notebook: Expecting value)." in page
    assert 'class="jp-Cell jp-CodeCell' not in page


def test_page_is_written_beside_the_json(tmp_path):
    path = write_feedback(tmp_path, graded_result(HOSTILE_NAME), None)
    assert path == feedback_path(tmp_path, HOSTILE_NAME, LAB) and path.parent.parent == tmp_path
    assert path.suffix == ".html" and "<" not in path.parent.name
    assert "Score: 1 / 4" in path.read_text()


def test_grade_writes_a_page_per_result(course):
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()[:2], "1 / 0"))
    (course / "submissions" / "zed.ipynb").write_text("{not json")
    proc = run_grade("submissions", "--out", "grades", cwd=course)
    assert proc.returncode == 0, proc.stderr[-2000:]
    amy = (course / "grades" / "amy" / f"{LAB}.html").read_text()
    assert "Score: 9 / 22" in amy and "Error: ZeroDivisionError" in amy and "square" in amy
    hidden = re.search(r"<td>q2: mean of an empty list is None</td>.*?</tr>", amy).group(0)
    assert "<em>hidden test</em>" in hidden
    zed = (course / "grades" / "zed" / f"{LAB}.html").read_text()
    assert "Your notebook as it ran is not available" in zed and "invalid" in zed


# --- what a browser shows ----------------------------------------------------------

def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium, offline and with a throwaway profile."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is missing: run 'make system' (apt-get install chromium)"
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)


def dom_title(dom: str) -> str:
    match = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert match, dom[:500]
    return html.unescape(match.group(1))


def test_this_browser_runs_scripts(tmp_path):
    """The control: without the page's defences the same script does change the title,
    so an unchanged title below means the script was stopped, not that none could run."""
    page = tmp_path / "plain.html"
    page.write_text(f"<html><head><title>safe</title></head><body><script>{PWN}</script></body></html>")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom_title(dom) == "pwned" and 'data-pwned="1"' in dom


def test_browser_shows_score_subtotals_and_tests_and_runs_no_script(tmp_path):
    result = with_exercises(graded_result("amy"))
    result.tests.append(Check("style is checked", 0, 0, "not run", "needs flake8"))  # in no exercise
    page = write_feedback(tmp_path / "grades", result, executed_notebook(), title="Warm-up")
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = proc.stdout
    assert dom_title(dom) == "Warm-up: amy", proc.stderr[-2000:]
    assert 'data-pwned="1"' not in dom
    assert "Score: 1 / 4" in dom and "q1: square(3) is 9" in dom and "q2: mean of an empty list is None" in dom
    assert "Error: ZeroDivisionError" in dom and SECRET in dom  # not hidden here: no name was given
    tables = SummaryTables(dom).tables  # the DOM as the browser built it, not the HTML written
    assert tables["grader-exercises"] == [["Exercise", "Points", "Tests passed"], ["q1", "1 / 1", "1 of 1"],
                                          ["q2", "0 / 3", "0 of 2"], ["other", "0 / 0", "0 of 1"]]
    assert [row[:2] for row in tables[""]] == [["Exercise", "Test"], *([t.exercise or "other", t.name]
                                                                      for t in result.tests)]


def test_csp_stops_a_script_the_sanitiser_missed(tmp_path):
    page = tmp_path / "leak.html"
    text = render(graded_result("amy"), None, title="Warm-up")
    page.write_text(text.replace("</main>", f"<script>{PWN}</script><img src=x onerror=\"{PWN}\"></main>"))
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom_title(dom) == "Warm-up: amy" and 'data-pwned="1"' not in dom


def test_screenshot_of_the_page(tmp_path):
    page = write_feedback(tmp_path / "grades", graded_result("amy"), executed_notebook(), title="Warm-up")
    png = tmp_path / "page.png"
    proc = chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,2000", page.as_uri())
    assert png.is_file(), proc.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1200, 2000)
    assert len(data) > 20_000  # text, a table and cells: not a blank page


@pytest.mark.parametrize("status", ["timeout", "memory"])
def test_status_and_message_are_shown(status):
    result = Result("amy", LAB, status, message="the notebook was stopped")
    page = render(result, None)
    assert f'<span class="grader-status">{status}</span>' in page and "the notebook was stopped" in page


# --- the sanitiser ---------------------------------------------------------------

class _Markup(HTMLParser):
    """Every start tag and attribute of sanitised HTML, as a browser's parser reads them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe(html_text: str) -> None:
    """Only allowed tags and attributes, no script URL, data: only as an image's source."""
    for tag, attrs in _Markup(html_text).tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set()), (tag, name)
            url = (value or "").strip().lower().replace("\t", "").replace("\n", "")
            assert not url.startswith(("javascript:", "vbscript:")), (tag, name, value)
            assert not url.startswith("data:") or (tag, name) == ("img", "src"), (tag, name, value)


@pytest.mark.parametrize("dirty, kept", [
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="java&#x09;script:alert(1)">x</a>', "<a>x</a>"),  # a browser ignores the tab
    ('<a href=" JaVaScRiPt:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="data:image/png;base64,AAAA">x</a>', "<a>x</a>"),
    ('<img src="data:image/png;base64,AAAA" alt="a">', '<img src="data:image/png;base64,AAAA" alt="a">'),
    ('<img src=x onerror=alert(1)>', '<img src="x">'),
    ('<img src="attachment:f.png" alt="f">', '<img alt="f">'),
    ("<svg onload=alert(1)>", ""),
    ("<b/onmouseover=alert(1)>x", "x"),
    ("<scr<!-- -->ipt>alert(1)</script>", "alert(1)"),
    ("<a title='\" onclick=\"x'>t</a>", "t</a>"),
    ('<div style="x" class="c d" CLASS="e">t</DIV>', '<div class="c d">t</div>'),
    ("<!-- c --><b>k</b><!-- open", "<b>k</b>"),
    ('<table><tr><td colspan="2" rowspan="x">c</td></tr></table>', '<td colspan="2">c</td>'),
    ('<a title="&#' + "9" * 5000 + ';">x</a>', "x</a>"),
    ("<div>" * 40, "<div>"),
])
def test_clean_html_keeps_only_what_is_allowed(dirty, kept):
    clean = clean_html(dirty)
    assert kept in clean and "<!--" not in clean
    assert_safe(clean)
