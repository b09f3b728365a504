"""The solution is graded before the students: a lab that does not give its own solution full
marks is refused, naming each failing test and why; a pass is remembered per fingerprint.

The families below break a lab in the ways instructors do (a typo in a hidden test, a wrong
expected value, a broken fixture, a test module that does not load, a solution that raises or
never ends) and check that each is caught by ``grade assign`` and by ``grade`` before any
student is graded. The fast layer runs on the fake kernel (tests/fakes.py); a few cases go
through the real command in the sandbox.
"""

from __future__ import annotations

import csv

import pytest
from conftest import LAB, copy_course, run_grade
from fakes import InlineExecutor

from grader.batch.solution import SOLUTION_STUDENT, check_solutions, judge, require_full_marks
from grader.course.layout import Course
from grader.engine.sandbox import get_backend
from grader.errors import SolutionFails
from grader.results.model import Result, Status, TestResult, TestStatus

# (file name, text appended to the hidden tests folder, the test the failure must name)
BROKEN_TESTS = {
    "name-error": ("test_extra.py", "def test_q9_typo(nb):\n    assert nb.call('square', 2) == fourr\n",
                   "test_q9_typo"),
    "wrong-expected": ("test_extra.py", "def test_q9_wrong(nb):\n    assert nb.call('square', 3) == 10\n",
                       "test_q9_wrong"),
    "missing-function": ("test_extra.py", "def test_q9_absent(nb):\n    assert nb.call('cube', 2) == 8\n",
                         "test_q9_absent"),
    "broken-fixture": ("test_extra.py",
                       "import pytest\n\n@pytest.fixture\ndef data():\n    return 1 / 0\n\n"
                       "def test_q9_fixture(nb, data):\n    assert data\n", "test_q9_fixture"),
    "bad-attribute": ("test_extra.py", "import math\n\ndef test_q9_attr(nb):\n    assert math.tau2 > 6\n",
                      "test_q9_attr"),
}
UNLOADABLE_TESTS = {
    "syntax-error": "def test_q9_oops(nb)\n    assert True\n",
    "import-error": "import no_such_module_here\n\ndef test_q9_x(nb):\n    assert True\n",
}


@pytest.fixture
def course(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GRADER_SANDBOX", "1")  # check() cells do nothing, as in the sandbox (the fake runs here)
    return Course.find(copy_course(tmp_path / "course"))


def _check(course: Course):
    return check_solutions(course, [LAB], get_backend("none"), executor_factory=InlineExecutor)[LAB]


def test_the_example_solution_gets_full_marks_and_the_pass_is_remembered(course):
    first = _check(course)
    assert first.passed and first.score == first.max_score > 0 and not first.cached
    again = _check(course)
    assert again.passed and again.cached and again.max_score == first.max_score


@pytest.mark.parametrize("kind", sorted(BROKEN_TESTS))
def test_a_lab_whose_tests_fail_its_solution_is_refused_naming_the_test(course, kind):
    name, text, test = BROKEN_TESTS[kind]
    (course.lab(LAB).hidden_tests / name).write_text(text)
    check = _check(course)
    assert not check.passed
    assert any(test.removeprefix("test_") in problem or test in problem for problem in check.problems), check
    with pytest.raises(SolutionFails, match="skip-solution-check"):
        require_full_marks({LAB: check})


@pytest.mark.parametrize("kind", sorted(UNLOADABLE_TESTS))
def test_a_test_module_that_does_not_load_is_refused_naming_it(course, kind):
    (course.lab(LAB).hidden_tests / "test_extra.py").write_text(UNLOADABLE_TESTS[kind])
    check = _check(course)
    assert not check.passed and "test_extra.py" in "\n".join(check.problems)


@pytest.mark.parametrize("cell", [
    "def square(x):\n    return x + x",  # a wrong answer in the solution itself
    "raise RuntimeError('the solution breaks')",  # a cell that raises: later answers are never defined
])
def test_a_wrong_solution_is_refused(course, cell):
    import nbformat

    path = course.lab(LAB).solution
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(cell))
    nbformat.write(nb, path)
    assert not _check(course).passed


def test_a_change_to_the_hidden_tests_is_checked_again(course):
    assert _check(course).passed
    hidden = course.lab(LAB).hidden_tests / "test_extra.py"
    hidden.write_text("def test_q9_new(nb):\n    assert nb.call('square', 3) == 10\n")
    assert not _check(course).passed
    hidden.write_text("def test_q9_new(nb):\n    assert nb.call('square', 3) == 9\n")
    fixed = _check(course)
    assert fixed.passed and not fixed.cached


def test_a_failure_is_never_remembered(course):
    hidden = course.lab(LAB).hidden_tests / "test_extra.py"
    hidden.write_text("def test_q9_new(nb):\n    assert nb.call('square', 3) == 10\n")
    assert not _check(course).passed
    assert not _check(course).passed


def test_a_lab_without_a_solution_notebook_has_no_check(course):
    course.lab(LAB).solution.unlink()
    assert _check(course) is None
    require_full_marks({LAB: None})  # nothing to refuse


@pytest.mark.parametrize("status", [Status.TIMEOUT, Status.MEMORY, Status.CRASHED, Status.INVALID])
def test_a_solution_that_is_not_graded_is_never_full_marks(status):
    result = Result(SOLUTION_STUDENT, LAB, status, [TestResult("t", 0, 1, TestStatus.FAILED)], message="why")
    check = judge(result)
    assert not check.passed and str(status) in check.problems[0]


def test_tests_not_run_here_do_not_fail_the_solution_but_no_test_at_all_does():
    ran = Result(SOLUTION_STUDENT, LAB, Status.GRADED, [TestResult("a", 1, 1, TestStatus.PASSED),
                                                        TestResult("b", 0, 0, TestStatus.NOT_RUN)])
    assert judge(ran).passed
    nothing = Result(SOLUTION_STUDENT, LAB, Status.GRADED, [TestResult("b", 0, 0, TestStatus.NOT_RUN)])
    assert not judge(nothing).passed


# --- the commands, in the sandbox ------------------------------------------------------------


def test_grade_assign_and_grade_refuse_a_lab_whose_hidden_test_has_a_typo(tmp_path):
    root = copy_course(tmp_path / "course")
    (root / "solutions" / LAB / "tests" / "test_extra.py").write_text(BROKEN_TESTS["name-error"][1])
    env = {"GRADER_CACHE_DIR": str(tmp_path / "cache")}
    assign = run_grade("assign", f"solutions/{LAB}", cwd=root, env=env)
    assert assign.returncode == 2, assign.stderr
    assert "q9_typo" in assign.stderr and "NameError" in assign.stderr and "Traceback" not in assign.stderr
    subs = root / "submissions"
    subs.mkdir()
    (subs / "alice.ipynb").write_bytes((root / "labs" / LAB / "lab.ipynb").read_bytes())
    graded = run_grade(str(subs), "--out", str(tmp_path / "grades"), cwd=root, env=env)
    assert graded.returncode == 2 and "q9_typo" in graded.stderr
    assert not (tmp_path / "grades" / "gradebook.csv").exists()  # no student was graded against it
    forced = run_grade(str(subs), "--out", str(tmp_path / "grades"), "--skip-solution-check", cwd=root, env=env)
    assert forced.returncode == 0, forced.stderr
    with open(tmp_path / "grades" / "gradebook.csv") as f:
        assert [row["student"] for row in csv.DictReader(f)] == ["alice"]


def test_grade_assign_reports_full_marks_and_grade_recalls_it(tmp_path):
    root = copy_course(tmp_path / "course")
    env = {"GRADER_CACHE_DIR": str(tmp_path / "cache")}
    assign = run_grade("assign", f"solutions/{LAB}", cwd=root, env=env)
    assert assign.returncode == 0, assign.stderr
    assert f"{LAB}: the solution gets full marks" in assign.stdout
    subs = root / "submissions"
    subs.mkdir()
    (subs / "bob.ipynb").write_bytes((root / "labs" / LAB / "lab.ipynb").read_bytes())
    graded = run_grade(str(subs), "--out", str(tmp_path / "grades"), cwd=root, env=env)
    assert graded.returncode == 0, graded.stderr
    assert "checked before" in graded.stdout
