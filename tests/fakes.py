"""An in-process stand-in for the sandboxed kernel, for fast tests of the runner and the batch.

:class:`FakeKernel` runs code with ``exec`` in one plain dict in this process and turns what
it printed, displayed, returned or raised into nbformat outputs, the shape nbclient writes into
cells; its ``execute`` reads them into a Reply as Kernel._execute reads iopub messages.
:func:`fake_execute` stands in for grader.engine.execute.execute: each code cell, in order.
Nothing is sandboxed and no limit or timeout holds: the real-sandbox suites are the acceptance layer.
Seams: ``grade(job, kernel_factory=, execute_fn=)`` (:func:`fake_grade`), ``run_batch(...,
executor_factory=)`` (:class:`InlineExecutor`, or LocalExecutor with :data:`FAKE_TASK`, picklable).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import nbformat
from nbformat.v4 import new_output

from grader.batch.executors import failed_row, failure
from grader.engine.execute import Execution, clean
from grader.engine.kernel import KernelError, Reply
from grader.results.model import Result
from grader.runner import NO_STEPS, Job, NoSteps, Steps, grade, grade_to_disk

# get_ipython(), as far as the grader's own code uses it (Notebook's set-up of the codec)
_SHELL = SimpleNamespace(InteractiveTB=SimpleNamespace(set_mode=lambda mode: None))


class FakeKernel:
    """Kernel's interface as runner._run and grader.testing.notebook.Notebook use it."""

    def __init__(self, backend, files, limits, services=()):
        self.backend, self.files, self.limits, self.services = backend, files, limits, services
        self.namespace: dict = {"__name__": "__main__", "get_ipython": lambda: _SHELL, "display": self._display}
        self.started = self.closed = False
        self.count = 0  # the execution counter, as IPython's
        self.codes: list[str] = []  # every piece of code run, cells and the tests' calls
        self._outputs: list = []
        self._stdout = io.StringIO()

    def start(self, timeout: float = 0.0) -> None:
        self.started = True

    def close(self) -> None:
        self.closed = True
        self.namespace.clear()

    def run_cell(self, code: str) -> list:
        """Run ``code`` as IPython would, its last expression's value an execute_result; its outputs."""
        if not self.started or self.closed:
            raise KernelError("the fake kernel is not running")
        self.count += 1
        self.codes.append(code)
        self._outputs, self._stdout = [], io.StringIO()
        try:
            with contextlib.redirect_stdout(self._stdout), mock.patch("IPython.display.display", self._display):
                tree = ast.parse(code)
                last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                exec(compile(tree, "<cell>", "exec"), self.namespace)
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), self.namespace)
                    if value is not None:
                        self._add(new_output("execute_result", data={"text/plain": repr(value)},
                                             execution_count=self.count))
        except Exception as exc:  # the student's (or a test call's) error: an output, as in a kernel
            self._add(new_output("error", ename=type(exc).__name__, evalue=str(exc),
                                 traceback=traceback.format_exception(exc)))
        self._add(None)
        return self._outputs

    def execute(self, code: str, timeout: float, value_mime: str | None = None) -> Reply:
        """Kernel.execute: stdout, the last ``value_mime`` payload displayed, the error if any."""
        reply = Reply()
        for out in self.run_cell(code):
            if out.output_type == "stream" and out.name == "stdout":
                reply.stdout += out.text
            elif out.output_type in ("display_data", "execute_result") and value_mime in out.data:
                reply.value = out.data[value_mime]
            elif out.output_type == "error":
                reply.status, reply.ename, reply.evalue = "error", out.ename, out.evalue
        return reply

    def _display(self, *objs, raw: bool = False, **_) -> None:
        for obj in objs:
            self._add(new_output("display_data", data=obj if raw else {"text/plain": repr(obj)}))

    def _add(self, output) -> None:
        """Append ``output`` (None: nothing) after what was printed before it, kept in order."""
        if text := self._stdout.getvalue():
            self._outputs.append(new_output("stream", name="stdout", text=text))
            self._stdout.seek(0)
            self._stdout.truncate()
        if output is not None:
            self._outputs.append(output)


def fake_execute(kernel: FakeKernel, nb: nbformat.NotebookNode, cell_timeout: float, timeout: float) -> Execution:
    """execute()'s contract without nbclient: outputs cleared, every code cell run in order, a cell's
    error kept in its outputs and the next cell run; always ``graded``."""
    started = time.monotonic()
    for cell in clean(nb).cells:
        if cell.cell_type == "code":
            cell.outputs = kernel.run_cell(cell.source)
            cell.execution_count = kernel.count
    return Execution(nb, "graded", "", time.monotonic() - started)


def fake_grade(job: Job, steps: Steps = NO_STEPS, kernel_factory=FakeKernel) -> Result:
    """runner.grade on the fake kernel, in this process (see :func:`forgetting_modules`)."""
    with forgetting_modules(job.course_root):
        return grade(job, steps, kernel_factory=kernel_factory, execute_fn=fake_execute)


class InlineExecutor:
    """LocalExecutor's contract (each row as it comes, ``errors``), each job's grade_to_disk run here on
    the fake kernel, in turn: no worker process and no watchdog (tests/test_executors.py has those)."""

    def __init__(self, workers: int | None = None):
        self.errors: list[str] = []

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        for job in jobs:
            steps = _Kept()
            try:
                with forgetting_modules(job.course_root):
                    FAKE_TASK(job, steps)
            except Exception as exc:  # as executors._work and LocalExecutor._finish: the grader's error
                steps.result = failed_row(job, failure(job, exc), self.errors)
            yield job, steps.result


class _Kept(NoSteps):
    result: Result | None = None

    def deliver(self, result: Result) -> None:
        self.result = result


@contextlib.contextmanager
def forgetting_modules(root: Path) -> Iterator[None]:
    """As if in a fresh worker: the test modules pytest imports from the course ``root`` (importlib mode
    keys them by their path in it) are forgotten afterwards, lest another course's test_x.py be taken
    for this one's."""
    before, root = set(sys.modules), root.resolve()
    try:
        yield
    finally:
        for name in [name for name in set(sys.modules) - before if _inside(sys.modules[name], root)]:
            del sys.modules[name]


def _inside(module, root: Path) -> bool:
    places = [getattr(module, "__file__", None) or "/", *(getattr(module, "__path__", None) or ())]
    return any(root in Path(place).resolve().parents for place in places)


FAKE_TASK = functools.partial(grade_to_disk, kernel_factory=FakeKernel, execute_fn=fake_execute)
