"""The processes a local executor starts (grader.batch.executors), as the operating system sees them:
the memory group each grading process runs in, the signals they hear, and what a grader or a Dask
worker killed outright leaves behind for the next batch on the machine to remove.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from pathlib import Path

from grader import owner
from grader.engine.sandbox import cgroups

# The grader's own memory for one submission: its tests' imports (torch) and the kernel's
# messages in flight. ZeroMQ bounds each frame of a message but not how many frames one
# message has, so this cgroup (made as root) is what bounds the rest; a worker that hits
# it is killed, and its row says so.
WORKER_MEMORY_MIB = 2048
WORKER_PIDS = 1024
WORKER_CGROUP = "grader-worker-"  # + the worker's pid: the name of its memory group
SCRATCH = "job-"  # a job's scratch folder, in the temporary folder (its name short: the kernel's sockets are in it)
OWNER = ".grader-owner"  # in a scratch folder: the identity of the executor that made it (grader.owner)


def reclaim_dead_workers() -> None:
    """Remove the empty memory groups of workers that are gone, and the scratch folders of executors
    that are gone: a grader (or a Dask worker) killed outright could not remove them, and nothing else
    would. Each is known by the pid the grader wrote in its name, or the identity in its OWNER file;
    one whose process still runs belongs to another batch, and a folder without an owner is not the
    grader's."""
    if os.geteuid() == 0:
        cgroups.remove_stale(WORKER_CGROUP, lambda pid: not owner.gone(pid))
    for mark in Path(tempfile.gettempdir()).glob(f"{SCRATCH}*/{OWNER}"):
        with contextlib.suppress(OSError):
            if owner.gone(mark.read_text(encoding="ascii", errors="replace")[:64].strip()):
                shutil.rmtree(mark.parent, ignore_errors=True)


def scratch_folder() -> Path:
    """A new scratch folder for a job, owned by this process (see reclaim_dead_workers)."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH))
    (folder / OWNER).write_text(owner.current(), encoding="ascii")
    return folder


def confine(pid: int) -> cgroups.Cgroup | None:
    """Move worker ``pid`` into a memory cgroup of its own (root only; else it runs as it is).
    Its sandboxes leave it for cgroups of their own as they start."""
    if os.geteuid() != 0:
        return None
    group = cgroups.create(f"{WORKER_CGROUP}{pid}", WORKER_MEMORY_MIB, WORKER_PIDS)
    if group is not None:
        try:
            for procs in group.procs_files:
                procs.write_text(str(pid))
        except OSError:  # the worker is gone already: nothing to confine
            pass
    return group


def start_forkserver() -> None:
    """Start the fork server, if it is not running, with SIGINT ignored for the moment it takes to
    spawn it: an ignored signal stays ignored across exec, and Python then installs no handler
    of its own, so the server (while it imports what it preloads) and every worker forked from
    it ignore Ctrl-C from their first instruction. Only the main thread may set a handler;
    elsewhere the first worker starts the server as it would."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Hold Ctrl-C back until the block is over, then deliver it: between starting a worker
    and keeping it in the list of those to end (or taking it off the list and ending it), an
    interrupt would leave a worker that nobody ends, grading on after the parent is gone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


def die_with_watchdog(lifeline: Connection) -> None:
    """Be killed as soon as the process that watches this one is gone, however it ended (SIGKILL
    too): only that process holds ``lifeline``'s other end, so a read ends only then (nothing is ever
    sent). A grading process nobody watches must not grade on; its sandbox, started with
    --die-with-parent, goes with it. The fork server's exit cannot be the signal: each process it
    forks holds the server's own liveness pipe, so the server outlives the process that started it."""
    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="grader-lifeline", daemon=True).start()
