"""The api kit: the grader's REST API over its Unix socket with httpx, its fixture, its command,
its bounds under hostile requests, and both HTTP kits inside one sandbox."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import raw_http
from conftest import run_grade
from raw_http import RESET, chunked, exchange, header_fields, peak_rss, status_or_reset

from grader import kits
from grader.course.settings import Settings
from grader.engine.kernel import Kernel
from grader.engine.sandbox import Limits as SandboxLimits
from grader.engine.sandbox import get_backend
from grader.kits.api.data import default_collections
from grader.kits.api.fixture import APIFixtures
from grader.kits.api.model import API, MAX_PER_PAGE, PER_PAGE
from grader.kits.api.server import PORT, Server
from grader.kits.served import KiB, Limits

LIMITS = Limits()


@contextmanager
def serving(folder: Path, limits: Limits = LIMITS) -> Iterator[tuple[Path, API, httpx.Client]]:
    sock = folder / "api.sock"
    server = Server(uds=sock, limits=limits)
    server.start()
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://grader") as client:
            yield sock, API(server.state), client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Path, API, httpx.Client]]:
    with serving(tmp_path_factory.mktemp("api")) as running:
        yield running


@pytest.fixture
def api(served) -> tuple[API, httpx.Client]:
    _, api, client = served
    api.clear()
    return api, client


def made_records(rng: random.Random, count: int) -> list[dict]:
    """``count`` records with distinct ids in no order, of mixed JSON values."""
    ids = rng.sample(range(-1000, 10**6), count)
    return [{"id": i, "name": "".join(rng.choices("abcé z", k=rng.randint(0, 12))), "score": rng.random(),
             "tags": rng.sample(["a", "b", "c", "d"], rng.randint(0, 4)), "nested": {"ok": rng.random() < 0.5}}
            for i in ids]


def follow(client: httpx.Client, first: str) -> tuple[list[dict], list[dict]]:
    """Every page from ``first`` on, by the ``next`` links: the items in order, and the pages."""
    items, pages, url = [], [], first
    while url is not None:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        items += pages[-1]["items"]
        url = pages[-1]["next"]
        assert len(pages) <= 1000
    return items, pages


PAGINATION = [(size, per_page) for size in (0, 1, 2, 9, 10, 11, 57, 100, 101, 250)
              for per_page in (1, 3, 10, 99, 100)]


@pytest.mark.parametrize(("size", "per_page"), PAGINATION)
def test_the_pages_put_together_are_the_collection(api, size, per_page):
    api, client = api
    records = made_records(random.Random(size * 1000 + per_page), size)
    api.load("things", records)
    items, pages = follow(client, f"/things?per_page={per_page}")
    assert items == records
    assert len(pages) == max(1, math.ceil(size / per_page))
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    assert all(p["total"] == size and p["per_page"] == per_page for p in pages)
    assert all(0 < len(p["items"]) == per_page for p in pages[:-1])
    past = client.get(f"/things?page={len(pages) + 1}&per_page={per_page}").json()
    assert (past["items"], past["next"], past["total"]) == ([], None, size)


def test_a_page_is_ten_records_unless_asked_and_any_record_is_there_by_id(api):
    api, client = api
    records = made_records(random.Random(7), 35)
    api.load("things", records)
    first = client.get("/things").json()
    assert (first["page"], first["per_page"], first["next"]) == (1, PER_PAGE, f"/things?page=2&per_page={PER_PAGE}")
    assert first["items"] == records[:PER_PAGE]
    assert all(client.get(f"/things/{r['id']}").json() == r for r in records)


BAD_NUMBERS = ["0", "-1", "abc", "1.5", "", " 1", "+1", "1e3", "0x10", "１", "9" * 19, "1" * 3000]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("name", ["page", "per_page"])
def test_a_page_or_size_that_is_no_whole_number_in_range_is_400(api, name, value):
    _, client = api
    answer = client.get("/tickets", params={name: value})
    assert answer.status_code == 400 and answer.json()["detail"].startswith(f"{name} must be a whole number")


def test_a_size_over_the_most_is_400_and_the_most_is_served(api):
    _, client = api
    assert client.get("/tickets", params={"per_page": MAX_PER_PAGE + 1}).status_code == 400
    assert client.get("/tickets", params={"per_page": MAX_PER_PAGE}).json()["per_page"] == MAX_PER_PAGE


@pytest.mark.parametrize("path", ["/nothing", "/nothing/1", "/tickets/1", "/tickets/abc", "/tickets/1.0",
                                  "/tickets/", "/", "/tickets/101/extra", "/customers/0", "/customers/-1"])
def test_what_is_not_there_is_404_with_a_detail(api, path):
    _, client = api
    answer = client.get(path)
    assert answer.status_code == 404 and isinstance(answer.json()["detail"], str)


def test_a_dropped_collection_is_gone_and_clear_brings_back_the_default(api):
    api, client = api
    api.load("tickets", [{"id": 1}])
    api.drop("customers")
    assert client.get("/tickets").json()["items"] == [{"id": 1}]
    assert client.get("/customers").status_code == client.get("/customers/1").status_code == 404
    api.fail(500, times=3)
    client.get("/tickets")
    api.clear()
    assert (api.requests, api.dropped) == ([], 0)
    assert client.get("/customers?per_page=100").json()["items"] == default_collections()["customers"]
    assert client.get("/tickets").status_code == 200  # the faults went too


def test_the_default_data_is_a_small_consistent_support_desk():
    first, again = default_collections(), default_collections()
    assert first == again and first is not again
    tickets, customers = first["tickets"], first["customers"]
    assert 40 <= len(tickets) <= 50 and 10 <= len(customers) <= 15
    assert len({t["id"] for t in tickets}) == len(tickets) and len({c["id"] for c in customers}) == len(customers)
    assert {t["customer_id"] for t in tickets} <= {c["id"] for c in customers}
    assert {t["status"] for t in tickets} == {"open", "pending", "closed"}
    assert [t["created_at"] for t in tickets] == sorted(t["created_at"] for t in tickets)
    assert all(isinstance(t["tags"], list) and t["title"] and t["priority"] for t in tickets)
    assert all("@" in c["email"] and c["plan"] and c["name"] for c in customers)
    ids = [t["id"] for t in tickets]
    assert set(range(ids[0], ids[-1] + 1)) - set(ids)  # a deleted ticket: a real 404 in the default data


def deep(levels: int) -> list:
    nested: list = []
    for _ in range(levels):
        nested = [nested]
    return nested


@pytest.mark.parametrize(("name", "records"), [
    ("", []), ("a/b", []), ("x" * 65, []), (3, []), ("ok", {"id": 1}), ("ok", [1]), ("ok", [{"name": "no id"}]),
    ("ok", [{"id": "1"}]), ("ok", [{"id": True}]), ("ok", [{"id": 1}, {"id": 1}]), ("ok", [{"id": 1, "x": math.nan}]),
    ("ok", [{"id": 1, "x": object()}]), ("ok", [{"id": 1, "x": deep(10**5)}])])
def test_what_the_api_could_not_serve_is_refused_as_it_is_loaded(api, name, records):
    api, _ = api
    with pytest.raises(ValueError):
        api.load(name, records)


def test_loaded_and_read_records_are_copies(api):
    api, client = api
    records = [{"id": 1, "tags": ["a"]}]
    api.load("things", records)
    records[0]["tags"].append("changed")
    api.records("things")[0]["tags"].append("changed")
    assert client.get("/things/1").json() == {"id": 1, "tags": ["a"]} == api.records("things")[0]


def test_a_429_says_when_to_retry_in_whole_seconds_and_in_milliseconds(api):
    api, client = api
    api.fail(429, times=2, retry_after=0.2)
    answers = [client.get("/tickets") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert all((a.headers["retry-after"], a.headers["retry-after-ms"]) == ("1", "200") for a in answers[:2])
    assert answers[0].json() == {"detail": "Too Many Requests"}
    assert [r.status for r in api.requests] == [429, 429, 200]


@pytest.mark.parametrize(("status", "retry_after", "headers"), [
    (429, 1, ("1", "1000")), (429, 2.5, ("3", "2500")), (503, 0, ("0", "0")), (429, None, None), (500, 1, None),
    (404, 1, None)])
def test_retry_after_only_where_http_defines_it(api, status, retry_after, headers):
    api, client = api
    api.fail(status, retry_after=retry_after)
    answer = client.get("/customers")
    assert answer.status_code == status
    sent = answer.headers.get("retry-after"), answer.headers.get("retry-after-ms")
    assert sent == (headers or (None, None))


def test_faults_for_a_path_prefix_leave_other_paths_alone_and_come_in_order(api):
    api, client = api
    api.fail(503, times=2, path_prefix="/customers")
    api.fail(500, times=1)
    statuses = [client.get(path).status_code for path in ("/tickets", "/customers/1", "/tickets", "/customers")]
    assert statuses == [500, 503, 200, 503]
    assert client.get("/customers").status_code == 200


def test_a_delayed_answer_comes_late_or_times_the_client_out(api):
    api, client = api
    api.fail(200, delay=0.3)
    started = time.monotonic()
    assert client.get("/tickets/101").status_code == 200
    assert time.monotonic() - started >= 0.3
    api.fail(503, delay=2)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/tickets", timeout=0.2)


@pytest.mark.parametrize("args", [{"status": 302}, {"status": 700}, {"times": 0}, {"delay": -1}, {"retry_after": -1}])
def test_a_fault_there_cannot_be_is_refused(api, args):
    api, _ = api
    with pytest.raises(ValueError):
        api.fail(**args)


def test_every_request_is_recorded_with_its_answer(api):
    api, client = api
    before = time.monotonic()
    client.get("/tickets", params={"page": "2", "per_page": "5", "q": "a b&c"})
    client.post("/tickets", json={"id": 1})
    client.get("/tickets/nope")
    client.delete("/tickets/101")
    recorded = api.requests
    assert [(r.method, r.path, r.status) for r in recorded] == [
        ("GET", "/tickets", 200), ("POST", "/tickets", 405), ("GET", "/tickets/nope", 404),
        ("DELETE", "/tickets/101", 405)]
    assert recorded[0].query == {"page": "2", "per_page": "5", "q": "a b&c"} and recorded[1].query == {}
    assert before <= recorded[0].time <= recorded[-1].time <= time.monotonic()
    recorded[0].query["page"] = "9"
    assert api.requests[0].query["page"] == "2"  # a copy


def test_no_endpoint_shows_or_changes_the_data_the_faults_or_the_record(api):
    api, client = api
    api.fail(429, times=1, path_prefix="/never")
    probes = [("GET", "/requests"), ("GET", "/record"), ("POST", "/reset"), ("POST", "/tickets"),
              ("PUT", "/tickets/101"), ("DELETE", "/customers"), ("PATCH", "/customers/1"), ("GET", "/docs"),
              ("GET", "/openapi.json"), ("GET", "/faults")]
    assert all(client.request(method, path, json={}).status_code in (404, 405) for method, path in probes)
    assert client.get("/never").status_code == 429  # the fault is still there
    assert client.get("/tickets?per_page=100").json()["items"] == default_collections()["tickets"]


def test_the_record_keeps_the_first_requests_and_counts_the_rest(tmp_path):
    limits = Limits(recorded=5, recorded_bytes=250)  # a request below: 100 bytes of path and query
    with serving(tmp_path, limits) as (_, api, client):
        assert all(client.get("/tickets").status_code == 200 for _ in range(8))
        assert (len(api.requests), api.dropped) == (5, 3)
        api.clear()
        assert all(client.get("/tickets", params={"q": "x" * 90}).status_code == 200 for _ in range(4))
        assert (len(api.requests), api.dropped) == (2, 2)  # bytes, not count, run out


def test_tests_only_listed_fail_on_the_fixture():
    plugin, = kits.idle_plugins(("api",))
    with pytest.raises(pytest.fail.Exception, match="not running"):
        APIFixtures.api.__wrapped__(plugin)


def test_the_sandbox_service_announces_the_api_and_goes_away():
    with kits.started(("api",)) as running:
        service, = running.services
        assert service.port == PORT and dict(service.env) == {"API_BASE_URL": f"http://127.0.0.1:{PORT}"}
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(service.socket))) as client:
            assert client.get("http://grader/customers/1").json() == default_collections()["customers"][0]
        folder = service.socket.parent
    assert not folder.exists()


# --- the command --------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_api_server_command_serves_the_default_data_on_loopback():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "api-server", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"export API_BASE_URL=http://127.0.0.1:{port}"
        items, _ = follow(httpx.Client(base_url=f"http://127.0.0.1:{port}"), "/tickets")
        assert items == default_collections()["tickets"]
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(("args", "says"), [
    (["--port", "0"], "--port 0: a port is a number from 1 to 65535"),
    (["--port", "65536"], "--port 65536: a port is a number from 1 to 65535"),
    (["--host", "192.0.2.1"], f"cannot listen on 192.0.2.1:{PORT}: Cannot assign requested address"),
])
def test_api_server_on_an_address_it_cannot_have_is_one_line(tmp_path, args, says):
    proc = run_grade("api-server", *args, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("grade: error: ") and says in proc.stderr


# --- bounds -------------------------------------------------------------------------------


def get(path: bytes = b"/tickets", extra: bytes = b"", length: int | None = 0) -> bytes:
    """A GET's head; its body of ``length`` bytes (None: chunked) is the caller's to send."""
    framing = b"transfer-encoding: chunked\r\n" if length is None else b"content-length: %d\r\n" % length
    return b"GET %s HTTP/1.1\r\nhost: grader\r\n%s%s\r\n" % (path, framing, extra)


def still_answers(sock: Path) -> None:
    status, answer, _ = exchange(sock, get())
    assert status == 200 and json.loads(answer)["page"] == 1


BODY_SIZES = [0, 100, LIMITS.body, LIMITS.body + 1, 100 * LIMITS.body]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("size", BODY_SIZES)
def test_a_get_body_over_the_bound_is_refused_before_it_is_read(served, size, framing):
    sock, api, _ = served
    api.clear()
    pieces = (b"x" * min(64 * KiB, size - start) for start in range(0, size, 64 * KiB))
    first, rest = (get(length=size), pieces) if framing == "content-length" else (get(length=None), chunked(pieces))
    status, answer, sent = exchange(sock, first, rest)
    if size <= LIMITS.body:
        assert status == 200 and [r.status for r in api.requests] == [200]
    else:
        assert status == 413 and "larger than" in json.loads(answer)["detail"] and not api.requests
    if size == 100 * LIMITS.body:
        assert sent < size // 10  # answered long before the body was in
    still_answers(sock)


QUERIES = [LIMITS.query - 1, LIMITS.query, LIMITS.query + 1, 3 * LIMITS.query, LIMITS.head - 100]


@pytest.mark.parametrize("length", QUERIES)
def test_a_query_string_over_the_bound_is_refused_before_it_is_parsed(served, length):
    sock, api, _ = served
    api.clear()
    query = b"page=1&q=" + b"y" * (length - len(b"page=1&q="))
    status, answer, _ = exchange(sock, get(b"/tickets?" + query))
    if length <= LIMITS.query:
        assert status == 200 and api.requests[0].query["q"] == "y" * (length - len(b"page=1&q="))
    else:
        assert status == 414 and "query string" in json.loads(answer)["detail"] and not api.requests
    still_answers(sock)


@pytest.mark.parametrize(("fields", "expected"), [
    (header_fields(LIMITS.headers - 2), {200}),  # host and content-length make the bound
    (header_fields(LIMITS.headers - 1), {431}),
    (header_fields(1, LIMITS.head // 2), {200}),
    (header_fields(1, LIMITS.head), {431, 400, RESET}),
    (header_fields(1, 50 * LIMITS.head), {400, RESET}),
    (header_fields(5000), {431, 400, RESET}),
])
def test_heads_around_and_far_over_the_bound(served, fields, expected):
    sock, api, _ = served
    api.clear()
    status = status_or_reset(sock, get(extra=fields))
    assert status in expected
    assert len(api.requests) == (status == 200)
    still_answers(sock)


@pytest.mark.parametrize(("before", "trickled"), [(b"", b""), (b"", get()), (get()[:-2], header_fields(4) + b"\r\n")])
def test_a_request_that_takes_too_long_to_arrive_is_cut_off(tmp_path, before, trickled):
    limits = Limits(seconds=1)
    with serving(tmp_path, limits) as (sock, api, _):
        raw_http.assert_cut_off(sock, limits.seconds, before, trickled)
        assert not api.requests
        still_answers(sock)


def test_connections_over_the_bound_are_closed_as_they_arrive(tmp_path):
    with serving(tmp_path, Limits(connections=4)) as (sock, _, client):
        client.close()
        raw_http.assert_connections_bounded(sock, 4, still_answers)


def widest_query(limit: int) -> bytes:
    """A query string of at most ``limit`` bytes with the most distinct fields: the most a
    parsed query costs per byte sent."""
    fields, size, number = [], -1, 0
    while size + len(b"%d=&" % number) <= limit:
        fields.append(b"%d=" % number)
        size += len(fields[-1]) + 1
        number += 1
    return b"&".join(fields)


def test_memory_stays_bounded_whatever_the_notebook_sends(tmp_path):
    sock = tmp_path / "api.sock"
    with raw_http.served_alone("grader.kits.api.server", sock) as proc:
        for _ in range(20):
            still_answers(sock)
        before = peak_rss(proc.pid)
        widest = widest_query(LIMITS.query)
        assert len(widest) <= LIMITS.query and widest.count(b"&") > 800
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://grader") as client:
            for _ in range(LIMITS.recorded + 200):  # the record fills, then counts the rest
                assert client.get("/tickets?" + widest.decode()).status_code == 200
        for size in (2 * LIMITS.body, 100 * LIMITS.body):
            assert exchange(sock, get(length=None), chunked(b"x" * KiB for _ in range(size // KiB)))[0] == 413
        assert status_or_reset(sock, get(extra=header_fields(5000))) in {431, 400, RESET}
        grown = peak_rss(proc.pid) - before
        still_answers(sock)
        print(f"peak RSS grew by {grown / 2**20:.1f} MiB")
        # The record's queries (at most 1,000 of 4 KiB, kept as bytes) and one request's parse at a time.
        assert grown < 32 * 2**20


# --- both HTTP kits in one sandbox ----------------------------------------------------------

BOTH = """
import os, httpx
api, llm = os.environ["API_BASE_URL"], os.environ["OPENAI_BASE_URL"]
tickets = httpx.get(api + "/tickets", params={"per_page": 2}).json()
models = httpx.get(llm + "/models").json()
print(api, llm, tickets["total"], tickets["items"][0]["id"], models["data"][0]["id"], sorted(os.listdir("/run/grader")))
"""


def test_a_lab_with_both_http_kits_reaches_both_services(tmp_path):
    (tmp_path / "lab.toml").write_text('kits = ["llm", "api"]\n')
    names = Settings.load(tmp_path / "lab.toml").kit_names
    with kits.started(names) as running:
        kernel = Kernel(get_backend("bwrap"), [], SandboxLimits(), running.services)
        try:
            kernel.start()
            out = kernel.execute(BOTH, 30).stdout.strip().split(maxsplit=5)
        finally:
            kernel.close()
        api = next(p for p in running.plugins if isinstance(p, APIFixtures))._api
    tickets = default_collections()["tickets"]
    assert out == [f"http://127.0.0.1:{PORT}", "http://127.0.0.1:8000/v1", str(len(tickets)),
                   str(tickets[0]["id"]), "grader-mini", "['8000.sock', '8001.sock']"]
    assert [(r.path, r.query, r.status) for r in api.requests] == [("/tickets", {"per_page": "2"}, 200)]
