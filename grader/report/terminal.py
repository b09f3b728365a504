"""What people read on the terminal: a progress bar while grading, tables after."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.report.changes import Change
from grader.results.history import Row
from grader.results.model import NOT_RUN, Result, Status, TestResult
from grader.review.store import Reviewed

STATUS_STYLE = {Status.GRADED: "green", Status.TIMEOUT: "yellow", Status.MEMORY: "yellow", Status.CRASHED: "red",
                Status.INVALID: "red"}


@contextmanager
def progress(console: Console, total: int):
    """A progress bar; yields a function to call with each finished result. Where the output
    is no terminal (a CI log, a pipe), the bar cannot redraw: each result gets a line instead."""
    bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=console, transient=True)
    done = 0
    with bar:
        task = bar.add_task("", total=total)

        def advance(result: Result) -> None:
            nonlocal done
            done += 1
            bar.update(task, advance=1, description=escape(f"{result.student} · {result.lab}"))
            if not console.is_terminal:
                console.print(escape(f"[{done}/{total}] {result.student} · {result.lab}: "
                                     f"{result.score:g} / {result.max_score:g} {result.status}"), highlight=False)

        yield advance


def summary_table(results: list[Reviewed]) -> Table:
    """One row per (student, lab): the final score (as the gradebook has it: the overrides in force,
    the late penalty off), status, time, and why if not graded."""
    table = Table(title="Grades", title_justify="left")
    for column, justify in (("student", "left"), ("lab", "left"), ("score", "right"),
                            ("status", "left"), ("time", "right"), ("note", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for found in sorted(results, key=lambda found: (found.result.student, found.result.lab)):
        r = found.result
        table.add_row(escape(r.student), escape(r.lab), f"{r.final_score:g} / {r.max_score:g}",
                      f"[{STATUS_STYLE[r.status]}]{r.status}[/]", f"{r.execution_time:.1f}s", escape(_note(found)))
    return table


def _note(found: Reviewed) -> str:
    """The summary's note: reuse, overrides, lateness, tests a submission could forge (imported,
    kernel-side), the message."""
    r = found.result
    forgeable = sum(t.kernel_side for t in r.tests)
    kernel_side = f"{forgeable} kernel-side test{'s' if forgeable > 1 else ''}; " if forgeable else ""
    overridden = f"{len(found.applied)} overridden ({found.automatic.score:g} automatic); " if found.applied else ""
    days = r.late.days if r.late else 0
    late = f"{days} day{'s' if days > 1 else ''} late, -{r.late.percent:g}% ({r.score:g} before); " if days else ""
    return ("reused; " if r.reused else "") + overridden + late + kernel_side + r.message[:80]


def tests_table(result: Result) -> Table:
    """The tests of one result, as a student sees them in ``grade check``. Where the lab's
    tests belong to exercises, they are grouped by exercise, each group under a row with the
    exercise's subtotal, so that the student sees first which exercise lost the points."""
    table = Table(title=escape(f"{result.lab}: {result.score:g} / {result.max_score:g} ({result.status})"),
                  title_justify="left")
    table.add_column("test")
    table.add_column("points", justify="right")
    table.add_column("result")
    table.add_column("message", overflow="fold")
    for subtotal in result.subtotals() or [None]:
        if subtotal:
            table.add_row(f"[bold]{escape(subtotal.label)}[/]", f"[bold]{subtotal.score:g} / {subtotal.max_score:g}[/]",
                          f"{subtotal.passed} of {subtotal.total} passed")
        for i in subtotal.tests if subtotal else range(len(result.tests)):
            _test_row(table, result.tests[i], indent="  " if subtotal else "")
        table.add_section()
    return table


def _test_row(table: Table, t: TestResult, indent: str) -> None:
    mark = {"passed": "[green]passed[/]", NOT_RUN: "[dim]not run[/]"}.get(t.status, "[red]failed[/]")
    table.add_row(indent + escape(t.name), f"{t.score:g} / {t.max_score:g}", mark, escape(t.output))


def changes_table(found: list[Change], compared: int) -> Table:
    """What the last regrade changed, one row per test that moved (grader.report.changes)."""
    table = Table(title=f"Changes: {len({(c.student, c.lab) for c in found})} of {compared} grades",
                  title_justify="left")
    for column in ("student", "lab", "test", "before", "after", "why"):
        table.add_column(column, overflow="fold")
    for c in found:
        table.add_row(*(escape(v) for v in (c.student, c.lab, c.test, c.before, c.after, c.why)))
    return table


def history_table(rows: list[Row], title: str) -> Table:
    """Rows of the grade history, in the order given (oldest first)."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("student", "left"), ("lab", "left"), ("score", "right"), ("status", "left"),
                            ("graded at", "left"), ("reused", "left"), ("fingerprint", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for r in rows:
        table.add_row(escape(r.student), escape(r.lab), f"{r.score:g} / {r.max_score:g}",
                      f"[{STATUS_STYLE.get(r.status, 'red')}]{escape(r.status)}[/]", r.graded_at,
                      "yes" if r.reused else "no", r.fingerprint[:12])
    return table
