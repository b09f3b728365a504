"""``grade llm-server``: the grader's test model on loopback, for a student's own machine."""

from __future__ import annotations

import argparse
import socket

from rich.console import Console

from grader.errors import UsageError
from grader.kits.llm.server import DUMMY_KEY, PORT, Server


def cmd_llm_server(argv: list[str], console: Console) -> int:
    """Serve until Ctrl-C, after printing the two variables the notebook needs."""
    p = argparse.ArgumentParser(prog="grade llm-server",
                                description="Serve the grader's OpenAI-compatible test server on loopback.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=PORT, help=f"port, 1 to 65535 (default: {PORT})")
    args = p.parse_args(argv)
    check_address(args.host, args.port)
    server = Server(host=args.host, port=args.port)
    server.start()
    host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address, as a URL spells it
    console.print(f"export OPENAI_BASE_URL=http://{host}:{args.port}/v1")
    console.print(f"export OPENAI_API_KEY={DUMMY_KEY}")
    console.print("serving the grader's test model; Ctrl-C to stop")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def check_address(host: str, port: int) -> None:
    """Listen once on ``host:port`` and let go: a port out of range, taken or not allowed, or a
    host that is no address here, is the user's one-line mistake, not a failure in the server's
    thread. Port 0 (any free port) is refused, since the address printed for the notebook
    must be the one served."""
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: a port is a number from 1 to 65535")
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            sock.bind(address)
    except OSError as exc:  # socket.gaierror too: the host is no name or address known here
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
