"""The student's tests, run against each implementation the lab gives, each in a fresh sandbox.

:func:`run_tests` copies the test files and one implementation (as ``<module>.py``) into a new
sandbox of the kernel's backend, runs pytest there (:mod:`.inside.pytest_run`) and reads the
outcome from outside: the exit status of the sandbox's process (pytest's own), or the clock.
One sandbox per implementation, one after the other (the grader shares its cores): nothing a
test leaves behind, a process or a file, reaches the next run, since the sandbox is closed
(every process in it killed) and its folders removed before the next one opens.

The student's tests decide passed or failed, as tests do; what they cannot do is report an
outcome: nothing they print or write is read but the tail of pytest's output, shown as
``detail`` for feedback.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

from grader.engine.sandbox import Backend, Limits
from grader.kits.mutation.inside import pytest_run
from grader.kits.sandboxed import finished, host_copies, kit_failures, notebook_backend, sandboxed, shared_file

Status = Literal["passed", "failed", "error", "timeout"]
TEST_NAME = re.compile(r"test_[A-Za-z0-9_]{1,64}\.py")
TEST_LIMIT = 256 * 2**10  # bytes of one test file
TEST_FILES = 16
SOURCE_LIMIT = 2**20  # bytes of one implementation (the lab's)
DETAIL_LIMIT = 2000  # characters of pytest's output kept, from its end
EXIT_STATUSES: dict[int, Status] = {0: "passed", 1: "failed"}  # pytest's; any other is an error


class TestsError(ValueError):
    """The student's test files cannot be run at all; the message says why, for the student."""

    __test__ = False  # not a test class, for pytest's collection


@dataclass(frozen=True)
class Outcome:
    """How the student's tests ended against one implementation, and the tail of their output."""

    status: Status
    detail: str


def run_tests(backend: Backend | None, tests: dict[str, bytes | None], module: str,
              implementations: dict[str, str | bytes], timeout: float = 20.0) -> dict[str, Outcome]:
    """The outcome of the student's ``tests`` (file name -> content, as read out of the kernel;
    None for a file that could not be read) against each of ``implementations`` (name -> the
    source of ``<module>.py``), by name. ``backend`` None: the default sandbox here (for
    ``check()``, where ``nb`` has no backend; see :func:`grader.kits.sandboxed.notebook_backend`).
    TestsError if the test files cannot be run; KitError if the kit itself failed."""
    tests = _checked_tests(tests, module)
    backend = backend or notebook_backend(None)
    sources = {name: _source(name, source) for name, source in implementations.items()}
    with kit_failures("running the student's tests"):
        return {name: _run(backend, {**tests, f"{module}.py": source}, timeout) for name, source in sources.items()}


def _checked_tests(tests: dict[str, bytes | None], module: str) -> dict[str, bytes]:
    """The test files, if they can be run: plain ``test_*.py`` names, bytes within TEST_LIMIT."""
    if not module.isidentifier() or TEST_NAME.fullmatch(f"{module}.py"):
        raise ValueError(f"not a module name for the implementations: {module!r}")
    if not tests or len(tests) > TEST_FILES:
        raise TestsError(f"between 1 and {TEST_FILES} test files are run; {len(tests)} were given")
    for name, data in tests.items():
        if not isinstance(name, str) or not TEST_NAME.fullmatch(name):
            raise TestsError(f"{str(name)[:80]!r} is not a test file's name pytest collects (test_<name>.py)")
        if not isinstance(data, bytes):
            raise TestsError(f"{name} is missing: run the cell that writes it")
        if len(data) > TEST_LIMIT:
            raise TestsError(f"{name} is over {TEST_LIMIT >> 10} KiB")
    return tests


def _source(name: str, source: str | bytes) -> bytes:
    data = source.encode() if isinstance(source, str) else source
    if not isinstance(data, bytes) or len(data) > SOURCE_LIMIT:
        raise ValueError(f"implementation {name!r}: not source text of at most {SOURCE_LIMIT >> 10} KiB")
    return data


def _limits(timeout: float) -> Limits:
    """What one run may use: its CPU time a little past the clock's limit, so that the clock
    decides (a timeout), unless a test spins on several processes."""
    return Limits(memory=512, cpu_seconds=int(timeout) + 10, processes=32, file_size=16, scratch=32, tmp=32)


def _run(backend: Backend, files: dict[str, bytes], timeout: float) -> Outcome:
    """pytest on ``files`` in a fresh sandbox, judged by its exit status or the clock."""
    deadline = time.monotonic() + timeout
    with host_copies(files) as folder, \
            sandboxed(backend, sorted(folder / n for n in files), _limits(timeout), pytest_run) as (_, process, shared):
        done = finished(process, deadline)
        detail = shared_file(shared / pytest_run.LOG, DETAIL_LIMIT * 4, tail=True).decode("utf-8", "replace")
    detail = detail[-DETAIL_LIMIT:].strip()
    if not done:
        return Outcome("timeout", f"the tests did not finish within {timeout:g} s\n{detail}".strip())
    return Outcome(EXIT_STATUSES.get(process.returncode, "error"), detail)
