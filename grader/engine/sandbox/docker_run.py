"""``python -m grader.engine.sandbox.docker_run SPEC``: run one kernel container, as a process.

jupyter_client manages a kernel as a local process; this process is that
stand-in for a container. It starts the container described in SPEC (a JSON
file of ``containers.run`` arguments), waits for it, and exits with its exit
status. SIGTERM or SIGINT kill the container first.
"""

from __future__ import annotations

import json
import signal
import sys

import docker
from docker.types import Ulimit


def main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    spec["ulimits"] = [Ulimit(**u) for u in spec["ulimits"]]
    client = docker.from_env()
    container = client.containers.run(detach=True, **spec)

    def stop(signum, frame):
        container.kill()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return int(container.wait().get("StatusCode", 1))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
