"""Where ``runner.grade`` calls run: a local process pool now, Dask later.

An executor takes jobs and yields ``(job, result)`` pairs as they finish, in
any order. Each job runs in a fresh worker process (forked from a server that
has the grader imported already), so a test suite's imports or a crashed
worker cannot touch the next submission. A worker that dies takes only its
own job down: the pool is rebuilt and the other jobs go on.
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

MAX_ATTEMPTS = 2


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

    def _failed(self, job: Job, exc: BaseException) -> Result:
        self.errors.append(f"{job.submission.origin}: {type(exc).__name__}: {exc}")
        return grader_error(job, exc)

    def _pool(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["grader.runner", "numpy"])
        return ProcessPoolExecutor(self.workers, mp_context=ctx, max_tasks_per_child=1)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        pending = list(jobs)
        attempts = {id(job): 0 for job in pending}
        while pending:
            pool = self._pool()
            running: dict[Future, Job] = {}
            try:
                while pending or running:
                    while pending and len(running) < self.workers:
                        future = pool.submit(self.task, pending[0])
                        job = pending.pop(0)
                        attempts[id(job)] += 1
                        running[future] = job
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = running.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            if attempts[id(job)] < MAX_ATTEMPTS:
                                pending.append(job)
                                continue
                            result = self._failed(job, RuntimeError("the worker process died"))
                        except Exception as exc:  # noqa: BLE001 - one bad job must not stop the batch
                            result = self._failed(job, exc)
                        yield job, result
            except BrokenProcessPool:
                pending = list(running.values()) + pending
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
