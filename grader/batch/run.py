"""A batch: every submission graded once, its result on disk the moment it exists.

Each result carries a fingerprint of everything its grade depends on: the
submission's bytes, the lab's files and tests, the grader's own code, the
kernel's libraries and the sandbox backend. Rerunning the same command after
a crash (even ``kill -9``) reuses every result whose fingerprint still holds
and grades the rest; ``force`` regrades everything. A result with tests that
could not run (no Docker engine, say) is graded again: what they need may be
there now. A kit that decides something once per batch (is a Docker engine there?)
decides before the first submission, and every submission is graded under that
decision (grader.kits.prepare); a result graded under another one is not reused. The gradebook is
rewritten atomically as results come, as often as keeps the rewrites' total linear in the batch's
size (grader.results.gradebook), and once more at the end, however the batch ends: it is valid at
any moment and complete at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from grader import kits
from grader.batch.executors import Executor, LocalExecutor
from grader.batch.fingerprint import digest, environment_fingerprint, lab_fingerprint, submission_fingerprint
from grader.course.deadlines import Deadlines
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.engine.sandbox import Backend
from grader.results.compact import SharedTests
from grader.results.gradebook import GradebookWriter
from grader.results.late import Late
from grader.results.model import Result
from grader.results.store import read_result, write_result
from grader.review.publish import after_grading, write_page
from grader.review.store import reviewed
from grader.runner import Job


def run_batch(subs: list[Submission], course: Course, out: Path, backend: Backend, workers: int | None,
              force: bool, on_result: Callable[[Result], None], *,
              executor_factory: Callable[[int | None], Executor] = LocalExecutor,
              deadlines: Deadlines | None = None) -> tuple[list[Result], list[str]]:
    """Grade ``subs`` (reusing what still holds); return the results and the grader's own errors.
    ``deadlines`` gives each result its late record, a reused one too (recomputed, never regraded).
    ``executor_factory`` (given ``workers``) is the seam for the tests' fake (tests/fakes.py)."""
    environment = environment_fingerprint(backend)
    labs = {lab_id: lab_fingerprint(course.lab(lab_id)) for lab_id in course.lab_ids()}
    decided = _decisions(course, {sub.lab for sub in subs})
    results: list[Result] = []  # each test outcome kept once across them (grader.results.compact)
    shared = SharedTests()
    jobs: list[Job] = []
    for sub in subs:
        prepared = decided.get(sub.lab, ())
        parts = {"grader": digest(environment, repr(prepared)), "tests": labs.get(sub.lab, ""),
                 "submission": submission_fingerprint(sub)}  # what a change of grade is put down to
        fingerprint = digest(environment, labs.get(sub.lab, ""), repr(prepared), parts["submission"])
        late = deadlines.assess(sub) if deadlines is not None else None
        earlier = None if force else read_result(out, sub.student, sub.lab)
        if earlier is not None and earlier.fingerprint == fingerprint and not earlier.incomplete:
            reuse(out, earlier, late, course.title(earlier.lab))
            results.append(shared.share(earlier))
            on_result(earlier)
        else:
            jobs.append(Job(sub, course.root, backend.name, fingerprint=fingerprint, out=out, prepared=prepared,
                            fingerprint_parts=tuple(parts.items()), late=late))
    book = GradebookWriter(out)
    book.write(results)
    executor = executor_factory(workers)
    try:
        for job, result in executor.run(jobs):  # light results: the worker wrote the notebook and the page
            result.late = job.late  # the worker's own, unless it was stopped before making a result
            write_result(out, result)  # what a rerun after kill -9 resumes from: at once
            after_grading(out, result, course.title(result.lab))  # its page, with overrides in force
            results.append(shared.share(result))
            book.offer(results)
            on_result(result)
    finally:  # Ctrl-C or an error of the grader's: the gradebook still has every finished result
        book.finish(results)
    return results, executor.errors


def reuse(out: Path, earlier: Result, late: Late | None, title: str) -> None:
    """An earlier result taken as it is, with its late record made again: when the policy, an
    extension or the submission's time changed, its file and page are rewritten, and said on stderr."""
    earlier.reused = True
    if earlier.late == late:
        return
    before = _penalty(earlier)
    earlier.late = late
    write_result(out, earlier)
    write_page(out, reviewed(out, earlier), title)
    if before != _penalty(earlier):
        print(f"grade: {earlier.student!r} · {earlier.lab}: late penalty {_penalty(earlier)} (was {before}); "
              "the deadline, an extension or the submission's time changed", file=sys.stderr)


def _penalty(result: Result) -> str:
    late = result.late
    return f"{late.percent:g}%, {late.days} day{'' if late.days == 1 else 's'} late" if late is not None else "none"


def _decisions(course: Course, lab_ids: set[str]) -> dict[str, tuple[tuple[str, object], ...]]:
    """What each lab's kits decided, once for the whole batch (is a Docker engine there?), by lab."""
    kit_names = {lab: course.lab(lab).settings.kit_names for lab in sorted(lab_ids & set(course.lab_ids()))}
    prepared = kits.prepare(name for names in kit_names.values() for name in names)
    return {lab: tuple((kit, d) for kit, d in prepared if kit in names) for lab, names in kit_names.items()}
