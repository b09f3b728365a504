"""Solution notebook -> student notebook.

The solution is the single source of truth. Every ``# BEGIN SOLUTION`` /
``# END SOLUTION`` region becomes a stub at the same indentation, cells
tagged ``solution-only`` are dropped, outputs are cleared, and the lab id is
written into the metadata so that submissions find their lab.

Besides ``solution.ipynb`` and the hidden ``tests/``, a solution folder may
hold ``public_tests/`` (copied to ``labs/<id>/tests/``) and ``files/``
(data and helpers, copied into ``labs/<id>/``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from grader.course.layout import Lab
from grader.errors import AssignError

BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION\s*$", re.IGNORECASE)
END = re.compile(r"^\s*#\s*END SOLUTION\s*$", re.IGNORECASE)
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
FILE_STUB = ("# YOUR CODE HERE",)  # a %%writefile cell writes a file (a Dockerfile...), where `raise` is no code
SOLUTION_ONLY_TAG = "solution-only"
PUBLIC_TESTS = "public_tests"  # solutions/<id>/public_tests/ -> labs/<id>/tests/
PUBLIC_FILES = "files"  # solutions/<id>/files/* -> labs/<id>/*
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")




def stub_source(source: str, where: str = "cell") -> str:
    """``source`` with each solution region replaced by a stub."""
    out: list[str] = []
    indent: str | None = None
    stub = FILE_STUB if source.startswith("%%writefile") else STUB
    for number, line in enumerate(source.splitlines(), 1):
        begin = BEGIN.match(line)
        if begin:
            if indent is not None:
                raise AssignError(f"{where}, line {number}: BEGIN SOLUTION inside another solution region")
            indent = begin.group(1)
            out.extend(indent + s for s in stub)
        elif END.match(line):
            if indent is None:
                raise AssignError(f"{where}, line {number}: END SOLUTION without BEGIN SOLUTION")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise AssignError(f"{where}: BEGIN SOLUTION is never closed")
    return "\n".join(out)


def student_notebook(solution: nbformat.NotebookNode, lab_id: str) -> nbformat.NotebookNode:
    """The student's version of ``solution`` (which is left unchanged)."""
    nb = nbformat.v4.new_notebook(metadata=dict(solution.metadata))
    nb.metadata["grader"] = {"lab": lab_id}
    for index, cell in enumerate(solution.cells):
        if SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        meta = dict(cell.get("metadata", {}))
        if cell.cell_type == "code":
            source = stub_source(cell.source, f"cell {index}")
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata=meta))
        elif cell.cell_type == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
        else:
            nb.cells.append(nbformat.v4.new_raw_cell(cell.source, metadata=meta))
    return nb


def render(lab: Lab) -> str:
    """The text ``labs/<id>/lab.ipynb`` should have."""
    solution = nbformat.read(lab.solution, as_version=4)
    nb = student_notebook(solution, lab.id)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{lab.id}-{index}"[:64]
    return nbformat.writes(nb) + "\n"


def assign(lab: Lab) -> list[Path]:
    """Write the student notebook and copy the public tests and files; return what was written."""
    lab.lab_dir.mkdir(parents=True, exist_ok=True)
    lab.notebook.write_text(render(lab), encoding="utf-8")
    written = [lab.notebook]
    for source, target in _copies(lab):
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)  # a test removed from the solution goes too
            shutil.copytree(source, target, ignore=IGNORED)
        else:
            shutil.copy2(source, target)
        written.append(target)
    return written


def out_of_date(lab: Lab) -> list[str]:
    """What in ``labs/<id>/`` differs from what ``assign`` would write (empty: in sync)."""
    stale = [] if lab.notebook.is_file() and lab.notebook.read_text(encoding="utf-8") == render(lab) \
        else [str(lab.notebook)]
    for source, target in _copies(lab):
        for src in [source] if source.is_file() else _files(source):
            dst = target / src.relative_to(source) if source.is_dir() else target
            if not dst.is_file() or dst.read_bytes() != src.read_bytes():
                stale.append(str(dst))
        if source.is_dir() and target.is_dir():
            expected = {f.relative_to(source) for f in _files(source)}
            stale += [str(f) for f in _files(target) if f.relative_to(target) not in expected]
    return stale


def _copies(lab: Lab) -> list[tuple[Path, Path]]:
    """(source, target) pairs: the public tests folder, and each file meant for students."""
    pairs = []
    if (lab.solution_dir / PUBLIC_TESTS).is_dir():
        pairs.append((lab.solution_dir / PUBLIC_TESTS, lab.public_tests))
    files = lab.solution_dir / PUBLIC_FILES
    if files.is_dir():
        pairs += [(f, lab.lab_dir / f.name) for f in sorted(files.iterdir()) if f.name != "__pycache__"]
    return pairs


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
