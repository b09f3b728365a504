"""Shared helpers: build courses and notebooks, run the CLI, look for leftovers."""

from __future__ import annotations

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
        lines = [f"{k} = {v!r}".replace("'", '"') for k, v in settings.items()]
        toml.write_text("\n".join(lines) + "\n")
    return target


def run_grade(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The ``grade`` command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {}), "COLUMNS": "200"}, timeout=timeout)


def sandbox_processes() -> list[str]:
    """Processes running as a sandbox uid: there must be none once grading is over."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid >= SANDBOX_UID_FLOOR:
                    found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:100]!r}")
            except OSError:
                pass
    return found


def grader_cgroups() -> list[str]:
    root = Path("/sys/fs/cgroup")
    return [str(p) for p in root.glob("*/grader-*")] + [str(p) for p in root.glob("grader-*")]


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return copy_course(tmp_path / "course")
