"""What a student reads when a test fails: the exercise, what was expected and what came back, in a
few lines; no pytest introspection, no object addresses, no "use -v"; the student's error named; a
NameError caused by an unfinished exercise says which one to finish; no hidden test's source, ever.

Families of values, operators, errors and notebooks, graded on the fake kernel (tests/fakes.py).
"""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import notebook, write_notebook
from fakes import fake_grade
from test_runner_fast import LAB_ID, by_name, grade_cells, make_course

from grader.course.discover import Submission
from grader.runner import Job
from grader.testing.messages import VALUE_CHARS, binds, notebook_error, short
from grader.testing.notebook import NotebookError

# name -> (what the student's f() returns, the comparison, what the test expects, what the message shows of
# each). Arrays and frames compare elementwise, so their family compares with ``is``: what is tested here is
# how each value is shown.
VALUES = {
    "ints": ("6", "==", "9", ("9", "6")),
    "floats": ("0.1 + 0.2", "==", "0.3", ("0.3", "0.30000000000000004")),
    "none": ("None", "==", "4", ("4", "None")),
    "str-or-int": ("'1'", "==", "1", ("1", "'1'")),
    "long-string": ("'x' * 100_000", "==", "'y'", ("'y'", "'xxxxx")),
    "long-strings-alike": ("'x' * 500 + 'a' + 'x' * 500", "==", "'x' * 500 + 'b' + 'x' * 500", ("'xxxx", "'xxxx")),
    "long-list": ("list(range(100_000))", "==", "[1, 2]", ("[1, 2]", "[0, 1, 2, 3")),
    "nested": ("{'a': [{'b': list(range(50))}] * 20}", "==", "{'a': []}", ("{'a': []}", "{'a': [{'b': [")),
    "tuple-or-list": ("(1, 2)", "==", "[1, 2]", ("[1, 2]", "(1, 2)")),
    "set": ("set(range(30))", "==", "{1}", ("{1}", "{0, 1, 2")),
    "array": ("np.arange(100_000)", "is", "np.zeros(3)",
              ("array of shape (3,), float64", "array of shape (100000,), int64")),
    "array-2d": ("np.ones((400, 300))", "is", "np.ones((2, 2))", ("shape (2, 2)", "shape (400, 300)")),
    "frame": ("pd.DataFrame({'a': range(1000), 'b': 0})", "is", "pd.DataFrame({'a': [1]})",
              ("DataFrame of 1 rows, columns ['a']", "DataFrame of 1000 rows, columns ['a', 'b']")),
    "series": ("pd.Series(range(500))", "is", "pd.Series([1.5])",
               ("Series of 1 float64: [1.5]", "Series of 500 int64: [0, 1")),
}
HEADER = "import numpy as np\nimport pandas as pd\n"


def failing(tmp_path, cells, test: str, *, hidden: bool = False, toml: str = "", tags=None, name="test_q1_x"):
    """The output of test ``name`` (in the public tests, or the hidden ones) on a notebook of ``cells``."""
    module = HEADER + "import pytest\n\n" + test
    course = make_course(tmp_path / "course", **({"hidden": module, "public": "\n"} if hidden else
                                                 {"public": module, "hidden": "\n"}), toml=toml)
    test = by_name(grade_cells(tmp_path, [HEADER, *cells], tags=tags or {}, course=course))[name]
    assert test.status == "failed"
    return test.output


def assert_readable(output: str) -> None:
    """Nothing of pytest's introspection, no address, a few lines."""
    for noise in (" at 0x", "use -v", "Use -v", "assert ", "where ", "+  ", "@py_", "Full diff"):
        assert noise not in output, (noise, output)
    assert len(output) <= 1000 and output.count("\n") <= 3


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_a_failed_comparison_says_what_was_expected_and_what_came_back(tmp_path, kind):
    got, op, want, shown = VALUES[kind]
    output = failing(tmp_path, [f"def f():\n    return {got}"],
                     f'def test_q1_x(nb):\n    assert nb.call("f") {op} {want}\n')
    assert output.startswith("q1: expected ") and ", got " in output
    expected, came_back = output.removeprefix("q1: expected ").split(", got ", 1)
    assert shown[0] in expected and shown[1] in came_back, output
    assert_readable(output)


@pytest.mark.parametrize(("assertion", "said"), [
    ('nb.call("f") < 3', "q1: expected a value < 3, got 6"),
    ('nb.call("f") >= 10', "q1: expected a value >= 10, got 6"),
    ('nb.call("f") != 6', "q1: expected something other than 6"),
    ('nb.call("f") in [1, 2]', "q1: expected 6 in [1, 2]"),
    ('7 not in [nb.call("f"), 7]', "q1: expected 7 not in [6, 7]"),
    ('type(nb.call("f")) is float', "q1: expected float, got int"),
    ('nb.call("f") == 3, "f() is the mean of [1, 2, 6]"', "q1: f() is the mean of [1, 2, 6]: expected 3, got 6"),
    ('nb.call("f") == Thing()', "q1: expected <"),
])
def test_each_operator_is_worded_plainly(tmp_path, assertion, said):
    test = f'class Thing:\n    pass\n\n\ndef test_q1_x(nb):\n    assert {assertion}\n'
    output = failing(tmp_path, ["def f():\n    return 6"], test)
    assert output.startswith(said), output
    assert_readable(output)


def test_values_that_look_alike_when_cut_say_where_they_differ(tmp_path):
    output = failing(tmp_path, ["def f():\n    return 'x' * 500 + 'a' + 'x' * 500"],
                     "def test_q1_x(nb):\n    assert nb.call('f') == 'x' * 500 + 'b' + 'x' * 500\n")
    assert output.endswith("(differing first at index 500: 'a')")
    output = failing(tmp_path / "lengths", ["def f():\n    return [0] * 1000"],
                     "def test_q1_x(nb):\n    assert nb.call('f') == [0] * 1001\n")
    assert output.endswith("(of length 1000, not 1001)")


def test_a_check_without_a_comparison_shows_a_public_tests_statement_only(tmp_path):
    test = 'def test_q1_x(nb):\n    assert all(v > 5 for v in nb.call("f"))  # SECRET-MARK\n'
    public = failing(tmp_path / "public", ["def f():\n    return [1, 9]"], test)
    assert public == 'q1: this check failed: assert all(v > 5 for v in nb.call("f")) # SECRET-MARK'
    hidden = failing(tmp_path / "hidden", ["def f():\n    return [1, 9]"], test, hidden=True,
                     toml="show_hidden_output = true\n")
    assert hidden == "q1: a check failed"


HIDDEN_FAILURES = {
    "compared": 'assert nb.call("f") == 9  # SECRET-MARK',
    "no-comparison": 'assert not nb.call("f")  # SECRET-MARK',
    "raises": 'assert nb.call("g") == 1  # SECRET-MARK',
    "test-meets-wrong-type": 'assert nb.call("f")[0] == 1  # SECRET-MARK',
    "unpacked": 'a, b = nb.call("f")  # SECRET-MARK',
}


@pytest.mark.parametrize("shown", [False, True])
@pytest.mark.parametrize("kind", sorted(HIDDEN_FAILURES))
def test_no_output_a_student_sees_holds_a_hidden_tests_source(tmp_path, kind, shown):
    test = f"def test_q1_x(nb):\n    {HIDDEN_FAILURES[kind]}\n"
    output = failing(tmp_path, ["def f():\n    return 6", "def g():\n    return 1 / 0"], test, hidden=True,
                     toml=f"show_hidden_output = {'true' if shown else 'false'}\n")
    assert "SECRET" not in output and 'nb.call("' not in output
    assert output.startswith("q1: ") if shown else output == "failed (hidden test)"


@pytest.mark.parametrize(("cell", "said"), [
    ("def f():\n    return 1 / 0", "q1: your code raised ZeroDivisionError: division by zero"),
    ("def f():\n    raise ValueError('bad input at 0x7f00aa')", "q1: your code raised ValueError: bad input"),
    ("def f():\n    raise NotImplementedError()", "q1: not finished yet: your code raised NotImplementedError"),
    ("def f(x):\n    return x", "q1: your code raised TypeError: f() missing 1 required positional argument: 'x'"),
])
def test_an_error_of_the_students_code_is_named(tmp_path, cell, said):
    output = failing(tmp_path, [cell], 'def test_q1_x(nb):\n    assert nb.call("f") == 1\n')
    assert output == said or output.startswith(said), output
    assert_readable(output)


LOAD = "def load():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
NOTEBOOKS = {  # name -> (cells, tags by index, what the q2 test's message says)
    "tags": ([LOAD, "X = load()", "def double():\n    return X * 2"], {1: ["q1"], 3: ["q2"]},
             "q2: finish q1 first: `X` is not defined (cell 3 stopped with NotImplementedError)"),
    "headings": (["## q1. Load", LOAD, "X, y = load(), 1", "## q2. Double", "def double():\n    return X * 2"], {},
                 "q2: finish q1 first: `X` is not defined (cell 4 stopped with NotImplementedError)"),
    "import-binding": (["import no_such_module_anywhere as X", "def double():\n    return X * 2"],
                       {1: ["q1-data"], 2: ["q2"]},
                       "q2: finish q1 first: `X` is not defined (cell 2 stopped with ModuleNotFoundError)"),
    "nowhere": (["def double():\n    return X * 2"], {1: ["q2"]},
                "q2: `X` is not defined (NameError): no cell of your notebook defines it"),
    "own-exercise": ([LOAD, "X = load()", "def double():\n    return X * 2"], {1: ["q2"]},
                     "q2: `X` is not defined: cell 3 stopped with NotImplementedError"),
}


@pytest.mark.parametrize("kind", sorted(NOTEBOOKS))
def test_a_name_an_unfinished_exercise_should_define_says_which_to_finish(tmp_path, kind):
    cells, tags, said = NOTEBOOKS[kind]
    nb = notebook(HEADER, *cells, lab=LAB_ID, tags=tags)
    nb.cells = [nbformat.v4.new_markdown_cell(c.source) if c.source.startswith("## ") else c for c in nb.cells]
    test = 'def test_q2_double(nb):\n    assert nb.call("double") == 2\n'
    course = make_course(tmp_path / "course", public=HEADER + test, hidden="\n")
    result = fake_grade(Job(Submission("ada", write_notebook(tmp_path / "s.ipynb", nb), lab=LAB_ID), course, "none"))
    assert by_name(result)["test_q2_double"].output == said


@pytest.mark.parametrize("value", [
    np.arange(10**6), np.ones((50, 50, 50)), pd.DataFrame({f"c{i}": range(100) for i in range(50)}),
    pd.Series(["text " * 100] * 100), "z" * 10**6, list(range(10**5)), {i: str(i) * 50 for i in range(1000)},
    [[[[[[1]]]]]] * 50, object(), type("Loud", (), {"__repr__": lambda self: 1 / 0})(),
])
def test_a_value_is_shown_short_and_without_an_address(value):
    text = short(value)
    assert 0 < len(text) <= VALUE_CHARS and " at 0x" not in text and "\n" not in text


def test_a_name_error_in_the_students_cell_keeps_its_place_unless_an_exercise_is_unfinished():
    executed = notebook("def square(x):\n    return y", "X = load()", lab=None, tags={1: ["q1"]})
    raised = NotebookError("NameError", "name 'y' is not defined", "cell 1, line 2")
    assert notebook_error(raised, "q2", executed) == \
        "your code raised NameError: name 'y' is not defined (cell 1, line 2)"
    executed.cells[1].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'load'...")]
    raised = NotebookError("NameError", "name 'X' is not defined", "cell 1, line 2")
    assert notebook_error(raised, "q2", executed) == \
        "finish q1 first: `X` is not defined (cell 2 stopped with NameError)"


@pytest.mark.parametrize(("source", "names"), [
    ("a = b = 1", {"a", "b"}), ("x, (y, *z) = f()", {"x", "y", "z"}), ("for i in r:\n    t += i", {"i", "t"}),
    ("import numpy as np, os.path", {"np", "os"}), ("from m import a as b", {"b"}),
    ("def f():\n    inner = 1", {"f"}), ("class C:\n    attr = 1", {"C"}), ("[k for k in r]", set()),
    ("with open(p) as fh:\n    pass", {"fh"}), ("if (n := 3):\n    pass", {"n"}),
    ("%matplotlib inline\nq = 1", {"q"}), ("%%writefile app.py\nq = 1", set()), ("def (:", set()),
    ("x = 1\n" * 60_000, set()),  # too long to parse here
])
def test_what_a_cell_binds(source, names):
    assert binds({"source": source}) == names


def test_a_name_check_cannot_find_in_the_students_kernel_says_to_run_its_cells():
    raised = NotebookError("NameError", "name 'X_train' is not defined")
    said = notebook_error(raised, "q2", None)
    assert said == "`X_train` is not defined: run the cells that define it first (NameError)"
