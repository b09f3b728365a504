"""The end-to-end tests every lab's test file runs, written once.

A lab's file states its facts in a subclass named ``TestLab`` (so pytest collects it, and the
tests it inherits, under that lab's file): the kept notebooks, the maximum score, the correct
variants, what each mistake must cost, the lesson that must weigh at least 15 %, and a hidden test
a mistake fails. Tests only one lab has stay in that lab's file, as methods of ``TestLab`` when
they read the batch.
"""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path
from types import ModuleType
from typing import ClassVar, NamedTuple

import nbformat
import pytest
from conftest import REPO, KeptNotebooks, grade_lab_batch, lost_points

HIDDEN_OUTPUT = {"passed": "", "failed": "failed (hidden test)"}  # all a student sees of a hidden test
LESSON_SHARE = 0.15  # the least share of the points a lab's lesson beyond syntax must carry
MINUTE = 60
OTHER_STYLES = 3  # the least number of correct variants besides the solution


def solution_cell(lab: str, tag: str) -> str:
    """The source of the first code cell of ``lab``'s solution tagged ``tag``: variants and mistakes
    are made from it, so that they follow the solution when it changes."""
    nb = nbformat.read(REPO / "solutions" / lab / "solution.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", []))


def load_module(name: str, path: Path) -> ModuleType:
    """A module of a lab (its data generator, its hidden tests, a file its tests use) loaded from its
    file and registered as ``name`` (dataclasses look their module up). The hidden tests' markers are
    the grader's plugin's, which is not loaded here."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        spec.loader.exec_module(module)
    return module


def assert_docker_grades_the_same(suite: type[LabSuite], sample: Collection[str], tmp_path: Path) -> None:
    """The kernel image holds what the lab needs: under the Docker backend, the kept notebooks of
    ``sample`` that are correct (the solution among them) get full marks, and its mistakes lose what
    they lose in the sandbox. A sample, not every kept notebook: the image is slower to start."""
    picked = tmp_path / "picked"
    picked.mkdir()
    for name in sample:
        shutil.copy(suite.kept.folder / f"{name}.ipynb", picked)
    proc, book, results = grade_lab_batch(suite.kept.lab, tmp_path / "grades", picked,
                                          options=("--backend", "docker"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    correct = [name for name in sample if name == "solution" or name in suite.correct]
    mistakes = [name for name in sample if name not in correct]
    assert correct and mistakes, "a docker sample holds the solution and at least one mistake"
    assert {name: float(book[name]["score"]) for name in correct} == dict.fromkeys(correct, suite.max_score)
    assert {name: lost_points(results[name]) for name in mistakes} == \
        {name: suite.expected_losses[name] for name in mistakes}


class Graded(NamedTuple):
    """One ``grade`` batch: the process, the gradebook's rows and the results, by student. ``batch``
    names the batch where a lab is graded in more than one setting."""

    proc: subprocess.CompletedProcess
    book: dict[str, dict]
    results: dict[str, dict]
    batch: str = ""


class LabSuite:
    """The standard tests of a lab graded end to end, in one ``grade`` batch over its kept notebooks
    (the solution, correct variants, mistakes) and the untouched student notebook."""

    kept: ClassVar[KeptNotebooks]
    max_score: ClassVar[float]
    correct: ClassVar[Collection[str]]  # the kept notebooks that must earn full marks
    expected_losses: ClassVar[Mapping[str, Mapping[str, float]]]  # per mistake: points lost per test
    hidden_failure: ClassVar[tuple[str, str]]  # a mistake, and how the name of a hidden test it fails starts
    lesson: ClassVar[str]  # what the lab is for beyond syntax, said when it weighs too little
    lesson_exercises: ClassVar[Collection[str]] = ()  # exercises ("q4") whose tests are all the lesson's
    lesson_tests: ClassVar[Collection[str]] = ()  # further tests, by name, that are the lesson's
    costs_elsewhere: ClassVar[Mapping[str, str]] = {}  # mistakes that cost in another exercise than they edit
    test_count: ClassVar[int]

    @property
    def lab(self) -> str:
        return self.kept.lab

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Each correct variant and each mistake is a test of its own, named after the notebook."""
        if "correct" in metafunc.fixturenames:
            metafunc.parametrize("correct", list(self.correct))
        if "mistake" in metafunc.fixturenames:
            metafunc.parametrize("mistake", list(self.expected_losses))

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory: pytest.TempPathFactory) -> Graded:
        """One sandboxed ``grade`` run over the kept notebooks and the untouched student notebook."""
        lab = cls.kept.lab
        out = tmp_path_factory.mktemp(lab) / "grades"
        return Graded(*grade_lab_batch(lab, out, cls.kept.folder, REPO / "labs" / lab / "lab.ipynb"))

    # --- what a lab graded in more than one setting changes, per batch ------------------------

    def full_marks(self, graded: Graded) -> float:
        return self.max_score

    def losses(self, graded: Graded, mistake: str) -> Mapping[str, float]:
        return self.expected_losses[mistake]

    def not_run(self, graded: Graded) -> Collection[str]:
        """The tests that cannot run in this batch (and are left out of its maximum)."""
        return ()

    def lab_timeout(self) -> float:
        """The lab's own time limit for a notebook (lab.toml's ``timeout``)."""
        return tomllib.loads((REPO / "solutions" / self.lab / "lab.toml").read_text()).get("timeout", MINUTE)

    def time_limit(self, graded: Graded) -> float:
        """How long grading the solution may take: under a minute, and within the lab's own limit."""
        return min(MINUTE, self.lab_timeout())

    def status(self, graded: Graded, test: dict, decided: str) -> str:
        """The status ``test`` must have: ``decided`` if it can run in this batch, else "not run"."""
        return "not run" if test["name"] in self.not_run(graded) else decided

    # --- the tests ----------------------------------------------------------------------------

    def test_kept_notebooks_follow_the_solution(self) -> None:
        """Each kept notebook is exactly the solution with its replaced cells: regenerate after editing the solution."""
        stale = self.kept.stale()
        assert not stale, f"rewrite them: python tests/{Path(inspect.getfile(type(self))).name} ({stale})"

    def test_at_least_three_other_correct_styles(self) -> None:
        """Besides the solution, at least three correct answers in other styles are kept, as students write them."""
        assert len(self.correct) >= OTHER_STYLES and set(self.correct) <= set(self.kept.variants)

    def test_every_mistake_has_its_expected_losses(self) -> None:
        """Each mistake names what it must cost, all in one exercise (the one whose cells it replaces, unless
        the lab says it costs elsewhere), so none can pass unnoticed or spill over."""
        assert set(self.expected_losses) == set(self.kept.variants) - set(self.correct)
        for name, losses in self.expected_losses.items():
            edited = {tag.split("-")[0] for tag in self.kept.replacements(name)}
            costs = {self.costs_elsewhere[name]} if name in self.costs_elsewhere else edited
            assert losses and {test.split(":")[0] for test in losses} == costs and len(costs) == 1, name

    def test_batch_grades_everyone(self, graded: Graded) -> None:
        """The batch exits 0 with one row per notebook, each graded in the sandbox, out of the lab's maximum."""
        assert graded.proc.returncode == 0, graded.proc.stderr[-2000:]
        assert set(graded.book) == {*self.kept.names(), "lab"}
        for student, row in graded.book.items():
            assert (row["lab"], row["status"], row["sandboxed"], float(row["max_score"])) == (
                self.lab, "graded", "yes", self.full_marks(graded)), student
            assert float(row["score"]) == graded.results[student]["score"], student

    def test_every_notebook_has_the_batchs_maximum(self, graded: Graded) -> None:
        """Every notebook's maximum is the sum of its tests' points, the lab's maximum: none loses a test."""
        maxima = {s: sum(t["max_score"] for t in result["tests"]) for s, result in graded.results.items()}
        assert maxima == dict.fromkeys(graded.results, self.full_marks(graded))

    def test_test_names_are_unique(self, graded: Graded) -> None:
        """Mistakes are recognised by the names of the tests they fail, so no two tests share a name."""
        names = [t["name"] for t in graded.results["solution"]["tests"]]
        assert len(names) == len(set(names)) == self.test_count

    def test_solution_scores_full_marks(self, graded: Graded) -> None:
        """The reference solution passes every public and hidden test that can run."""
        row, tests = graded.book["solution"], graded.results["solution"]["tests"]
        assert float(row["score"]) == float(row["max_score"]) == self.full_marks(graded) > 0
        assert [t["name"] for t in tests if t["status"] != self.status(graded, t, "passed")] == []

    def test_untouched_student_notebook_scores_zero(self, graded: Graded) -> None:
        """The generated lab notebook, as students get it, runs to the end (stubs raise) and earns nothing,
        without a grader error, over the same tests as the solution."""
        row, tests = graded.book["lab"], graded.results["lab"]["tests"]
        assert (row["status"], float(row["score"]), row["message"]) == ("graded", 0.0, "")
        assert float(row["max_score"]) == self.full_marks(graded)
        assert [t["name"] for t in tests] == [t["name"] for t in graded.results["solution"]["tests"]]
        assert [t["name"] for t in tests if t["status"] != self.status(graded, t, "failed")] == []

    def test_other_correct_solutions_score_full_marks(self, graded: Graded, correct: str) -> None:
        """A correct answer in another style (libraries, structure, idioms) earns full marks."""
        tests = graded.results[correct]["tests"]
        failed = [(t["name"], t["output"][:300]) for t in tests if t["status"] != self.status(graded, t, "passed")]
        assert failed == [] and lost_points(graded.results[correct]) == {}
        assert float(graded.book[correct]["score"]) == self.full_marks(graded)

    def test_mistake_loses_exactly_its_points(self, graded: Graded, mistake: str) -> None:
        """A typical mistake fails the tests about it, and no other."""
        expected = self.losses(graded, mistake)
        assert lost_points(graded.results[mistake]) == expected
        assert float(graded.book[mistake]["score"]) == self.full_marks(graded) - sum(expected.values())

    def test_lesson_carries_real_weight(self, graded: Graded) -> None:
        """What the lab is for beyond syntax weighs at least 15 % of it, not a token."""
        tests = graded.results["solution"]["tests"]
        lesson = [t for t in tests
                  if t["name"].split(":")[0] in self.lesson_exercises or t["name"] in self.lesson_tests]
        assert {t["name"] for t in lesson} >= set(self.lesson_tests)
        assert sum(t["max_score"] for t in lesson) >= LESSON_SHARE * self.full_marks(graded) > 0, self.lesson

    def test_hidden_failures_do_not_show_the_test(self, graded: Graded) -> None:
        """A failed hidden test shows its exercise and that it failed, not the test's values; a passed one
        shows nothing. The lab's ``hidden_failure`` is one such test a mistake fails."""
        mistake, start = self.hidden_failure
        shown = {(s, t["name"]): t for s, result in graded.results.items()
                 for t in (result["tests"][i] for i in result["hidden_tests"]) if t["status"] != "not run"}
        assert any(student == mistake and name.startswith(start) and t["status"] == "failed"
                   for (student, name), t in shown.items())
        assert {key: t["output"] for key, t in shown.items()} == {key: HIDDEN_OUTPUT[t["status"]]
                                                                 for key, t in shown.items()}

    def test_solution_grades_within_a_minute(self, graded: Graded) -> None:
        """Executing the solution and running every test takes under a minute (unless the lab says why it may
        not), and fits in the lab's own time limit, sandboxed, in a busy batch."""
        assert 0 < float(graded.book["solution"]["execution_time"]) < self.time_limit(graded)
