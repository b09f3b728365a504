"""A grading process killed from outside (as the kernel's OOM killer would) costs only its row.

The batch goes on, the row says what happened, and everything the dead worker had made
(sandbox processes, cgroups, containers, its scratch folder with the kernel's sockets)
is gone when ``grade`` exits: nothing else would ever remove it.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (BACKENDS, copy_course, empty_cgroups, grader_cgroups, kernel_containers, leftover_processes,
                      notebook, solution_cells, wait_for, write_notebook)

HANG = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(_parent(int(entry)), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def hung_worker(grade_pid: int, marker: str) -> int | None:
    """The grading process (a fork of the forkserver, below ``grade``) whose sandbox runs the
    hanging notebook: the nearest forkserver-born ancestor of a process naming ``marker``."""
    for pid in _descendants(grade_pid):
        if marker in _cmdline(pid):
            parent = _parent(pid)
            while parent > 1:
                if "forkserver" in _cmdline(parent) and "forkserver" in _cmdline(_parent(parent)):
                    return parent
                parent = _parent(parent)
    return None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_worker_costs_its_row_and_leaves_nothing(tmp_path, backend):
    course = copy_course(tmp_path / "course", cell_timeout=600, timeout=600)
    write_notebook(course / "submissions" / "honest.ipynb", notebook(*solution_cells()))
    write_notebook(course / "submissions" / "hangs.ipynb", notebook(*solution_cells(), HANG))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    cgroups_before = grader_cgroups()
    out = tmp_path / "grades"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "submissions", "--out", str(out), "-j", "2",
                             "--backend", backend], cwd=course, env={**os.environ, "TMPDIR": str(scratch)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = iter(proc.stdout.readline, "")  # the solution check's line comes first, then each result's
        first = next((line for line in lines if line.startswith("[")), "")
        assert "honest" in first, first
        # What starts the kernel names it: bwrap's command line, or the container's launcher.
        marker = "ipykernel_launcher" if backend == "bwrap" else "grader.engine.sandbox.docker_run"
        worker = wait_for(lambda: hung_worker(proc.pid, marker), 60)
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    with open(out / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["honest"]["status"] == "graded" and float(rows["honest"]["score"]) == 22
    assert rows["hangs"]["status"] == "crashed" and "grading process died" in rows["hangs"]["message"]
    assert float(rows["hangs"]["max_score"]) == 22  # every test listed, none run
    assert leftover_processes(scratch) == []
    assert empty_cgroups(grader_cgroups() - cgroups_before) == []
    assert kernel_containers() == []
    assert list(scratch.iterdir()) == []
