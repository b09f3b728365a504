"""nbgrader's source notebooks read as labs: one lab ``<assignment>-<notebook>`` per notebook.

nbgrader marks cells in ``metadata.nbgrader`` (schema 3: ``grade``, ``solution``, ``locked``,
``task``, ``grade_id``, ``points``). Read here as:

- an autograder test cell (``grade``, not ``solution``, code): a test named by its
  ``grade_id`` and worth its ``points``, passed when the cell's code runs without an error, as
  nbgrader scores it. Its ``### BEGIN HIDDEN TESTS`` part makes it a hidden test; without one
  it is public, as the cell was visible to students;
- a cell graded by hand (``grade`` and ``solution``: a written answer, or code nbgrader would
  only score by hand once changed; a ``task`` cell): an item graded by hand, with its points;
- solution cells and ``### BEGIN SOLUTION`` regions: left as they are, for ``grade assign``
  stubs them as nbgrader does (grader.course.markers).

The notebook itself becomes the lab's solution, every cell kept (test cells too: students
still see and run the visible ones). Other files of the assignment's folder become the lab's
files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.course.imports.model import PYTHON, Case, ImportedLab
from grader.errors import UsageError

SKIPPED = (".ipynb_checkpoints", "__pycache__", ".DS_Store")
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
NOTEBOOK_LIMIT = 16 * 2**20  # bytes of one source notebook


def read_source(source: Path) -> list[ImportedLab]:
    """The labs of an nbgrader source notebook, or of every notebook of an assignment's folder
    (``source/<assignment>/``); UsageError naming what cannot be read."""
    if source.is_dir():
        notebooks = sorted(p for p in source.iterdir() if p.suffix == ".ipynb")
        folder = source
    elif source.suffix == ".ipynb" and source.is_file():
        notebooks, folder = [source], source.parent
    else:
        raise UsageError(f"{source}: not an nbgrader source notebook or assignment folder")
    if not notebooks:
        raise UsageError(f"{source}: no notebook in this folder")
    files = {p.name: p for p in sorted(folder.iterdir())
             if p.suffix != ".ipynb" and p.name not in SKIPPED and not p.is_symlink()}
    return [_lab(path, folder.name, files) for path in notebooks]


def _lab(path: Path, assignment: str, files: dict[str, Path]) -> ImportedLab:
    notebook = _read(path)
    cases = [case for index, cell in enumerate(notebook.cells) if (case := _case(cell, path, index)) is not None]
    names = [case.name for case in cases]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"{path}: grade_id {', '.join(repeated)} names more than one graded cell")
    return ImportedLab(f"{assignment}-{path.stem}", f"{assignment}: {path.stem}", "nbgrader",
                       f"{assignment}/{path.name}", notebook, cases, dict(files))


def _read(path: Path) -> nbformat.NotebookNode:
    if path.stat().st_size > NOTEBOOK_LIMIT:
        raise UsageError(f"{path}: larger than {NOTEBOOK_LIMIT // 2**20} MiB")
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a notebook nbformat can read ({exc})") from None


def _case(cell: nbformat.NotebookNode, path: Path, index: int) -> Case | None:
    """The test or hand-graded item a cell is, None for any other cell."""
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    if not (meta.get("grade") or meta.get("task")):
        return None
    where = f"{path}, cell {index + 1}"
    name, points = meta.get("grade_id"), meta.get("points", 0)
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}: a graded cell without a grade_id")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise UsageError(f"{where} ({name}): points must be a number >= 0, not {points!r}")
    if meta.get("solution") or meta.get("task") or cell.cell_type != "code":
        return Case(name, float(points), name, manual=True)
    source, hidden = _test_source(cell.source, where)
    return Case(name, float(points), name, hidden=hidden, sources=((PYTHON, source),))


def _test_source(source: str, where: str) -> tuple[str, bool]:
    """A test cell's code with its hidden-test markers taken out, and whether it had any."""
    kept, hidden = [], False
    for line in source.splitlines():
        words = line.strip().lstrip("#").strip().upper()
        if words in (HIDDEN_BEGIN, HIDDEN_END):
            hidden = True
            continue
        kept.append(line)
    if not "".join(kept).strip():
        raise UsageError(f"{where}: a test cell without code")
    return "\n".join(kept), hidden
