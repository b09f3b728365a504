"""The local executor: every job gets a result, even when its worker dies."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from grader.batch.executors import LocalExecutor
from grader.batch.processes import WORKER_MEMORY_MIB
from grader.course.discover import Submission
from grader.results.model import Result
from grader.runner import Job, Steps


def fake_task(job: Job, steps: Steps) -> None:
    """Stands in for grading: dies for 'dies', raises for 'raises', else scores. A job the
    watchdog stopped comes back with ``stop`` set: it gets that row."""
    name = job.submission.student
    if job.stop is not None:
        steps.deliver(Result(name, "lab", job.stop[0], message=job.stop[1]))
        return
    if name.startswith("hangs-"):  # hangs-<step>: overruns that step, after the result for "feedback"
        step = name.removeprefix("hangs-")
        if step == "feedback":
            steps.deliver(Result(name, "lab", "graded", message="kept"))
        steps.begin(step, 0.5)
        signal.pause()
    if name == "hogs":  # the grader's own process filling its memory (a message of many frames, say)
        steps.begin("testing", 60)
        hog = []
        while True:
            hog.append(bytearray(64 * 2**20))
    if name.startswith("dies"):
        os._exit(9)
    if name == "raises":
        raise RuntimeError("boom")
    steps.deliver(Result(name, "lab", "graded", message=str(os.getpid())))


def jobs(*names: str) -> list[Job]:
    return [Job(Submission(n, Path(f"{n}.ipynb"), lab="lab"), Path(".")) for n in names]


def test_each_job_runs_in_a_fresh_process():
    results = [r for _, r in LocalExecutor(2, fake_task).run(jobs("a", "b", "c", "d"))]
    assert sorted(r.student for r in results) == ["a", "b", "c", "d"]
    assert len({r.message for r in results}) == 4


def test_a_dying_worker_costs_only_its_own_job():
    executor = LocalExecutor(2, fake_task)
    results = {r.student: r for _, r in executor.run(jobs("a", "dies", "b", "c", "d"))}
    assert sorted(results) == ["a", "b", "c", "d", "dies"]
    assert results["dies"].status == "crashed" and "grading process died" in results["dies"].message
    assert all(results[n].status == "graded" for n in "abcd")
    assert executor.errors == []  # the submission's row, not an error of the grader's


def test_innocent_jobs_survive_several_dying_workers():
    results = {r.student: r.status for _, r in LocalExecutor(2, fake_task).run(jobs("a", "dies1", "b", "dies2", "c"))}
    assert results == {"a": "graded", "b": "graded", "c": "graded", "dies1": "crashed", "dies2": "crashed"}


def test_an_exception_in_a_job_becomes_a_crashed_row():
    executor = LocalExecutor(1, fake_task)
    results = {r.student: r for _, r in executor.run(jobs("raises", "ok"))}
    assert results["raises"].status == "crashed" and "RuntimeError: boom" in results["raises"].message
    assert results["ok"].status == "graded"
    assert executor.errors == ["raises.ipynb: RuntimeError: boom"]


@pytest.mark.parametrize("step", ["reading the notebook", "testing", "decoding a value", "writing results"])
def test_a_step_that_overruns_costs_only_its_row_with_the_reason(step):
    executor = LocalExecutor(2, fake_task)
    results = {r.student: r for _, r in executor.run(jobs("a", f"hangs-{step}", "b"))}
    stopped = results[f"hangs-{step}"]
    assert stopped.status == "timeout" and f"{step} took longer than 0.5 s" in stopped.message
    assert results["a"].status == results["b"].status == "graded"
    assert executor.errors == []


def test_a_hang_after_the_result_keeps_the_result_and_says_what_is_missing():
    results = {r.student: r for _, r in LocalExecutor(1, fake_task).run(jobs("hangs-feedback", "a"))}
    kept = results["hangs-feedback"]
    assert kept.status == "graded" and kept.message.startswith("kept; the feedback page is missing")
    assert results["a"].status == "graded"


def test_each_job_gets_its_own_scratch_folder_removed_after_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    results = [r for _, r in LocalExecutor(2, fake_task).run(jobs("a", "dies", "hangs-testing", "b"))]
    assert len(results) == 4
    assert list(tmp_path.iterdir()) == []


def test_a_worker_over_its_memory_is_killed_and_its_row_says_why():
    if os.geteuid() != 0:
        pytest.fail("the worker's memory cgroup is made as root: run the tests as root")
    results = {r.student: r for _, r in LocalExecutor(2, fake_task).run(jobs("hogs", "a"))}
    assert results["hogs"].status == "crashed"
    assert f"used the {WORKER_MEMORY_MIB} MiB the grader allows itself" in results["hogs"].message
    assert results["a"].status == "graded"
    # Left behind = a worker's group whose worker is gone; other graders running on this machine
    # have groups of their own, each with its worker alive.
    left = [g for g in Path("/sys/fs/cgroup").glob("*/grader-worker-*")
            if not Path("/proc", g.name.removeprefix("grader-worker-")).exists()]
    assert not left


def test_a_batch_removes_the_groups_of_workers_a_killed_grader_left_and_no_other():
    """A grader killed outright leaves its workers' memory groups behind; the next batch removes
    those whose worker is gone (by the name the grader gave them), never one whose worker runs."""
    if os.geteuid() != 0:
        pytest.fail("the worker's memory cgroup is made as root: run the tests as root")
    import subprocess

    from grader.batch.processes import WORKER_CGROUP
    from grader.engine.sandbox import cgroups

    dead = []
    for _ in range(3):
        child = subprocess.Popen(["true"])
        child.wait()
        dead.append(child.pid)
    live = os.getpid()  # this process runs: its group must stay
    groups = {pid: cgroups.create(f"{WORKER_CGROUP}{pid}", 64, 16) for pid in [*dead, live]}
    try:
        assert all(g is not None and g.dirs for g in groups.values())
        assert [r.status for _, r in LocalExecutor(1, fake_task).run(jobs("a"))] == ["graded"]
        assert all(not any(d.exists() for d in groups[pid].dirs) for pid in dead)
        assert all(d.exists() for d in groups[live].dirs)
    finally:
        for group in groups.values():
            group.remove()
