"""An imported test case, written as a pytest test that judges in the grader wherever it can.

nbgrader and otter run their tests in the student's kernel: a notebook that replaces
``np.isclose``, ``AssertionError`` or the test function itself passes them all. Here a case is
read as Python (nbgrader's test cells, otter's test cells) or as a doctest (otter's OK format),
and rewritten so that:

- every comparison (``==``, ``<``, ``in``, ``is``, ``not``, ``and``), and every call of a known
  pure function of the standard library or numpy (``len``, ``sorted``, ``np.isclose``,
  ``np.allclose``, ``np.testing.assert_allclose``, :data:`GRADER_FUNCTIONS`), runs in the
  grader's process, on values decoded by the codec, which builds plain values only;
- what is left, the student's answer (``square(3)``, ``df.shape``), is asked of the kernel as a
  whole with ``nb.ref``;
- assignments and imports of the case run in the kernel first, in order (``x = f(3)``, then
  ``assert x == 9`` reads ``x``), as they did there;
- a doctest's expected output is compared, in the grader, with the repr of the decoded value,
  by doctest's own checker.

A case is converted only when each of its statements is one of those, and it judges
something in the grader. Anything else (a loop, a function of the test's own, an assert whose
whole test is the student's expression, a doctest that prints) runs in the kernel as it did
under its own tool, and is marked ``kernel_side``: a submission could forge it, and the
results, the feedback and the report say so.
"""

from __future__ import annotations

import ast
import doctest
from dataclasses import dataclass

from grader.course.imports.model import DOCTEST, NBGRADER_CELL, PRINTED_DOCTEST, PYTHON

# Qualified names of the functions a converted test calls in the grader: pure, on plain values.
GRADER_FUNCTIONS = frozenset({
    *(f"builtins.{name}" for name in ("len", "abs", "round", "sorted", "sum", "min", "max", "set", "list", "tuple",
                                      "dict", "int", "float", "str", "bool", "all", "any", "frozenset")),
    *(f"numpy.{name}" for name in ("isclose", "allclose", "array_equal", "array_equiv", "asarray", "array", "abs",
                                   "round", "all", "any", "sum", "mean", "max", "min", "shape", "isnan", "isfinite",
                                   "sort", "unique", "ndarray", "float64", "int64")),
    *(f"numpy.testing.{name}" for name in ("assert_allclose", "assert_array_equal", "assert_equal",
                                           "assert_almost_equal", "assert_array_almost_equal")),
    *(f"math.{name}" for name in ("isclose", "sqrt", "isnan", "isinf", "fabs", "floor", "ceil")),
})
MODULES = {"numpy": "numpy", "math": "math", "numpy.testing": "numpy.testing"}  # what the test module imports
GRADER_METHODS = frozenset({"all", "any"})  # methods called on a value the grader computed (``(a == b).all()``)


@dataclass(frozen=True)
class Converted:
    """A case's test body: its lines (at the test function's indentation), and whether it
    judges in the grader (False: it runs in the kernel and is marked ``kernel_side``)."""

    lines: tuple[str, ...]
    in_grader: bool


def aliases(sources: list[str]) -> dict[str, str]:
    """Local names of the known modules and functions, from the imports in ``sources`` (the
    notebook's cells and the case): ``np`` -> ``numpy``, ``isclose`` -> ``math.isclose``.
    Builtins are names of their own."""
    names = {name.removeprefix("builtins."): name for name in GRADER_FUNCTIONS if name.startswith("builtins.")}
    for source in sources:
        for node in ast.walk(_parse(source) or ast.Module(body=[], type_ignores=[])):
            if isinstance(node, ast.Import):
                names.update({(a.asname or a.name): a.name for a in node.names if a.name in MODULES})
            elif isinstance(node, ast.ImportFrom) and node.module in MODULES and not node.level:
                names.update({(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names})
    return names


def convert(kind: str, text: str, names: dict[str, str], points: float) -> Converted:
    """A case's source of ``kind`` worth ``points``: converted, or run in the kernel (always, for a
    test cell scored as nbgrader scores it)."""
    if kind in (NBGRADER_CELL, PRINTED_DOCTEST):
        return in_kernel(kind, text, points)
    return doctest_case(text, names) if kind == DOCTEST else python_case(text, names)


def in_kernel(kind: str, text: str, points: float = 0.0) -> Converted:
    """A case's source run in the kernel as its own tool ran it (a kernel-side test)."""
    if kind == NBGRADER_CELL:
        return Converted((f"nbgrader_cell(nb, {text!r}, {points!r}, record_property)",), False)
    doctest_kinds = (DOCTEST, PRINTED_DOCTEST)
    return Converted((f"run_doctest(nb, {text!r})" if kind in doctest_kinds else f"nb.run({text!r})",), False)


def python_case(source: str, names: dict[str, str]) -> Converted:
    """A Python test case (a test cell's code): converted, or run in the kernel."""
    tree = _parse(source)
    if tree is not None:
        steps = [_statement(node, source, names) for node in tree.body]
        if steps and None not in steps and any(judges for _, judges in steps):
            return Converted(tuple(line for step, _ in steps for line in step), True)
    return in_kernel(PYTHON, source)


def doctest_case(text: str, names: dict[str, str]) -> Converted:
    """A doctest case (``>>> expr`` and the expected output): converted, or run in the kernel."""
    try:
        examples = doctest.DocTestParser().get_examples(text)
    except ValueError:
        examples = []
    steps = [_example(example, names) for example in examples]
    if steps and None not in steps and any(judges for _, judges in steps):
        return Converted(tuple(line for step, _ in steps for line in step), True)
    return in_kernel(DOCTEST, text)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _statement(node: ast.stmt, source: str, names: dict[str, str]) -> tuple[list[str], bool] | None:
    """One statement's lines and whether it judges in the grader; None if it cannot be converted."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return [f"nb.run({ast.get_source_segment(source, node)!r})"], False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # a docstring: says, does nothing
        return [], False
    if isinstance(node, ast.Assert):
        test = _expression(node.test, source, names)
        return ([f"assert {test}"], True) if _judges(test) else None
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _function(node.value.func, names):
        return [_expression(node.value, source, names)], True
    return None


def _example(example: doctest.Example, names: dict[str, str]) -> tuple[list[str], bool] | None:
    """One doctest example: a statement run in the kernel, or an expression judged by its output."""
    tree = _parse(example.source)
    if tree is None or len(tree.body) != 1:
        return None
    node = tree.body[0]
    if isinstance(node, ast.Expr) and _prints(node.value):
        return None  # what it prints is its output, and only the kernel sees that
    if isinstance(node, ast.Expr) and example.want:
        value = _expression(node.value, example.source, names)
        return [f"assert output_matches({value}, {example.want!r})"], True
    return None if example.want else _statement(node, example.source, names)


def _prints(node: ast.expr) -> bool:
    """A call of ``print`` or ``display`` anywhere in the expression."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("print", "display")
               for n in ast.walk(node))


def _judges(text: str) -> bool:
    """Whether a converted expression does anything in the grader (more than ask the kernel)."""
    return not (text.startswith("nb.ref(") and text.endswith(")") and text.count("nb.ref(") == 1)


def _expression(node: ast.expr, source: str, names: dict[str, str]) -> str:
    """``node`` as grader code: comparisons and known functions here, the rest asked of the kernel."""
    def sub(child: ast.expr) -> str:
        return _expression(child, source, names)

    if _literal(node):
        return ast.unparse(node)
    if isinstance(node, ast.Compare):
        parts = [sub(node.left)]
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts += [_OPERATORS[type(op)], sub(right)]
        return "(" + " ".join(parts) + ")"
    if isinstance(node, ast.BoolOp):
        return "(" + f" {'and' if isinstance(node.op, ast.And) else 'or'} ".join(map(sub, node.values)) + ")"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"(not {sub(node.operand)})"
    if isinstance(node, ast.Call) and not any(isinstance(a, ast.Starred) for a in node.args) and \
            all(k.arg is not None for k in node.keywords):
        called = _called(node.func, source, names)
        if called is not None:
            arguments = [*map(sub, node.args), *(f"{k.arg}={sub(k.value)}" for k in node.keywords)]
            return f"{called}({', '.join(arguments)})"
    return f"nb.ref({ast.get_source_segment(source, node)!r})"


def _called(func: ast.expr, source: str, names: dict[str, str]) -> str | None:
    """The grader's name for a known function, or a grader-side value's known method."""
    known = _function(func, names)
    if known is not None:
        return known
    if isinstance(func, ast.Attribute) and func.attr in GRADER_METHODS:
        receiver = _expression(func.value, source, names)
        if _judges(receiver) and not _literal(func.value):
            return f"{receiver}.{func.attr}"
    return None


def _function(func: ast.expr, names: dict[str, str]) -> str | None:
    """The qualified name of ``func`` if it is one of :data:`GRADER_FUNCTIONS`."""
    dotted = _dotted(func)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    if head not in names:
        return None
    qualified = names[head] + ("." + rest if rest else "")
    if qualified not in GRADER_FUNCTIONS:
        return None
    return qualified.removeprefix("builtins.")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


_OPERATORS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
              ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
