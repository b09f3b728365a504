"""Grades out: the SQLite history across regrades, ``grade report``, Canvas CSV, Gradescope zip."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import LAB, copy_course, notebook, run_grade, solution_cells, write_notebook
from grader.results import history
from grader.report.lms import canvas_csv
from grader.results.model import Result
from grader.results.model import TestResult as Check  # not named Test*: pytest would collect it

FULL = 22


@pytest.fixture(scope="module")
def regraded(tmp_path_factory) -> Path:
    """A course graded twice: amy unchanged (reused), bea changed in between (regraded)."""
    course = copy_course(tmp_path_factory.mktemp("history") / "course")
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    write_notebook(course / "submissions" / "bea.ipynb", notebook(*solution_cells()[:2]))
    first = run_grade("submissions", "--out", "grades", cwd=course)
    assert first.returncode == 0, first.stderr[-2000:]
    write_notebook(course / "submissions" / "bea.ipynb", notebook(*solution_cells()))
    second = run_grade("submissions", "--out", "grades", cwd=course)
    assert second.returncode == 0, second.stderr[-2000:]
    return course


def db_rows(grades: Path) -> list[dict]:
    with sqlite3.connect(grades / "history.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM results ORDER BY id")]


def test_history_keeps_every_run(regraded):
    rows = db_rows(regraded / "grades")
    amy = [r for r in rows if r["student"] == "amy"]
    bea = [r for r in rows if r["student"] == "bea"]
    assert [(r["score"], r["reused"]) for r in amy] == [(FULL, 0), (FULL, 1)]
    assert amy[0]["fingerprint"] == amy[1]["fingerprint"] != ""
    assert [r["reused"] for r in bea] == [0, 0] and bea[0]["score"] < bea[1]["score"] == FULL
    assert bea[0]["fingerprint"] != bea[1]["fingerprint"]
    assert {r["lab"] for r in rows} == {LAB} and {r["max_score"] for r in rows} == {FULL}
    assert all(r["status"] == "graded" and r["graded_at"] for r in rows)
    assert len({r["run"] for r in rows}) == 2


def test_report_prints_the_latest_grades(regraded):
    proc = run_grade("report", cwd=regraded)
    assert proc.returncode == 0, proc.stderr
    assert "Latest grades" in proc.stdout and proc.stdout.count(f"{FULL} / {FULL}") == 2
    assert "amy" in proc.stdout and "bea" in proc.stdout


def test_report_history_shows_every_regrade(regraded):
    proc = run_grade("report", "--grades", str(regraded / "grades"), "--student", "bea", "--history",
                     cwd=regraded.parent)
    assert proc.returncode == 0, proc.stderr
    assert "History" in proc.stdout and "amy" not in proc.stdout
    assert proc.stdout.count("bea") == 2 and f"{FULL} / {FULL}" in proc.stdout


def test_report_without_history_is_a_usage_error(tmp_path):
    proc = run_grade("report", "--grades", str(tmp_path / "none"), cwd=tmp_path)
    assert proc.returncode == 2 and "no grade history" in proc.stderr


def test_canvas_export_from_a_grade_run(regraded):
    proc = run_grade("export", "canvas", "--out", "canvas.csv", cwd=regraded)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO((regraded / "canvas.csv").read_text())))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LAB]
    assert rows[1] == ["Points Possible", "", "", "", "", str(FULL)]
    assert rows[2:] == [["amy", "", "", "amy", "", str(FULL)], ["bea", "", "", "bea", "", str(FULL)]]


def test_canvas_export_uses_the_latest_grade_of_every_lab(tmp_path):
    for student, lab, score in (("amy", "lab-a", 1), ("amy", "lab-a", 3), ("amy", "lab-b", 2.5),
                                ("=cmd|' /C calc'!A0", "lab-b", 1)):
        result = Result(student, lab, "graded", [Check("t", score, 4, "passed")])
        history.append(tmp_path, result, "run")
    rows = list(csv.DictReader(io.StringIO(canvas_csv(tmp_path))))
    assert rows[0]["Student"] == "Points Possible" and (rows[0]["lab-a"], rows[0]["lab-b"]) == ("4", "4")
    amy = next(r for r in rows if r["Student"] == "amy")
    assert (amy["lab-a"], amy["lab-b"], amy["SIS Login ID"]) == ("3", "2.5", "amy")
    hostile = next(r for r in rows if "cmd" in r["Student"])
    assert hostile["Student"].startswith("'=") and hostile["lab-a"] == ""  # defused; no grade, empty cell


# --- Gradescope ---------------------------------------------------------------------

GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    course = copy_course(tmp_path_factory.mktemp("gradescope") / "course")
    out = course.parent / "autograder.zip"
    proc = run_grade("export", "gradescope", LAB, "--out", str(out), cwd=course)
    assert proc.returncode == 0, proc.stderr
    return out


def autograder_root(zip_path: Path, root: Path) -> Path:
    """A folder laid out like Gradescope's /autograder, with the zip unpacked in source/."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    return root


def run_autograder(root: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc, json.loads((root / "results" / "results.json").read_text())


def test_zip_holds_scripts_grader_and_lab(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        run = zf.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "grader-src/pyproject.toml", "grader-src/grader/runner.py",
            f"course/labs/{LAB}/lab.ipynb", f"course/labs/{LAB}/tests/test_public.py",
            f"course/solutions/{LAB}/tests/test_hidden.py", f"course/solutions/{LAB}/lab.toml"} <= names
    assert not any(n.endswith("solution.ipynb") or "__pycache__" in n for n in names)
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert 'AUTOGRADER_ROOT:-/autograder' in run and f"--lab '{LAB}'" in run


def test_run_autograder_writes_gradescope_results(autograder_zip, tmp_path):
    root = autograder_root(autograder_zip, tmp_path / "autograder")
    write_notebook(root / "submission" / "lab.ipynb", notebook(*solution_cells()[:2]))
    proc, data = run_autograder(root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert isinstance(data["score"], float | int) and isinstance(data["execution_time"], float | int)
    assert isinstance(data["output"], str) and data["visibility"] in VISIBILITY
    assert 0 < data["score"] < FULL and data["extra_data"]["max_score"] == FULL
    assert data["extra_data"]["sandboxed"] is True
    for test in data["tests"]:
        assert set(test) == GRADESCOPE_TEST_KEYS
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
        assert 0 <= test["score"] <= test["max_score"] and isinstance(test["name"], str)
    assert sum(t["score"] for t in data["tests"]) == data["score"]
    assert sum(t["max_score"] for t in data["tests"]) == FULL
    hidden = next(t for t in data["tests"] if t["name"] == "q2: mean of an empty list is None")
    assert hidden["status"] == "failed" and hidden["output"] == "failed (hidden test)"


def test_run_autograder_without_a_notebook(autograder_zip, tmp_path):
    root = autograder_root(autograder_zip, tmp_path / "autograder")
    (root / "submission" / "notes.txt").write_text("forgot the notebook")
    proc, data = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    assert data["score"] == 0 and data["tests"] == [] and "exactly one notebook" in data["output"]


def test_export_unknown_lab_is_a_usage_error(course):
    proc = run_grade("export", "gradescope", "nope", cwd=course)
    assert proc.returncode == 2 and "no lab 'nope'" in proc.stderr


def test_gradescope_gets_no_status_for_a_test_that_did_not_run():
    """Gradescope knows passed and failed only; a test not run here keeps max_score 0 and says why."""
    from grader.report.lms import gradescope_results

    result = Result("ann", LAB, "graded", [Check("q1", 2, 2, "passed"),
                                           Check("live: builds", 0, 0, "not run", "not run: no Docker engine")])
    tests = gradescope_results(result)["tests"]
    assert tests[0]["status"] == "passed"
    assert "status" not in tests[1] and (tests[1]["max_score"], tests[1]["output"]) == (0, "not run: no Docker engine")


# --- where --out writes, and what report says of a student or lab it has no grade for ----------


@pytest.fixture
def recorded(tmp_path) -> Path:
    """A grades folder whose history holds 15 students' grades for two labs (no grading run)."""
    grades = tmp_path / "grades"
    for i in range(15):
        for lab in ("lab-a", "lab-b"):
            history.append(grades, Result(f"s{i:02}", lab, "graded", [Check("q1", 1, 2, "passed")]), "run1")
    return grades


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """A usage problem: exit 2 and one line on stderr, no traceback."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("grade: error: ")
    return proc.stderr


@pytest.mark.parametrize(("out", "written"), [
    ("exports/", "exports/{name}"),  # a path ending in a separator: a folder, made if it is not there
    ("exports/deeper/", "exports/deeper/{name}"),
    ("existing", "existing/{name}"),  # a folder that exists
    ("mine.out", "mine.out"),  # anything else is the file
    ("exports/mine.out", "exports/mine.out"),
])
@pytest.mark.parametrize("target", ["canvas", "gradescope"])
def test_export_out_names_a_file_or_a_folder_to_put_it_in(course, recorded, target, out, written):
    (course / "existing").mkdir()
    args, name = (["canvas", "--grades", str(recorded)], "canvas-grades.csv") if target == "canvas" else (
        ["gradescope", LAB], f"gradescope-{LAB}.zip")
    proc = run_grade("export", *args, "--out", out, cwd=course)
    assert proc.returncode == 0, proc.stderr
    path = course / written.format(name=name)
    assert path.is_file() and f"wrote {written.format(name=name)}" in proc.stdout
    assert not (course / "exports").is_file() and (course / "existing").is_dir()
    if target == "canvas":
        assert path.read_text().startswith("Student,ID,SIS User ID")
    else:
        assert "run_autograder" in zipfile.ZipFile(path).namelist()


@pytest.mark.parametrize("target", [["canvas"], ["gradescope", LAB]])
def test_export_out_where_nothing_can_be_written_is_one_line(course, recorded, target):
    (course / "afile").write_text("in the way")
    for out in ("afile/x.out", "afile/"):
        stderr = one_error_line(run_grade("export", *target, "--grades", str(recorded), "--out", out, cwd=course)
                                if target == ["canvas"] else run_grade("export", *target, "--out", out, cwd=course))
        assert "afile" in stderr


def test_export_help_says_a_folder_may_be_given(course):
    for target in ("canvas", "gradescope"):
        text = " ".join(run_grade("export", target, "--help", cwd=course).stdout.split())
        assert "a path ending in / or a folder that exists" in text


@pytest.mark.parametrize(("args", "expected"), [
    (["--lab", "nope"], "no lab 'nope' in {grades}/history.sqlite; its labs: 'lab-a', 'lab-b'"),
    (["--student", "nope"], "no student 'nope' in {grades}/history.sqlite; its students: 's00', 's01', 's02', "
                            "'s03', 's04', 's05', 's06', 's07', 's08', 's09' and 5 more"),
    (["--student", "s01", "--lab", "nope", "--history"], "no lab 'nope'"),
    (["--student", "nope", "--lab", "lab-a"], "no student 'nope'"),
])
def test_report_of_what_the_history_does_not_hold_names_what_it_does(recorded, args, expected):
    stderr = one_error_line(run_grade("report", "--grades", str(recorded), *args, cwd=recorded.parent))
    assert expected.format(grades=recorded) in stderr


def test_report_of_a_student_without_a_grade_for_a_lab_says_so(recorded):
    history.append(recorded, Result("only-a", "lab-a", "graded", []), "run2")
    stderr = one_error_line(run_grade("report", "--grades", str(recorded), "--student", "only-a", "--lab", "lab-b",
                                      cwd=recorded.parent))
    assert "'only-a' has no grade for lab 'lab-b'" in stderr
    proc = run_grade("report", "--grades", str(recorded), "--student", "only-a", cwd=recorded.parent)
    assert proc.returncode == 0 and "only-a" in proc.stdout and "lab-a" in proc.stdout
