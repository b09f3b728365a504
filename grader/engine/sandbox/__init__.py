"""Where a student's kernel runs: one small protocol, one module per backend.

A backend opens one :class:`Sandbox` per submission. The sandbox turns the
kernel's command line into one that runs inside it, says afterwards whether
the memory limit was hit, and on ``close()`` leaves nothing behind: no
process, no file, no cgroup.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from grader.engine.sandbox.base import Backend, Limits, Sandbox, Service
from grader.errors import SandboxUnavailable

__all__ = ["Backend", "Limits", "Sandbox", "SandboxUnavailable", "Service", "get_backend", "reclaim_worker"]


def reclaim_worker(pid: int) -> None:
    """Remove what the sandboxes of grading process ``pid`` left behind after it was killed
    (or crashed): after a clean exit each sandbox removed itself, and nothing else would."""
    from grader.engine.sandbox.bwrap import reclaim as reclaim_bwrap

    if sys.platform.startswith("linux") and os.geteuid() == 0:
        reclaim_bwrap(pid)
    if importlib.util.find_spec("docker") is not None:
        from grader.engine.sandbox.docker import reclaim as reclaim_docker

        reclaim_docker(pid)


def get_backend(name: str) -> Backend:
    """The backend called ``name``; SandboxUnavailable if it cannot run here."""
    if name == "bwrap":
        from grader.engine.sandbox.bwrap import Bubblewrap
        return Bubblewrap.create()
    if name == "docker":
        from grader.engine.sandbox.docker import Docker
        return Docker.create()
    if name == "none":
        from grader.engine.sandbox.unsandboxed import Unsandboxed
        return Unsandboxed()
    raise SandboxUnavailable(f"unknown sandbox backend {name!r} (known: bwrap, docker, none)")
