"""``grade PATH...`` (the instructor's batch) and ``grade check NOTEBOOK`` (a student's own check).

Parse the arguments, call the course, batch and runner, print the tables:
what a command decides lives in those modules, not here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.batch.executors import Executor, LocalExecutor
from grader.batch.run import run_batch
from grader.batch.solution import check_solutions, require_full_marks
from grader.course.deadlines import EXTENSIONS_FILE, Deadlines
from grader.course.discover import Submission, discover, shown
from grader.course.layout import Course
from grader.course.notebook_file import metadata_lab
from grader.course.submitted import SubmissionTimes, read_export
from grader.engine.sandbox import Backend, get_backend
from grader.errors import ExitCode, SandboxUnavailable, UsageError
from grader.report import ci
from grader.report.feedback import publisher
from grader.report.terminal import progress, summary_table, tests_table
from grader.results.model import Result
from grader.review.store import reviewed_all
from grader.runner import Job, grade

ExecutorFactory = Callable[[int | None], Executor]


def grade_parser(commands: list[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade", description="Grade notebooks in a sandbox against the lab's tests. "
                                "Other commands: " + ", ".join(f"'grade {c}'" for c in commands) + ".")
    p.add_argument("paths", nargs="+", type=Path, help="notebooks, zips, or folders of them")
    p.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    p.add_argument("-j", "--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a Dask cluster: a scheduler's address "
                   "(tcp://host:8786), or local[:N] for a local cluster of N workers (see the README)")
    p.add_argument("--lab", help="grade every notebook as this lab, whatever its metadata says")
    p.add_argument("--course", type=Path, help="the course folder (default: the current folder)")
    p.add_argument("--backend", default="bwrap", help="sandbox backend: bwrap (default) or docker")
    p.add_argument("--no-sandbox", action="store_true", help="run student code unsandboxed (marked in results)")
    p.add_argument("--force", action="store_true", help="regrade everything, even results that still hold")
    add_solution_check_argument(p)
    add_deadline_arguments(p)
    ci.add_arguments(p)
    return p


def add_deadline_arguments(p: argparse.ArgumentParser) -> None:
    """Where the late policy's inputs come from (grader.course.deadlines, grader.course.submitted)."""
    p.add_argument("--extensions", type=Path, help=f"per-student extensions (default: the course's {EXTENSIONS_FILE}, "
                   "if there is one)")
    p.add_argument("--times", type=Path, help="an LMS export (CSV) with each student's submission time; without "
                   "it, the commit time in the repository holding the submissions, else the file's time")
    p.add_argument("--student-column", help="the --times column naming the student (default: found by its header)")
    p.add_argument("--time-column", help="the --times column with the submission time (default: found by its header)")
    p.add_argument("--no-deadlines", action="store_true", help="apply no deadline (Gradescope applies its own)")


def deadlines_for(args: argparse.Namespace, course: Course, subs: list[Submission]) -> Deadlines | None:
    """The deadlines the batch applies (none with --no-deadlines), and a warning on stderr for each
    extension that cannot take effect (grader.course.deadlines.Deadlines.warnings)."""
    if args.no_deadlines:
        return None
    dated = sorted(lab for lab in {s.lab for s in subs} & set(course.lab_ids()) if course.lab(lab).settings.deadline)
    if args.times and len(dated) > 1:
        raise UsageError(f"--times {args.times}: an LMS export holds one assignment's times, and these "
                         f"submissions are of {len(dated)} labs with a deadline ({', '.join(dated)}); "
                         "grade each lab with --lab and its export")
    export = (read_export(args.times, args.student_column, args.time_column, {s.student for s in subs})
              if args.times else None)
    deadlines = Deadlines.load(course, SubmissionTimes(args.paths, export), args.extensions)
    for line in deadlines.warnings(subs):
        print(f"grade: warning: {line}", file=sys.stderr)
    return deadlines


def export_misses(args: argparse.Namespace, results: list[Result]) -> list[str]:
    """A line for each late record whose time did not come from the --times export, and why it matters."""
    missed = [r for r in results if args.times and r.late is not None and r.late.source != "export"]
    return [f"{shown(r.student)} · {shown(r.lab)}: not in {args.times}; {r.late.source_detail} used" for r in missed]


def cmd_grade(argv: list[str], console: Console, commands: list[str]) -> int:
    args = grade_parser(commands).parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j must be at least 1")
    if args.jobs is not None and args.dask is not None:
        raise UsageError("-j does not apply with --dask: each worker grades as many at once as its resources allow")
    course = Course.find(args.course)
    if args.lab is not None:
        course.lab(args.lab)
    backend = require_backend("none" if args.no_sandbox else args.backend,
                              "use --no-sandbox to grade without one, at your own risk")
    subs = discover(args.paths, course.lab_ids(), args.lab)
    if not subs:
        raise UsageError("no notebooks found under " + ", ".join(map(str, args.paths)))
    output_folder(args.out)
    deadlines = deadlines_for(args, course, subs)
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        with executors(args.dask, backend) as factory:
            if not args.skip_solution_check:
                check_labs(course, {s.lab for s in subs if s.lab in course.lab_ids()}, backend, args.jobs, console,
                           factory)
            with progress(console, len(subs)) as advance:
                results, errors = run_batch(subs, course, args.out, backend, args.jobs, args.force,
                                            publisher(args.out, course, advance), executor_factory=factory,
                                            deadlines=deadlines)
    except KeyboardInterrupt:
        print(f"grade: interrupted; finished results are kept in {args.out} (rerun to grade the rest)",
              file=sys.stderr, flush=True)
        # Workers, kernels and the gradebook are already dealt with. Interpreter shutdown after an
        # interrupted process pool sometimes dies of SIGINT itself (exit -2 instead of 130): skip it.
        os._exit(ExitCode.INTERRUPTED)
    shown = reviewed_all(args.out, results)
    console.print(summary_table(shown))
    for line in duplicate_lines(subs) + export_misses(args, results):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not backend.sandboxed:
        console.print("[yellow]graded WITHOUT a sandbox: results are marked unsandboxed[/]")
    console.print(f"gradebook: {args.out / 'gradebook.csv'}")
    for error in errors:
        print(f"grade: grader error: {error}", file=sys.stderr)
    status = ci.publish([found.result for found in shown], args)
    return ExitCode.GRADER_ERROR if errors else status


def output_folder(out: Path) -> None:
    """Make the ``--out`` folder before grading: a file in its place, or a place where no folder
    can be made, is the user's one-line mistake now rather than a traceback halfway through."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: this is a file; --out names the folder the grades go to")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot make this folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: this folder cannot be written to")


def duplicate_lines(subs: list[Submission]) -> list[str]:
    """One line per (student, lab) of whom more than one notebook was found: which was graded,
    which were not (named as in the result's message, a few and a count)."""
    return [f"{shown(s.student)} · {shown(s.lab)}: graded {shown(s.origin)}; {s.duplicate_note}"
            for s in subs if s.duplicate_note]


def add_solution_check_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--skip-solution-check", action="store_true",
                   help="do not grade the lab's solution first (by default a lab whose solution "
                        "loses points is refused)")


@contextlib.contextmanager
def executors(dask: str | None, backend: Backend) -> Iterator[ExecutorFactory]:
    """What grades the batch: processes on this machine, or the Dask cluster at ``dask``, connected
    (its workers checked) for the solution check and the batch, and closed after both."""
    if dask is None:
        yield LocalExecutor
        return
    from grader.batch.cluster import DaskExecutor  # Dask is imported only by those who use it

    with DaskExecutor(dask, backend.name) as executor:
        yield executor


def check_labs(course: Course, lab_ids: set[str], backend: Backend, workers: int | None, console: Console,
               factory: ExecutorFactory = LocalExecutor) -> None:
    """Grade each lab's solution (or recall that it passed) and stop, naming every failing test,
    unless each one gets full marks."""
    if not lab_ids:
        return
    with console.status(escape(f"grading the solution of {', '.join(sorted(lab_ids))}")):
        checks = check_solutions(course, lab_ids, backend, workers, executor_factory=factory)
    for lab_id, check in sorted(checks.items()):
        if check is None:
            console.print(f"{lab_id}: no solution notebook to check (solutions/{lab_id}/solution.ipynb)",
                          markup=False, highlight=False)
        elif check.passed:
            console.print(check.describe(), markup=False, highlight=False)
    require_full_marks(checks)


def _interrupt_once(signum, frame) -> None:
    """Ctrl-C: stop the batch once; further interrupts must not cut the clean exit short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def cmd_check(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade check", description="Run a lab's public tests on your notebook.")
    p.add_argument("notebook", type=Path)
    p.add_argument("-k", dest="select", help="only the tests of this exercise (q1: exactly its tests, not q10's), "
                   "or of this pytest -k expression")
    p.add_argument("--lab", help="the lab id, if the notebook's metadata lacks it")
    p.add_argument("--course", type=Path, help="the course folder (default: found above the notebook)")
    ci.add_arguments(p)
    args = p.parse_args(argv)
    if not args.notebook.is_file():
        raise UsageError(f"{args.notebook}: no such notebook")
    course = Course.find(args.course or find_course_root(args.notebook, args.lab))
    backend = "bwrap"
    try:
        get_backend(backend)
    except SandboxUnavailable as exc:
        backend = "none"
        console.print(f"[yellow]no sandbox here ({exc}): running the public tests unsandboxed[/]")
    sub = discover([args.notebook], course.lab_ids(), args.lab)[0]
    if sub.problem:
        raise UsageError(f"{args.notebook}: {sub.problem}")
    result = grade(Job(sub, course.root, backend, hidden=False, select=args.select))
    console.print(tests_table(result))
    if result.message:
        console.print(result.message)
    return ci.publish([result], args, notebook=args.notebook)


def find_course_root(notebook: Path, lab: str | None) -> Path:
    """The nearest folder above ``notebook`` whose ``labs/`` holds the notebook's lab
    (its ``lab.ipynb``: a folder of test notebooks named ``labs`` is not a course)."""
    lab = lab or _metadata_lab(notebook)
    for folder in notebook.resolve().parents:
        if (folder / "labs").is_dir() and (lab is None or (folder / "labs" / lab / "lab.ipynb").is_file()):
            return folder
    raise UsageError(f"{notebook} is not inside a course with lab {lab!r} (no labs/{lab}/ above it); use --course")


def _metadata_lab(notebook: Path) -> str | None:
    try:
        return metadata_lab(Submission("", notebook).read_bytes())  # bounded, links refused
    except (OSError, ValueError):
        return None


def require_backend(name: str, hint: str) -> Backend:
    try:
        return get_backend(name)
    except SandboxUnavailable as exc:
        raise SandboxUnavailable(f"{exc}; {hint}") from None
