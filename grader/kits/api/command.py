"""``grade api-server``: the grader's REST API, with its default data, on loopback for a
student's own machine."""

from __future__ import annotations

from rich.console import Console

from grader.kits.api.server import PORT, Server
from grader.kits.served import serve_command


def cmd_api_server(argv: list[str], console: Console) -> int:
    """Serve until Ctrl-C, after printing the variable the notebook reads."""
    return serve_command(argv, console, prog="grade api-server", what="the grader's support-desk REST API",
                         port=PORT, make=lambda host, port: Server(host=host, port=port),
                         exports=lambda url: [f"API_BASE_URL={url}"])
