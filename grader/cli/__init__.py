"""The ``grade`` command.

    grade PATH... [--out DIR] [-j N] [--lab ID] [--course DIR] [--backend NAME | --no-sandbox] [--force]
    grade check NOTEBOOK [-k EXPR] [--lab ID] [--course DIR]
    grade assign SOLUTION_DIR... [--check]
    grade import nbgrader|otter SOURCE [--course DIR] [--nbgrader-scoring] [--skip-solution-check]
    grade image build [--base IMAGE]
    grade init-ci --student|--instructor [--gitlab] [--force] [DIR]
    grade export gradescope LAB [--out FILE] [--course DIR] | grade export canvas [--out FILE] [--grades DIR]
    grade report [--grades DIR] [--student S] [--lab L] [--history | --changes]
    grade review [--grades DIR] [--course DIR] [--port P] [--reviewer NAME]
    grade similarity PATH... --lab ID [--out DIR] [--course DIR]
    grade <kit command> ...   (a kit's own, such as grade llm-server [--host H] [--port P])

``grade`` also writes grades/<student>/<lab-id>.html (grader/report/feedback.py) and
appends every result to grades/history.sqlite (grader/results/history.py).

``grade`` and ``grade check`` also take ``--fail-under SCORE`` and ``--junit FILE``
and write GitHub Actions output when run there (see grader/report/ci.py).

Exit status: 0 when every submission got a row, 1 when the grader itself
failed on something (the rows are still written), 2 for a usage error,
130 when interrupted (what was graded is kept; rerun to finish),
3 when --fail-under SCORE is given and a result scores below SCORE percent.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from grader import kits
from grader.cli.commands import cmd_assign, cmd_export, cmd_image, cmd_init_ci, cmd_report
from grader.cli.grade import cmd_check, cmd_grade
from grader.cli.importing import cmd_import
from grader.cli.review import cmd_review
from grader.cli.similarity import cmd_similarity
from grader.errors import ExitCode, GraderError, UsageError

COMMANDS = {"check": cmd_check, "assign": cmd_assign, "import": cmd_import, "image": cmd_image,
            "init-ci": cmd_init_ci, "export": cmd_export, "report": cmd_report, "review": cmd_review,
            "similarity": cmd_similarity}


def main(argv: list[str] | None = None) -> int:
    """Run one command; a GraderError becomes one line on stderr and its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    console = Console(stderr=False)
    try:
        return int(_dispatch(argv, console))
    except FileNotFoundError as exc:  # a path the user gave that is not there
        print(f"grade: error: {one_line(exc)}", file=sys.stderr)
        return ExitCode.USAGE_ERROR
    except GraderError as exc:
        kind = "error" if isinstance(exc, UsageError) else "grader error"
        print(f"grade: {kind}: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # before a command handles Ctrl-C itself (finding the submissions, say)
        print("grade: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


def one_line(exc: BaseException) -> str:
    """An error's message on one line, whatever it holds (tests that do not load, say, one line
    each): what follows "grade: error:" is what a script or a student reads."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def _dispatch(argv: list[str], console: Console) -> int:
    """``grade <command> ...``, a kit's command, or the batch ``grade PATH...``."""
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:], console)
    kit_command = kits.command(argv[0]) if argv and not Path(argv[0]).exists() else None
    if kit_command is not None:
        return kit_command(argv[1:], console)
    helping = bool({"-h", "--help"} & set(argv))  # only then load every kit to name their commands
    return cmd_grade(argv, console, [*COMMANDS, *kits.commands()] if helping else list(COMMANDS))
