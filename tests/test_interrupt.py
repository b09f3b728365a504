"""Ctrl-C at any moment of a batch: ``grade`` says one line and exits 130; no worker, fork
server or kernel prints a traceback, and nothing is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _proc_info, copy_course, leftover_processes, notebook, solution_cells, wait_for, write_notebook

SLOW = "import time\ntime.sleep(60)"


def descendants(root: int) -> list[tuple[int, str]]:
    """Every process below ``root``: (pid, command line)."""
    procs = {int(pid): info for pid in os.listdir("/proc") if pid.isdigit() and (info := _proc_info(pid))}
    found, frontier = [], {root}
    while frontier:
        children = {pid for pid, info in procs.items() if info[1] in frontier}
        found += [(pid, procs[pid][3]) for pid in children]
        frontier = children
    return found


def group(pgid: int) -> list[str]:
    """The processes of process group ``pgid`` (a batch started in a session of its own)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = (Path("/proc") / pid / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
            found.append(f"{pid}: {stat[:80]}")
    return found


def forkserver(root: int) -> bool:
    return any("forkserver" in cmd for _, cmd in descendants(root))


def worker(root: int) -> bool:
    """A worker: a child of the fork server."""
    servers = {pid for pid, cmd in descendants(root) if "forkserver" in cmd}
    return any(_proc_info(str(pid)) and _proc_info(str(pid))[1] in servers for pid, _ in descendants(root))


def kernel(root: int) -> bool:
    return any("bwrap" in cmd for _, cmd in descendants(root))


MOMENTS = {"the fork server starts": forkserver, "a worker runs": worker, "a notebook runs": kernel}


def ctrl_c_when(proc: subprocess.Popen, ready, seconds: float) -> str:
    """Once ``ready()``, Ctrl-C as a terminal sends it (to the whole process group of ``proc``, a
    session of its own); the batch's stderr. Whatever happens, nothing of the group outlives the test."""
    try:
        wait_for(ready, seconds)
        os.killpg(proc.pid, signal.SIGINT)
        return proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def batch(tmp_path: Path):
    course = copy_course(tmp_path / "course")
    for i in range(3):
        write_notebook(course / "submissions" / f"s{i}.ipynb", notebook(SLOW, *solution_cells()))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return course, scratch


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_leaves_one_line_and_no_traceback(batch, moment):
    course, scratch = batch
    proc = subprocess.Popen([sys.executable, "-m", "grader", "submissions", "-j", "2", "--skip-solution-check"],
                            cwd=course, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "TMPDIR": str(scratch)})
    stderr = ctrl_c_when(proc, lambda: MOMENTS[moment](proc.pid), 120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines() == [
        "grade: interrupted; finished results are kept in grades (rerun to grade the rest)"], stderr
    wait_for(lambda: not group(proc.pid) and not leftover_processes(scratch), 30)
