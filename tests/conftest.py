"""Shared helpers: build courses and notebooks, run the CLI, look for leftovers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "course"
LAB = "00-warmup"
SANDBOX_UID_FLOOR = 1_000_000  # grader.sandbox.bwrap.FIRST_UID


def notebook(*cells: str, lab: str | None = LAB, tags: dict[int, list[str]] | None = None) -> nbformat.NotebookNode:
    """A notebook with these code cells, tagged for ``lab``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    for index, cell_tags in (tags or {}).items():
        nb.cells[index].metadata["tags"] = cell_tags
    if lab is not None:
        nb.metadata["grader"] = {"lab": lab}
    return nb


def write_notebook(path: Path, nb: nbformat.NotebookNode) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def solution_cells() -> list[str]:
    """The example lab's correct answers, as code cells."""
    return [
        "import numpy as np",
        "def square(x):\n    return x * x",
        "def mean(values):\n    return sum(values) / len(values) if values else None",
        "def word_counts(text):\n    counts = {}\n    for w in text.lower().split():\n"
        "        counts[w] = counts.get(w, 0) + 1\n    return counts",
        "def standardize(a):\n    a = np.asarray(a, dtype=float)\n    return (a - a.mean()) / a.std()",
    ]


def copy_course(target: Path, **settings) -> Path:
    """A copy of the example course (without submissions), with lab.toml overrides."""
    for part in ("labs", "solutions"):
        shutil.copytree(EXAMPLE / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    if settings:
        toml = target / "solutions" / LAB / "lab.toml"
        lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]  # TOML spells these as JSON does
        toml.write_text("\n".join(lines) + "\n")
    return target


def run_grade(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The ``grade`` command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {}), "COLUMNS": "200"}, timeout=timeout)


def _proc_info(pid: str) -> tuple[int, int, str, str] | None:
    """(uid, parent pid, command name, command line) of a process, or None if it is gone."""
    try:
        status = dict(line.split(":", 1) for line in (Path("/proc") / pid / "status").read_text().splitlines()
                      if ":" in line)
        cmdline = (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return int(status["Uid"].split()[0]), int(status["PPid"]), status["Name"].strip(), cmdline
    except (OSError, KeyError, ValueError):
        return None


def leftover_processes(mark: Path) -> list[str]:
    """Processes a finished batch left behind: any whose command line names ``mark`` (the
    batch's TMPDIR), and any sandbox-uid process that no running bubblewrap holds."""
    procs = {pid: info for pid in os.listdir("/proc") if pid.isdigit() and (info := _proc_info(pid))}
    found = []
    for pid, (uid, ppid, _, cmdline) in procs.items():
        if str(mark) in cmdline:
            found.append(f"{pid}: {cmdline[:120]}")
        elif uid >= SANDBOX_UID_FLOOR and not _inside_bwrap(procs, ppid):
            found.append(f"{pid} (uid {uid}, outside any sandbox): {cmdline[:120]}")
    return found


def _inside_bwrap(procs: dict, ppid: int) -> bool:
    seen = set()
    while ppid > 1 and ppid not in seen:
        seen.add(ppid)
        info = procs.get(str(ppid))
        if info is None:
            return False
        if info[2] == "bwrap":
            return True
        ppid = info[1]
    return False


def grader_cgroups() -> set[Path]:
    root = Path("/sys/fs/cgroup")
    return set(root.glob("*/grader-*")) | set(root.glob("grader-*"))


def empty_cgroups(groups: set[Path]) -> list[str]:
    """The cgroups among ``groups`` that still exist with no process: left behind."""
    left = []
    for group in groups:
        try:
            if not (group / "cgroup.procs").read_text().strip():
                left.append(str(group))
        except OSError:
            pass
    return left


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return copy_course(tmp_path / "course")


def docker_problem() -> str | None:
    """Why the Docker backend cannot run here, or None when it can."""
    from grader.sandbox import SandboxUnavailable, get_backend

    try:
        get_backend("docker")
    except SandboxUnavailable as exc:
        return str(exc)
    return None


def kernel_containers() -> list[str]:
    """Kernel containers that exist now (there must be none once grading is over)."""
    import docker

    from grader.sandbox.docker import LABEL

    try:
        client = docker.from_env()
        return [c.name for c in client.containers.list(all=True, filters={"label": LABEL})]
    except docker.errors.DockerException:
        return []


BACKENDS = ["bwrap", pytest.param("docker", marks=pytest.mark.docker)]


def pytest_collection_modifyitems(config, items):
    """Docker tests run where an engine and the image are ready; CI requires them
    (GRADER_REQUIRE_DOCKER=1), so there they fail instead of being left out."""
    docker_items = [item for item in items if item.get_closest_marker("docker")]
    if not docker_items or os.environ.get("GRADER_REQUIRE_DOCKER") == "1":
        return
    problem = docker_problem()
    if problem is None:
        return
    config.hook.pytest_deselected(items=docker_items)
    items[:] = [item for item in items if not item.get_closest_marker("docker")]
    config._grader_docker_note = f"{len(docker_items)} Docker tests not run: {problem}"


def pytest_terminal_summary(terminalreporter, config):
    note = getattr(config, "_grader_docker_note", None)
    if note:
        terminalreporter.write_line(note, yellow=True)
