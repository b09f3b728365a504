"""What a grade is: one result per (student, lab), one line per test, and their statuses.

The statuses are enums whose values are the strings of the contract (the
gradebook's ``status`` column, a test's ``status`` in the results JSON), so a
result compares equal to the plain strings scripts read. Whether a test is
hidden is a flag the runner sets from where the test lives, stored in the
results file (``hidden_tests``: the indices of the hidden tests), and never
recovered from what a test's output says. The exercise a test belongs to (``q1``) is
kept the same way, at the result's level (``exercises``: each exercise's subtotal and the
indices of its tests), so that each test's entry stays exactly Gradescope's. So are two marks
of tests a course imported from nbgrader or otter (grader.course.imports): ``kernel_side_tests``,
the tests that judged in the student's kernel (a submission could forge them), and
``manual_tests``, the items graded by hand (``{"test": index, "points": n}``), which the
automatic grade leaves out of its maximum. A lab with a deadline adds ``late``
(grader.results.late): the file's ``score`` is then the score less the late penalty, and the
tests keep the points they earned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from grader.results.late import Late


class Status(StrEnum):
    """How grading one submission ended."""

    GRADED = "graded"  # the notebook ran to its end and the tests ran
    TIMEOUT = "timeout"  # a cell, the notebook or a step of grading took longer than allowed
    MEMORY = "memory"  # the kernel used more memory than the lab allows
    CRASHED = "crashed"  # the kernel, or the grading of this submission, died
    INVALID = "invalid"  # not a notebook the grader can run (or not of a lab of this course)


class TestStatus(StrEnum):
    """How one test ended."""

    __test__ = False  # a pytest collector must not take this for a test class

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not run"  # what it needs is missing here: its points are left out of max_score


STATUSES = tuple(Status)
NOT_RUN = TestStatus.NOT_RUN


@dataclass
class TestResult:
    """One test, as Gradescope shows it."""

    __test__ = False

    name: str
    score: float
    max_score: float
    status: TestStatus  # passed, failed, or NOT_RUN (then score = max_score = 0)
    output: str = ""
    visibility: str = "visible"
    hidden: bool = False  # a hidden test: students see its name and result only
    exercise: str = ""  # the exercise the test belongs to ("q1"); "" for none
    kernel_side: bool = False  # it judged in the student's kernel: a submission could forge it
    manual: float | None = None  # an item graded by hand, worth this many points (then NOT_RUN here)

    def __post_init__(self):
        self.status = TestStatus(self.status)

    def to_json(self) -> dict:
        """Gradescope's fields of a test (``hidden`` and ``exercise`` are kept at the result's level)."""
        return {"name": self.name, "score": self.score, "max_score": self.max_score, "status": str(self.status),
                "output": self.output, "visibility": self.visibility}


OTHER = "other"  # how the tests that belong to no exercise are named beside those that do


@dataclass(frozen=True)
class Subtotal:
    """One exercise's share of a result, so that a student sees which exercise lost the points."""

    exercise: str  # its id; "" for the tests that belong to no exercise
    score: float
    max_score: float  # without the points of its tests that could not run, as the result's
    passed: int
    tests: tuple[int, ...]  # indices into Result.tests, in test order

    @property
    def label(self) -> str:
        """The name to show: the id, or OTHER."""
        return self.exercise or OTHER

    @property
    def total(self) -> int:
        return len(self.tests)

    def to_json(self) -> dict:
        return {"exercise": self.exercise, "score": self.score, "max_score": self.max_score,
                "passed": self.passed, "tests": list(self.tests)}


@dataclass
class Result:
    """The grade of one student's notebook for one lab."""

    student: str
    lab: str
    status: Status
    tests: list[TestResult] = field(default_factory=list)
    message: str = ""
    execution_time: float = 0.0
    sandboxed: bool = True
    origin: str = ""
    fingerprint: str = ""  # of everything the grade depends on; equal fingerprints, equal grades
    reused: bool = False  # taken from an earlier run, not graded again (not stored in the file)
    executed: str = ""  # the executed notebook (nbformat JSON), saved beside the results file
    fingerprint_parts: dict[str, str] = field(default_factory=dict)  # "grader", "tests", "submission"
    late: Late | None = None  # against the lab's deadline, when it has one (grader.results.late)

    def __post_init__(self):
        try:
            self.status = Status(self.status)
        except ValueError:
            raise ValueError(f"unknown status {self.status!r}") from None

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    @property
    def final_score(self) -> float:
        """The score with the late penalty taken off (``score`` is before it)."""
        return self.late.final(self.score, self.max_score) if self.late else self.score

    @property
    def late_note(self) -> str:
        """The late record in one sentence, penalty and score before it included ("" for no deadline)."""
        return self.late.describe(self.score, self.max_score) if self.late else ""

    @property
    def incomplete(self) -> bool:
        """Some tests could not run where this was graded (items graded by hand never run)."""
        return any(t.status == NOT_RUN and t.manual is None for t in self.tests)

    def subtotals(self) -> list[Subtotal]:
        """One per exercise in the order exercises first appear, the tests of none last; no
        subtotal at all when no test belongs to an exercise (a lab without exercises)."""
        if not any(t.exercise for t in self.tests):
            return []
        groups: dict[str, list[int]] = {}
        for index, test in enumerate(self.tests):
            groups.setdefault(test.exercise, []).append(index)
        return [self._subtotal(exercise, groups[exercise]) for exercise in sorted(groups, key=lambda e: e == "")]

    def _subtotal(self, exercise: str, indices: list[int]) -> Subtotal:
        tests = [self.tests[i] for i in indices]
        return Subtotal(exercise, round(sum(t.score for t in tests), 4), round(sum(t.max_score for t in tests), 4),
                        sum(t.status == TestStatus.PASSED for t in tests), tuple(indices))

    def to_json(self) -> dict:
        """Gradescope's results.json, with our own fields added."""
        return {
            "score": self.final_score, "max_score": self.max_score, "status": str(self.status),
            "execution_time": round(self.execution_time, 3), "output": self.message,
            "student": self.student, "lab": self.lab, "sandboxed": self.sandboxed, "origin": self.origin,
            "fingerprint": self.fingerprint, "fingerprint_parts": self.fingerprint_parts,
            "tests": [t.to_json() for t in self.tests],
            "hidden_tests": [i for i, t in enumerate(self.tests) if t.hidden],
            "exercises": [s.to_json() for s in self.subtotals()],
            "kernel_side_tests": [i for i, t in enumerate(self.tests) if t.kernel_side],
            "manual_tests": [{"test": i, "points": t.manual} for i, t in enumerate(self.tests) if t.manual is not None],
        } | ({"late": self.late.to_json(self.score, self.max_score)} if self.late else {})

    @classmethod
    def from_json(cls, data: dict) -> Result:
        """The result a results file holds; ValueError (or KeyError, TypeError) if it is not one."""
        hidden, kernel_side = set(data.get("hidden_tests", ())), set(data.get("kernel_side_tests", ()))
        manual = {int(m["test"]): float(m["points"]) for m in data.get("manual_tests", ())}
        exercise = _exercises(data.get("exercises", ()))
        tests = [TestResult(**t, hidden=i in hidden, exercise=exercise.get(i, ""), kernel_side=i in kernel_side,
                            manual=manual.get(i)) for i, t in enumerate(data["tests"])]
        parts = data.get("fingerprint_parts", {})
        if not isinstance(parts, dict) or not all(isinstance(v, str) for v in parts.values()):
            raise TypeError("fingerprint_parts is not a table of digests")
        return cls(data["student"], data["lab"], data["status"], tests, data["output"],
                   float(data["execution_time"]), bool(data["sandboxed"]), data.get("origin", ""),
                   data.get("fingerprint", ""), fingerprint_parts=parts, late=Late.from_json(data.get("late")))


def _exercises(entries: list) -> dict[int, str]:
    """Each test's exercise, by the test's index, from a results file's ``exercises`` (an older
    file has none: every test then belongs to no exercise, as it did)."""
    exercise = {}
    for entry in entries:
        if not isinstance(entry["exercise"], str):
            raise TypeError(f"an exercise id is not a string: {entry['exercise']!r}")
        exercise.update(dict.fromkeys(entry["tests"], entry["exercise"]))
    return exercise
