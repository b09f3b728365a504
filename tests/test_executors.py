"""The local executor: every job gets a result, even when its worker dies."""

from __future__ import annotations

import os
from pathlib import Path

from grader.discover import Submission
from grader.executors import LocalExecutor
from grader.results import Result
from grader.runner import Job


def fake_task(job: Job) -> Result:
    """Stands in for grading: dies for 'dies', raises for 'raises', else scores."""
    name = job.submission.student
    if name.startswith("dies"):
        os._exit(9)
    if name == "raises":
        raise RuntimeError("boom")
    return Result(name, "lab", "graded", message=str(os.getpid()))


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
    assert results["dies"].status == "crashed" and "worker process died" in results["dies"].message
    assert all(results[n].status == "graded" for n in "abcd")
    assert len(executor.errors) == 1


def test_innocent_jobs_survive_several_dying_workers():
    results = {r.student: r.status for _, r in LocalExecutor(2, fake_task).run(jobs("a", "dies1", "b", "dies2", "c"))}
    assert results == {"a": "graded", "b": "graded", "c": "graded", "dies1": "crashed", "dies2": "crashed"}


def test_an_exception_in_a_job_becomes_a_crashed_row():
    executor = LocalExecutor(1, fake_task)
    results = {r.student: r for _, r in executor.run(jobs("raises", "ok"))}
    assert results["raises"].status == "crashed" and "RuntimeError: boom" in results["raises"].message
    assert results["ok"].status == "graded"
    assert executor.errors == ["raises.ipynb: RuntimeError: boom"]
