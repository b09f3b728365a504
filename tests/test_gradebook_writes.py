"""The gradebook's rewrites stay linear in the batch's size (grader.results.gradebook), and the
gradebook stays what users rely on: valid at any moment, complete at the end, and never what a
rerun resumes from (each result's own JSON is).

The policy is checked on a model clock in which a rewrite takes as long as the rows it writes,
over generated families of batch sizes and grading speeds; run_batch is checked on the fake
kernel (tests/fakes.py) with a clock that makes every rewrite look slow, so the gradebook lags.
"""

from __future__ import annotations

import csv
import functools
import itertools
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest
from conftest import notebook, write_notebook
from fakes import InlineExecutor
from test_runner_fast import ANSWERS, LAB_ID, TAGS, make_course

from grader.batch import run
from grader.batch.run import run_batch
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.engine.sandbox import get_backend
from grader.results.gradebook import PATIENCE, GradebookWriter
from grader.results.model import Result
from grader.results.store import result_path
from grader.runner import Job

SIZES = (1, 2, 3, 10, 57, 300, 1000, 3000)
GAPS = (0.0, 0.3, 5.0, 40.0)  # grading time per result, in rows' worth of rewriting
OVERHEADS = (0.0, 3.0)  # a rewrite's fixed cost (fsync), in rows' worth


class ModelClock:
    """Time in rows' worth of rewriting: a rewrite of n rows takes ``overhead`` + n."""

    def __init__(self, overhead: float):
        self.now, self.overhead = 0.0, overhead
        self.last = -1  # rows in the last rewrite

    def __call__(self) -> float:
        return self.now

    def write(self, out_dir: Path, results: Sequence[object]) -> None:
        self.now += self.overhead + len(results)
        self.last = len(results)


def model_batch(size: int, gap: float, overhead: float, patience: float = PATIENCE) -> GradebookWriter:
    """The batch's loop as run_batch runs it: a first rewrite, an offer per result, a last rewrite."""
    clock = ModelClock(overhead)
    book = GradebookWriter(Path("unused"), patience=patience, clock=clock, write=clock.write)
    results: list[int] = []
    book.write(results)
    for i in range(size):
        clock.now += gap
        results.append(i)
        book.offer(results)
    book.finish(results)
    return book


def linear_bound(size: int, gap: float, overhead: float, patience: float = PATIENCE) -> float:
    """Every rewrite but the last two owes ``patience`` times its cost in grading time, of which the
    batch has ``size * gap``; the last two write at most ``size`` rows each."""
    return size * gap / patience + 2 * (size + overhead)


@pytest.mark.parametrize("overhead", OVERHEADS)
@pytest.mark.parametrize("gap", GAPS)
def test_rows_written_are_at_most_a_constant_times_the_results(gap, overhead):
    for size in SIZES:
        book = model_batch(size, gap, overhead)
        assert book.rows_written <= linear_bound(size, gap, overhead), size
        assert book.clock.last == size  # the last rewrite had every result


@pytest.mark.parametrize("gap", GAPS)
def test_the_bound_fails_a_rewrite_after_every_result(gap):
    """The same bound, for the old policy (no patience): it holds for small batches only."""
    failed = [size for size in SIZES if model_batch(size, gap, 0.0, patience=0).rows_written
              > linear_bound(size, gap, 0.0)]
    assert failed and failed == [size for size in SIZES if size >= failed[0]]


@pytest.mark.parametrize("overhead", OVERHEADS)
def test_a_batch_slower_than_its_rewrites_rewrites_after_every_result(overhead):
    """Grading a result takes longer than ``patience`` rewrites of the whole gradebook: never behind."""
    for size in SIZES[:6]:
        book = model_batch(size, PATIENCE * (size + overhead) + 1, overhead)
        assert book.rewrites == size + 1  # the first, then one per result; the last had nothing new


# --- run_batch on the fake kernel ----------------------------------------------------------------

def slow_rewrites(monkeypatch) -> None:
    """Each reading of the clock is a second later: a rewrite takes 1 s and owes PATIENCE of them."""
    clock = functools.partial(next, itertools.count())
    monkeypatch.setattr(run, "GradebookWriter", functools.partial(GradebookWriter, clock=clock))


def rows(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def make_subs(tmp_path: Path, size: int) -> tuple[Course, list[Submission]]:
    """``size`` submissions, every third one wrong in ``square`` (4 of 6 points)."""
    course = Course(make_course(tmp_path / "course"))
    wrong = ["def square(x):\n    return x + x", *ANSWERS[1:]]
    return course, [Submission(f"s{i:02d}", write_notebook(tmp_path / "subs" / f"s{i:02d}.ipynb", notebook(
        *(wrong if i % 3 == 2 else ANSWERS), lab=LAB_ID, tags=TAGS)), lab=LAB_ID) for i in range(size)]


def scores(size: int) -> dict[str, str]:
    return {f"s{i:02d}": "4" if i % 3 == 2 else "6" for i in range(size)}


def batch(course: Course, subs: list[Submission], out: Path, on_result=lambda r: None,
          executor_factory=InlineExecutor) -> list[Result]:
    results, errors = run_batch(subs, course, out, get_backend("none"), 1, False, on_result,
                                executor_factory=executor_factory)
    assert errors == []
    return results


@pytest.mark.parametrize("size", [1, 4, 13])
def test_the_gradebook_lags_while_rewrites_are_slow_and_has_every_row_at_the_end(tmp_path, monkeypatch, size):
    slow_rewrites(monkeypatch)
    course, subs = make_subs(tmp_path, size)
    out = tmp_path / "grades"
    seen: list[tuple[int, bool]] = []  # per result: the gradebook's rows then, its own JSON there

    def look(result: Result) -> None:
        seen.append((len(rows(out)), result_path(out, result.student, LAB_ID).is_file()))

    batch(course, subs, out, look)
    assert all(json_there for _, json_there in seen)
    assert [n for n, _ in seen] != list(range(1, size + 1))  # it did lag
    assert {s: row["score"] for s, row in rows(out).items()} == scores(size)


class Interrupted(InlineExecutor):
    """InlineExecutor, stopped by Ctrl-C after ``stop_after`` results."""

    def __init__(self, stop_after: int):
        super().__init__()
        self.stop_after = stop_after

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        for count, pair in enumerate(super().run(jobs), start=1):
            yield pair
            if count == self.stop_after:
                raise KeyboardInterrupt


@pytest.mark.parametrize(("size", "stop_after"), [(2, 1), (7, 4)])
def test_ctrl_c_leaves_every_finished_result_in_the_gradebook(tmp_path, monkeypatch, size, stop_after):
    slow_rewrites(monkeypatch)
    course, subs = make_subs(tmp_path, size)
    out = tmp_path / "grades"
    with pytest.raises(KeyboardInterrupt):
        batch(course, subs, out, executor_factory=lambda workers: Interrupted(stop_after))
    assert rows(out).keys() == {f"s{i:02d}" for i in range(stop_after)}


def killed_at(course: Course, subs: list[Submission], out: Path, count: int) -> None:
    """In this (forked) process: the batch, killed with SIGKILL as its ``count``-th result is reported."""
    reported = itertools.count(1)

    def kill_9(result: Result) -> None:
        if next(reported) == count:
            os.kill(os.getpid(), signal.SIGKILL)

    batch(course, subs, out, kill_9)


@pytest.mark.parametrize(("size", "killed_after"), [(3, 1), (8, 5)])
def test_a_rerun_after_kill_9_keeps_every_finished_result_the_gradebook_lacked(tmp_path, monkeypatch, size,
                                                                                 killed_after):
    slow_rewrites(monkeypatch)
    course, subs = make_subs(tmp_path, size)
    out = tmp_path / "grades"
    child = multiprocessing.get_context("fork").Process(target=killed_at, args=(course, subs, out, killed_after))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    before = rows(out)  # valid, but behind: the rewrites were slow
    assert len(before) < killed_after
    finished = {s.student for s in subs if result_path(out, s.student, LAB_ID).is_file()}
    assert finished == {f"s{i:02d}" for i in range(killed_after)}

    results = batch(course, subs, out)
    assert {r.student for r in results if r.reused} == finished
    assert {s: row["score"] for s, row in rows(out).items()} == scores(size)
    assert {s for s, row in rows(out).items() if row["reused"] == "yes"} == finished
