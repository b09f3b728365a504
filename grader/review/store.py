"""Overrides and the comment bank, in ``history.sqlite`` beside the grades: an audit trail.

An override gives one test of one (student, lab) other points, or grades an item marked to be
graded by hand, with a comment, who gave it and when. A change is a new row; the newest row per
(student, lab, test) is in force, and triggers refuse to update or delete a row, so the trail of
who changed what and when is never rewritten. Each row keeps the "submission" part of the
fingerprint of the result it was given on (grader.results.model.Result.fingerprint_parts): after a
regrade of the same submission it still holds; once the submission changed it is not applied, and
the result says so (:func:`review`). A history an older grader wrote has none of these tables: it
reads as having no overrides, and gains them when one is first recorded.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from grader.errors import HistoryError
from grader.results.history import history_path
from grader.results.model import NOT_RUN, Result, TestResult, TestStatus

COMMENT_CHARS = 2_000  # one comment, in the trail and the bank
BANK_SIZE = 50  # comments the bank offers, the first saved first
SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    lab TEXT NOT NULL,
    test TEXT NOT NULL,           -- the test's name, which a regrade keeps (its index may move)
    points REAL NOT NULL,
    comment TEXT NOT NULL,
    who TEXT NOT NULL,
    at TEXT NOT NULL,             -- when it was recorded (UTC)
    submission TEXT NOT NULL      -- the fingerprint's "submission" part of the result it was given on
);
CREATE INDEX IF NOT EXISTS overrides_student_lab ON overrides (student, lab, test, id);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL UNIQUE,
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
"""
APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb} ON {table}
BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only: record a new row instead'); END;
"""
COLUMNS = ("id", "student", "lab", "test", "points", "comment", "who", "at", "submission")


@dataclass(frozen=True)
class Override:
    """One recorded override (or grade given by hand) of one test."""

    id: int
    student: str
    lab: str
    test: str
    points: float
    comment: str
    who: str
    at: str
    submission: str


@dataclass
class Reviewed:
    """A result as it stands after review: ``result`` with the overrides in force applied,
    ``automatic`` as the grader gave it."""

    result: Result
    automatic: Result
    applied: dict[int, Override] = field(default_factory=dict)  # by the test's index
    stale: list[Override] = field(default_factory=list)  # in force, given on another submission: not applied

    @property
    def manual_score(self) -> float:
        """The points of the items graded by hand."""
        return round(sum(o.points for i, o in self.applied.items() if self.automatic.tests[i].manual is not None), 4)

    def to_json(self) -> dict:
        """The results file: the final scores, and per override who, when, why and the automatic
        score it replaced (what :func:`automatic_json` restores)."""
        data = self.result.to_json()
        if self.applied or self.stale:
            data["automatic_score"], data["automatic_output"] = self.automatic.score, self.automatic.message
            data["overrides"] = [_entry(o) | {"test": i, "automatic_score": self.automatic.tests[i].score,
                                              "automatic_max_score": self.automatic.tests[i].max_score,
                                              "automatic_status": str(self.automatic.tests[i].status)}
                                 for i, o in sorted(self.applied.items())]
            data["overrides_not_applied"] = [_entry(o) for o in self.stale]
        return data


def _entry(o: Override) -> dict:
    return {"name": o.test, "points": o.points, "comment": o.comment, "who": o.who, "at": o.at}


def automatic_json(data: dict) -> dict:
    """A results file as the grader wrote it before review: each overridden test's automatic
    score back (a regrade compares and reuses the automatic result, never a reviewed one)."""
    entries = data.get("overrides")
    if not isinstance(entries, list):
        return data
    data = dict(data, tests=[dict(t) for t in data["tests"]], output=data.get("automatic_output", data["output"]))
    for entry in entries:
        test = data["tests"][int(entry["test"])]
        test["score"], test["max_score"] = float(entry["automatic_score"]), float(entry["automatic_max_score"])
        test["status"] = str(entry["automatic_status"])
    return data


def review(result: Result, overrides: Mapping[str, Override]) -> Reviewed:
    """``result`` with ``overrides`` (the ones in force for it, by test name) applied where they
    were given on this same submission; the others are listed as not applied, and said."""
    submission = result.fingerprint_parts.get("submission", "")
    tests, applied, stale = list(result.tests), {}, []
    for index, test in enumerate(result.tests):
        override = overrides.get(test.name)
        if override is None:
            continue
        if override.submission != submission or not submission:
            stale.append(override)
            continue
        tests[index], applied[index] = _overridden(test, override.points), override
    message = result.message
    if stale:
        note = (f"{len(stale)} override(s) not applied ({', '.join(o.test for o in stale[:5])}): "
                "the submission changed after they were given; review them again")
        message = "; ".join(p for p in (message, note) if p)
    return Reviewed(replace(result, tests=tests, message=message), result, applied, stale)


def _overridden(test: TestResult, points: float) -> TestResult:
    """The test with ``points``; an item graded by hand now counts, passed at full points."""
    if test.manual is None:
        return replace(test, score=points)
    status = TestStatus.PASSED if points >= test.manual else TestStatus.FAILED
    return replace(test, score=points, max_score=test.manual, status=status)


def limit(test: TestResult) -> float:
    """The most points an override may give ``test``: its maximum, or an item's points by hand."""
    return test.manual if test.manual is not None else (0.0 if test.status == NOT_RUN else test.max_score)


def valid_points(test: TestResult, points: float) -> bool:
    return math.isfinite(points) and 0 <= points <= limit(test)


def record(out_dir: Path, result: Result, test: str, points: float, comment: str, who: str) -> Override:
    """Append an override of ``test`` of ``result``; ValueError if it names no test or the points
    are out of its bounds."""
    found = [t for t in result.tests if t.name == test]
    if not found or not valid_points(found[0], points):
        raise ValueError(f"{points:g} points for {test!r} is not a grade it can take")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    values = (result.student, result.lab, test, points, comment[:COMMENT_CHARS], who, now,
              result.fingerprint_parts.get("submission", ""))
    with _writing(out_dir) as db:
        cursor = db.execute(f"INSERT INTO overrides ({', '.join(COLUMNS[1:])}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            values)
    return Override(cursor.lastrowid, *values)


def save_comment(out_dir: Path, text: str, who: str) -> None:
    """Add ``text`` to the bank (once: saving it again changes nothing)."""
    text = text.strip()[:COMMENT_CHARS]
    if text:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with _writing(out_dir) as db:
            db.execute("INSERT OR IGNORE INTO comments (text, who, at) VALUES (?, ?, ?)", (text, who, now))


def bank(out_dir: Path) -> list[str]:
    """The saved comments, the first saved first."""
    return [text for (text,) in _read(out_dir, "comments", f"SELECT text FROM comments ORDER BY id LIMIT {BANK_SIZE}")]


def trail(out_dir: Path) -> list[Override]:
    """Every override ever recorded, oldest first."""
    return [Override(*row) for row in _read(out_dir, "overrides", f"SELECT {', '.join(COLUMNS)} FROM overrides "
                                                                     "ORDER BY id")]


def in_force(out_dir: Path) -> dict[tuple[str, str], dict[str, Override]]:
    """The newest override of each test, by (student, lab) and then by the test's name."""
    query = (f"SELECT {', '.join(COLUMNS)} FROM overrides WHERE id IN "
             "(SELECT MAX(id) FROM overrides GROUP BY student, lab, test) ORDER BY id")
    found: dict[tuple[str, str], dict[str, Override]] = {}
    for row in _read(out_dir, "overrides", query):
        override = Override(*row)
        found.setdefault((override.student, override.lab), {})[override.test] = override
    return found


def reviewed(out_dir: Path, result: Result) -> Reviewed:
    """``result`` with the overrides in force for it."""
    return review(result, in_force(out_dir).get((result.student, result.lab), {}))


def reviewed_all(out_dir: Path, results: Iterable[Result]) -> list[Reviewed]:
    """Each of ``results`` with the overrides in force for it, in the same order: the history is
    read once for them all."""
    overrides = in_force(out_dir)
    return [review(r, overrides.get((r.student, r.lab), {})) for r in results]


def _read(out_dir: Path, table: str, query: str) -> list[tuple]:
    """Rows of ``table``; none when there is no history or it has no such table (an older grader's)."""
    path = history_path(out_dir)
    if not path.is_file():
        return []
    try:
        with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)) as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
                return []
            return db.execute(query).fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: {exc}") from exc


@contextmanager
def _writing(out_dir: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the history, with the review's tables (made if missing), committed on exit."""
    path = history_path(out_dir)
    if not path.is_file():
        raise HistoryError(f"no grade history at {path}: run grade first")
    triggers = "".join(APPEND_ONLY.format(table=table, verb=verb) for table in ("overrides", "comments")
                       for verb in ("UPDATE", "DELETE"))
    try:
        with closing(sqlite3.connect(path, timeout=30)) as db, db:
            db.executescript(SCHEMA + triggers)
            yield db
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: {exc}") from exc
