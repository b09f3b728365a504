"""One module of :mod:`.inside`, run in a fresh sandbox of the kernel's own backend.

The sandbox holds only the files given (copies of the grader's, :func:`host_copies`) and a
shared read-write folder, at the same path inside and here, through which the module
answers. Whatever the sandbox leaves in that folder was chosen by the code that ran there:
it is read without following links, within bounds (:func:`shared_file`).
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
from pathlib import Path
from types import ModuleType

from grader import bounded
from grader.engine.sandbox import Backend, Limits


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
    """``python -s -P -m <module> SHARED *args`` (a module of :mod:`.inside`) started in a fresh
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
