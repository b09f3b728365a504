"""Where ``runner.grade`` calls run: a local process per submission (a Dask cluster runs
the same executor on each of its workers: grader.batch.cluster).

An executor takes jobs and yields ``(job, result)`` pairs as they finish, in
any order. Each job runs in a fresh worker process (forked from a server that
has the grader imported and warmed already: grader.batch.warm), so a test suite's
imports, a crash or a hang cannot touch the next submission.

The parent is the watchdog. A worker announces each step of its job with the
time that step may take (:class:`Steps`); a worker that overruns its step, or
dies, is killed with everything it started, and its job becomes a row with a
status and the reason (``timeout`` or ``crashed``) instead of an error of the
grader's. Each job gets a scratch folder of its own as its temporary folder:
sockets, sandbox files and services all live there, and the parent removes
it, and the sandboxes the worker opened (``reclaim_worker``), however the
worker ended.

The terminal is the parent's. Ctrl-C reaches every process of the group, but the
fork server is started deaf to it, so it and every worker ignore it from their
first instruction (grader.batch.processes.start_forkserver): the parent stops the batch, and no
worker prints a KeyboardInterrupt traceback. A worker's Python warnings go to the
parent (:meth:`PipeSteps.warning`), which shows each once through its own warnings
machinery, where the progress bar's console prints them above the bar instead
of under it.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from grader.batch import processes
from grader.engine.sandbox import cgroups, reclaim_worker
from grader.errors import TestsBroken
from grader.results.model import Result, Status
from grader.runner import Job, Steps, grade_to_disk

START_SECONDS = 60.0  # from fork to the first step: importing what the grader did not preload


class Cancelled(Exception):
    """The batch was called off while this executor ran: every worker it started is ended."""


class Executor(Protocol):
    errors: list[str]  # the grader's own failures, one line each, reported after the batch

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        """Grade ``jobs``, yielding each result as soon as it exists."""


Task = Callable[[Job, Steps], None]


def grader_error(job: Job, text: str) -> Result:
    """The row of a submission the grader itself failed on (the batch exits non-zero)."""
    sub = job.submission
    return Result(sub.student, sub.lab, Status.CRASHED, message=_joined(f"grader error: {text}", sub.duplicate_note),
                  origin=sub.origin)


ERROR_CHARS = 2000
BROKEN_TESTS_ROW = ("the lab's tests are broken (the instructor is told which); this notebook was not graded "
                    "against them and will be once they are fixed")


@dataclass(frozen=True)
class Failure:
    """The grader's own failure on one job: the line the batch reports, and what its row says."""

    report: str  # for the instructor, in the batch's output
    message: str  # in the row, which students read on their feedback page


def failure(job: Job, exc: Exception) -> Failure:
    """A lab's broken tests are reported for the lab, naming the test and why; the row says only that
    the lab's tests are broken (a hidden test's name and source are not the student's to see), except
    on the instructor's own solution check (``job.reveal``), whose row keeps the whole reason."""
    if isinstance(exc, TestsBroken):
        report = f"lab {job.submission.lab}: {exc}"[:ERROR_CHARS]
        return Failure(report, report if job.reveal else BROKEN_TESTS_ROW)
    text = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
    return Failure(f"{job.submission.origin}: {text}", text)


def failed_row(job: Job, failed: Failure, errors: list[str]) -> Result:
    """The row of a job the grader failed on; the failure's report joins ``errors`` once, however
    many submissions of the lab met it."""
    if failed.report not in errors:
        errors.append(failed.report)
    return grader_error(job, failed.message)


class PipeSteps:
    """A worker's side of the watchdog: each step, the result and any warning go to the parent,
    one message at a time whatever thread sends it (a kit's service warns from its own)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._lock = threading.RLock()  # a warning while pickling a message sends before that message's bytes

    def begin(self, name: str, seconds: float) -> None:
        self._send(("step", name, seconds))

    def deliver(self, result: Result) -> None:
        self._send(("result", result))

    def turn(self) -> None:
        """Say the kernel is up, and wait for the parent's word to go on."""
        self._send(("ready",))
        if self.conn.recv() != "go":
            raise RuntimeError("the grader sent something other than its word to go on")

    def warning(self, message, category, filename, lineno, file=None, line=None) -> None:
        """``warnings.showwarning`` in a worker: its stderr is the terminal, under the parent's
        progress bar, so the warning goes to the parent as text, bounded."""
        with contextlib.suppress(OSError, ValueError):  # the pipe is closed: the job is over
            self._send(("warning", category.__name__, str(message)[:WARNING_CHARS], str(filename)[:WARNING_CHARS],
                        int(lineno or 0)))

    def _send(self, message: tuple) -> None:
        with self._lock:
            self.conn.send(message)


class WorkerWarning(UserWarning):
    """A warning raised in a worker process, shown by the parent once per batch."""


WARNING_CHARS = 2000
_SHOWN_WARNINGS: dict = {}  # the warnings registry of workers' warnings: each distinct one is shown once


def show_worker_warning(category: str, message: str, filename: str, lineno: int) -> None:
    """Show a worker's warning as the parent's own: once for all the batch's workers (each is a
    fresh process, which would show it again), printed by whatever shows this process's warnings."""
    warnings.warn_explicit(f"{category}: {message}", WorkerWarning, filename, lineno, registry=_SHOWN_WARNINGS)


@dataclass
class Worker:
    """One job's process, as the parent watches it."""

    job: Job
    process: multiprocessing.Process
    conn: Connection
    scratch: Path
    step: str = "starting"
    seconds: float = START_SECONDS
    deadline: float = 0.0
    result: Result | None = None
    error: Failure | None = None  # the task raised: a failure of the grader's own
    overran: bool = False
    group: cgroups.Cgroup | None = None  # the worker's memory cgroup, where it could be made
    out_of_memory: bool = False  # the cgroup's kernel killed the worker for its memory
    hung_up: bool = False  # the worker closed its end: nothing more will come
    waiting: bool = False  # its kernel is up, and it waits for a free core (Steps.turn)
    admitted: bool = False  # it was given a core, and holds it until it ends

    def drain(self) -> None:
        """Take every message waiting: a step begins, the result, or the task's error."""
        while not self.hung_up and self.conn.poll():
            try:
                self._take(self.conn.recv())
            except (EOFError, OSError):
                self.hung_up = True

    def _take(self, message: tuple) -> None:
        kind, *body = message
        if kind == "step":
            self.step, self.seconds = body
            self.deadline = time.monotonic() + self.seconds
        elif kind == "ready":
            self.step, self.seconds, self.deadline, self.waiting = "waiting for a free core", math.inf, math.inf, True
        elif kind == "result":
            self.result = body[0]
        elif kind == "error":
            self.error = body[0]
        elif kind == "warning":
            show_worker_warning(*body)


class LocalExecutor:
    """``workers`` processes on this machine, one job per process, each watched.

    Up to ``workers`` more start ahead: each starts its own fresh kernel while the others' tests
    run, and waits (Steps.turn) until one of the ``workers`` cores is free to run its notebook.
    A kernel's start costs the grader's process little but waits, and a job's tests wait on the
    kernel's replies: a job started ahead fills that idle time."""

    def __init__(self, workers: int | None = None, task: Task = grade_to_disk, cancel: Connection | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.task = task
        self.cancel = cancel  # readable once the batch is called off (a Dask client's Ctrl-C): raise Cancelled
        self.errors: list[str] = []
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["grader.runner", "numpy", "grader.batch.warm"])

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        pending, running = list(jobs), []
        if pending:
            processes.reclaim_dead_workers()
            processes.start_forkserver()
        lifeline = self._context.Pipe(duplex=False)  # (read, write): see processes.die_with_watchdog
        try:
            while pending or running:
                while pending and len(running) < 2 * self.workers:
                    with processes.interrupt_deferred():  # a worker started is a worker the parent ends
                        running.append(self._start(pending.pop(0), lifeline[0]))
                self._admit(running)
                for worker in self._wait(running):
                    with processes.interrupt_deferred():
                        running.remove(worker)
                        result = self._finish(worker)
                    if result is None:  # the job ended without a row: give it one, alone
                        pending.insert(0, replace(worker.job, stop=self._stop_reason(worker)))
                        continue
                    yield worker.job, result
        finally:
            for worker in running:
                self._end(worker)
            for end in lifeline:
                end.close()

    def _admit(self, running: list[Worker]) -> None:
        """Give the free cores to the workers that wait for one, first started first."""
        free = self.workers - sum(w.admitted for w in running)
        for worker in [w for w in running if w.waiting][:max(0, free)]:
            worker.waiting, worker.admitted = False, True
            worker.step, worker.seconds = "starting to run the notebook", START_SECONDS
            worker.deadline = time.monotonic() + START_SECONDS
            with contextlib.suppress(OSError):  # it is gone already: its exit is seen next
                worker.conn.send("go")

    def _start(self, job: Job, lifeline: Connection) -> Worker:
        scratch = processes.scratch_folder()
        receiver, sender = self._context.Pipe()
        process = self._context.Process(target=_work, args=(self.task, job, sender, scratch, lifeline),
                                        daemon=True)
        process.start()
        sender.close()
        return Worker(job, process, receiver, scratch, deadline=time.monotonic() + START_SECONDS,
                      group=processes.confine(process.pid))

    def _wait(self, running: list[Worker]) -> list[Worker]:
        """Wait for a message, an exit or the nearest deadline; return the workers that ended."""
        nearest = min(w.deadline for w in running)
        timeout = None if nearest == math.inf else max(0.0, nearest - time.monotonic())
        waiting = [w.conn for w in running if not w.hung_up] + [w.process.sentinel for w in running]
        ready = set(wait(waiting + ([self.cancel] if self.cancel else []), timeout))
        if self.cancel is not None and self.cancel in ready:
            raise Cancelled("the batch was called off")
        ended = []
        for worker in running:
            if worker.conn in ready:
                worker.drain()
            if worker.process.sentinel in ready or not worker.process.is_alive():
                worker.drain()
                ended.append(worker)
            elif time.monotonic() >= worker.deadline:
                worker.overran = True
                ended.append(worker)
        return ended

    def _finish(self, worker: Worker) -> Result | None:
        """The worker's row, once it and everything it started are gone; None if it has none."""
        self._end(worker)
        if worker.error is not None:
            return failed_row(worker.job, worker.error, self.errors)
        if worker.result is not None:
            if worker.overran or worker.process.exitcode != 0:  # after the result: its page is missing
                worker.result.message = _joined(worker.result.message,
                                                f"the feedback page is missing ({self._stop_reason(worker)[1]})")
            return worker.result
        if worker.job.stop is not None:  # even a row with nothing run did not come: the grader's own failure
            self.errors.append(f"{worker.job.submission.origin}: {self._stop_reason(worker)[1]}")
            return grader_error(worker.job, self._stop_reason(worker)[1])
        return None

    @staticmethod
    def _stop_reason(worker: Worker) -> tuple[str, str]:
        if worker.overran:
            return Status.TIMEOUT, f"grading stopped: {worker.step} took longer than {worker.seconds:g} s"
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        if worker.out_of_memory:
            how = f"it used the {processes.WORKER_MEMORY_MIB} MiB the grader allows itself per submission"
        return Status.CRASHED, f"grading stopped: the grading process died while {worker.step} ({how})"

    @staticmethod
    def _end(worker: Worker) -> None:
        """Kill the worker if it still runs, then remove all it made, whatever happened to it."""
        with contextlib.suppress(ProcessLookupError):
            if worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join()
        worker.conn.close()
        if worker.group is not None:
            worker.out_of_memory = worker.group.oom_killed()
            worker.group.remove()
        if worker.overran or worker.process.exitcode != 0:
            reclaim_worker(worker.process.pid)
        shutil.rmtree(worker.scratch, ignore_errors=True)


def _work(task: Task, job: Job, conn: Connection, scratch: Path, lifeline: Connection) -> None:
    """A worker: the job's temporary files go to its scratch folder; Ctrl-C is the parent's (and
    ignored here already if the fork server started deaf to it); its warnings go to the parent; it
    dies with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    processes.die_with_watchdog(lifeline)
    os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = str(scratch)
    steps = PipeSteps(conn)
    warnings.showwarning = steps.warning
    try:
        task(job, steps)
    except Exception as exc:
        with contextlib.suppress(OSError):  # the parent is gone: there is nobody to tell
            conn.send(("error", failure(job, exc)))
    finally:
        conn.close()


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)

