"""The api kit's writes: creates, updates and deletes on the collections a test opens, against a
reference model of a desk, over generated sequences; idempotency keys under retries in any
order; faults before and after a write; every bound around its limit; the server's memory
under hostile writes; the command; and a write from inside the sandbox."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import run_grade
from raw_http import peak_rss

from grader import kits
from grader.engine.kernel import Kernel
from grader.engine.sandbox import Limits as SandboxLimits
from grader.engine.sandbox import get_backend
from grader.kits.api.data import default_collections
from grader.kits.api.model import API
from grader.kits.api.server import Server
from grader.kits.api.writes import WriteLimits
from grader.kits.served import KiB, Limits, MiB

LIMITS, WRITES = Limits(), WriteLimits()


@contextmanager
def serving(folder: Path, limits: Limits = LIMITS, writes: WriteLimits = WRITES
            ) -> Iterator[tuple[API, httpx.Client]]:
    sock = folder / "api.sock"
    server = Server(uds=sock, limits=limits, write_limits=writes)
    server.start()
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://grader") as client:
            yield API(server.state), client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[API, httpx.Client]]:
    with serving(tmp_path_factory.mktemp("api")) as running:
        yield running


@pytest.fixture
def api(served) -> tuple[API, httpx.Client]:
    api, client = served
    api.clear()
    return api, client


# --- a reference desk, and generated sequences of writes ------------------------------------


@dataclass
class Desk:
    """What a writable collection should hold after each write, written independently of the kit."""

    records: list[dict]
    last: int = 0
    keys: dict[str, tuple[tuple, int, dict | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last = max((r["id"] for r in self.records), default=0)

    def apply(self, method: str, item: int | None, body: dict | None, key: str | None) -> tuple[int, dict | None]:
        request = (method, item, json.dumps(body, sort_keys=True))
        if key in self.keys:
            first, status, answer = self.keys[key]
            return (status, answer) if first == request else (422, None)
        status, answer = self._perform(method, item, body)
        if key is not None and 200 <= status < 300:
            self.keys[key] = (request, status, answer)
        return status, answer

    def _perform(self, method: str, item: int | None, body: dict | None) -> tuple[int, dict | None]:
        if method == "POST":
            self.last += 1
            self.records.append({"id": self.last, **body})
            return 201, self.records[-1]
        at = next((n for n, r in enumerate(self.records) if r["id"] == item), None)
        if at is None:
            return 404, None
        if method == "DELETE":
            del self.records[at]
            return 204, None
        self.records[at] = {**self.records[at], **body}
        return 200, self.records[at]


def a_write(rng: random.Random, desk: Desk, sent: list[tuple]) -> tuple:
    """A write a notebook could send: mostly new ones, some retries of earlier ones (the same key
    and body, or the same key and another body), some on records that are not there."""
    if sent and rng.random() < 0.3:
        method, item, body, key = rng.choice(sent)
        if key is not None and method != "DELETE" and rng.random() < 0.3:  # a DELETE's body is not read
            return method, item, {**(body or {}), "changed": True}, key
        return method, item, body, key
    method = rng.choice(["POST", "POST", "PATCH", "DELETE"])
    ids = [r["id"] for r in desk.records] + [desk.last + 5]
    item = None if method == "POST" else rng.choice(ids)
    body = None if method == "DELETE" else {
        rng.choice(["amount", "note", "status", "tags"]): rng.choice([rng.randint(0, 500), "é" * rng.randint(0, 9),
                                                                      ["a", {"b": None}], rng.random()])}
    key = f"key-{rng.randrange(10**9)}" if rng.random() < 0.6 else None
    return method, item, body, key


def send(client: httpx.Client, method: str, item: int | None, body: dict | None, key: str | None,
         collection: str = "refunds") -> httpx.Response:
    path = f"/{collection}" if item is None else f"/{collection}/{item}"
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("seed", range(12))
def test_generated_writes_leave_what_a_reference_desk_says(api, seed):
    api, client = api
    rng = random.Random(seed)
    start = [{"id": i, "amount": rng.randint(1, 99)} for i in sorted(rng.sample(range(1, 60), rng.randint(0, 8)))]
    api.load("refunds", start, writable=True)
    desk, sent, expected = Desk([dict(r) for r in start]), [], []
    for _ in range(60):
        write = a_write(rng, desk, sent)
        sent.append(write)
        status, answer = desk.apply(*write)
        got = send(client, *write)
        assert got.status_code == status, (write, got.text)
        if answer is not None:
            assert got.json() == answer
        assert api.records("refunds") == desk.records
        method, _, body, key = write
        expected.append((method, key, body, status))
    assert [(w.method, w.key, w.json, w.status) for w in api.writes] == expected


@pytest.mark.parametrize("seed", range(8))
def test_a_key_performs_once_however_its_retries_come(api, seed):
    api, client = api
    rng = random.Random(seed)
    api.load("refunds", [], writable=True)
    bodies = {f"k{n}": {"order": rng.randint(1, 9), "amount": rng.randint(1, 300), "note": "x" * rng.randint(0, 40)}
              for n in range(rng.randint(1, 12))}
    retries = [key for key in bodies for _ in range(rng.randint(1, 4))]
    rng.shuffle(retries)
    first: dict[str, httpx.Response] = {}
    for key in retries:
        shuffled = dict(rng.sample(list(bodies[key].items()), len(bodies[key])))  # another order, same fields
        got = send(client, "POST", None, shuffled, key)
        assert got.status_code == 201
        if key in first:
            assert got.content == first[key].content and got.headers["idempotent-replayed"] == "true"
            assert got.headers["location"] == first[key].headers["location"]
        else:
            first[key] = got
            assert "idempotent-replayed" not in got.headers
    assert sorted(r["id"] for r in api.records("refunds")) == list(range(1, len(bodies) + 1))
    assert {r["id"]: r for r in api.records("refunds")} == {a.json()["id"]: a.json() for a in first.values()}


@pytest.mark.parametrize(("method", "item", "other"), [
    ("POST", None, ("POST", None, {"amount": 2})), ("POST", None, ("PATCH", 1, {"amount": 1})),
    ("PATCH", 1, ("PATCH", 1, {"amount": 3})), ("PATCH", 1, ("PATCH", 2, {"amount": 1})),
    ("DELETE", 1, ("DELETE", 2, None)), ("DELETE", 1, ("POST", None, {"amount": 1}))])
def test_a_key_reused_for_another_request_is_a_422_that_changes_nothing(api, method, item, other):
    api, client = api
    api.load("refunds", [{"id": 1, "amount": 0}, {"id": 2, "amount": 0}], writable=True)
    assert send(client, method, item, None if method == "DELETE" else {"amount": 1}, "same").status_code < 300
    before = api.records("refunds")
    refused = send(client, *other, "same")
    assert refused.status_code == 422 and "Idempotency-Key" in refused.json()["detail"]
    assert api.records("refunds") == before


def test_a_500_after_the_write_took_effect_is_safe_to_retry_under_its_key(api):
    api, client = api
    api.load("refunds", [], writable=True)
    api.fail(500, method="POST", path_prefix="/refunds", after=True)
    assert send(client, "POST", None, {"amount": 40}, "r1").status_code == 500
    assert api.records("refunds") == [{"id": 1, "amount": 40}]  # it happened all the same
    retried = send(client, "POST", None, {"amount": 40}, "r1")
    assert (retried.status_code, retried.json()) == (201, {"id": 1, "amount": 40})
    assert api.records("refunds") == [{"id": 1, "amount": 40}]
    api.fail(500, method="POST", after=True)
    assert send(client, "POST", None, {"amount": 40}, None).status_code == 500
    assert send(client, "POST", None, {"amount": 40}, None).status_code == 201
    assert [r["amount"] for r in api.records("refunds")] == [40, 40, 40]  # without a key: refunded twice
    assert [(w.key, w.status) for w in api.writes] == [("r1", 500), ("r1", 201), (None, 500), (None, 201)]


def test_a_503_before_the_write_leaves_nothing_and_the_retry_performs_it(api):
    api, client = api
    api.load("refunds", [], writable=True)
    api.fail(503, times=2, method="POST", retry_after=0)
    assert [send(client, "POST", None, {"amount": 5}, "k").status_code for _ in range(3)] == [503, 503, 201]
    assert api.records("refunds") == [{"id": 1, "amount": 5}]
    assert client.get("/refunds").status_code == 200  # a fault for POST leaves reads alone
    assert [w.json for w in api.writes] == [{"amount": 5}] * 3


@pytest.mark.parametrize("seed", range(4))
def test_retries_sent_at_once_still_perform_once(api, seed):
    api, client = api
    rng = random.Random(seed)
    api.load("refunds", [], writable=True)
    keys = [f"k{rng.randrange(10**6)}-{n}" for n in range(rng.randint(2, 6))]
    sends = [key for key in keys for _ in range(rng.randint(2, 5))]
    rng.shuffle(sends)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda key: send(client, "POST", None, {"for": key}, key), sends))
    assert all(a.status_code == 201 for a in answers)
    assert sorted(r["for"] for r in api.records("refunds")) == sorted(keys)
    assert {a.json()["for"]: a.json()["id"] for a in answers} == {r["for"]: r["id"] for r in api.records("refunds")}


@pytest.mark.parametrize("args", [{"method": "put"}, {"method": "HEAD"}, {"method": "FETCH"}])
def test_a_fault_for_a_method_there_is_not_is_refused(api, args):
    api, _ = api
    with pytest.raises(ValueError, match="no such fault"):
        api.fail(500, **args)


def test_a_fault_for_one_method_leaves_the_others_alone(api):
    api, client = api
    api.load("refunds", [{"id": 1}], writable=True)
    api.fail(502, method="PATCH", after=True)
    assert client.get("/refunds/1").status_code == 200 and client.post("/refunds", json={}).status_code == 201
    assert client.patch("/refunds/1", json={"a": 1}).status_code == 502
    assert api.records("refunds") == [{"id": 1, "a": 1}, {"id": 2}]


def test_default_data_is_read_only_and_a_loaded_collection_unless_declared(api):
    api, client = api
    api.load("orders", [{"id": 1, "total": 10}])
    for method, path in [("POST", "/tickets"), ("PATCH", "/tickets/101"), ("DELETE", "/customers/1"),
                         ("POST", "/orders"), ("PATCH", "/orders/1"), ("DELETE", "/orders/1")]:
        refused = client.request(method, path, json={"status": "closed"}, headers={"Idempotency-Key": "a"})
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET")
        assert "read-only" in refused.json()["detail"]
    assert api.records("tickets") == default_collections()["tickets"] and api.records("orders")[0]["total"] == 10
    api.load("orders", api.records("orders"), writable=True)
    assert client.patch("/orders/1", json={"total": 12}).json() == {"id": 1, "total": 12}
    api.load("orders", api.records("orders"))
    assert client.delete("/orders/1").status_code == 405
    api.clear()
    assert client.post("/nothing", json={}).status_code == 404
    assert client.post("/orders", json={}).status_code == 405


# What the desk's tickets and customers were before the back office joined the default data.
DESK_SHA256 = "0529c5d4b81a42dfe79bc4abce5712667b4a5cf3d47a49e102970e818dae45c8"


def test_the_default_back_office_takes_writes_and_nothing_else_does(api):
    """The default data's empty back-office collections take writes (a notebook that runs top to bottom acts
    there); its orders, tickets and customers stay read-only, and the desk is what it was before orders came."""
    api, client = api
    defaults = default_collections()
    desk = json.dumps([defaults["customers"], defaults["tickets"]], sort_keys=True).encode()
    assert hashlib.sha256(desk).hexdigest() == DESK_SHA256
    emails = {c["email"] for c in defaults["customers"]}
    assert defaults["orders"] and all(o["customer_email"] in emails and o["total"] > 0 for o in defaults["orders"])
    for name in ("cases", "replies", "refunds"):
        assert api.records(name) == []
        made = client.post(f"/{name}", json={"note": name}, headers={"Idempotency-Key": name})
        assert made.status_code == 201 and api.records(name) == [{"id": 1, "note": name}]
    assert [client.post(f"/{name}", json={}).status_code for name in ("orders", "tickets", "customers")] == [405] * 3
    api.clear()
    assert [api.records(name) for name in ("cases", "replies", "refunds")] == [[], [], []]
    assert client.post("/refunds", json={"amount": 1}, headers={"Idempotency-Key": "refunds"}).status_code == 201


def test_ids_are_never_given_twice_and_a_new_record_says_where_it_is(api):
    api, client = api
    api.load("tickets", [{"id": 7, "title": "a"}, {"id": 3, "title": "b"}], writable=True)
    made = client.post("/tickets", json={"title": "c"})
    assert (made.status_code, made.json(), made.headers["location"]) == (201, {"id": 8, "title": "c"}, "/tickets/8")
    assert client.get("/tickets/8").json() == made.json()
    assert client.delete("/tickets/8").status_code == 204 and client.get("/tickets/8").status_code == 404
    assert client.post("/tickets", json={}).json() == {"id": 9}
    assert client.patch("/tickets/9", json={"title": "d"}).json() == {"id": 9, "title": "d"}
    assert {client.patch(f"/tickets/{item}", json={}).status_code for item in ("8", "x", "3.0", "", "9/x")} == {404}
    assert client.patch("/tickets/3", json={"tags": ["x"]}).json() == {"id": 3, "title": "b", "tags": ["x"]}


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"", 400, "not JSON"), (b"{", 400, "not JSON"), (b"[1, 2]", 422, "JSON object"), (b'"x"', 422, "JSON object"),
    (b"null", 422, "JSON object"), (b'{"id": 5}', 422, "'id'"), (b'{"a": NaN}', 422, "NaN"),
    (b'{"a": 1e999}', 422, "infinite"), (b'{"a": ' * 70 + b"1" + b"}" * 70, 400, "deeper"),
    (b'{"a": 1' + b"0" * 5000 + b"}", 400, "not JSON")])
def test_a_body_that_is_no_record_is_refused_and_changes_nothing(api, body, status, says):
    api, client = api
    api.load("refunds", [{"id": 1}], writable=True)
    for method, path in (("POST", "/refunds"), ("PATCH", "/refunds/1")):
        refused = client.request(method, path, content=body, headers={"Idempotency-Key": "k"})
        assert refused.status_code == status and says in refused.json()["detail"], refused.text
    assert api.records("refunds") == [{"id": 1}]
    assert client.post("/refunds", json={"a": 1}, headers={"Idempotency-Key": "k"}).status_code == 201  # key unused


# --- bounds -------------------------------------------------------------------------------

SMALL = WriteLimits(records=5, stored=600, keys=4, key_length=8, answers=300)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator[tuple[API, httpx.Client]]:
    with serving(tmp_path_factory.mktemp("small"), writes=SMALL) as running:
        yield running


@pytest.mark.parametrize("length", [0, 1, SMALL.key_length, SMALL.key_length + 1, 4 * KiB])
def test_a_key_of_any_length_past_the_bound_is_a_400(small, length):
    api, client = small
    api.clear()
    api.load("refunds", [], writable=True)
    got = send(client, "POST", None, {"a": 1}, "k" * length)
    assert got.status_code == (201 if 0 < length <= SMALL.key_length else 400)
    assert len(api.records("refunds")) == (got.status_code == 201)


@pytest.mark.parametrize("count", [SMALL.records - 2, SMALL.records - 1, SMALL.records])
def test_records_in_a_collection_stop_at_the_bound_and_a_delete_frees_one(small, count):
    api, client = small
    api.clear()
    api.load("refunds", [{"id": n} for n in range(1, count + 1)], writable=True)
    statuses = [client.post("/refunds", json={}).status_code for _ in range(3)]
    assert statuses == [201] * (SMALL.records - count) + [507] * (3 - SMALL.records + count)
    assert len(api.records("refunds")) == SMALL.records
    refused = client.post("/refunds", json={})
    assert f"at most {SMALL.records} records" in refused.json()["detail"]
    assert client.delete("/refunds/1").status_code == 204 and client.post("/refunds", json={}).status_code == 201


@pytest.mark.parametrize("seed", range(6))
def test_bytes_in_all_writable_collections_stop_at_the_bound(small, seed):
    api, client = small
    rng = random.Random(seed)
    api.clear()
    api.load("a", [], writable=True)
    api.load("b", [], writable=True)
    held = 0
    for _ in range(12):
        name, note = rng.choice("ab"), "n" * rng.randint(0, 200)
        size = len(json.dumps({"id": 9, "note": note}, separators=(",", ":")))
        got = client.post(f"/{name}", json={"note": note})
        fits = held + size <= SMALL.stored and len(api.records(name)) + (got.status_code != 201) <= SMALL.records
        if got.status_code == 201:
            held += size
        assert got.status_code in (201, 507) and (got.status_code == 201) == fits, (held, size)
    assert held <= SMALL.stored
    with pytest.raises(ValueError, match="would hold more than"):
        api.load("c", [{"id": 1, "note": "n" * SMALL.stored}], writable=True)
    assert api.records("c") == []  # refused as it is loaded, nothing served


def test_keys_stop_at_their_count_and_bytes_and_a_refusal_writes_nothing(small):
    api, client = small
    api.clear()
    api.load("refunds", [], writable=True)
    statuses = [send(client, "POST", None, {"n": n}, f"k{n}").status_code for n in range(SMALL.keys + 1)]
    assert statuses == [201] * SMALL.keys + [507] and len(api.records("refunds")) == SMALL.keys
    assert send(client, "POST", None, {"n": 0}, "k0").status_code == 201  # a kept key still replays
    assert len(api.records("refunds")) == SMALL.keys
    api.clear()
    api.load("refunds", [], writable=True)
    assert send(client, "POST", None, {"note": "x" * 200}, "a").status_code == 201
    assert send(client, "POST", None, {"note": "x" * 200}, "b").status_code == 507  # the answers' bytes
    assert len(api.records("refunds")) == 1


def test_the_record_keeps_write_bodies_within_its_bytes(tmp_path):
    with serving(tmp_path, Limits(recorded=50, recorded_bytes=2500)) as (api, client):
        api.load("refunds", [], writable=True)
        assert all(send(client, "POST", None, {"note": "x" * 1000}, None).status_code == 201 for _ in range(5))
        assert (len(api.writes), api.dropped) == (2, 3)  # a body's 1 KiB counts against the record's bytes
        assert api.writes[0].json == {"note": "x" * 1000} and api.writes[0].body.startswith(b'{"note"')


# --- memory, the command, the sandbox -------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@contextmanager
def command(*args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "api-server", "--port", str(port), *args],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"export API_BASE_URL=http://127.0.0.1:{port}"
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_api_server_command_opens_collections_to_writes():
    with command("--writable", "refunds", "--writable", "tickets") as (_, url), httpx.Client(base_url=url) as client:
        assert client.post("/refunds", json={"amount": 1}).json() == {"id": 1, "amount": 1}
        last = default_collections()["tickets"][-1]["id"]
        assert client.post("/tickets", json={"title": "new"}).json() == {"id": last + 1, "title": "new"}
        assert client.post("/customers", json={}).status_code == 405


def test_api_server_refuses_a_collection_name_it_could_not_serve(tmp_path):
    proc = run_grade("api-server", "--writable", "a/b", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("grade: error: --writable 'a/b'"), proc.stderr


def hostile_bodies() -> Iterator[bytes]:
    """Bodies that cost the most Python objects per byte, up to the body bound."""
    yield b'{"x": [' + b",".join([b"{}"] * (LIMITS.body // 3 - 10)) + b"]}"
    yield b'{"x": [' + b",".join([b"[]"] * 1000) + b"]}"
    yield b'{"x": "' + b"y" * (LIMITS.body - 20) + b'"}'


def test_memory_stays_bounded_under_hostile_writes():
    with command("--writable", "junk") as (proc, url), httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(20):
            assert client.post("/junk", json={"warm": True}).status_code == 201
        before = peak_rss(proc.pid)
        statuses = []
        for n in range(300):
            for body in hostile_bodies() if n < 20 else [b'{"x": [' + b",".join([b"{}"] * 300) + b"]}"]:
                statuses.append(client.post("/junk", content=body, headers={"Idempotency-Key": f"k{n}-{len(body)}"})
                                .status_code)
        for n in range(2 * WRITES.keys):
            statuses.append(client.patch("/junk/1", json={"n": n}, headers={"Idempotency-Key": f"p{n}"}).status_code)
        assert {201, 507} <= set(statuses) and 200 in statuses
        assert client.post("/junk", content=b"x" * (2 * LIMITS.body)).status_code == 413
        grown = peak_rss(proc.pid) - before
        print(f"peak RSS grew by {grown / MiB:.1f} MiB")
        # One body's parse at a time (~28 MiB for a MiB of "{}", as for any kit's JSON body), the
        # store (512 KiB of JSON, a few MiB as objects), the answers kept (4 MiB) and the record's
        # bodies (16 MiB of bytes): 46 MiB measured.
        assert grown < 64 * MiB


WRITE_IN_SANDBOX = """
import os, httpx
api = os.environ["API_BASE_URL"]
def refund(amount, key):
    for _ in range(3):
        answer = httpx.post(api + "/refunds", json={"amount": amount}, headers={"Idempotency-Key": key})
        if answer.status_code < 500:
            return answer.status_code, answer.json()["id"]
print(refund(25, "order-7"), refund(25, "order-7"))
"""


def test_a_notebook_retrying_a_refund_from_the_sandbox_refunds_once():
    with kits.started(("api",)) as running:
        api = next(p for p in running.plugins)._api
        api.load("refunds", [], writable=True)
        api.fail(500, method="POST", after=True)
        kernel = Kernel(get_backend("bwrap"), [], SandboxLimits(), running.services)
        try:
            kernel.start()
            out = kernel.execute(WRITE_IN_SANDBOX, 30).stdout.strip()
        finally:
            kernel.close()
        assert out == "(201, 1) (201, 1)"
        assert api.records("refunds") == [{"id": 1, "amount": 25}]
        assert [(w.status, w.key) for w in api.writes] == [(500, "order-7"), (201, "order-7"), (201, "order-7")]
