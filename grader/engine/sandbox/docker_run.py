"""``python -m grader.engine.sandbox.docker_run SPEC``: run one kernel container, as a process.

jupyter_client manages a kernel as a local process; this process is that
stand-in for a container. It starts the container described in SPEC (a JSON
file of ``containers.run`` arguments), waits for it, and exits with its exit
status. SIGTERM or SIGINT kill the container first.

jupyter_client starts it in a session of its own, so a grader killed outright
(kill -9) does not take it along, and the grader's next sweep of orphans may
come before this process has made its container. So it watches the grader
that started it, the owner named in the container's labels: it makes no
container once that owner is gone, and removes the one it made as soon as the
owner is gone, or once the container ended and the owner is gone. Its parent
changing is how it knows, which no reused pid fools.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time

import docker
from docker.types import Ulimit

from grader.engine.sandbox.docker import OWNER_LABEL
from grader.owner import pid_of

STOPS = {signal.SIGTERM, signal.SIGINT}
WATCH_INTERVAL = 0.25  # seconds between looks at the parent: a dead grader's kernel outlives it by this much


def main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    spec["ulimits"] = [Ulimit(**u) for u in spec["ulimits"]]
    owner = pid_of(spec["labels"][OWNER_LABEL])
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)  # held until the container exists, so a stop finds it
    if os.getppid() != owner:
        return 1
    container = docker.from_env().containers.run(detach=True, **spec)

    def stop(signum, frame):
        container.kill()
        sys.exit(128 + signum)

    for signum in STOPS:
        signal.signal(signum, stop)
    threading.Thread(target=_remove_when_gone, args=(owner, container.id), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
    try:
        return int(container.wait().get("StatusCode", 1))
    except docker.errors.NotFound:  # removed before the wait began: its owner is gone
        return 1
    finally:
        if os.getppid() != owner:  # the container ended with no grader left to remove it
            _remove(container.id)


def _remove_when_gone(owner: int, container_id: str) -> None:
    """Remove the container once ``owner`` is no longer this process's parent (it died and
    this process was handed to another)."""
    while os.getppid() == owner:
        time.sleep(WATCH_INTERVAL)
    _remove(container_id)


def _remove(container_id: str) -> None:
    """Remove the container, unless it is gone. Its own client: another thread's may be busy waiting."""
    with contextlib.suppress(docker.errors.DockerException):
        docker.from_env().containers.get(container_id).remove(force=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
