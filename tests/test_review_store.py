"""Overrides and the comment bank (grader.review.store): an append-only audit trail in
history.sqlite, the newest row per test in force, applied only to the submission it was given
on, and shown in the results JSON, the gradebook, the feedback page and the exports."""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3

import pytest

from grader.errors import HistoryError
from grader.report.feedback import render
from grader.report.lms import canvas_csv, gradescope_results
from grader.results import history
from grader.results.model import Result, TestResult
from grader.results.store import read_result, write_gradebook, write_result
from grader.review import store


def graded(out, student="amy", lab="lab1", submission="s1", manual: float | None = None) -> Result:
    """A result on disk and in the history, as a grade run leaves it."""
    tests = [TestResult("t0", 1, 1, "passed", exercise="q1"), TestResult("t1", 0, 2, "failed", output="nope",
                                                                         exercise="q1")]
    if manual is not None:
        tests.append(TestResult("essay", 0, 0, "not run", exercise="q2", manual=manual))
    result = Result(student, lab, "graded", tests, fingerprint_parts={"submission": submission})
    write_result(out, result)
    history.append(out, result, "run1")
    return result


def test_newest_override_is_in_force_and_every_one_is_kept(tmp_path):
    result = graded(tmp_path)
    store.record(tmp_path, result, "t1", 1, "partly right", "ta1")
    store.record(tmp_path, result, "t1", 2, "right after all", "prof")
    trail = store.trail(tmp_path)
    assert [(o.points, o.who, o.comment) for o in trail] == [(1, "ta1", "partly right"), (2, "prof", "right after all")]
    assert store.in_force(tmp_path)[("amy", "lab1")]["t1"].points == 2


def test_generated_sequences_of_overrides_keep_the_last_per_test_and_the_whole_trail(tmp_path):
    rng = random.Random(20)
    results = {s: graded(tmp_path, student=s) for s in ("a", "b", "c")}
    expected, given = {}, []
    for n in range(60):
        student, test = rng.choice("abc"), rng.choice(["t0", "t1"])
        points = rng.choice([0, 0.5, 1]) * (1 if test == "t0" else 2)
        store.record(tmp_path, results[student], test, points, f"c{n}", "ta")
        expected[(student, test)] = (points, f"c{n}")
        given.append((student, test, points))
    force = store.in_force(tmp_path)
    assert {(s, t): (o.points, o.comment) for (s, _), tests in force.items() for t, o in tests.items()} == expected
    assert [(o.student, o.test, o.points) for o in store.trail(tmp_path)] == given


@pytest.mark.parametrize("statement", ["UPDATE overrides SET points = 0", "DELETE FROM overrides",
                                       "UPDATE comments SET text = 'x'", "DELETE FROM comments"])
def test_the_audit_trail_is_never_changed_in_place(tmp_path, statement):
    result = graded(tmp_path)
    store.record(tmp_path, result, "t1", 2, "ok", "ta")
    store.save_comment(tmp_path, "Check the empty case.", "ta")
    with sqlite3.connect(history.history_path(tmp_path)) as db, pytest.raises(sqlite3.DatabaseError,
                                                                               match="append-only"):
        db.execute(statement)
    assert len(store.trail(tmp_path)) == 1 and store.bank(tmp_path) == ["Check the empty case."]


def test_an_older_history_reads_as_without_overrides_and_gains_the_tables(tmp_path):
    result = graded(tmp_path)
    assert store.in_force(tmp_path) == {} and store.bank(tmp_path) == [] and store.trail(tmp_path) == []
    store.record(tmp_path, result, "t0", 0, "copied", "ta")
    assert history.rows(tmp_path)[0].score == 1  # the results table as it was
    assert store.in_force(tmp_path)[("amy", "lab1")]["t0"].points == 0


@pytest.mark.parametrize(("test", "points"), [("t1", 2.5), ("t1", -1), ("t1", float("nan")), ("t9", 1),
                                              ("essay", 4)])
def test_points_outside_a_test_s_bounds_are_refused(tmp_path, test, points):
    result = graded(tmp_path, manual=3)
    with pytest.raises(ValueError):
        store.record(tmp_path, result, test, points, "", "ta")
    assert store.trail(tmp_path) == []


def test_recording_without_a_history_is_said(tmp_path):
    with pytest.raises(HistoryError, match="run grade first"):
        store.record(tmp_path, Result("a", "l", "graded", [TestResult("t0", 1, 1, "passed")]), "t0", 0, "", "ta")


def test_an_override_applies_to_its_own_submission_only(tmp_path):
    result = graded(tmp_path)
    store.record(tmp_path, result, "t1", 2, "fine", "ta")
    same = store.reviewed(tmp_path, result)
    assert same.result.score == 3 and same.automatic.score == 1 and list(same.applied) == [1] and not same.stale
    result.fingerprint_parts = {"submission": "s2"}
    changed = store.reviewed(tmp_path, result)
    assert changed.result.score == 1 and not changed.applied and [o.test for o in changed.stale] == ["t1"]
    assert "submission changed" in changed.result.message


def test_an_item_graded_by_hand_counts_with_its_points(tmp_path):
    result = graded(tmp_path, manual=3)
    assert result.max_score == 3
    store.record(tmp_path, result, "essay", 2, "good argument", "ta")
    found = store.reviewed(tmp_path, result)
    assert (found.result.score, found.result.max_score, found.manual_score) == (3, 6, 2)
    assert found.result.tests[2].status == "failed"  # 2 of 3 points


def test_results_json_has_the_final_score_and_the_automatic_one_and_reads_back_automatic(tmp_path):
    result = graded(tmp_path)
    store.record(tmp_path, result, "t1", 1.5, "close", "ta")
    write_result(tmp_path, result)
    data = json.loads((tmp_path / "amy" / "lab1.json").read_text())
    assert data["score"] == 2.5 and data["automatic_score"] == 1
    assert data["overrides"] == [{"test": 1, "name": "t1", "points": 1.5, "comment": "close", "who": "ta",
                                  "at": data["overrides"][0]["at"], "automatic_score": 0, "automatic_max_score": 2,
                                  "automatic_status": "failed"}]
    back = read_result(tmp_path, "amy", "lab1")
    assert back.score == 1 and back.tests[1].status == "failed" and back.message == ""


def test_gradebook_shows_final_automatic_overridden_and_manual(tmp_path):
    amy, bob = graded(tmp_path, manual=3), graded(tmp_path, student="bob")
    store.record(tmp_path, amy, "essay", 3, "", "ta")
    store.record(tmp_path, amy, "t1", 2, "", "ta")
    with open(write_gradebook(tmp_path, [amy, bob]), newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {k: rows["amy"][k] for k in ("score", "max_score", "automatic_score", "overridden", "manual_score")} == \
        {"score": "6", "max_score": "6", "automatic_score": "1", "overridden": "2", "manual_score": "3"}
    assert (rows["bob"]["score"], rows["bob"]["overridden"]) == ("1", "0")


def test_exports_carry_the_overrides(tmp_path):
    amy = graded(tmp_path)
    store.record(tmp_path, amy, "t1", 2, "regraded by hand", "prof")
    rows = list(csv.DictReader(io.StringIO(canvas_csv(tmp_path))))
    assert rows[1]["lab1"] == "3"
    data = gradescope_results(amy, store.in_force(tmp_path)[("amy", "lab1")])
    assert data["score"] == 3 and data["extra_data"]["automatic_score"] == 1
    assert "regraded by hand" in data["output"] and data["tests"][1]["score"] == 2


def test_feedback_row_shows_the_override_and_its_comment_escaped(tmp_path):
    amy = graded(tmp_path)
    store.record(tmp_path, amy, "t1", 2, "<script>alert(1)</script> fine", "prof")
    found = store.reviewed(tmp_path, amy)
    page = render(found.result, None, "Lab 1", found.applied)
    assert 'class="grader-override">2 points from prof' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fine" in page and "<script>alert(1)" not in page
    assert "Score: 3 / 3" in page


def test_the_bank_keeps_each_comment_once_in_the_order_saved(tmp_path):
    graded(tmp_path)
    for text in ("Good.", "Check the edge case.", "Good.", "  "):
        store.save_comment(tmp_path, text, "ta")
    assert store.bank(tmp_path) == ["Good.", "Check the edge case."]
