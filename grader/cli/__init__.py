"""The ``grade`` command.

    grade PATH... [--out DIR] [-j N] [--lab ID] [--course DIR] [--backend NAME | --no-sandbox] [--force]
    grade check NOTEBOOK [-k EXPR] [--lab ID] [--course DIR]
    grade assign SOLUTION_DIR... [--check]
    grade image build [--base IMAGE]
    grade init-ci --student|--instructor [--gitlab] [--force] [DIR]
    grade export gradescope LAB [--out FILE] [--course DIR] | grade export canvas [--out FILE] [--grades DIR]
    grade report [--grades DIR] [--student S] [--lab L] [--history]
    grade llm-server [--host H] [--port P]

``grade`` also writes grades/<student>/<lab-id>.html (grader/feedback.py) and
appends every result to grades/history.sqlite (grader/history.py).

``grade`` and ``grade check`` also take ``--fail-under SCORE`` and ``--junit FILE``
and write GitHub Actions output when run there (see grader/ci.py).

Exit status: 0 when every submission got a row, 1 when the grader itself
failed on something (the rows are still written), 2 for a usage error,
130 when interrupted (what was graded is kept; rerun to finish),
3 when --fail-under SCORE is given and a result scores below SCORE percent.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from rich.console import Console

from grader.course import assign as assign_mod
from grader.kits.llm import server as llm_server
from grader.report import ci
from grader.batch.run import run_batch
from grader.course.layout import Course, CourseError
from grader.course.discover import Submission, discover, metadata_lab
from grader.report.lms import cmd_export
from grader.report.feedback import publisher
from grader.results.history import cmd_report
from grader.engine.sandbox.image import ImageError
from grader.report.workflows import cmd_init_ci
from grader.report.terminal import progress, summary_table, tests_table
from grader.runner import Job, grade
from grader.engine.sandbox import SandboxUnavailable, get_backend

COMMANDS = ("check", "assign", "image", "init-ci", "export", "report", "llm-server")


class UsageError(Exception):
    """Something the user must change in how they called ``grade``."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(stderr=False)
    try:
        if argv and argv[0] in COMMANDS:
            command, rest = argv[0], argv[1:]
            return {"check": cmd_check, "assign": cmd_assign, "image": cmd_image,
                    "init-ci": cmd_init_ci, "export": cmd_export, "report": cmd_report,
                    "llm-server": cmd_llm_server}[command](rest, console)
        return cmd_grade(argv, console)
    except (UsageError, CourseError, SandboxUnavailable, FileNotFoundError, assign_mod.AssignError) as exc:
        print(f"grade: error: {exc}", file=sys.stderr)
        return 2
    except ImageError as exc:
        print(f"grade: image build failed: {exc}", file=sys.stderr)
        return 1


def grade_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade", description="Grade notebooks in a sandbox against the lab's tests. "
                                "Other commands: " + ", ".join(f"'grade {c}'" for c in COMMANDS) + ".")
    p.add_argument("paths", nargs="+", type=Path, help="notebooks, zips, or folders of them")
    p.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    p.add_argument("-j", "--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    p.add_argument("--lab", help="grade every notebook as this lab, whatever its metadata says")
    p.add_argument("--course", type=Path, help="the course folder (default: the current folder)")
    p.add_argument("--backend", default="bwrap", help="sandbox backend: bwrap (default) or docker")
    p.add_argument("--no-sandbox", action="store_true", help="run student code unsandboxed (marked in results)")
    p.add_argument("--force", action="store_true", help="regrade everything, even results that still hold")
    ci.add_arguments(p)
    return p


def cmd_grade(argv: list[str], console: Console) -> int:
    args = grade_parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j must be at least 1")
    course = Course.find(args.course)
    if args.lab is not None:
        course.lab(args.lab)
    backend = _require_backend("none" if args.no_sandbox else args.backend,
                               "use --no-sandbox to grade without one, at your own risk")
    subs = discover(args.paths, course.lab_ids(), args.lab)
    if not subs:
        raise UsageError("no notebooks found under " + ", ".join(map(str, args.paths)))
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        with progress(console, len(subs)) as advance:
            results, errors = run_batch(subs, course, args.out, backend, args.jobs, args.force,
                                        publisher(args.out, course, advance))
    except KeyboardInterrupt:
        print(f"grade: interrupted; finished results are kept in {args.out} (rerun to grade the rest)",
              file=sys.stderr, flush=True)
        # Workers, kernels and the gradebook are already dealt with. Interpreter shutdown after an
        # interrupted process pool sometimes dies of SIGINT itself (exit -2 instead of 130): skip it.
        os._exit(130)
    console.print(summary_table(results))
    if not backend.sandboxed:
        console.print("[yellow]graded WITHOUT a sandbox: results are marked unsandboxed[/]")
    console.print(f"gradebook: {args.out / 'gradebook.csv'}")
    for error in errors:
        print(f"grade: grader error: {error}", file=sys.stderr)
    status = ci.publish(results, args)
    return 1 if errors else status


def _interrupt_once(signum, frame) -> None:
    """Ctrl-C: stop the batch once; further interrupts must not cut the clean exit short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def cmd_check(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade check", description="Run a lab's public tests on your notebook.")
    p.add_argument("notebook", type=Path)
    p.add_argument("-k", dest="select", help="only tests matching this pytest -k expression (e.g. q1)")
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


def cmd_assign(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade assign", description="Generate student notebooks from solutions.")
    p.add_argument("solutions", nargs="+", type=Path, help="solution folders: solutions/<lab-id>")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if labs/ is out of date")
    args = p.parse_args(argv)
    stale_any = False
    for folder in args.solutions:
        if not (folder / "solution.ipynb").is_file():
            raise UsageError(f"{folder}: no solution.ipynb here")
        lab = Course(folder.resolve().parent.parent).lab(folder.resolve().name)
        if args.check:
            stale = assign_mod.out_of_date(lab)
            stale_any |= bool(stale)
            for path in stale:
                console.print(f"out of date: {path}")
        else:
            for path in assign_mod.assign(lab):
                console.print(f"wrote {path}")
    return 1 if stale_any else 0


def cmd_image(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade image", description="Build the Docker backend's kernel image, offline.")
    p.add_argument("action", choices=["build"])
    p.add_argument("--base", help="base image (default: a Debian root file system made with debootstrap)")
    args = p.parse_args(argv)
    import docker

    from grader.engine.sandbox import image
    try:
        client = docker.from_env(timeout=image.BUILD_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxUnavailable(f"no Docker engine answers ({exc}); start dockerd") from None
    tag = image.build(client, args.base, log=console.print)
    console.print(f"image: {tag}")
    return 0


def cmd_llm_server(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade llm-server",
                                description="Serve the grader's OpenAI-compatible test server on loopback.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=llm_server.PORT, help=f"port (default: {llm_server.PORT})")
    args = p.parse_args(argv)
    server = llm_server.Server(host=args.host, port=args.port)
    server.start()
    console.print(f"export OPENAI_BASE_URL=http://{args.host}:{args.port}/v1")
    console.print(f"export OPENAI_API_KEY={llm_server.DUMMY_KEY}")
    console.print("serving the grader's test model; Ctrl-C to stop")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _require_backend(name: str, hint: str):
    try:
        return get_backend(name)
    except SandboxUnavailable as exc:
        raise SandboxUnavailable(f"{exc}; {hint}") from None
