"""What the kits that serve HTTP into the sandbox share: the bounds every request is held to,
the record of what was sent, the uvicorn thread, the sandbox service and ``grade <kit>-server``.

A kit's server lives in the grader's process for a whole submission, and the notebook
controls every byte it is sent, so each request is bounded (:class:`Limits`) before it is
read or parsed, at the lowest layer that can see it: the protocol (:func:`bounded_protocol`)
closes connections over the count and requests that take too long to arrive; an ASGI wrapper
around the app (:class:`BoundedRequests`) refuses a head, query or body over its bound before
the app reads it, reading no more than the bound; a body is parsed by :mod:`grader.bounded`;
the record keeps the first requests, up to a count and a total size, and counts the rest
(:class:`Record`).

This is a module, not a package, so the kit registry does not take it for a kit; its code is
the engine's as far as a result's fingerprint goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from grader.errors import KitError, UsageError

KiB, MiB = 2**10, 2**20
T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """What one notebook can make a kit's server read, parse, keep or wait for. An honest lab
    sends a few dozen requests of a few KiB each; every bound is far above that and far
    below what would cost the grader anything."""

    body: int = MiB  # bytes of one request body; more is refused with 413
    depth: int = 64  # JSON nesting of a body; deeper is refused with 400
    head: int = 16 * KiB  # bytes of the request line and headers; more is refused (431, or 400 from h11)
    headers: int = 100  # header fields of one request; more is refused with 431
    query: int = 4 * KiB  # bytes of the query string; more is refused with 414 before anything parses it
    seconds: float = 10.0  # to receive a request whole, from the connection or the previous answer
    connections: int = 32  # open at once; one more is closed as it arrives
    recorded: int = 1000  # requests kept in the record; later ones are counted, not kept
    recorded_bytes: int = 16 * MiB  # what the record keeps of requests, in all


ErrorBody = Callable[[int, str], dict]


def detail_body(status: int, message: str) -> dict:
    """An error body in FastAPI's own shape, ``{"detail": ...}``."""
    return {"detail": message}


class Refused(Exception):
    """A request over one of the :class:`Limits`: answered with ``status``, not read further."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class BoundedRequests:
    """Pure ASGI, around the app: a request's head is checked and its body read, never more
    than ``limits.body`` bytes of it, before the app sees either (a GET's body too). What is
    over a bound gets 413, 414 or 431 in the kit's ``error_body`` and is read no further (the
    protocol drains the rest, within its deadline). A request the app fails on gets 500 and
    leaves no traceback: a notebook sending it in a loop must not fill the grader's log."""

    def __init__(self, app, limits: Limits, error_body: ErrorBody = detail_body):
        self.app = app
        self.limits = limits
        self.error_body = error_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_head(scope, self.limits)
            body = await _read_body(receive, self.limits.body)
        except Refused as refused:
            await answer(send, refused.status, self.error_body(refused.status, str(refused)))
            return
        if body is None:  # the client left before its body was in
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, replay_body(body, receive), tracked)
        except Exception as exc:
            if not started:
                message = f"the grader's server could not answer this request ({type(exc).__name__})"
                await answer(send, 500, self.error_body(500, message))


async def answer(send, status: int, body: dict, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """Send a whole JSON answer from plain ASGI, where no framework builds one."""
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


def _check_head(scope, limits: Limits) -> None:
    """Refuse a head with too many or too large fields, a long query, or a declared body over the bound."""
    headers = scope["headers"]
    if len(headers) > limits.headers:
        raise Refused(431, f"more than {limits.headers} header fields")
    query = len(scope.get("query_string", b""))
    size = len(scope.get("raw_path", b"")) + query + sum(len(name) + len(value) + 4 for name, value in headers)
    if size > limits.head:
        raise Refused(431, f"the request line and headers are larger than {limits.head // KiB} KiB")
    if query > limits.query:
        raise Refused(414, f"the query string is longer than {limits.query} bytes")
    declared = next((value for name, value in headers if name == b"content-length"), b"")
    if declared.isdigit() and int(declared[:20]) > limits.body:  # h11 allows at most 20 digits
        raise Refused(413, f"the request body is larger than {limits.body // KiB} KiB")


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole body, counted as it arrives (a chunked body declares no length): Refused
    as soon as it passes ``limit``, None if the client disconnects first."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the request body is larger than {limit // KiB} KiB")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_body(body: bytes, receive):
    """The app's ``receive``: the body already read, then the connection's own messages
    (a disconnect, which a streaming response listens for). Public: a kit's own middleware that
    reads a write's body before its app hands it on with this too."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay():
        return pending.pop() if pending else await receive()

    return replay


def bounded_protocol(limits: Limits) -> type:
    """uvicorn's h11 protocol with the bounds only a protocol can keep, since an ASGI app sees
    a request only once its head is in: the connections open at once, and the time a request
    may take to arrive whole (uvicorn's keep-alive timeout restarts at every byte, so a head
    or body trickling in would hold a connection for as long as the notebook likes)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class BoundedH11(H11Protocol):
        deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > limits.connections:
                transport.close()
            self._watch()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
            super().connection_lost(exc)

        def _watch(self) -> None:
            """The clock runs while a request is awaited or arriving, and stops once it is in."""
            awaiting = self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing()
            if awaiting and self.deadline is None:
                self.deadline = self.loop.call_later(limits.seconds, self.transport.close)
            elif not awaiting and self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None

    return BoundedH11


@dataclass
class Record(Generic[T]):
    """The requests a server saw, kept while there is room (``count`` entries, ``size`` bytes
    in all), else only counted: a notebook calling in a loop must not grow the grader without
    end. Not locked: its owner's state holds the lock."""

    count: int
    size: int
    entries: list[T] = field(default_factory=list)
    dropped: int = 0  # requests that came once the record was full
    kept_bytes: int = 0

    def add(self, entry: T, size: int) -> None:
        if len(self.entries) < self.count and self.kept_bytes + size <= self.size:
            self.entries.append(entry)
            self.kept_bytes += size
        else:
            self.dropped += 1

    def clear(self) -> None:
        self.entries.clear()
        self.dropped = self.kept_bytes = 0


class ServerNotStarted(KitError, RuntimeError):
    """A kit's server did not come up in time: the grader's failure, never the student's.
    (Also a RuntimeError, what ``Server.start`` raised before the kits had their own errors.)"""


class Server:
    """An ASGI app served by uvicorn in a background thread, on a Unix socket or a TCP port,
    every request bounded by ``limits`` (the app is expected inside :class:`BoundedRequests`)."""

    def __init__(self, app, limits: Limits, name: str, uds: Path | None = None, host: str = "127.0.0.1",
                 port: int = 0):
        import uvicorn

        self.name = name
        # Warnings are per request (an invalid one, an upgrade): a notebook must not be able
        # to write to the grader's log in a loop. Upgrades to WebSocket are not served.
        config = uvicorn.Config(app, uds=str(uds) if uds else None, host=host, port=port,
                                log_level="error", lifespan="off", ws="none", http=bounded_protocol(limits),
                                h11_max_incomplete_event_size=limits.head)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    def start(self, timeout: float = 10) -> None:
        """Serve in the background; ServerNotStarted if not listening within ``timeout`` seconds."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise ServerNotStarted(f"the {self.name} did not start")
            time.sleep(0.01)

    def wait(self) -> None:
        """Block until the server stops (``grade <kit>-server`` in the foreground)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)


S = TypeVar("S", bound=Server)


@contextlib.contextmanager
def sandbox_service(make: Callable[[Path], S], port: int, env: tuple[tuple[str, str], ...],
                    name: str) -> Iterator[tuple[Any, S]]:
    """A fresh server from ``make(socket path)`` in a folder of its own, as the sandbox service
    seen at ``127.0.0.1:port`` and announced by ``env``; yields (Service, the running server).
    The folder is the grader's, so the grader removes it."""
    from grader.engine.sandbox import Service

    folder = Path(tempfile.mkdtemp(prefix=f"grader-{name}-"))
    path = folder / f"{name}.sock"
    server = make(path)
    try:
        server.start()
        os.chmod(path, 0o666)  # the sandbox's user connects to it
        yield Service(port, path, env), server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def serve_command(argv: list[str], console: Any, *, prog: str, what: str, port: int,
                  make: Callable[[str, int], Server], exports: Callable[[str], list[str]]) -> int:
    """``grade <kit>-server``: parse --host and --port, serve ``make(host, port)`` on them, print
    the ``export`` lines ``exports(base URL)`` gives the notebook, and serve until Ctrl-C."""
    p = argparse.ArgumentParser(prog=prog, description=f"Serve {what} on loopback.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=port, help=f"port, 1 to 65535 (default: {port})")
    args = p.parse_args(argv)
    check_address(args.host, args.port)
    server = make(args.host, args.port)
    server.start()
    host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address, as a URL spells it
    for line in exports(f"http://{host}:{args.port}"):
        console.print(f"export {line}")
    console.print(f"serving {what}; Ctrl-C to stop")
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
