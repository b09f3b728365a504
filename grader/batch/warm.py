"""What every job would otherwise build again, built once in the fork server.

Each submission is graded in a fresh process forked from a server that has
imported the grader (grader.batch.executors). Importing is not all a job pays
for the first time in a process: nbconvert compiles its templates and loads a
lexer on the first page, nbformat compiles its schema on the first validation,
and pytest imports most of itself on its first run. Measured on the example
lab, that was about a third of the grader's own CPU time per job. Importing
this module in the server does each of them once, on documents of the grader's
own, and every worker inherits the result copy-on-write: nothing of any
submission is in the server, so each job still starts from the same state.

Warming is only ever faster: if any of it fails, the server starts anyway
and each job builds what it needs, as before.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import nbformat

from grader.report.feedback import render
from grader.results.model import Result, Status
from grader.testing.plugin import GradingPlugin, run_tests


def _sample_notebook() -> nbformat.NotebookNode:
    """A notebook with one of each kind of cell and output the feedback page shows."""
    code = nbformat.v4.new_code_cell("def f(x):\n    return x * 2\nf(1)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="ok\n"),
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1),
        nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=["\x1b[31mValueError\x1b[0m"]),
    ])
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lab\n*text* `code`"), code])


def warm() -> None:
    """Validate and render a sample notebook, and run pytest once on an empty folder."""
    nb = _sample_notebook()
    nbformat.validate(nb)
    render(Result("student", "lab", Status.GRADED), nb, "lab")
    with tempfile.TemporaryDirectory(prefix="grader-warm-") as folder:
        run_tests([Path(folder)], GradingPlugin(None, Path(folder)), Path(folder))


with contextlib.suppress(Exception):  # an optimisation only: a job builds what warming did not
    warm()
