"""What an importer reads out of another tool's course: a lab's solution, its cases, its files.

Each importer (:mod:`.nbgrader`, :mod:`.otter`) turns its format into an :class:`ImportedLab`;
:mod:`.write` turns that into this grader's layout. Nothing here knows either format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

PYTHON, DOCTEST = "python", "doctest"  # the kinds of source a case holds: Python, a doctest, and
NBGRADER_CELL = "nbgrader cell"  # a test cell scored as nbgrader scores it (its compatibility switch)
PRINTED_DOCTEST = "printed doctest"  # a doctest expecting what its code prints: only the kernel sees that
_NOT_NAME = re.compile(r"[^0-9A-Za-z_]+")


@dataclass(frozen=True)
class Case:
    """One test as the other tool scored it: all of its ``sources`` must pass for ``points``
    (otter's all-or-nothing question is one case of several sources). ``name`` is the
    test's name in the results (nbgrader's ``grade_id``, otter's question and case);
    ``exercise`` the question it belongs to. A ``manual`` case has no source: a person
    grades it."""

    name: str
    points: float
    exercise: str
    hidden: bool = False
    sources: tuple[tuple[str, str], ...] = ()  # (PYTHON, DOCTEST, PRINTED_DOCTEST or NBGRADER_CELL, text)
    manual: bool = False

    @property
    def function(self) -> str:
        """The pytest function's name for this case (``test_`` once, however the name starts)."""
        return "test_" + (_NOT_NAME.sub("_", self.name).strip("_").removeprefix("test_") or "case")


@dataclass
class ImportedLab:
    """One lab to write: ``solution`` is a notebook in this grader's markers (nbgrader's and
    otter's own are among them: grader.course.markers), ``files`` the data files beside it
    (name in the lab -> path to copy), ``settings`` the extra keys of its lab.toml."""

    lab_id: str
    title: str
    tool: str  # "nbgrader" or "otter": said in the files written
    origin: str  # what was imported, as the instructor named it
    solution: nbformat.NotebookNode
    cases: list[Case] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the instructor should know (keys not imported...)
