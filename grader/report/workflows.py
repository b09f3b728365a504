"""``grade init-ci``: put a CI workflow template into a repository.

    grade init-ci --student|--instructor [--gitlab] [--force] [DIR]

The templates are package data (``grader/ci_templates/``), so the command
works from a pip-installed grader; ``ci/`` at the repository root holds the
same files for people reading them on the web, and a test keeps both equal.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.results.store import atomic_write

DESTINATIONS = {"github": Path(".github/workflows/grade.yml"), "gitlab": Path(".gitlab-ci.yml")}


def template(platform: str, role: str) -> str:
    """The workflow text for ``platform`` (github, gitlab) and ``role`` (student, instructor)."""
    return (resources.files("grader") / "ci_templates" / platform / f"{role}.yml").read_text(encoding="utf-8")


def write_template(repo: Path, platform: str, role: str, force: bool) -> Path:
    """Write the template into ``repo``; FileExistsError if the file is there and not ``force``.
    Without ``force`` the file is created exclusively, so nothing is ever overwritten by a race."""
    path = repo / DESTINATIONS[platform]
    text = template(platform, role)
    if force:
        atomic_write(path, text)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
    return path


def leak_warning(repo: Path, role: str) -> str | None:
    """A student repository must never hold hidden tests: say so if this one looks like a course
    with ``solutions/`` in it (students could read them, and print them from the workflow)."""
    if role == "student" and (repo / "solutions").exists():
        return (f"{repo / 'solutions'} exists: a student repository must not contain solutions/ "
                "(hidden tests); make the student template from labs/ only")
    return None


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
        print(f"grade: error: {args.dir}: no such folder", file=sys.stderr)
        return 2
    try:
        path = write_template(args.dir, "gitlab" if args.gitlab else "github", args.role, args.force)
    except FileExistsError:
        target = args.dir / DESTINATIONS["gitlab" if args.gitlab else "github"]
        print(f"grade: error: {target} exists; use --force to overwrite it", file=sys.stderr)
        return 2
    warning = leak_warning(args.dir, args.role)
    if warning:
        print(f"grade: warning: {warning}", file=sys.stderr)
    console.print(f"wrote {escape(str(path))}: set GRADER in it to where pip gets the grader, then commit it")
    return 0
