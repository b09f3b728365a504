"""What a regrade changed, per student and test, and why: ``grade report --changes``.

Each row of the history keeps its fingerprint's parts (``grader.batch.run``): the grader's (its
code, the kernel's libraries, the backend, what the kits decided), the lab's tests and files,
and the submission's bytes. The latest grade of a (student, lab) is compared with the one
before it; a test whose score or status moved is a change, put down to the parts that differ.
When no part differs and a score still moved, the report says so: a test that is not
deterministic is the likely cause, and the instructor should know. An override given in
``grade review`` since the grade before the last is a change too, put down to its reviewer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby

from grader.results.history import Row
from grader.review.store import Override

CAUSES = {"submission": "the submission changed", "tests": "the lab's tests or files changed",
          "grader": "the grader changed"}
UNKNOWN = "not recorded (graded before the grader kept the reasons)"
UNEXPLAINED = "nothing recorded changed: a test that is not deterministic?"
WHOLE = "(the grade)"  # the test column of a change of the whole grade: its status, or no tests at all


@dataclass(frozen=True)
class Change:
    """One test of one student's lab, before and after the regrade."""

    student: str
    lab: str
    test: str
    before: str
    after: str
    why: str


def changes(rows: list[Row], overrides: list[Override] = ()) -> list[Change]:
    """The changes between each (student, lab)'s last two grades in ``rows`` (every recorded row,
    oldest first, as :func:`grader.results.history.rows` gives them with ``latest=False``), and
    the overrides given since the one before the last (``overrides``: the review's trail)."""
    found: list[Change] = []
    for key, group in groupby(rows, key=lambda r: (r.student, r.lab)):
        graded = list(group)
        if len(graded) >= 2:
            found += _between(graded[-2], graded[-1])
        since = graded[-2].graded_at if len(graded) >= 2 else ""
        found += _overridden(graded[-1], [o for o in overrides if (o.student, o.lab) == key and o.at > since])
    return found


def _overridden(latest: Row, given: list[Override]) -> list[Change]:
    """The newest of the ``given`` overrides of each test, as changes of the latest grade."""
    tests = _tests(latest)
    newest = {o.test: o for o in given}  # the trail is oldest first
    return [Change(latest.student, latest.lab, o.test, tests.get(o.test, "absent"), f"{o.points:g} by hand",
                   f"an override by {o.who}" + (f": {o.comment}" if o.comment else "")) for o in newest.values()]


def _between(before: Row, after: Row) -> list[Change]:
    why = _why(before, after)
    old, new = _tests(before), _tests(after)
    if not _parts(before):  # recorded by an older grader, without its tests: only the grade compares
        old = new = {}
    moved = [name for name in dict.fromkeys([*old, *new]) if old.get(name) != new.get(name)]
    found = [Change(after.student, after.lab, name, old.get(name, "absent"), new.get(name, "absent"), why)
             for name in moved]
    if not found and (before.status, before.score, before.max_score) != (after.status, after.score, after.max_score):
        found.append(Change(after.student, after.lab, WHOLE, _grade(before), _grade(after), why))
    return found


def _why(before: Row, after: Row) -> str:
    """The parts of the fingerprint that differ, in words."""
    old, new = _parts(before), _parts(after)
    if not old or not new:
        return UNKNOWN
    causes = [words for part, words in CAUSES.items() if old.get(part) != new.get(part)]
    return "; ".join(causes) or UNEXPLAINED


def _parts(row: Row) -> dict[str, str]:
    try:
        parts = json.loads(row.parts)
    except ValueError:
        return {}
    return parts if isinstance(parts, dict) else {}


def _tests(row: Row) -> dict[str, str]:
    """Each test's ``score / max_score status``, by name."""
    try:
        tests = json.loads(row.tests)
    except ValueError:
        return {}
    return {str(t[0]): f"{t[1]:g} / {t[2]:g} {t[3]}" for t in tests if isinstance(t, list) and len(t) == 4}


def _grade(row: Row) -> str:
    return f"{row.score:g} / {row.max_score:g} {row.status}"
