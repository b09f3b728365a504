"""The LLM server under hostile requests: every request is bounded in size, depth and time
before the server reads, parses or keeps it, and the server keeps answering.

Requests are written byte by byte on the server's Unix socket (the way a sandboxed notebook
reaches it), so that lengths can lie, bodies can be chunked or trickle in, and heads can be
as large as an attacker likes. The memory test serves from a process of its own and reads
that process's peak resident size.
"""

from __future__ import annotations

import json
import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import raw_http
from raw_http import RESET, chunked, exchange, header_fields, peak_rss, status_or_reset

from grader.kits.llm.bounds import KiB, Limits, MiB
from grader.kits.llm.model import LLM
from grader.kits.llm.server import Server

LIMITS = Limits()
CHAT = b"/v1/chat/completions"


@contextmanager
def serving(tmp_path: Path, limits: Limits = LIMITS) -> Iterator[tuple[Path, LLM]]:
    sock = tmp_path / "llm.sock"
    server = Server(uds=sock, limits=limits)
    server.start()
    try:
        yield sock, LLM(server.state)
    finally:
        server.stop()


def head(length: int | None = None, path: bytes = CHAT, extra: bytes = b"") -> bytes:
    framing = b"transfer-encoding: chunked\r\n" if length is None else b"content-length: %d\r\n" % length
    return b"POST %s HTTP/1.1\r\nhost: grader\r\ncontent-type: application/json\r\n%s%s\r\n" % (path, framing, extra)


def chat_pieces(size: int, piece: int = 64 * KiB) -> Iterator[bytes]:
    """A chat request of exactly ``size`` bytes, in pieces (never all in memory at once)."""
    prefix, suffix = b'{"messages": [{"role": "user", "content": "', b'"}]}'
    yield prefix
    left = size - len(prefix) - len(suffix)
    while left > 0:
        yield b"a" * min(piece, left)
        left -= piece
    yield suffix


def chat_body(size: int) -> bytes:
    return b"".join(chat_pieces(size))


def message(body: bytes) -> str:
    """The error message of an answer in OpenAI's shape."""
    return json.loads(body)["error"]["message"]


def still_answers(sock: Path) -> None:
    status, answer, _ = exchange(sock, head(100) + chat_body(100))
    assert status == 200 and json.loads(answer)["choices"][0]["message"]["content"].startswith("[grader model]")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[Path, LLM]]:
    with serving(tmp_path_factory.mktemp("llm")) as served:
        yield served


SIZES = [LIMITS.body - 1, LIMITS.body, LIMITS.body + 1, 2 * LIMITS.body, 100 * LIMITS.body]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("size", SIZES)
def test_bodies_around_and_far_over_the_bound(server, size, framing):
    sock, llm = server
    llm.clear()
    pieces = chat_pieces(size)
    first, rest = (head(size), pieces) if framing == "content-length" else (head(), chunked(pieces))
    status, answer, sent = exchange(sock, first, rest)
    if size <= LIMITS.body:
        assert status == 200 and len(llm.requests[0].raw) == size
    else:
        assert status == 413 and "larger than 1024 KiB" in message(answer)
        assert not llm.requests
    if size == 100 * LIMITS.body:
        assert sent < size // 10  # answered long before the body was in: never read to its end
    still_answers(sock)


def test_a_declared_length_over_the_bound_is_refused_before_its_body(server):
    sock, _ = server
    status, answer, sent = exchange(sock, head(100 * MiB))
    assert (status, sent) == (413, 0) and "larger than" in message(answer)
    still_answers(sock)


@pytest.mark.parametrize("depth", [1, LIMITS.depth - 1, LIMITS.depth, LIMITS.depth + 1, 2 * LIMITS.depth,
                                   LIMITS.body // 2])
def test_nesting_around_and_far_over_the_bound(server, depth):
    sock, _ = server
    body = b"[" * depth + b"]" * depth
    status, answer, _ = exchange(sock, head(len(body)) + body)
    if depth <= LIMITS.depth:
        assert status == 200
    else:
        assert status == 400 and f"nested deeper than {LIMITS.depth} levels" in message(answer)
    still_answers(sock)


@pytest.mark.parametrize("fields, expected", [
    (header_fields(LIMITS.headers - 3), {200}),  # host, content-type, content-length make the bound
    (header_fields(LIMITS.headers - 2), {431}),
    (header_fields(1, LIMITS.head // 2), {200}),
    (header_fields(1, LIMITS.head), {431, 400, RESET}),
    (header_fields(1, 50 * LIMITS.head), {400, RESET}),
    (header_fields(5000), {431, 400, RESET}),
])
def test_heads_around_and_far_over_the_bound(server, fields, expected):
    sock, llm = server
    llm.clear()
    status = status_or_reset(sock, head(100, extra=fields) + chat_body(100))
    assert status in expected
    assert len(llm.requests) == (status == 200)
    still_answers(sock)


@pytest.mark.parametrize("before, trickled", [
    (b"", b""),  # a connection that never sends a thing
    (b"", head(100)),  # a head a byte at a time
    (head(100), chat_body(100)),  # a body a byte at a time
    (head(100) + b"{", b""),  # a body that stops
])
def test_a_request_that_takes_too_long_to_arrive_is_cut_off(tmp_path, before, trickled):
    limits = Limits(seconds=1)
    with serving(tmp_path, limits) as (sock, llm):
        raw_http.assert_cut_off(sock, limits.seconds, before, trickled)
        assert not llm.requests
        still_answers(sock)


def test_connections_over_the_bound_are_closed_as_they_arrive(tmp_path):
    with serving(tmp_path, Limits(connections=4)) as (sock, _):
        raw_http.assert_connections_bounded(sock, 4, still_answers)


def chat(client: httpx.Client, size: int = 100) -> httpx.Response:
    return client.post("/v1/chat/completions", content=chat_body(size), headers={"content-type": "application/json"})


def test_the_record_keeps_the_first_requests_and_counts_the_rest(tmp_path):
    limits = Limits(recorded=5, recorded_bytes=3 * KiB)
    with serving(tmp_path, limits) as (sock, llm), httpx.Client(
            transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://grader") as client:
        assert all(chat(client).status_code == 200 for _ in range(8))
        assert (len(llm.requests), llm.dropped) == (5, 3)
        assert all(body["messages"][0]["content"] for body in llm.chat_requests())
        llm.clear()
        assert (len(llm.requests), llm.dropped) == (0, 0)
        assert all(chat(client, KiB).status_code == 200 for _ in range(4))  # bytes, not count, run out
        assert (len(llm.requests), llm.dropped) == (3, 1)


def test_embeddings_inputs_are_bounded(server):
    sock, _ = server
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://grader") as client:
        for count, status in [(LIMITS.inputs, 200), (LIMITS.inputs + 1, 400)]:
            answer = client.post("/v1/embeddings", json={"model": "e", "input": ["t"] * count})
            assert answer.status_code == status
        assert f"more than {LIMITS.inputs} inputs" in message(answer.content)


def hostile_requests(sock: Path, client: httpx.Client) -> None:
    """Everything above at once, each far over its bound, and a notebook calling in a loop."""
    for size in (2 * LIMITS.body, 100 * LIMITS.body):
        assert exchange(sock, head(), chunked(chat_pieces(size)))[0] == 413
        assert exchange(sock, head(size), chat_pieces(size))[0] == 413
    widest = b"[" + b"{}," * (LIMITS.body // 3 - 1) + b"{}]"  # parses to the most objects per byte
    for _ in range(4):
        assert exchange(sock, head(len(widest)) + widest)[0] == 200
    for _ in range(LIMITS.recorded_bytes // LIMITS.body + 4):  # the record fills, then counts the rest
        assert exchange(sock, head(LIMITS.body), chat_pieces(LIMITS.body))[0] == 200
    for _ in range(LIMITS.recorded + 200):
        assert chat(client).status_code == 200
    deep = b"[" * (LIMITS.body // 2) + b"]" * (LIMITS.body // 2)
    assert exchange(sock, head(len(deep)) + deep)[0] == 400


def test_memory_stays_bounded_whatever_the_notebook_sends(tmp_path):
    sock = tmp_path / "llm.sock"
    with raw_http.served_alone("grader.kits.llm.server", sock) as proc:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://grader") as client:
            for _ in range(20):
                assert chat(client).status_code == 200
            before = peak_rss(proc.pid)
            hostile_requests(sock, client)
            grown = peak_rss(proc.pid) - before
            assert chat(client).status_code == 200
        print(f"peak RSS grew by {grown / MiB:.1f} MiB")
        # The record's bodies (16 MiB) and one body at the bound, parsed and walked for its
        # depth (some 50 MiB at the most objects per byte); without the bounds the 100 MiB
        # bodies alone cost gigabytes.
        assert grown < 96 * MiB


def test_embedding_answers_nobody_reads_stay_bounded(tmp_path):
    """Each connection asks for the largest answer there is (the most texts, each dense enough to
    fill every number) and never reads it: the answers wait in the server, bounded by the
    connections' count and the texts' bound."""
    dense = " ".join(f"w{i}" for i in range(700))
    body = json.dumps({"model": "e", "input": [dense] * LIMITS.inputs, "encoding_format": "float"}).encode()
    assert len(body) < LIMITS.body
    sock = tmp_path / "llm.sock"
    with raw_http.served_alone("grader.kits.llm.server", sock) as proc:
        before = peak_rss(proc.pid)
        unread = []
        for _ in range(LIMITS.connections - 1):  # each sent as it opens: a request must arrive in time
            unread.append(raw_http.connect(sock))
            unread[-1].sendall(head(len(body), b"/v1/embeddings") + body)
        for conn in unread:  # its answer is out of the app (the head arrives), and left unread
            assert select.select([conn], [], [], 120)[0]
        still_answers(sock)
        grown = peak_rss(proc.pid) - before
        for conn in unread:
            conn.close()
    print(f"peak RSS grew by {grown / MiB:.1f} MiB")
    assert grown < 96 * MiB


class Recording(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("body", [
    {"tools": [{"function": 1}]},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": {"enum": []}}}}])
def test_a_request_the_server_fails_on_leaves_no_traceback(server, body):
    sock, _ = server
    log = logging.getLogger("uvicorn.error")  # where uvicorn writes what the app raised
    recording = Recording()
    log.addHandler(recording)
    try:
        data = json.dumps(body).encode()
        for _ in range(3):
            assert exchange(sock, head(len(data)) + data)[0] == 500
        still_answers(sock)
    finally:
        log.removeHandler(recording)
    assert not recording.records
