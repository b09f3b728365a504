"""What one notebook can make the grader's LLM server read, parse, keep or wait for.

The server lives in the grader's process for a whole submission, and the
notebook controls every byte it is sent, so each request is bounded
(:class:`Limits`) before it is read or parsed, at the lowest layer that can
see it: the protocol (:func:`bounded_protocol`) closes connections over the
count and requests that take too long to arrive; an ASGI wrapper around the
app (:class:`BoundedRequests`) refuses a head or body over its bound before
the app reads it, reading no more than the bound; the body is parsed by
:mod:`grader.bounded`; the record keeps the first requests, up to a count and
a total size, and counts the rest (:class:`grader.kits.llm.model.LLMState`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

KiB, MiB = 2**10, 2**20


@dataclass(frozen=True)
class Limits:
    """What one notebook can make the server read, parse, keep or wait for. An honest lab
    sends a few dozen requests of a few KiB each; every bound is far above that and far
    below what would cost the grader anything."""

    body: int = MiB  # bytes of one request body; more is refused with 413
    depth: int = 64  # JSON nesting of a body; deeper is refused with 400
    head: int = 16 * KiB  # bytes of the request line and headers; more is refused (431, or 400 from h11)
    headers: int = 100  # header fields of one request; more is refused with 431
    inputs: int = 2048  # texts in one embeddings request (OpenAI's own bound); more is refused with 400
    seconds: float = 10.0  # to receive a request whole, from the connection or the previous answer
    connections: int = 32  # open at once; one more is closed as it arrives
    recorded: int = 1000  # requests kept in the record; later ones are counted, not kept
    recorded_bytes: int = 16 * MiB  # request bodies kept in the record, in all


def error_body(status: int, message: str) -> dict:
    """An error body in OpenAI's shape, which the SDK shows as the exception's message."""
    return {"error": {"message": message, "type": "invalid_request_error", "code": status}}


class Refused(Exception):
    """A request over one of the :class:`Limits`: answered with ``status``, not read further."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class BoundedRequests:
    """Pure ASGI, around the app: a request's head is checked and its body read, never more
    than ``limits.body`` bytes of it, before the app sees either. What is over a bound gets
    413 or 431 and is read no further (the protocol drains the rest, within its deadline).
    A request the app fails on gets 500 and leaves no traceback: a notebook sending it in a
    loop must not fill the grader's log."""

    def __init__(self, app, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_head(scope, self.limits)
            body = await _read_body(receive, self.limits.body)
        except Refused as refused:
            await _answer(send, refused.status, str(refused))
            return
        if body is None:  # the client left before its body was in
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, _replay(body, receive), tracked)
        except Exception as exc:
            if not started:
                await _answer(send, 500, f"the grader's server could not answer this request ({type(exc).__name__})")


async def _answer(send, status: int, message: str) -> None:
    payload = json.dumps(error_body(status, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _check_head(scope, limits: Limits) -> None:
    """Refuse a head with too many or too large fields, or a declared body over the bound."""
    headers = scope["headers"]
    if len(headers) > limits.headers:
        raise Refused(431, f"more than {limits.headers} header fields")
    size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) + sum(
        len(name) + len(value) + 4 for name, value in headers)
    if size > limits.head:
        raise Refused(431, f"the request line and headers are larger than {limits.head // KiB} KiB")
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


def _replay(body: bytes, receive):
    """The app's ``receive``: the body already read, then the connection's own messages
    (a disconnect, which a streaming response listens for)."""
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
