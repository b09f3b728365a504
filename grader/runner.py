"""One submission, end to end: read, sandbox, execute, test, result.

This is the whole path of a submission through the grader; every step is a
call into the module that owns it. ``grade`` runs in a worker process of its
own (see :mod:`grader.executors`), so that the tests' imports and any state
they leave die with it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.course import Course, Lab
from grader.discover import Submission
from grader.execute import execute
from grader.kernel import Kernel
from grader.llm_server import sandbox_service
from grader.notebook import Notebook
from grader.plugin import GradingPlugin, run_tests
from grader.results import NOT_RUN, Result, TestResult
from grader.sandbox import Limits, get_backend


@dataclass(frozen=True)
class Job:
    """What a worker needs to grade one submission; small and picklable."""

    submission: Submission
    course_root: Path
    backend: str = "bwrap"
    hidden: bool = True  # False for ``grade check``: public tests only
    select: str | None = None  # a pytest -k expression
    fingerprint: str = ""  # see grader.batch: stored with the result


def grade(job: Job) -> Result:
    """Grade one submission. Problems of the submission become a status; problems
    of the grader (a broken sandbox, tests that do not load) raise."""
    started = time.monotonic()
    sub = job.submission
    backend = get_backend(job.backend)
    base = Result(sub.student, sub.lab, "invalid", sandboxed=backend.sandboxed, origin=sub.origin,
                  fingerprint=job.fingerprint)
    course = Course(job.course_root)
    if sub.lab not in course.lab_ids():
        base.message = sub.problem or f"no lab {sub.lab!r} in this course"
        return base
    lab = course.lab(sub.lab)
    problem, nb = sub.problem, None
    if problem is None:
        nb, problem = read_notebook(sub)
    if problem is not None:
        base.message = problem
        base.tests, base.hidden_tests = _test_results(
            lab, job, GradingPlugin(None, lab.hidden_tests, f"not graded: {problem}"))
        return base
    base.status, base.message, (base.tests, base.hidden_tests), base.executed = _run(lab, job, backend, nb)
    base.execution_time = time.monotonic() - started
    return base


def read_notebook(sub: Submission) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The submitted notebook, or the reason it cannot be read."""
    try:
        nb = nbformat.reads(sub.read_bytes().decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except (OSError, UnicodeDecodeError, ValueError, nbformat.ValidationError, KeyError, TypeError) as exc:
        return None, f"not a valid notebook: {str(exc)[:300]}"
    if not any(cell.cell_type == "code" for cell in nb.cells):
        return None, "the notebook has no code cells"
    return nb, None


def limits_for(lab: Lab) -> Limits:
    s = lab.settings
    return Limits(memory=s.memory, cpu_seconds=int(s.timeout * 2) + 60)


def _run(lab: Lab, job: Job, backend, nb) -> tuple[str, str, tuple[list[TestResult], list[str]], str]:
    with contextlib.ExitStack() as stack:
        service, llm = stack.enter_context(sandbox_service()) if lab.settings.llm else (None, None)
        kernel = Kernel(backend, lab.student_files(), limits_for(lab), (service,) if service else ())
        stack.callback(kernel.close)
        kernel.start()
        execution = execute(kernel, nb, lab.settings.cell_timeout, lab.settings.timeout)
        handle = None
        if execution.status == "graded":
            handle = Notebook(kernel, execution.notebook, lab.settings.cell_timeout, lab.settings.timeout)
        plugin = GradingPlugin(handle, lab.hidden_tests, f"not run: {execution.message}", llm)
        tests = _test_results(lab, job, plugin)
    message = execution.message
    if execution.truncated:
        message = (message + "; " if message else "") + "output was truncated"
    return execution.status, message, tests, nbformat.writes(execution.notebook)


def _test_results(lab: Lab, job: Job, plugin: GradingPlugin) -> tuple[list[TestResult], list[str]]:
    """Each test's result, and the names of the hidden ones."""
    run_tests(lab.test_dirs(job.hidden), plugin, job.course_root, job.select)
    outcomes = plugin.outcomes.values()
    return ([_test_result(o, lab.settings.show_hidden_output) for o in outcomes],
            [o.name for o in outcomes if o.hidden])


def _test_result(outcome, show_hidden_output: bool) -> TestResult:
    """A test that could not run here (no Docker engine, say) is reported as such and
    left out of ``max_score``: never passed silently, never a loss the student caused."""
    if outcome.not_run:
        return TestResult(outcome.name, 0.0, 0.0, NOT_RUN,
                          f"not run: {outcome.not_run} ({outcome.points:g} point{'' if outcome.points == 1 else 's'} "
                          "left out of the maximum)")
    output = outcome.output
    if outcome.hidden and not show_hidden_output:
        output = "" if outcome.passed else "failed (hidden test)"
    return TestResult(outcome.name, outcome.points if outcome.passed else 0.0, outcome.points,
                      "passed" if outcome.passed else "failed", output)
