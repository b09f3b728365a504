"""How long ``grade`` takes on a batch, against plain nbclient running the same notebooks.

What is measured, on 40 copies of the example lab's submissions (a correct
one, ``alice``; a partly right one, ``bob``; a blank one, ``dave``; cycled as
s00..s39 in a temporary folder):

* **baseline**: what people do today to run a folder of notebooks: one
  ``nbclient.NotebookClient(nb, timeout=..., kernel_name="python3",
  allow_errors=True).execute()`` after the other, in this process, each with a
  fresh kernel and default nbclient settings. No sandbox and no tests: only
  the notebooks run. The timed span is the loop alone (imports excluded).
  The kernel runs with ``GRADER_SANDBOX=1``, as it does inside ``grade``, so
  the lab's ``check("q1")`` cells are skipped in both runs and both execute
  exactly the same code; without it every baseline kernel would also import
  pytest and run the public tests, and the baseline would look slower than it is.
* **grade**: ``grade <folder> --out <tmp>`` as a subprocess run from
  ``examples/course``, with its defaults: one worker per core, every kernel in
  the bubblewrap sandbox, then the hidden tests. The timed span is the whole
  command, start-up (imports, forkserver) included.
* **grade -j 1** (unless ``--skip-sequential``): the same, one submission at a
  time, which shows what the sandbox and the tests cost per notebook.

The ratio is grade's wall time over the baseline's: below 1, ``grade`` is
faster than running the notebooks without grading them. Before any number is
printed, the gradebook is checked (40 rows, all ``graded``, alice full marks,
bob partial, dave 0, every copy of a source scored alike): a broken run exits 1.

Run from the repository root::

    .venv/bin/python benchmarks/grade_vs_nbclient.py
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from rich.console import Console
from rich.markup import escape
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
COURSE = REPO / "examples" / "course"
GRADE = Path(sys.executable).parent / "grade"
SOURCES = ("alice", "bob", "dave")  # correct, partly right, blank
CELL_TIMEOUT = 60


class BenchmarkError(RuntimeError):
    """A run did not do what it should; no numbers are reported."""


def build_submissions(folder: Path, count: int) -> dict[str, str]:
    """Copy the example submissions to ``folder`` as s00..; returns student -> source."""
    folder.mkdir(parents=True)
    sources = {}
    for i in range(count):
        student, source = f"s{i:02d}", SOURCES[i % len(SOURCES)]
        shutil.copyfile(COURSE / "submissions" / f"{source}.ipynb", folder / f"{student}.ipynb")
        sources[student] = source
    return sources


def run_nbclient(path: Path) -> nbformat.NotebookNode:
    """Execute one notebook the plain way: fresh kernel, default settings, errors allowed."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True)
    # The kernel's own stderr (a warning about TCP per kernel) would flood the output.
    client.execute(env={**os.environ, "GRADER_SANDBOX": "1"}, stderr=subprocess.DEVNULL)
    return nb


def check_baseline_notebook(path: Path, nb: nbformat.NotebookNode) -> None:
    """The first cell (``from grader.testing.check import check``) ran cleanly and ``check`` was skipped."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for o in code[0].outputs if o.output_type == "error"]
    if errors or code[0].execution_count is None:
        detail = f"{errors[0].ename}: {errors[0].evalue}" if errors else "not executed"
        raise BenchmarkError(f"baseline: {path.name}: first cell failed ({detail})")
    checks = [c for c in code if c.source.startswith("check(")]
    if not all("skipped while grading" in str(c.outputs) for c in checks):
        raise BenchmarkError(f"baseline: {path.name}: check() cells ran tests (GRADER_SANDBOX not seen)")


def time_baseline(paths: list[Path]) -> float:
    """Wall time of executing ``paths`` one after the other with nbclient."""
    started = time.perf_counter()
    executed = [(path, run_nbclient(path)) for path in paths]
    elapsed = time.perf_counter() - started
    for path, nb in executed:
        check_baseline_notebook(path, nb)
    return elapsed


def time_grade(folder: Path, out: Path, jobs: int | None, extra: list[str] = ()) -> float:
    """Wall time of the ``grade`` command on ``folder``; BenchmarkError if it fails."""
    cmd = [str(GRADE), str(folder), "--out", str(out), *extra] + ([] if jobs is None else ["-j", str(jobs)])
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SANDBOX"}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=COURSE, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchmarkError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def read_gradebook(out: Path) -> list[dict[str, str]]:
    path = out / "gradebook.csv"
    if not path.is_file():
        raise BenchmarkError(f"no gradebook at {path}")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def verify_gradebook(out: Path, sources: dict[str, str]) -> None:
    """Every submission graded, with the score its source deserves; BenchmarkError otherwise."""
    rows = {row["student"]: row for row in read_gradebook(out)}
    problems = [] if set(rows) == set(sources) else [f"students {sorted(rows)} != expected {sorted(sources)}"]
    scores: dict[str, set[tuple[float, float]]] = {s: set() for s in SOURCES}
    for student, row in rows.items():
        if row["status"] != "graded" or row["sandboxed"] != "yes":
            problems.append(f"{student}: status {row['status']}, sandboxed {row['sandboxed']}: {row['message']}")
        if student in sources:
            scores[sources[student]].add((float(row["score"]), float(row["max_score"])))
    problems += score_problems(scores)
    if problems:
        raise BenchmarkError(f"gradebook {out / 'gradebook.csv'} is wrong:\n  " + "\n  ".join(problems))


def score_problems(scores: dict[str, set[tuple[float, float]]]) -> list[str]:
    """What is wrong with the (score, max) pairs seen per source."""
    problems = [f"{src}: copies scored differently: {sorted(seen)}" for src, seen in scores.items() if len(seen) != 1]
    if problems:
        return problems
    (alice, a_max), (bob, b_max), (dave, d_max) = (next(iter(scores[s])) for s in SOURCES)
    if not a_max > 0 or not a_max == b_max == d_max:
        problems.append(f"max scores differ or are 0: {a_max}, {b_max}, {d_max}")
    if alice != a_max:
        problems.append(f"alice (correct) scored {alice} / {a_max}, expected full marks")
    if not 0 < bob < b_max:
        problems.append(f"bob (partly right) scored {bob} / {b_max}, expected partial credit")
    if dave != 0:
        problems.append(f"dave (blank) scored {dave} / {d_max}, expected 0")
    return problems


def results_table(rows: list[tuple[str, float]], count: int, cores: int) -> Table:
    """Wall time, seconds per notebook and ratio to the baseline (the first row)."""
    table = Table(title=f"{count} notebooks, {cores} cores")
    for name, justify in (("run", "left"), ("wall s", "right"), ("s / notebook", "right"), ("vs nbclient", "right")):
        table.add_column(name, justify=justify)
    baseline = rows[0][1]
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.1f}", f"{seconds / count:.2f}", f"{seconds / baseline:.2f}x")
    return table


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time grade against sequential nbclient on the example lab.")
    p.add_argument("-n", "--count", type=int, default=40, help="number of submissions (default: 40)")
    p.add_argument("--skip-sequential", action="store_true", help="do not also time grade -j 1")
    args = p.parse_args()
    if args.count < len(SOURCES):
        p.error(f"--count must be at least {len(SOURCES)}")
    return args


def benchmark(args: argparse.Namespace, console: Console) -> None:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        folder = Path(tmp) / "submissions"
        sources = build_submissions(folder, args.count)
        paths = sorted(folder.glob("*.ipynb"))
        with console.status("baseline: nbclient, one notebook after the other"):
            rows = [("nbclient, sequential, bare", time_baseline(paths))]
        runs = [(f"grade -j {cores} (default)", None)] + ([] if args.skip_sequential else [("grade -j 1", 1)])
        for i, (name, jobs) in enumerate(runs):
            out = Path(tmp) / f"out{i}"
            with console.status(name):
                seconds = time_grade(folder, out, jobs)
            verify_gradebook(out, sources)
            rows.append((name, seconds))
    console.print(results_table(rows, args.count, cores))
    print(f"ratio grade/nbclient: {rows[1][1] / rows[0][1]:.2f}")


def main() -> int:
    args = parse_args()
    console = Console()
    try:
        benchmark(args, console)
    except BenchmarkError as exc:
        console.print("[red]benchmark failed:[/]", escape(str(exc)), highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
