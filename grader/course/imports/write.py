"""An imported lab written in this grader's layout: the solution, lab.toml, files and tests.

The cases become pytest tests (:mod:`.convert`): the visible ones in ``public_tests/``
(students read and run them, as they ran the other tool's visible tests), the hidden ones and
the items graded by hand in ``tests/``. Nothing is overwritten: a lab folder that exists
already is an error naming it, and the instructor removes it or imports under another name.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.course.assign import PUBLIC_FILES, PUBLIC_TESTS
from grader.course.imports.convert import Converted, aliases, convert, in_kernel
from grader.course.imports.model import Case, ImportedLab
from grader.errors import UsageError

HIDDEN_FILE, PUBLIC_FILE = "test_hidden.py", "test_public.py"


@dataclass(frozen=True)
class Written:
    """What :func:`write_lab` made: the lab's folder and how many tests of each kind."""

    folder: Path
    converted: int
    kernel_side: int
    manual: int


def write_lab(course_root: Path, lab: ImportedLab) -> Written:
    """Write ``lab`` under ``course_root/solutions/``; UsageError if its folder exists."""
    folder = course_root / "solutions" / lab.lab_id
    if folder.exists():
        raise UsageError(f"{folder} exists already: remove it to import {lab.origin} again")
    names = aliases([cell.source for cell in lab.solution.cells if cell.cell_type == "code"])
    tests = {case: _body(case, names) for case in lab.cases}
    folder.mkdir(parents=True)
    nbformat.write(lab.solution, folder / "solution.ipynb")
    (folder / "lab.toml").write_text(_toml({"title": lab.title, **lab.settings}), encoding="utf-8")
    if lab.requirements:
        (folder / "requirements.txt").write_text("\n".join(lab.requirements) + "\n", encoding="utf-8")
    for name, source in lab.files.items():
        target = folder / PUBLIC_FILES / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target) if source.is_file() else shutil.copytree(source, target)
    public = {case: body for case, body in tests.items() if not case.hidden and not case.manual}
    hidden = {case: body for case, body in tests.items() if case not in public}
    for where, name, chosen in ((PUBLIC_TESTS, PUBLIC_FILE, public), ("tests", HIDDEN_FILE, hidden)):
        if chosen:
            (folder / where).mkdir()
            (folder / where / name).write_text(_module(lab, chosen), encoding="utf-8")
    bodies = [body for case, body in tests.items() if not case.manual]
    return Written(folder, sum(b.in_grader for b in bodies), sum(not b.in_grader for b in bodies),
                   sum(case.manual for case in lab.cases))


def _body(case: Case, names: dict[str, str]) -> Converted:
    """The case's test body: every source converted, or (one of them not) all run in the kernel."""
    parts = [convert(kind, text, names, case.points) for kind, text in case.sources]
    if not all(part.in_grader for part in parts):
        parts = [in_kernel(kind, text, case.points) for kind, text in case.sources]
    return Converted(tuple(line for part in parts for line in part.lines), all(part.in_grader for part in parts))


def _module(lab: ImportedLab, tests: dict[Case, Converted]) -> str:
    """The pytest module holding ``tests``."""
    text = "\n".join(line for body in tests.values() for line in body.lines)
    imports = [f"import {name}" for name in ("math", "numpy", "numpy.testing") if f"{name}." in text]
    head = [f'"""Imported from {lab.tool}\'s {lab.origin} by `grade import`.',
            "",
            "A test marked kernel_side runs in the student's kernel, as the other tool ran it: a",
            "submission could forge it, and its result says so. The others judge here, in the grader,",
            'on values decoded from the kernel."""',
            "", *imports, "import pytest", "",
            "from grader.testing.imported import nbgrader_cell, output_matches, run_doctest  # noqa: F401", ""]
    functions: set[str] = set()
    return "\n".join(head + [_test(case, body, _unique(case.function, functions)) for case, body in tests.items()])


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... the first not ``taken`` (which it then joins)."""
    chosen, number = name, 1
    while chosen in taken:
        number += 1
        chosen = f"{name}_{number}"
    taken.add(chosen)
    return chosen


def _test(case: Case, body: Converted, function: str) -> str:
    marks = [f"@pytest.mark.points({case.points!r})", f"@pytest.mark.exercise({case.exercise!r})"]
    if case.manual:
        marks.append("@pytest.mark.manual")
    elif not body.in_grader:
        marks.append("@pytest.mark.kernel_side")
    lines = ["    pass"] if case.manual else [f"    {line}" for line in body.lines]
    fixtures = "nb, record_property" if any("record_property" in line for line in lines) else "nb"
    return "\n".join(["", *marks, f"def {function}({fixtures}):", f"    {json.dumps(case.name)}", *lines, ""])


def _toml(values: dict[str, object]) -> str:
    """lab.toml's text: strings, numbers, booleans and lists of strings, as JSON writes them
    (a TOML basic string is a JSON string)."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
