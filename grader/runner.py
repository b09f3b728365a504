"""One submission, end to end: read, sandbox, execute, test, result, files.

This is the whole path of a submission through the grader; every step is a
call into the module that owns it. ``grade_to_disk`` runs in a worker process
of its own (see :mod:`grader.batch.executors`), so that the tests' imports and any
state they leave die with it. Before each step it tells the watchdog how long
the step may take (:class:`Steps`): a step that overruns costs this row only.
What is heavy (the executed notebook, the feedback page) is written here, in
the worker, and never travels to the batch's process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import nbformat

from grader import kits
from grader.course.discover import Submission
from grader.course.layout import Course, Lab
from grader.course.locked import given, restore
from grader.course.notebook_file import load_notebook, reason
from grader.engine.execute import Execution, execute
from grader.engine.kernel import STARTUP_TIMEOUT, Kernel
from grader.engine.sandbox import Limits, get_backend
from grader.report.feedback import executed_notebook, write_feedback
from grader.results.late import Late
from grader.results.model import NOT_RUN, Result, Status, TestResult, TestStatus
from grader.results.store import write_executed
from grader.testing.notebook import Notebook
from grader.testing.plugin import MANUAL, GradingPlugin, run_tests


@dataclass(frozen=True)
class Job:
    """What a worker needs to grade one submission; small and picklable."""

    submission: Submission
    course_root: Path
    backend: str = "bwrap"
    hidden: bool = True  # False for ``grade check``: public tests only
    select: str | None = None  # a pytest -k expression
    fingerprint: str = ""  # see grader.batch.run: stored with the result
    fingerprint_parts: tuple[tuple[str, str], ...] = ()  # its parts by what they cover (grader.batch.run)
    out: Path | None = None  # where the executed notebook and the feedback page go (grade_to_disk)
    stop: tuple[str, str] | None = None  # (status, reason): an earlier try was stopped; run nothing
    reveal: bool = False  # every test's output shown, hidden ones too: the instructor's own solution check
    prepared: tuple[tuple[str, object], ...] = ()  # (kit, what it decided for the whole batch): grader.kits.prepare
    limits: LabLimits | None = None  # the client's, on a Dask worker (grader.batch.cluster); else the lab's own
    late: Late | None = None  # against the lab's deadline (grader.course.deadlines), shown on the page


READ_SECONDS = 60.0  # reading and checking a notebook of the largest size allowed
WRITE_SECONDS = 60.0
FEEDBACK_SECONDS = 120.0
LISTING_SECONDS = 120.0  # collecting the lab's tests, to list them as not graded
TEST_OUTPUT_LIMIT = 4000  # characters of one test's output kept in the results
KERNEL_SIDE = "kernel-side: a submission could forge this test"  # said of a test that judged in the kernel


class Steps(Protocol):
    """The watchdog's view of a job (grader.batch.executors): each step, and the result early."""

    def begin(self, name: str, seconds: float) -> None:
        """``name`` starts now and may take ``seconds``."""

    def deliver(self, result: Result) -> None:
        """The result exists: what follows only adds files beside it."""

    def turn(self) -> None:
        """The kernel is up: wait until this job may use a core. A watchdog starts the next job's
        kernel while the current one's tests run, and lets it run its notebook when a core is free."""


class NoSteps:
    """No watchdog: ``grade check`` on a student's own notebook."""

    def begin(self, name: str, seconds: float) -> None:
        pass

    def deliver(self, result: Result) -> None:
        pass

    def turn(self) -> None:
        pass


def grade_to_disk(job: Job, steps: Steps, *, kernel_factory: Callable[..., Kernel] = Kernel,
                  execute_fn: Callable[..., Execution] = execute) -> None:
    """Grade ``job``, write the executed notebook to ``job.out``, hand over the result
    without it, then render the feedback page: a page that hangs costs only the page.
    ``kernel_factory`` and ``execute_fn`` go to :func:`grade`."""
    result = grade(job, steps, kernel_factory=kernel_factory, execute_fn=execute_fn)
    steps.begin("writing the executed notebook", WRITE_SECONDS)
    write_executed(job.out, result)
    steps.deliver(replace(result, executed=""))
    steps.begin("rendering the feedback page", FEEDBACK_SECONDS)
    write_feedback(job.out, result, executed_notebook(result), Course(job.course_root).title(result.lab))


NO_STEPS = NoSteps()


def grade(job: Job, steps: Steps = NO_STEPS, *, kernel_factory: Callable[..., Kernel] = Kernel,
          execute_fn: Callable[..., Execution] = execute) -> Result:
    """Grade one submission. Problems of the submission become a status; problems
    of the grader (a broken sandbox, tests that do not load) raise. The message also names the
    student's other notebooks for the lab that were not graded, whatever the status.
    ``kernel_factory`` and ``execute_fn`` are the seam for the tests' in-process fake (tests/fakes.py)."""
    result = _grade(job, steps, kernel_factory, execute_fn)
    result.message = "; ".join(part for part in (result.message, job.submission.duplicate_note) if part)
    return result


def _grade(job: Job, steps: Steps, kernel_factory: Callable[..., Kernel],
           execute_fn: Callable[..., Execution]) -> Result:
    started = time.monotonic()
    sub = job.submission
    backend = get_backend(job.backend)
    base = Result(sub.student, sub.lab, Status.INVALID, sandboxed=backend.sandboxed, origin=sub.origin,
                  fingerprint=job.fingerprint, fingerprint_parts=dict(job.fingerprint_parts), late=job.late)
    course = Course(job.course_root)
    if sub.lab not in course.lab_ids():
        base.message = sub.problem or f"no lab {sub.lab!r} in this course"
        return base
    lab = course.lab(sub.lab)
    problem, nb = sub.problem, None
    lab_notebook = given(lab.notebook)  # read once: what a submission must have, its locked cells
    if job.stop is not None:
        base.status, problem = job.stop
    elif problem is None:
        steps.begin("reading the notebook", READ_SECONDS)
        nb, problem = read_notebook(sub, needs_code=lab_notebook.has_code)
    if problem is not None:
        steps.begin("listing the tests", LISTING_SECONDS)
        base.message = problem
        base.tests = _test_results(lab, job, GradingPlugin(None, lab.hidden_tests, f"not graded: {problem}"),
                                   kits.idle_plugins(lab.settings.kit_names))
        return base
    restored = restore(nb, lab_notebook.locked)
    base.status, base.message, base.tests, base.executed = _run(lab, job, backend, nb, steps, kernel_factory,
                                                                execute_fn)
    base.message = "; ".join(part for part in (base.message, restored.note) if part)
    base.execution_time = time.monotonic() - started
    return base


def read_notebook(sub: Submission, needs_code: bool = True) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The submitted notebook, or the reason it cannot be read. The document is bounded and its
    shape checked (grader.course.notebook_file.load_notebook) before nbformat converts and validates it;
    whatever the bytes are, a failure here is this submission's problem, never the batch's. A
    notebook without code is no submission (``needs_code``), unless its lab has none either (an
    essay graded by hand)."""
    try:
        nb = nbformat.v4.to_notebook_json(load_notebook(sub.read_bytes()))
        nbformat.validate(nb)
    except Exception as exc:  # any bytes at all: every failure is the submission's reason
        return None, f"not a valid notebook: {reason(exc)}"
    if needs_code and not any(cell.cell_type == "code" for cell in nb.cells):
        return None, "the notebook has no code cells"
    return nb, None


@dataclass(frozen=True)
class LabLimits:
    """Every limit of one submission's grading, made here and only here from the lab's settings."""

    sandbox: Limits  # the kernel's memory, CPU time, processes, files
    cell_seconds: float
    notebook_seconds: float
    test_seconds: float  # the testing step: calls into the notebook, and a kit's work in the grader


def limits(lab: Lab) -> LabLimits:
    """The lab's limits: the notebook's own time again for the tests' calls into it, and room
    for what tests do in the grader (a kit's build and probes)."""
    s = lab.settings
    return LabLimits(Limits(memory=s.memory, cpu_seconds=int(s.timeout * 2) + 60), s.cell_timeout, s.timeout,
                     2 * s.timeout + 600)


def _run(lab: Lab, job: Job, backend, nb, steps: Steps, kernel_factory: Callable[..., Kernel],
         execute_fn: Callable[..., Execution]) -> tuple[str, str, list[TestResult], str]:
    bounds = job.limits or limits(lab)
    with contextlib.ExitStack() as stack:
        steps.begin("starting the kernel", STARTUP_TIMEOUT + 30)
        running = stack.enter_context(kits.started(lab.settings.kit_names, dict(job.prepared)))
        kernel = kernel_factory(backend, lab.student_files(), bounds.sandbox, running.services)
        stack.callback(kernel.close)
        kernel.start()
        steps.turn()
        steps.begin("running the notebook", bounds.notebook_seconds + 60)
        execution = execute_fn(kernel, nb, bounds.cell_seconds, bounds.notebook_seconds)
        steps.begin("testing", bounds.test_seconds)
        handle = None
        if execution.status == Status.GRADED:
            handle = Notebook(kernel, execution.notebook, bounds.cell_seconds, bounds.notebook_seconds)
        plugin = GradingPlugin(handle, lab.hidden_tests, f"not run: {execution.message}")
        tests = _test_results(lab, job, plugin, running.plugins)
    message = execution.message
    if execution.truncated:
        message = (message + "; " if message else "") + "output was truncated"
    return execution.status, message, tests, nbformat.writes(execution.notebook)


def _test_results(lab: Lab, job: Job, plugin: GradingPlugin, kit_plugins: list[object]) -> list[TestResult]:
    """Each test's result, hidden ones flagged."""
    run_tests(lab.test_dirs(job.hidden), plugin, job.course_root, job.select, kit_plugins)
    return [_test_result(o, lab.settings.show_hidden_output or job.reveal) for o in plugin.outcomes.values()]


def _test_result(outcome, show_hidden_output: bool) -> TestResult:
    """A test that could not run here (no Docker engine, say) is reported as such and
    left out of ``max_score``: never passed silently, never a loss the student caused."""
    points = f"{outcome.points:g} point{'' if outcome.points == 1 else 's'}"
    if outcome.manual:
        return TestResult(outcome.name, 0.0, 0.0, NOT_RUN, f"{MANUAL}: {points}, not in the automatic grade",
                          hidden=outcome.hidden, exercise=outcome.exercise, manual=outcome.points)
    if outcome.not_run:
        return TestResult(outcome.name, 0.0, 0.0, NOT_RUN, f"not run: {outcome.not_run} ({points} "
                          "left out of the maximum)", hidden=outcome.hidden, exercise=outcome.exercise)
    output = outcome.output[:TEST_OUTPUT_LIMIT]
    if outcome.hidden and not show_hidden_output:
        output = "" if outcome.passed else "failed (hidden test)"
    if outcome.kernel_side:
        output = KERNEL_SIDE + (f"; {output}" if output else "")
    earned = (outcome.points if outcome.earned is None else outcome.earned) if outcome.passed else 0.0
    passed = outcome.passed and earned == outcome.points  # partial credit is a failed test that kept some points
    return TestResult(outcome.name, earned, outcome.points, TestStatus.PASSED if passed else TestStatus.FAILED,
                      output, hidden=outcome.hidden, exercise=outcome.exercise, kernel_side=outcome.kernel_side)
