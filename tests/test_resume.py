"""A batch that survives its grader: kill -9 and rerun, Ctrl-C, reuse of results."""

from __future__ import annotations

import csv
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    BACKENDS,
    copy_course,
    kernel_containers,
    leftover_processes,
    notebook,
    run_grade,
    solution_cells,
    write_notebook,
)

COUNT = 6


def rows(out: Path) -> list[dict]:
    path = out / "gradebook.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def wait_for_results(proc: subprocess.Popen, count: int, timeout: float) -> None:
    """Block until ``grade`` has reported ``count`` results: off a terminal it prints a line
    for each (``[n/total] ...``). Reads the unbuffered pipe a byte at a time, so ``select``
    never misses a line sitting in a buffer."""
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < count:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            pytest.fail(f"no {count} results within {timeout} s")
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"grade ended after {seen} results: {proc.stderr.read()[-2000:]}")
        seen += line.startswith(b"[")


def start_grade(course: Path, backend: str, scratch: Path) -> subprocess.Popen:
    """``grade`` in its own process group, as a terminal would run it (its output to a pipe)."""
    return subprocess.Popen([sys.executable, "-m", "grader", "submissions", "-j", "1", "--backend", backend],
                            cwd=course, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0, env={**os.environ, "TMPDIR": str(scratch)})


@pytest.fixture(params=BACKENDS)
def setup(request, tmp_path):
    course = copy_course(tmp_path / "course")
    for i in range(COUNT):
        cells = solution_cells() if i % 2 == 0 else solution_cells()[:2]
        write_notebook(course / "submissions" / f"s{i}.ipynb", notebook(*cells))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return request.param, course, scratch


def expected_scores() -> dict[str, str]:
    return {f"s{i}": "22" if i % 2 == 0 else "9" for i in range(COUNT)}


def left_behind(scratch: Path) -> list[str]:
    """The processes and kernel containers still there (none, once a batch is over)."""
    return leftover_processes(scratch) + kernel_containers()


def test_kill_9_then_rerun_keeps_what_was_done(setup):
    backend, course, scratch = setup
    proc = start_grade(course, backend, scratch)
    wait_for_results(proc, 2, 120)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {r["student"] for r in rows(course / "grades")}
    assert 2 <= len(done_before) < COUNT

    rerun = run_grade("submissions", "-j", "2", "--backend", backend, cwd=course, env={"TMPDIR": str(scratch)})
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    final = rows(course / "grades")
    assert {r["student"]: r["score"] for r in final} == expected_scores()
    assert len(final) == COUNT
    assert {r["student"] for r in final if r["reused"] == "yes"} == done_before
    assert all(r["status"] == "graded" for r in final)
    assert left_behind(scratch) == []  # the rerun removed what the killed grader left


def test_rerun_reuses_unchanged_and_regrades_changed(setup):
    backend, course, scratch = setup
    assert run_grade("submissions", "--backend", backend, cwd=course).returncode == 0
    write_notebook(course / "submissions" / "s1.ipynb", notebook(*solution_cells()))
    again = run_grade("submissions", "--backend", backend, cwd=course)
    assert again.returncode == 0
    reused = {r["student"]: r["reused"] for r in rows(course / "grades")}
    assert reused == {f"s{i}": "no" if i == 1 else "yes" for i in range(COUNT)}
    assert rows(course / "grades")[1]["score"] == "22"
    forced = run_grade("submissions", "--backend", backend, "--force", cwd=course)
    assert forced.returncode == 0
    assert {r["reused"] for r in rows(course / "grades")} == {"no"}


def test_changed_hidden_tests_regrade_everything(setup):
    backend, course, scratch = setup
    assert run_grade("submissions", "--backend", backend, cwd=course).returncode == 0
    hidden = course / "solutions" / "00-warmup" / "tests" / "test_hidden.py"
    hidden.write_text(hidden.read_text() + "\n\ndef test_extra(nb):\n    assert nb.call('square', 2) == 4\n")
    assert run_grade("submissions", "--backend", backend, cwd=course).returncode == 0
    final = rows(course / "grades")
    assert {r["reused"] for r in final} == {"no"} and {r["max_score"] for r in final} == {"23"}


def test_ctrl_c_stops_within_seconds_and_leaves_a_valid_gradebook(setup):
    backend, course, scratch = setup
    proc = start_grade(course, backend, scratch)
    wait_for_results(proc, 1, 120)
    os.killpg(proc.pid, signal.SIGINT)
    started = time.monotonic()
    proc.wait(timeout=30)
    assert time.monotonic() - started < 15
    assert proc.returncode == 130, proc.stderr.read().decode(errors="replace")
    book = rows(course / "grades")
    assert 1 <= len(book) < COUNT
    assert all(r["status"] == "graded" and r["score"] == expected_scores()[r["student"]] for r in book)
    assert left_behind(scratch) == []  # cleaned up before it exited
