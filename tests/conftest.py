"""Shared helpers: build courses and notebooks, keep the labs' graded notebooks, run the CLI,
look for leftovers."""

from __future__ import annotations

import csv
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "course"
LAB = "00-warmup"
SANDBOX_UID_FLOOR = 1_000_000  # grader.engine.sandbox.bwrap.FIRST_UID


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


TagPicker = Callable[[Sequence[str], Container[str]], str | None]


def edit(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` (found exactly once) replaced by ``new``: one change to an answer, which fails
    loudly once the answer it changes no longer holds ``old``."""
    assert text.count(old) == 1, f"the answer changed: {old!r} is not in it once; update this recipe"
    return text.replace(old, new)


def last_tag(tags: Sequence[str], keys: Container[str]) -> str | None:
    """A cell's last tag, if it is a key: the last tag names the answer (``q4-tools``, not ``q4``)."""
    return tags[-1] if tags and tags[-1] in keys else None


def last_matching_tag(tags: Sequence[str], keys: Container[str]) -> str | None:
    """The last of a cell's tags that is a key, wherever it stands among the cell's tags."""
    return next((t for t in reversed(tags) if t in keys), None)


@dataclass(frozen=True)
class KeptNotebooks:
    """A lab's graded notebooks, kept as files under ``tests/labs/<lab>/``.

    Each is the lab's solution with some code cells replaced, outputs cleared and
    ``grader.lab`` set. They are files rather than built per run so ``grade`` reads them
    as a student would hand them in; ``stale()`` tells when the solution moved on and
    ``write()`` (the test file run as a script) catches them up.
    """

    lab: str
    variants: Sequence[str]  # the notebooks besides "solution" (the solution as it is)
    replacements: Callable[[str], Mapping[str, str]]  # a variant's new cell sources, by tag
    pick: TagPicker = last_tag  # which of a code cell's tags chooses its replacement

    @property
    def solution(self) -> Path:
        return REPO / "solutions" / self.lab / "solution.ipynb"

    @property
    def folder(self) -> Path:
        return REPO / "tests" / "labs" / self.lab

    def names(self) -> list[str]:
        """The kept notebooks' names: each is also the student name ``grade`` gives it."""
        return ["solution", *self.variants]

    def notebook(self, name: str) -> nbformat.NotebookNode:
        """What the file ``name`` must hold, derived from the current solution."""
        nb = nbformat.read(self.solution, as_version=4)
        nb.metadata["grader"] = {"lab": self.lab}
        todo = {} if name == "solution" else dict(self.replacements(name))
        for cell in nb.cells:
            if cell.cell_type == "code":
                if (tag := self.pick(cell.metadata.get("tags", []), todo)) is not None:
                    cell.source = todo.pop(tag).strip("\n")
                cell.outputs, cell.execution_count = [], None
        assert not todo, f"{name}: no code cell chosen by {self.pick.__name__} for {sorted(todo)}"
        return nb

    def write(self) -> None:
        """Rewrite every kept notebook from the solution."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in self.names():
            nbformat.write(self.notebook(name), self.folder / f"{name}.ipynb")

    def stale(self) -> list[str]:
        """The names to rewrite: files missing, extra, or no longer what the solution gives."""
        on_disk = {p.stem for p in self.folder.glob("*.ipynb")}
        changed = [name for name in self.names() if name not in on_disk or self._kept(name) != self.notebook(name)]
        return changed + sorted(on_disk - set(self.names()))

    def _kept(self, name: str) -> nbformat.NotebookNode:
        return nbformat.read(self.folder / f"{name}.ipynb", as_version=4)


def copy_course(target: Path, **settings) -> Path:
    """A copy of the example course (without submissions), with lab.toml overrides."""
    for part in ("labs", "solutions"):
        shutil.copytree(EXAMPLE / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    if settings:
        toml = target / "solutions" / LAB / "lab.toml"
        lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]  # TOML spells these as JSON does
        toml.write_text("\n".join(lines) + "\n")
    return target


def run_grade(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600,
              prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """The ``grade`` command, as a user runs it (``prefix``: a command that runs it, such as
    one that first joins a cgroup)."""
    return subprocess.run([*prefix, sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {}), "COLUMNS": "200"}, timeout=timeout)


def grade_lab_batch(lab: str, out: Path, *paths: Path, env: dict | None = None, options: Sequence[str] = (),
                    timeout: float = 1800) -> tuple[subprocess.CompletedProcess, dict[str, dict], dict[str, dict]]:
    """One ``grade`` run from the repository root over ``paths``: the process, the gradebook's rows
    by student, and each student's results JSON for ``lab``."""
    proc = run_grade(*(str(p) for p in paths), "--out", str(out), *options, cwd=REPO, env=env, timeout=timeout)
    with open(out / "gradebook.csv", newline="") as f:
        book = {row["student"]: row for row in csv.DictReader(f)}
    return proc, book, {s: json.loads((out / s / f"{lab}.json").read_text()) for s in book}


def lost_points(result: dict) -> dict[str, float]:
    """Points lost per test name, parameters stripped and their losses added up, for the tests that
    failed (a test not run loses nothing)."""
    lost: dict[str, float] = {}
    for test in result["tests"]:
        if test["status"] == "failed":
            base = test["name"].split("[")[0]
            lost[base] = lost.get(base, 0) + test["max_score"] - test["score"]
    return lost


def wait_for(condition: Callable[[], object], seconds: float):
    """``condition()``'s first true value, checked every tenth of a second for ``seconds``:
    waiting on what a test needs to see, never for a fixed time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        select.select([], [], [], 0.1)
    raise AssertionError(f"not true within {seconds} s")


def ended_process() -> str:
    """The identity (grader.owner) of a process that ran, and has ended and been reaped."""
    from grader import owner

    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    identity = owner.identity_of(child.pid)
    assert not owner.gone(identity) and not owner.gone(str(child.pid))  # alive, by either form
    child.communicate(b"")
    return identity


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
    from grader.engine.sandbox import SandboxUnavailable, get_backend

    try:
        get_backend("docker")
    except SandboxUnavailable as exc:
        return str(exc)
    return None


def kernel_containers() -> list[str]:
    """Kernel containers that exist now (there must be none once grading is over)."""
    import docker

    from grader.engine.sandbox.docker import LABEL

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
