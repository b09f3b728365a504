"""``grade api-server``: the grader's REST API, with its default data, on loopback for a
student's own machine; ``--writable NAME`` (repeatable) lets the notebook write to a
collection, as a lab's tests declare it (an empty one if there is none of that name)."""

from __future__ import annotations

import argparse

from rich.console import Console

from grader.errors import UsageError
from grader.kits.api.model import API, NAME
from grader.kits.api.server import PORT, Server
from grader.kits.served import serve_command


def cmd_api_server(argv: list[str], console: Console) -> int:
    """Serve until Ctrl-C, after printing the variable the notebook reads."""
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--writable", action="append", default=[], metavar="COLLECTION")
    args, rest = own.parse_known_args(argv)
    for name in args.writable:
        if not NAME.fullmatch(name):
            raise UsageError(f"--writable {name[:70]!r}: a collection's name is 1 to 64 letters, digits, '_' or '-'")
    return serve_command(rest, console, prog="grade api-server", what="the grader's support-desk REST API",
                         port=PORT, make=lambda host, port: writable(Server(host=host, port=port), args.writable),
                         exports=lambda url: [f"API_BASE_URL={url}"])


def writable(server: Server, names: list[str]) -> Server:
    """``server`` with the collections ``names`` open to writes, as they are (empty if not there)."""
    api = API(server.state)
    for name in names:
        api.load(name, api.records(name), writable=True)
    return server
