"""The pytest plugin: the ``nb`` fixture, the ``points`` and ``exercise`` markers, one result per test.

pytest runs in the grader's process, never in the student's kernel, so
nothing a notebook patches can change how a test decides. The plugin records
each test's outcome itself, from pytest's reports, instead of reading
anything the run printed.

A test that errors for a reason of its own (a typo in it, a broken fixture, a
module that does not load) is the lab's error, not the student's failed test:
the rule that tells them apart is :mod:`grader.testing.blame`'s, and such errors
end the run as :class:`grader.errors.TestsBroken`, one line per test naming it
and the reason. A test the student failed gets a message a student can act on
(:mod:`grader.testing.messages`), never pytest's introspection.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.errors import InternalError, TestsBroken, UsageError
from grader.testing.blame import TestFiles, lab_fault, one_line
from grader.testing.exercises import ExerciseSelection, UnknownExercise, exercise_of, marker_exercise
from grader.testing.messages import Compared, failure

CRASH_MESSAGE_LIMIT = 2000
STATEMENT_CHARS = 200
EMPTY_INI = Path(__file__).with_name("grading.ini")
_OWN_MODULES = ("_pytest", "pluggy", __name__)
MANUAL = "graded by hand"
SCORE = "score"  # a test's recorded property that is its partial score (grader.testing.imported)


@dataclass
class TestOutcome:
    """One test's result, before it becomes a line of the results file."""

    __test__ = False  # a pytest collector must not take this for a test class

    nodeid: str
    name: str
    points: float
    hidden: bool
    passed: bool = False
    output: str = ""
    not_run: str = ""  # why the test could not run here (it called pytest.skip): its points do not count
    exercise: str = ""  # the exercise it belongs to (grader.testing.exercises), "" for none
    failure: str = ""  # the message of its first failure, for the student
    kernel_side: bool = False  # marked kernel_side: it judges in the student's kernel
    manual: bool = False  # marked manual: an item graded by hand, never run
    earned: float | None = None  # a passed test's partial score, if it recorded one (SCORE)


class GradingPlugin:
    """Gives tests the ``nb`` fixture and collects their outcomes."""

    def __init__(self, nb, hidden_dir: Path | None, unavailable: str = ""):
        self._nb = nb
        self._unavailable = unavailable
        self._hidden_dir = hidden_dir.resolve() if hidden_dir else None
        self._files = TestFiles(())
        self._compared: tuple[object, int, Compared] | None = None  # the last assert's (frame, line, values)
        self._load_errors: dict[str, str] = {}
        self.outcomes: dict[str, TestOutcome] = {}
        self.broken: list[str] = []  # the lab's own errors, one line each
        self.failures: list[InternalError] = []  # the grader's own errors (a kit's) raised in a test

    @pytest.fixture(scope="session")
    def nb(self):
        """The executed notebook (see grader.testing.notebook.Notebook)."""
        if self._nb is None:
            pytest.fail(self._unavailable or "the notebook could not be run", pytrace=False)
        return self._nb

    def pytest_configure(self, config) -> None:
        # A failure's message is this plugin's own (failure()); pytest's long report of it, which parses
        # each test file again per failing test and searches every loaded module for each frame's source,
        # was a tenth of a job's time. Python's own traceback is all pytest then keeps. The option is the
        # terminal's (disabled here), so it is set, not passed.
        config.option.tbstyle = "native"
        config.addinivalue_line("markers", "points(n): the test's weight in the grade (default 1)")
        config.addinivalue_line("markers", "exercise(id): the exercise the test belongs to, such as 'q1' "
                                           "(default: the qN in the test's name)")
        config.addinivalue_line("markers", "kernel_side: the test judges in the student's kernel (an imported "
                                           "test that could not be converted): results say a submission could forge it")
        config.addinivalue_line("markers", "manual: an item graded by hand, worth the test's points; never run")
        self._files = TestFiles(Path(arg) for arg in config.args)

    def pytest_exception_interact(self, node, call, report) -> None:
        """A module that does not load: its error in one line (pytest wraps it in a CollectError)."""
        if isinstance(node, pytest.Collector) and call.excinfo is not None:
            error = call.excinfo.value
            self._load_errors[report.nodeid] = one_line(error.__cause__ or error)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            reason = self._load_errors.get(report.nodeid) or report.longreprtext.strip().splitlines()[-1:]
            self.broken.append(f"{report.nodeid} does not load: {''.join(reason)}")

    def pytest_collection_finish(self, session) -> None:
        for item in session.items:  # the final list, after -k or an exercise has deselected
            try:
                marker_exercise(item)
                points = test_points(item)
            except (TypeError, TestsBroken) as exc:
                self.broken.append(f"test {item.nodeid}: {exc}")
                continue
            self.outcomes[item.nodeid] = TestOutcome(
                item.nodeid, test_name(item), points, self._is_hidden(item), exercise=exercise_of(item),
                kernel_side=item.get_closest_marker("kernel_side") is not None,
                manual=item.get_closest_marker("manual") is not None)

    def pytest_runtest_setup(self, item) -> None:
        """An item graded by hand is never run: its points wait for a person (grade review)."""
        outcome = self.outcomes.get(item.nodeid)
        if outcome is not None and outcome.manual:
            pytest.skip(MANUAL)

    def pytest_assertrepr_compare(self, config, op, left, right) -> None:
        """Keep the values of the comparison a failing ``assert`` makes, with the frame making it."""
        frame = inspect.currentframe()
        while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(_OWN_MODULES):
            frame = frame.f_back
        if frame is not None:
            self._compared = (frame, frame.f_lineno, Compared(op, left, right))
        return None  # pytest's own explanation still goes to the tests' author

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """Whose error it is: a kit's failure is the grader's, a test's own error the lab's, the rest
        the student's failed test, with its message."""
        if call.excinfo is not None:
            self._judge(item, call)
        self._compared = None
        yield

    def _judge(self, item, call) -> None:
        excinfo = call.excinfo
        if excinfo.errisinstance(InternalError):
            self.failures.append(excinfo.value)
            return
        if excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
            return
        reason = lab_fault(item, call.when, excinfo, self._files, type(self._nb).__name__)
        if reason is not None:
            self.broken.append(f"test {item.nodeid} errors by itself: {reason}")
            return
        outcome = self.outcomes.get(item.nodeid)
        if outcome is not None and not outcome.failure:
            outcome.failure = failure(excinfo.value, outcome.exercise, comparison=self._comparison(excinfo.value),
                                      statement="" if outcome.hidden else _statement(excinfo),
                                      executed=getattr(self._nb, "notebook", None))

    def _comparison(self, exc: BaseException) -> Compared | None:
        """The values of the failed assert that raised ``exc``, if the plugin saw it compare them."""
        if self._compared is None or not isinstance(exc, AssertionError):
            return None
        frame, line, comparison = self._compared
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        return comparison if tb is not None and tb.tb_frame is frame and tb.tb_lineno == line else None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report) -> None:
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            return
        if report.when == "call":
            outcome.passed = report.passed
            if report.passed and report.user_properties:  # measurements a test reported (record_property)
                outcome.output = "; ".join(f"{key}: {value}" for key, value in report.user_properties)
                outcome.earned = _earned(report.user_properties, outcome.points)
        if report.skipped and report.when != "teardown":
            outcome.passed, outcome.not_run = False, _skip_reason(report)
        elif report.failed:
            outcome.passed = False
            outcome.output = outcome.failure or _crash_message(report)

    def _is_hidden(self, item) -> bool:
        return self._hidden_dir is not None and self._hidden_dir in Path(item.path).resolve().parents


def test_name(item) -> str:
    """The first line of the test's docstring, else its function name (with parameters)."""
    func = getattr(item, "function", None)
    doc = (func.__doc__ or "").strip() if func is not None else ""
    base = getattr(item, "originalname", item.name)
    return (doc.splitlines()[0].strip() if doc else base) + item.name[len(base):]


def test_points(item) -> float:
    marker = item.get_closest_marker("points")
    if marker is None:
        return 1.0
    value = marker.args[0] if marker.args else marker.kwargs.get("n", 1)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TestsBroken(f"points must be a number >= 0, not {value!r}")
    return float(value)


def _earned(properties: list[tuple[str, object]], points: float) -> float | None:
    """The partial score a passed test recorded (the last ``SCORE`` property), within its points."""
    scores = [value for key, value in properties if key == SCORE]
    if not scores or isinstance(scores[-1], bool) or not isinstance(scores[-1], (int, float)):
        return None
    return min(max(float(scores[-1]), 0.0), points) if math.isfinite(scores[-1]) else 0.0


def _skip_reason(report) -> str:
    """What ``pytest.skip(reason)`` said; pytest keeps it as ``(path, line, "Skipped: reason")``."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")[:CRASH_MESSAGE_LIMIT] or "skipped"


def _crash_message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text[-CRASH_MESSAGE_LIMIT:]


def _statement(excinfo) -> str:
    """The source of the statement that failed, in one line (for a public test's failed assert)."""
    if not excinfo.errisinstance(AssertionError):
        return ""
    try:
        text = " ".join(str(excinfo.traceback[-1].statement).split())
    except Exception:  # no source to read: the message goes without it
        return ""
    return text if len(text) <= STATEMENT_CHARS else text[: STATEMENT_CHARS - 1] + "…"


def run_tests(test_dirs: list[Path], plugin: GradingPlugin, rootdir: Path, select: str | None = None,
              kits: list[object] = ()) -> None:
    """Run pytest on ``test_dirs`` in this process, with the kits' plugins beside ours. ``select`` is
    an exercise (exactly its tests: grader.testing.exercises) or a pytest ``-k`` expression. Raises
    the first InternalError a test raised (a kit's failure), TestsBroken naming each test that errs by
    itself or does not load, UnknownExercise for an exercise no test has."""
    args = [str(d) for d in test_dirs] + [
        "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:faulthandler", "-p", "no:randomly",
        "-p", "no:unraisableexception", "-p", "no:threadexception", "--disable-plugin-autoload",
        "--import-mode=importlib", f"--rootdir={rootdir}", "-c", str(EMPTY_INI),
    ]
    selection = [ExerciseSelection(select)] if select else []
    if select:
        args += ["-k", select]
    said = _Tail()  # what pytest itself prints (its terminal is off): said in our own one line instead
    with contextlib.redirect_stderr(said):
        code = pytest.main(args, plugins=[plugin, *kits, *selection])
    if plugin.failures:
        raise plugin.failures[0]
    if plugin.broken:
        raise TestsBroken("; ".join(plugin.broken))
    if selection and selection[0].unknown:
        raise UnknownExercise(selection[0].unknown)
    why = _last_line(said.text)
    if code == pytest.ExitCode.USAGE_ERROR and select:
        raise UsageError(f"{select!r} is neither an exercise (such as q1) nor a pytest -k expression ({why})")
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise TestsBroken(f"pytest could not run the tests (exit {int(code)}): {why}")


class _Tail(io.TextIOBase):
    """A stream that keeps only the end of what is written to it."""

    def __init__(self):
        super().__init__()
        self.text = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text = (self.text + text)[-CRASH_MESSAGE_LIMIT:]
        return len(text)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1].removeprefix("ERROR: ").removeprefix("INTERNALERROR> ") if lines else "it said nothing"
    return last if len(last) <= CRASH_MESSAGE_LIMIT else last[: CRASH_MESSAGE_LIMIT - 1] + "…"
