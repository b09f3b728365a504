"""What a student reads when a test fails: the exercise, what was expected, what came back.

pytest's own failure text is written for the tests' author: the assertion's source,
an introspection of each sub-expression, object addresses, hints such as "use -v".
A student needs three things: the exercise, what the test expected and what their
code gave. The plugin records the values of the comparison that failed (pytest's
``pytest_assertrepr_compare`` hook) and this module words them: ``q1: expected 9,
got 6``, in the convention ``assert got == expected``. Values are shown by a short
repr: long ones cut, arrays and frames summarised, addresses dropped.

An exception raised by the student's code (NotebookError) is named with its message
and the student's cell and line. A NameError of a name that a cell of the notebook
binds, but that cell stopped with an error, names the exercise that cell belongs to:
"finish q1 first: `X_train` is not defined (cell 5 stopped with NotImplementedError)".
The grader holds only the student's notebook, so that is the honest rule: the cell
that should have defined the name is found in the notebook itself, not guessed from
the solution.
"""

from __future__ import annotations

import ast
import re
import reprlib
from dataclasses import dataclass

import pytest

from grader.engine.kernel import KernelError, KernelTimeout
from grader.testing.codec import CodecError
from grader.testing.exercises import cell_exercise, same
from grader.testing.notebook import NotebookError

VALUE_CHARS = 160  # of one value shown
MESSAGE_CHARS = 1000  # of a whole message
SOURCE_CHARS = 100_000  # a cell longer than this is not parsed to find what it defines
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_UNDEFINED = re.compile(r"name '(\w+)' is not defined")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 8
_REPR.maxdict, _REPR.maxlevel, _REPR.maxlong = 6, 3, 40


@dataclass(frozen=True)
class Compared:
    """The comparison of a failed ``assert``: ``left op right``."""

    op: str
    left: object
    right: object


def short(value: object) -> str:
    """A short, safe repr of ``value``: cut, summarised, without addresses."""
    try:
        text = _short(value)
    except Exception:  # a test's own object whose repr fails: its type is still worth showing
        text = f"a {type(value).__name__}"
    text = _ADDRESS.sub("", text)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _short(value: object) -> str:
    if isinstance(value, type):
        return value.__name__
    package = type(value).__module__.split(".")[0]
    if package == "numpy" and hasattr(value, "ndim"):
        return _array(value) if value.ndim else repr(value.item())
    if package == "pandas" and type(value).__name__ == "DataFrame":
        return f"DataFrame of {len(value)} rows, columns {short(list(value.columns))}"
    if package == "pandas" and type(value).__name__ == "Series":
        return f"Series of {len(value)} {value.dtype}: {short(value.head(8).tolist())}"
    return _REPR.repr(value)


def _array(value) -> str:
    import numpy as np

    body = np.array2string(value, threshold=8, edgeitems=3, precision=6, separator=", ", max_line_width=10**6)
    return f"array of shape {value.shape}, {value.dtype}: {' '.join(body.split())}"


def compared(c: Compared) -> str:
    """``expected 9, got 6`` for ``assert got == expected``, and the like for other operators."""
    got, want = short(c.left), short(c.right)
    if got == want and type(c.left) is not type(c.right):
        got, want = f"{got} ({type(c.left).__name__})", f"{want} ({type(c.right).__name__})"
    elif got == want:
        got += _difference(c.left, c.right)
    if c.op in ("==", "is"):
        return f"expected {want}, got {got}"
    if c.op in ("!=", "is not"):
        return f"expected something other than {want}"
    if c.op in ("in", "not in"):
        return f"expected {got} {c.op} {want}"
    return f"expected a value {c.op} {want}, got {got}"


def _difference(left: object, right: object) -> str:
    """Where two values that look alike when cut differ: their lengths, or their first differing item."""
    if not (isinstance(left, (str, list, tuple)) and type(left) is type(right)):
        return ""
    if len(left) != len(right):
        return f" (of length {len(left)}, not {len(right)})"
    index = next((i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b), None)
    return "" if index is None else f" (differing first at index {index}: {short(left[index])})"


def failure(exc: BaseException, exercise: str, *, comparison: Compared | None = None, statement: str = "",
            executed=None) -> str:
    """The message of a test failed by ``exc``, prefixed with its exercise. ``comparison``: the failed
    assert's values; ``statement``: its source, given only where students may read it (a public test);
    ``executed``: the executed notebook, to tell which exercise to finish first."""
    if isinstance(exc, AssertionError):
        text = _assertion(exc, comparison, statement)
    elif isinstance(exc, NotebookError):
        text = notebook_error(exc, exercise, executed)
    elif isinstance(exc, CodecError):
        text = f"your code gave a value the grader cannot check: {exc}"
    elif isinstance(exc, KernelTimeout):
        text = f"your code took too long: {exc}"
    elif isinstance(exc, KernelError):
        text = f"the notebook's kernel stopped: {exc}"
    elif isinstance(exc, pytest.fail.Exception):
        text = str(exc.msg)
    else:  # the test's own code met what the student's code gave (a value of another type, say)
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        text = f"the test could not use what your code gave: {what}"
    text = _ADDRESS.sub("", text.strip())
    text = f"{exercise}: {text}" if exercise else text
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _assertion(exc: AssertionError, comparison: Compared | None, statement: str) -> str:
    """The assert's own message if it has one, the compared values if known; else which check failed.
    (pytest's rewritten assert puts the message first and its introspection after ``assert ...``.)"""
    text = str(exc)
    own = "" if text.startswith("assert ") else text.split("\nassert ")[0].strip()
    parts = [part for part in (own, compared(comparison) if comparison else "") if part]
    if parts:
        return ": ".join(parts)
    return f"this check failed: {statement}" if statement else "a check failed"


def notebook_error(exc: NotebookError, exercise: str, executed=None) -> str:
    """What the student's code raised, and where; for an undefined name, which exercise to finish."""
    name = _UNDEFINED.fullmatch(exc.evalue) if exc.ename == "NameError" else None
    if name and executed is not None and (hint := unfinished(name.group(1), exercise, executed, bool(exc.where))):
        return hint
    if name and executed is None and not exc.where:  # check() in the student's own kernel: cells run by hand
        return f"`{name.group(1)}` is not defined: run the cells that define it first (NameError)"
    what = f"{exc.ename}: {exc.evalue}" if exc.evalue else exc.ename
    lead = "not finished yet: your code raised" if exc.ename == "NotImplementedError" else "your code raised"
    return f"{lead} {what}" + (f" ({exc.where})" if exc.where else "")


def unfinished(name: str, exercise: str, executed, raised_in_cell: bool = False) -> str | None:
    """Why ``name`` is not defined, from the notebook: the first cell binding it stopped with an error
    (then the exercise of that cell is to be finished first), or no cell binds it at all (said only
    when the name was not looked up in a cell of the student's: there, their cell and line say more)."""
    cells = executed.cells
    binding = [i for i, cell in enumerate(cells) if cell.get("cell_type") == "code"
               and name in str(cell.get("source", "")) and name in binds(cell)]
    if not binding:
        return None if raised_in_cell else f"`{name}` is not defined (NameError): no cell of your notebook defines it"
    stopped = next((i for i in binding if _error_name(cells[i])), None)
    if stopped is None:
        return None
    why = f"cell {stopped + 1} stopped with {_error_name(cells[stopped])}"
    owner = cell_exercise(cells, stopped)
    if owner and not same(owner, exercise):
        return f"finish {owner} first: `{name}` is not defined ({why})"
    return f"`{name}` is not defined: {why}"


def binds(cell) -> set[str]:
    """The names a code cell binds at its top level (assignments, defs, classes, imports, loops),
    not inside its functions. IPython's magic and shell lines are skipped; a cell that does not
    parse, or is too long to parse here, binds nothing."""
    source = str(cell.get("source", ""))
    if len(source) > SOURCE_CHARS or source.lstrip().startswith("%%"):
        return set()
    lines = [re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    found: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _error_name(cell) -> str | None:
    return next((str(out.get("ename", "an error")) for out in cell.get("outputs", [])
                 if out.get("output_type") == "error"), None)
