"""The grader's own OpenAI-compatible server: deterministic, scriptable, recording.

Labs that call an LLM are graded against this server, never a real model:
grading must work offline, give the same answer twice, and see what the
student's code actually sent. Every request is recorded. Tests script the
next replies (text, JSON, tool calls) or faults (429 with ``retry-after``,
500, a slow answer, malformed JSON) through the ``llm`` fixture, in the
grader's own process; the HTTP side has no endpoint that reveals or changes
the script or the record.

During grading it listens on a Unix socket that is bridged into the sandbox
(see :mod:`grader.engine.sandbox.forward`); ``grade llm-server`` serves the same app
on loopback TCP for students working locally.

The server lives in the grader's process for a whole submission, and the
notebook controls every byte it is sent, so each request is bounded
(:class:`Limits`) before it is read or parsed, at the lowest layer that can
see it: the protocol closes connections over the count and requests that take
too long to arrive; an ASGI wrapper around the app refuses a head or body over
its bound before the app reads it, reading no more than the bound; the body is
parsed by :mod:`grader.bounded`; the record keeps the first requests, up to a
count and a total size, and counts the rest.
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

from grader import bounded

MODELS = ("grader-mini", "grader-large")
EMBEDDING_DIM = 16
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
    """A request as the server saw it (the API key is never kept). The body is kept as the
    bytes sent, a fraction of the memory parsed JSON takes, and parsed when read."""

    path: str
    raw: bytes
    time: float
    status: int = 200

    @property
    def body(self) -> Any:
        """The JSON body (already bounded when it arrived), or None if it was not JSON."""
        try:
            return json.loads(self.raw)
        except ValueError:
            return None


@dataclass
class LLMState:
    """The script and the record, shared by the app and the tests."""

    limits: Limits = field(default_factory=Limits)
    requests: list[Recorded] = field(default_factory=list)
    dropped: int = 0  # requests that came once the record was full
    kept_bytes: int = 0
    script: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self) -> Reply | None:
        with self.lock:
            return self.script.popleft() if self.script else None

    def record(self, path: str, raw: bytes) -> Recorded:
        """The request's entry, kept while the record has room (``Limits.recorded`` requests,
        ``Limits.recorded_bytes`` of bodies), else only counted: a notebook calling in a loop
        must not grow the grader without end."""
        entry = Recorded(path, raw, time.monotonic())
        with self.lock:
            if len(self.requests) < self.limits.recorded and self.kept_bytes + len(raw) <= self.limits.recorded_bytes:
                self.requests.append(entry)
                self.kept_bytes += len(raw)
            else:
                self.dropped += 1
        return entry


class LLM:
    """What the ``llm`` fixture gives tests."""

    def __init__(self, state: LLMState):
        self._state = state

    @property
    def requests(self) -> list[Recorded]:
        """The requests kept so far, oldest first: all of them unless ``dropped`` says otherwise."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def dropped(self) -> int:
        """How many requests came after the record was full (see :class:`Limits`): counted, not kept."""
        with self._state.lock:
            return self._state.dropped

    def chat_requests(self) -> list[dict]:
        """The bodies of the chat completion requests kept so far."""
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
            self._state.dropped = self._state.kept_bytes = 0


def _as_reply(r: "Reply | str | dict") -> Reply:
    if isinstance(r, Reply):
        return r
    return Reply(content=r if isinstance(r, str) else json.dumps(r))


def create_app(state: LLMState):
    """The FastAPI app, inside :class:`BoundedRequests`; everything it knows is in ``state``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

    app = FastAPI(title="grader LLM server", docs_url=None, redoc_url=None, openapi_url=None)
    limits = state.limits

    @app.exception_handler(bounded.Unbounded)
    async def refuse(request: Request, exc: bounded.Unbounded):
        return JSONResponse(_error(400, str(exc)), status_code=400)

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
        data = [{"object": "embedding", "index": i, "embedding": embed(str(text))} for i, text in enumerate(inputs)]
        tokens = sum(count_tokens(str(t)) for t in inputs)
        return {"object": "list", "data": data, "model": body.get("model", MODELS[0]),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

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

    return BoundedRequests(app, limits)


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


def _error(status: int, message: str) -> dict:
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
    payload = json.dumps(_error(status, message)).encode()
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


def stream_chunks(completion: dict, include_usage: bool):
    """The completion as server-sent events, a word at a time (and its usage last, if asked);
    the request itself is not held while the answer streams."""
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
    if include_usage:
        yield _event(base | {"choices": [], "usage": completion["usage"]})
    yield "data: [DONE]\n\n"


def _event(data: dict) -> str:
    return f"data: {json.dumps(data)}\n\n"


def _protocol(limits: Limits) -> type:
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


class Server:
    """The app served by uvicorn in a background thread, on a Unix socket or a TCP port."""

    def __init__(self, uds: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 limits: Limits = Limits()):
        import uvicorn

        self.state = LLMState(limits)
        # Warnings are per request (an invalid one, an upgrade): a notebook must not be able
        # to write to the grader's log in a loop. Upgrades to WebSocket are not served.
        config = uvicorn.Config(create_app(self.state), uds=str(uds) if uds else None, host=host, port=port,
                                log_level="error", lifespan="off", ws="none", http=_protocol(limits),
                                h11_max_incomplete_event_size=limits.head)
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
    from grader.engine.sandbox import Service

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
