"""Tests for grader.course.submitted: a submission's time from an LMS export, the instructor's
commits, or the file's own time, each said as such."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.course import submitted as submitted_module
from grader.course.discover import Submission
from grader.course.submitted import SOURCES, SubmissionTimes, read_export
from grader.errors import UsageError

COMMITTED = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
FILE_MTIME = datetime(2026, 4, 2, 8, 0, 0, tzinfo=UTC)
FORGED = datetime(2020, 1, 1, 0, 0, 0, tzinfo=UTC)


def write_csv(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# --- export ----------------------------------------------------------------------------

CANVAS = "id,login_id,submitted_at,score\n1,alice,2026-03-01T12:30:05Z,3\n2,bob,,\n"
GRADESCOPE = ("First Name,Last Name,SID,Sections,Total Score,Submission ID,Submission Time,Lateness (H:M:S)\n"
              "Alice,A,alice,1,3,9,2026-03-01 05:30:05 -0700,00:00:00\nBob,B,bob,1,,,,\n")
MOODLE = ("\ufeffIdentifier,Full name,Email address,Status,Last modified (submission)\n"
          "Participant 1,Alice A,alice,Submitted,2026-03-01T13:30:05.25+01:00\n"
          "Participant 2,Bob B,bob,No submission,-\n")


@pytest.mark.parametrize("text", [CANVAS, GRADESCOPE, MOODLE], ids=["canvas", "gradescope", "moodle"])
def test_known_headers_are_found(tmp_path, text):
    export = read_export(write_csv(tmp_path / "lms.csv", text))
    alice = export.time(" alice ")
    assert alice.at == COMMITTED and alice.at.tzinfo == UTC
    assert alice.source == "export" and "lms.csv" in alice.detail
    assert export.time("bob") is None  # an empty cell: no submission time
    assert export.time("carol") is None


def test_named_columns_choose_among_candidates(tmp_path):
    path = write_csv(tmp_path / "e.csv", "Email,SID,Submission Time,time\nalice@x,a1,2026-03-01T12:30:05Z,junk\n")
    with pytest.raises(UsageError, match="--student-column"):
        read_export(path)
    export = read_export(path, student_column="SID", time_column="Submission Time")
    assert export.time("a1").at == COMMITTED
    assert "'Submission Time' column of e.csv" in export.time("a1").detail


def test_of_several_student_columns_the_one_naming_the_batchs_students_is_taken(tmp_path):
    """Gradescope's export has SID and Email: the column the submissions are named by decides,
    and a tie (or no match) still asks."""
    path = write_csv(tmp_path / "gs.csv", "Name,SID,Email,Submission Time\n"
                                          "Alice A,101,alice@uni.edu,2026-03-01 07:30:05 -0500\n"
                                          "Bob B,102,bob@uni.edu,2026-03-01 07:30:05 -0500\n")
    assert read_export(path, students={"alice@uni.edu", "carol"}).time("alice@uni.edu").at == COMMITTED
    assert read_export(path, students={"101", "102", "bob@uni.edu"}).time("101").at == COMMITTED
    for students in (set(), {"carol"}, {"101", "bob@uni.edu"}):
        with pytest.raises(UsageError, match="--student-column"):
            read_export(path, students=students)


def test_times_convert_to_utc_in_whole_seconds(tmp_path):
    zones = [timezone(timedelta(hours=h, minutes=m)) for h in range(-12, 15, 3) for m in (0, 30)]
    late = COMMITTED.replace(microsecond=999_999)
    rows = [f"s{i},{late.astimezone(zone).isoformat()}" for i, zone in enumerate(zones)]
    export = read_export(write_csv(tmp_path / "e.csv", "student,timestamp\n" + "\n".join(rows)))
    for i in range(len(zones)):
        assert export.time(f"s{i}").at == COMMITTED


BIG_CELL = "x" * (submitted_module.MAX_CELL_CHARS + 1)
BAD_EXPORTS = {
    "no student column": ("name,submitted_at\nalice,2026-03-01T12:30:05Z\n", "no column .* student"),
    "no time column": ("student,score\nalice,3\n", "no column .* submission time"),
    "two student columns": ("student,email,time\na,b,2026-03-01T12:30:05Z\n", "several columns .*'student', 'email'"),
    "two time columns": ("student,time,timestamp\na,2026-03-01T12:30:05Z,x\n", "several columns .*--time-column"),
    "no offset": ("student,time\nalice,2026-03-01T12:30:05\n", "row 2.*no UTC offset"),
    "moodle's own date form": ("student,time\nalice,\"Sunday, 1 March 2026, 12:30 PM\"\n", "row 2.*not a time"),
    "bad time": ("student,time\nalice,2026-03-01T12:30:05Z\nbob,yesterday\n", "row 3.*'yesterday'.*not a time"),
    "oversize cell": (f"student,time\n{BIG_CELL},2026-03-01T12:30:05Z\n", "row 2 has a cell longer"),
    "duplicate student": ("student,time\nalice,2026-03-01T12:30:05Z\nbob,\nalice,2026-03-02T12:30:05Z\n",
                          "'alice' is on row 2 and row 4"),
    "duplicate student, one empty": ("student,time\nalice,\nalice,2026-03-02T12:30:05Z\n",
                                     "'alice' is on row 2 and row 3"),
    "not utf-8": ("student,time\nalic\xe9,2026-03-01T12:30:05Z\n".encode("latin-1"), "not UTF-8"),
    "empty": ("", "empty"),
    "named column missing": ("student,time\n", "no column 'when'"),
}


@pytest.mark.parametrize("name", BAD_EXPORTS)
def test_bad_exports_are_usage_errors_naming_the_problem(tmp_path, name):
    text, message = BAD_EXPORTS[name]
    path = write_csv(tmp_path / "e.csv", text)
    with pytest.raises(UsageError, match=message):
        read_export(path, time_column="when" if name == "named column missing" else None)


def test_oversize_export_and_rows_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submitted_module, "MAX_EXPORT_BYTES", 1000)
    monkeypatch.setattr(submitted_module, "MAX_EXPORT_ROWS", 5)
    with pytest.raises(UsageError, match="larger than"):
        read_export(write_csv(tmp_path / "big.csv", "student,time\n" + "a,\n" * 500))
    with pytest.raises(UsageError, match="more than 5 rows"):
        read_export(write_csv(tmp_path / "rows.csv", "student,time\n" + "".join(f"s{i},\n" for i in range(6))))


def test_same_student_twice_with_the_same_time_is_one_row(tmp_path):
    text = "student,time\na,2026-03-01T12:30:05Z\na,2026-03-01T13:30:05+01:00\n"
    export = read_export(write_csv(tmp_path / "e.csv", text))
    assert export.time("a").at == COMMITTED


# --- git -------------------------------------------------------------------------------


def git(where: Path, *args: str, date: datetime = COMMITTED) -> None:
    env = {**os.environ, "GIT_COMMITTER_DATE": date.isoformat(), "GIT_AUTHOR_DATE": date.isoformat()}
    subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True, env=env)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    git(path, "config", "user.name", "Instructor")
    git(path, "config", "user.email", "instructor@example.org")
    return path


def touch(path: Path, text: str = "{}", mtime: datetime = FILE_MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def commit_all(repo: Path, date: datetime = COMMITTED) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "submissions", date=date)


@pytest.fixture
def course(tmp_path) -> Path:
    """An instructor's repository with alice's notebook committed at COMMITTED."""
    repo = make_repo(tmp_path / "course")
    touch(repo / "submissions" / "alice.ipynb")
    commit_all(repo)
    return repo


def time_of(roots: list[Path], path: Path, student: str = "alice", export=None):
    return SubmissionTimes(roots, export).of(Submission(student, path))


def test_a_clean_committed_file_has_its_commit_time(course):
    found = time_of([course / "submissions"], course / "submissions" / "alice.ipynb")
    assert (found.at, found.source) == (COMMITTED, "commit")
    assert "instructor's repository" in found.detail


def test_the_last_commit_that_touched_the_file_counts(course):
    later = COMMITTED + timedelta(days=2)
    touch(course / "submissions" / "alice.ipynb", "{ }")
    touch(course / "submissions" / "bob.ipynb")
    commit_all(course, later)
    touch(course / "other.txt")
    commit_all(course, later + timedelta(days=1))  # touches neither notebook
    times = SubmissionTimes([course / "submissions"])
    assert times.of(Submission("alice", course / "submissions" / "alice.ipynb")).at == later
    assert times.of(Submission("bob", course / "submissions" / "bob.ipynb")).at == later


ODD_NAMES = ["\x01100 0123456789abcdef", "\n:100644 100644 0 0 M", ":x", "a\nb", "\x01", "ünï cödé", " sp ace "]


def test_no_file_name_is_read_as_a_commit(course):
    """git's log lists file names among commit lines; a name shaped like one must stay a name."""
    folder = course / "submissions"
    paths = [touch(folder / f"{name}.ipynb") for name in ODD_NAMES]
    commit_all(course, COMMITTED + timedelta(hours=1))
    touch(folder / "zz.ipynb")
    commit_all(course, COMMITTED + timedelta(hours=2))
    times = SubmissionTimes([folder])
    for path in paths:
        assert times.of(Submission(path.stem, path)).at == COMMITTED + timedelta(hours=1), repr(path.name)
    assert times.of(Submission("alice", folder / "alice.ipynb")).at == COMMITTED


def assert_file_time(found, because: str = "") -> None:
    assert (found.at, found.source) == (FILE_MTIME, "file")
    assert "last resort" in found.detail and because in found.detail


def test_a_file_modified_after_its_commit_has_its_file_time(course):
    touch(course / "submissions" / "alice.ipynb", '{"changed": 1}')
    assert_file_time(time_of([course / "submissions"], course / "submissions" / "alice.ipynb"), "differs")


def test_untracked_and_ignored_files_have_their_file_time(course):
    touch(course / ".gitignore", "ignored/\n")
    commit_all(course)
    submissions = course / "submissions"
    for path in (touch(submissions / "bob.ipynb"), touch(submissions / "ignored" / "carol.ipynb")):
        assert_file_time(time_of([submissions], path, path.stem))


def test_a_students_own_repository_cannot_forge_the_time(course):
    """alice's folder is a clone of her own repository, with a committer date of her choosing."""
    student = make_repo(course / "submissions" / "dave")
    touch(student / "lab.ipynb")
    commit_all(student, FORGED)
    assert_file_time(time_of([course / "submissions"], student / "lab.ipynb", "dave"), "of its own")
    commit_all(course)  # the instructor commits the folder: git records dave's repository, not his file
    assert_file_time(time_of([course / "submissions"], student / "lab.ipynb", "dave"))


def test_a_committed_file_below_a_later_git_folder_is_not_counted(course):
    """A student's ``.git`` unzipped over work the instructor committed: git itself still calls
    the file clean, so the grader looks for the nested repository on its own."""
    path = touch(course / "submissions" / "frank" / "lab.ipynb")
    commit_all(course)
    assert time_of([course / "submissions"], path, "frank").source == "commit"
    make_repo(course / "submissions" / "frank")
    assert_file_time(time_of([course / "submissions"], path, "frank"), "of its own")


def test_a_root_outside_any_repository_has_file_times(tmp_path):
    path = touch(tmp_path / "loose" / "alice.ipynb")
    found = time_of([tmp_path / "loose"], path)
    assert_file_time(found, "no git repository")


def test_a_zip_member_has_the_zips_time(course):
    archive = course / "submissions" / "erin.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("lab.ipynb", date_time=(1999, 1, 1, 0, 0, 0)), "{}")
    sub = Submission("erin", archive, member="lab.ipynb")
    os.utime(archive, (FILE_MTIME.timestamp(), FILE_MTIME.timestamp()))
    assert_file_time(SubmissionTimes([course / "submissions"]).of(sub))
    commit_all(course)
    assert SubmissionTimes([course / "submissions"]).of(sub).at == COMMITTED


def test_a_file_given_as_a_root_is_found(course):
    path = course / "submissions" / "alice.ipynb"
    assert time_of([path], path).source == "commit"


GIT_FAILURES = {  # what the only git on PATH does (None: there is none), and what the detail then says
    "missing": (None, "git is not installed"),
    "not executable": ("exit 0", "git could not run"),
    "refused": ("echo \"fatal: detected dubious ownership in repository at '$PWD'\" >&2; exit 128",
                "git rev-parse failed: fatal: detected dubious ownership"),
    "too slow": (f"exec {shutil.which('sleep')} 30", "took longer than"),
}


@pytest.mark.parametrize("name", GIT_FAILURES)
def test_a_failing_git_falls_to_the_file_time_and_says_why(course, tmp_path, monkeypatch, name):
    script, because = GIT_FAILURES[name]
    folder = tmp_path / "bin"
    folder.mkdir()
    if script is not None:
        (folder / "git").write_text(f"#!/bin/sh\n{script}\n")
        (folder / "git").chmod(0o644 if name == "not executable" else 0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setattr(submitted_module, "GIT_TIMEOUT", 0.2)
    assert_file_time(time_of([course / "submissions"], course / "submissions" / "alice.ipynb"), because)


def test_a_repository_owned_by_someone_else_is_refused_by_git(course):
    """The real refusal, where the tests can hand the repository to another user."""
    if os.geteuid() != 0:
        pytest.skip("only root can give a repository to another user; the fake git above covers the message")
    for path in (course, course / ".git"):
        os.chown(path, 12345, 12345)
    assert_file_time(time_of([course / "submissions"], course / "submissions" / "alice.ipynb"), "dubious ownership")


def test_git_output_past_the_bound_falls_to_the_file_time(course, monkeypatch):
    monkeypatch.setattr(submitted_module, "GIT_OUTPUT_LIMIT", 16)
    assert_file_time(time_of([course / "submissions"], course / "submissions" / "alice.ipynb"), "printed more than")


# --- file time and priority ------------------------------------------------------------


def test_file_time_is_the_lstat_mtime_in_utc(tmp_path):
    for offset in range(0, 10**6, 99_991):
        stamp = FILE_MTIME + timedelta(seconds=offset, microseconds=offset % 997)
        path = touch(tmp_path / f"s{offset}.ipynb", mtime=stamp)
        found = time_of([tmp_path], path)
        assert found.source == "file" and found.source in SOURCES
        assert found.at == datetime.fromtimestamp(int(os.lstat(path).st_mtime), UTC) == stamp.replace(microsecond=0)


def test_a_link_is_not_followed(tmp_path):
    target = touch(tmp_path / "target.ipynb", mtime=FORGED)
    link = tmp_path / "alice.ipynb"
    link.symlink_to(target)
    os.utime(link, (FILE_MTIME.timestamp(),) * 2, follow_symlinks=False)
    assert time_of([tmp_path], link).at == FILE_MTIME


def test_export_wins_over_commit_wins_over_file(course, tmp_path):
    exported = COMMITTED - timedelta(hours=5)
    export = read_export(write_csv(tmp_path / "e.csv", f"student,time\nalice,{exported.isoformat()}\nbob,\n"))
    submissions = course / "submissions"
    touch(submissions / "bob.ipynb")
    commit_all(course)
    touch(submissions / "carol.ipynb")
    times = SubmissionTimes([submissions], export)
    assert times.of(Submission("alice", submissions / "alice.ipynb")).source == "export"
    assert times.of(Submission("alice", submissions / "alice.ipynb")).at == exported
    assert times.of(Submission("bob", submissions / "bob.ipynb")).source == "commit"  # empty in the export
    assert times.of(Submission("carol", submissions / "carol.ipynb")).source == "file"  # not in the export


@pytest.mark.parametrize("count", [1, 7, 40])
def test_git_is_called_a_bounded_number_of_times(course, monkeypatch, count):
    submissions = course / "submissions"
    for i in range(count):
        touch(submissions / f"s{i}" / "lab.ipynb")
    commit_all(course)
    for i in range(0, count, 3):
        touch(submissions / f"s{i}" / "lab.ipynb", "{ }")  # some modified since
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(submitted_module.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    times = SubmissionTimes([submissions, course / "submissions" / "alice.ipynb"])
    found = [times.of(Submission(f"s{i}", submissions / f"s{i}" / "lab.ipynb")) for i in range(count)]
    assert [f.source for f in found] == ["file" if i % 3 == 0 else "commit" for i in range(count)]
    assert len(calls) <= 2 + 2  # one rev-parse per root, one status and one log for their one repository
