"""Serving the review app on loopback, with the bounds every server of the grader keeps.

The review app is served as the kits' servers are (grader.kits.served): the protocol bounds the
connections open at once and the time a request may take to arrive; :class:`BoundedRequests`
bounds the head, the query and the body (``LIMITS.body``, a form's worth), refusing what is over
with 413, 414 or 431 having read no more than the bound.
"""

from __future__ import annotations

from typing import Any

from grader.kits.served import Limits, Server

HOST = "127.0.0.1"  # the only address served
LIMITS = Limits(body=64 * 2**10, connections=16)  # a form: a comment and a few fields


class Background:
    """The review server in a thread, listening once entered, stopped on exit."""

    def __init__(self, app: Any, port: int):
        self.server = Server(app, LIMITS, "review server", host=HOST, port=port)

    def __enter__(self) -> Background:
        self.server.start()
        return self

    def wait(self) -> None:
        """Until the server stops; Ctrl-C reaches the caller (uvicorn's own handler is the main thread's)."""
        self.server.wait()

    def __exit__(self, *exc) -> None:
        self.server.stop()
