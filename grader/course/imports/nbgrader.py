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

Where nbgrader's scoring differs from this grader's, ``--nbgrader-scoring`` keeps nbgrader's:
every test cell then runs in the kernel (kernel-side: a submission could forge it), scored as
nbgrader scores it: anything written to stderr (a warning too) zeroes it, and a last value
that reads as a number is that many points (grader.testing.imported.nbgrader_cell). Without
it, a warning costs nothing and a test cell's value is not a score.

The notebook itself becomes the lab's solution, every cell kept (test cells too: students
still see and run the visible ones). Other files of the assignment's folder become the lab's
files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.course.imports.model import NBGRADER_CELL, PYTHON, Case, ImportedLab
from grader.errors import UsageError

SKIPPED = (".ipynb_checkpoints", "__pycache__", ".DS_Store")
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
AUTOTEST = "AUTOTEST"  # nbgrader 0.9's generated tests: a line that is a comment to Python, never run here
NOTEBOOK_LIMIT = 16 * 2**20  # bytes of one source notebook
SCHEMA = 3  # nbgrader's metadata schema read here (nbgrader 0.6 and later)


def read_source(source: Path, nbgrader_scoring: bool = False) -> list[ImportedLab]:
    """The labs of an nbgrader source notebook, or of every notebook of an assignment's folder
    (``source/<assignment>/``); UsageError naming what cannot be read. ``nbgrader_scoring``:
    every test cell is scored as nbgrader scores it, in the kernel (see the module's docstring)."""
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
    kind = NBGRADER_CELL if nbgrader_scoring else PYTHON
    return [_lab(path, folder.name, files, kind) for path in notebooks]


def _lab(path: Path, assignment: str, files: dict[str, Path], kind: str) -> ImportedLab:
    notebook = read_notebook(path)
    cases = [case for index, cell in enumerate(notebook.cells) if (case := _case(cell, path, index, kind)) is not None]
    names = [case.name for case in cases]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"{path}: grade_id {', '.join(repeated)} names more than one graded cell")
    return ImportedLab(f"{assignment}-{path.stem}", f"{assignment}: {path.stem}", "nbgrader",
                       f"{assignment}/{path.name}", notebook, cases, dict(files))


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook another tool wrote (otter's master too), its size bounded before it is parsed."""
    if path.stat().st_size > NOTEBOOK_LIMIT:
        raise UsageError(f"{path}: larger than {NOTEBOOK_LIMIT // 2**20} MiB")
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a notebook nbformat can read ({exc})") from None


def _case(cell: nbformat.NotebookNode, path: Path, index: int, kind: str) -> Case | None:
    """The test or hand-graded item a cell is, None for any other cell."""
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    where = f"{path}, cell {index + 1}"
    if meta and meta.get("schema_version") != SCHEMA:
        raise UsageError(f"{where}: nbgrader's metadata of schema {meta.get('schema_version', 0)!r}, not "
                         f"{SCHEMA}: `nbgrader update` brings an older notebook to schema {SCHEMA}")
    if not (meta.get("grade") or meta.get("task")):
        return None
    name, points = meta.get("grade_id"), meta.get("points", 0)
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}: a graded cell without a grade_id")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise UsageError(f"{where} ({name}): points must be a number >= 0, not {points!r}")
    if meta.get("solution") or meta.get("task") or cell.cell_type != "code":
        return Case(name, float(points), name, manual=True)
    source, hidden = _test_source(cell.source, where)
    return Case(name, float(points), name, hidden=hidden, sources=((kind, source),))


def _test_source(source: str, where: str) -> tuple[str, bool]:
    """A test cell's code with its hidden-test markers taken out, and whether it had any."""
    kept, hidden = [], False
    for line in source.splitlines():
        words = line.strip().lstrip("#").strip().upper()
        if words.startswith(AUTOTEST) or words.startswith(f"HASHED {AUTOTEST}"):
            raise UsageError(f"{where}: nbgrader's {AUTOTEST} lines are not imported (they expand through the "
                             "course's autotests.yml): write the asserts they stand for in the cell")
        if words in (HIDDEN_BEGIN, HIDDEN_END):
            hidden = True
            continue
        kept.append(line)
    if not "".join(kept).strip():
        raise UsageError(f"{where}: a test cell without code")
    return "\n".join(kept), hidden
