"""otter-assign's master notebooks read as labs: one master, one lab.

The master is read cell by cell as otter-assign 7 reads it. Raw cells (or markdown cells
holding a ```` ```otter ```` fence) mark blocks: ``# ASSIGNMENT CONFIG``, ``# BEGIN QUESTION``
with its YAML, and inside a question ``# BEGIN PROMPT``, ``# BEGIN SOLUTION`` and
``# BEGIN TESTS``. What becomes of each:

- a question's test cells become its cases (:mod:`.otter_cases`), doctests as otter runs them,
  with otter's points; they leave the notebook, and a ``check("<question>")`` cell takes the
  place of otter's ``grader.check`` cell, under the same condition;
- a manual question becomes an item graded by hand, worth its points (0 without, as otter);
- solution blocks stay, between this grader's own boundary cells, so that ``grade assign``
  stubs them (grader.course.markers, which also reads otter's ``# SOLUTION`` lines and
  in-cell prompts). After a prompt block the solution block leaves nothing behind: students
  see the prompt. A solution's markdown cells are removed for students as otter removes
  them, but for one answer cell of a manual question without a prompt, and those tagged
  ``otter_include``, which students see as they are;
- ``# BEGIN IGNORE`` regions, ``# IGNORE`` lines and ignored cells are dropped everywhere.

Of the assignment config, ``name``, ``files``, ``requirements``, ``seed`` (its variable set
to the autograder's value) and ``show_question_points`` apply; :mod:`.otter_config` reads
them and names every other key in a note.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course.assign import SOLUTION_ONLY_TAG
from grader.course.imports import otter_config
from grader.course.imports.model import Case, ImportedLab
from grader.course.imports.nbgrader import read_notebook
from grader.course.imports.otter_cases import (
    TestCell,
    load_yaml,
    number,
    question_cases,
    question_value,
    read_test_cell,
)
from grader.errors import UsageError

BLOCKS = ("question", "prompt", "solution", "tests")
IGNORED_CELL = re.compile(r"##\s*ignore\s*##\s*|#\s*ignore\s*", re.IGNORECASE)
ASSIGNMENT_CONFIG = re.compile(r"#\s+assignment\s+config\s*", re.IGNORECASE)
QUESTION_KEYS = frozenset({"name", "manual", "points", "check_cell", "export", "all_or_nothing"})
INIT = "from grader.check import check"
INCLUDE_TAG = "otter_include"  # a markdown cell of a solution block that students see
END_SOLUTION = "# END SOLUTION"


@dataclass
class Question:
    """A question being read: its config, its test cells, and where its text is."""

    name: str
    manual: bool
    points: object
    all_or_nothing: bool
    check_cell: bool
    where: str
    tests: list[TestCell] = field(default_factory=list)
    has_prompt: bool = False
    no_solution: bool = False
    solution_markdown: int = 0  # markdown cells seen in the question's solution blocks
    last_text: int | None = None  # index of its last markdown cell outside blocks, in the solution


@dataclass
class Walk:
    """The reading: the solution's cells so far, the open blocks, the questions and the config."""

    cells: list = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    checks: bool = False
    opened: str = ""  # the boundary cell that opened the solution block being read


def read_master(master: Path) -> list[ImportedLab]:
    """The lab of an otter-assign master notebook; UsageError naming the cell of any mistake,
    before anything is written."""
    if not master.is_file() or master.suffix != ".ipynb":
        raise UsageError(f"{master}: not an otter master notebook (.ipynb)")
    notebook = read_notebook(master)
    walk = Walk()
    cells = [piece for index, cell in enumerate(notebook.cells) for piece in _unfenced(cell, master, index)]
    for cell, where in cells:
        if not IGNORED_CELL.match(_first_line(cell)):
            _step(walk, cell, f"{master}, {where}")
    if walk.blocks:
        raise UsageError(f"{master}: BEGIN {walk.blocks[-1].upper()} is never closed")
    settings = otter_config.read(walk.config, master)
    if settings.show_points:
        _show_points(walk.cells, walk.questions)
    solution = copy.deepcopy(notebook)
    solution.cells = ([nbformat.v4.new_code_cell(INIT)] if walk.checks else []) + walk.cells
    otter_config.set_seed(solution, settings.seed)
    cases = [case for question in walk.questions for case in _cases(question)]
    lab_id = settings.name or otter_config.lab_name(master.stem, f"{master}: its file name")
    return [ImportedLab(lab_id, lab_id, "otter", master.name, solution, cases, settings.files, settings.requirements,
                        notes=settings.notes + _notes(walk.questions))]


def _first_line(cell) -> str:
    return re.split(r"\r?\n", cell.source, maxsplit=1)[0]


def _unfenced(cell, master: Path, index: int) -> list[tuple[nbformat.NotebookNode, str]]:
    """A cell, or a markdown cell's pieces around its ```` ```otter ```` fences (each fence a raw
    cell, as otter reads them), each with where it is."""
    where = f"cell {index + 1}"
    lines = re.split(r"\r?\n", cell.source)
    if cell.cell_type != "markdown" or not any(line.strip() == "```otter" for line in lines):
        return [(cell, where)]
    pieces, text, at = [], [], 0
    while at < len(lines):
        if lines[at].strip() != "```otter":
            text.append(lines[at])
            at += 1
            continue
        end = next((i for i in range(at + 1, len(lines)) if lines[i].strip() == "```"), None)
        if end is None:
            raise UsageError(f"{master}, {where}: a ```otter fence is never closed")
        pieces += [nbformat.v4.new_markdown_cell("\n".join(text))] if "".join(text).strip() else []
        pieces.append(nbformat.v4.new_raw_cell("\n".join(lines[at + 1:end])))
        text, at = [], end + (2 if end + 1 < len(lines) and not lines[end + 1].strip() else 1)
    pieces += [nbformat.v4.new_markdown_cell("\n".join(text))] if "".join(text).strip() else []
    return [(piece, where) for piece in pieces]


def _boundary(cell) -> tuple[bool, str] | None:
    """(begin, block) for a raw cell that opens or closes a block, as otter matches them."""
    if cell.cell_type != "raw":
        return None
    line = _first_line(cell)
    for block in BLOCKS:
        for begin in (True, False):
            if re.match(rf"#\s+{'begin' if begin else 'end'}\s+{block}\s*", line, re.IGNORECASE):
                return begin, block
    return None


def _step(walk: Walk, cell, where: str) -> None:
    """Read one cell of the master."""
    if cell.cell_type == "raw" and ASSIGNMENT_CONFIG.match(_first_line(cell)):
        found = load_yaml(cell.source, where) or {}
        if not isinstance(found, dict):
            raise UsageError(f"{where}: the assignment config is not a mapping of keys to values")
        walk.config.update(found)
        return
    edge = _boundary(cell)
    if edge is not None:
        (_begin if edge[0] else _end)(walk, edge[1], cell, where)
    elif walk.blocks and walk.blocks[-1] == "tests":
        if cell.cell_type != "code":
            raise UsageError(f"{where}: a {cell.cell_type} cell in a tests block (only code cells are tests)")
        tests = walk.config.get("tests")  # the config read so far, as otter applies it
        ok_format = not (isinstance(tests, dict) and tests.get("ok_format") is False)
        walk.questions[-1].tests.append(read_test_cell(cell.source, cell.get("outputs", []), where, ok_format))
    else:
        _keep(walk, cell)


def _begin(walk: Walk, block: str, cell, where: str) -> None:
    if block == "question" and walk.blocks:
        raise UsageError(f"{where}: BEGIN QUESTION inside question {walk.questions[-1].name}")
    if block != "question" and not walk.blocks:
        raise UsageError(f"{where}: BEGIN {block.upper()} outside a question")
    if len(walk.blocks) > 1:
        raise UsageError(f"{where}: BEGIN {block.upper()} inside a {walk.blocks[-1]} block")
    if block == "question":
        walk.questions.append(_question(cell, where, {q.name for q in walk.questions}))
    question = walk.questions[-1]
    if block == "prompt":
        if question.has_prompt:
            raise UsageError(f"{where}: a prompt block after the question's prompt or solution")
        question.has_prompt = True
    elif block == "tests" and not question.has_prompt:
        question.no_solution = True
    elif block == "solution":
        walk.opened = "# BEGIN SOLUTION NO PROMPT" if question.has_prompt else "# BEGIN SOLUTION"
        walk.cells.append(nbformat.v4.new_raw_cell(walk.opened))
    walk.blocks.append(block)


def _end(walk: Walk, block: str, cell, where: str) -> None:
    if not walk.blocks or walk.blocks[-1] != block:
        opened = f" (open: {walk.blocks[-1]})" if walk.blocks else ""
        raise UsageError(f"{where}: END {block.upper()} without its BEGIN{opened}")
    walk.blocks.pop()
    question = walk.questions[-1]
    if block == "solution":
        walk.cells.append(nbformat.v4.new_raw_cell(END_SOLUTION))
    elif block == "question" and question.tests and question.check_cell and \
            (not question.no_solution or any(not t.hidden for t in question.tests)):
        walk.cells.append(nbformat.v4.new_code_cell(f"check({json.dumps(question.name)})"))
        walk.checks = True


def _question(cell, where: str, taken: set[str]) -> Question:
    """A ``# BEGIN QUESTION`` cell's config, checked as otter checks it (and a little more)."""
    found = load_yaml(cell.source, where) or {}
    if not isinstance(found, dict):
        raise UsageError(f"{where}: the question's config is not a mapping of keys to values")
    unknown = sorted(set(map(str, found)) - QUESTION_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown question key(s) {', '.join(unknown)} (otter knows "
                         f"{', '.join(sorted(QUESTION_KEYS))})")
    name = found.get("name")
    if not isinstance(name, (str, int)) or isinstance(name, bool) or not str(name).strip():
        raise UsageError(f"{where}: a question without a name")
    name = str(name)
    if name in taken:
        raise UsageError(f"{where}: a second question named {name!r}")
    flags = {key: found.get(key, key == "check_cell") for key in ("manual", "all_or_nothing", "check_cell")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise UsageError(f"{where} ({name}): {key} must be true or false, not {value!r}")
    points = found.get("points")
    if not isinstance(points, (list, dict)):
        number(points, f"{where} ({name})", "points")
    return Question(name, flags["manual"], points, flags["all_or_nothing"], flags["check_cell"], where)


def _keep(walk: Walk, cell) -> None:
    """A cell that stays in the solution: ignored lines dropped; a solution's markdown cell
    marked for the solution only, but for a manual question's one answer cell without a prompt."""
    cell = copy.deepcopy(cell)
    cell.source = otter_config.without_ignored(cell.source)
    tags = cell.get("metadata", {}).get("tags", [])
    if walk.blocks and walk.blocks[-1] == "solution" and cell.cell_type == "markdown" and INCLUDE_TAG in tags:
        cell.metadata["tags"] = [tag for tag in tags if tag != INCLUDE_TAG]  # shown to students, as otter shows it:
        walk.cells += [nbformat.v4.new_raw_cell(END_SOLUTION), cell, nbformat.v4.new_raw_cell(walk.opened)]
        return
    if walk.blocks and walk.blocks[-1] == "solution" and cell.cell_type == "markdown":
        question = walk.questions[-1]
        question.solution_markdown += 1
        if question.has_prompt or not question.manual or question.solution_markdown > 1:
            cell.setdefault("metadata", {}).setdefault("tags", []).append(SOLUTION_ONLY_TAG)
    elif walk.blocks == ["question"] and cell.cell_type == "markdown":
        walk.questions[-1].last_text = len(walk.cells)
    walk.cells.append(cell)


def _cases(question: Question) -> list[Case]:
    """The question's cases: its tests as otter scores them, and its manual item."""
    where = f"{question.where} ({question.name})"
    cases = question_cases(question.name, question.points, question.all_or_nothing, question.tests, where) \
        if question.tests else []
    if question.manual:
        cases.append(Case(question.name, question_value(True, question.points, [], where), question.name,
                          manual=True))
    return cases


def _show_points(cells: list, questions: list[Question]) -> None:
    """``show_question_points``: ``_Points:_ N`` under each question's last text cell, as otter."""
    for question in questions:
        if question.last_text is not None:
            value = question_value(question.manual, question.points, question.tests, question.where)
            shown = int(value) if value == int(value) else value
            cells[question.last_text].source += f"\n\n_Points:_ {shown}"


def _notes(questions: list[Question]) -> list[str]:
    """What the instructor should know about the questions: one otter grades nothing for, and
    tests that expect no output because the master holds none (it was not run)."""
    unrun = [f"{q.name} - {i}" for q in questions for i, t in enumerate(q.tests, 1) if t.unrun]
    return [f"question {q.name} has no tests and is not manual: otter grades nothing for it, nor does this lab"
            for q in questions if not q.tests and not q.manual] + \
        ([f"the master holds no output for test(s) {', '.join(unrun)}: they expect none, as under otter "
          "(execute the master before importing it)"] if unrun else [])
