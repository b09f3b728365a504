"""``grade review [--grades DIR] [--course DIR] [--port P] [--reviewer NAME]``: the review app.

It serves grader.review.app on 127.0.0.1 only and prints the URL with its token, which every
request needs (see that module), then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import socket
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.course.layout import Course, CourseError
from grader.errors import UsageError
from grader.results import history
from grader.review.serve import HOST, Background


def cmd_review(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade review", description="Review the grades in a browser: read each "
                                "answer, override a test's points or grade an item by hand, with a comment.")
    p.add_argument("--grades", type=Path, default=Path("grades"), help="the grades folder (default: ./grades)")
    p.add_argument("--course", type=Path, help="the course folder, for the labs' titles (default: here, if one)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--reviewer", help="the name the audit trail records (default: your user name)")
    args = p.parse_args(argv)
    if not history.history_path(args.grades).is_file():
        raise UsageError(f"no grade history at {history.history_path(args.grades)}: run grade first")
    try:
        from grader.review.app import Settings, make_app, new_token
    except ImportError as exc:
        raise UsageError(f"grade review needs FastAPI and uvicorn: pip install 'grader[api]' ({exc})") from None
    port = free_port(args.port)
    settings = Settings(args.grades.resolve(), _course(args.course), new_token(), args.reviewer or _user(), port)
    with contextlib.suppress(KeyboardInterrupt), Background(make_app(settings), port) as running:
        # listening before the URL is printed
        console.print(f"review {escape(str(args.grades))} at http://{HOST}:{port}/?token={settings.token}",
                      soft_wrap=True)
        console.print("Ctrl-C to stop", highlight=False)
        running.wait()
    return 0


def free_port(port: int) -> int:
    """``port`` if it can be listened on at HOST now, any free one for 0; UsageError if not."""
    if not 0 <= port < 65536:
        raise UsageError(f"--port {port}: a port is a number from 1 to 65535")
    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn will
            sock.bind((HOST, port))
            return sock.getsockname()[1]
    except OSError as exc:
        raise UsageError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None


def _course(folder: Path | None) -> Course | None:
    try:
        return Course.find(folder)
    except (CourseError, FileNotFoundError):
        if folder is not None:
            raise
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
