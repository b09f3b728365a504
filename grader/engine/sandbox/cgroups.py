"""A memory-and-process cgroup per sandbox, on cgroup v1 or v2.

Resource limits alone cannot cap a kernel's memory fairly (``RLIMIT_AS``
counts address space that numpy and torch reserve but never touch) and
cannot tell afterwards that the kernel died of it. A cgroup does both: the
kernel OOM-kills the group at its limit, and its counters say so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class Cgroup:
    """A cgroup made for one sandbox; ``procs_files`` are what a process writes its pid to."""

    def __init__(self, dirs: list[Path], events: Path):
        self.dirs = dirs
        self._events = events

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def oom_killed(self) -> bool:
        """True when the kernel OOM-killed a process of this group."""
        try:
            lines = self._events.read_text().splitlines()
        except OSError:
            return False
        counts = dict(line.split() for line in lines if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def remove(self) -> None:
        """Kill what is left in the group, then remove it."""
        deadline = time.monotonic() + 5
        for d in self.dirs:
            while (pids := _pids(d)) and time.monotonic() < deadline:
                for pid in pids:
                    _kill(pid)
                time.sleep(0.01)
            with contextlib.suppress(OSError):
                d.rmdir()


def create(name: str, memory_mib: int, max_pids: int) -> Cgroup | None:
    """A new cgroup with these limits, or None where this process may not make one."""
    limit = str(memory_mib * 1024 * 1024)
    if (ROOT / "memory" / "memory.limit_in_bytes").exists():
        group = Cgroup([ROOT / "memory" / name], ROOT / "memory" / name / "memory.oom_control")
        setup = _setup_v1
    elif _v2_has_memory():
        group = Cgroup([ROOT / name], ROOT / name / "memory.events")
        setup = _setup_v2
    else:
        return None
    try:
        setup(group, limit, max_pids)
    except OSError:
        group.remove()
        return None
    return group


def _v2_has_memory() -> bool:
    try:
        return "memory" in (ROOT / "cgroup.controllers").read_text().split()
    except OSError:
        return False


def _setup_v1(group: Cgroup, limit: str, max_pids: int) -> None:
    memory = group.dirs[0]
    memory.mkdir()
    (memory / "memory.limit_in_bytes").write_text(limit)
    swap = memory / "memory.memsw.limit_in_bytes"
    if swap.exists():
        swap.write_text(limit)
    pids = ROOT / "pids" / memory.name
    if pids.parent.is_dir():
        pids.mkdir()
        group.dirs.append(pids)
        (pids / "pids.max").write_text(str(max_pids))


def _setup_v2(group: Cgroup, limit: str, max_pids: int) -> None:
    path = group.dirs[0]
    path.mkdir()
    (path / "memory.max").write_text(limit)
    if (path / "memory.swap.max").exists():
        (path / "memory.swap.max").write_text("0")
    if (path / "pids.max").exists():
        (path / "pids.max").write_text(str(max_pids))


def existing(name: str) -> Cgroup:
    """The groups called ``name`` that exist now, in every hierarchy, to be removed."""
    dirs = [d for d in [*ROOT.glob(f"*/{name}"), ROOT / name] if d.is_dir()]
    return Cgroup(dirs, ROOT / name / "memory.events")


def remove_stale(prefix: str, owner_alive: Callable[[str], bool]) -> None:
    """Remove empty cgroups named ``prefix...`` whose owner is gone (a grader killed outright)."""
    for group in list(ROOT.glob(f"*/{prefix}*")) + list(ROOT.glob(f"{prefix}*")):
        if not owner_alive(group.name[len(prefix):]) and not _pids(group):
            with contextlib.suppress(OSError):
                group.rmdir()


def _pids(d: Path) -> list[int]:
    try:
        return [int(p) for p in (d / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
