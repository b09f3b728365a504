"""``check("q1")`` in a student's own notebook, and ``grade`` where there is no sandbox."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from conftest import LAB, notebook, run_grade, solution_cells, write_notebook


def run_in_lab_folder(course, nb) -> nbformat.NotebookNode:
    """Execute ``nb`` the way Jupyter does for a student: unsandboxed, from the lab folder."""
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(course / "labs" / LAB)}})
    return client.execute()


def outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def test_check_shows_the_public_tests_of_one_exercise(course):
    nb = run_in_lab_folder(course, notebook(
        "from grader.testing.check import check", *solution_cells()[:2], 'check("q1")',
        "def mean(values):\n    return 0", 'check("q2")'))
    assert outputs(nb.cells[3]) == "PASS q1: square(3) is 9\n1 passed, 0 failed\n"
    q2 = outputs(nb.cells[5])
    assert q2.startswith("FAIL q2: mean([1, 2, 3]) is 2\n") and q2.endswith("0 passed, 1 failed\n")


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
