"""One HTTP request to the app, as plain data: the grader's in-process probe sends it from the
grader's own process, and the live probe (:mod:`.live_probe`) from its container, so both read
an answer the same way and within the same bounds."""

from __future__ import annotations

import json
import time

import httpx


def request(client: httpx.Client, method: str, path: str, body: object, deadline: float, *,
            timeout: float, limit: int) -> dict:
    """One request, as data: its status and at most ``limit`` bytes of its body as sent (no
    decompression, so no bomb), ``cut`` if it was longer or came too slowly; or, with status
    None, why it got no answer. No read waits longer than ``timeout``, and none starts after
    ``deadline`` (time.monotonic). ``body`` (None: no body) goes as JSON written by Python's
    json, so a float that is not finite goes as ``NaN``, ``Infinity`` or ``-Infinity``, as a
    client that writes JSON that way sends it (httpx refuses to)."""
    left = min(timeout, deadline - time.monotonic())
    if left <= 0:
        return {"status": None, "error": "no answer: the probe's time was up"}
    try:
        headers = {"accept-encoding": "identity", "connection": "close"}  # one connection per request
        content = None
        if body is not None:
            content, headers["content-type"] = json.dumps(body).encode(), "application/json"
        with client.stream(method, path, content=content, timeout=left, headers=headers) as response:
            data, cut = b"", False
            for chunk in response.iter_raw():
                data += chunk
                if len(data) > limit or time.monotonic() > deadline:
                    cut = True
                    break
            return {"status": response.status_code, "body": data[:limit].decode("utf-8", "replace"), "cut": cut}
    except httpx.HTTPError as exc:
        return {"status": None, "error": f"no answer: {type(exc).__name__}"}
