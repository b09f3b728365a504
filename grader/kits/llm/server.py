"""The grader's own OpenAI-compatible server: the test model of :mod:`grader.kits.llm.model`
served over HTTP, every request bounded by :mod:`grader.kits.served` (and
:mod:`grader.kits.llm.bounds`).

The HTTP side has no endpoint that reveals or changes the script or the
record: only the tests, in the grader's own process, reach those.

During grading it listens on a Unix socket that is bridged into the sandbox
(see :mod:`grader.engine.sandbox.forward`); ``grade llm-server`` serves the same app
on loopback TCP for students working locally.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations
# (``Request``, imported inside create_app) at runtime, and could not resolve them as strings.

import asyncio
import contextlib
import math
from pathlib import Path
from typing import Any

from grader import bounded
from grader.kits import served
from grader.kits.llm.bounds import Limits, error_body
from grader.kits.llm.model import (
    LLM,
    MODELS,
    LLMState,
    completion_body,
    default_reply,
    embeddings_body,
    stream_chunks,
)

PORT = 8000  # what the notebook sees: OPENAI_BASE_URL=http://127.0.0.1:8000/v1
DUMMY_KEY = "grader-dummy-key"
DEFAULT_LIMITS = Limits()  # frozen: one instance serves every server


def create_app(state: LLMState):
    """The FastAPI app, inside :class:`BoundedRequests`; everything it knows is in ``state``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

    app = FastAPI(title="grader LLM server", docs_url=None, redoc_url=None, openapi_url=None)
    limits = state.limits

    @app.exception_handler(bounded.Unbounded)
    async def refuse(request: Request, exc: bounded.Unbounded):
        return JSONResponse(error_body(400, str(exc)), status_code=400)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "grader"}
                                           for m in MODELS]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        raw, body = await _body(request, limits)
        body = body if isinstance(body, dict) else {}
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else list(inputs) if isinstance(inputs, list) else []
        if len(inputs) > limits.inputs:
            raise bounded.Unbounded(f"more than {limits.inputs} inputs in one embeddings request")
        state.record("/v1/embeddings", raw)
        return embeddings_body(body, inputs)

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        raw, body = await _body(request, limits)
        entry = state.record("/v1/chat/completions", raw)
        reply = state.next_reply() or default_reply(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            entry.status = reply.status
            headers = {} if reply.retry_after is None else {
                "retry-after": str(math.ceil(reply.retry_after)), "retry-after-ms": str(int(reply.retry_after * 1000))}
            return JSONResponse({"error": {"message": f"scripted fault {reply.status}", "type": "grader_fault",
                                           "code": reply.status}}, status_code=reply.status, headers=headers)
        if reply.malformed:
            return PlainTextResponse('{"id": "chatcmpl-broken", "choices": [', media_type="application/json")
        completion = completion_body(body, reply)
        if isinstance(body, dict) and body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(stream_chunks(completion, include_usage), media_type="text/event-stream")
        return completion

    return served.BoundedRequests(app, limits, error_body)


async def _body(request, limits: Limits) -> tuple[bytes, Any]:
    """The body as sent, and as JSON bounded in size and depth (Unbounded past either), or
    None when it is not JSON: the default reply copes with that."""
    raw = await request.body()
    try:
        return raw, bounded.loads(raw, limits.body, "the request body", limits.depth)
    except bounded.Unbounded:
        raise
    except ValueError:
        return raw, None


class Server(served.Server):
    """The LLM app served by uvicorn in a background thread, on a Unix socket or a TCP port;
    ``state`` is what the tests read and script."""

    def __init__(self, uds: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 limits: Limits = DEFAULT_LIMITS):
        self.state = LLMState(limits)
        super().__init__(create_app(self.state), limits, "llm-server", uds=uds, host=host, port=port)


@contextlib.contextmanager
def sandbox_service():
    """A fresh server on a Unix socket, as a sandbox service; yields (service, LLM for tests)."""
    env = (("OPENAI_BASE_URL", f"http://127.0.0.1:{PORT}/v1"), ("OPENAI_API_KEY", DUMMY_KEY))
    with served.sandbox_service(lambda path: Server(uds=path), PORT, env, "llm") as (service, server):
        yield service, LLM(server.state)
