"""What the grader asks a model service, and how it reads the answers, in both probes.

The lab says what its service answers to (:class:`Contract`: the health and predict paths,
and the request body for one row of features); the kit sends those requests and turns each
answer into a plain observation, ``{"status", "json", "text"}``, which the lab's tests judge.
The request itself is :func:`.inside.ask.request`, the same function the live probe runs in
its container; the answer is parsed here, in the grader's process, within bounds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from grader import bounded
from grader.kits.deployment.inside.ask import request

REQUEST_TIMEOUT = 10.0  # seconds for one read of one request
BODY_LIMIT = 32 * 2**10  # bytes of a response body kept; a longer one is cut and not parsed
TEXT_LIMIT = 300  # characters of a response body shown in a test's message


@dataclass(frozen=True)
class Contract:
    """A lab's HTTP model service, as its tests describe it: GET ``health`` answers 200 once the
    app is up; POST ``predict`` takes ``request(row)`` for one row of features."""

    health: str
    predict: str
    request: Callable[[list], object]


def ask(client, method: str, path: str, body: object, deadline: float, text_limit: int = TEXT_LIMIT) -> dict:
    """One request from the grader's process (see :func:`.inside.ask.request`), observed."""
    raw = request(client, method, path, body, deadline, timeout=REQUEST_TIMEOUT, limit=BODY_LIMIT)
    return observation(raw, text_limit)


def observation(raw: object, text_limit: int = TEXT_LIMIT) -> dict:
    """``{"status", "json", "text"}`` of one answer as :func:`.inside.ask.request` gives it (here,
    or printed by the live probe): the body parsed here, within bounds, when it came whole. The
    text is cut to ``text_limit`` characters: enough for a test's message by default; a body the
    lab's tests parse themselves (a metrics page) is kept whole, up to BODY_LIMIT bytes."""
    raw = raw if isinstance(raw, dict) else {}
    status = raw.get("status") if type(raw.get("status")) is int else None
    body = raw.get("body") if isinstance(raw.get("body"), str) else ""
    parsed = None
    if status is not None and raw.get("cut") is False:
        with contextlib.suppress(ValueError):
            parsed = bounded.loads(body, BODY_LIMIT, "a response body")
    text = body if status is not None else str(raw.get("error", "no answer"))
    return {"status": status, "json": parsed, "text": text[:text_limit]}
