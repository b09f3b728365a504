"""The grader's REST API as data: its collections, its scripted faults, its record, and the
``api`` fixture (:class:`API`) that tests script and read it through.

The API serves named collections of JSON records, each with an int ``id``, a page at a
time (:func:`page`) or one record by id; the collections a test declares writable also take
writes (:mod:`grader.kits.api.writes`). Tests replace a collection with data of their
choosing, script the next requests' faults (a 429 with ``Retry-After``, a 500, a slow
answer, a write that takes effect but whose answer is lost), and read every request the
notebook sent and the records its writes left, all in the grader's own process. This
module knows nothing of HTTP; the app that serves it is :mod:`grader.kits.api.server`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl

import grader.kits.api.writes as writes
from grader import bounded
from grader.kits.api.data import WRITABLE, default_collections
from grader.kits.api.writes import WRITE_METHODS, Answer, Idempotency, WriteLimits, WriteRefused
from grader.kits.served import KiB, Limits, Record

PER_PAGE, MAX_PER_PAGE = 10, 100
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a collection's name: one path segment, nothing to escape
NUMBER = re.compile(r"[0-9]{1,18}")  # a page's number or size as a query spells it


class BadQuery(ValueError):
    """A page or page size that is not a whole number in range: the client's mistake (400)."""


@dataclass(frozen=True)
class Fault:
    """What the next matching request gets instead of its answer: ``status`` after ``delay``
    seconds (200: the real answer, only late), with ``Retry-After`` for a 429 or 503. With
    ``after``, the request is performed first (a write takes effect) and only its answer is
    replaced, as when a connection drops on the way back."""

    status: int = 429
    retry_after: float | None = 1
    path_prefix: str | None = None
    delay: float = 0.0
    method: str | None = None
    after: bool = False

    def matches(self, method: str, path: str) -> bool:
        return ((self.path_prefix is None or path.startswith(self.path_prefix))
                and (self.method is None or method == self.method))


@dataclass
class Recorded:
    """A request as the server saw it: ``status`` is what it answered (0 if it never did). The
    query and a write's body are kept as the bytes sent, a fraction of the memory parsed ones
    take (a 4 KiB query can hold a thousand fields), and parsed when read."""

    method: str
    path: str
    query_string: bytes
    time: float  # time.monotonic() when it arrived
    status: int = 0
    body: bytes = b""  # a write's (POST, PUT, PATCH, DELETE), within Limits.body; b"" for a read
    key: str | None = None  # a write's Idempotency-Key, as sent

    @property
    def query(self) -> dict[str, str]:
        """The query's fields, the last of a repeated one winning, as the server reads them."""
        return dict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))

    @property
    def json(self) -> object:
        """The body parsed as JSON within the server's bounds; None if it is empty, not JSON or too deep."""
        try:
            return bounded.loads(self.body, len(self.body), "the request body", Limits.depth) if self.body else None
        except ValueError:  # bounded.Unbounded too
            return None


@dataclass
class APIState:
    """The collections, the faults and the record, shared by the app and the tests."""

    limits: Limits = field(default_factory=Limits)
    write_limits: WriteLimits = field(default_factory=WriteLimits)
    lock: threading.Lock = field(default_factory=threading.Lock)
    collections: dict[str, tuple[dict, ...]] = field(default_factory=dict)
    writable: dict[str, writes.Held] = field(default_factory=dict)  # the collections open to writes
    faults: list[list] = field(default_factory=list)  # [Fault, requests it still applies to]
    kept: Record[Recorded] = field(init=False)
    keys: Idempotency = field(init=False)

    def __post_init__(self) -> None:
        self.kept = Record(self.limits.recorded, self.limits.recorded_bytes)
        self.keys = Idempotency(self.write_limits)
        self.reset()

    def reset(self) -> None:
        """The default data, read-only but for the back office's empty collections, no faults, no
        keys, an empty record."""
        with self.lock:
            self.collections = {name: tuple(records) for name, records in default_collections().items()}
            self.writable = {name: writes.Held.of(self.collections[name]) for name in WRITABLE}
            self.faults.clear()
            self.kept.clear()
            self.keys.clear()

    def arrived(self, method: str, path: str, query_string: bytes, body: bytes = b"",
                key: str | None = None) -> Recorded:
        """The request's entry, kept while the record has room (its path, query, body and key count)."""
        entry = Recorded(method, path, query_string, time.monotonic(), body=body, key=key)
        with self.lock:
            self.kept.add(entry, len(path) + len(query_string) + len(body) + len(key or ""))
        return entry

    def answered(self, entry: Recorded, status: int) -> None:
        """Note the status sent: under the lock, since a test may be reading the record."""
        with self.lock:
            entry.status = status

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first scripted fault that applies to ``method`` on ``path``, used up by this request."""
        with self.lock:
            for scripted in self.faults:
                fault, left = scripted
                if fault.matches(method, path):
                    scripted[1] = left - 1
                    if left == 1:
                        self.faults.remove(scripted)
                    return fault
        return None

    def records(self, name: str) -> tuple[dict, ...] | None:
        """The collection as served now (a tuple no one changes, so read without the lock), or None."""
        with self.lock:
            return self.collections.get(name)

    def write(self, method: str, path: str, collection: str, item: str | None, raw: bytes,
              key: str | None) -> Answer:
        """Perform a write, or replay its key's first answer; WriteRefused says why not, and
        then nothing changed. Under the lock whole, so that a key is never performed twice."""
        with self.lock:
            self._open(collection)
            self.keys.check(key)
        body = self._parsed(raw) if method != "DELETE" else None  # outside the lock: a test may be reading
        with self.lock:
            records = self._open(collection)  # again: a test may have dropped it meanwhile
            print_ = writes.fingerprint(method, path, body)
            replayed = self.keys.replay(key, print_)
            if replayed is not None:
                return replayed
            change = self._performed(method, collection, records, item, body)
            self.keys.room(key, change.answer)
            self._commit(collection, change)
            self.keys.keep(key, print_, change.answer)
            return change.answer

    def _open(self, collection: str) -> tuple[dict, ...]:
        """The records of ``collection`` if it takes writes; 404 or 405 if not."""
        records = self.collections.get(collection)
        if records is None:
            raise WriteRefused(404, f"no collection {collection[:64]!r}")
        if collection not in self.writable:
            raise WriteRefused(405, f"the collection {collection!r} is read-only", (("allow", "GET"),))
        return records

    def _parsed(self, raw: bytes) -> object:
        """A write's body as JSON within the bounds: 400 if it is not JSON or nests too deep."""
        try:
            return bounded.loads(raw, self.limits.body, "the request body", self.limits.depth)
        except ValueError as exc:  # bounded.Unbounded too
            raise WriteRefused(400, str(exc)) from None

    def _performed(self, method: str, collection: str, records: tuple[dict, ...], item: str | None,
                   body: object) -> writes.Change:
        """The write computed on a copy, not yet committed."""
        if method == "POST":
            return writes.created(collection, records, self.writable[collection], body)
        if method == "PATCH":
            return writes.patched(records, item or "", body)
        return writes.deleted(records, item or "")

    def _commit(self, collection: str, change: writes.Change) -> None:
        """Serve the collection after ``change``; 507 if that passes the bounds on records or bytes
        (a write that frees room always fits)."""
        limits = self.write_limits
        if change.made is not None and len(change.after) > limits.records:
            raise WriteRefused(507, f"the collection {collection!r} holds at most {limits.records} records")
        if sum(h.size for h in self.writable.values()) + change.grown > limits.stored and change.grown > 0:
            raise WriteRefused(507, f"the writable collections hold at most {limits.stored // KiB} KiB of "
                                    "records in all")
        self.collections[collection] = change.after
        held = self.writable[collection]
        held.size += change.grown
        held.last_id = max(held.last_id, change.made or held.last_id)


def number(query: Mapping[str, str], name: str, default: int, most: int | None = None) -> int:
    """The query's ``name`` as a whole number from 1 (to ``most``); BadQuery otherwise."""
    text = query.get(name, str(default))
    value = int(text) if NUMBER.fullmatch(text) else 0
    if value < 1 or (most is not None and value > most):
        allowed = f"from 1 to {most}" if most is not None else "of 1 or more"
        raise BadQuery(f"{name} must be a whole number {allowed}, not {text[:40]!r}")
    return value


def page(name: str, records: tuple[dict, ...], query: Mapping[str, str]) -> dict:
    """One page of a collection, as the API answers it, with the link to the next page (None
    on the last page and past it). BadQuery for a page or size out of range."""
    at = number(query, "page", 1)
    size = number(query, "per_page", PER_PAGE, MAX_PER_PAGE)
    start = (at - 1) * size
    more = start + size < len(records)
    return {"items": list(records[start:start + size]), "page": at, "per_page": size, "total": len(records),
            "next": f"/{name}?page={at + 1}&per_page={size}" if more else None}


def find(records: tuple[dict, ...], item: str) -> dict | None:
    """The record whose id the path segment ``item`` spells, if there is one."""
    wanted = writes.record_id(item)
    return None if wanted is None else next((r for r in records if r["id"] == wanted), None)


def _checked(name: str, records: object) -> tuple[dict, ...]:
    """``records`` as the API will serve them (a JSON copy, so that a test changing its own list
    later changes nothing served); ValueError for what the API could not serve."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"a collection's name is 1 to 64 letters, digits, '_' or '-', not {name!r}")
    if not isinstance(records, list | tuple) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"the records of {name!r} must be a list of dicts")
    ids = [r.get("id") for r in records]
    if not all(type(i) is int for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"every record of {name!r} needs an int 'id', each a different one")
    try:
        return tuple(json.loads(json.dumps(list(records), allow_nan=False)))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the records of {name!r} are not JSON: {exc}") from None


class API:
    """What the ``api`` fixture gives tests: the data served, the faults, and the record."""

    def __init__(self, state: APIState):
        self._state = state

    def load(self, collection: str, records: list[dict], writable: bool = False) -> None:
        """Serve ``records`` as ``collection``, in this order, in place of what it held; with
        ``writable``, the notebook may also create, update and delete its records (a collection
        is read-only otherwise: a write is a 405). ValueError if writable records would pass
        ``WriteLimits.stored`` before the notebook wrote anything."""
        checked = _checked(collection, records)
        with self._state.lock:
            others = sum(h.size for name, h in self._state.writable.items() if name != collection)
            held = writes.Held.of(checked) if writable else None
            if held is not None and held.size + others > self._state.write_limits.stored:
                raise ValueError(f"the writable collections would hold more than "
                                 f"{self._state.write_limits.stored // KiB} KiB of records")
            self._state.writable.pop(collection, None)
            if held is not None:
                self._state.writable[collection] = held
            self._state.collections[collection] = checked

    def drop(self, collection: str) -> None:
        """Serve no ``collection`` at all: its list and its records are 404s."""
        with self._state.lock:
            self._state.collections.pop(collection, None)
            self._state.writable.pop(collection, None)

    def records(self, collection: str) -> list[dict]:
        """A copy of what ``collection`` serves now, in order: the default data unless loaded, and
        after the notebook's writes for a writable one (its side effects, as data)."""
        return copy.deepcopy(list(self._state.records(collection) or ()))

    def fail(self, status: int = 429, times: int = 1, retry_after: float | None = 1,
             path_prefix: str | None = None, delay: float = 0.0, method: str | None = None,
             after: bool = False) -> None:
        """The next ``times`` requests (only those whose path starts with ``path_prefix``, and
        whose method is ``method``, if given) get ``status`` after ``delay`` seconds; a 429 or
        503 says ``Retry-After`` (whole seconds, rounded up) and ``Retry-After-Ms``. Status 200
        with a delay is a slow answer that succeeds. With ``after``, the request is performed
        first and only its answer lost: a write takes effect, and the notebook sees ``status``
        (a retry under the same Idempotency-Key then gets the first answer, not a second
        write). Scripted faults are used up in the order they were scripted."""
        if not (status == 200 or 400 <= status <= 599) or times < 1 or delay < 0 or (retry_after or 0) < 0 \
                or (method is not None and method not in {"GET", *WRITE_METHODS}):
            raise ValueError(f"no such fault: status={status}, times={times}, retry_after={retry_after}, "
                             f"delay={delay}, method={method}")
        fault = Fault(status, retry_after, path_prefix, delay, method, after)
        with self._state.lock:
            self._state.faults.append([fault, times])

    @property
    def requests(self) -> list[Recorded]:
        """The requests kept so far, oldest first, as copies: all of them unless ``dropped``
        says otherwise."""
        with self._state.lock:
            return [replace(r) for r in self._state.kept.entries]

    @property
    def writes(self) -> list[Recorded]:
        """The writes kept so far (POST, PUT, PATCH, DELETE), oldest first, as copies: with their
        body (``.json`` parses it), Idempotency-Key and the status the notebook saw, refused
        ones too."""
        return [r for r in self.requests if r.method in WRITE_METHODS]

    @property
    def dropped(self) -> int:
        """How many requests came after the record was full (see :class:`Limits`): counted, not kept."""
        with self._state.lock:
            return self._state.kept.dropped

    def clear(self) -> None:
        """Forget the record, the scripted faults and the idempotency keys, and serve the default
        data again (writable: only the back office's empty ``WRITABLE`` collections)."""
        self._state.reset()
