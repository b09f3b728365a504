"""The pytest plugin: the ``nb`` fixture, the ``points`` marker, and one result per test.

pytest runs in the grader's process, never in the student's kernel, so
nothing a notebook patches can change how a test decides. The plugin records
each test's outcome itself, from pytest's reports, instead of reading
anything the run printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.errors import InternalError, TestsBroken

CRASH_MESSAGE_LIMIT = 2000
EMPTY_INI = Path(__file__).with_name("grading.ini")




@dataclass
class TestOutcome:
    """One test's result, before it becomes a line of the results file."""

    nodeid: str
    name: str
    points: float
    hidden: bool
    passed: bool = False
    output: str = ""
    not_run: str = ""  # why the test could not run here (it called pytest.skip): its points do not count


class GradingPlugin:
    """Gives tests the ``nb`` fixture and collects their outcomes."""

    def __init__(self, nb, hidden_dir: Path | None, unavailable: str = ""):
        self._nb = nb
        self._unavailable = unavailable
        self._hidden_dir = hidden_dir.resolve() if hidden_dir else None
        self.outcomes: dict[str, TestOutcome] = {}
        self.broken: list[str] = []
        self.failures: list[InternalError] = []  # the grader's own errors (a kit's) raised in a test

    @pytest.fixture(scope="session")
    def nb(self):
        """The executed notebook (see grader.testing.notebook.Notebook)."""
        if self._nb is None:
            pytest.fail(self._unavailable or "the notebook could not be run", pytrace=False)
        return self._nb

    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "points(n): the test's weight in the grade (default 1)")

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.broken.append(f"{report.nodeid}: {report.longreprtext[-CRASH_MESSAGE_LIMIT:]}")

    def pytest_collection_finish(self, session) -> None:
        for item in session.items:  # the final list, after -k has deselected
            self.outcomes[item.nodeid] = TestOutcome(
                item.nodeid, test_name(item), test_points(item), self._is_hidden(item))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """A kit's failure inside a test is the grader's error, not the student's failed test."""
        if call.excinfo is not None and call.excinfo.errisinstance(InternalError):
            self.failures.append(call.excinfo.value)
        yield

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report) -> None:
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            return
        if report.when == "call":
            outcome.passed = report.passed
            if report.passed and report.user_properties:  # measurements a test reported (record_property)
                outcome.output = "; ".join(f"{key}: {value}" for key, value in report.user_properties)
        if report.skipped and report.when != "teardown":
            outcome.passed, outcome.not_run = False, _skip_reason(report)
        elif report.failed:
            outcome.passed = False
            outcome.output = outcome.output or _crash_message(report)

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
        raise TestsBroken(f"{item.nodeid}: points must be a number >= 0, not {value!r}")
    return float(value)


def _skip_reason(report) -> str:
    """What ``pytest.skip(reason)`` said; pytest keeps it as ``(path, line, "Skipped: reason")``."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")[:CRASH_MESSAGE_LIMIT] or "skipped"


def _crash_message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text[-CRASH_MESSAGE_LIMIT:]


def run_tests(test_dirs: list[Path], plugin: GradingPlugin, rootdir: Path, select: str | None = None,
              kits: list[object] = ()) -> None:
    """Run pytest on ``test_dirs`` in this process, with the kits' plugins beside ours; TestsBroken
    if they do not load, and the first InternalError a test raised (a kit's failure)."""
    args = [str(d) for d in test_dirs] + [
        "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:faulthandler", "-p", "no:randomly",
        "-p", "no:unraisableexception", "-p", "no:threadexception", "--disable-plugin-autoload",
        "--import-mode=importlib", f"--rootdir={rootdir}", "-c", str(EMPTY_INI),
    ]
    if select:
        args += ["-k", select]
    code = pytest.main(args, plugins=[plugin, *kits])
    if plugin.failures:
        raise plugin.failures[0]
    if plugin.broken or code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise TestsBroken("; ".join(plugin.broken) or f"pytest could not run the tests (exit {int(code)})")
