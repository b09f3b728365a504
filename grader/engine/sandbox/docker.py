"""The Docker backend: each kernel in a container, through the docker SDK.

The container has no network, a read-only root file system, size-capped
tmpfs for home and /tmp, memory, CPU and process limits, a non-root user,
no capabilities and no new privileges. The kernel runs inside; the grader and
the tests stay outside and reach it through the socket folder, mounted at the
same path. The image (see :mod:`grader.engine.sandbox.image`) holds only Python and the
kernel's libraries; the lab's files and the grader package are mounted
read-only per container.

jupyter_client expects a local process for the kernel: ``command()`` returns
one, ``python -m grader.engine.sandbox.docker_run SPEC``, which starts the container
and lives exactly as long as it does. ``close()`` removes the container by
name whatever happened to that process. Containers carry the pid of the
process that opened them (grader.owner), so those of a grader that was killed outright are
removed the next time the backend starts; the launcher removes its own as soon
as that process is gone, which also covers one it made after that sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from grader import owner
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

LABEL = "grader.kernel"
OWNER_LABEL = "grader.owner"
USER = 65534
IMAGE_PYTHON = "/opt/venv/bin/python"


class Docker:
    """The Docker backend."""

    name = "docker"
    sandboxed = True

    def __init__(self, client, image: str):
        self.client = client
        self.image = image
        self.identity = f"docker:{image}"

    @classmethod
    def create(cls) -> Docker:
        """The backend, or SandboxUnavailable saying what is missing."""
        from grader.engine.sandbox.image import current_image

        client = engine_client()
        tag = current_image(client)
        if tag is None:
            raise SandboxUnavailable("the grading image is not built: run 'grade image build'")
        remove_orphans(client)
        return cls(client, tag)

    def open(self, files: list[Path], socket_dir: Path, limits: Limits,
             services: tuple[Service, ...] = ()) -> DockerSandbox:
        return DockerSandbox(self, files, socket_dir, limits, services)


class DockerSandbox(OpenedSandbox):
    """One kernel's container."""

    def __init__(self, backend: Docker, files: list[Path], socket_dir: Path, limits: Limits,
                 services: tuple[Service, ...] = ()):
        super().__init__(files, socket_dir, limits, services)
        self.backend = backend
        self.name = f"grader-{uuid.uuid4().hex[:16]}"
        self.launch_dir = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        os.chown(socket_dir, USER, USER)

    def share(self, path: Path) -> None:
        os.chown(path, USER, USER)

    def command(self, argv: list[str]) -> list[str]:
        spec = self.launch_dir / "container.json"
        # Not Docker's working_dir: it resets the home tmpfs to root-owned 0755, unwritable.
        inner = with_services([IMAGE_PYTHON, *argv[1:]], self.services, cd=HOME)
        spec.write_text(json.dumps(self._spec(inner)))
        return [sys.executable, "-m", "grader.engine.sandbox.docker_run", str(spec)]

    def memory_exceeded(self) -> bool:
        import docker

        try:
            return bool(self.backend.client.containers.get(self.name).attrs["State"].get("OOMKilled"))
        except docker.errors.NotFound:
            return False

    def close(self) -> None:
        _remove(self.backend.client, self.name)
        shutil.rmtree(self.launch_dir, ignore_errors=True)

    def _spec(self, argv: list[str]) -> dict:
        """Keyword arguments for ``containers.run`` (JSON-safe: the launcher rebuilds ulimits)."""
        lim = self.limits
        mounts = [(str(self.socket_dir), str(self.socket_dir), "rw"),
                  (str(package_dir()), str(PACKAGE_MOUNT / "grader"), "ro")]
        mounts += [(str(f.resolve()), str(HOME / f.name), "ro") for f in self.files]
        mounts += [(str(s.socket), str(s.inside), "rw") for s in self.services]
        return {
            "image": self.backend.image, "command": argv, "name": self.name, "hostname": "sandbox",
            "labels": {LABEL: "1", OWNER_LABEL: owner.current()},
            "environment": kernel_environment(os.path.dirname(IMAGE_PYTHON), self.services),
            "user": f"{USER}:{USER}",
            "network_mode": "none", "read_only": True, "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"], "init": True,
            "mem_limit": f"{lim.memory}m", "memswap_limit": f"{lim.memory}m",
            "pids_limit": lim.processes, "nano_cpus": 1_000_000_000,
            "tmpfs": {str(HOME): f"rw,size={lim.scratch}m,mode=1777",
                      "/tmp": f"rw,size={lim.tmp}m,mode=1777,nosuid,nodev"},
            "shm_size": f"{lim.tmp}m",
            # What the kernel writes to its own stdout: Docker would keep all of it on the host's disk.
            "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
            "volumes": {src: {"bind": dest, "mode": mode} for src, dest, mode in mounts},
            "ulimits": [{"name": "nofile", "soft": lim.open_files, "hard": lim.open_files},
                        {"name": "fsize", "soft": lim.file_size * 2**20, "hard": lim.file_size * 2**20},
                        {"name": "cpu", "soft": lim.cpu_seconds, "hard": lim.cpu_seconds},
                        {"name": "core", "soft": 0, "hard": 0}],
        }


def engine_client(timeout: float | None = None):
    """A client of the Docker engine that answers; SandboxUnavailable saying what is missing
    (the docker package is the ``grader[docker]`` extra, not a core dependency)."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable("the Docker backend needs the docker package: pip install 'grader[docker]'") from None
    try:
        client = docker.from_env(**({"timeout": timeout} if timeout else {}))
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxUnavailable(f"no Docker engine answers ({exc}); start dockerd") from None
    return client


def reclaim(pid: int) -> None:
    """Remove the containers and images that process ``pid``, now gone, labeled as its own, where
    an engine answers: by the label the grader set, never by a name or a log. A live process that
    took the pid since is another owner (grader.owner): what it made is left alone."""
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException:
        return

    def dead_owner(labels: dict | None) -> bool:
        identity = (labels or {}).get(OWNER_LABEL, "")
        return owner.pid_of(identity) == pid and owner.gone(identity)

    for container in client.api.containers(all=True, filters={"label": OWNER_LABEL}):
        if dead_owner(container.get("Labels")):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(container["Id"], force=True)
    for image in client.api.images(all=True, filters={"label": OWNER_LABEL}):
        if dead_owner(image.get("Labels")):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(image["Id"], force=True, noprune=True)  # a parent goes only if labeled too


def remove_orphans(client) -> None:
    """Remove kernel containers whose grader process is gone (it was killed outright): only
    those carrying both of the grader's labels, by the ids the engine lists."""
    for container in client.api.containers(all=True, filters={"label": [LABEL, OWNER_LABEL]}):
        if orphaned(container.get("Labels")):
            _remove(client, container["Id"])


def orphaned(labels: dict | None) -> bool:
    """Whether ``labels`` name, as OWNER_LABEL, a grader process that is gone (grader.owner). A
    missing or malformed owner is no dead grader's: what carries one is left alone."""
    return owner.gone((labels or {}).get(OWNER_LABEL, ""))


def _remove(client, name: str) -> None:
    """Remove container ``name``, unless it is gone or going: the jobs of a batch all look for the
    orphans of a killed grader, and the engine refuses a removal already in progress (409)."""
    import docker

    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise
