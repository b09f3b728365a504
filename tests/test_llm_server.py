"""The grader's LLM server: against the real openai SDK, and from inside the sandbox."""

from __future__ import annotations

import base64
import json
import socket
import struct
import time

import openai
import pytest
from pydantic import BaseModel

from conftest import BACKENDS, copy_course, notebook, run_grade, write_notebook
from grader.kits.llm.embedding import EMBEDDING_DIM
from grader.kits.llm.model import LLM, Reply
from grader.kits.llm.server import Server


@pytest.fixture(scope="module")
def served():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = Server(port=port)
    server.start()
    yield f"http://127.0.0.1:{port}/v1", LLM(server.state)
    server.stop()


@pytest.fixture
def client(served):
    url, llm = served
    llm.clear()
    return openai.OpenAI(base_url=url, api_key="dummy", max_retries=0), llm


def test_chat_is_recorded_and_deterministic(client):
    c, llm = client
    ask = dict(model="grader-mini", temperature=0.2,
               messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "two words"}])
    first, second = c.chat.completions.create(**ask), c.chat.completions.create(**ask)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.usage.prompt_tokens == 4
    body = llm.chat_requests()[0]
    assert body["temperature"] == 0.2 and [m["role"] for m in body["messages"]] == ["system", "user"]


def test_streaming_with_usage(client):
    c, _ = client
    chunks = list(c.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "[grader model] I received 1 words." and chunks[-1].usage.total_tokens > 0


def test_structured_output_and_scripted_json(client):
    class City(BaseModel):
        name: str
        population: int

    c, llm = client
    parsed = c.chat.completions.parse(model="grader-mini", messages=[{"role": "user", "content": "x"}],
                                      response_format=City).choices[0].message.parsed
    assert parsed == City(name="example", population=1)
    llm.reply({"name": "Oslo", "population": 700000})
    parsed = c.chat.completions.parse(model="grader-mini", messages=[{"role": "user", "content": "x"}],
                                      response_format=City).choices[0].message.parsed
    assert parsed == City(name="Oslo", population=700000)
    assert llm.chat_requests()[0]["response_format"]["type"] == "json_schema"


def test_tool_calls_round_trip(client):
    c, llm = client
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    msgs = [{"role": "user", "content": "weather in Oslo?"}]
    first = c.chat.completions.create(model="grader-mini", messages=msgs, tools=tools).choices[0]
    call = first.message.tool_calls[0]
    assert first.finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example"}
    msgs += [first.message.model_dump(exclude_none=True),
             {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    final = c.chat.completions.create(model="grader-mini", messages=msgs, tools=tools).choices[0]
    assert final.finish_reason == "stop" and final.message.content


def test_usage_can_be_scripted(client):
    c, llm = client
    llm.reply(Reply(content="fine", usage={"prompt_tokens": 123, "completion_tokens": 45}))
    usage = c.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "x"}]).usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (123, 45, 168)


def test_llm_server_command_serves_on_loopback(tmp_path):
    import subprocess
    import sys

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "llm-server", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.strip() == f"export OPENAI_BASE_URL=http://127.0.0.1:{port}/v1"
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        assert [m.id for m in c.models.list()] == ["grader-mini", "grader-large"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_embeddings_and_models(client):
    c, _ = client
    data = c.embeddings.create(model="grader-embed", input=["a", "b", "a"]).data
    assert len(data) == 3 and data[0].embedding == data[2].embedding != data[1].embedding
    assert abs(sum(x * x for x in data[0].embedding) - 1) < 1e-6  # the SDK asks for float32, packed
    assert [m.id for m in c.models.list()] == ["grader-mini", "grader-large"]


def test_embeddings_come_packed_when_asked(client):
    """The SDK decodes base64 itself; the vectors are the float ones, to float32 precision."""
    c, _ = client
    texts = ["refund policy", "office hours", ""]
    plain = c.embeddings.create(model="grader-embed", input=texts, encoding_format="float").data
    packed = c.embeddings.create(model="grader-embed", input=texts, encoding_format="base64").data
    for p, q in zip(plain, packed, strict=True):
        assert len(p.embedding) == EMBEDDING_DIM
        assert max(abs(a - b) for a, b in zip(p.embedding, _floats(q.embedding), strict=True)) < 1e-6


def _floats(embedding) -> list[float]:
    """A packed vector, whether the SDK decoded it or left the base64 text."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return list(embedding)


def test_faults_on_demand(client, served):
    c, llm = client
    llm.fail(429, times=2, retry_after=0.2)
    patient = openai.OpenAI(base_url=served[0], api_key="dummy", max_retries=2)
    patient.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "x"}])
    statuses = [r.status for r in llm.requests]
    assert statuses == [429, 429, 200]
    gaps = [b.time - a.time for a, b in zip(llm.requests, llm.requests[1:])]
    assert all(gap >= 0.19 for gap in gaps)  # the SDK honoured retry-after
    llm.fail(500)
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "x"}])
    llm.reply(Reply(malformed=True))
    with pytest.raises(ValueError):
        c.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "x"}])
    slow = openai.OpenAI(base_url=served[0], api_key="dummy", max_retries=0, timeout=0.3)
    llm.reply(Reply(content="late", delay=1.0))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        slow.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "x"}])
    assert time.monotonic() - started < 1.0


HIDDEN = '''
import base64
import json

def test_the_notebook_called_the_server(nb, llm):
    """the notebook asked the model once, with a system prompt, and could not read or reset the record"""
    bodies = llm.chat_requests()
    assert len(bodies) == 1 and bodies[0]["messages"][0]["role"] == "system"
    assert all(code in (404, 405) for code in nb.ref("probes"))

def test_retries_after_429(nb, llm):
    """ask() retries a rate-limited call"""
    llm.clear()
    llm.fail(429, times=1, retry_after=0.1)
    assert nb.call("ask", "again").startswith("[grader model]")
    assert [r.status for r in llm.requests] == [429, 200]

def test_nothing_else_reachable(nb):
    """only the grader's server is reachable"""
    assert nb.ref("reached") == []
    assert nb.ref("sorted(os.listdir('/run/grader'))") == ["8000.sock"]
'''

CALLER = '''
import os, socket, openai
client = openai.OpenAI(max_retries=3)
def ask(text):
    reply = client.chat.completions.create(model="grader-mini",
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}])
    return reply.choices[0].message.content
answer = ask("hello")
import urllib.request, urllib.error
probes = []
for method, path in [("GET", "/v1/requests"), ("GET", "/record"), ("POST", "/reset"), ("DELETE", "/v1/chat/completions"),
                     ("GET", "/docs"), ("GET", "/openapi.json")]:
    try:
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:8000" + path, method=method, data=b"{}"
                                                      if method == "POST" else None), timeout=5)
        probes.append(200)
    except urllib.error.HTTPError as e:
        probes.append(e.code)
reached = []
for addr in [("1.1.1.1", 443), ("127.0.0.1", 22)]:
    try:
        socket.create_connection(addr, timeout=1).close(); reached.append(addr)
    except OSError:
        pass
'''


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sandboxed_notebook_reaches_only_the_grader_server(tmp_path, backend):
    course = copy_course(tmp_path / "course", cell_timeout=20, timeout=90, memory=1024, llm=True)
    hidden = course / "solutions" / "00-warmup" / "tests"
    for old in hidden.glob("*.py"):
        old.unlink()
    (hidden / "test_llm.py").write_text(HIDDEN)
    for old in (course / "labs" / "00-warmup" / "tests").glob("*.py"):
        old.unlink()
    write_notebook(course / "submissions" / "ann.ipynb", notebook(CALLER))
    # the lab's tests are this test's probes, which the warm-up's solution was never meant to pass
    proc = run_grade("submissions", "--backend", backend, "--skip-solution-check", cwd=course)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((course / "grades" / "ann" / "00-warmup.json").read_text())
    assert [(t["name"], t["status"]) for t in result["tests"]] == [
        ("the notebook asked the model once, with a system prompt, and could not read or reset the record",
         "passed"),
        ("ask() retries a rate-limited call", "passed"),
        ("only the grader's server is reachable", "passed")], result
