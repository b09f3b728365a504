"""The instructor's other commands: assign, image, init-ci, export and report.

Each parses its arguments, calls the module that does the work and prints
what it did; a mistake in how it was called raises UsageError (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.cli.grade import add_solution_check_argument, check_labs, require_backend
from grader.course import assign as assign_mod
from grader.course.layout import Course, Lab
from grader.engine.sandbox import image
from grader.engine.sandbox.docker import engine_client
from grader.errors import ExitCode, UsageError
from grader.report import workflows
from grader.report.changes import changes
from grader.report.lms import CANVAS_FILE, gradescope_file, gradescope_zip, write_canvas
from grader.report.terminal import changes_table, history_table
from grader.results import history
from grader.review.store import trail


def cmd_assign(argv: list[str], console: Console) -> int:
    """Write each lab's student notebook, then grade its solution: a lab that does not give its
    own solution full marks is reported, test by test, and the command fails."""
    p = argparse.ArgumentParser(prog="grade assign", description="Generate student notebooks from solutions, "
                                "then grade each solution in the sandbox against the public and hidden tests.")
    p.add_argument("solutions", nargs="+", type=Path, help="solution folders: solutions/<lab-id>")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if labs/ is out of date")
    p.add_argument("--backend", default="bwrap", help="sandbox backend for the solution's grading (default: bwrap)")
    p.add_argument("--no-sandbox", action="store_true", help="grade the solution unsandboxed")
    add_solution_check_argument(p)
    args = p.parse_args(argv)
    labs = [_solution_lab(folder) for folder in args.solutions]
    if args.check:
        stale = [path for _, lab in labs for path in assign_mod.out_of_date(lab)]
        for path in stale:
            console.print(f"out of date: {path}")
        return ExitCode.GRADER_ERROR if stale else ExitCode.OK
    for _, lab in labs:
        for path in assign_mod.assign(lab):
            console.print(f"wrote {path}")
    if not args.skip_solution_check:
        backend = require_backend("none" if args.no_sandbox else args.backend,
                                  "use --no-sandbox, or --skip-solution-check to write without grading")
        for course in dict.fromkeys(course for course, _ in labs):
            check_labs(course, {lab.id for c, lab in labs if c == course}, backend, None, console)
    return ExitCode.OK


def _solution_lab(folder: Path) -> tuple[Course, Lab]:
    """The course and lab of ``solutions/<lab-id>``; UsageError if it holds no solution."""
    if not (folder / "solution.ipynb").is_file():
        raise UsageError(f"{folder}: no solution.ipynb here")
    course = Course(folder.resolve().parent.parent)
    return course, course.lab(folder.resolve().name)


def cmd_image(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade image", description="Build the Docker backend's kernel image, offline.")
    p.add_argument("action", choices=["build"])
    p.add_argument("--base", help="base image (default: a Debian root file system made with debootstrap)")
    args = p.parse_args(argv)
    client = engine_client(timeout=image.BUILD_TIMEOUT)
    tag = image.build(client, args.base, log=console.print)
    console.print(f"image: {tag}")
    return 0


def cmd_init_ci(argv: list[str], console: Console) -> int:
    """The ``grade init-ci`` command; exit status 2 for a usage problem, like every command."""
    p = argparse.ArgumentParser(prog="grade init-ci", description="Write a CI workflow template into a repository.")
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("--student", dest="role", action="store_const", const="student",
                      help="public tests on every push (the assignment's template repository)")
    role.add_argument("--instructor", dest="role", action="store_const", const="instructor",
                      help="hidden tests over submissions/ (the private grading repository)")
    p.add_argument("--gitlab", action="store_true", help="GitLab CI (.gitlab-ci.yml) instead of GitHub Actions")
    p.add_argument("--force", action="store_true", help="overwrite an existing workflow file")
    p.add_argument("dir", nargs="?", type=Path, default=Path("."), help="the repository (default: here)")
    args = p.parse_args(argv)
    if not args.dir.is_dir():
        raise UsageError(f"{args.dir}: no such folder")
    try:
        path = workflows.write_template(args.dir, "gitlab" if args.gitlab else "github", args.role, args.force)
    except FileExistsError:
        target = args.dir / workflows.DESTINATIONS["gitlab" if args.gitlab else "github"]
        raise UsageError(f"{target} exists; use --force to overwrite it") from None
    warning = workflows.leak_warning(args.dir, args.role)
    if warning:
        print(f"grade: warning: {warning}", file=sys.stderr)
    console.print(f"wrote {escape(str(path))}: set GRADER in it to where pip gets the grader, then commit it")
    return 0


def cmd_export(argv: list[str], console: Console) -> int:
    """``grade export gradescope LAB [--out FILE] [--course DIR]`` and
    ``grade export canvas [--out FILE] [--grades DIR]``."""
    p = argparse.ArgumentParser(prog="grade export", description="Export a lab or the grades to an LMS.")
    sub = p.add_subparsers(dest="target", required=True)
    gs = sub.add_parser("gradescope", help="a Gradescope autograder zip for one lab")
    gs.add_argument("lab")
    gs.add_argument("--out", help="the zip to write, or a folder to write gradescope-<lab>.zip into (a path "
                    "ending in / or a folder that exists; default: gradescope-<lab>.zip here)")
    gs.add_argument("--course", type=Path, help="the course folder (default: the current folder)")
    cv = sub.add_parser("canvas", help="a Canvas gradebook import CSV of the latest grades")
    cv.add_argument("--out", help=f"the CSV to write, or a folder to write {CANVAS_FILE} into (a path ending "
                    f"in / or a folder that exists; default: {CANVAS_FILE} here)")
    cv.add_argument("--grades", type=Path, default=Path("grades"), help="the grades folder (default: ./grades)")
    args = p.parse_args(argv)
    if args.target == "gradescope":
        path = gradescope_zip(Course.find(args.course), args.lab, output_file(args.out, gradescope_file(args.lab)))
    else:
        path = write_canvas(args.grades, output_file(args.out, CANVAS_FILE))
    console.print(f"wrote {path}")
    return 0


def output_file(given: str | None, default_name: str) -> Path:
    """The file ``--out`` means: a path that ends in a separator or names a folder that exists is
    that folder, and the file gets its default name inside it (``--out dir/`` never writes a
    file named ``dir``). Read from the string as typed, since Path drops a trailing "/"."""
    if given is None:
        return Path(default_name)
    folder = given.endswith(("/", os.sep)) or Path(given).is_dir()
    return Path(given) / default_name if folder else Path(given)


def cmd_report(argv: list[str], console: Console) -> int:
    """``grade report [--grades DIR] [--student S] [--lab L] [--history | --changes]``: the latest
    grades from the history, every recorded grade with ``--history``, or what the last regrade
    changed, per test, and why with ``--changes``."""
    p = argparse.ArgumentParser(prog="grade report", description="The recorded grades, from grades/history.sqlite.")
    p.add_argument("--grades", type=Path, default=Path("grades"), help="the grades folder (default: ./grades)")
    p.add_argument("--student", help="only this student")
    p.add_argument("--lab", help="only this lab")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--history", action="store_true", help="every regrade, not only the latest grade")
    shown.add_argument("--changes", action="store_true",
                       help="what the last regrade changed, per student and test, and why")
    args = p.parse_args(argv)
    found = history.rows(args.grades, args.student, args.lab, latest=not (args.history or args.changes))
    if not found and (args.student is not None or args.lab is not None):
        raise UsageError(_none_recorded(args.grades, args.student, args.lab))
    if args.changes:
        console.print(changes_table(changes(found, trail(args.grades)), len({(r.student, r.lab) for r in found})))
    else:
        console.print(history_table(found, "History" if args.history else "Latest grades"))
    return 0


NAMED = 10  # students or labs named in a message; the rest are counted


def _none_recorded(grades: Path, student: str | None, lab: str | None) -> str:
    """Why ``--student``/``--lab`` selected nothing, naming what the history does hold."""
    students, labs = history.recorded(grades)
    where = history.history_path(grades)
    for kind, asked, known in (("student", student, students), ("lab", lab, labs)):
        if asked is not None and asked not in known:
            more = f" and {len(known) - NAMED} more" if len(known) > NAMED else ""
            listed = ", ".join(map(repr, known[:NAMED])) + more
            return f"no {kind} {asked!r} in {where}; its {kind}s: {listed or 'none'}"
    return f"{student!r} has no grade for lab {lab!r} in {where}"
