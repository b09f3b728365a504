"""The grader's own OpenAI-compatible server: deterministic, scriptable, recording.

Labs that call an LLM are graded against this server, never a real model:
grading must work offline, give the same answer twice, and see what the
student's code actually sent. Every request is recorded. Tests script the
next replies (text, JSON, tool calls) or faults (429 with ``retry-after``,
500, a slow answer, malformed JSON) through the ``llm`` fixture, in the
grader's own process; the HTTP side has no endpoint that reveals or changes
the script or the record.

During grading it listens on a Unix socket that is bridged into the sandbox
(see :mod:`grader.sandbox.forward`); ``grade llm-server`` serves the same app
on loopback TCP for students working locally.
"""


import asyncio
import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS = ("grader-mini", "grader-large")
EMBEDDING_DIM = 16


@dataclass
class Reply:
    """One scripted answer: text, a JSON value, tool calls, or a fault."""

    content: str | None = None
    tool_calls: list[dict] | None = None  # [{"name": ..., "arguments": {...}}]
    status: int = 200  # a fault when not 200
    retry_after: float | None = None
    delay: float = 0.0  # seconds before answering (a slow or timed-out call)
    malformed: bool = False  # answer 200 with a body that is not JSON
    usage: dict | None = None  # {"prompt_tokens": .., "completion_tokens": ..} instead of the server's count


@dataclass
class Recorded:
    """A request as the server saw it (the API key is never kept)."""

    path: str
    body: Any
    time: float
    status: int = 200


@dataclass
class LLMState:
    """The script and the record, shared by the app and the tests."""

    requests: list[Recorded] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self) -> Reply | None:
        with self.lock:
            return self.script.popleft() if self.script else None

    def record(self, path: str, body: Any) -> Recorded:
        entry = Recorded(path, body, time.monotonic())
        with self.lock:
            self.requests.append(entry)
        return entry


class LLM:
    """What the ``llm`` fixture gives tests."""

    def __init__(self, state: LLMState):
        self._state = state

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def chat_requests(self) -> list[dict]:
        """The bodies of the chat completion requests so far."""
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    def reply(self, *replies: Reply | str | dict) -> None:
        """Answer the next calls with these, in order: text, a JSON value (dict), or a Reply."""
        with self._state.lock:
            self._state.script.extend(_as_reply(r) for r in replies)

    def fail(self, status: int = 429, times: int = 1, retry_after: float | None = None) -> None:
        """The next ``times`` calls fail with ``status``."""
        self.reply(*[Reply(status=status, retry_after=retry_after)] * times)

    def clear(self) -> None:
        """Forget the record and the script (between two phases of one test)."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.script.clear()


def _as_reply(r: "Reply | str | dict") -> Reply:
    if isinstance(r, Reply):
        return r
    return Reply(content=r if isinstance(r, str) else json.dumps(r))


def create_app(state: LLMState):
    """The FastAPI app; everything it knows is in ``state``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

    app = FastAPI(title="grader LLM server", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "grader"}
                                           for m in MODELS]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        body = await _json(request)
        state.record("/v1/embeddings", body)
        inputs = body.get("input", []) if isinstance(body, dict) else []
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        data = [{"object": "embedding", "index": i, "embedding": embed(str(text))} for i, text in enumerate(inputs)]
        tokens = sum(count_tokens(str(t)) for t in inputs)
        return {"object": "list", "data": data, "model": body.get("model", MODELS[0]),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _json(request)
        entry = state.record("/v1/chat/completions", body)
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
            return StreamingResponse(stream_chunks(completion, body), media_type="text/event-stream")
        return completion

    return app


async def _json(request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: words and punctuation runs. Deterministic, not OpenAI's."""
    return max(1, len(text.split())) if text else 0


def embed(text: str) -> list[float]:
    """A deterministic unit vector for ``text``: equal texts, equal vectors."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [b - 127.5 for b in digest[:EMBEDDING_DIM]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def default_reply(body: Any) -> Reply:
    """What the server answers when nothing is scripted: derived from the request alone."""
    body = body if isinstance(body, dict) else {}
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if tools and last.get("role") != "tool":
        fn = tools[0].get("function", {}) if isinstance(tools[0], dict) else {}
        return Reply(tool_calls=[{"name": fn.get("name", "tool"),
                                  "arguments": example_value(fn.get("parameters", {}))}])
    schema = _response_schema(body)
    if schema is not None:
        return Reply(content=json.dumps(example_value(schema)))
    text = str(last.get("content", ""))
    return Reply(content=f"[grader model] I received {count_tokens(text)} words.")


def _response_schema(body: dict) -> dict | None:
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema") or {}
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {"type": "object"}
    return None


def example_value(schema: Any, depth: int = 0) -> Any:
    """A small value that satisfies a JSON schema (enough for structured-output exercises)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example_value(schema["anyOf"][0], depth + 1)
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {k: example_value(v, depth + 1) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example_value(schema.get("items", {}), depth + 1)]
    return {"string": "example", "integer": 1, "number": 1.0, "boolean": True}.get(kind)


def completion_body(request: Any, reply: Reply) -> dict:
    request = request if isinstance(request, dict) else {}
    prompt = sum(count_tokens(str(m.get("content", ""))) for m in request.get("messages") or []
                 if isinstance(m, dict))
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    finish = "stop"
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}}
            for i, c in enumerate(reply.tool_calls)]
        finish = "tool_calls"
    completion = count_tokens(reply.content or "") + 5 * len(reply.tool_calls or [])
    if reply.usage:
        prompt = int(reply.usage.get("prompt_tokens", prompt))
        completion = int(reply.usage.get("completion_tokens", completion))
    return {"id": f"chatcmpl-grader-{len(str(request))}", "object": "chat.completion", "created": 0,
            "model": request.get("model", MODELS[0]),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion}}


def stream_chunks(completion: dict, request: dict):
    """The completion as server-sent events, a word at a time."""
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    message = completion["choices"][0]["message"]
    words = (message["content"] or "").split(" ")
    deltas = [{"role": "assistant", "content": ""}] + [{"content": (" " if i else "") + w} for i, w in enumerate(words)]
    if message.get("tool_calls"):
        deltas.append({"tool_calls": [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]})
    for delta in deltas:
        yield _event(base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    yield _event(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": completion["choices"][0]
                                      ["finish_reason"]}]})
    if (request.get("stream_options") or {}).get("include_usage"):
        yield _event(base | {"choices": [], "usage": completion["usage"]})
    yield "data: [DONE]\n\n"


def _event(data: dict) -> str:
    return f"data: {json.dumps(data)}\n\n"


class Server:
    """The app served by uvicorn in a background thread, on a Unix socket or a TCP port."""

    def __init__(self, uds: Path | None = None, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.state = LLMState()
        config = uvicorn.Config(create_app(self.state), uds=str(uds) if uds else None, host=host, port=port,
                                log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="llm-server", daemon=True)

    def start(self, timeout: float = 10) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the LLM server did not start")
            time.sleep(0.01)

    def wait(self) -> None:
        """Block until the server stops (``grade llm-server`` in the foreground)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)


PORT = 8000  # what the notebook sees: OPENAI_BASE_URL=http://127.0.0.1:8000/v1
DUMMY_KEY = "grader-dummy-key"


@contextlib.contextmanager
def sandbox_service():
    """A fresh server on a Unix socket, as a sandbox service; yields (service, LLM for tests)."""
    from grader.sandbox import Service

    folder = Path(tempfile.mkdtemp(prefix="grader-llm-"))
    server = Server(uds=folder / "llm.sock")
    try:
        server.start()
        os.chmod(folder / "llm.sock", 0o666)  # the sandbox's user connects to it
        env = (("OPENAI_BASE_URL", f"http://127.0.0.1:{PORT}/v1"), ("OPENAI_API_KEY", DUMMY_KEY))
        yield Service(PORT, folder / "llm.sock", env), LLM(server.state)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
