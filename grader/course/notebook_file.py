"""One notebook file of a stranger's: its bytes read within bounds, its document checked.

This is the bottom of discovery (grader.course.discover, grader.course.archive and
the runner read through it): a file is opened without following a link or
waiting on a pipe and read to at most MAX_NOTEBOOK_BYTES, and the JSON it holds
is bounded in size and depth and checked for the shape nbformat's reader and the
grader take for granted, before either of them meets it. A failure is an OSError
or a ValueError (Unreadable, InvalidNotebook) whose message, cut by ``reason``,
is that submission's problem.

MAX_NOTEBOOK_BYTES is one bound for every reader of a notebook (a file here, a
member in grader.course.archive, the check in Submission.read_bytes): the others
read it from this module when they run, so that it is one value, not copies.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import nbformat

from grader import bounded

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_CELLS = 2_000  # ten times a long lab; every cell is executed and rendered
MAX_CELL_SOURCE = 1024 * 1024  # characters: a megabyte of code is data pasted in, not an answer
MAX_LAB_ID = 100  # characters; the gradebook keeps it
MAX_REASON = 200  # characters of a problem's explanation

_CELL_TYPES = ("code", "markdown", "raw")
_OUTPUT_TYPES = ("execute_result", "display_data", "stream", "error")


class Unreadable(ValueError):
    """A submission whose bytes cannot be had; the message says why, for its row."""


class InvalidNotebook(ValueError):
    """Bytes that are not a notebook the grader can take; the message says why, for its row."""


def reason(exc: BaseException) -> str:
    """An exception's message cut to one short line: it is shown in a row, and its text may be
    the submission's own (a name, a value quoted back by a parser or a validator)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    text = lines[0]
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


# --- files -------------------------------------------------------------------------------


def _no_follow(path: str, flags: int) -> int:
    """An ``open`` opener that refuses a link and does not wait on a pipe."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


@contextmanager
def regular_file(path: Path) -> Iterator[BinaryIO]:
    """``path`` open for reading if it is a regular file itself (not a link, a pipe or a
    device); Unreadable or OSError if not. Every file discovery reads is opened here."""
    with open(path, "rb", opener=_no_follow) as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Unreadable("is not a regular file")
        yield f


def read_file(path: Path) -> bytes:
    """The file's bytes, at most one past MAX_NOTEBOOK_BYTES: enough for the caller to see
    that it is too large, never more."""
    with regular_file(path) as f:
        return f.read(MAX_NOTEBOOK_BYTES + 1)


# --- notebooks ---------------------------------------------------------------------------


def metadata_lab(data: bytes) -> str | None:
    """The lab id in ``metadata.grader.lab``; InvalidNotebook (a ValueError) if this is not a notebook."""
    grader_meta = load_notebook(data)["metadata"].get("grader")
    lab = grader_meta.get("lab") if isinstance(grader_meta, dict) else None
    if isinstance(lab, str) and len(lab) > MAX_LAB_ID:
        raise InvalidNotebook(f"metadata.grader.lab is longer than {MAX_LAB_ID} characters")
    return lab if isinstance(lab, str) else None


def load_notebook(data: bytes) -> dict[str, Any]:
    """The notebook document in ``data``: bounded in size and depth (grader.bounded), text that
    is Unicode throughout, and of the shape nbformat's reader and the grader take for granted,
    so that nothing downstream meets a type it does not expect; nbformat's validation does the
    rest. InvalidNotebook (a ValueError) saying why not."""
    try:
        doc = bounded.loads(data, MAX_NOTEBOOK_BYTES, "the notebook")
    except ValueError as exc:
        raise InvalidNotebook(reason(exc)) from None
    _check_notebook(doc)
    _check_unicode(doc)
    return doc


def _check_notebook(doc: Any) -> None:
    """What nbformat's reader assumes (it raises AttributeError, TypeError or AssertionError on
    anything else), what the grader relies on, and a version whose schema is strict: a minor
    newer than nbformat knows is validated with unknown cell and output types allowed."""
    newest = nbformat.v4.nbformat_minor
    _expect(type(doc) is dict, "the top level is not a JSON object")
    _expect(type(doc.get("nbformat")) is int and doc["nbformat"] == 4, "nbformat is not the integer 4")
    minor = doc.get("nbformat_minor")
    _expect(type(minor) is int and 0 <= minor <= newest, f"nbformat_minor is not an integer from 0 to {newest}")
    _expect(type(doc.get("metadata")) is dict, "metadata is not an object")
    cells = doc.get("cells")
    _expect(type(cells) is list, "cells is not a list")
    _expect(len(cells) <= MAX_CELLS, f"more than {MAX_CELLS} cells")
    for number, cell in enumerate(cells, 1):
        _check_cell(cell, f"cell {number}")


def _check_cell(cell: Any, where: str) -> None:
    _expect(type(cell) is dict, f"{where} is not an object")
    _expect(cell.get("cell_type") in _CELL_TYPES, f"{where} has no cell_type the grader knows")
    source = cell.get("source")
    _expect(_is_text(source), f"{where}: source is not text")
    _expect((len(source) if type(source) is str else sum(map(len, source))) <= MAX_CELL_SOURCE,
            f"{where}: source is longer than {MAX_CELL_SOURCE} characters")
    _expect(type(cell.get("metadata")) is dict, f"{where}: metadata is not an object")
    _expect(type(cell.get("id", "")) is str, f"{where}: id is not a string")
    attachments = cell.get("attachments", {})
    _expect(type(attachments) is dict and all(type(a) is dict for a in attachments.values()),
            f"{where}: attachments are not objects")
    if cell["cell_type"] == "code":
        outputs = cell.get("outputs")
        _expect(type(outputs) is list and all(_is_output(o) for o in outputs), f"{where}: outputs are not outputs")


def _is_output(output: Any) -> bool:
    return (type(output) is dict and output.get("output_type") in _OUTPUT_TYPES
            and type(output.get("data", {})) is dict and _is_text(output.get("text", "")))


def _is_text(value: Any) -> bool:
    return type(value) is str or (type(value) is list and all(type(line) is str for line in value))


def _check_unicode(doc: dict[str, Any]) -> None:
    """Refuse a lone surrogate (``"\\ud800"`` is valid JSON): text that cannot be encoded would
    fail when the notebook is sent to its kernel or written out."""
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNotebook("the notebook holds text that is not Unicode (a lone surrogate)") from None


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise InvalidNotebook(problem)
