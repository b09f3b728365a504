"""How the grader scales: its own memory with the batch's size, Dask workers, and the gradebook's rewrites.

Three tables, each against a baseline measured in the same run:

* **memory**: the peak RSS (``ru_maxrss``) of the process that runs the batch, not of its
  workers, at 100 and at 1,000 small submissions (copies of the example lab's alice, bob
  and dave). The batch is the real ``run_batch`` with the real LocalExecutor (-j 2), the
  ``grade`` command's result callback (history, pages) and its summary table, in a child
  process of its own; only the kernel is the tests' fake (tests/fakes.py), so that 1,000
  submissions take a minute and not an hour. The two peaks must be within 10 % of each
  other (ratio at most 1.10), or the run exits 1.
* **dask**: seconds per submission of ``grade --dask local:N`` for N = 1, 2 and 4 on 12
  copies of the same submissions, in the bubblewrap sandbox with the hidden tests (the
  solution check skipped: it is not the batch), and the efficiency against one worker
  (speedup / workers). Wall time includes starting the local cluster, so each is also
  shown past its start-up: the run's time less that of a run of one submission, per
  further submission. ``grade -j 2``, the local executor, is shown beside it for reference.
* **gradebook**: the time spent rewriting ``gradebook.csv`` per row, as a batch of 1k, 2k,
  4k and 8k synthetic results goes through run_batch's loop (each result's JSON written,
  then a rewrite offered: grader.results.gradebook), against the old rewrite after every
  result (the same writer with no patience) as the baseline. Linear means the time per row
  stays flat. The baseline writes n²/2 rows, so by default it stops at 4k (``--baseline-up-to``).
  Every final gradebook must hold every row, and the writer's time per row at the largest
  size must stay within 3x of the smallest (the baseline's grows with n), or the run exits 1.

Run from the repository root::

    .venv/bin/python benchmarks/scale.py [--skip-dask]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from grade_vs_nbclient import (
    SOURCES,
    BenchmarkError,
    build_submissions,
    read_gradebook,
    score_problems,
    time_grade,
    verify_gradebook,
)
from rich.console import Console
from rich.markup import escape
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes import FAKE_TASK  # noqa: E402 - the tests' folder is not a package

from grader.batch.executors import LocalExecutor  # noqa: E402
from grader.batch.run import run_batch  # noqa: E402
from grader.course.discover import discover  # noqa: E402
from grader.course.layout import Course  # noqa: E402
from grader.engine.sandbox import get_backend  # noqa: E402
from grader.report.feedback import publisher  # noqa: E402
from grader.report.terminal import summary_table  # noqa: E402
from grader.results.gradebook import GradebookWriter  # noqa: E402
from grader.results.model import Result, TestResult  # noqa: E402
from grader.results.store import write_gradebook, write_result  # noqa: E402

COURSE = REPO / "examples" / "course"
MiB = 2**20
MEMORY_LIMIT = 1.10  # peak at the largest batch over the peak at the smallest
FLAT_LIMIT = 3.0  # the writer's time per row, largest size over smallest (the baseline's grows n-fold)


# --- memory: the batch's own peak, in a child process ---------------------------------------------

def child_batch(folder: str, out: str) -> None:
    """In the child: what ``grade`` does with a batch, on the fake kernel; print the peak RSS as JSON."""
    folder, out = Path(folder), Path(out)
    course = Course(COURSE)
    subs = discover([folder], course.lab_ids())
    results, errors = run_batch(subs, course, out, get_backend("none"), 2, False,
                                publisher(out, course, lambda result: None),
                                executor_factory=functools.partial(LocalExecutor, task=FAKE_TASK))
    Console(file=io.StringIO(), width=120).print(summary_table(results))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: this process only
    print(json.dumps({"peak": peak_kib * 1024, "results": len(results), "errors": errors}))


def batch_peak(count: int, tmp: Path) -> tuple[float, int]:
    """Wall seconds and the batch process's peak RSS in bytes, for ``count`` fake-graded submissions."""
    folder, out = tmp / f"memory-{count}", tmp / f"memory-{count}-out"
    sources = build_submissions(folder, count)
    started = time.perf_counter()
    # Not this script as the child's __main__: every worker would import it again (multiprocessing's spawn).
    here = str(Path(__file__).parent)
    code = f"import sys; sys.path.insert(0, {here!r}); import scale; scale.child_batch(*sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, str(folder), str(out)], cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchmarkError(f"the batch of {count} failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["errors"] or report["results"] != count:
        raise BenchmarkError(f"the batch of {count}: {report['results']} results, errors {report['errors']}")
    check_fake_gradebook(out, sources)
    return seconds, report["peak"]


def check_fake_gradebook(out: Path, sources: dict[str, str]) -> None:
    """Every submission graded, each copy scored as its source (the fake runs unsandboxed)."""
    rows = {row["student"]: row for row in read_gradebook(out)}
    problems = [] if set(rows) == set(sources) else [f"{len(rows)} rows for {len(sources)} submissions"]
    scores: dict[str, set[tuple[float, float]]] = {s: set() for s in SOURCES}
    for student, row in rows.items():
        if row["status"] != "graded":
            problems.append(f"{student}: status {row['status']}: {row['message']}")
        elif student in sources:
            scores[sources[student]].add((float(row["score"]), float(row["max_score"])))
    problems += score_problems(scores)
    if problems:
        raise BenchmarkError(f"gradebook {out / 'gradebook.csv'} is wrong:\n  " + "\n  ".join(problems[:20]))


def memory_table(sizes: Sequence[int], tmp: Path, console: Console) -> float:
    """The memory table; returns the largest batch's peak over the smallest's."""
    rows = []
    for count in sizes:
        with console.status(f"memory: a batch of {count} on the fake kernel"):
            rows.append((count, *batch_peak(count, tmp)))
    table = Table(title="the batch process's own peak RSS (fake kernel, LocalExecutor -j 2)")
    for column in ("submissions", "wall s", "s / submission", "peak MiB", f"vs {sizes[0]}"):
        table.add_column(column, justify="right")
    for count, seconds, peak in rows:
        table.add_row(str(count), f"{seconds:.1f}", f"{seconds / count:.3f}", f"{peak / MiB:.1f}",
                      f"{peak / rows[0][2]:.3f}x")
    console.print(table)
    return rows[-1][2] / rows[0][2]


# --- dask: efficiency against one worker ----------------------------------------------------------

def dask_table(workers: Sequence[int], count: int, tmp: Path, console: Console) -> None:
    """Seconds per submission with ``--dask local:N``, and efficiency (speedup / N) against one worker:
    over the whole run, and past the start-up (the run's time less a run of one submission)."""
    sources = build_submissions(tmp / "dask-submissions", count)
    build_submissions(tmp / "dask-one", 1)
    runs = [(f"--dask local:{n}", n, ["--dask", f"local:{n}"]) for n in workers]
    runs.append(("-j 2 (local executor)", None, ["-j", "2"]))
    timed = []
    for i, (name, n, extra) in enumerate(runs):
        with console.status(f"grade {name}"):
            one = time_grade(tmp / "dask-one", tmp / f"dask-one-{i}", None, [*extra, "--skip-solution-check"])
            seconds = time_grade(tmp / "dask-submissions", tmp / f"dask-out-{i}", None,
                                 [*extra, "--skip-solution-check"])
        verify_gradebook(tmp / f"dask-out-{i}", sources)
        timed.append((name, n, seconds, (seconds - one) / (count - 1)))
    table = Table(title=f"{count} submissions, bubblewrap sandbox, {os.cpu_count()} cores; "
                        "past start-up: (the run - a run of 1) / (count - 1)")
    for column in ("run", "wall s", "s / sub", "efficiency", "past start-up: s / sub", "efficiency"):
        table.add_column(column, justify="left" if column == "run" else "right")
    whole, marginal = timed[0][2], timed[0][3]  # one worker's
    for name, n, seconds, past in timed:
        table.add_row(name, f"{seconds:.1f}", f"{seconds / count:.2f}", f"{whole / seconds / n:.2f}" if n else "",
                      f"{past:.2f}", f"{marginal / past / n:.2f}" if n else "")
    console.print(table)


# --- gradebook: rewrites per row as the batch grows -----------------------------------------------

def synthetic(count: int) -> list[Result]:
    """``count`` results as the example lab's: ten tests each, some failed."""
    return [Result(f"s{i:05d}", "00-warmup", "graded", execution_time=1.5, message="" if i % 7 else "a note",
                   tests=[TestResult(f"test_{j}", float((i + j) % 3 != 0), 1.0, "passed" if (i + j) % 3 else "failed")
                          for j in range(10)]) for i in range(count)]


def book_run(count: int, out: Path, patience: float | None) -> tuple[float, float, int, int]:
    """run_batch's loop over ``count`` results: (loop seconds, seconds rewriting, rewrites, rows written).
    ``patience`` None is the writer's own; 0 rewrites after every result, the old way."""
    spent = [0.0]

    def timed_write(out_dir: Path, results) -> None:
        started = time.perf_counter()
        write_gradebook(out_dir, results)
        spent[0] += time.perf_counter() - started

    book = GradebookWriter(out, write=timed_write, **({} if patience is None else {"patience": patience}))
    started, results = time.perf_counter(), []
    book.write(results)
    for result in synthetic(count):
        write_result(out, result)
        results.append(result)
        book.offer(results)
    book.finish(results)
    loop = time.perf_counter() - started
    if len(read_gradebook(out)) != count:
        raise BenchmarkError(f"the gradebook of {count} rows has {len(read_gradebook(out))}")
    return loop, spent[0], book.rewrites, book.rows_written


def gradebook_table(sizes: Sequence[int], baseline_up_to: int, tmp: Path, console: Console) -> float:
    """The gradebook table; returns the writer's time per row at the largest size over the smallest's."""
    rows = []
    for count in sizes:
        with console.status(f"gradebook: {count} rows"):
            new = book_run(count, tmp / f"book-{count}", None)
            old = book_run(count, tmp / f"book-old-{count}", 0) if count <= baseline_up_to else None
        rows.append((count, new, old))
    table = Table(title="rewriting gradebook.csv as the batch grows (each result's JSON written too); "
                  "written: rows per result, summed over rewrites; ms: rewriting, per result")
    for column in ("rows", "loop ms", "rewrites", "written", "ms", "vs first", "old: written", "ms", "vs first"):
        table.add_column(column, justify="right")
    new_first = rows[0][1][1] / sizes[0]
    old_first = rows[0][2][1] / sizes[0] if rows[0][2] else None
    for count, (loop, spent, rewrites, written), old in rows:
        cells = [str(count), f"{loop / count * 1000:.2f}", str(rewrites), f"{written / count:.1f}",
                 f"{spent / count * 1000:.3f}", f"{spent / count / new_first:.2f}x"]
        if old is None or old_first is None:
            cells += ["(skipped)", "", ""]
        else:
            cells += [f"{old[3] / count:.0f}", f"{old[1] / count * 1000:.3f}", f"{old[1] / count / old_first:.2f}x"]
        table.add_row(*cells)
    console.print(table)
    return rows[-1][1][1] / sizes[-1] / new_first


# --- the run ----------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--memory-sizes", type=int, nargs=2, default=[100, 1000], metavar=("SMALL", "LARGE"))
    p.add_argument("--dask-workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--dask-count", type=int, default=12, help="submissions graded on Dask (default: 12)")
    p.add_argument("--skip-dask", action="store_true", help="no Dask table (it needs grade --dask)")
    p.add_argument("--book-sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    p.add_argument("--baseline-up-to", type=int, default=4000,
                   help="the old every-result rewrite only up to this many rows (it is quadratic; default 4000)")
    args = p.parse_args()
    if min(*args.memory_sizes, args.dask_count) < len(SOURCES) or min(args.book_sizes) < 1:
        p.error(f"the batches need at least {len(SOURCES)} submissions (one of each source), the gradebooks a row")
    if 1 not in args.dask_workers[:1]:
        p.error("--dask-workers starts with 1: efficiency is against one worker")
    return args


def benchmark(args: argparse.Namespace, console: Console) -> list[str]:
    """Every table; the self-checks that failed."""
    failed = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        ratio = memory_table(args.memory_sizes, Path(tmp), console)
        print(f"memory ratio {args.memory_sizes[1]} / {args.memory_sizes[0]}: {ratio:.3f} (limit {MEMORY_LIMIT})")
        if ratio > MEMORY_LIMIT:
            failed.append(f"the batch's peak memory grew {ratio:.3f}x, over {MEMORY_LIMIT}")
        if not args.skip_dask:
            dask_table(args.dask_workers, args.dask_count, Path(tmp), console)
        flat = gradebook_table(sorted(args.book_sizes), args.baseline_up_to, Path(tmp), console)
        print(f"gradebook rewrite time per row, {max(args.book_sizes)} rows / {min(args.book_sizes)}: {flat:.2f}x")
        if flat > FLAT_LIMIT:
            failed.append(f"the gradebook's time per row grew {flat:.2f}x, over {FLAT_LIMIT}: not linear")
    return failed


def main() -> int:
    args = parse_args()
    console = Console(width=max(Console().width, 110))  # the tables' columns, unclipped in a pipe
    try:
        failed = benchmark(args, console)
    except BenchmarkError as exc:
        console.print("[red]benchmark failed:[/]", escape(str(exc)), highlight=False)
        return 1
    for line in failed:
        console.print("[red]benchmark failed:[/]", escape(line), highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
