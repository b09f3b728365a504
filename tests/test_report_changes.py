"""grade report --changes: what the last regrade changed, per student and test, and why, read
from the history's fingerprint parts (a generated family of regrades)."""

from __future__ import annotations

import itertools
import sqlite3

import pytest
from conftest import EXAMPLE, run_grade

from grader.report.changes import CAUSES, UNEXPLAINED, UNKNOWN, WHOLE, changes
from grader.results import history
from grader.results.model import Result, TestResult
from grader.review.store import Override

PARTS = ("grader", "tests", "submission")


def result(scores: dict[str, float], parts: dict[str, str], student: str = "ann", status: str = "graded") -> Result:
    tests = [TestResult(name, score, 1.0, "passed" if score == 1.0 else "failed") for name, score in scores.items()]
    return Result(student, "lab1", status, tests, fingerprint="".join(parts.values()), fingerprint_parts=parts)


def recorded(tmp_path, *results: Result) -> list:
    for index, r in enumerate(results):
        history.append(tmp_path, r, f"run{index}")
    return history.rows(tmp_path, latest=False)


@pytest.mark.parametrize("moved", [combo for n in range(4) for combo in itertools.combinations(PARTS, n)])
def test_each_combination_of_causes_is_named(tmp_path, moved):
    before = dict.fromkeys(PARTS, "a")
    after = {part: "b" if part in moved else "a" for part in PARTS}
    found = changes(recorded(tmp_path, result({"t1": 1.0, "t2": 1.0}, before), result({"t1": 1.0, "t2": 0.0}, after)))
    assert [(c.test, c.before, c.after) for c in found] == [("t2", "1 / 1 passed", "0 / 1 failed")]
    assert found[0].why == ("; ".join(words for p, words in CAUSES.items() if p in moved) or UNEXPLAINED)


def test_tests_added_and_removed_are_changes(tmp_path):
    parts = dict.fromkeys(PARTS, "a")
    found = changes(recorded(tmp_path, result({"old": 1.0, "kept": 1.0}, parts),
                             result({"kept": 1.0, "new": 0.0}, {**parts, "tests": "b"})))
    assert {(c.test, c.before, c.after) for c in found} == {("old", "1 / 1 passed", "absent"),
                                                           ("new", "absent", "0 / 1 failed")}


def test_an_unchanged_regrade_reports_nothing(tmp_path):
    parts = dict.fromkeys(PARTS, "a")
    assert changes(recorded(tmp_path, result({"t": 1.0}, parts), result({"t": 1.0}, parts))) == []


def test_a_status_change_without_tests_is_the_whole_grade(tmp_path):
    parts = dict.fromkeys(PARTS, "a")
    found = changes(recorded(tmp_path, result({}, parts), result({}, {**parts, "submission": "b"}, status="timeout")))
    assert [(c.test, c.before, c.after, c.why) for c in found] == [
        (WHOLE, "0 / 0 graded", "0 / 0 timeout", CAUSES["submission"])]


def test_only_each_students_last_two_grades_compare(tmp_path):
    a, b, c = (dict.fromkeys(PARTS, v) for v in "abc")
    rows = recorded(tmp_path, result({"t": 0.0}, a), result({"t": 1.0}, b), result({"t": 1.0}, c),
                    result({"t": 0.0}, a, student="bob"), result({"t": 0.0}, b, student="bob"))
    assert changes(rows) == []


def test_a_history_from_an_older_grader_is_read_and_upgraded(tmp_path):
    """The first schema had neither parts nor tests: it reads, says it cannot tell why, and gains them."""
    db = sqlite3.connect(tmp_path / history.FILE_NAME)
    db.executescript(history.SCHEMA.split("    parts TEXT")[0].rstrip().rstrip(",") + "\n);")
    db.execute("INSERT INTO results (run, student, lab, score, max_score, status, fingerprint, graded_at, reused, "
               "sandboxed, message) VALUES ('r', 'ann', 'lab1', 1, 1, 'graded', 'f', 't', 0, 1, '')")
    db.commit()
    db.close()
    assert [r.parts for r in history.rows(tmp_path, latest=False)] == ["{}"]
    found = changes(recorded(tmp_path, result({"t": 0.0}, dict.fromkeys(PARTS, "a"))))
    assert [(c.test, c.before, c.after, c.why) for c in found] == [(WHOLE, "1 / 1 graded", "0 / 1 graded", UNKNOWN)]


def test_the_command_after_a_real_regrade(tmp_path, course):
    """The example course graded, one submission edited, graded again: only its tests moved, and
    because the submission changed."""
    subs = tmp_path / "subs"
    subs.mkdir()
    source = EXAMPLE / "submissions" / "alice.ipynb"
    (subs / "alice.ipynb").write_bytes(source.read_bytes())
    (subs / "bob.ipynb").write_bytes(source.read_bytes())
    assert run_grade(str(subs), "--out", "grades", cwd=course).returncode == 0
    text = (subs / "bob.ipynb").read_text()
    (subs / "bob.ipynb").write_text(text.replace("return x * x", "return x + x"))
    assert run_grade(str(subs), "--out", "grades", cwd=course).returncode == 0
    proc = run_grade("report", "--changes", "--grades", "grades", cwd=course)
    assert proc.returncode == 0, proc.stderr
    assert "Changes: 1 of 2 grades" in proc.stdout
    assert "bob" in proc.stdout and "alice" not in proc.stdout and CAUSES["submission"] in proc.stdout


def test_an_override_since_the_last_regrade_is_a_change(tmp_path):
    parts = dict.fromkeys(PARTS, "a")
    rows = recorded(tmp_path, result({"t1": 0.0, "t2": 1.0}, parts), result({"t1": 0.0, "t2": 1.0}, parts))
    given = [Override(1, "ann", "lab1", "t1", 0.5, "half: the idea is right", "pat", "9999-01-01T00:00:00", "a"),
             Override(2, "ann", "lab1", "t1", 0.75, "", "sam", "9999-01-02T00:00:00", "a"),
             Override(3, "bob", "lab1", "t1", 1.0, "", "pat", "9999-01-01T00:00:00", "a"),
             Override(4, "ann", "lab1", "t2", 0.0, "old", "pat", "0001-01-01T00:00:00", "a")]  # older: no change
    assert [(c.test, c.before, c.after, c.why) for c in changes(rows, given)] == [
        ("t1", "0 / 1 failed", "0.75 by hand", "an override by sam")]
