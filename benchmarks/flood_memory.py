"""The grader's peak memory and wall time on floods, against honest notebooks in the same run.

Three batches of the example lab, each ``grade -j 2`` inside a memory cgroup of its
own (cgroup v1, as root): honest notebooks (the baseline), notebooks that print
and display 200 MiB each, and notebooks whose output metadata carries 100 MiB
and whose error carries 1 MiB. The cgroup's peak is the grader's (kernels leave it for cgroups of their
own as they start). Every batch must grade every notebook with full marks, or no
numbers are reported.

Run from the repository root::

    .venv/bin/python benchmarks/flood_memory.py [-n 8]
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

from grade_vs_nbclient import BenchmarkError, read_gradebook

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "examples" / "course"
MiB = 2**20
ANSWERS = (REPO / "examples" / "course" / "solutions" / "00-warmup" / "solution.ipynb")
FLOODS = {
    "honest": [],
    "print + display": ["from IPython.display import display\nfor i in range(100):\n    print('p' * 2**20)\n"
                        "    display({'text/plain': 'd' * 2**20}, raw=True)"],
    "error + metadata": ["from IPython.display import display\nfor i in range(100):\n"
                         "    display({'text/plain': 'm'}, metadata={'m': 'x' * 2**20}, raw=True)",
                         "raise ValueError('e' * 2**20)"],
}


def build(folder: Path, count: int, cells: list[str]) -> None:
    """``count`` copies of the solution, each with ``cells`` run first."""
    solution = nbformat.read(ANSWERS, as_version=4)
    solution.cells[:0] = [nbformat.v4.new_code_cell(c) for c in cells]
    solution.metadata["grader"] = {"lab": "00-warmup"}
    folder.mkdir(parents=True)
    for i in range(count):
        nbformat.write(solution, folder / f"s{i:02d}.ipynb")


def grade_in_cgroup(folder: Path, out: Path, name: str) -> tuple[float, int]:
    """Wall seconds and peak bytes of ``grade -j 2`` run inside a fresh memory cgroup."""
    group = Path("/sys/fs/cgroup/memory") / name
    group.mkdir()
    try:
        started = time.monotonic()
        proc = subprocess.run(["/bin/sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$0" "$@"',
                               sys.executable, "-m", "grader", str(folder), "--out", str(out), "-j", "2",
                               "--course", str(COURSE), "--force"], capture_output=True, text=True)
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            raise BenchmarkError(f"grade failed: {proc.stderr[-2000:]}")
        peak = int((group / "memory.max_usage_in_bytes").read_text())
    finally:
        while (group / "cgroup.procs").read_text().strip():  # the forkserver leaving
            select.select([], [], [], 0.05)
        group.rmdir()
    return seconds, peak


def benchmark(count: int, console: Console) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="flood-bench-") as tmp:
        for label, cells in FLOODS.items():
            folder = Path(tmp) / label.replace(" ", "")
            build(folder, count, cells)
            with console.status(f"grade -j 2: {label}"):
                seconds, peak = grade_in_cgroup(folder, Path(tmp) / f"out-{folder.name}",
                                                f"flood-bench-{os.getpid()}-{folder.name.replace('+', '')}")
            rows.append((label, seconds, peak, _check(Path(tmp) / f"out-{folder.name}", count)))
    table = Table(title=f"{count} notebooks per batch, -j 2")
    for column in ("batch", "wall s", "vs honest", "grader peak MiB", "vs honest", "largest file KiB"):
        table.add_column(column, justify="left" if column == "batch" else "right")
    for label, seconds, peak, largest in rows:
        table.add_row(label, f"{seconds:.1f}", f"{seconds / rows[0][1]:.2f}x", f"{peak / MiB:.0f}",
                      f"{peak / rows[0][2]:.2f}x", f"{largest / 1024:.0f}")
    console.print(table)


def _check(out: Path, count: int) -> int:
    """Every notebook got full marks; return the largest file written."""
    rows = read_gradebook(out)
    if len(rows) != count or any(r["score"] != r["max_score"] or r["status"] != "graded" for r in rows):
        raise BenchmarkError(f"not every notebook got full marks: {rows}")
    return max(p.stat().st_size for p in out.rglob("*") if p.is_file())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--count", type=int, default=8)
    args = p.parse_args()
    try:
        benchmark(args.count, Console())
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
