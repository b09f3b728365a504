"""Which exercise a test belongs to, which exercise a notebook cell belongs to, and selecting one.

A lab's exercises are ``q1``, ``q2``, ... (``q3a`` for a part). A test belongs to the
exercise its ``@pytest.mark.exercise("q1")`` marker names; without one, to the ``qN``
token right after ``test_`` in its function's name (``test_q1_split``), else in its
module's name (``test_q1.py``); else to none (""). A token must end there: ``test_q10_x``
is q10, never q1, and ``test_quality`` is none.

Selecting an exercise (``check("q1")``, ``grade check -k q1``) selects exactly the tests
whose exercise equals it: pytest's ``-k`` matches substrings, so ``-k q1`` would run q10's
tests too. An argument is an exercise id when it looks like one (``q1``, ``Q3a``) or
equals some test's exercise (a marker may name any id); any other argument stays a pytest
``-k`` expression, as before.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.errors import UsageError

EXERCISE_ID = re.compile(r"q\d+[a-z]?", re.IGNORECASE)
_NAMED = re.compile(r"test_(q\d+[a-z]?)(?:_|$)", re.IGNORECASE)
_TAG = re.compile(r"(q\d+[a-z]?)(?![a-z0-9])", re.IGNORECASE)
_HEADING = re.compile(r"#+\s*(?:exercise\s+)?(q\d+[a-z]?)(?![a-z0-9])", re.IGNORECASE)


class UnknownExercise(UsageError):
    """An exercise was selected that no test belongs to."""


def marker_exercise(item) -> str | None:
    """What the test's ``exercise`` marker says, None without one; TypeError if it is not an id."""
    marker = item.get_closest_marker("exercise")
    if marker is None:
        return None
    value = marker.args[0] if marker.args else marker.kwargs.get("id")
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise TypeError(f"exercise must be a short non-empty string, not {value!r}")
    return value.strip()


def exercise_of(item) -> str:
    """The exercise ``item`` belongs to (see the module's docstring); "" for none. An invalid
    marker counts as none here: the plugin reports it as the lab's error."""
    try:
        marked = marker_exercise(item)
    except TypeError:
        return ""
    if marked is not None:
        return marked
    for name in (getattr(item, "originalname", item.name), Path(item.path).stem):
        if found := _NAMED.match(name):
            return found.group(1).lower()
    return ""


def same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def cell_exercise(cells: list, index: int) -> str:
    """The exercise of notebook cell ``index``: a ``qN`` tag of its own, else of the nearest code
    cell above that has one, or the ``## qN`` heading above it, whichever is nearer; "" if none.
    (A lab's cells that use an exercise's answer follow the cell tagged with it.)"""
    for cell in reversed(cells[: index + 1]):
        if cell.get("cell_type") == "markdown":
            if found := _HEADING.match(str(cell.get("source", "")).lstrip()):
                return found.group(1).lower()
            continue
        for tag in cell.get("metadata", {}).get("tags", []):
            if isinstance(tag, str) and (found := _TAG.fullmatch(tag) or _TAG.match(tag)):
                return found.group(1).lower()
    return ""


def _in_order(exercise: str) -> tuple:
    """q2 before q10 before q10a; ids of other shapes after them, by name."""
    found = re.fullmatch(r"q(\d+)(.*)", exercise, re.IGNORECASE)
    return (0, int(found.group(1)), found.group(2)) if found else (1, 0, exercise)


class ExerciseSelection:
    """The pytest plugin that selects one exercise's tests exactly, or leaves ``-k`` to pytest."""

    def __init__(self, select: str):
        self.select = select.strip()
        self.unknown: str | None = None  # the message, when the exercise selected has no test

    @pytest.hookimpl(tryfirst=True)  # before pytest's own -k, which it then switches off
    def pytest_collection_modifyitems(self, config, items) -> None:
        exercises = list(dict.fromkeys(e for e in map(exercise_of, items) if e))
        if not (EXERCISE_ID.fullmatch(self.select) or any(same(self.select, e) for e in exercises)):
            return
        config.option.keyword = ""
        keep = [item for item in items if same(exercise_of(item), self.select)]
        if not keep:
            self.unknown = f"no test belongs to exercise {self.select!r}; " + (
                f"the exercises are {', '.join(sorted(exercises, key=_in_order))}" if exercises
                else "no test belongs to any exercise")
        kept = set(map(id, keep))
        dropped = [item for item in items if id(item) not in kept]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep
