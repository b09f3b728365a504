"""Deadlines through the ``grade`` command, as an instructor uses them: the example lab with a
deadline, submissions committed to the instructor's repository at known times, an extensions file
with a misspelt name, then an LMS export that moves one student's time (nothing graded again)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLE, LAB, run_grade
from test_deadlines import DEADLINE, POLICY

from grader.cli.grade import deadlines_for, grade_parser
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.errors import UsageError

COMMITTED = {"alice": DEADLINE - timedelta(hours=1), "bob": DEADLINE + timedelta(days=2, hours=1)}


def git(root: Path, *args: str, when=None) -> None:
    stamp = {"GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat()} if when else {}
    subprocess.run(["git", "-c", "user.name=Instructor", "-c", "user.email=i@example.org", *args], cwd=root,
                   check=True, capture_output=True, env={**os.environ, **stamp})


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("late") / "course"
    for folder in ("labs", "solutions"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    toml = root / "solutions" / LAB / "lab.toml"
    toml.write_text(toml.read_text() + POLICY)
    (root / "extensions.csv").write_text("student,lab,days,until,note\nbobb,,1,,\n")
    git(root, "init", "-q")
    for student, when in COMMITTED.items():
        (root / "submissions").mkdir(exist_ok=True)
        shutil.copy(EXAMPLE / "submissions" / f"{student}.ipynb", root / "submissions")
        git(root, "add", "submissions")
        git(root, "commit", "-q", "-m", f"{student} handed in", when=when)
    return root


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def first(course):
    return run_grade("submissions/", "--out", "grades", "--skip-solution-check", cwd=course)


def test_commit_times_in_the_instructors_repository_decide_lateness(course, first):
    assert first.returncode == 0, first.stderr[-2000:]
    book = gradebook(course / "grades")
    assert {s: (r["score"], r["score_before_penalty"], r["late_days"], r["penalty"], r["time_source"])
            for s, r in book.items()} == {"alice": ("22", "22", "0", "0", "commit"),
                                          "bob": ("10.4", "17", "3", "6.6", "commit")}
    assert "3 days late, -30% (17 before)" in first.stdout
    assert "an extension names 'bobb', who has no submission here (did you mean 'bob'?)" in first.stderr


def test_an_lms_export_moves_a_time_and_nothing_is_graded_again(course, first):
    assert first.returncode == 0
    early = DEADLINE - timedelta(minutes=5)
    (course / "export.csv").write_text(f"Email,Submission Time\nbob,{early:%Y-%m-%d %H:%M:%S %z}\n")
    again = run_grade("submissions/", "--out", "grades", "--skip-solution-check", "--times", "export.csv",
                      cwd=course)
    assert again.returncode == 0, again.stderr[-2000:]
    book = gradebook(course / "grades")
    assert {s: (r["score"], r["late_days"], r["time_source"], r["reused"]) for s, r in book.items()} == {
        "alice": ("22", "0", "commit", "yes"), "bob": ("17", "0", "export", "yes")}
    assert "late penalty 0%, 0 days late (was 30%, 3 days late)" in again.stderr
    assert "alice · 00-warmup: not in export.csv; commit" in again.stdout


def test_one_export_for_a_batch_of_several_labs_with_deadlines_is_refused(course, tmp_path):
    """A notebook of no known lab does not count; a second lab with a deadline does."""
    (course / "export.csv").write_text("student,submitted_at\nalice,2026-03-01T12:00:00Z\n")
    args = grade_parser([]).parse_args(["submissions/", "--times", str(course / "export.csv")])
    subs = [Submission("alice", Path("a.ipynb"), lab=LAB), Submission("bob", Path("b.ipynb"), lab="?")]
    assert deadlines_for(args, Course(course), subs) is not None
    second = tmp_path / "course"
    shutil.copytree(course / "labs", second / "labs")
    shutil.copytree(course / "solutions", second / "solutions")
    shutil.copytree(second / "solutions" / LAB, second / "solutions" / "other")
    with pytest.raises(UsageError, match="one assignment's times"):
        deadlines_for(args, Course(second), [*subs, Submission("alice", Path("b.ipynb"), lab="other")])
