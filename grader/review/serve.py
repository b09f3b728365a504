"""Serving the review app with uvicorn on loopback, every request bounded before the app reads it.

uvicorn bounds what only a server can see: the request line and headers
(``h11_max_incomplete_event_size``), the connections open at once (``limit_concurrency``) and
how long an idle connection is kept; :class:`BoundedBody` bounds the body, refusing with 413 a
body declared or found to be over ``limit`` bytes, having read no more than that.
"""

from __future__ import annotations

import threading
from typing import Any

HOST = "127.0.0.1"  # the only address served
HEAD = 16 * 2**10  # bytes of a request line and its headers
CONNECTIONS = 16  # open at once; more are answered 503
IDLE_SECONDS = 5  # an idle keep-alive connection is closed after this


class BoundedBody:
    """Pure ASGI around the app: the body is read whole, at most ``limit`` bytes, then replayed."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared[:20]) > self.limit:
            return await _too_large(send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await _too_large(send)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()  # the disconnect, when it comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


async def _too_large(send) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"the request body is too large"})


def server(app: Any, port: int):
    """A uvicorn server of ``app`` on ``HOST:port``, with the bounds above."""
    import uvicorn

    config = uvicorn.Config(app, host=HOST, port=port, log_level="error", lifespan="off", ws="none",
                            h11_max_incomplete_event_size=HEAD, limit_concurrency=CONNECTIONS,
                            timeout_keep_alive=IDLE_SECONDS, access_log=False)
    return uvicorn.Server(config)


class Background:
    """A server run in a thread, listening once entered, stopped on exit."""

    def __init__(self, app: Any, port: int):
        self.server = server(app, port)
        self.thread = threading.Thread(target=self.server.run, name="review server", daemon=True)

    def __enter__(self) -> Background:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"the review server did not start on {HOST}:{self.server.config.port}")
            self.thread.join(0.01)
        return self

    def wait(self) -> None:
        """Until the server stops; Ctrl-C reaches the caller (uvicorn's own handler is the main thread's)."""
        while self.thread.is_alive():
            self.thread.join(0.5)

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
