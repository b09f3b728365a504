"""``check("q1")`` inside a student's notebook: the public tests of one exercise, now.

This runs on the student's own machine, in their own kernel, against the
values their kernel holds right now: it is feedback, never a grade (grades
come only from ``grade``, which runs tests outside the kernel). Values still
pass through the codec, so a test sees the same plain values it will see
when graded. Inside the grader's sandbox ``check`` does nothing, and this
module imports nothing heavy, so the lab's first cell stays fast there.

In Jupyter the results are a small table (test, points, result, message);
anywhere else, plain text.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "not run": "#9a6700"}


def check(select: str, tests: str | os.PathLike | None = None) -> None:
    """Run the public tests of exercise ``select`` (exactly its tests: ``q1`` is not ``q10``; any
    other text is a pytest ``-k`` expression) against this kernel and show the results.

    ``tests`` defaults to ``tests/`` of a lab folder, or ``public_tests/`` when the notebook
    runs in a solution folder (whose ``tests/`` are the hidden ones)."""
    if os.environ.get("GRADER_SANDBOX") == "1":
        print(f"check({select!r}): skipped while grading")
        return
    from IPython import get_ipython

    from grader.errors import TestsBroken, UsageError
    from grader.testing.live import LiveNotebook
    from grader.testing.plugin import GradingPlugin, run_tests

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("check() runs inside a Jupyter notebook")
    folder = Path(tests or ("public_tests" if Path("public_tests").is_dir() else "tests")).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"no public tests at {folder}: open the notebook from its lab folder")
    plugin = GradingPlugin(LiveNotebook(shell.user_ns, shell), None)
    try:
        run_tests([folder], plugin, folder.parent, select)
    except UsageError as exc:  # an exercise no test belongs to, or a -k pytest cannot read
        print(f"check({select!r}): {exc}")
        return
    except TestsBroken as exc:
        print(f"check({select!r}): the lab's tests are broken, not your notebook (tell your instructor): {exc}")
        return
    report = Report(select, list(plugin.outcomes.values()))
    if type(shell).__name__ == "ZMQInteractiveShell":  # a Jupyter kernel: its frontend shows HTML
        from IPython.display import display

        display(report)
    else:
        print(report.text())


class Report:
    """What ``check`` shows: ``_repr_html_`` for Jupyter, ``text()`` (and ``repr``) elsewhere."""

    def __init__(self, select: str, outcomes: list):
        self.select = select
        self.outcomes = outcomes

    def summary(self) -> str:
        if not self.outcomes:
            return f"check({self.select!r}): no public test matches"
        passed = sum(o.passed for o in self.outcomes)
        return f"{passed} passed, {len(self.outcomes) - passed} failed"

    def text(self) -> str:
        lines = []
        for o in self.outcomes:
            lines.append(("PASS " if o.passed else "FAIL ") + o.name)
            if not o.passed:
                lines.extend("     " + line for line in _message(o).splitlines())
        return "\n".join([*lines, self.summary()])

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        rows = "".join(_row(o) for o in self.outcomes)
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("test", "points", "result", "message"))
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>" if rows else ""
        return f"<div class='grader-check'>{table}<p>{html.escape(self.summary())}</p></div>"


def _result(outcome) -> str:
    return "not run" if outcome.not_run else "passed" if outcome.passed else "failed"


def _message(outcome) -> str:
    return f"not run: {outcome.not_run}" if outcome.not_run else outcome.output


def _row(outcome) -> str:
    result = _result(outcome)
    points = f"{outcome.points if outcome.passed else 0:g} / {outcome.points:g}"
    message = "" if outcome.passed else _message(outcome)
    cells = (f"<td>{html.escape(outcome.name)}</td><td>{points}</td>"
             f"<td style='color:{_COLOURS[result]}'>{result}</td>"
             f"<td style='white-space:pre-wrap;text-align:left'>{html.escape(message)}</td>")
    return f"<tr>{cells}</tr>"
