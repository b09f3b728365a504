"""Writes on the API's collections, and the idempotency keys that make a retried write safe.

A collection a test declared writable takes ``POST /{collection}`` (a new record; the server
assigns the next int ``id``), ``PATCH /{collection}/{id}`` (fields replaced, the rest kept) and
``DELETE /{collection}/{id}``. Each write is computed on a copy (collections are tuples no one
changes) and committed only once it fits the bounds (:class:`WriteLimits`), so a refused write
leaves nothing behind. A write sent with an ``Idempotency-Key`` is performed once, as Stripe's
API does it: the same key with the same request replays the first answer, with no second side
effect; with another request it is refused. Only answers of writes that took effect are kept
(a request refused for its body may be fixed and sent again under its key).

Pure data, no HTTP and no lock: :class:`grader.kits.api.model.APIState` holds the lock.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from grader.kits.served import KiB, MiB

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ITEM = re.compile(r"-?[0-9]{1,18}")  # a record's id as a path segment spells it


@dataclass(frozen=True)
class WriteLimits:
    """What one notebook's writes can make the server keep. A back office lab writes a few
    dozen records of a few hundred bytes; parsed JSON takes up to ~25 times its text in
    Python objects (``[{}, {}, ...]``), which ``stored`` is sized for: with the answers and
    the record, a hostile notebook grows the server by under 64 MiB (measured by the tests)."""

    records: int = 1000  # in one writable collection; a create past it is refused with 507
    stored: int = 512 * KiB  # JSON bytes of the records of all writable collections; past it 507
    keys: int = 1000  # idempotency keys remembered; a new one past it is refused with 507
    key_length: int = 255  # characters of one key, as Stripe allows; longer is a 400
    answers: int = 4 * MiB  # bytes of the answers kept for replay; past it 507


class WriteRefused(Exception):
    """A write the API answers with ``status`` and a message saying why; nothing was written."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status
        self.headers = headers


@dataclass(frozen=True)
class Answer:
    """A write's answer as sent: its JSON body rendered once, so that a replay is the same bytes."""

    status: int
    body: bytes = b""  # none for a 204
    headers: tuple[tuple[str, str], ...] = ()


def render(record: dict) -> bytes:
    """JSON as the API sends it (and as FastAPI's JSONResponse renders it)."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def size(records: tuple[dict, ...]) -> int:
    """What ``records`` count against ``WriteLimits.stored``: their JSON bytes."""
    return sum(len(render(r)) for r in records)


def fingerprint(method: str, path: str, body: object) -> bytes:
    """What makes two requests under one key the same request: method, path and the body's
    JSON with its keys sorted (a client may send the same fields in another order)."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def fields(body: object) -> dict:
    """A create's or update's body as a record's fields: a JSON object without ``id``."""
    if not isinstance(body, dict):
        raise WriteRefused(422, "the request body must be a JSON object of the record's fields")
    if "id" in body:
        raise WriteRefused(422, "a record's 'id' is the server's to assign and cannot be sent or changed")
    try:
        render(body)
    except ValueError:  # Python's parser reads NaN, Infinity and 1e999, which JSON has not
        raise WriteRefused(422, "the record holds NaN or an infinite number, which JSON cannot carry") from None
    return body


@dataclass
class Held:
    """A writable collection's account: the JSON bytes of its records, and the largest id it
    ever held, since a deleted record's id is never given again (a database's are not)."""

    size: int
    last_id: int

    @classmethod
    def of(cls, records: tuple[dict, ...]) -> Held:
        return cls(size(records), max((r["id"] for r in records), default=0))


@dataclass(frozen=True)
class Change:
    """A write computed and not yet committed: the collection after it, its answer, the JSON
    bytes it adds to the collection (less than 0 if it frees some) and the id it created."""

    after: tuple[dict, ...]
    answer: Answer
    grown: int
    made: int | None = None


def created(collection: str, records: tuple[dict, ...], held: Held, body: object) -> Change:
    """A new record of ``body``'s fields with the next id never held: 201, the record, and its
    path in ``Location``."""
    record = {"id": held.last_id + 1, **fields(body)}
    rendered = render(record)
    return Change((*records, record), Answer(201, rendered, (("location", f"/{collection}/{record['id']}"),)),
                  len(rendered), record["id"])


def record_id(item: str) -> int | None:
    """The id the path segment ``item`` spells, if it spells one."""
    return int(item) if ITEM.fullmatch(item) else None


def position(records: tuple[dict, ...], item: str) -> int:
    """Where the record whose id the path segment ``item`` spells is; 404 if there is none."""
    wanted = record_id(item)
    found = next((at for at, r in enumerate(records) if r["id"] == wanted), None)
    if found is None:
        raise WriteRefused(404, f"no record {item[:40]!r}")
    return found


def patched(records: tuple[dict, ...], item: str, body: object) -> Change:
    """``body``'s fields set in record ``item``, its other fields kept: 200 and the record."""
    at = position(records, item)
    record = {**records[at], **fields(body)}
    rendered = render(record)
    return Change((*records[:at], record, *records[at + 1:]), Answer(200, rendered),
                  len(rendered) - len(render(records[at])))


def deleted(records: tuple[dict, ...], item: str) -> Change:
    """Record ``item`` gone: 204 and no body."""
    at = position(records, item)
    return Change((*records[:at], *records[at + 1:]), Answer(204), -len(render(records[at])))


@dataclass
class Kept:
    """A key's first request and the answer it got."""

    fingerprint: bytes
    answer: Answer


@dataclass
class Idempotency:
    """The keys seen and their answers, bounded in count, length and bytes. Not locked: its
    owner's state holds the lock."""

    limits: WriteLimits
    kept: dict[str, Kept] = field(default_factory=dict)
    kept_bytes: int = 0

    def check(self, key: str | None) -> None:
        """Refuse a key that is empty or too long (400) before anything is done under it."""
        if key is not None and not 0 < len(key) <= self.limits.key_length:
            raise WriteRefused(400, f"an Idempotency-Key is 1 to {self.limits.key_length} characters, "
                                    f"not {len(key)}")

    def replay(self, key: str | None, print_: bytes) -> Answer | None:
        """The answer the key's first request got, if this is that request again; 422 if the
        key was first used for another request."""
        kept = self.kept.get(key) if key is not None else None
        if kept is None:
            return None
        if kept.fingerprint != print_:
            raise WriteRefused(422, "this Idempotency-Key was first used with another method, path or body: "
                                    "a retry must send the same request, and a new request a new key")
        return Answer(kept.answer.status, kept.answer.body, (*kept.answer.headers, ("idempotent-replayed", "true")))

    def room(self, key: str | None, answer: Answer) -> None:
        """Refuse (507) a write whose key and answer there is no room to keep, before it is done."""
        if key is None:
            return
        if len(self.kept) >= self.limits.keys:
            raise WriteRefused(507, f"no room for another Idempotency-Key: {self.limits.keys} are kept already")
        if self.kept_bytes + len(answer.body) > self.limits.answers:
            raise WriteRefused(507, f"no room to keep this answer for its Idempotency-Key: the answers kept "
                                    f"reach {self.limits.answers // KiB} KiB")

    def keep(self, key: str | None, print_: bytes, answer: Answer) -> None:
        """Remember the answer of a write that took effect (after :meth:`room` said it fits)."""
        if key is not None:
            self.kept[key] = Kept(print_, answer)
            self.kept_bytes += len(answer.body)

    def clear(self) -> None:
        self.kept.clear()
        self.kept_bytes = 0
