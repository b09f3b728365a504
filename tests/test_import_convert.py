"""How imported test cases are converted (grader.course.imports.convert), over families of cases:
what judges in the grader, what stays in the kernel, and how a doctest's output is compared."""

from __future__ import annotations

import numpy as np
import pytest

from grader.course.imports.convert import aliases, convert, doctest_case, python_case
from grader.course.imports.model import DOCTEST, NBGRADER_CELL, PRINTED_DOCTEST, PYTHON
from grader.testing.imported import output_matches

NAMES = aliases(["import numpy as np\nimport math\nfrom numpy.testing import assert_allclose as close"])

IN_GRADER = [
    "assert f(3) == 9",
    '"""a docstring first"""\nassert f(3) == 9',
    "assert np.isclose(f(0.5), 0.25)",
    "assert np.allclose(g(), [1.0, 2.0], atol=1e-3)",
    "close(g(), [1.0, 2.0])",
    "np.testing.assert_array_equal(g(), [1, 2])",
    "x = f(3)\nassert x == 9",
    "assert len(xs) == 3 and sorted(xs) == [1, 2, 3]",
    "assert math.isclose(h(), 1.0, rel_tol=1e-6)",
    "assert not done() or f(1) != 2",
    "assert (np.array(g()) == [1, 2]).all()",
    "assert result is None",
    "assert 'a' in words()",
    "import numpy as np\nassert f(2) >= 4",
]
IN_KERNEL = [
    "assert ok(x)",  # the whole test is the student's expression
    "for i in range(3):\n    assert f(i) == i * i",
    "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError",
    "check(f)",  # a helper of the test's own
    "print(f(3))",
    "def helper():\n    return f(1)\nassert helper() == 1",
    "assert f(3) == 9\nwhile False:\n    pass",
    "this is not python",
]


@pytest.mark.parametrize("source", IN_GRADER)
def test_comparisons_run_in_the_grader(source):
    converted = python_case(source, NAMES)
    assert converted.in_grader, converted
    assert all("nb.ref(" in line or line.startswith(("nb.run(", "numpy.")) for line in converted.lines)
    compile("\n".join(converted.lines), "test", "exec")


@pytest.mark.parametrize("source", IN_KERNEL)
def test_what_cannot_be_converted_runs_in_the_kernel(source):
    assert python_case(source, NAMES).lines == (f"nb.run({source!r})",)


@pytest.mark.parametrize(("text", "in_grader"), [
    (">>> f(3)\n9\n", True),
    (">>> x = f(3)\n>>> x\n9\n", True),
    (">>> np.isclose(f(0.5), 0.25)\nTrue\n", True),
    (">>> print(f(3))\n9\n", False),  # printed output: only the kernel sees it
    (">>> f(3)\n", False),  # an expression expected to show nothing judges nothing here
    (">>> for i in range(2):\n...     f(i)\n0\n1\n", False),
])
def test_doctests(text, in_grader):
    assert doctest_case(text, NAMES).in_grader is in_grader


@pytest.mark.parametrize("kind", [PRINTED_DOCTEST, NBGRADER_CELL])
def test_some_kinds_always_run_in_the_kernel(kind):
    assert not convert(kind, ">>> f(3)\n9\n", NAMES, 1.0).in_grader


@pytest.mark.parametrize(("value", "want", "matches"), [
    (9, "9\n", True), (9.0, "9\n", False), ("a", "'a'\n", True), (None, "", True), ([1, 2], "[1, 2]\n", True),
    (np.True_, "True\n", True), (np.True_, "np.True_\n", True), (np.float64(0.5), "0.5\n", True),
    (np.array([1, 2]), "array([1, 2])\n", True),
    (True, "1\n", True),  # doctest's own rule: True is accepted for 1 (DONT_ACCEPT_TRUE_FOR_1 is not set)
    ({"a": 1}, "{'a': 1}\n", True),
])
def test_a_doctests_output_is_compared_here(value, want, matches):
    assert output_matches(value, want) is matches


def test_python_and_doctest_kinds_convert(monkeypatch):
    assert convert(PYTHON, "assert f(1) == 1", NAMES, 1.0).in_grader
    assert convert(DOCTEST, ">>> f(1)\n1\n", NAMES, 1.0).in_grader
