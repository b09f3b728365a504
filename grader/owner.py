"""Which process made something the grader leaves on the machine, and whether it is gone.

A kernel container, a deployment build's images and containers and a job's scratch folder carry
their maker's identity, so that the next batch removes what a grader killed outright (kill -9)
left, and nothing a live grader still uses. A pid alone is not an identity: pids are reused
(often ``pid_max`` is 32768), and a dead grader's pid taken by another process would keep its
containers for as long as that process runs. So the identity is ``PID.START``, START being when
the process started (clock ticks since boot, from ``/proc/PID/stat``): a live process with that
pid but another start time is not the maker. A bare ``PID`` (what an older grader wrote, or
where there is no ``/proc``) is judged by the pid alone. Anything else names no process of the
grader's: never gone.
"""

from __future__ import annotations

import os
import re

PID_MAX = 2**22  # Linux's largest pid
_IDENTITY = re.compile(r"(?P<pid>[0-9]{1,7})(?:\.(?P<start>[0-9]{1,20}))?")


def current() -> str:
    """This process's identity, as :func:`gone` reads it."""
    return identity_of(os.getpid())


def identity_of(pid: int) -> str:
    """Process ``pid``'s identity: ``PID.START``, or the bare pid where its start time is unknown."""
    start = started(pid)
    return f"{pid}.{start}" if start is not None else str(pid)


def pid_of(identity: str) -> int | None:
    """The pid an identity names, or None if it names none."""
    parsed = _parse(identity)
    return parsed[0] if parsed else None


def gone(identity: str) -> bool:
    """Whether the process ``identity`` names has ended (its pid is free, or taken by a process
    that started at another time). What names no process is never gone: it is not the grader's."""
    parsed = _parse(identity)
    if parsed is None:
        return False
    pid, start = parsed
    if not _exists(pid):
        return True
    now = started(pid)
    return start is not None and now is not None and now != start


def _parse(identity: str) -> tuple[int, int | None] | None:
    """(pid, start time or None) of an identity; None if it names no process."""
    found = _IDENTITY.fullmatch(identity)
    if found is None or not 0 < int(found["pid"]) <= PID_MAX:
        return None
    return int(found["pid"]), int(found["start"]) if found["start"] is not None else None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True


def started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot; None without /proc or once it is gone.
    The fields are read after the command name's last ')', which may itself hold spaces and ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read(4096).rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of stat(5); the first two are before the ')'
    except (OSError, IndexError, ValueError):
        return None
