"""Reading what a submission controls: size first, then parse, then depth.

Every JSON document that comes from a submission (the notebook file, a value
from the kernel, a request body sent to one of the grader's services, an
earlier results file) is read here, so that one place holds the rule: its size
is checked before a single byte is parsed, the parser's own recursion limit
is an error of the input rather than of the grader, and the parsed document
is walked once, without recursion, to refuse nesting deeper than the caller
allows before anything recursive (nbformat's validator, ``copy.deepcopy``,
pickle) touches it.

Parsing is linear in the size, and JSON object keys are strings, whose hashes
Python randomises per process, so a bounded document is also parsed in
bounded time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT_DEPTH = 100


class Unbounded(ValueError):
    """Input over a size, depth or count bound: refused before it is kept."""


def check_size(data: bytes | str, limit: int, what: str) -> None:
    """Refuse ``data`` longer than ``limit`` bytes (characters for a str)."""
    if len(data) > limit:
        raise Unbounded(f"{what} is larger than {_size(limit)}")


def read(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the file at ``path``, read no further than one past ``limit``; Unbounded past
    it (an OSError if it cannot be read)."""
    with path.open("rb") as file:
        data = file.read(limit + 1)
    check_size(data, limit, what)
    return data


def loads(data: bytes | str, limit: int, what: str, depth: int = DEFAULT_DEPTH) -> Any:
    """The JSON document in ``data``; Unbounded over ``limit`` or ``depth``, ValueError if not JSON."""
    check_size(data, limit, what)
    try:
        doc = json.loads(data)
    except RecursionError:
        raise Unbounded(f"{what} is nested deeper than {depth} levels") from None
    except ValueError as exc:  # not JSON, not UTF-8, or an integer of more digits than Python converts
        raise ValueError(f"{what} is not JSON ({str(exc)[:200]})") from None
    check_depth(doc, depth, what)
    return doc


def check_depth(doc: Any, depth: int, what: str) -> None:
    """Refuse a parsed document whose lists and dicts nest deeper than ``depth``.
    Iterative, with one iterator per open level, so that the check can never hit a
    recursion limit and holds no more than ``depth`` iterators at once."""
    stack = [iter((doc,))]
    while stack:
        for node in stack[-1]:
            if isinstance(node, (dict, list)):
                if len(stack) > depth:
                    raise Unbounded(f"{what} is nested deeper than {depth} levels")
                stack.append(iter(node.values() if isinstance(node, dict) else node))
                break
        else:
            stack.pop()


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB" if n >= 2**10 else f"{n} bytes"
