"""What the tests ``grade import`` writes call, beside ``nb``: a doctest's output compared in the
grader, and a case that could not be converted run in the kernel as its own tool ran it.

See :mod:`grader.course.imports.convert` for which case becomes which.
"""

from __future__ import annotations

import doctest
import math
import sys

from grader.testing.plugin import SCORE

_CHECKER = doctest.OutputChecker()
# The kernel-side run of a doctest: doctest's own runner on the notebook's namespace, as otter
# runs it; its report is printed, and a failed example raises.
_IN_KERNEL = """\
import doctest as __grader_doctest__
__grader_runner__ = __grader_doctest__.DocTestRunner(verbose=False)
__grader_runner__.run(__grader_doctest__.DocTestParser().get_doctest({text!r}, globals(), "case", None, 0),
                      clear_globs=False)
if __grader_runner__.failures:
    del __grader_runner__
    raise AssertionError("the doctest's output did not match")
del __grader_runner__
"""


def output_matches(value: object, want: str) -> bool:
    """Whether a doctest expecting ``want`` would accept ``value``, a decoded plain value whose
    repr is made here, in the grader (as the interpreter prints it: nothing for None). A master
    run under numpy 1 recorded ``True`` where numpy 2 shows ``np.True_``: either reads."""
    return any(_CHECKER.check_output(want, got, 0) for got in _shown(value))


def _shown(value: object) -> list[str]:
    """How the interpreter shows ``value``: as now, and as numpy before 2.0 did."""
    if value is None:
        return [""]
    shown = [repr(value) + "\n"]
    numpy = sys.modules.get("numpy")
    if numpy is not None and not numpy.__version__.startswith("1."):
        with numpy.printoptions(legacy="1.25"):
            shown.append(repr(value) + "\n")
    return shown


def run_doctest(nb, text: str) -> None:
    """Run a doctest case in the kernel (a kernel-side test); NotebookError if it failed."""
    nb.run(_IN_KERNEL.format(text=text))


# nbgrader's scoring of a test cell (its compatibility switch, ``grade import nbgrader --nbgrader-scoring``):
# the cell runs as a cell, with stderr captured; its last expression's text/plain is kept, as nbgrader
# reads an execute_result. What comes back is plain data: (raised, wrote to stderr, text or None).
_NBGRADER_CELL = """\
def __grader_nbgrader_cell__(source):
    import ast, contextlib, io
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    err, value = io.StringIO(), None
    try:
        with contextlib.redirect_stderr(err):
            exec(compile(tree, "<test cell>", "exec"), globals())
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<test cell>", "eval"), globals())
    except Exception:
        return (True, bool(err.getvalue()), None)
    text = None if value is None else get_ipython().display_formatter.format(value)[0].get("text/plain")
    return (False, bool(err.getvalue()), text if isinstance(text, str) else None)
"""
TEXT_LIMIT = 200  # characters of the cell's value read as a number


def nbgrader_cell(nb, source: str, points: float, record_property) -> None:
    """Score a test cell as nbgrader does: an error, or anything written to stderr (a warning
    too), fails it; a last value whose text reads as a number earns that many points (at most
    ``points``; recorded as the test's ``score``); any other value, or none, earns them all."""
    nb.run(_NBGRADER_CELL)
    raised, stderr, text = nb.call("__grader_nbgrader_cell__", source)
    assert not raised, "the test cell raised an error"
    assert not stderr, "the test cell wrote to stderr (nbgrader's scoring gives it 0)"
    if isinstance(text, str) and len(text) <= TEXT_LIMIT:
        try:
            earned = float(text)
        except ValueError:
            return
        record_property(SCORE, min(max(earned, 0.0), points) if math.isfinite(earned) else 0.0)

