"""Several notebooks of one student for one lab: one is graded, and the others are named in the
result's message, the gradebook, the feedback page, the batch's printed summary, and its fingerprint."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest
from conftest import LAB, copy_course, notebook, run_grade, solution_cells, write_notebook
from fakes import InlineExecutor
from test_runner_fast import ANSWERS, LAB_ID, TAGS, make_course

from grader.batch.fingerprint import submission_fingerprint
from grader.batch.run import run_batch
from grader.course.discover import discover
from grader.course.layout import Course
from grader.engine.sandbox import get_backend
from grader.report.feedback import feedback_path

WRONG = ["def square(x):\n    return x + x", *ANSWERS[1:]]


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def nine_notebooks_of_seven(subs: Path, lab: str, right: list[str], wrong: list[str], **nb) -> dict[str, str]:
    """Seven students, nine notebooks: ann has one beside her folder, bob one in his folder and one
    in his zip. Returns, for the two, the path of the notebook that is not graded."""
    for name in ("cat", "dan", "eve", "fay", "gus"):
        write_notebook(subs / f"{name}.ipynb", notebook(*right, lab=lab, **nb))
    write_notebook(subs / "ann.ipynb", notebook(*wrong, lab=lab, **nb))
    write_notebook(subs / "ann" / "lab-v2.ipynb", notebook(*right, lab=lab, **nb))
    write_notebook(subs / "bob" / "lab.ipynb", notebook(*wrong, lab=lab, **nb))
    write_notebook(subs.parent / "inner.ipynb", notebook(*right, lab=lab, **nb))
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        zf.write(subs.parent / "inner.ipynb", "work/lab.ipynb")
    return {"ann": str(subs / "ann.ipynb"), "bob": str(subs / "bob" / "lab.ipynb")}


@pytest.fixture
def batch(tmp_path: Path):
    """A course, the nine notebooks, and a function that discovers and grades them (fake kernel)."""
    course = Course(make_course(tmp_path / "course"))
    subs = tmp_path / "subs"
    skipped = nine_notebooks_of_seven(subs, LAB_ID, ANSWERS, WRONG, tags=TAGS)
    out = tmp_path / "grades"

    def run():
        found = discover([subs], course.lab_ids())
        results, errors = run_batch(found, course, out, get_backend("none"), 1, False, lambda r: None,
                                    executor_factory=InlineExecutor)
        assert errors == []
        return {r.student: r for r in results}

    return subs, skipped, out, run


def test_nine_notebooks_of_seven_students_give_seven_rows_that_name_the_two_left_out(batch):
    subs, skipped, out, run = batch
    results = run()
    assert sorted(results) == ["ann", "bob", "cat", "dan", "eve", "fay", "gus"]
    assert all(r.score == r.max_score == 6 for r in results.values())  # the right one of each pair
    book = gradebook(out)
    for student, path in skipped.items():
        assert f"1 other notebook for this lab was not graded: {path}" in results[student].message
        assert path in book[student]["message"]
        page = feedback_path(out, student, LAB_ID).read_text()
        assert "Note: 1 other notebook for this lab was not graded" in page and path in page
    for student in ("cat", "dan", "eve", "fay", "gus"):
        assert "not graded" not in results[student].message and book[student]["message"] == ""


def test_a_changed_set_of_duplicates_is_graded_again_never_reused_with_a_stale_note(batch):
    subs, skipped, _, run = batch
    first = run()
    assert all(r.reused for r in run().values())  # nothing changed: every result holds, notes and all
    Path(skipped["ann"]).unlink()
    write_notebook(subs / "cat" / "lab.ipynb", notebook(*ANSWERS, lab=LAB_ID, tags=TAGS))
    again = run()
    assert {s for s, r in again.items() if not r.reused} == {"ann", "cat"}
    assert "not graded" not in again["ann"].message
    assert str(subs / "cat.ipynb") in again["cat"].message and again["bob"].message == first["bob"].message


def test_the_fingerprint_follows_the_duplicates(tmp_path):
    for name in ("lab.ipynb", "lab-v2.ipynb", "lab-v3.ipynb"):
        write_notebook(tmp_path / "subs" / "bob" / name, notebook("x = 1", lab=LAB_ID))
    three = submission_fingerprint(discover([tmp_path / "subs"], [LAB_ID])[0])
    assert three == submission_fingerprint(discover([tmp_path / "subs"], [LAB_ID])[0])
    (tmp_path / "subs" / "bob" / "lab.ipynb").unlink()
    two = submission_fingerprint(discover([tmp_path / "subs"], [LAB_ID])[0])
    (tmp_path / "subs" / "bob" / "lab-v2.ipynb").unlink()
    one = submission_fingerprint(discover([tmp_path / "subs"], [LAB_ID])[0])
    assert len({three, two, one}) == 3


def test_a_row_the_grader_failed_on_still_names_the_duplicates(batch):
    subs, skipped, out, run = batch
    hidden = next((subs.parent / "course" / "solutions" / LAB_ID / "tests").glob("test_*.py"))
    hidden.write_text("def test_oops(nb)\n")  # the tests do not load: every row is the grader's error
    found = discover([subs], [LAB_ID])
    executor = InlineExecutor()
    results, errors = run_batch(found, Course(subs.parent / "course"), out, get_backend("none"), 1, False,
                                lambda r: None, executor_factory=lambda workers: executor)
    rows = {r.student: r for r in results}
    assert errors and all(r.status == "crashed" for r in rows.values())
    assert all(skipped[s] in rows[s].message and "grader error" in rows[s].message for s in skipped)


def test_grade_prints_one_line_per_student_with_duplicates(tmp_path):
    """End to end, in the sandbox: the gradebook's seven rows and, after the table, one line for
    each of the two students naming the notebook graded and the one that was not."""
    course = copy_course(tmp_path / "course")
    subs = course / "submissions"
    skipped = nine_notebooks_of_seven(subs, LAB, solution_cells(), solution_cells()[:2])
    proc = run_grade("submissions", "-j", "2", cwd=course)
    assert proc.returncode == 0, proc.stderr[-2000:]
    book = gradebook(course / "grades")
    assert sorted(book) == ["ann", "bob", "cat", "dan", "eve", "fay", "gus"]
    assert {row["score"] for row in book.values()} == {"22"}
    lines = proc.stdout.splitlines()
    graded = {"ann": "submissions/ann/lab-v2.ipynb", "bob": "submissions/bob.zip:work/lab.ipynb"}
    for student, path in skipped.items():
        relative = str(Path(path).relative_to(course))
        line = only_line(lines, f"{student} · {LAB}: graded ")
        assert graded[student] in line and f"not graded: {relative}" in line
        assert relative in book[student]["message"]
    assert not [line for line in lines if "not graded" in line and line.startswith(("cat", "dan", "eve"))]


def only_line(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]
