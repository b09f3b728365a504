"""Selecting an exercise selects exactly its tests: ``check("q1")`` and ``grade check -k q1`` never run
q10's. A generated lab of twelve exercises, whose tests belong to them by name, by a module's name or by
an ``exercise`` marker, on the fake kernel (tests/fakes.py)."""

from __future__ import annotations

import pytest
from test_runner_fast import LAB_ID, by_name, grade_cells, make_course

from grader.errors import TestsBroken, UsageError
from grader.testing.exercises import EXERCISE_ID, UnknownExercise

COUNT = 12
CELLS = [f"def f{k}():\n    return {k}" for k in range(1, COUNT + 1)]


def public_tests() -> str:
    """test_q{k}_value for every k, a part (q2a), a test of no exercise, and one whose marker
    puts it in q3 although its name says q12."""
    tests = [f'def test_q{k}_value(nb):\n    """value of f{k}"""\n    assert nb.call("f{k}") == {k}\n'
             for k in range(1, COUNT + 1)]
    tests.append('def test_q2a_part(nb):\n    """part a of q2"""\n    assert nb.call("f2") == 2\n')
    tests.append('def test_square_free(nb):\n    """no exercise"""\n    assert nb.call("f1") == 1\n')
    tests.append('@pytest.mark.exercise("q3")\ndef test_q12_but_marked(nb):\n    """marked q3"""\n'
                 '    assert nb.call("f3") == 3\n')
    return "import pytest\n\n\n" + "\n\n".join(tests)


def expected(k: int) -> set[str]:
    names = {f"value of f{k}"}
    if k == 3:
        names.add("marked q3")
    if k == 7:
        names.add("in the module of q7")
    return names


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("exercises") / "course", public=public_tests())
    module = root / "labs" / LAB_ID / "tests" / "test_q7.py"
    module.write_text('def test_module_level(nb):\n    """in the module of q7"""\n    assert nb.call("f7") == 7\n')
    return root


def check_exercise(tmp_path, course, select: str):
    return grade_cells(tmp_path, CELLS, tags={}, course=course, hidden=False, select=select)


@pytest.mark.parametrize("k", range(1, COUNT + 1))
def test_selecting_an_exercise_runs_exactly_its_tests(tmp_path, course, k):
    result = check_exercise(tmp_path, course, f"q{k}")
    assert set(by_name(result)) == expected(k)
    assert all(t.exercise == f"q{k}" and t.score == t.max_score for t in result.tests)


@pytest.mark.parametrize("spelling", ["Q1", " q1 "])
def test_an_exercise_is_found_however_it_is_spelt(tmp_path, course, spelling):
    assert set(by_name(check_exercise(tmp_path, course, spelling))) == expected(1)


def test_a_part_is_an_exercise_of_its_own(tmp_path, course):
    assert set(by_name(check_exercise(tmp_path, course, "q2a"))) == {"part a of q2"}


def test_each_test_carries_its_exercise(tmp_path, course):
    exercises = {t.name: t.exercise for t in check_exercise(tmp_path, course, None).tests}
    assert exercises["value of f10"] == "q10" and exercises["part a of q2"] == "q2a"
    assert exercises["marked q3"] == "q3" and exercises["in the module of q7"] == "q7"
    assert exercises["no exercise"] == ""


def test_an_exercise_no_test_has_is_a_usage_error_listing_the_exercises(tmp_path, course):
    with pytest.raises(UnknownExercise, match="'q13'") as raised:
        check_exercise(tmp_path, course, "q13")
    assert isinstance(raised.value, UsageError)
    assert "q1, q2, q2a, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12" in str(raised.value)


def test_anything_else_stays_a_pytest_k_expression(tmp_path, course):
    assert set(by_name(check_exercise(tmp_path, course, "free"))) == {"no exercise"}
    either = set(by_name(check_exercise(tmp_path, course, "q1 or q2")))  # pytest's substring match, as before
    assert {"value of f1", "value of f10", "value of f2", "part a of q2"} <= either


def test_a_k_expression_pytest_cannot_read_is_a_usage_error(tmp_path, course):
    with pytest.raises(UsageError, match="neither an exercise"):
        check_exercise(tmp_path, course, "q1 and")


@pytest.mark.parametrize("marker", ["warmup", "Part-1", "2.b"])
def test_a_marker_may_name_any_exercise_and_selects_it_exactly(tmp_path, marker):
    public = (f'import pytest\n\n@pytest.mark.exercise("{marker}")\ndef test_a(nb):\n    assert nb.call("f1") == 1\n\n'
              f'@pytest.mark.exercise("{marker}x")\ndef test_b(nb):\n    assert nb.call("f2") == 2\n')
    course = make_course(tmp_path / "course", public=public)
    result = grade_cells(tmp_path, CELLS, tags={}, course=course, hidden=False, select=marker)
    assert [(t.name, t.exercise) for t in result.tests] == [("test_a", marker)]


@pytest.mark.parametrize("marker", ["3", "''", "None"])
def test_a_marker_that_is_not_an_exercise_id_is_the_labs_error(tmp_path, marker):
    public = f'import pytest\n\n@pytest.mark.exercise({marker})\ndef test_q1_a(nb):\n    assert True\n'
    with pytest.raises(TestsBroken, match="test_q1_a.*exercise must be"):
        grade_cells(tmp_path, CELLS, tags={}, course=make_course(tmp_path / "course", public=public), hidden=False)


@pytest.mark.parametrize(("name", "exercise"), [
    ("test_q1_x", "q1"), ("test_q10", "q10"), ("test_q1a_x", "q1a"), ("test_Q4_x", "q4"),
    ("test_quality", ""), ("test_q1abc", ""), ("test_x_q1", ""), ("test_q", ""),
])
def test_the_exercise_in_a_tests_name_is_a_whole_token(tmp_path, name, exercise):
    public = f'def {name}(nb):\n    assert True\n'
    result = grade_cells(tmp_path, CELLS, tags={}, course=make_course(tmp_path / "course", public=public),
                         hidden=False)
    assert [t.exercise for t in result.tests] == [exercise]


def test_the_exercise_id_pattern():
    assert all(EXERCISE_ID.fullmatch(s) for s in ("q1", "q12", "Q3a"))
    assert not any(EXERCISE_ID.fullmatch(s) for s in ("q", "q1 or q2", "square", "q1_", "1"))
