"""What every backend shares: the limits, the services, the Sandbox and Backend protocols.

The backends (bwrap, docker, unsandboxed) import from here, and the
package's ``__init__`` picks one by name, so no backend imports the package
that chooses it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grader

HOME = Path("/home/student")  # the kernel's home and working folder, in every backend
PACKAGE_MOUNT = Path("/opt/grader")  # where the grader package is mounted read-only, for grader.testing.check
PASSTHROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # facts of this CPU, not secrets




@dataclass(frozen=True)
class Limits:
    """What one submission may use. Sizes in MiB, times in seconds."""

    memory: int = 1024
    cpu_seconds: int = 600
    processes: int = 32  # threads count too: ipykernel uses about ten
    open_files: int = 512
    file_size: int = 64
    scratch: int = 256
    tmp: int = 64


SERVICE_DIR = Path("/run/grader")  # where service sockets appear inside a sandbox


@dataclass(frozen=True)
class Service:
    """A service of the grader's that the kernel may reach: a Unix socket on the host,
    seen inside the sandbox at ``127.0.0.1:port``, announced by ``env``."""

    port: int
    socket: Path
    env: tuple[tuple[str, str], ...] = ()

    @property
    def inside(self) -> Path:
        return SERVICE_DIR / f"{self.port}.sock"


def with_services(argv: list[str], services: tuple[Service, ...], cd: Path | None = None) -> list[str]:
    """``argv`` run from ``cd``, after starting one forwarder per service (all inside the sandbox)."""
    script = f"cd {cd} || exit 1; " if cd else ""
    script += "".join(f"python -m grader.engine.sandbox.forward {s.port} {s.inside} & " for s in services)
    return ["/bin/sh", "-c", script + 'exec "$0" "$@"', *argv] if script else argv


class Sandbox(Protocol):
    """One submission's isolated place to run a kernel."""

    sandboxed: bool
    launch_dir: Path  # the host folder the command is started from

    def command(self, argv: list[str]) -> list[str]:
        """The command line that runs ``argv`` inside the sandbox. ``argv[0]`` is the
        grader's Python; a backend with its own Python puts that in its place."""

    def share(self, path: Path) -> None:
        """Let the sandboxed user read ``path`` (the kernel's connection file)."""

    def memory_exceeded(self) -> bool:
        """True when the kernel was killed for using too much memory."""

    def close(self) -> None:
        """Kill every process of the sandbox and remove everything it created."""


class OpenedSandbox:
    """What every backend's sandbox keeps of what it was opened with."""

    sandboxed = True

    def __init__(self, files: list[Path], socket_dir: Path, limits: Limits, services: tuple[Service, ...] = ()):
        self.files = files
        self.socket_dir = socket_dir
        self.limits = limits
        self.services = services


class Backend(Protocol):
    """A kind of sandbox."""

    name: str
    sandboxed: bool
    identity: str  # what results depend on: the backend, and its image if it has one

    def open(self, files: list[Path], socket_dir: Path, limits: Limits, services: tuple[Service, ...] = ()) -> Sandbox:
        """A fresh sandbox whose working directory holds ``files`` (read-only), which can
        reach the kernel's sockets in ``socket_dir`` and the given services, and nothing else."""


def kernel_environment(python_bin: str, services: tuple[Service, ...] = ()) -> dict[str, str]:
    """The whole environment of a sandboxed kernel: nothing of the grader's own."""
    env = {
        "HOME": str(HOME), "USER": "student", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
        "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(PACKAGE_MOUNT), "MPLBACKEND": "Agg", "GRADER_SANDBOX": "1",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }
    env.update({k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ})
    for service in services:
        env.update(service.env)
    return env


def package_dir() -> Path:
    """The grader package's own folder, mounted read-only at PACKAGE_MOUNT/grader."""
    return Path(grader.__file__).resolve().parent
