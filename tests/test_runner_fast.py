"""runner.grade end to end with the in-process fake kernel (tests/fakes.py): statuses, points,
hidden flags, -k, broken tests and a kit's error, in milliseconds. The real kernel and sandbox
are the acceptance suites' (test_sandbox, test_hostile, the labs' own)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import notebook, write_notebook
from fakes import FakeKernel, fake_grade

from grader.course.discover import Submission
from grader.errors import InternalError, KitError, TestsBroken
from grader.results.model import NOT_RUN, TestStatus
from grader.runner import Job

LAB_ID = "lab1"
PUBLIC = '''
import pytest

@pytest.mark.points(2)
def test_square(nb):
    """square squares"""
    assert nb.call("square", 3) == 9
'''
HIDDEN = '''
import pytest

@pytest.mark.points(3)
def test_mean(nb):
    assert nb.call("mean", [1, 2, 6]) == 3

def test_greeting(nb):
    assert nb.cell("hello").text == "hello\\n"
'''
ANSWERS = ["def square(x):\n    return x * x", "def mean(v):\n    return sum(v) / len(v)", "print('hello')"]
TAGS = {2: ["hello"]}


def make_course(root: Path, hidden: str = HIDDEN, public: str = PUBLIC, toml: str = "") -> Path:
    """labs/lab1 (the notebook, public tests) and solutions/lab1 (hidden tests, lab.toml)."""
    write_notebook(root / "labs" / LAB_ID / "lab.ipynb", notebook("# your code", lab=LAB_ID))
    for path, text in ((root / "labs" / LAB_ID / "tests" / "test_public.py", public),
                       (root / "solutions" / LAB_ID / "tests" / "test_x.py", hidden)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "solutions" / LAB_ID / "lab.toml").write_text(toml)
    return root


class Recorder:
    """A kernel factory that keeps the fake kernels it made."""

    def __init__(self):
        self.made: list[FakeKernel] = []

    def __call__(self, *args) -> FakeKernel:
        self.made.append(FakeKernel(*args))
        return self.made[-1]


@pytest.fixture
def kernels() -> Recorder:
    return Recorder()


def grade_cells(tmp_path: Path, cells=ANSWERS, tags=TAGS, kernels=None, course: Path | None = None, **job):
    course = course or make_course(tmp_path / "course")
    path = write_notebook(tmp_path / "s.ipynb", notebook(*cells, lab=LAB_ID, tags=tags))
    return fake_grade(Job(Submission("ada", path, lab=job.pop("lab", LAB_ID)), course, "none", **job),
                      kernel_factory=kernels or FakeKernel)


def by_name(result) -> dict:
    return {t.name: t for t in result.tests}


def test_a_correct_notebook_is_graded_with_points_and_hidden_flags(tmp_path, kernels):
    result = grade_cells(tmp_path, kernels=kernels)
    assert (result.status, result.message, result.sandboxed) == ("graded", "", False)
    tests = by_name(result)
    assert {n: (t.score, t.max_score, t.status, t.hidden) for n, t in tests.items()} == {
        "square squares": (2.0, 2.0, TestStatus.PASSED, False),
        "test_mean": (3.0, 3.0, TestStatus.PASSED, True),
        "test_greeting": (1.0, 1.0, TestStatus.PASSED, True),
    }
    assert (result.score, result.max_score) == (6.0, 6.0)
    executed = nbformat.reads(result.executed, as_version=4)
    assert executed.cells[2].outputs[0].text == "hello\n" and executed.cells[2].execution_count == 3
    assert len(kernels.made) == 1 and kernels.made[0].closed


def test_wrong_answers_score_nothing_and_hidden_failures_keep_their_reason_back(tmp_path):
    cells = ["def square(x):\n    return x + x", "def mean(v):\n    return 0", "print('bye')"]
    tests = by_name(grade_cells(tmp_path, cells))
    assert all(t.status == TestStatus.FAILED and t.score == 0 for t in tests.values())
    assert tests["square squares"].output == "expected 9, got 6"  # public: the student sees why
    assert tests["test_mean"].output == tests["test_greeting"].output == "failed (hidden test)"


def test_show_hidden_output_lets_a_hidden_failure_say_why(tmp_path):
    course = make_course(tmp_path / "course", toml="show_hidden_output = true\n")
    tests = by_name(grade_cells(tmp_path, ["def mean(v):\n    return 0"], tags={}, course=course))
    assert tests["test_mean"].output == "expected 3, got 0"
    assert "NameError" in tests["square squares"].output  # square was never defined
    assert "no cell tagged 'hello'" in tests["test_greeting"].output


def test_a_cell_that_raises_is_still_graded_with_the_error_kept(tmp_path):
    cells = ["1 / 0", *ANSWERS]
    hidden = HIDDEN + '\ndef test_error_seen(nb):\n    assert nb.cell("boom").error == "ZeroDivisionError"\n'
    result = grade_cells(tmp_path, cells, tags={0: ["boom"], 3: ["hello"]},
                         course=make_course(tmp_path / "course", hidden=hidden))
    assert result.status == "graded"
    assert all(t.status == TestStatus.PASSED for t in result.tests) and len(result.tests) == 4
    error = nbformat.reads(result.executed, as_version=4).cells[0].outputs[0]
    assert (error.output_type, error.ename, error.evalue) == ("error", "ZeroDivisionError", "division by zero")


def test_a_test_calling_what_the_notebook_lacks_fails_with_the_notebooks_error(tmp_path):
    tests = by_name(grade_cells(tmp_path, ["x = 1"], tags={}))
    assert tests["square squares"].status == TestStatus.FAILED
    assert "NameError" in tests["square squares"].output and "square" in tests["square squares"].output


def test_a_notebook_that_is_not_json_is_invalid_and_lists_the_tests_ungraded(tmp_path, kernels):
    path = tmp_path / "s.ipynb"
    path.write_text("{not json")
    result = fake_grade(Job(Submission("ada", path, lab=LAB_ID), make_course(tmp_path / "course"), "none"),
                        kernel_factory=kernels)
    assert result.status == "invalid" and result.message.startswith("not a valid notebook")
    assert sorted(by_name(result)) == ["square squares", "test_greeting", "test_mean"]
    assert all(t.status == TestStatus.FAILED and t.score == 0 for t in result.tests)
    assert by_name(result)["square squares"].output.startswith("not graded: not a valid notebook")
    assert result.max_score == 6.0 and kernels.made == []  # no kernel for a notebook that cannot run


def test_a_notebook_without_code_cells_is_invalid(tmp_path, kernels):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# only words")])
    path = write_notebook(tmp_path / "s.ipynb", nb)
    result = fake_grade(Job(Submission("ada", path, lab=LAB_ID), make_course(tmp_path / "course"), "none"),
                        kernel_factory=kernels)
    assert (result.status, result.message) == ("invalid", "the notebook has no code cells")
    assert kernels.made == [] and len(result.tests) == 3


def test_a_lab_the_course_does_not_have_is_invalid_with_no_tests(tmp_path, kernels):
    result = grade_cells(tmp_path, kernels=kernels, lab="lab9")
    assert (result.status, result.message, result.tests) == ("invalid", "no lab 'lab9' in this course", [])
    assert kernels.made == []


def test_select_narrows_the_tests_run(tmp_path):
    assert list(by_name(grade_cells(tmp_path, select="mean"))) == ["test_mean"]
    assert sorted(by_name(grade_cells(tmp_path, select="not mean"))) == ["square squares", "test_greeting"]


def test_public_only_grading_leaves_the_hidden_tests_out(tmp_path):
    result = grade_cells(tmp_path, hidden=False)
    assert [(t.name, t.hidden) for t in result.tests] == [("square squares", False)]


def test_a_test_that_skips_is_not_run_and_left_out_of_the_maximum(tmp_path):
    hidden = HIDDEN + '\n@pytest.mark.points(5)\ndef test_gpu(nb):\n    pytest.skip("no GPU here")\n'
    result = grade_cells(tmp_path, course=make_course(tmp_path / "course", hidden=hidden))
    gpu = by_name(result)["test_gpu"]
    assert (gpu.status, gpu.score, gpu.max_score) == (NOT_RUN, 0.0, 0.0)
    assert gpu.output.startswith("not run: no GPU here (5 points left out")
    assert result.max_score == 6.0 and result.incomplete


def test_a_test_file_that_does_not_load_raises_tests_broken(tmp_path, kernels):
    course = make_course(tmp_path / "course", hidden="def test_oops(nb)\n    pass\n")
    with pytest.raises(TestsBroken, match="test_x.py"):
        grade_cells(tmp_path, kernels=kernels, course=course)
    assert kernels.made[0].closed  # the grader's failure still ends the kernel


def test_a_kits_error_in_a_test_is_the_graders_error_not_a_failed_test(tmp_path, kernels):
    hidden = HIDDEN + '\ndef test_probe(nb):\n    from grader.errors import KitError\n' \
                      '    raise KitError("the probe broke")\n'
    with pytest.raises(InternalError, match="the probe broke") as raised:
        grade_cells(tmp_path, kernels=kernels, course=make_course(tmp_path / "course", hidden=hidden))
    assert isinstance(raised.value, KitError) and kernels.made[0].closed


def test_the_tests_calls_reach_the_kernel_that_ran_the_notebook(tmp_path, kernels):
    grade_cells(tmp_path, kernels=kernels, select="mean")
    kernel, = kernels.made
    assert kernel.codes[:3] == ANSWERS  # the cells, in order, then the codec and the call
    assert any("mean(*" in code for code in kernel.codes[3:])
