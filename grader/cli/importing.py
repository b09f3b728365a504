"""``grade import nbgrader|otter SOURCE [--course DIR]``: another tool's course as labs here.

Each lab is written under ``solutions/`` (grader.course.imports.write), its student notebook
generated as ``grade assign`` does (all of them or, on a failure, none: what the import made is
removed), and its solution graded unless told not to: an import that
does not give its own solution full marks is reported test by test, as an assign is. The
command says how many tests judge in the grader and how many could only run in the kernel.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
from pathlib import Path

from rich.console import Console

from grader.cli.grade import add_solution_check_argument, check_labs, require_backend
from grader.course import assign as assign_mod
from grader.course.imports.model import ImportedLab
from grader.course.imports.write import Written, write_lab
from grader.course.layout import Course
from grader.errors import ExitCode, UsageError

READERS = {"nbgrader": "read_source", "otter": "read_master"}  # each tool's module in grader.course.imports


def cmd_import(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade import", description="Import an nbgrader or otter-grader assignment "
                                "as labs of this course: solutions, tests and student notebooks.")
    p.add_argument("tool", choices=sorted(READERS), help="the format of SOURCE")
    p.add_argument("source", type=Path, help="nbgrader: a source notebook or source/<assignment>/ folder; "
                                             "otter: the master notebook")
    p.add_argument("--course", type=Path, default=Path("."), help="the course folder to write into (default: .)")
    p.add_argument("--backend", default="bwrap", help="sandbox backend for the solution's grading (default: bwrap)")
    p.add_argument("--nbgrader-scoring", action="store_true",
                   help="nbgrader only: score test cells as nbgrader does (stderr zeroes a cell, a number it "
                        "shows is partial credit); every test then runs in the kernel, where a submission could "
                        "forge it")
    add_solution_check_argument(p)
    args = p.parse_args(argv)
    if args.nbgrader_scoring and args.tool != "nbgrader":
        raise UsageError("--nbgrader-scoring is nbgrader's: otter's tests have no such rules")
    reader = getattr(importlib.import_module(f"grader.course.imports.{args.tool}"), READERS[args.tool])
    labs = reader(args.source, nbgrader_scoring=True) if args.nbgrader_scoring else reader(args.source)
    written = _write_all(args.course, labs, console)
    course = Course.find(args.course)
    for lab, done in zip(labs, written, strict=True):
        console.print(_summary(lab.lab_id, done), markup=False, highlight=False)
        for note in lab.notes:
            console.print(f"{lab.lab_id}: note: {note}", markup=False, highlight=False)
    automatic = {lab.lab_id for lab, done in zip(labs, written, strict=True) if done.converted + done.kernel_side}
    if automatic and not args.skip_solution_check:
        backend = require_backend(args.backend, "use --skip-solution-check to import without grading")
        check_labs(course, automatic, backend, None, console)
    return ExitCode.OK


def _write_all(root: Path, labs: list[ImportedLab], console: Console) -> list[Written]:
    """Every lab written and assigned, or none: a lab whose folder exists stops the import before
    anything is written, and a failure on the way removes the folders this import made."""
    made = [root / part / lab.lab_id for lab in labs for part in ("solutions", "labs")]
    taken = [str(folder) for folder in made if folder.exists()]
    if taken:
        raise UsageError(f"{', '.join(taken)} exist(s) already: remove to import again, or import elsewhere")
    try:
        written = [write_lab(root, lab) for lab in labs]
        course = Course.find(root)
        for lab in labs:
            for path in assign_mod.assign(course.lab(lab.lab_id)):
                console.print(f"wrote {path}", markup=False, highlight=False)
    except BaseException:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return written


def _summary(lab_id: str, done: Written) -> str:
    """One line per lab: its tests by kind (a lab with none to run has no solution to check)."""
    return (f"{lab_id}: {done.converted} test(s) judged in the grader, {done.kernel_side} kernel-side "
            f"(a submission could forge these), {done.manual} graded by hand"
            + ("" if done.converted + done.kernel_side else "; nothing to grade automatically"))
