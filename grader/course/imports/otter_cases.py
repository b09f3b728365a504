"""otter-assign's test cells and question points, read as otter reads them (otter-grader 7).

Each code cell of a ``# BEGIN TESTS`` block is one case. Otter makes it a doctest: the cell's
code, re-printed by Python's own unparser, each line behind ``>>> `` (``... `` for a line
that continues a statement), followed by what the cell printed and returned when the master
was executed. A master run without outputs expects none, as under otter. A first line
``# HIDDEN`` (any comment holding the word) or a ``hidden`` key in the ``\"\"\" # BEGIN TEST
CONFIG`` block at the top hides the case; the block's ``points`` sets its worth. A master
whose config says ``tests: {ok_format: false}`` holds otter's exception-based tests instead:
each cell a function, called with the notebook's globals of its arguments' names (``env``:
all of them), failing by raising.

:func:`resolve_points` splits a question's points over its cases exactly as otter's
``TestFile.resolve_test_file_points`` does, so an imported question is worth what it was.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import yaml

from grader.course.imports.model import DOCTEST, PRINTED_DOCTEST, PYTHON, Case
from grader.errors import UsageError

CONFIG_LIMIT = 64 * 2**10  # characters of one YAML block (a question's, a test's, the assignment's)
BEGIN_TEST_CONFIG = re.compile(r'(?:.\s*=\s*)?""?"?\s*#\s*BEGIN\s*TEST\s*CONFIG', re.IGNORECASE)
END_TEST_CONFIG = re.compile(r'""?"?\s*#\s*END\s*TEST\s*CONFIG', re.IGNORECASE)
CONTINUES = re.compile(r"^except[\s\w]*:|^elif |^else:|^finally:")
Points = float | list[float | None] | dict[str, object] | None


@dataclass(frozen=True)
class TestCell:
    """One test cell as otter keeps it: its source (a doctest, or for otter's exception-based
    tests a function and its call), whether it is hidden, its own points."""

    source: tuple[str, str]  # (DOCTEST, PRINTED_DOCTEST or PYTHON, text)
    hidden: bool
    points: float | None
    unrun: bool  # it ends in an expression, yet the master holds no output for it: was the master run?


def load_yaml(text: str, where: str) -> object:
    """A YAML block, bounded before it is parsed; plain values only (YAML's safe loader)."""
    if len(text) > CONFIG_LIMIT:
        raise UsageError(f"{where}: a configuration longer than {CONFIG_LIMIT // 2**10} KiB")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: not YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise UsageError(f"{where}: a configuration nested too deeply") from None


def number(value: object, where: str, what: str) -> float | None:
    """``value`` as points: None, or a number >= 0 (a boolean is no number)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UsageError(f"{where}: {what} must be a number >= 0, not {value!r}")
    return float(value)


def read_test_cell(source: str, outputs: list, where: str, ok_format: bool = True) -> TestCell:
    """A test cell's case, as otter-assign's ``AssignmentTestsManager.read_test`` makes it:
    a doctest, or (``ok_format`` false) the cell's test function."""
    lines = re.split(r"\r?\n", source)
    hidden = lines[0].lstrip().startswith("#") and bool(re.search(r"\bhidden\b", lines[0], re.IGNORECASE))
    start, config = (1 if hidden else 0), {}
    if BEGIN_TEST_CONFIG.match(lines[0]):
        end = next((i for i, line in enumerate(lines) if END_TEST_CONFIG.match(line)), None)
        if end is None:
            raise UsageError(f"{where}: BEGIN TEST CONFIG is never closed (END TEST CONFIG)")
        config = load_yaml("\n".join(lines[1:end]), where) or {}
        if not isinstance(config, dict):
            raise UsageError(f"{where}: the test config is not a mapping of keys to values")
        start = end + 1
    hidden = config.get("hidden", hidden)
    if not isinstance(hidden, bool):
        raise UsageError(f"{where}: hidden must be true or false, not {hidden!r}")
    points = number(config.get("points"), where, "a test's points")
    tree = _parse("\n".join(lines[start:]), where)
    if not ok_format:
        return TestCell((PYTHON, _exception_test(tree, where)), hidden, points, False)
    shown = _output(outputs)
    text = "\n".join(_doctest_lines(ast.unparse(tree).split("\n")) + shown.split("\n"))
    printed = any(isinstance(o, dict) and o.get("output_type") == "stream" for o in outputs)
    return TestCell((PRINTED_DOCTEST if printed else DOCTEST, text), hidden, points,
                    not shown and isinstance(tree.body[-1], ast.Expr))


def _parse(code: str, where: str) -> ast.Module:
    """The test's code as otter reads it: parsed, type hints dropped."""
    try:
        tree = ast.parse(code)
        ast.unparse(tree)  # what otter writes must be writable: a cell nested too deeply is refused here
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise UsageError(f"{where}: the test cell is not valid Python ({type(exc).__name__}: {exc})") from None
    if not tree.body:
        raise UsageError(f"{where}: a test cell without code")
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
    return tree


def _exception_test(tree: ast.Module, where: str) -> str:
    """An exception-based test: the cell's function, called as otter calls it, each argument
    the notebook's global of that name (None if there is none), ``env`` all of them; it fails
    by raising."""
    function = tree.body[0]
    if len(tree.body) > 2 or not isinstance(function, ast.FunctionDef):
        raise UsageError(f"{where}: an exception-based test cell holds one function (and at most its call)")
    names = [a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]
    given = ", ".join(f"{n}=globals()" if n == "env" else f"{n}=globals().get({n!r})" for n in names)
    return f"{ast.unparse(function)}\n{function.name}({given})"


def _doctest_lines(code: list[str]) -> list[str]:
    """otter's ``str_to_doctest``: ``>>> `` opens a statement, ``... `` continues one."""
    out: list[str] = []
    for line in code:
        if not line:
            continue
        continued = line.startswith((" ", "\t")) or CONTINUES.match(line) or (out and out[-1].strip().endswith("\\"))
        out.append(("... " if continued else ">>> ") + line)
    return out


def _output(outputs: list) -> str:
    """What a test cell showed when the master ran: streams' text and each result's text/plain,
    in order (an error's traceback is no output, as for otter)."""
    shown = ""
    for output in outputs:
        text = output.get("text", "")
        shown += "".join(text) if isinstance(text, list) else str(text)
        plain = output.get("data", {}).get("text/plain")
        shown += (plain[0] if plain else "") if isinstance(plain, list) else (plain or "")
    return shown


def resolve_points(total: Points, own: list[float | None], where: str) -> list[float]:
    """Each case's points from the question's ``points`` and the cases' own, as otter splits
    them: a list gives each case its points; a total is what is left after the cases' own,
    split evenly over the cases without; no total and no points anywhere makes the question
    worth 1, split evenly; otherwise a case without points is worth 0."""
    if isinstance(total, dict):
        total = number(total.get("each", 1), where, "points' each") * len(own)
    if isinstance(total, list):
        if len(total) != len(own):
            raise UsageError(f"{where}: points lists {len(total)} values for {len(own)} test case(s)")
        own, total = [number(p, where, "each of points") for p in total], None
    else:
        total = number(total, where, "points")
    given = sum(p for p in own if p is not None)
    missing = sum(p is None for p in own)
    if total is not None:
        if given > total:
            raise UsageError(f"{where}: the test cases' points ({given:g}) exceed the question's ({total:g})")
        each = (total - given) / missing if missing else 0.0
    else:
        each = 1 / missing if missing and given == 0 else 0.0
    return [each if p is None else p for p in own]


def question_cases(name: str, total: Points, all_or_nothing: bool, tests: list[TestCell],
                   where: str) -> list[Case]:
    """A question's cases, named as otter's results name them (``q1 - 1``...); an
    all-or-nothing question is one case of all its doctests, worth their sum, hidden if any is."""
    points = resolve_points(total, [test.points for test in tests], where)
    if all_or_nothing:
        return [Case(name, sum(points), name, any(t.hidden for t in tests),
                     tuple(t.source for t in tests))]
    return [Case(f"{name} - {i}", p, name, t.hidden, (t.source,))
            for i, (t, p) in enumerate(zip(tests, points, strict=True), 1)]


def question_value(manual: bool, total: Points, tests: list[TestCell], where: str) -> float:
    """What otter shows as a question's points (``_Points:_`` under it, with ``show_question_points``)."""
    if manual:
        return number(total, where, "a manual question's points") or 0.0
    if not tests:
        return 0.0 if isinstance(total, dict) else 1.0 if total is None else number(total, where, "points") or 0.0
    return round(sum(resolve_points(total, [t.points for t in tests], where)), 5)
