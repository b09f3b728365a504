"""run_batch on the fake kernel (tests/fakes.py), its jobs run in this process (InlineExecutor):
fingerprints, reuse, regrading, the files each result leaves; one test runs them in LocalExecutor's
worker processes. test_resume does the same through the ``grade`` command, with real sandboxes."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest
from conftest import notebook, write_notebook
from fakes import FAKE_TASK, InlineExecutor
from test_runner_fast import ANSWERS, HIDDEN, LAB_ID, TAGS, make_course

from grader import kits
from grader.batch.executors import LocalExecutor
from grader.batch.run import run_batch
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.engine.sandbox import get_backend
from grader.results.model import Result
from grader.results.store import result_path

WRONG = ["def square(x):\n    return x + x", *ANSWERS[1:]]  # 4 of 6 points


@pytest.fixture
def batch(tmp_path: Path):
    """A course, two submissions (b is wrong), and a function that runs the batch."""
    course = Course(make_course(tmp_path / "course"))
    subs = [Submission(name, write_notebook(tmp_path / "subs" / f"{name}.ipynb",
                                            notebook(*(WRONG if name == "b" else ANSWERS), lab=LAB_ID, tags=TAGS)),
                       lab=LAB_ID) for name in "ab"]
    out = tmp_path / "grades"

    def run(force: bool = False, submissions=subs, executor_factory=InlineExecutor):
        seen = []
        results, errors = run_batch(submissions, course, out, get_backend("none"), 2, force, seen.append,
                                    executor_factory=executor_factory)
        assert [r.student for r in seen] == [r.student for r in results]  # each one reported as it came
        return {r.student: r for r in results}, errors

    return course, subs, out, run


def gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_a_first_run_grades_everything_and_writes_each_results_files(batch):
    _, _, out, run = batch
    results, errors = run()
    assert errors == []
    assert {s: (r.status, r.score, r.max_score, r.reused) for s, r in results.items()} == {
        "a": ("graded", 6.0, 6.0, False), "b": ("graded", 4.0, 6.0, False)}
    assert {s: (row["score"], row["reused"]) for s, row in gradebook(out).items()} == {
        "a": ("6", "no"), "b": ("4", "no")}
    for student in "ab":  # written by the worker: the executed notebook and the feedback page
        path = result_path(out, student, LAB_ID)
        assert path.is_file() and path.with_suffix(".ipynb").is_file() and path.with_suffix(".html").is_file()
    assert results["a"].fingerprint != results["b"].fingerprint


def test_a_second_run_reuses_every_result_that_still_holds(batch):
    _, _, out, run = batch
    first, _ = run()
    again, errors = run()
    assert errors == [] and all(r.reused for r in again.values())
    assert {s: (r.score, r.fingerprint) for s, r in again.items()} == {
        s: (r.score, r.fingerprint) for s, r in first.items()}
    assert {row["reused"] for row in gradebook(out).values()} == {"yes"}


def test_a_changed_submission_alone_is_graded_again(batch):
    _, subs, _, run = batch
    first, _ = run()
    write_notebook(subs[1].path, notebook(*ANSWERS, lab=LAB_ID, tags=TAGS))  # b fixes square
    again, _ = run()
    assert {s: r.reused for s, r in again.items()} == {"a": True, "b": False}
    assert again["b"].score == 6.0 and again["b"].fingerprint != first["b"].fingerprint


def test_force_grades_everything_again(batch):
    _, _, out, run = batch
    run()
    forced, _ = run(force=True)
    assert not any(r.reused for r in forced.values()) and forced["b"].score == 4.0
    assert {row["reused"] for row in gradebook(out).values()} == {"no"}


def test_a_changed_hidden_test_regrades_the_lab(batch):
    course, _, _, run = batch
    run()
    hidden = course.lab(LAB_ID).hidden_tests / "test_x.py"
    hidden.write_text(hidden.read_text() + "\ndef test_more(nb):\n    assert nb.call('square', 4) == 16\n")
    again, _ = run()
    assert not any(r.reused for r in again.values())
    assert {s: r.max_score for s, r in again.items()} == {"a": 7.0, "b": 7.0}


def test_a_result_with_tests_not_run_is_graded_again(batch):
    course, _, _, run = batch
    hidden = course.lab(LAB_ID).hidden_tests / "test_x.py"
    hidden.write_text(hidden.read_text() + "\nimport pytest\n\ndef test_gpu(nb):\n    pytest.skip('no GPU')\n")
    first, _ = run()
    assert all(r.incomplete for r in first.values())
    again, _ = run()
    assert not any(r.reused for r in again.values())


def test_tests_that_do_not_load_are_the_graders_error_said_once_and_on_each_row(batch):
    course, _, _, run = batch
    (course.lab(LAB_ID).hidden_tests / "test_x.py").write_text("def test_oops(nb)\n")
    results, errors = run()
    assert {r.status for r in results.values()} == {"crashed"}
    assert all(r.message.startswith("grader error: the lab's tests are broken") for r in results.values())
    assert not any("test_x.py" in r.message or "test_oops" in r.message for r in results.values())
    assert errors == [f"lab {LAB_ID}: solutions/{LAB_ID}/tests/test_x.py does not load: "
                      "SyntaxError: expected ':' (test_x.py, line 1)"]


def test_a_submission_for_no_lab_of_the_course_gets_an_invalid_row(batch, tmp_path):
    _, subs, out, run = batch
    stray = Submission("d", write_notebook(tmp_path / "subs" / "d.ipynb", notebook("x = 1", lab="lab9")), lab="lab9")
    results, errors = run(submissions=[subs[0], stray])
    assert errors == [] and results["d"].status == "invalid" and results["d"].message == "no lab 'lab9' in this course"
    assert gradebook(out)["d"]["status"] == "invalid" and results["a"].status == "graded"


def test_the_fake_runs_in_the_executors_worker_processes_too(batch):
    _, subs, out, run = batch
    results, errors = run(submissions=subs[:1], executor_factory=functools.partial(LocalExecutor, task=FAKE_TASK))
    assert errors == [] and (results["a"].status, results["a"].score) == ("graded", 6.0)
    path = result_path(out, "a", LAB_ID)  # the worker wrote the notebook and the page; the parent the JSON
    assert path.is_file() and path.with_suffix(".ipynb").is_file() and path.with_suffix(".html").is_file()


# --- a kit's decision for the whole batch (grader.kits.prepare) ------------------------------

LIVE = HIDDEN + '''

@pytest.mark.points(4)
def test_live(nb, engine_up):
    if not engine_up:
        pytest.skip("no engine")
    assert nb.call("square", 2) == 4
'''


class Engine:
    """A fake kit's engine, which the test starts or stops between two rows of a batch."""

    def __init__(self, up: bool):
        self.up, self.asked = up, 0

    def prepare(self) -> bool:
        self.asked += 1
        return self.up


class EngineFixtures:
    """The fake kit's plugin: ``engine_up`` is what the batch decided."""

    def __init__(self, handle, prepared: bool | None):
        self.prepared = prepared

    @pytest.fixture
    def engine_up(self) -> bool | None:
        return self.prepared


@pytest.mark.parametrize("up_at_start", [False, True], ids=["engine starts mid-batch", "engine stops mid-batch"])
def test_a_kit_decides_once_per_batch_and_every_row_is_graded_under_it(tmp_path, monkeypatch, up_at_start):
    """The engine flips after the first row: every row still has the maximum of the batch's start."""
    engine = Engine(up_at_start)
    kit = kits.Kit("engine", plugin=EngineFixtures, prepare=engine.prepare)
    real_load = kits.load
    monkeypatch.setattr(kits, "load", lambda name: kit if name == "engine" else real_load(name))
    course = Course(make_course(tmp_path / "course", hidden=LIVE, toml='kits = ["engine"]\n'))
    subs = [Submission(name, write_notebook(tmp_path / "subs" / f"{name}.ipynb",
                                            notebook(*ANSWERS, lab=LAB_ID, tags=TAGS)), lab=LAB_ID) for name in "abc"]

    def flip(result) -> None:
        engine.up = not up_at_start

    results, errors = run_batch(subs, course, tmp_path / "grades", get_backend("none"), 1, False, flip,
                                executor_factory=InlineExecutor)
    assert errors == [] and engine.asked == 1
    points = (10.0, 10.0) if up_at_start else (6.0, 6.0)  # the live test's 4 points, or not run in any row
    assert {r.student: (r.score, r.max_score) for r in results} == dict.fromkeys("abc", points)


def test_a_result_graded_under_another_decision_is_graded_again(tmp_path, monkeypatch):
    """A rerun keeps no row of a batch that decided otherwise: one gradebook, one maximum."""
    engine = Engine(True)
    kit = kits.Kit("engine", plugin=EngineFixtures, prepare=engine.prepare)
    real_load = kits.load
    monkeypatch.setattr(kits, "load", lambda name: kit if name == "engine" else real_load(name))
    course = Course(make_course(tmp_path / "course", hidden=LIVE, toml='kits = ["engine"]\n'))
    sub = Submission("a", write_notebook(tmp_path / "a.ipynb", notebook(*ANSWERS, lab=LAB_ID, tags=TAGS)), lab=LAB_ID)

    def run() -> Result:
        (result,), errors = run_batch([sub], course, tmp_path / "grades", get_backend("none"), 1, False,
                                      lambda r: None, executor_factory=InlineExecutor)
        assert errors == []
        return result

    assert (run().max_score, run().reused) == (10.0, True)  # the same decision: reused
    engine.up = False
    again = run()
    assert (again.max_score, again.reused) == (6.0, False)


def test_a_kits_decision_is_made_where_no_batch_made_it(tmp_path, monkeypatch):
    """grade check grades one notebook with no batch: the kit decides for it then."""
    engine = Engine(True)
    kit = kits.Kit("engine", plugin=EngineFixtures, prepare=engine.prepare)
    monkeypatch.setattr(kits, "load", lambda name: kit)
    with kits.started(("engine",)) as running:
        assert running.plugins[0].prepared is True and engine.asked == 1
    with kits.started(("engine",), {"engine": False}) as running:
        assert running.plugins[0].prepared is False and engine.asked == 1
