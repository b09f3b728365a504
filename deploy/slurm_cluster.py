"""A Dask cluster for `grade --dask` from SLURM jobs (dask_jobqueue.SLURMCluster).

    python deploy/slurm_cluster.py --jobs 4 --cores 8 --walltime 02:00:00

runs the scheduler here (the login node), submits one job per worker, prints
the `grade` command that uses them, and cancels the jobs on Ctrl-C. Compute
nodes need this grader's Python at the same path and bubblewrap.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import Any

from dask_jobqueue import SLURMCluster


def cluster_options(cores: int, walltime: str, **slurm: Any) -> dict[str, Any]:
    """SLURMCluster's arguments: one worker per job with a thread and a sandbox per core."""
    return {
        "cores": cores,
        "processes": 1,
        "memory": f"{2 * cores}GiB",  # per sandbox: a kernel's 1 GiB (lab.toml's default) and the grader's share
        "walltime": walltime,  # must outlast the batch: a job ended mid-task is a worker that died
        "worker_extra_args": ["--resources", f"sandbox={cores}"],
        # A daemonic worker cannot fork the process each grading runs in.
        "job_script_prologue": ["export DASK_DISTRIBUTED__WORKER__DAEMON=False"],
        # A submission that kills its worker twice is a crashed row, not a third try.
        "scheduler_options": {"port": 8786, "allowed_failures": 1},
        **slurm,
    }


def parser() -> argparse.ArgumentParser:
    """The command line, apart from main so that the README's commands are checked against it."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, required=True, help="SLURM jobs, one worker each")
    p.add_argument("--cores", type=int, default=8, help="cores per job: sandboxes it runs at once")
    p.add_argument("--walltime", default="02:00:00")
    p.add_argument("--queue", help="the partition (sbatch -p)")
    p.add_argument("--account", help="the account to charge (sbatch -A)")
    p.add_argument("--interface", help="the network interface compute nodes reach this node on (e.g. ib0)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    slurm = {k: v for k, v in vars(args).items() if k in ("queue", "account", "interface") and v}
    with SLURMCluster(**cluster_options(args.cores, args.walltime, **slurm)) as cluster:
        cluster.scale(jobs=args.jobs)
        print(f"grade submissions/ --dask {cluster.scheduler_address}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
