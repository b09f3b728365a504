"""Grading on a Dask cluster (``grade ... --dask ADDRESS``): the second executor.

Dask schedules, retries and moves data; the grader adds no scheduler of its
own. Each submission is one Dask task, and what it carries is small and
immutable (:class:`JobSpec`): the notebook's bytes, the hash of its lab's
bundle, the limits and the grader's identity. A lab's files travel once per
worker as a bundle, scattered by the client and extracted on the worker once,
under its hash, in the worker's own Dask folder (Dask removes that folder
with the worker, even one that was killed).

On the worker, a task grades its one submission exactly as ``grade`` does on
one machine: through a :class:`LocalExecutor` of one process, so the sandbox,
the watchdog, the memory group and the clean-up are the same code. Each task
asks for one unit of the worker resource ``sandbox``, so a worker runs at most
as many sandboxes as it declares (one per core). The executed notebook and
the feedback page come back with the result, and the client writes them: the
workers share no folder with it.

Workers are checked before any job runs: a worker whose grader, libraries,
kits or sandbox differ from the client's, or that cannot start a grading
process (a daemonic Dask worker), is refused with the reason. A worker that
dies is Dask's to handle: its other tasks run again elsewhere. A task whose
worker died twice while running it is not run a third time: its row is
``crashed``, its tests listed as not run, as on one machine.

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
import signal
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path, PurePosixPath

import dask
from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed, get_client, get_worker

from grader import kits
from grader.batch.executors import LocalExecutor, Task, failed_row, failure, grader_error
from grader.batch.fingerprint import digest, environment_fingerprint
from grader.course.layout import Course
from grader.engine.sandbox import get_backend
from grader.errors import ClusterError, UsageError
from grader.files import atomic_write
from grader.results.model import Result, Status
from grader.runner import Job, LabLimits, grade_to_disk, limits

LOCAL = re.compile(r"local(?::([1-9][0-9]{0,3}))?")
RESOURCE = "sandbox"  # one unit per sandbox a worker may run at once: its cores
JOIN_SECONDS = 60.0  # for the first worker to join the scheduler
STOP_SECONDS = 60.0  # for a worker to end the grading it does when the batch is called off
BUNDLE_BYTES = 256 * 2**20  # a lab's files, as sent to every worker
RETURN_CHARS = 64 * 2**20  # one job's executed notebook and page, as sent back
DIED_TWICE = "grading stopped: the Dask worker grading it died twice while doing so"


@dataclass(frozen=True)
class JobSpec:
    """One submission as a Dask task carries it: small, immutable, free of the client's paths."""

    job: Job  # its paths are the client's: the worker replaces them with its own
    notebook: bytes | None  # the submission's bytes; None when it has a problem instead (job.submission.problem)
    bundle: str  # the hash of the lab's bundle, which the worker gets once; "" for a lab the course lacks
    limits: LabLimits | None  # None for a lab the course lacks (nothing is run)
    identity: str  # the client's grader, libraries, kits and sandbox: the worker must have the same


@dataclass
class Returned:
    """What a task sends back: the row, the files to write beside it, and the grader's own errors."""

    result: Result
    files: dict[str, str] = field(default_factory=dict)  # path under --out -> text
    errors: list[str] = field(default_factory=list)


def parse_address(address: str) -> tuple[str | None, int]:
    """``local`` or ``local:N`` -> (None, N workers); a scheduler's address -> (address, 0)."""
    local = LOCAL.fullmatch(address)
    if local:
        return None, int(local.group(1) or multiprocessing.cpu_count())
    if not re.fullmatch(r"(tcp|tls|ucx|inproc)://\S+", address):
        raise UsageError(f"--dask {address!r}: give a scheduler's address (tcp://host:8786) or local[:N]")
    return address, 0


def identity(backend: str) -> str:
    """What must be the same on the client and every worker for their grades to agree."""
    kit_files = [path for name in kits.available() for path in kits.files(name)]
    return digest(_version(), environment_fingerprint(get_backend(backend)),
                  *(hashlib.sha256(p.read_bytes()).hexdigest() for p in kit_files))


def _version() -> str:
    try:
        return metadata.version("grader")
    except metadata.PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=4)
def worker_identity(backend: str) -> str:
    """This worker's identity, or why it cannot grade (a process of its own is a worker's first need)."""
    if multiprocessing.current_process().daemon:
        return ("refused: a daemonic Dask worker cannot start grading processes; start workers with "
                "DASK_DISTRIBUTED__WORKER__DAEMON=False")
    try:
        return identity(backend)
    except UsageError as exc:  # the sandbox cannot run here
        return f"refused: {exc}"


def lab_bundle(course: Course, lab_id: str) -> bytes:
    """``labs/<id>/`` and ``solutions/<id>/`` as a tar whose bytes depend on their contents only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for top in ("labs", "solutions"):
            folder = course.root / top / lab_id
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if path.is_file() and "__pycache__" not in path.parts:
                    data = path.read_bytes()
                    info = tarfile.TarInfo(str(PurePosixPath(top, lab_id, *path.relative_to(folder).parts)))
                    info.size, info.mode = len(data), 0o755 if path.stat().st_mode & 0o111 else 0o644
                    tar.addfile(info, io.BytesIO(data))
                    if buffer.tell() > BUNDLE_BYTES:
                        raise UsageError(f"lab {lab_id}: its files pass {BUNDLE_BYTES >> 20} MiB, "
                                         "too many to send to every Dask worker")
    return buffer.getvalue()


def job_spec(job: Job, bundle: str, client_identity: str) -> JobSpec:
    """The task of ``job``: its notebook's bytes read here, once, and bounded as every read is."""
    notebook, problem = None, job.submission.problem
    if problem is None:
        try:
            notebook = job.submission.read_bytes()
        except (OSError, ValueError) as exc:
            problem = f"cannot read the notebook: {exc}"
    course = Course(job.course_root)
    bounds = limits(course.lab(job.submission.lab)) if job.submission.lab in course.lab_ids() else None
    return JobSpec(replace(job, submission=replace(job.submission, problem=problem)), notebook, bundle,
                   bounds, client_identity)


# The worker's side. Dask runs each task in a thread of the worker process; these module globals
# are that process's: the bundles it extracted, and the grading its tasks are doing now.
_BUNDLES_LOCK = threading.Lock()
_EXTRACTED: list[str] = []  # the hash of each bundle this worker extracted, in order (one entry per bundle)
_RUNNING: dict[str, set[Connection]] = {}  # batch -> the ends that call off its running tasks
_RUNNING_CHANGED = threading.Condition()


def grade_on_worker(spec: JobSpec, bundle: bytes | None, task: Task, batch: str) -> Returned:
    """Grade one submission on this worker, through a one-process LocalExecutor, as on one machine."""
    mine = worker_identity(spec.job.backend)
    if mine != spec.identity:
        raise ClusterError(f"this worker cannot grade for the client ({mine})")
    local = Path(get_worker().local_directory)
    root = _course(local, spec.bundle, bundle)
    with tempfile.TemporaryDirectory(prefix="grader-job-", dir=local) as scratch:
        job = _worker_job(spec, root, Path(scratch))
        if _deaths() >= 2:
            job = replace(job, stop=(Status.CRASHED, DIED_TWICE))
        with _cancellable(batch) as cancel:
            executor = LocalExecutor(1, task, cancel=cancel)
            results = [result for _, result in executor.run([job])]
        return Returned(results[0], _written(job.out), executor.errors)


def _course(local: Path, bundle_hash: str, bundle: bytes | None) -> Path:
    """The course folder of ``bundle``, extracted once per worker under its hash."""
    root = local / "grader-bundles" / (bundle_hash or "empty")
    with _BUNDLES_LOCK:
        if not root.is_dir():
            root.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=root.parent))
            if bundle is not None:
                if hashlib.sha256(bundle).hexdigest() != bundle_hash:
                    raise ClusterError("a lab bundle arrived damaged: its hash does not match")
                with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
                    tar.extractall(staging, filter="data")
            staging.rename(root)
            _EXTRACTED.append(bundle_hash)
    return root


def _worker_job(spec: JobSpec, root: Path, scratch: Path) -> Job:
    """The client's job with this worker's paths: the notebook written to scratch, results beside it."""
    sub = spec.job.submission
    path = scratch / "submission.ipynb"
    path.write_bytes(spec.notebook or b"")
    out = scratch / "out"
    out.mkdir()
    return replace(spec.job, submission=replace(sub, path=path, member=None), course_root=root, out=out,
                   limits=spec.limits)


def _written(out: Path) -> dict[str, str]:
    """Every file the job wrote under ``out``, by its path there; none past RETURN_CHARS in all."""
    files, size = {}, 0
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        size += len(text)
        if size > RETURN_CHARS:
            break
        files[path.relative_to(out).as_posix()] = text
    return files


def _deaths() -> int:
    """How many workers died while running the current task (the scheduler counts them)."""
    key = get_worker().get_current_task()
    return get_client().run_on_scheduler(_suspicious, key)


def _suspicious(key, dask_scheduler=None) -> int:
    task = dask_scheduler.tasks.get(key)
    return task.suspicious if task is not None else 0


@contextlib.contextmanager
def _cancellable(batch: str) -> Iterator[Connection]:
    """A pipe whose reading end the task's executor watches; stop_batch writes to it."""
    reader, writer = multiprocessing.Pipe(duplex=False)
    with _RUNNING_CHANGED:
        _RUNNING.setdefault(batch, set()).add(writer)
    try:
        yield reader
    finally:
        with _RUNNING_CHANGED:
            _RUNNING[batch].discard(writer)
            if not _RUNNING[batch]:
                del _RUNNING[batch]
            _RUNNING_CHANGED.notify_all()
        reader.close()
        writer.close()


def stop_batch(batch: str) -> int:
    """Call off ``batch``'s tasks on this worker and wait until each has ended its grading
    (its kernel and all it started); return how many were still running after STOP_SECONDS."""
    with _RUNNING_CHANGED:
        for writer in _RUNNING.get(batch, ()):
            with contextlib.suppress(OSError):
                writer.send(None)
        _RUNNING_CHANGED.wait_for(lambda: batch not in _RUNNING, STOP_SECONDS)
        return len(_RUNNING.get(batch, ()))


def extracted_bundles() -> list[str]:
    """The bundles this worker extracted (each should appear once): for the tests, through client.run."""
    return list(_EXTRACTED)


class DeafToInterrupt(WorkerPlugin):
    """A worker plugin for a local cluster's workers: the terminal's Ctrl-C reaches every process of
    the client's group, and a worker it killed could not end the grading it was doing. The client
    stops the batch and then the cluster."""

    name = "grader-deaf-to-interrupt"

    def setup(self, worker) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


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
            dashboard_address=None, resources={RESOURCE: 1}, silence_logs=logging.CRITICAL,
            scheduler_kwargs={"allowed_failures": 1}))
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

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        """Submit every job at once (Dask queues them on the scheduler) and yield each row as it comes."""
        jobs = list(jobs)
        if not jobs:
            return
        batch = f"grader-{uuid.uuid4().hex}"
        bundles = self._bundles(jobs)
        futures = {self._submit(job, bundles, batch): job for job in jobs}
        pending = as_completed(futures)
        try:
            for future in pending:
                job = futures.pop(future)
                result = self._result(job, future)
                if result is None:  # its worker died twice: grade it once more, running nothing
                    retry = replace(job, stop=(Status.CRASHED, DIED_TWICE))
                    again = self._submit(retry, bundles, batch)
                    futures[again] = retry
                    pending.add(again)
                    continue
                yield job, result
        finally:
            if futures:
                self._call_off(list(futures), batch)

    def _bundles(self, jobs: list[Job]) -> dict[str, tuple[str, object]]:
        """Each lab's bundle, scattered once: lab -> (hash, future). A worker fetches it when a task needs it."""
        course = Course(jobs[0].course_root)
        found = {}
        for lab in sorted({job.submission.lab for job in jobs} & set(course.lab_ids())):
            data = lab_bundle(course, lab)
            found[lab] = (hashlib.sha256(data).hexdigest(), self.client.scatter(data, hash=True))
        return found

    def _submit(self, job: Job, bundles: dict[str, tuple[str, object]], batch: str):
        bundle, data = bundles.get(job.submission.lab, ("", None))
        spec = job_spec(job, bundle, self.identity)
        return self.client.submit(grade_on_worker, spec, data, self.task, batch, pure=False,
                                  resources={RESOURCE: 1}, key=f"{batch}-{uuid.uuid4().hex}")

    def _result(self, job: Job, future) -> Result | None:
        """The row of a finished task, its files written; None if its worker died twice."""
        try:
            returned: Returned = future.result()
        except KilledWorker:
            if job.stop is None:
                return None
            returned = Returned(grader_error(job, DIED_TWICE))
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
