"""The default sandbox: bubblewrap namespaces, a cgroup, resource limits, no daemon.

Each kernel gets its own mount, PID, network, IPC and UTS namespaces. The
network namespace holds only a loopback of its own, so neither the internet
nor any port of the host can be reached; the grader talks to the kernel over
Unix sockets in a folder bound into the sandbox. The file system is a
read-only view of the system and the Python installation, plus a size-capped
tmpfs as home that holds the lab's files. Nothing of the course but those
files is mounted, and the environment is cleared.

Run as root, bubblewrap keeps capabilities inside and its ``--uid`` only
relabels, so the command inside first drops to a fresh unprivileged uid of
its own with ``setpriv`` (no capabilities, no new privileges). That uid is
unique to the sandbox, which makes ``RLIMIT_NPROC`` a per-sandbox process
limit and lets ``close()`` kill by uid whatever is left. Run as an ordinary
user, bubblewrap maps the user to ``nobody`` in a user namespace instead.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import grader.engine.sandbox.cgroups as cgroups
from grader.engine.sandbox.base import (
    HOME,
    PACKAGE_MOUNT,
    Limits,
    OpenedSandbox,
    Service,
    kernel_environment,
    package_dir,
    with_services,
)
from grader.errors import SandboxUnavailable

ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives",
             "nsswitch.conf", "mime.types")
FIRST_UID = 1_000_000
UIDS_PER_PROCESS = 64
CGROUP_PREFIX = "grader-"
_counter = itertools.count()


class Bubblewrap:
    """The bubblewrap backend."""

    name = "bwrap"
    identity = "bwrap"
    sandboxed = True

    def __init__(self, bwrap: str, setpriv: str | None, prlimit: str):
        self.bwrap = bwrap
        self.setpriv = setpriv  # None: not root, drop to nobody in a user namespace
        self.prlimit = prlimit

    @classmethod
    def create(cls) -> Bubblewrap:
        """The backend, or SandboxUnavailable saying what is missing."""
        if not sys.platform.startswith("linux"):
            raise SandboxUnavailable("the bubblewrap sandbox needs Linux")
        bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
        if not bwrap:
            raise SandboxUnavailable("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
        if not prlimit:
            raise SandboxUnavailable("prlimit is not installed (Debian/Ubuntu: apt-get install util-linux)")
        setpriv = None
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if not setpriv:
                raise SandboxUnavailable("setpriv is not installed (Debian/Ubuntu: apt-get install util-linux)")
        if setpriv:
            cgroups.remove_stale(CGROUP_PREFIX, _owner_alive)
        return cls(bwrap, setpriv, prlimit)

    def open(self, files: list[Path], socket_dir: Path, limits: Limits,
             services: tuple[Service, ...] = ()) -> BwrapSandbox:
        return BwrapSandbox(self, files, socket_dir, limits, services)


class BwrapSandbox(OpenedSandbox):
    """One kernel's sandbox. See the module docstring for what it isolates."""

    def __init__(self, backend: Bubblewrap, files: list[Path], socket_dir: Path, limits: Limits,
                 services: tuple[Service, ...] = ()):
        super().__init__(files, socket_dir, limits, services)
        self.backend = backend
        self.as_root = backend.setpriv is not None
        self.uid = _new_uid() if self.as_root else 65534
        self.private = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        self.launch_dir = self.private
        (self.private / "passwd").write_text(f"student:x:{self.uid}:{self.uid}::{HOME}:/bin/sh\n")
        (self.private / "group").write_text(f"student:x:{self.uid}:\n")
        self.cgroup = cgroups.create(f"{CGROUP_PREFIX}{self.uid}", limits.memory, limits.processes) if self.as_root \
            else None
        if self.as_root:
            os.chown(socket_dir, self.uid, self.uid)

    def share(self, path: Path) -> None:
        if self.as_root:
            os.chown(path, self.uid, self.uid)

    def command(self, argv: list[str]) -> list[str]:
        inner = self._limits_prefix() + self._drop_privileges() + with_services(argv, self.services)
        outer = [self.backend.bwrap, *self._namespaces(), *self._filesystem(), *self._environment(), "--", *inner]
        if self.cgroup is None:
            return outer
        # Join the cgroup before bubblewrap starts, so that nothing escapes it.
        procs = " ".join(shlex.quote(str(p)) for p in self.cgroup.procs_files)
        return ["/bin/sh", "-c", f'echo $$ | tee {procs} >/dev/null && exec "$0" "$@"', *outer]

    def memory_exceeded(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_killed()

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.as_root:
            _kill_uid(self.uid)
        shutil.rmtree(self.private, ignore_errors=True)

    def _namespaces(self) -> list[str]:
        user = [] if self.as_root else ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL"]
        return [*user, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]

    def _filesystem(self) -> list[str]:
        binds: list[tuple[str, str, str]] = [("--ro-bind", "/usr", "/usr")]
        for name in ETC_FILES:
            binds.append(("--ro-bind-try", f"/etc/{name}", f"/etc/{name}"))
        binds += [("--ro-bind", str(self.private / "passwd"), "/etc/passwd"),
                  ("--ro-bind", str(self.private / "group"), "/etc/group")]
        binds += [("--ro-bind", prefix, prefix) for prefix in _python_prefixes()]
        binds.append(("--ro-bind", str(package_dir()), str(PACKAGE_MOUNT / "grader")))
        binds.append(("--bind", str(self.socket_dir), str(self.socket_dir)))
        binds += [("--bind", str(s.socket), str(s.inside)) for s in self.services]
        tmp = str(self.limits.tmp * 2**20)
        args = ["--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", tmp, "--tmpfs", "/tmp",
                "--perms", "1777", "--size", tmp, "--tmpfs", "/dev/shm"]
        args += _readable_parents([dest for _, _, dest in binds] + [str(HOME)])
        for kind, source, dest in binds:
            args += [kind, source, dest]
        args += _root_links()
        args += ["--perms", "1777", "--size", str(self.limits.scratch * 2**20), "--tmpfs", str(HOME)]
        for f in self.files:
            args += ["--ro-bind", str(f.resolve()), str(HOME / f.name)]
        return args + ["--chdir", str(HOME)]

    def _environment(self) -> list[str]:
        args = ["--clearenv"]
        python_bin = os.path.dirname(os.path.abspath(sys.executable))
        for key, value in kernel_environment(python_bin, self.services).items():
            args += ["--setenv", key, value]
        return args

    def _limits_prefix(self) -> list[str]:
        lim = self.limits
        args = [self.backend.prlimit, f"--nofile={lim.open_files}", f"--fsize={lim.file_size * 2**20}",
                f"--cpu={lim.cpu_seconds}", "--core=0"]
        if self.as_root:
            args.append(f"--nproc={lim.processes}")
        if self.cgroup is None:
            args.append(f"--as={(lim.memory + 512) * 2**20}")
        return [*args, "--"]

    def _drop_privileges(self) -> list[str]:
        if not self.as_root:
            return []
        return [self.backend.setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def reclaim(pid: int) -> None:
    """Kill whatever runs as a uid of process ``pid``'s sandboxes and remove their cgroups:
    the uids are derived from the pid, so this touches nothing the grader did not make."""
    uids = range(FIRST_UID + pid * UIDS_PER_PROCESS, FIRST_UID + (pid + 1) * UIDS_PER_PROCESS)
    _kill_uids(set(uids))
    for uid in uids:
        cgroups.existing(f"{CGROUP_PREFIX}{uid}").remove()


def _new_uid() -> int:
    """A uid no other live sandbox has: derived from this process's pid, which is unique while it lives."""
    return FIRST_UID + os.getpid() * UIDS_PER_PROCESS + next(_counter) % UIDS_PER_PROCESS


def _owner_alive(uid: str) -> bool:
    """Whether the process that made the sandbox with this uid still runs."""
    if not uid.isdigit():
        return True
    try:
        os.kill((int(uid) - FIRST_UID) // UIDS_PER_PROCESS, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        pass
    return True


def _readable_parents(destinations: list[str]) -> list[str]:
    """``--dir`` for every folder above a mount point: bubblewrap, run as root, would
    make them mode 0700, and the unprivileged user could not get through them."""
    parents: list[str] = []
    for dest in destinations:
        for parent in reversed(Path(dest).parents[:-1]):
            if str(parent) not in parents and str(parent) not in ("/usr", "/tmp"):
                parents.append(str(parent))
    args: list[str] = []
    for parent in parents:
        args += ["--perms", "0755", "--dir", parent]
    return args


def _root_links() -> list[str]:
    """/bin, /lib and the rest as the host has them: links into /usr, or read-only folders."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    return args


def _python_prefixes() -> list[str]:
    """The folders the kernel's Python needs, outside /usr which is already there."""
    prefixes = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted(p for p in prefixes if not p.startswith("/usr/"))


def _kill_uid(uid: int) -> None:
    """Kill every process owned by ``uid``: the sandbox's uid is its own, so this is exact."""
    _kill_uids({uid})


def _kill_uids(uids: set[int]) -> None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
