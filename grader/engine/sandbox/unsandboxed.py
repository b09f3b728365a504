"""No sandbox: for a student's own laptop, or ``grade --no-sandbox``.

The kernel runs as the current user in a temporary folder holding a copy of
the lab's files. Limits and isolation are not enforced; whoever chose this
backend was told so.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from grader.engine.sandbox.base import Limits, Service


class Unsandboxed:
    """Services are not bridged here: a student working locally runs ``grade llm-server``
    and points the notebook at it with environment variables."""

    name = "none"
    identity = "none"
    sandboxed = False

    def open(self, files: list[Path], socket_dir: Path, limits: Limits,
             services: tuple[Service, ...] = ()) -> UnsandboxedRun:
        return UnsandboxedRun(files)


class UnsandboxedRun:
    sandboxed = False

    def __init__(self, files: list[Path]):
        self.launch_dir = Path(tempfile.mkdtemp(prefix="grader-run-"))
        for f in files:
            if f.is_dir():
                shutil.copytree(f, self.launch_dir / f.name, symlinks=True)
            else:
                shutil.copy2(f, self.launch_dir / f.name)

    def command(self, argv: list[str]) -> list[str]:
        return argv

    def share(self, path: Path) -> None:
        pass

    def memory_exceeded(self) -> bool:
        return False

    def close(self) -> None:
        shutil.rmtree(self.launch_dir, ignore_errors=True)
