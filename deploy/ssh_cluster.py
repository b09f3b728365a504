"""A Dask cluster for `grade --dask` on machines you reach over SSH (distributed.SSHCluster).

    python deploy/ssh_cluster.py --threads 8 head node1 node2

starts the scheduler on `head` and a worker on each node, prints the `grade`
command that uses them, and keeps them up until Ctrl-C. Every host needs the
same grader install as this one (same path, or --python) and bubblewrap.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import Any

import dask
from distributed import SSHCluster
from distributed.deploy.spec import SpecCluster

# SSHCluster hands this process's Dask config to every process it starts
# (DASK_INTERNAL_INHERIT_CONFIG). A daemonic worker cannot fork the process
# each grading runs in.
WORKER_CONFIG = {"distributed.worker.daemon": False}


def cluster_options(scheduler: str, workers: list[str], threads: int, **ssh: Any) -> dict[str, Any]:
    """SSHCluster's arguments: one worker per host, one sandbox per thread (the grader's tasks each
    ask for one `sandbox`, so a host never runs more kernels than it has cores)."""
    return {
        "hosts": [scheduler, *workers],
        "connect_options": ssh,
        "worker_options": {"nthreads": threads, "resources": {"sandbox": threads}},
        # A submission that kills its worker twice is a crashed row, not a third try.
        "scheduler_options": {"port": 8786, "allowed_failures": 1},
    }


def start(options: dict[str, Any]) -> SpecCluster:
    """The running cluster. The config is set only while it starts: that is when SSHCluster copies it."""
    with dask.config.set(WORKER_CONFIG):
        return SSHCluster(**options)


def parser() -> argparse.ArgumentParser:
    """The command line, apart from main so that the README's commands are checked against it."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scheduler", help="the host that runs the Dask scheduler")
    p.add_argument("workers", nargs="+", help="the hosts that grade, one worker each")
    p.add_argument("--threads", type=int, required=True, help="each worker host's cores")
    p.add_argument("--user", help="SSH user (default: yours)")
    p.add_argument("--python", help="the grader's Python on every host (default: this one's path)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    ssh = {"username": args.user} if args.user else {}
    options = cluster_options(args.scheduler, args.workers, args.threads, **ssh)
    with start({**options, "remote_python": args.python}) as cluster:
        print(f"grade submissions/ --dask {cluster.scheduler_address}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
