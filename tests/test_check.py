"""``check("q1")`` in a student's own notebook, and ``grade`` where there is no sandbox."""

from __future__ import annotations

import html

import nbformat
import pytest
from conftest import LAB, notebook, run_grade, solution_cells, write_notebook
from nbclient import NotebookClient

from grader.testing.check import Report
from grader.testing.plugin import TestOutcome


def run_in_lab_folder(course, nb) -> nbformat.NotebookNode:
    """Execute ``nb`` the way Jupyter does for a student: unsandboxed, from the lab folder."""
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(course / "labs" / LAB)}})
    return client.execute()


def outputs(cell) -> str:
    """What a cell printed, and the plain text of what it displayed."""
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def html_of(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def test_check_shows_the_public_tests_of_one_exercise_as_a_table(course):
    nb = run_in_lab_folder(course, notebook(
        "from grader.testing.check import check", *solution_cells()[:2], 'check("q1")',
        "def mean(values):\n    return 0", 'check("q2")'))
    assert outputs(nb.cells[3]) == "PASS q1: square(3) is 9\n1 passed, 0 failed"
    assert outputs(nb.cells[5]) == "FAIL q2: mean([1, 2, 3]) is 2\n     q2: expected 2, got 0\n0 passed, 1 failed"
    table = html_of(nb.cells[5])
    assert "<th style='text-align:left'>points</th>" in table and "<td>0 / 1</td>" in table
    assert ">failed</td>" in table and "q2: expected 2, got 0" in table and "0 passed, 1 failed" in table


MORE_TESTS = '''
def test_q10_extra(nb):
    """q10: never run by q1"""
    assert False


def test_q11_html(nb):
    """q11: <b>bold</b> & co"""
    assert nb.call("square", 2) == "<script>"
'''


def test_check_selects_one_exercise_exactly_and_names_the_students_cell(course):
    (course / "labs" / LAB / "tests" / "test_more.py").write_text(MORE_TESTS)
    nb = run_in_lab_folder(course, notebook(
        "from grader.testing.check import check", "def square(x):\n    y = 1\n    return x / 0",
        'check("q1")', 'check("q11")', 'check("q99")'))
    q1 = outputs(nb.cells[2])
    assert "q10" not in q1 and q1.endswith("0 passed, 1 failed")
    assert "q1: your code raised ZeroDivisionError: division by zero (cell In[2], line 3)" in q1
    table = html_of(nb.cells[3])
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in table and "<b>" not in table and "<script>" not in table
    assert outputs(nb.cells[4]) == ("check('q99'): no test belongs to exercise 'q99'; "
                                    "the exercises are q1, q2, q3, q4, q10, q11\n")


def test_check_says_the_labs_tests_are_broken_not_the_notebook(course):
    (course / "labs" / LAB / "tests" / "test_more.py").write_text("def test_q1_typo(nb):\n    assert squre(2)\n")
    nb = run_in_lab_folder(course, notebook("from grader.testing.check import check", *solution_cells()[:2],
                                            'check("q1")'))
    said = outputs(nb.cells[3])
    assert said.startswith("check('q1'): the lab's tests are broken, not your notebook")
    assert "test_q1_typo errors by itself: NameError: name 'squre' is not defined" in said


def test_check_does_nothing_while_grading(course, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX", "1")
    nb = run_in_lab_folder(course, notebook("from grader.testing.check import check", 'check("q1")'))
    assert outputs(nb.cells[1]) == "check('q1'): skipped while grading\n"


def without_bwrap(tmp_path) -> dict:
    """An environment whose PATH has no bubblewrap (nor anything else)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty)}


def test_grade_refuses_without_a_sandbox(course, tmp_path):
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    proc = run_grade("submissions", cwd=course, env=without_bwrap(tmp_path))
    assert proc.returncode == 2 and "--no-sandbox" in proc.stderr
    assert not (course / "grades").exists()


def test_check_falls_back_to_unsandboxed_and_says_so(course, tmp_path):
    solved = write_notebook(course / "labs" / LAB / "mine.ipynb", notebook(*solution_cells()))
    proc = run_grade("check", str(solved), cwd=course, env=without_bwrap(tmp_path))
    assert proc.returncode == 0, proc.stderr
    notices = [line for line in proc.stdout.splitlines() if "unsandboxed" in line]
    assert len(notices) == 1 and "4 / 4" in proc.stdout


@pytest.mark.parametrize("said", ["<script>alert(1)</script>", "a & b", "\"double\" 'single'", "<img src=x onerror=y>",
                                  "line one\nline <two>"])
def test_the_table_escapes_what_tests_and_notebooks_say(said):
    failed = TestOutcome("t", said, 2.0, False, output=said)
    passed = TestOutcome("u", "fine", 1.0, False, passed=True)
    table = Report("q1", [failed, passed])._repr_html_()
    assert "<script" not in table and "<img" not in table and html.escape(said) in table
    assert "<td>0 / 2</td>" in table and "<td>1 / 1</td>" in table and "1 passed, 1 failed" in table
    assert Report("q1", [failed, passed]).text() == "\n".join(
        ["FAIL " + said, *("     " + line for line in said.splitlines()), "PASS fine", "1 passed, 1 failed"])


def test_the_plain_text_says_when_no_test_matches():
    assert Report("nothing", []).text() == "check('nothing'): no public test matches"
