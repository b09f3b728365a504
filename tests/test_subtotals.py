"""Per-exercise subtotals: computed from each test's exercise, kept in the results JSON beside
Gradescope's per-test fields, and shown by the terminal table, the feedback page and CI."""

from __future__ import annotations

import json
import random

import pytest
from rich.console import Console
from test_ci import table_rows
from test_feedback import SummaryTables, graded_result

from grader.report import ci, feedback, terminal
from grader.report.feedback import render
from grader.results.model import OTHER, Result, TestResult
from grader.results.store import read_result, write_result

GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}
EXERCISES = ["q1", "q2", "q3", "q10", "", "<b>q4</b>", "[red]q5[/]"]
STATUSES = ["passed", "failed", "not run"]
SEEDS = range(40)


def case(name: str, score: float, max_score: float, status: str, exercise: str = "", hidden: bool = False,
         output: str = "") -> TestResult:
    return TestResult(name, score, max_score, status, output, hidden=hidden, exercise=exercise)


def generated(seed: int) -> Result:
    """One of a family of results: 0 to 30 tests, each in one of a few exercises or none,
    passed, failed or not run (then worth nothing, as the runner makes it), some hidden."""
    rng = random.Random(seed)
    exercises = rng.sample(EXERCISES, rng.randint(1, len(EXERCISES)))
    tests = []
    for i in range(rng.randint(0, 30)):
        status, points = rng.choice(STATUSES), rng.choice([0.5, 1, 2, 3])
        score = points if status == "passed" else rng.choice([0, points / 2]) if status == "failed" else 0
        tests.append(case(f"t{i}", score, 0 if status == "not run" else points, status, rng.choice(exercises),
                          hidden=rng.random() < 0.3, output=f"out {i}"))
    return Result(f"s{seed}", "lab", rng.choice(["graded", "timeout"]), tests)


def mixed() -> Result:
    """q1 and q2 interleaved, a test of no exercise between them, a hidden test, a test not run."""
    return Result("amy", "lab", "graded", [
        case("a", 1, 1, "passed", "q1"),
        case("b", 0, 2, "failed", "q2"),
        case("c", 0, 3, "failed"),
        case("d", 2, 2, "passed", "q1", hidden=True),
        case("e", 0, 0, "not run", "q2"),
        case("f", 0.5, 1, "failed", "q2"),
    ])


# --- the model ---------------------------------------------------------------------------------

def test_mixed_exercises_in_order_of_first_appearance_and_other_last():
    assert [(s.exercise, s.label, s.score, s.max_score, s.passed, s.total, s.tests) for s in mixed().subtotals()] == [
        ("q1", "q1", 3, 3, 2, 2, (0, 3)),
        ("q2", "q2", 0.5, 3, 0, 3, (1, 4, 5)),  # the test not run: counted, its points left out of max
        ("", OTHER, 0, 3, 0, 1, (2,)),
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_subtotals_partition_the_tests_and_add_up_to_the_result(seed):
    result = generated(seed)
    subtotals = result.subtotals()
    if not any(t.exercise for t in result.tests):
        assert subtotals == []  # a lab without exercises has no subtotal rows
        return
    indices = [i for s in subtotals for i in s.tests]
    assert sorted(indices) == list(range(len(result.tests)))
    assert all(list(s.tests) == sorted(s.tests) for s in subtotals)
    for s in subtotals:
        assert {result.tests[i].exercise for i in s.tests} == {s.exercise}
        assert s.score == pytest.approx(sum(result.tests[i].score for i in s.tests))
        assert s.max_score == pytest.approx(sum(result.tests[i].max_score for i in s.tests
                                                if result.tests[i].status != "not run"))
        assert s.passed == sum(result.tests[i].status == "passed" for i in s.tests)
    assert sum(s.score for s in subtotals) == pytest.approx(result.score)
    assert sum(s.max_score for s in subtotals) == pytest.approx(result.max_score)
    assert "" not in [s.exercise for s in subtotals][:-1]  # the tests of no exercise last
    firsts = [s.tests[0] for s in subtotals if s.exercise]
    assert firsts == sorted(firsts)  # the exercises in the order they first appear


@pytest.mark.parametrize("tests", [[], [case("a", 1, 1, "passed")],
                                   [case("a", 0, 1, "failed"), case("b", 0, 0, "not run")]])
def test_no_exercises_no_subtotals(tests):
    result = Result("amy", "lab", "graded", tests)
    assert result.subtotals() == [] and result.to_json()["exercises"] == []


def test_hidden_tests_count_in_their_exercise():
    result = Result("amy", "lab", "graded", [case("a", 0, 4, "failed", "q1", hidden=True),
                                             case("b", 1, 1, "passed", "q1")])
    (q1,) = result.subtotals()
    assert (q1.score, q1.max_score, q1.passed, q1.total) == (1, 5, 1, 2)


# --- the results JSON --------------------------------------------------------------------------

def round_trip(result: Result) -> Result:
    return Result.from_json(json.loads(json.dumps(result.to_json())))


@pytest.mark.parametrize("seed", SEEDS)
def test_json_round_trip_keeps_each_tests_exercise_and_gradescopes_fields(seed):
    result = generated(seed)
    doc = result.to_json()
    assert all(set(t) == GRADESCOPE_TEST_KEYS for t in doc["tests"])
    assert doc["exercises"] == [s.to_json() for s in result.subtotals()]
    back = round_trip(result)
    assert back == result
    assert [t.exercise for t in back.tests] == [t.exercise for t in result.tests]
    assert back.subtotals() == result.subtotals()


def test_json_of_mixed_exercises():
    assert mixed().to_json()["exercises"] == [
        {"exercise": "q1", "score": 3, "max_score": 3, "passed": 2, "tests": [0, 3]},
        {"exercise": "q2", "score": 0.5, "max_score": 3, "passed": 0, "tests": [1, 4, 5]},
        {"exercise": "", "score": 0, "max_score": 3, "passed": 0, "tests": [2]},
    ]


def test_results_file_round_trip(tmp_path):
    write_result(tmp_path, mixed())
    assert read_result(tmp_path, "amy", "lab") == mixed()


@pytest.mark.parametrize("seed", SEEDS)
def test_an_older_results_file_without_exercises_reads_as_before(seed):
    result = generated(seed)
    doc = json.loads(json.dumps(result.to_json()))
    del doc["exercises"]
    old = Result.from_json(doc)
    assert all(t.exercise == "" for t in old.tests) and old.subtotals() == []
    assert [(t.name, t.score, t.max_score, t.status, t.hidden) for t in old.tests] == \
        [(t.name, t.score, t.max_score, t.status, t.hidden) for t in result.tests]


@pytest.mark.parametrize("exercises", [
    [{"exercise": 1, "tests": [0]}], [{"tests": [0]}], [{"exercise": "q1", "tests": 5}],
    [{"exercise": "q1", "tests": [[0]]}], ["q1"], [None],
])
def test_a_results_file_with_malformed_exercises_is_not_reused(tmp_path, exercises):
    """A file the grader did not write this way is no result: read_result gives None, so the
    submission is graded again rather than shown with made-up exercises."""
    path = write_result(tmp_path, mixed())
    doc = json.loads(path.read_text())
    doc["exercises"] = exercises
    path.write_text(json.dumps(doc))
    assert read_result(tmp_path, "amy", "lab") is None


# --- the terminal table ------------------------------------------------------------------------

def terminal_rows(result: Result) -> list[list[str]]:
    """The table's rows as printed, the header first, each the text of its cells."""
    console = Console(width=200, record=True, color_system=None)
    console.print(terminal.tests_table(result))
    lines = [line.replace("┃", "│") for line in console.export_text().splitlines()]
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]


def test_terminal_table_groups_tests_under_their_exercises_subtotal():
    assert terminal_rows(mixed())[1:] == [
        ["q1", "3 / 3", "2 of 2 passed", ""], ["a", "1 / 1", "passed", ""], ["d", "2 / 2", "passed", ""],
        ["q2", "0.5 / 3", "0 of 3 passed", ""], ["b", "0 / 2", "failed", ""], ["e", "0 / 0", "not run", ""],
        ["f", "0.5 / 1", "failed", ""],
        ["other", "0 / 3", "0 of 1 passed", ""], ["c", "0 / 3", "failed", ""],
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_terminal_table_has_a_subtotal_row_per_exercise_and_each_test_once(seed):
    result = generated(seed)
    rows = terminal_rows(result)[1:]
    subtotals = result.subtotals()
    headers = [row for row in rows if row[2].endswith("passed") and " of " in row[2]]
    assert [row[:3] for row in headers] == [
        [s.label, f"{s.score:g} / {s.max_score:g}", f"{s.passed} of {s.total} passed"] for s in subtotals]
    assert len(rows) == len(result.tests) + len(subtotals)
    assert sorted(row[0] for row in rows if row not in headers) == sorted(t.name for t in result.tests)


def test_terminal_table_without_exercises_is_as_before():
    result = graded_result()
    assert terminal_rows(result) == [["test", "points", "result", "message"],
                                     *([t.name, f"{t.score:g} / {t.max_score:g}", t.status, t.output]
                                       for t in result.tests)]


# --- the feedback page -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_feedback_page_shows_each_subtotal_and_each_tests_exercise(seed):
    result = generated(seed)
    tables = SummaryTables(render(result, None)).tables
    subtotals = result.subtotals()
    if not subtotals:
        assert "grader-exercises" not in tables and tables[""][0] == ["Test", "Points", "Result", "Message"]
        return
    assert tables["grader-exercises"] == [["Exercise", "Points", "Tests passed"],
                                          *([s.label, f"{s.score:g} / {s.max_score:g}", f"{s.passed} of {s.total}"]
                                            for s in subtotals)]
    assert tables[""][0] == ["Exercise", "Test", "Points", "Result", "Message"]
    assert [row[:2] for row in tables[""][1:]] == [[t.exercise or OTHER, t.name] for t in result.tests]


HOSTILE_IDS = ['<img src=x onerror="document.title=1">', "</td></tr></table><script>x</script>", "&amp;" * 500,
               "q" * 10_000]


@pytest.mark.parametrize("exercise", HOSTILE_IDS)
def test_feedback_page_escapes_and_cuts_exercise_ids(exercise):
    result = Result("amy", "lab", "graded", [case("a", 1, 1, "passed", exercise), case("b", 0, 1, "failed", "q2")])
    page = render(result, None)
    assert exercise not in page or exercise.isalnum()  # plain text may stay as it is, if short
    assert "<script" not in page.lower() and "<img" not in page.lower()
    tables = SummaryTables(page).tables
    shown = tables["grader-exercises"][1][0]
    assert len(shown) <= feedback.EXERCISE_CHARS + 40
    if len(exercise) <= feedback.EXERCISE_CHARS:
        assert shown == exercise
    else:
        assert shown.startswith(exercise[:feedback.EXERCISE_CHARS]) and shown.endswith("more characters cut]")
    assert tables[""][1][0] == shown and [row[0] for row in tables["grader-exercises"][1:]] == [shown, "q2"]


def test_feedback_exercises_are_bounded_and_said():
    count = feedback.MAX_EXERCISES + 7
    result = Result("amy", "lab", "graded", [case(f"t{i}", 0, 1, "failed", f"<{i}>" * 1000) for i in range(count)])
    page = render(result, None)
    rows = SummaryTables(page).tables["grader-exercises"]
    assert len(rows) == 1 + feedback.MAX_EXERCISES + 1 and rows[-1] == ["[grader: 7 more exercises cut]"]
    # Each id at most EXERCISE_CHARS, escaped (at most six characters for one), in two tables.
    summary = page[page.index('<section class="grader-summary">'):page.index("</section>")]
    assert len(summary) < 2 * count * (6 * feedback.EXERCISE_CHARS + 200)


# --- CI's step summary -------------------------------------------------------------------------

def test_check_summary_has_an_exercises_table_before_the_tests():
    text = ci.check_summary(mixed(), None)
    exercises, tests = text.split("| test |")
    assert table_rows(exercises) == [["exercise", "points", "tests passed"], ["q1", "3 / 3", "2 of 2"],
                                     ["q2", "0.5 / 3", "0 of 3"], ["other", "0 / 3", "0 of 1"]]
    assert len(table_rows("| test |" + tests)) == 1 + len(mixed().tests)


def test_check_summary_without_exercises_has_no_exercises_table():
    assert "| exercise |" not in ci.check_summary(graded_result(), None)
