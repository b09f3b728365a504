"""The live probe: ``python -s -P -m grader.kits.deployment.inside.live_probe SETTINGS``, run in
a container of the grader's image that shares only the app container's network namespace, so
that it reaches the app on 127.0.0.1 and nothing else does.

SETTINGS (JSON) name the port, the health and predict paths, the request bodies to send and
the time allowed. The probe waits for the health path to answer 200, then sends each request
with :func:`.ask.request`, and prints one line: every answer as that function gives it, and
the time the app became ready. Its whole run is bounded by an alarm: when the time is up,
every request not yet answered is reported unanswered, so that however the app answers
(even a byte at a time), the grader's wait for this container is not the app's to stretch.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import httpx

from grader.kits.deployment.inside.ask import request

HEALTH_TIMEOUT = 2.0  # seconds for one look at the health path
HEALTH_POLL = 0.1  # seconds between two looks
UNANSWERED = {"status": None, "error": "no answer: the probe's time was up"}


def fresh_report() -> dict:
    """``ready_at`` (time.time, or None), ``health``, ``predict`` (one per request), ``bad`` (by name)."""
    return {"ready_at": None, "health": None, "predict": [], "bad": {}}


def probe(settings: dict, report: dict) -> None:
    """Fill in ``report`` as the answers come, so that what came is kept if the time runs out."""
    limits = {"timeout": settings["timeout"], "limit": settings["limit"]}
    client = httpx.Client(base_url=f"http://127.0.0.1:{settings['port']}", trust_env=False)
    ready_by = time.monotonic() + settings["ready_within"]
    while time.monotonic() < ready_by:
        health = request(client, "GET", settings["health"], None, time.monotonic() + HEALTH_TIMEOUT, **limits)
        if health["status"] == 200:
            report["ready_at"], report["health"] = time.time(), health
            break
        time.sleep(HEALTH_POLL)
    if report["ready_at"] is not None:
        deadline = time.monotonic() + settings["requests_within"]
        for body in settings["requests"]:
            report["predict"].append(request(client, "POST", settings["predict"], body, deadline, **limits))
        for name, body in settings["bad"].items():
            report["bad"][name] = request(client, "POST", settings["predict"], body, deadline, **limits)


def completed(report: dict, settings: dict) -> dict:
    """``report`` with every request it has no answer for marked unanswered."""
    if report["ready_at"] is not None:
        missing = len(settings["requests"]) - len(report["predict"])
        report["predict"] += [UNANSWERED] * max(0, missing)
        report["bad"] = {name: report["bad"].get(name, UNANSWERED) for name in settings["bad"]}
    return report


def run(argument: str) -> None:
    settings = json.loads(argument)
    report = fresh_report()

    def time_up(signum, frame) -> None:
        sys.stdout.write(json.dumps(completed(report, settings)) + "\n")
        sys.stdout.flush()
        os._exit(0)

    # The longest run: the wait for health, every request, and one read begun before the deadline.
    longest = settings["ready_within"] + HEALTH_TIMEOUT + settings["requests_within"] + settings["timeout"]
    signal.signal(signal.SIGALRM, time_up)
    signal.setitimer(signal.ITIMER_REAL, longest + 1.0)
    probe(settings, report)
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(json.dumps(completed(report, settings)))


if __name__ == "__main__":
    run(sys.argv[1])
