"""Everything that shows a grade, brought up to date with the overrides in force.

The results JSON and the gradebook apply the overrides themselves when written
(grader.results.store); the feedback page is rendered by a worker before any override is
looked at, so it is rendered again here, from the executed notebook kept beside the result,
whenever a result has an override (applied or, after the submission changed, not).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from grader.course.layout import Course
from grader.report.feedback import EXECUTED_BYTES, executed_notebook, write_feedback
from grader.results import history
from grader.results.model import Result
from grader.results.store import read_result, result_path, write_gradebook, write_result
from grader.review.store import Reviewed, reviewed


def lab_title(course: Course | None, lab_id: str) -> str:
    """The lab's title for its pages, or its id when the course does not know it."""
    return course.title(lab_id) if course is not None else lab_id


def after_grading(out_dir: Path, result: Result, title: str) -> Reviewed:
    """A freshly graded result's page with the overrides in force for it; an override given on
    another submission is not applied, and ``grade`` says so on stderr (as do the page, the
    results JSON and the gradebook's message)."""
    found = reviewed(out_dir, result)
    if found.applied or found.stale:
        write_page(out_dir, found, title)
    for override in found.stale:
        print(f"grade: {result.student!r} · {result.lab}: the override of {override.test!r} "
              f"({override.points:g} points, {override.who}, {override.at}) is not applied: "
              "the submission changed since", file=sys.stderr)
    return found


def after_review(out_dir: Path, student: str, lab: str, title: str) -> Reviewed | None:
    """After an override is saved: the results JSON, the feedback page and the gradebook again."""
    result = read_result(out_dir, student, lab)
    if result is None:
        return None
    write_result(out_dir, result)
    found = reviewed(out_dir, result)
    write_page(out_dir, found, title)
    write_gradebook(out_dir, latest_results(out_dir))
    return found


def write_page(out_dir: Path, found: Reviewed, title: str) -> Path:
    """The feedback page of a reviewed result, with its notebook as it ran when it was kept."""
    executed = replace(found.result, executed=executed_text(out_dir, found.result))
    return write_feedback(out_dir, found.result, executed_notebook(executed), title, found.applied)


def executed_text(out_dir: Path, result: Result) -> str:
    """The executed notebook kept beside the result ("" if none, or larger than a page reads)."""
    path = result_path(out_dir, result.student, result.lab).with_suffix(".ipynb")
    try:
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= EXECUTED_BYTES:
            return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        pass
    return ""


def latest_results(out_dir: Path) -> list[Result]:
    """The latest automatic result of every (student, lab) the history knows, read from their files."""
    results = []
    for row in history.rows(out_dir, latest=True):
        if (result := read_result(out_dir, row.student, row.lab)) is not None:
            result.reused = row.reused  # as the last run recorded it
            results.append(result)
    return results
