"""Whose error is it when a test errors: the lab's own, or the student's?

A test that fails because of the notebook is the student's failed test. A test
that errors for a reason of its own (a typo in the test, a broken fixture) would
fail for every student alike; charging them for it is wrong, so it is the lab's
error instead (:class:`grader.errors.TestsBroken`: the batch reports it naming the
test, and no student is graded against it). Tests run in the grader's process
and see the notebook only through ``nb`` (values decoded into plain data), so the
traceback tells the two apart. The rule, applied in this order:

1. pytest complains about the tests themselves (every frame is pytest's: a fixture
   that does not exist, a scope mismatch): the lab's.
2. What the notebook caused is the student's: an exception that came out of ``nb``
   (NotebookError: the notebook's code raised), a value that cannot cross the
   boundary (CodecError), a call that took too long or a kernel that died, a failed
   ``assert``, and ``pytest.fail`` (the ``nb`` fixture's own "the notebook could not
   be run" among them).
3. Errors that only the tests' own code can make, raised in a frame of a file of the
   lab's test folders, are the lab's: a NameError or UnboundLocalError raised there;
   an ImportError on the way through one; a SyntaxError in one of those files; an
   AttributeError on a module (decoded values are never modules); a TypeError from
   calling a function of the tests, or a method of ``nb``, with the wrong arguments
   (``helper() missing 1 required positional argument``). A TypeError of any other
   kind (the test's comparison meeting a value of the wrong type that the student
   returned) stays the student's.
4. In a fixture's setup or teardown, any other error is the lab's when no value of
   the student's can reach that fixture: neither it nor a fixture it depends on
   (transitively) is ``nb`` or a kit's fixture; only the lab's and pytest's own.
5. Anything else is the student's failed test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

from grader.engine.kernel import KernelError, KernelTimeout
from grader.testing.codec import CodecError
from grader.testing.notebook import NotebookError

OUTCOMES = (pytest.fail.Exception, pytest.skip.Exception, pytest.xfail.Exception)
STUDENT_KINDS = (NotebookError, CodecError, KernelTimeout, KernelError, AssertionError, *OUTCOMES)
_BAD_CALL = re.compile(r"([\w.<>]+)\(\) (?:missing \d+ required|takes |got (?:an unexpected|multiple|some))")
_PYTEST_MODULES = ("_pytest", "pluggy", "pytest")
REASON_CHARS = 300


class TestFiles:
    """The lab's test folders: a frame in a file under one of them runs the tests' own code."""

    __test__ = False

    def __init__(self, folders: Iterable[Path]):
        self.folders = [Path(f).resolve() for f in folders]

    def holds(self, filename: object) -> bool:
        if not isinstance(filename, str) or filename.startswith("<"):
            return False
        path = Path(filename).resolve()
        return any(folder == path or folder in path.parents for folder in self.folders)


def lab_fault(item, when: str, excinfo, files: TestFiles, nb_type: str) -> str | None:
    """Why this error of ``item`` (in its ``when`` phase) is the lab's own; None when it is the student's."""
    exc = excinfo.value
    frames = _frames(exc)
    if frames and all(_module(f).startswith(_PYTEST_MODULES) for f, _ in frames):
        return one_line(exc)
    if isinstance(exc, STUDENT_KINDS):
        return None
    if _tests_own(exc, frames, files, nb_type):
        return one_line(exc)
    if when in ("setup", "teardown"):
        fixture = _raising_fixture(item, frames)
        if fixture is not None and _unreachable(item, fixture, files):
            return f"{one_line(exc)} (in fixture {fixture!r})"
    return None


def _tests_own(exc: BaseException, frames: list, files: TestFiles, nb_type: str) -> bool:
    """Rule 3: an error only the tests' own code can make, raised where the tests run."""
    in_tests = [frame for frame, _ in frames if files.holds(frame.f_code.co_filename)]
    innermost = frames[-1][0] if frames else None
    raised_in_tests = innermost is not None and files.holds(innermost.f_code.co_filename)
    if isinstance(exc, NameError):
        return raised_in_tests
    if isinstance(exc, ImportError):
        return bool(in_tests)
    if isinstance(exc, SyntaxError):
        return files.holds(exc.filename)
    if isinstance(exc, AttributeError):
        return bool(in_tests) and isinstance(getattr(exc, "obj", None), ModuleType)
    if isinstance(exc, TypeError) and raised_in_tests and (call := _BAD_CALL.match(str(exc))):
        return _defined_by_tests(call.group(1).split(".")[0], innermost, files, nb_type)
    return False


def _defined_by_tests(name: str, frame, files: TestFiles, nb_type: str) -> bool:
    """Whether ``name``, seen from ``frame``, is the ``nb`` interface or something the tests define."""
    if name == nb_type:
        return True
    target = frame.f_locals.get(name, frame.f_globals.get(name))
    code = getattr(target, "__code__", None) or getattr(getattr(target, "__init__", None), "__code__", None)
    return code is not None and files.holds(code.co_filename)


def _raising_fixture(item, frames: list) -> str | None:
    """The name of the innermost fixture of ``item`` whose function is on the traceback."""
    codes = {}
    for name, defs in _fixture_defs(item).items():
        for fixture in defs:
            code = getattr(fixture.func, "__code__", None)
            if code is not None:
                codes[code] = name
    return next((codes[frame.f_code] for frame, _ in reversed(frames) if frame.f_code in codes), None)


def _unreachable(item, fixture: str, files: TestFiles) -> bool:
    """Rule 4: ``fixture`` and all it depends on are the lab's own or pytest's."""
    defs = _fixture_defs(item)
    seen, todo = set(), [fixture]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for fixture_def in defs.get(name, ()):
            func = fixture_def.func
            code = getattr(func, "__code__", None)
            lab_or_pytest = (code is not None and files.holds(code.co_filename)) or str(
                getattr(func, "__module__", "")).startswith(_PYTEST_MODULES)
            if not lab_or_pytest:
                return False
            todo.extend(fixture_def.argnames)
    return True


def _fixture_defs(item) -> dict:
    """pytest's fixture definitions visible to ``item``, by name (empty if this pytest keeps none)."""
    info = getattr(item, "_fixtureinfo", None)
    return dict(getattr(info, "name2fixturedefs", {}) or {})


def _frames(exc: BaseException) -> list:
    """The traceback's (frame, line) pairs, outermost first."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _module(frame) -> str:
    return str(frame.f_globals.get("__name__", ""))


def one_line(exc: BaseException) -> str:
    """An error in one line: its type and message, cut."""
    if isinstance(getattr(exc, "argname", None), str):  # pytest's FixtureLookupError
        text = f"fixture {exc.argname!r} not found"
    else:
        text = getattr(exc, "msg", None) if isinstance(exc, OUTCOMES) else None
        text = " ".join(str(text if text is not None else exc).split())
    name = type(exc).__name__
    line = f"{name}: {text}" if text else name
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"
