"""``grade llm-server``: the grader's test model on loopback, for a student's own machine."""

from __future__ import annotations

from rich.console import Console

from grader.kits.llm.server import DUMMY_KEY, PORT, Server
from grader.kits.served import serve_command


def cmd_llm_server(argv: list[str], console: Console) -> int:
    """Serve until Ctrl-C, after printing the two variables the notebook needs."""
    return serve_command(argv, console, prog="grade llm-server", what="the grader's OpenAI-compatible test model",
                         port=PORT, make=lambda host, port: Server(host=host, port=port),
                         exports=lambda url: [f"OPENAI_BASE_URL={url}/v1", f"OPENAI_API_KEY={DUMMY_KEY}"])
