"""The grader's test model: what the ``llm`` fixture scripts and reads, and what it answers.

Labs that call an LLM are graded against the grader's own server, never a
real model: grading must work offline, give the same answer twice, and see
what the student's code actually sent. Every request is recorded
(:class:`Recorded`). Tests script the next replies (text, JSON, tool calls) or
faults (429 with ``retry-after``, 500, a slow answer, malformed JSON) through
the ``llm`` fixture (:class:`LLM`), in the grader's own process. When nothing
is scripted the answer is derived from the request alone
(:func:`default_reply`). This module knows nothing of HTTP; the app that
serves it is :mod:`grader.kits.llm.server`.

Lab tests import what they need from here: ``from grader.kits.llm.model
import Reply, count_tokens``.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from grader.kits.llm.bounds import Limits
from grader.kits.llm.embedding import embed
from grader.kits.served import Record

MODELS = ("grader-mini", "grader-large")


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
    script: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    kept: Record[Recorded] = field(init=False)

    def __post_init__(self) -> None:
        self.kept = Record(self.limits.recorded, self.limits.recorded_bytes)

    def next_reply(self) -> Reply | None:
        with self.lock:
            return self.script.popleft() if self.script else None

    def record(self, path: str, raw: bytes) -> Recorded:
        """The request's entry, kept while the record has room (its body's bytes count)."""
        entry = Recorded(path, raw, time.monotonic())
        with self.lock:
            self.kept.add(entry, len(raw))
        return entry


class LLM:
    """What the ``llm`` fixture gives tests."""

    def __init__(self, state: LLMState):
        self._state = state

    @property
    def requests(self) -> list[Recorded]:
        """The requests kept so far, oldest first: all of them unless ``dropped`` says otherwise."""
        with self._state.lock:
            return list(self._state.kept.entries)

    @property
    def dropped(self) -> int:
        """How many requests came after the record was full (see :class:`Limits`): counted, not kept."""
        with self._state.lock:
            return self._state.kept.dropped

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
            self._state.kept.clear()
            self._state.script.clear()


def _as_reply(r: Reply | str | dict) -> Reply:
    if isinstance(r, Reply):
        return r
    return Reply(content=r if isinstance(r, str) else json.dumps(r))


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: words and punctuation runs. Deterministic, not OpenAI's."""
    return max(1, len(text.split())) if text else 0


def embeddings_body(body: dict, inputs: list) -> dict:
    """The embeddings answer for ``inputs``: one deterministic vector per text, as a list of floats
    or, when asked (``encoding_format: base64``, which SDKs send to save bandwidth), as OpenAI packs
    it: little-endian float32, base64."""
    packed = body.get("encoding_format") == "base64"
    data = [{"object": "embedding", "index": i, "embedding": _packed(embed(str(text))) if packed else embed(str(text))}
            for i, text in enumerate(inputs)]
    tokens = sum(count_tokens(str(t)) for t in inputs)
    return {"object": "list", "data": data, "model": body.get("model", MODELS[0]),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _packed(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


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


EXAMPLE_DEPTH = 8  # schema levels an example follows
EXAMPLE_NODES = 2_000  # values an example may hold: references can make a small schema describe a huge value
SCALARS = {"string": "example", "integer": 1, "number": 1.0, "boolean": True}


def example_value(schema: Any) -> Any:
    """A small value that satisfies a JSON schema (enough for structured-output exercises). It
    follows ``$ref`` into the schema's ``$defs`` (what pydantic writes for nested models and
    enums), within a depth and a count of values, since references can nest without end."""
    defs = schema.get("$defs") or schema.get("definitions") if isinstance(schema, dict) else None
    return _Example(defs if isinstance(defs, dict) else {}).value(schema, 0)


class _Example:
    """One example's walk: the definitions it may follow, and the values it has left to make."""

    def __init__(self, defs: dict):
        self.defs = defs
        self.left = EXAMPLE_NODES

    def value(self, schema: Any, depth: int) -> Any:
        self.left -= 1
        if not isinstance(schema, dict) or self.left < 0:
            return None
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        kind = kind[0] if isinstance(kind, list) else kind
        if kind in SCALARS:
            return SCALARS[kind]
        if depth > EXAMPLE_DEPTH:  # an empty list still satisfies a list of a recursive model
            return [] if kind == "array" else None
        return self.nested(schema, kind, depth + 1)

    def nested(self, schema: dict, kind: Any, depth: int) -> Any:
        if isinstance(schema.get("$ref"), str):
            return self.value(self.defs.get(schema["$ref"].rsplit("/", 1)[-1]), depth)
        for combined in ("anyOf", "oneOf", "allOf"):
            if combined in schema:
                return self.value(schema[combined][0], depth)
        if kind == "object":
            return {k: self.value(v, depth) for k, v in (schema.get("properties") or {}).items()}
        if kind == "array":
            item = self.value(schema.get("items", {}), depth)
            return [] if item is None else [item]
        return None


def completion_body(request: Any, reply: Reply) -> dict:
    """The chat completion that answers ``request`` with ``reply``, usage counted (or scripted)."""
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


def stream_chunks(completion: dict, include_usage: bool) -> Iterator[str]:
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
