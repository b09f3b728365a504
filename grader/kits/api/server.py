"""The grader's REST API over HTTP: the collections of :mod:`grader.kits.api.model`, a page
at a time or a record by id, with the faults tests scripted, every request recorded and
bounded by :mod:`grader.kits.served`.

- ``GET /{collection}?page=N&per_page=M``: ``{"items", "page", "per_page", "total", "next"}``;
  400 for a page or size out of range, 404 for a collection there is not.
- ``GET /{collection}/{id}``: the record, or 404.
- On a collection a test declared writable (:mod:`grader.kits.api.writes`): ``POST
  /{collection}`` creates a record (201, the record, ``Location``), ``PATCH
  /{collection}/{id}`` sets fields (200, the record), ``DELETE /{collection}/{id}`` (204); an
  ``Idempotency-Key`` header makes a write happen once. A write on a read-only collection is a
  405, a body that is no JSON object a 400 or 422, a key reused for another request a 422,
  and a write past the bounds a 507.

Every error is FastAPI's ``{"detail": ...}``. The HTTP side has no endpoint that reveals
or changes the data, the faults or the record: only the tests, in the grader's own process,
reach those. During grading it listens on a Unix socket that is bridged into the sandbox as
``127.0.0.1:8001``; ``grade api-server`` serves the same app on loopback TCP.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations
# (``Request``, imported inside create_app) at runtime, and could not resolve them as strings.

import asyncio
import contextlib
import math
from http import HTTPStatus
from pathlib import Path

from grader.kits import served
from grader.kits.api.model import API, APIState, BadQuery, Fault, find, page
from grader.kits.api.writes import WRITE_METHODS, WriteLimits, WriteRefused

PORT = 8001  # what the notebook sees: API_BASE_URL=http://127.0.0.1:8001 (the llm kit has 8000)
DEFAULT_LIMITS = served.Limits()  # frozen: one instance serves every server
DEFAULT_WRITE_LIMITS = WriteLimits()


def create_app(state: APIState):
    """The FastAPI app, inside the scripted faults and the record, inside the bounds."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    app = FastAPI(title="grader support-desk API", docs_url=None, redoc_url=None, openapi_url=None,
                  redirect_slashes=False)  # "/tickets/" is a 404, not a redirect built from the Host header

    def missing(what: str) -> JSONResponse:
        return JSONResponse({"detail": f"no {what}"}, status_code=404)

    @app.get("/{collection}")
    async def listing(collection: str, request: Request):
        records = state.records(collection)
        if records is None:
            return missing(f"collection {collection[:64]!r}")
        try:
            return page(collection, records, request.query_params)
        except BadQuery as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/{collection}/{item}")
    async def one(collection: str, item: str):
        records = state.records(collection)
        if records is None:
            return missing(f"collection {collection[:64]!r}")
        found = find(records, item)
        return missing(f"record {item[:40]!r} in {collection}") if found is None else found

    async def write(request: Request, collection: str, item: str | None):
        raw = await request.body()
        try:
            answer = state.write(request.method, request.scope["path"], collection, item, raw,
                                 request.headers.get("idempotency-key"))
        except WriteRefused as refused:
            return JSONResponse({"detail": str(refused)}, status_code=refused.status, headers=dict(refused.headers))
        return Response(answer.body or None, status_code=answer.status, headers=dict(answer.headers),
                        media_type="application/json" if answer.body else None)

    @app.post("/{collection}")
    async def create(collection: str, request: Request):
        return await write(request, collection, None)

    @app.patch("/{collection}/{item}")
    async def update(collection: str, item: str, request: Request):
        return await write(request, collection, item)

    @app.delete("/{collection}/{item}")
    async def delete(collection: str, item: str, request: Request):
        return await write(request, collection, item)

    return served.BoundedRequests(Scripted(app, state), state.limits)


class Scripted:
    """Pure ASGI, between the bounds and the app: records each request (a write with its body
    and Idempotency-Key) with the status it was answered with, and answers the next ones as
    the tests scripted (:class:`Fault`)."""

    def __init__(self, app, state: APIState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        body, key = b"", None
        if method in WRITE_METHODS:
            message = await receive()  # the body, whole: BoundedRequests read it within its bound
            body = message.get("body", b"")
            receive = served.replay_body(body, receive)
            key = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"idempotency-key"), None)
        entry = self.state.arrived(method, path, scope.get("query_string", b""), body, key)

        async def noted(message) -> None:
            if message["type"] == "http.response.start":
                self.state.answered(entry, message["status"])
            await send(message)

        fault = self.state.take_fault(method, path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is None or fault.status == 200:
            await self.app(scope, receive, noted)
            return
        if fault.after:
            await self.app(scope, receive, lost)
        await served.answer(noted, fault.status, {"detail": HTTPStatus(fault.status).phrase}, retry_headers(fault))


async def lost(message) -> None:
    """The app's answer to a request whose answer a fault replaces once it was performed."""


def retry_headers(fault: Fault) -> tuple[tuple[bytes, bytes], ...]:
    """``Retry-After`` in whole seconds (HTTP has no fractions), rounded up, and the exact
    milliseconds in ``Retry-After-Ms``: for a 429 or 503 only, where HTTP defines it."""
    if fault.retry_after is None or fault.status not in (429, 503):
        return ()
    return ((b"retry-after", str(math.ceil(fault.retry_after)).encode()),
            (b"retry-after-ms", str(round(fault.retry_after * 1000)).encode()))


class Server(served.Server):
    """The API served by uvicorn in a background thread, on a Unix socket or a TCP port;
    ``state`` is what the tests load, script and read."""

    def __init__(self, uds: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 limits: served.Limits = DEFAULT_LIMITS, write_limits: WriteLimits = DEFAULT_WRITE_LIMITS):
        self.state = APIState(limits, write_limits)
        super().__init__(create_app(self.state), limits, "api-server", uds=uds, host=host, port=port)


@contextlib.contextmanager
def sandbox_service():
    """A fresh API on a Unix socket, as a sandbox service; yields (service, API for tests)."""
    env = (("API_BASE_URL", f"http://127.0.0.1:{PORT}"),)
    with served.sandbox_service(lambda path: Server(uds=path), PORT, env, "api") as (service, server):
        yield service, API(server.state)
