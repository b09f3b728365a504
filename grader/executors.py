"""Where ``runner.grade`` calls run: a local process pool now, Dask later.

An executor takes jobs and yields ``(job, result)`` pairs as they finish, in
any order. Each job runs in a fresh worker process (forked from a server that
has the grader imported already), so a test suite's imports or a crashed
worker cannot touch the next submission. A worker that dies takes only its
own job down: the jobs caught with it are run again, each alone.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from grader.results import Result
from grader.runner import Job, grade


class Executor(Protocol):
    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        """Grade ``jobs``, yielding each result as soon as it exists."""


def grader_error(job: Job, exc: BaseException) -> Result:
    """The row of a submission the grader itself failed on (the batch exits non-zero)."""
    sub = job.submission
    return Result(sub.student, sub.lab, "crashed", message=f"grader error: {type(exc).__name__}: {exc}",
                  origin=sub.origin)


class LocalExecutor:
    """``workers`` processes on this machine, one job per process."""

    def __init__(self, workers: int | None = None, task: Callable[[Job], Result] = grade):
        self.workers = workers or os.cpu_count() or 1
        self.task = task
        self.errors: list[str] = []

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        pending, suspects = list(jobs), []
        while pending:
            pending = yield from self._run_pool(pending, self.workers, suspects)
        # Every job that was running when a worker died runs again alone: one
        # that breaks a pool by itself is the one that killed the worker.
        for job in suspects:
            yield from self._run_pool([job], 1, None)

    def _run_pool(self, jobs: list[Job], workers: int, suspects: list[Job] | None):
        """Run ``jobs`` on a fresh pool; return those never started if the pool broke."""
        pool, pending = self._pool(workers), list(jobs)
        running: dict[Future, Job] = {}
        try:
            while pending or running:
                while pending and len(running) < workers:
                    try:
                        future = pool.submit(self.task, pending[0])
                    except BrokenProcessPool:
                        break
                    running[future] = pending.pop(0)
                if not running:
                    return pending
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        if suspects is not None:
                            suspects.append(job)
                            continue
                        result = self._failed(job, RuntimeError("the worker process died"))
                    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the batch
                        result = self._failed(job, exc)
                    yield job, result
            return []
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _failed(self, job: Job, exc: BaseException) -> Result:
        self.errors.append(f"{job.submission.origin}: {type(exc).__name__}: {exc}")
        return grader_error(job, exc)

    @staticmethod
    def _pool(workers: int) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["grader.runner", "numpy"])
        return ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=1)
