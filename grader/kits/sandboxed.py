"""What every kit that probes a notebook's work from outside uses: read files out of the kernel,
and run one module of a kit's ``inside`` package in a fresh sandbox of the kernel's own backend.

A kit never believes the student's kernel about what the notebook made: it copies the bytes out
(:func:`read_files`, checked again here, since the kernel's answer is the student's) and judges
them in a fresh sandbox (:func:`sandboxed`) that holds only those files (copies of the grader's,
:func:`host_copies`) and a shared read-write folder, at the same path inside and here, through
which the module answers. Whatever the sandbox leaves in that folder was chosen by the code that
ran there: it is read without following links, within bounds (:func:`shared_file`). The
sandbox is of the kernel's own kind (:func:`notebook_backend`); what fails there for a reason of
the kit's own, rather than the student's, becomes a KitError (:func:`kit_failures`).

A module, not a package: the kit registry lists packages only, and this is no kit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import ModuleType

from grader import bounded
from grader.engine.sandbox import Backend, Limits, SandboxUnavailable, get_backend
from grader.errors import KitError

FILE_LIMIT = 8 * 2**20  # bytes of one file read out of the kernel, by default
KIT_ERROR_TAIL = 1500  # characters kept of the message of a kit's own failure
Files = dict[str, bytes | None]  # a notebook's files by name (None: not read)


def read_files(nb, names: list[str] | tuple[str, ...], folder: str = "", limit: int = FILE_LIMIT) -> Files:
    """The files ``names`` the notebook wrote in ``folder`` (relative to its own; its own by
    default), read inside the sandbox and keyed by ``names`` alone: a notebook that keeps them in
    a folder of its own (an image's build context) gives the kit the names it knows them by.
    Bytes, or None for one that is missing, not a regular file, or over ``limit`` (checked
    again here: the kernel's answer is the student's)."""
    reader = ("(lambda p: p.read_bytes() if p.is_file() and not p.is_symlink() "
              f"and p.stat().st_size <= {int(limit)} else None)(__import__('pathlib').Path({{!r}}))")
    files = {name: nb.ref(reader.format(str(PurePosixPath(folder, name)))) for name in names}
    return {name: data if isinstance(data, bytes) and len(data) <= limit else None
            for name, data in files.items()}


def notebook_backend(nb) -> Backend:
    """The backend the notebook's kernel runs in, so that what a kit starts runs in the same kind
    of sandbox. Tests run by ``check()`` in the student's own kernel have no grader's kernel:
    the default backend then, or none where it cannot run, as ``grade check`` does."""
    backend = getattr(nb, "backend", None)  # grader.testing.notebook.Notebook's; not the live notebook's
    if backend is not None:
        return backend
    try:
        return get_backend("bwrap")
    except SandboxUnavailable:
        return get_backend("none")


@contextlib.contextmanager
def kit_failures(what: str, *students: type[Exception]) -> Iterator[None]:
    """Any exception but those of ``students`` (the kit's words for the student's failure) is
    the kit's own: a KitError, so that a sandbox the grader cannot open, or a bug of the kit's,
    never becomes a failed test."""
    try:
        yield
    except (KitError, *students):
        raise
    except Exception as exc:
        raise KitError(f"{what} failed: {type(exc).__name__}: {str(exc)[:KIT_ERROR_TAIL]}") from exc


@contextlib.contextmanager
def host_copies(files: dict[str, bytes]) -> Iterator[Path]:
    """A folder of the grader's holding ``files``, readable by any sandbox's user; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="grader-app-"))
    try:
        for name, data in files.items():
            (folder / name).write_bytes(data)
            (folder / name).chmod(0o644)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def sandboxed(backend: Backend, files: list[Path], limits: Limits, module: ModuleType, *args: str) -> Iterator[tuple]:
    """``python -s -P -m <module> SHARED *args`` (a module of a kit's ``inside``) started in a fresh
    sandbox that holds only ``files``; SHARED is its read-write folder. The sandbox finds the
    module in the grader package it mounts read-only for the kernel (on the kernel's
    PYTHONPATH); with no sandbox, the grader's own Python finds it. Yields the sandbox, the
    process and SHARED. Whatever happens, the process is killed, the sandbox closed (which
    ends everything in it) and the folder removed."""
    with contextlib.ExitStack() as stack:
        shared = Path(tempfile.mkdtemp(prefix="grader-probe-"))
        stack.callback(shutil.rmtree, shared, ignore_errors=True)
        sandbox = backend.open(files, shared, limits)
        stack.callback(sandbox.close)
        argv = [sys.executable, "-s", "-P", "-m", module.__name__, str(shared), *args]
        process = subprocess.Popen(sandbox.command(argv), cwd=sandbox.launch_dir, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        stack.callback(kill, process)
        yield sandbox, process, shared


def kill(process: subprocess.Popen) -> None:
    """Kill the process's whole group (it was started in a session of its own) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def finished(process: subprocess.Popen, deadline: float) -> bool:
    """Whether the process ends before ``deadline`` (time.monotonic), waiting for it until then."""
    try:
        process.wait(max(0.0, deadline - time.monotonic()))
        return True
    except subprocess.TimeoutExpired:
        return False


def shared_file(path: Path, limit: int, tail: bool = False) -> bytes:
    """At most ``limit`` bytes (the head, or the tail) of a file a sandbox wrote in its shared
    folder. The sandbox chose what is there: the file is opened without following a link and
    read only if it is a regular file. Empty if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        if tail:
            f.seek(max(0, info.st_size - limit))
        return f.read(limit)


def shared_json(path: Path, limit: int) -> object:
    """The JSON document a sandbox wrote at ``path``, or None if there is none within ``limit``."""
    try:
        return bounded.loads(shared_file(path, limit + 1), limit, path.name)
    except ValueError:
        return None
