"""Deadlines and extensions: the policy in lab.toml, the extensions file, the late record's arithmetic
over generated times, and a batch on the fake kernel whose penalties are recomputed, never regraded,
when the policy or an extension changes."""

from __future__ import annotations

import csv
import json
import os
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import notebook, write_notebook
from fakes import InlineExecutor
from test_ci import table_rows
from test_runner_fast import ANSWERS, LAB_ID, TAGS, make_course

from grader.batch.fingerprint import lab_fingerprint
from grader.batch.run import run_batch
from grader.course.deadlines import Deadlines, read_extensions
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.course.settings import Settings
from grader.course.submitted import SubmissionTimes
from grader.engine.sandbox import get_backend
from grader.errors import CourseError
from grader.report import ci
from grader.report.feedback import publisher
from grader.report.lms import canvas_csv, gradescope_results
from grader.results.late import Late
from grader.results.model import Result
from grader.results.store import read_result, result_path

DEADLINE = datetime(2026, 3, 1, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
POLICY = 'deadline = 2026-03-01T23:59:00-05:00\ngrace = 15\nlate_penalty = 10\nlate_cap = 50\n'


# --- the policy in lab.toml -----------------------------------------------------

def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "lab.toml"
    path.write_text(text)
    return Settings.load(path)


def test_the_policy_reads_from_lab_toml(tmp_path):
    s = settings(tmp_path, POLICY)
    assert (s.deadline, s.grace, s.late_penalty, s.late_cap) == (DEADLINE, 15, 10, 50)
    assert Settings().deadline is None and Settings().late_cap == 100


@pytest.mark.parametrize(("text", "says"), [
    ("deadline = 2026-03-01T23:59:00", "no UTC offset"),
    ("deadline = 2026-03-01", "must be a date and time"),
    ("deadline = 23:59:00", "must be a date and time"),
    ('deadline = "2026-03-01T23:59:00Z"', "must be a date and time"),
    ("grace = -1", "0 or more"),
    ("grace = nan", "0 or more"),
    ("late_penalty = 101", "at most 100"),
    ("late_cap = -5", "0 or more"),
    ("late_penalti = 10", "did you mean 'late_penalty'"),
])
def test_a_wrong_policy_is_an_error_that_says_what_is_wrong(tmp_path, text, says):
    with pytest.raises(CourseError, match=says):
        settings(tmp_path, text)


def test_the_policy_is_not_part_of_what_a_grade_depends_on(tmp_path):
    """Moving a deadline regrades nothing; changing a limit does."""
    root = make_course(tmp_path / "c", toml="timeout = 60\n")
    before = lab_fingerprint(Course(root).lab(LAB_ID))
    (root / "solutions" / LAB_ID / "lab.toml").write_text("timeout = 60\n" + POLICY)
    assert lab_fingerprint(Course(root).lab(LAB_ID)) == before
    (root / "solutions" / LAB_ID / "lab.toml").write_text("timeout = 61\n" + POLICY)
    assert lab_fingerprint(Course(root).lab(LAB_ID)) != before


# --- the late record -------------------------------------------------------------

def late(submitted: datetime, due: datetime = DEADLINE, grace: float = 0, per_day: float = 10,
         cap: float = 100) -> Late:
    return Late(submitted.isoformat(), "file", "the file's time", due.isoformat(), "", grace, per_day, cap)


def test_late_days_count_started_days_after_the_due_time_past_the_grace_period():
    assert late(DEADLINE).days == 0
    assert late(DEADLINE + timedelta(minutes=14), grace=15).days == 0
    assert late(DEADLINE + timedelta(minutes=16), grace=15).days == 1
    assert late(DEADLINE + timedelta(seconds=1)).days == 1
    assert late(DEADLINE + timedelta(days=1)).days == 1
    assert late(DEADLINE + timedelta(days=1, seconds=1)).days == 2
    assert late(DEADLINE - timedelta(days=3)).days == 0


def test_the_record_holds_its_rules_over_generated_times_and_policies():
    rng = random.Random(20)
    for _ in range(2000):
        grace, per_day, cap = rng.choice([0, 5, 60]), rng.uniform(0, 100), rng.uniform(0, 100)
        offset = timedelta(minutes=rng.randint(-6 * 24 * 60, 12 * 24 * 60))
        zone = timezone(timedelta(hours=rng.randint(-12, 14)))  # the same moment, written in any zone
        record = late((DEADLINE + offset).astimezone(zone), grace=grace, per_day=per_day, cap=cap)
        later = late((DEADLINE + offset + timedelta(hours=rng.randint(1, 48))).astimezone(zone),
                     grace=grace, per_day=per_day, cap=cap)
        score, top = rng.uniform(0, 30), 30.0
        assert (record.days == 0) == (offset <= timedelta(minutes=grace))
        assert 0 <= record.percent <= cap and record.percent <= later.percent  # monotone in time
        assert 0 <= record.final(score, top) <= score
        if record.penalty(top) <= score:
            assert record.final(score, top) == pytest.approx(score - record.penalty(top), abs=1e-3)
        assert Late.from_json(json.loads(json.dumps(record.to_json(score, top)))) == record


@pytest.mark.parametrize("bad", [
    "a string", [], {"submitted_at": "yesterday", "source": "file", "source_detail": "", "due": "2026-01-01"},
    {"submitted_at": "2026-01-01T00:00:00+00:00", "source": "file", "source_detail": ""},
    {"submitted_at": "2026-01-01T00:00:00+00:00", "source": "file", "source_detail": "",
     "due": "2026-01-01T00:00:00+00:00", "per_day": "10"},
    {"submitted_at": 5, "source": "file", "source_detail": "", "due": "2026-01-01T00:00:00+00:00"},
])
def test_a_results_file_with_a_broken_late_record_does_not_read(bad):
    with pytest.raises((ValueError, TypeError, KeyError)):
        Late.from_json(bad)


# --- the extensions file ---------------------------------------------------------

def extensions(tmp_path: Path, text: str | bytes, labs=(LAB_ID, "lab2")):
    path = tmp_path / "extensions.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return read_extensions(path, labs)


def test_extensions_by_days_or_until_for_one_lab_or_every_lab(tmp_path):
    found = extensions(tmp_path, "\ufeffstudent,lab,days,until,note\n"
                                 f"alice,{LAB_ID},2,,illness\nbob,,,2026-03-10T12:00:00+00:00,exchange\n")
    assert found[("alice", LAB_ID)].due(DEADLINE) == DEADLINE + timedelta(days=2)
    assert found[("alice", LAB_ID)].describe() == "extended by 2 days: illness"
    assert found[("bob", "")].due(DEADLINE) == datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(("row", "says"), [
    ("alice,lab9,2,,", "no lab 'lab9'"),
    ("alice,lab,2,,", "did you mean"),
    (",lab1,2,,", "no student"),
    ("alice,lab1,,,", "one of the two"),
    ("alice,lab1,2,2026-03-10T12:00:00+00:00,", "one of the two"),
    ("alice,lab1,,2026-03-10T12:00:00,", "no UTC offset"),
    ("alice,lab1,,next week,", "until must be a date and time"),
    ("alice,lab1,two,,", "days must be a number"),
    ("alice,lab1,0,,", "more than 0"),
    ("alice,lab1,-1,,", "more than 0"),
    ("alice,lab1,nan,,", "more than 0"),
    ("alice,lab1,1000,,", "at most 366"),
    ("alice,lab1,1,,\nalice,lab1,2,,", "a second extension for 'alice'"),
])
def test_each_mistake_in_the_extensions_file_names_its_row(tmp_path, row, says):
    with pytest.raises(CourseError, match=says) as caught:
        extensions(tmp_path, "student,lab,days,until,note\n" + row + "\n")
    assert "row " in str(caught.value)


@pytest.mark.parametrize("text", [b"", b"name,when\nalice,2\n", b"student,lab\n\xff\xfe\n",
                                  b"student,lab,days\n" + b"a" * (5 * 2**20)])
def test_an_extensions_file_that_is_not_one_is_refused(tmp_path, text):
    with pytest.raises(CourseError, match="extensions"):
        extensions(tmp_path, text)


# --- a batch -------------------------------------------------------------------------

@pytest.fixture
def course_batch(tmp_path: Path):
    """A course whose lab has POLICY, and three submissions whose files were saved on time, 30 minutes
    late (inside no grace) and 3 days late."""
    root = make_course(tmp_path / "course", toml=POLICY)
    late_by = {"ontime": timedelta(hours=-1), "alittle": timedelta(minutes=30), "three": timedelta(days=2, hours=1)}
    subs = []
    for name, offset in late_by.items():
        path = write_notebook(tmp_path / "subs" / f"{name}.ipynb", notebook(*ANSWERS, lab=LAB_ID, tags=TAGS))
        moment = (DEADLINE + offset).timestamp()
        os.utime(path, (moment, moment))
        subs.append(Submission(name, path, lab=LAB_ID))
    out = tmp_path / "grades"

    def run() -> dict[str, Result]:
        course = Course(root)
        deadlines = Deadlines.load(course, SubmissionTimes([tmp_path / "subs"]))
        results, errors = run_batch(subs, course, out, get_backend("none"), 1, False,
                                    publisher(out, course, lambda r: None),
                                    executor_factory=InlineExecutor, deadlines=deadlines)
        assert errors == []
        return {r.student: r for r in results}

    return root, out, run


def rows(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_the_penalty_shows_beside_the_score_before_it_everywhere(course_batch):
    root, out, run = course_batch
    results = run()
    assert {s: (r.score, r.late.days, r.final_score) for s, r in results.items()} == {
        "ontime": (6, 0, 6), "alittle": (6, 1, 5.4), "three": (6, 3, 4.2)}
    book = rows(out)["three"]
    assert (book["score"], book["score_before_penalty"], book["late_days"], book["penalty"], book["time_source"]) == (
        "4.2", "6", "3", "1.8", "file")
    data = json.loads(result_path(out, "three", LAB_ID).read_text())
    assert (data["score"], data["late"]["score_before_penalty"], data["late"]["penalty"]) == (4.2, 6, 1.8)
    assert [t["score"] for t in data["tests"]] == [t.score for t in results["three"].tests]  # tests keep their points
    page = result_path(out, "three", LAB_ID).with_suffix(".html").read_text()
    assert "Score: 4.2 / 6" in page and "3 days late, 30% of the lab&#x27;s points off" in page
    assert "last resort" in page and "Score before the penalty: 6" in page
    assert "on time" in result_path(out, "ontime", LAB_ID).with_suffix(".html").read_text()
    assert _canvas(out)["three"] == "4.2"
    exported = gradescope_results(read_result(out, "three", LAB_ID))
    assert exported["score"] == 4.2 and exported["extra_data"]["late"]["days_late"] == 3
    [three] = [row for row in table_rows(ci.batch_summary(list(results.values()))) if row[0] == "three"]
    assert three[2:5] == ["4.2 / 6", "70%", "graded"] and "3 days late" in three[5]
    assert ci.below(list(results.values()), 80) == [results["three"]]  # 100% before the penalty
    junit = ET.fromstring(ci.junit_xml([results["three"]]))
    assert junit.find(".//property[@name='score']").get("value") == "4.2"


def _canvas(out: Path) -> dict[str, str]:
    reader = csv.reader(canvas_csv(out).splitlines())
    header = next(reader)
    return {row[0]: row[header.index(LAB_ID)] for row in reader if row[0] != "Points Possible"}


def test_a_new_policy_or_extension_is_recomputed_without_grading_again(course_batch, capsys):
    root, out, run = course_batch
    run()
    (root / "solutions" / LAB_ID / "lab.toml").write_text(POLICY.replace("grace = 15", "grace = 45"))
    (root / "extensions.csv").write_text("student,lab,days,until,note\nthree,,3,,illness\n")
    again = run()
    assert all(r.reused for r in again.values())
    assert {s: r.final_score for s, r in again.items()} == {"ontime": 6, "alittle": 6, "three": 6}
    assert {s: row["score"] for s, row in rows(out).items()} == {"ontime": "6", "alittle": "6", "three": "6"}
    page = result_path(out, "three", LAB_ID).with_suffix(".html").read_text()
    assert "extended by 3 days: illness" in page and "on time" in page
    said = capsys.readouterr().err
    assert "'alittle'" in said and "'three'" in said and "'ontime'" not in said
    assert _canvas(out)["three"] == "6"


def test_an_extension_naming_no_student_of_the_batch_is_said_with_the_nearest_names(course_batch):
    root, _, _ = course_batch
    (root / "extensions.csv").write_text("student,lab,days,until,note\nthre,,3,,\nthree,,1,,\n")
    subs = [Submission(name, Path(f"{name}.ipynb"), lab=LAB_ID) for name in ("ontime", "three")]
    deadlines = Deadlines.load(Course(root), SubmissionTimes([]))
    assert deadlines.warnings(subs) == [
        "an extension names 'thre', who has no submission here (did you mean 'three'?)"]


def test_an_extension_for_a_lab_without_a_deadline_is_said_to_have_no_effect(tmp_path):
    root = make_course(tmp_path / "course")
    (root / "extensions.csv").write_text(f"student,lab,days,until,note\nada,{LAB_ID},2,,\nada,,1,,\n")
    deadlines = Deadlines.load(Course(root), SubmissionTimes([]))
    assert deadlines.warnings([Submission("ada", Path("a.ipynb"), lab=LAB_ID)]) == [
        f"an extension for 'ada' in {LAB_ID} has no effect: {LAB_ID} has no deadline"]


def test_a_lab_without_a_deadline_has_no_late_record(tmp_path):
    root = make_course(tmp_path / "course")
    path = write_notebook(tmp_path / "s.ipynb", notebook(*ANSWERS, lab=LAB_ID, tags=TAGS))
    deadlines = Deadlines.load(Course(root), SubmissionTimes([tmp_path]))
    assert deadlines.assess(Submission("ada", path, lab=LAB_ID)) is None
    assert deadlines.assess(Submission("ada", path, lab="no-such-lab")) is None
