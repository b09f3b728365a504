"""Tests for grader.results.store: scores, Gradescope JSON, safe file names, CSV and atomic writes."""

from __future__ import annotations

import csv
import json
import os

import pytest

from grader import files
from grader.results.model import STATUSES, Result, TestResult
from grader.files import atomic_write
from grader.results.store import EXECUTED_LIMIT, GRADEBOOK_COLUMNS, csv_cell, file_name, result_path, write_gradebook, write_result



def make_result(student="alice", lab="lab1", status="graded", scores=((1, 1), (0, 2)), **kwargs) -> Result:
    tests = [TestResult(f"test_{i}", s, m, "passed" if s == m else "failed")
             for i, (s, m) in enumerate(scores)]
    return Result(student, lab, status, tests, **kwargs)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# --- Result ----------------------------------------------------------------------------


def test_score_and_max_score_are_sums():
    r = make_result(scores=((1, 1), (0.5, 2), (3, 3)))
    assert r.score == 4.5
    assert r.max_score == 6


def test_scores_are_rounded_sums_of_floats():
    r = make_result(scores=((0.1, 0.1), (0.2, 0.2)))
    assert r.score == 0.3 and r.max_score == 0.3


def test_no_tests_scores_zero():
    r = Result("alice", "lab1", "invalid", message="no notebook")
    assert r.score == 0 and r.max_score == 0


@pytest.mark.parametrize("status", STATUSES)
def test_known_statuses_accepted(status):
    assert Result("a", "l", status).status == status


@pytest.mark.parametrize("status", ["passed", "", "GRADED", "ok"])
def test_unknown_status_raises(status):
    with pytest.raises(ValueError, match="status"):
        Result("a", "l", status)


def test_to_json_has_gradescope_keys():
    r = make_result(message="well done", execution_time=1.23456, origin="subs/alice.ipynb")
    r.tests[1].output = "expected 2"
    r.tests[1].visibility = "after_published"
    doc = r.to_json()
    for key in ("score", "max_score", "execution_time", "output", "tests", "status"):
        assert key in doc
    assert doc["score"] == 1 and doc["max_score"] == 3
    assert doc["status"] == "graded"
    assert doc["output"] == "well done"
    assert doc["execution_time"] == 1.235
    assert doc["student"] == "alice" and doc["lab"] == "lab1"
    assert len(doc["tests"]) == 2
    for test in doc["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
    assert doc["tests"][0] == {"name": "test_0", "score": 1, "max_score": 1, "status": "passed",
                               "output": "", "visibility": "visible"}
    assert doc["tests"][1]["output"] == "expected 2"
    assert doc["tests"][1]["visibility"] == "after_published"
    json.dumps(doc)  # plain JSON


# --- file_name -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["alice", "Bob_2", "j.doe@example.com", "a-b+c", "x" * 100, "9lives"])
def test_file_name_keeps_plain_names(name):
    assert file_name(name) == name


UNSAFE = ["../x", "..", ".", ".hidden", "=cmd", "a/b", "/etc/passwd", "a\x00b", "x" * 101, "y" * 5000,
          "", "-rf", "_x", "a b", "a\\b", "é", "..\\..\\win", "\n", "@SUM(1)", "+1", "a" * 99 + "/"]


@pytest.mark.parametrize("name", UNSAFE)
def test_file_name_makes_unsafe_names_safe(name):
    safe = file_name(name)
    assert safe != name
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".")
    assert not safe.startswith("-")  # would read as a command-line option
    assert 0 < len(safe) <= 120
    assert safe not in (".", "..")


def test_unsafe_names_never_collide():
    names = UNSAFE + ["../y", "../x/", "./x", "x/..", ".x", "x" * 102, "x" * 101 + "y",
                      "a/b/c", "a_b", "a/b_", "a\x00c"]
    safe = [file_name(n) for n in names]
    assert len(set(safe)) == len(set(names))


def test_file_name_is_deterministic():
    assert file_name("../x") == file_name("../x")


def test_file_name_keeps_a_readable_part():
    assert file_name("../alice").startswith("alice")


def test_result_path_stays_inside_out_dir(tmp_path):
    for student in ["../../evil", "/abs", ".hidden", "a/b"]:
        path = result_path(tmp_path, student, "../lab")
        assert path.resolve().is_relative_to(tmp_path.resolve())
        assert path.parent.parent == tmp_path


def test_write_result_writes_gradescope_json(tmp_path):
    r = make_result(student="../evil", lab="lab1")
    path = write_result(tmp_path, r)
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert json.loads(path.read_text(encoding="utf-8")) == r.to_json()
    assert not (tmp_path.parent / "evil").exists()


# --- gradebook -------------------------------------------------------------------------


def test_gradebook_columns_first(tmp_path):
    path = write_gradebook(tmp_path, [make_result()])
    assert path == tmp_path / "gradebook.csv"
    rows = read_csv(path)
    assert rows[0][:5] == ["student", "lab", "score", "max_score", "status"]
    assert tuple(rows[0]) == GRADEBOOK_COLUMNS
    assert rows[1][:5] == ["alice", "lab1", "1", "3", "graded"]


def test_gradebook_defuses_formula_student_name(tmp_path):
    evil = '=HYPERLINK("x")'
    path = write_gradebook(tmp_path, [make_result(student=evil)])
    rows = read_csv(path)
    assert rows[1][0] == "'" + evil
    assert rows[1][0].startswith("'=HYPERLINK")


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_gradebook_defuses_every_formula_start(tmp_path, start):
    r = make_result(student=start + "a", lab=start + "lab", status="invalid", scores=(),
                    message=start + "1+1")
    rows = read_csv(write_gradebook(tmp_path, [r]))
    row = dict(zip(rows[0], rows[1]))
    assert row["student"] == "'" + start + "a"
    assert row["lab"] == "'" + start + "lab"
    assert row["message"] == "'" + start + "1+1"


def test_gradebook_carriage_return_cannot_split_a_row_or_smuggle_a_formula(tmp_path):
    """Control characters become spaces: a bare CR would end the row and start a formula cell."""
    r = make_result(student="x\r=1+1", message="out\rput")
    rows = read_csv(write_gradebook(tmp_path, [r]))
    assert len(rows) == 2
    assert rows[1][0] == "x =1+1"
    assert rows[1][-1] == "out put"
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_gradebook_plain_cells_unchanged(tmp_path):
    r = make_result(student="bob", message="all good, 100%")
    row = dict(zip(*read_csv(write_gradebook(tmp_path, [r]))))
    assert row["student"] == "bob" and row["message"] == "all good, 100%"


def test_gradebook_rows_sorted_and_numbers_formatted(tmp_path):
    rs = [make_result(student="zed", scores=((0.5, 1),), execution_time=2),
          make_result(student="amy", lab="lab2", scores=((2, 2),), sandboxed=False),
          make_result(student="amy", lab="lab1", status="timeout", scores=())]
    rows = read_csv(write_gradebook(tmp_path, rs))
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert [(b["student"], b["lab"]) for b in body] == [("amy", "lab1"), ("amy", "lab2"), ("zed", "lab1")]
    assert body[0]["score"] == "0" and body[0]["status"] == "timeout"
    assert body[1]["sandboxed"] == "no" and body[0]["sandboxed"] == "yes"
    assert body[2]["score"] == "0.5" and body[2]["execution_time"] == "2.00"


def test_gradebook_survives_newlines_and_quotes(tmp_path):
    r = make_result(message='line one\nline "two", three')
    rows = read_csv(write_gradebook(tmp_path, [r]))
    assert len(rows) == 2
    assert rows[1][-1] == 'line one line "two", three'
    assert rows[1][-1] == 'line one line "two", three'

def test_csv_cell():
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("a=1") == "a=1"
    assert csv_cell("") == ""


# --- atomic_write ----------------------------------------------------------------------


def test_atomic_write_creates_parents_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    atomic_write(path, "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    assert os.listdir(path.parent) == ["out.txt"]


def test_atomic_write_replaces_old_content(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old content that is longer", encoding="utf-8")
    atomic_write(path, "new")
    assert path.read_text(encoding="utf-8") == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_failure_keeps_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_failure_while_writing_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")

    def broken_fsync(fd):
        raise OSError("fsync failed")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_failure_without_old_file_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(OSError):
        atomic_write(tmp_path / "out.txt", "new")
    assert os.listdir(tmp_path) == []


def test_gradebook_rewrite_replaces_previous(tmp_path):
    write_gradebook(tmp_path, [make_result(student="alice")])
    write_gradebook(tmp_path, [make_result(student="bob")])
    rows = read_csv(tmp_path / "gradebook.csv")
    assert [r[0] for r in rows[1:]] == ["bob"]
    assert os.listdir(tmp_path) == ["gradebook.csv"]


@pytest.mark.parametrize("size", [EXECUTED_LIMIT - 1000, EXECUTED_LIMIT + 1, 3 * EXECUTED_LIMIT])
def test_an_executed_notebook_over_the_limit_is_not_kept_and_the_result_says_so(tmp_path, size):
    result = Result("amy", "lab", "graded", executed="x" * size)
    write_result(tmp_path, result)
    kept = result_path(tmp_path, "amy", "lab").with_suffix(".ipynb")
    assert kept.is_file() == (size <= EXECUTED_LIMIT)
    assert ("was not kept" in result.message) == (size > EXECUTED_LIMIT)
    assert max(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) <= EXECUTED_LIMIT
