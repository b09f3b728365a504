"""The grader's REST API as data: its collections, its scripted faults, its record, and the
``api`` fixture (:class:`API`) that tests script and read it through.

The API serves named collections of JSON records, each with an int ``id``, a page at a
time (:func:`page`) or one record by id. Tests replace a collection with data of their
choosing, script the next requests' faults (a 429 with ``Retry-After``, a 500, a slow
answer), and read every request the notebook sent, all in the grader's own process. This
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

from grader.kits.api.data import default_collections
from grader.kits.served import Limits, Record

PER_PAGE, MAX_PER_PAGE = 10, 100
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a collection's name: one path segment, nothing to escape
NUMBER = re.compile(r"[0-9]{1,18}")  # a page's number or size as a query spells it


class BadQuery(ValueError):
    """A page or page size that is not a whole number in range: the client's mistake (400)."""


@dataclass(frozen=True)
class Fault:
    """What the next matching request gets instead of its answer: ``status`` after ``delay``
    seconds (200: the real answer, only late), with ``Retry-After`` for a 429 or 503."""

    status: int = 429
    retry_after: float | None = 1
    path_prefix: str | None = None
    delay: float = 0.0

    def matches(self, path: str) -> bool:
        return self.path_prefix is None or path.startswith(self.path_prefix)


@dataclass
class Recorded:
    """A request as the server saw it: ``status`` is what it answered (0 if it never did). The
    query is kept as the bytes sent, a fraction of the memory a parsed one takes (a 4 KiB query
    can hold a thousand fields), and parsed when read."""

    method: str
    path: str
    query_string: bytes
    time: float  # time.monotonic() when it arrived
    status: int = 0

    @property
    def query(self) -> dict[str, str]:
        """The query's fields, the last of a repeated one winning, as the server reads them."""
        return dict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))


@dataclass
class APIState:
    """The collections, the faults and the record, shared by the app and the tests."""

    limits: Limits = field(default_factory=Limits)
    lock: threading.Lock = field(default_factory=threading.Lock)
    collections: dict[str, tuple[dict, ...]] = field(default_factory=dict)
    faults: list[list] = field(default_factory=list)  # [Fault, requests it still applies to]
    kept: Record[Recorded] = field(init=False)

    def __post_init__(self) -> None:
        self.kept = Record(self.limits.recorded, self.limits.recorded_bytes)
        self.reset()

    def reset(self) -> None:
        """The default data, no faults, an empty record."""
        with self.lock:
            self.collections = {name: tuple(records) for name, records in default_collections().items()}
            self.faults.clear()
            self.kept.clear()

    def arrived(self, method: str, path: str, query_string: bytes) -> Recorded:
        """The request's entry, kept while the record has room (its path and query count)."""
        entry = Recorded(method, path, query_string, time.monotonic())
        with self.lock:
            self.kept.add(entry, len(path) + len(query_string))
        return entry

    def answered(self, entry: Recorded, status: int) -> None:
        """Note the status sent: under the lock, since a test may be reading the record."""
        with self.lock:
            entry.status = status

    def take_fault(self, path: str) -> Fault | None:
        """The first scripted fault that applies to ``path``, used up by this request."""
        with self.lock:
            for scripted in self.faults:
                fault, left = scripted
                if fault.matches(path):
                    scripted[1] = left - 1
                    if left == 1:
                        self.faults.remove(scripted)
                    return fault
        return None

    def records(self, name: str) -> tuple[dict, ...] | None:
        """The collection as served now (a tuple no one changes, so read without the lock), or None."""
        with self.lock:
            return self.collections.get(name)


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
    if not re.fullmatch(r"-?[0-9]{1,18}", item):
        return None
    wanted = int(item)
    return next((r for r in records if r["id"] == wanted), None)


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

    def load(self, collection: str, records: list[dict]) -> None:
        """Serve ``records`` as ``collection``, in this order, in place of what it held."""
        checked = _checked(collection, records)
        with self._state.lock:
            self._state.collections[collection] = checked

    def drop(self, collection: str) -> None:
        """Serve no ``collection`` at all: its list and its records are 404s."""
        with self._state.lock:
            self._state.collections.pop(collection, None)

    def records(self, collection: str) -> list[dict]:
        """A copy of what ``collection`` serves now (the default data, unless loaded), in order."""
        return copy.deepcopy(list(self._state.records(collection) or ()))

    def fail(self, status: int = 429, times: int = 1, retry_after: float | None = 1,
             path_prefix: str | None = None, delay: float = 0.0) -> None:
        """The next ``times`` requests (only those whose path starts with ``path_prefix``, if
        given) get ``status`` after ``delay`` seconds; a 429 or 503 says ``Retry-After`` (whole
        seconds, rounded up) and ``Retry-After-Ms``. Status 200 with a delay is a slow answer
        that succeeds. Scripted faults are used up in the order they were scripted."""
        if not (status == 200 or 400 <= status <= 599) or times < 1 or delay < 0 or (retry_after or 0) < 0:
            raise ValueError(f"no such fault: status={status}, times={times}, retry_after={retry_after}, "
                             f"delay={delay}")
        fault = Fault(status, retry_after, path_prefix, delay)
        with self._state.lock:
            self._state.faults.append([fault, times])

    @property
    def requests(self) -> list[Recorded]:
        """The requests kept so far, oldest first, as copies: all of them unless ``dropped``
        says otherwise."""
        with self._state.lock:
            return [replace(r) for r in self._state.kept.entries]

    @property
    def dropped(self) -> int:
        """How many requests came after the record was full (see :class:`Limits`): counted, not kept."""
        with self._state.lock:
            return self._state.kept.dropped

    def clear(self) -> None:
        """Forget the record and the scripted faults, and serve the default data again."""
        self._state.reset()
