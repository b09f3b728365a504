"""Locked cells: what a lab gives and a student may not change, put back before grading.

nbgrader's metadata marks them (``metadata.nbgrader``: ``locked``, or ``grade`` without
``solution``: the given code and the test cells), each with its ``grade_id``; ``grade assign``
keeps that metadata in the student notebook, so a lab imported from nbgrader, or written with
its metadata, has them. Before a submission runs, each of its cells that claims a locked
cell's id gets the lab's own source again, as nbgrader's autograder overwrites them by their
checksums. The lab's copy is the student notebook (``labs/<id>/lab.ipynb``): hidden tests
stay out of the student's kernel. A locked cell the submission no longer has cannot be put
back where it was: the result says which are missing.

The ids are the lab's: a submission's metadata only says which cell is which, and a cell
claiming an id no locked cell has is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

NAMED_IDS = 5  # ids a message names; it counts the rest


@dataclass(frozen=True)
class Restored:
    """What was put back (``restored``) and what is missing, by locked cells' ids."""

    restored: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """The result's words for it; empty when every locked cell was as given."""
        parts = []
        if self.restored:
            parts.append(f"locked cells edited, put back as given: {_names(self.restored)}")
        if self.missing:
            parts.append(f"locked cells missing from the notebook: {_names(self.missing)}")
        return "; ".join(parts)


def locked_id(cell: nbformat.NotebookNode) -> str | None:
    """The id of a cell nbgrader's metadata locks, None if it is not locked."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict) or meta.get("solution") is True:
        return None
    locked = meta.get("locked") is True or meta.get("grade") is True
    name = meta.get("grade_id")
    return name if locked and isinstance(name, str) and name else None


@dataclass(frozen=True)
class Given:
    """What the lab's own notebook says a submission must have, read once per submission: whether
    it has code at all (an essay graded by hand has none), and its locked cells by id."""

    has_code: bool = True
    locked: dict[str, nbformat.NotebookNode] = field(default_factory=dict)


def given(lab_notebook: Path) -> Given:
    """The lab's notebook read (a lab without a student notebook yet is taken to be code, as a
    lab is, with no locked cell)."""
    if not lab_notebook.is_file():
        return Given()
    cells = nbformat.read(lab_notebook, as_version=4).cells
    return Given(any(cell.cell_type == "code" for cell in cells),
                 {name: cell for cell in cells if (name := locked_id(cell)) is not None})


def restore(submitted: nbformat.NotebookNode, given: dict[str, nbformat.NotebookNode]) -> Restored:
    """Put the lab's locked cells (``given``, by id) back into ``submitted`` (changed in place)."""
    if not given:
        return Restored()
    seen, restored = set(), []
    for cell in submitted.cells:
        name = _claimed(cell)
        if name not in given or name in seen:
            continue
        seen.add(name)
        original = given[name]
        if cell.cell_type != original.cell_type or cell.source != original.source:
            cell.cell_type, cell.source = original.cell_type, original.source
            if original.cell_type != "code":
                for key in ("outputs", "execution_count"):
                    cell.pop(key, None)
            else:
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
            restored.append(name)
    return Restored(tuple(restored), tuple(name for name in given if name not in seen))


def _claimed(cell: nbformat.NotebookNode) -> str | None:
    """The id a submitted cell's metadata gives, whatever else it claims."""
    meta = cell.get("metadata", {}).get("nbgrader")
    name = meta.get("grade_id") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _names(ids: tuple[str, ...]) -> str:
    shown = ", ".join(ids[:NAMED_IDS])
    return shown + (f" and {len(ids) - NAMED_IDS} more" if len(ids) > NAMED_IDS else "")
