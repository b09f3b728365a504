"""The solution is graded before the students are.

A lab whose own solution loses points grades every student wrongly, and
nothing in the students' rows would say so: a typo in a hidden test costs
the whole class its points. So the instructor's reference solution is graded
first, in the same sandbox and against the same public and hidden tests, and
a lab whose solution does not get full marks is refused before any student is
graded. ``grade assign`` does the same check right after writing the student
notebook, where the instructor is looking.

A passing check is cached under the digest of everything it depends on (the
environment and backend, the lab's files, tests, settings and kits, and the
solution's bytes), so a batch pays for it once per change of the lab, not per
run. Only passes are cached: a failing lab is checked again until it is fixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.batch.executors import Executor, LocalExecutor
from grader.batch.fingerprint import digest, environment_fingerprint, lab_fingerprint
from grader.course.discover import Submission
from grader.course.layout import Course, Lab
from grader.engine.sandbox import Backend
from grader.errors import SolutionFails
from grader.files import atomic_write
from grader.results.model import NOT_RUN, Result, Status, TestStatus
from grader.results.store import result_path
from grader.runner import Job

SOLUTION_STUDENT = "(solution)"  # the name the solution's grading goes by; it never reaches a gradebook
REASON_CHARS = 300  # of each failing test's reason in the message


@dataclass(frozen=True)
class SolutionCheck:
    """How one lab's solution graded: full marks, or what it lost and why."""

    lab: str
    score: float
    max_score: float
    problems: tuple[str, ...]  # one line per failing test, or why the notebook could not be graded
    cached: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """One line when it passed; the failures, one per line, when it did not."""
        if self.passed:
            return f"{self.lab}: the solution gets full marks ({self.score:g} / {self.max_score:g})" + (
                ", checked before" if self.cached else "")
        lines = [f"{self.lab}: the solution scores {self.score:g} / {self.max_score:g}, not full marks:"]
        return "\n".join(lines + [f"  - {p}" for p in self.problems])


def check_solutions(course: Course, lab_ids: Iterable[str], backend: Backend, workers: int | None = None, *,
                    executor_factory: Callable[[int | None], Executor] = LocalExecutor,
                    ) -> dict[str, SolutionCheck | None]:
    """Each lab's check (None for a lab with no solution notebook to grade), grading in
    ``workers`` processes only the solutions not already known to pass."""
    labs = {lab_id: course.lab(lab_id) for lab_id in sorted(set(lab_ids))}
    checks: dict[str, SolutionCheck | None] = {i: None for i, lab in labs.items() if not lab.solution.is_file()}
    keys = {i: _key(lab, backend) for i, lab in labs.items() if i not in checks}
    for lab_id, key in keys.items():
        if (cached := _cached(key)) is not None:
            checks[lab_id] = cached
    todo = [labs[lab_id] for lab_id in keys if lab_id not in checks]
    if todo:
        with tempfile.TemporaryDirectory(prefix="grader-solution-") as out:
            executor = executor_factory(workers)
            for job, result in executor.run([_job(course, lab, backend, Path(out)) for lab in todo]):
                check = judge(result, _raising_cells(Path(out), result))
                checks[job.submission.lab] = check
                if check.passed:
                    _store(keys[job.submission.lab], check)
    return checks


def require_full_marks(checks: dict[str, SolutionCheck | None]) -> None:
    """SolutionFails naming every lab whose solution lost points, each failing test and why."""
    failed = [check for check in checks.values() if check is not None and not check.passed]
    if failed:
        raise SolutionFails("\n".join(check.describe() for check in failed)
                            + "\nfix the lab's solution or tests, or pass --skip-solution-check to grade anyway")


def judge(result: Result, raising: Iterable[str] = ()) -> SolutionCheck:
    """Full marks means: the notebook ran to its end, none of its cells raised (a student's
    notebook would carry the same error) and no test failed (a test that cannot run here, such
    as one needing a Docker engine, is left out, as it is for students; a lab of items graded by
    hand only has nothing to run)."""
    problems = list(raising)
    problems += [f"{t.name}: {_cut(t.output) or 'failed'}" for t in result.tests if t.status == TestStatus.FAILED]
    if result.status != Status.GRADED:
        problems.insert(0, f"the notebook was not graded ({result.status}): {_cut(result.message)}")
    if result.status == Status.GRADED and not any(t.status != NOT_RUN or t.manual is not None for t in result.tests):
        problems.append("no test ran: the lab has no tests that can run here")
    return SolutionCheck(result.lab, result.score, result.max_score, tuple(problems))


def _raising_cells(out: Path, result: Result) -> list[str]:
    """Each cell of the executed solution that raised, unless tagged ``raises-exception``
    (nbclient's mark for an error shown on purpose)."""
    try:
        executed = nbformat.read(result_path(out, result.student, result.lab).with_suffix(".ipynb"), as_version=4)
    except (OSError, ValueError):
        return []
    return [f"cell {index + 1} raised {output.get('ename', 'an error')}: {_cut(output.get('evalue', ''))}"
            for index, cell in enumerate(executed.cells) if cell.cell_type == "code"
            and "raises-exception" not in cell.metadata.get("tags", [])
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def _job(course: Course, lab: Lab, backend: Backend, out: Path) -> Job:
    """The solution as a submission of its own; its tests' reasons shown, hidden ones too."""
    sub = Submission(SOLUTION_STUDENT, lab.solution, lab=lab.id)
    return Job(sub, course.root, backend.name, hidden=True, reveal=True, out=out)


def _key(lab: Lab, backend: Backend) -> str:
    solution = hashlib.sha256(lab.solution.read_bytes()).hexdigest()
    return digest("solution-check", environment_fingerprint(backend), lab_fingerprint(lab), solution)


def cache_dir() -> Path:
    """Where passing checks are remembered: ``GRADER_CACHE_DIR``, else the user's cache folder."""
    explicit = os.environ.get("GRADER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "grader" / "solution-checks"


def _cached(key: str) -> SolutionCheck | None:
    try:
        data = json.loads((cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
        return SolutionCheck(str(data["lab"]), float(data["score"]), float(data["max_score"]), (), cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(key: str, check: SolutionCheck) -> None:
    """Remember a pass; a cache that cannot be written only costs the next run its time."""
    with contextlib.suppress(OSError):
        atomic_write(cache_dir() / f"{key}.json", json.dumps({"lab": check.lab, "score": check.score,
                                                             "max_score": check.max_score}))


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
