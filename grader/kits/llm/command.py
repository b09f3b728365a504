"""``grade llm-server``: the grader's test model on loopback, for a student's own machine."""

from __future__ import annotations

import argparse

from rich.console import Console

from grader.kits.llm.server import DUMMY_KEY, PORT, Server


def cmd_llm_server(argv: list[str], console: Console) -> int:
    """Serve until Ctrl-C, after printing the two variables the notebook needs."""
    p = argparse.ArgumentParser(prog="grade llm-server",
                                description="Serve the grader's OpenAI-compatible test server on loopback.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=PORT, help=f"port (default: {PORT})")
    args = p.parse_args(argv)
    server = Server(host=args.host, port=args.port)
    server.start()
    console.print(f"export OPENAI_BASE_URL=http://{args.host}:{args.port}/v1")
    console.print(f"export OPENAI_API_KEY={DUMMY_KEY}")
    console.print("serving the grader's test model; Ctrl-C to stop")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
