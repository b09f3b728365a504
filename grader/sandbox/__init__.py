"""Where a student's kernel runs: one small protocol, one module per backend.

A backend opens one :class:`Sandbox` per submission. The sandbox turns the
kernel's command line into one that runs inside it, says afterwards whether
the memory limit was hit, and on ``close()`` leaves nothing behind: no
process, no file, no cgroup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class SandboxUnavailable(RuntimeError):
    """The requested backend cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Sizes in MiB, times in seconds."""

    memory: int = 1024
    cpu_seconds: int = 600
    processes: int = 64  # threads count too: ipykernel uses about ten
    open_files: int = 512
    file_size: int = 64
    scratch: int = 256
    tmp: int = 64


class Sandbox(Protocol):
    """One submission's isolated place to run a kernel."""

    sandboxed: bool
    launch_dir: Path  # the host folder the command is started from

    def command(self, argv: list[str]) -> list[str]:
        """The command line that runs ``argv`` inside the sandbox."""

    def share(self, path: Path) -> None:
        """Let the sandboxed user read ``path`` (the kernel's connection file)."""

    def memory_exceeded(self) -> bool:
        """True when the kernel was killed for using too much memory."""

    def close(self) -> None:
        """Kill every process of the sandbox and remove everything it created."""


class Backend(Protocol):
    """A kind of sandbox."""

    name: str
    sandboxed: bool

    def open(self, files: list[Path], socket_dir: Path, limits: Limits) -> Sandbox:
        """A fresh sandbox whose working directory holds ``files`` (read-only) and
        which can reach the kernel's sockets in ``socket_dir``."""


def get_backend(name: str) -> Backend:
    """The backend called ``name``; SandboxUnavailable if it cannot run here."""
    if name == "bwrap":
        from grader.sandbox.bwrap import Bubblewrap
        return Bubblewrap.create()
    if name == "none":
        from grader.sandbox.unsandboxed import Unsandboxed
        return Unsandboxed()
    raise SandboxUnavailable(f"unknown sandbox backend {name!r} (known: bwrap, none)")
