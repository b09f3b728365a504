"""Deadlines and extensions: each submission's :class:`~grader.results.late.Late` record.

A lab's policy is in its ``lab.toml`` (``deadline``, ``grace``, ``late_penalty``, ``late_cap``:
grader.course.settings). Extensions are in one CSV file for the course, ``extensions.csv`` at its
root unless ``grade --extensions`` names another, one row per student and lab:

    student,lab,days,until,note
    alice,01-ml-basics,2,,illness
    bob,,,2026-03-10T12:00:00+00:00,every lab: exchange semester

A row moves the deadline by ``days`` or to ``until`` (exactly one of the two); an empty ``lab``
means every lab, and a row for the lab itself wins over it. Mistakes are errors that name the
row: an unknown lab, a time without a UTC offset, both or neither of ``days`` and ``until``, the
same student and lab twice. A student the batch has no submission of is not an error (a student
who has not submitted yet), but ``grade`` names them, with the nearest names it graded, so that a
misspelt name cannot silently leave a student without their extension.

Where a submission's time comes from is grader.course.submitted's business.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from grader import bounded
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.course.settings import Settings
from grader.course.submitted import SubmissionTimes
from grader.errors import CourseError
from grader.results.late import Late

EXTENSIONS_FILE = "extensions.csv"
EXTENSIONS_LIMIT = 4 * 2**20  # bytes: a row per student and lab of a large course fits many times over
EVERY_LAB = ""


@dataclass(frozen=True)
class Extension:
    """One row of the extensions file."""

    student: str
    lab: str  # EVERY_LAB for all of them
    days: float | None
    until: datetime | None
    note: str

    def due(self, deadline: datetime) -> datetime:
        return self.until.astimezone(deadline.tzinfo) if self.until else deadline + timedelta(days=self.days or 0)

    def describe(self) -> str:
        moved = f"extended to {self.until.isoformat()}" if self.until else f"extended by {self.days:g} days"
        return f"{moved}: {self.note}" if self.note else moved


def read_extensions(path: Path, lab_ids: Iterable[str]) -> dict[tuple[str, str], Extension]:
    """The extensions in ``path`` by (student, lab); CourseError naming the row of a mistake."""
    try:
        data = bounded.read(path, EXTENSIONS_LIMIT, str(path))
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        rows, columns = list(reader), set(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error, bounded.Unbounded) as exc:
        raise CourseError(f"{path}: cannot read the extensions ({exc})") from None
    if missing := {"student", "lab"} - columns:
        raise CourseError(f"{path}: no {' or '.join(sorted(missing))} column; "
                          "the columns are student,lab,days,until,note")
    labs, found = set(lab_ids), {}
    for number, row in enumerate(rows, start=2):
        extension = _extension(row, f"{path}, row {number}", labs)
        key = (extension.student, extension.lab)
        if key in found:
            raise CourseError(f"{path}, row {number}: a second extension for {extension.student!r} "
                              f"in {extension.lab or 'every lab'}; keep one row")
        found[key] = extension
    return found


def _extension(row: Mapping[str, str | None], where: str, labs: set[str]) -> Extension:
    """One row, checked."""
    cell = {key: (row.get(key) or "").strip() for key in ("student", "lab", "days", "until", "note")}
    if not cell["student"]:
        raise CourseError(f"{where}: no student")
    if cell["lab"] and cell["lab"] not in labs:
        close = difflib.get_close_matches(cell["lab"], labs, n=1)
        raise CourseError(f"{where}: no lab {cell['lab']!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if bool(cell["days"]) == bool(cell["until"]):
        raise CourseError(f"{where}: give the extension as days or as until, one of the two")
    return Extension(cell["student"], cell["lab"], _days(cell["days"], where) if cell["days"] else None,
                     _until(cell["until"], where) if cell["until"] else None, cell["note"])


def _days(text: str, where: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise CourseError(f"{where}: days must be a number, not {text!r}") from None
    if not 0 < days <= 366:
        raise CourseError(f"{where}: days must be more than 0 and at most 366, not {text!r}")
    return days


def _until(text: str, where: str) -> datetime:
    try:
        until = datetime.fromisoformat(text)
    except ValueError:
        raise CourseError(f"{where}: until must be a date and time (2026-03-10T12:00:00+00:00), not {text!r}") from None
    if until.tzinfo is None:
        raise CourseError(f"{where}: until = {text} has no UTC offset; write it with one ({text}+00:00)")
    return until


class Deadlines:
    """Each lab's policy, the extensions and the submission times: a :class:`Late` per submission."""

    def __init__(self, course: Course, extensions: Mapping[tuple[str, str], Extension], times: SubmissionTimes):
        self.extensions, self.times = extensions, times
        self.policies = {lab_id: course.lab(lab_id).settings for lab_id in course.lab_ids()}

    @classmethod
    def load(cls, course: Course, times: SubmissionTimes, extensions: Path | None = None) -> Deadlines:
        """The course's deadlines; ``extensions`` defaults to the course's ``extensions.csv`` if there is one."""
        path = extensions or course.root / EXTENSIONS_FILE
        if extensions is None and not path.is_file():
            return cls(course, {}, times)
        return cls(course, read_extensions(path, course.lab_ids()), times)

    def assess(self, sub: Submission) -> Late | None:
        """``sub`` against its lab's deadline and the student's extension; None when the lab has none."""
        policy = self.policies.get(sub.lab, Settings())
        if policy.deadline is None:
            return None
        submitted = self.times.of(sub)
        extension = self.extensions.get((sub.student, sub.lab)) or self.extensions.get((sub.student, EVERY_LAB))
        due = extension.due(policy.deadline) if extension else policy.deadline
        return Late(submitted.at.astimezone(policy.deadline.tzinfo).isoformat(), submitted.source,
                    submitted.detail, due.isoformat(), extension.describe() if extension else "",
                    policy.grace, policy.late_penalty, policy.late_cap)

    def warnings(self, subs: Iterable[Submission]) -> list[str]:
        """What in the extensions cannot take effect, a line each: a row for a lab with no deadline,
        and a row, for a lab of this batch, naming a student with no submission here (with the
        nearest names graded): a misspelt name must not leave a student without their extension."""
        subs = list(subs)
        graded, labs = {s.student for s in subs}, {s.lab for s in subs} | {EVERY_LAB}
        lines = [f"an extension for {student!r} in {lab} has no effect: {lab} has no deadline"
                 for student, lab in sorted(self.extensions)
                 if lab != EVERY_LAB and self.policies.get(lab, Settings()).deadline is None]
        for student in sorted({s for s, lab in self.extensions if lab in labs} - graded):
            close = difflib.get_close_matches(student, graded, n=2)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            lines.append(f"an extension names {student!r}, who has no submission here{hint}")
        return lines
