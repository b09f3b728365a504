"""What runs on a Dask worker for ``grade --dask`` (the client's side is grader.batch.cluster).

A task grades its one submission exactly as ``grade`` does on one machine:
through a :class:`LocalExecutor` of one process, so the sandbox, the watchdog,
the memory group and the clean-up are the same code. The task's spec carries
the notebook's bytes and the hash of its lab's bundle; the bundle itself comes
as a Dask dependency, which the worker fetches once and keeps, and is extracted
once per worker under its hash in the worker's own Dask folder (Dask removes
that folder with the worker, even one that was killed). The executed notebook
and the feedback page go back with the row: a worker shares no folder with
the client.

Dask runs each task in a thread of the worker process; this module's globals
are that process's: the bundles it extracted, and the grading its tasks do now,
which :func:`stop_batch` calls off when the client is interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import signal
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path

from distributed import WorkerPlugin, get_client, get_worker

from grader import kits
from grader.batch.executors import LocalExecutor, Task
from grader.batch.fingerprint import digest, environment_fingerprint
from grader.engine.sandbox import get_backend
from grader.errors import ClusterError, UsageError
from grader.results.model import Result, Status
from grader.runner import Job, LabLimits

STOP_SECONDS = 60.0  # for a worker to end the grading it does when the batch is called off
RETURN_CHARS = 64 * 2**20  # one job's executed notebook and page, as sent back
DIED_TWICE = "grading stopped: the Dask worker grading it died twice while doing so"


@dataclass(frozen=True)
class JobSpec:
    """One submission as a Dask task carries it: small and immutable."""

    job: Job  # its paths are the client's, never read on a worker: it replaces them with its own
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


_BUNDLES_LOCK = threading.Lock()
_EXTRACTED: list[str] = []  # the hash of each bundle this worker extracted, in order (one entry per bundle)
_RUNNING: dict[str, set[Connection]] = {}  # batch -> the ends that call off its running tasks
_RUNNING_CHANGED = threading.Condition()


def grade_on_worker(spec: JobSpec, bundle: bytes | None, task: Task, batch: str, name: str) -> Returned:
    """Grade one submission on this worker, through a one-process LocalExecutor, as on one machine."""
    mine = worker_identity(spec.job.backend)
    if mine != spec.identity:
        raise ClusterError(f"this worker cannot grade for the client ({mine})")
    local = Path(get_worker().local_directory)
    root = _course(local, spec.bundle, bundle)
    with tempfile.TemporaryDirectory(prefix="grader-job-", dir=local) as scratch:
        job = _worker_job(spec, root, Path(scratch))
        if _started(name) > 2:  # two workers died running it: its own grading killed them
            job = replace(job, stop=(Status.CRASHED, DIED_TWICE))
        with _cancellable(batch) as cancel:
            executor = LocalExecutor(1, task, cancel=cancel)
            results = [result for _, result in executor.run([job])]
        origin = spec.job.submission.origin  # the errors name the notebook as the client knows it
        return Returned(results[0], _written(job.out), [e.replace(str(job.submission.path), origin)
                                                        for e in executor.errors])


def carried(data: bytes) -> bytes:
    """A lab's bundle, as the result of a task whose spec carries it (grader.batch.cluster)."""
    return data


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
        size += path.stat().st_size  # bytes: at least as many as the characters they decode to
        if size > RETURN_CHARS:
            break
        files[path.relative_to(out).as_posix()] = path.read_text(encoding="utf-8")
    return files


def _started(name: str) -> int:
    """Log that job ``name`` starts, on the scheduler, and count its starts so far. A job starts
    again only when the worker running it died: the scheduler's count of deaths would also blame
    every job that merely waited in that worker's queue."""
    client = get_client()
    client.log_event(name, "started")
    return len(client.get_events(name))


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
