"""Grading on a Dask cluster (``grade ... --dask ADDRESS``): the second executor.

Dask schedules, retries and moves data; the grader adds no scheduler of its
own. Each submission is one Dask task, and what it carries is small and
immutable (:class:`JobSpec`): the notebook's bytes, the hash of its lab's
bundle, the limits and the grader's identity. A lab's files travel once per
worker as a bundle (the result of a task of its own, which Dask makes again if
the worker holding it dies), extracted on the worker once, under its hash, in
the worker's own Dask folder (Dask removes that folder with the worker).
Jobs are submitted in a window, a few per sandbox the workers offer, topped up
as rows come back: the client and the scheduler hold a window's notebooks,
not the batch's.

On the worker (grader.batch.dask_worker), a task grades its one submission as ``grade`` does on
one machine: through a :class:`LocalExecutor` of one process, so the sandbox,
the watchdog, the memory group and the clean-up are the same code. Each task
asks for one unit of the worker resource ``sandbox``, so a worker runs at most
as many sandboxes as it declares (one per core). The executed notebook and
the feedback page come back with the result, and the client writes them: the
workers share no folder with it.

Workers are checked before any job runs: a worker whose grader, libraries,
kits or sandbox differ from the client's, or that cannot start a grading
process (a daemonic Dask worker), is refused with the reason. A worker that
dies is Dask's to handle: its other tasks run again elsewhere. Each start of
a job is logged on the scheduler under the job's name; a job that started
twice on workers that died is not run a third time: its row is ``crashed``,
its tests listed as not run, as on one machine.

Ctrl-C on the client cancels every task and tells each worker to end the
grading it is doing now (the kernel and everything it started); a local
cluster's workers ignore the terminal's Ctrl-C, so that they live to do it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import multiprocessing
import re
import tarfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import dask
from distributed import Client, KilledWorker, LocalCluster, as_completed

from grader.batch.dask_worker import (
    DIED_TWICE,
    DeafToInterrupt,
    JobSpec,
    Returned,
    carried,
    grade_on_worker,
    identity,
    stop_batch,
    worker_identity,
)
from grader.batch.executors import Failure, Task, failed_row, failure
from grader.course.layout import Course
from grader.errors import ClusterError, UsageError
from grader.files import atomic_write
from grader.results.model import Result, Status
from grader.runner import Job, LabLimits, grade_to_disk, limits

LOCAL = re.compile(r"local(?::([1-9][0-9]{0,3}))?")
RESOURCE = "sandbox"  # one unit per sandbox a worker may run at once: its cores
JOIN_SECONDS = 60.0  # for the first worker to join the scheduler
BUNDLE_BYTES = 256 * 2**20  # a lab's files, as sent to every worker
WINDOW_PER_SANDBOX = 4  # jobs submitted at once per sandbox the workers offer: enough to keep each busy
WINDOW_MIN = 16
RESUBMISSIONS = 3  # after Dask gave up on a job as its workers died (each time after several deaths)


def parse_address(address: str) -> tuple[str | None, int]:
    """``local`` or ``local:N`` -> (None, N workers); a scheduler's address -> (address, 0)."""
    local = LOCAL.fullmatch(address)
    if local:
        return None, int(local.group(1) or multiprocessing.cpu_count())
    if not re.fullmatch(r"(tcp|tls|ucx|inproc)://\S+", address):
        raise UsageError(f"--dask {address!r}: give a scheduler's address (tcp://host:8786) or local[:N]")
    return address, 0

def lab_bundle(course: Course, lab_id: str) -> bytes:
    """``labs/<id>/`` and ``solutions/<id>/``, with the conftest.py files pytest would read above them,
    as a tar whose bytes depend on their contents only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in _bundled(course.root, lab_id):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(course.root).as_posix())
            info.size, info.mode = len(data), 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
            if buffer.tell() > BUNDLE_BYTES:
                raise UsageError(f"lab {lab_id}: its files pass {BUNDLE_BYTES >> 20} MiB, "
                                 "too many to send to every Dask worker")
    return buffer.getvalue()


def _bundled(root: Path, lab_id: str) -> list[Path]:
    """The files of a lab's bundle, in order."""
    files = [p for p in (root / "conftest.py", root / "labs" / "conftest.py", root / "solutions" / "conftest.py")
             if p.is_file()]
    for folder in (root / "labs" / lab_id, root / "solutions" / lab_id):
        files += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


@dataclass(frozen=True)
class LabTask:
    """What every job of one lab carries: its bundle's hash, the task that holds the bundle, its limits."""

    bundle: str
    holder: object  # a Dask future
    limits: LabLimits


def job_spec(job: Job, lab: LabTask | None, client_identity: str) -> JobSpec:
    """The task of ``job``: its notebook's bytes read here, once, and bounded as every read is."""
    notebook, problem = None, job.submission.problem
    if problem is None:
        try:
            notebook = job.submission.read_bytes()
        except (OSError, ValueError) as exc:
            problem = f"cannot read the notebook: {exc}"
    return JobSpec(replace(job, submission=replace(job.submission, problem=problem)), notebook,
                   lab.bundle if lab else "", lab.limits if lab else None, client_identity)


@dataclass(frozen=True)
class Attempt:
    """A job as submitted: its name in the batch (the topic its starts are logged under, on the
    scheduler) and how often the client submitted it again after Dask gave up on it."""

    job: Job
    name: str
    resubmitted: int = 0


class DaskExecutor:
    """Grade on the Dask cluster at ``address`` (or on a local one): a context manager that connects
    and checks the workers on entry, and closes what it started on exit."""

    def __init__(self, address: str, backend: str = "bwrap", task: Task = grade_to_disk):
        self.address, self.workers = parse_address(address)
        self.backend = backend
        self.task = task
        self.errors: list[str] = []
        self.client: Client | None = None
        self.identity = ""
        self.window = WINDOW_MIN  # jobs submitted at once: set from the workers' sandboxes when they are checked
        self._stack = contextlib.ExitStack()

    def __call__(self, workers: int | None = None) -> DaskExecutor:
        """The executor factory of run_batch and check_solutions: this executor, its errors reset
        (the workers' resources decide how many grade at once, not ``workers``)."""
        self.errors = []
        return self

    def __enter__(self) -> DaskExecutor:
        with contextlib.ExitStack() as stack:
            stack.push(self)  # a failure on the way in closes what was started
            self.client = self._connect()
            self._check_workers()
            stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _connect(self) -> Client:
        self._stack.enter_context(dask.config.set({"distributed.worker.daemon": False}))
        if self.address is not None:
            try:
                return self._stack.enter_context(Client(self.address, timeout=JOIN_SECONDS))
            except OSError as exc:
                raise ClusterError(f"--dask {self.address}: no Dask scheduler answers there ({exc})") from None
        cluster = self._stack.enter_context(LocalCluster(
            n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, resources={RESOURCE: 1}, silence_logs=logging.CRITICAL))
        client = self._stack.enter_context(Client(cluster))
        client.register_plugin(DeafToInterrupt())
        return client

    def _check_workers(self) -> None:
        """Refuse the cluster, naming each worker and why, unless every worker can grade as the client would."""
        try:
            self.client.wait_for_workers(1, timeout=JOIN_SECONDS)
        except TimeoutError:
            raise ClusterError(f"--dask {self.address}: no worker joined in {JOIN_SECONDS:g} s") from None
        self.identity = mine = identity(self.backend)
        theirs = self.client.run(worker_identity, self.backend)
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        problems = [f"{address}: {why}" for address, found in sorted(theirs.items())
                    if (why := _unlike(mine, found, workers.get(address, {}).get("resources", {})))]
        if problems:
            raise ClusterError("these Dask workers cannot grade for this client:\n  " + "\n  ".join(problems))
        slots = sum(info.get("resources", {}).get(RESOURCE, 0) for info in workers.values())
        self.window = max(WINDOW_MIN, int(WINDOW_PER_SANDBOX * slots))

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        """Keep a window of jobs submitted (Dask queues them) and yield each row as it comes. Only the
        window's notebooks are held, here and on the scheduler, however large the batch."""
        jobs = list(jobs)
        if not jobs:
            return
        batch = f"grader-{uuid.uuid4().hex}"
        labs = self._labs(jobs)
        waiting = iter([Attempt(job, f"{batch}-{i}") for i, job in enumerate(jobs)])
        futures: dict = {}
        pending = as_completed()
        try:
            self._top_up(waiting, futures, pending, labs, batch)
            for future in pending:
                attempt = futures.pop(future)
                outcome = self._result(attempt, future)
                if isinstance(outcome, Attempt):  # its worker died: Dask gave up on it, the grader does not yet
                    self._top_up(iter([outcome]), futures, pending, labs, batch)
                    continue
                self._top_up(waiting, futures, pending, labs, batch)
                yield attempt.job, outcome
        finally:
            if futures:
                self._call_off(list(futures), batch)

    def _top_up(self, attempts: Iterator[Attempt], futures: dict, pending, labs: dict[str, LabTask],
                batch: str) -> None:
        """Submit from ``attempts`` until the window is full (a resubmission always goes in)."""
        for attempt in attempts:
            future = self._submit(attempt, labs, batch)
            futures[future] = attempt
            pending.add(future)
            if len(futures) >= self.window:
                return

    def _labs(self, jobs: list[Job]) -> dict[str, LabTask]:
        """Each lab's bundle, as a task of its own, and its limits, once per batch. A worker fetches
        the bundle once, when a grading task there needs it; and unlike scattered data, which dies
        with the worker that holds it, Dask makes it again elsewhere when that worker dies."""
        course = Course(jobs[0].course_root)
        found = {}
        for lab in sorted({job.submission.lab for job in jobs} & set(course.lab_ids())):
            data = lab_bundle(course, lab)
            bundle = hashlib.sha256(data).hexdigest()
            found[lab] = LabTask(bundle, self.client.submit(carried, data, key=f"grader-bundle-{bundle}"),
                                 limits(course.lab(lab)))
        return found

    def _submit(self, attempt: Attempt, labs: dict[str, LabTask], batch: str):
        lab = labs.get(attempt.job.submission.lab)
        spec = job_spec(attempt.job, lab, self.identity)
        return self.client.submit(grade_on_worker, spec, lab.holder if lab else None, self.task, batch, attempt.name,
                                  pure=False, resources={RESOURCE: 1}, key=f"{attempt.name}-{uuid.uuid4().hex}")

    def _result(self, attempt: Attempt, future) -> Result | Attempt:
        """The row of a finished task, its files written; or, if Dask gave up on it as its workers
        died, the attempt to submit again: as it was, unless it started twice (its own grading
        killed them), then to run nothing and say so."""
        job = attempt.job
        try:
            returned: Returned = future.result()
        except KilledWorker:
            if attempt.resubmitted >= RESUBMISSIONS:
                return failed_row(job, Failure(f"{job.submission.origin}: {DIED_TWICE}", DIED_TWICE), self.errors)
            if len(self.client.get_events(attempt.name)) >= 2:
                job = replace(job, stop=(Status.CRASHED, DIED_TWICE))
            return Attempt(job, attempt.name, attempt.resubmitted + 1)
        except Exception as exc:  # the task itself failed: the grader's error, on this row only
            return failed_row(job, failure(job, exc), self.errors)
        for name, text in returned.files.items():
            atomic_write(_inside(job.out, name), text)
        self.errors += [e for e in returned.errors if e not in self.errors]
        return replace(returned.result, origin=job.submission.origin)

    def _call_off(self, futures: list, batch: str) -> None:
        """Cancel what has not finished and have every worker end what it is grading now."""
        self.client.cancel(futures)
        left = self.client.run(stop_batch, batch)
        if any(left.values()):
            raise ClusterError(f"grading still runs on these workers: {sorted(a for a, n in left.items() if n)}")


def _unlike(mine: str, found: str, resources: dict) -> str:
    """Why a worker cannot grade for the client; empty if it can."""
    if found.startswith("refused: "):
        return found.removeprefix("refused: ")
    if found != mine:
        return ("its grader, libraries, kits or sandbox differ from this client's "
                "(install the same grader and the same libraries on every worker)")
    if resources.get(RESOURCE, 0) < 1:
        return f"it offers no {RESOURCE!r} resource: start it with --resources {RESOURCE}=N, N its cores"
    return ""


def _inside(out: Path, name: str) -> Path:
    """``out/name``, refusing a name that would leave ``out``."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ClusterError(f"a worker sent back a file outside the output folder: {name!r}")
    return out.joinpath(*relative.parts)
