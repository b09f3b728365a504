"""Every grade ever given, in ``grades/history.sqlite`` (Python's own sqlite3, no server).

``gradebook.csv`` holds the latest grade of the submissions one run was given;
the history keeps one row per result of every run, reused or regraded, so an
instructor can see when a grade changed and why (a new fingerprint: the
submission, the lab or the grader changed). Rows are only ever appended.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.errors import HistoryError
from grader.results.model import Result

FILE_NAME = "history.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,            -- when the grade run that recorded the row started (UTC)
    student TEXT NOT NULL,
    lab TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    graded_at TEXT NOT NULL,      -- when the row was recorded (UTC); for a reused row, the grade is older
    reused INTEGER NOT NULL,      -- 1: the earlier result still held and was not graded again
    sandboxed INTEGER NOT NULL,
    message TEXT NOT NULL,
    parts TEXT NOT NULL DEFAULT '{}',  -- the fingerprint's parts (JSON): "grader", "tests", "submission"
    tests TEXT NOT NULL DEFAULT '[]'   -- each test (JSON): [name, score, max_score, status]
);
CREATE INDEX IF NOT EXISTS results_student_lab ON results (student, lab, id);
"""
ADDED = {"parts": "TEXT NOT NULL DEFAULT '{}'", "tests": "TEXT NOT NULL DEFAULT '[]'"}  # since the first schema
COLUMNS = ("id", "run", "student", "lab", "score", "max_score", "status", "fingerprint", "graded_at", "reused",
           "sandboxed", "message", "parts", "tests")




@dataclass(frozen=True)
class Row:
    """One recorded result."""

    id: int
    run: str
    student: str
    lab: str
    score: float
    max_score: float
    status: str
    fingerprint: str
    graded_at: str
    reused: bool
    sandboxed: bool
    message: str
    parts: str = "{}"
    tests: str = "[]"


def history_path(out_dir: Path) -> Path:
    """Beside gradebook.csv, so a grades folder carries its own history."""
    return out_dir / FILE_NAME


def append(out_dir: Path, result: Result, run: str) -> None:
    """Record ``result``, committed at once so a killed batch keeps what it recorded."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    tests = [[t.name, t.score, t.max_score, str(t.status)] for t in result.tests]
    values = (run, result.student, result.lab, result.score, result.max_score, result.status, result.fingerprint,
              now, int(result.reused), int(result.sandboxed), result.message, json.dumps(result.fingerprint_parts),
              json.dumps(tests))
    try:
        with closing(_connect(history_path(out_dir), create=True)) as db, db:
            db.execute(f"INSERT INTO results ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * len(values))})",
                       values)
    except sqlite3.Error as exc:
        raise HistoryError(f"{history_path(out_dir)}: {exc}") from exc


def rows(out_dir: Path, student: str | None = None, lab: str | None = None, latest: bool = True) -> list[Row]:
    """The recorded results, oldest first; ``latest`` keeps only the newest per (student, lab)."""
    where, args = ["1"], []
    for column, value in (("student", student), ("lab", lab)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if latest:
        where.append("id IN (SELECT MAX(id) FROM results GROUP BY student, lab)")
    query = f"SELECT {_selected(out_dir)} FROM results WHERE {' AND '.join(where)} ORDER BY student, lab, id"
    return [_row(r) for r in _read(out_dir, query, args)]


def recorded(out_dir: Path) -> tuple[list[str], list[str]]:
    """The students and the labs that have a grade in the history, each sorted: what ``grade
    report`` names when asked for one that has none."""
    students = _read(out_dir, "SELECT DISTINCT student FROM results ORDER BY student")
    labs = _read(out_dir, "SELECT DISTINCT lab FROM results ORDER BY lab")
    return [s for (s,) in students], [lab for (lab,) in labs]


def _read(out_dir: Path, query: str, args: list | tuple = ()) -> list[tuple]:
    """The rows ``query`` selects; HistoryError if there is no history or it cannot be read."""
    path = history_path(out_dir)
    if not path.is_file():
        raise HistoryError(f"no grade history at {path}: run grade first")
    try:
        with closing(_connect(path, create=False)) as db:
            return db.execute(query, args).fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: {exc}") from exc


def _selected(out_dir: Path) -> str:
    """The columns to select: a history an older grader wrote lacks the newer ones (read-only here,
    it is not changed), which then read as their defaults."""
    present = {name for _, name, *_ in _read(out_dir, "PRAGMA table_info(results)")}
    return ", ".join(c if c in present else f"{ADDED[c].split('DEFAULT ')[1]} AS {c}" for c in COLUMNS)


def _row(values: tuple) -> Row:
    row = dict(zip(COLUMNS, values, strict=True))
    row["reused"], row["sandboxed"] = bool(row["reused"]), bool(row["sandboxed"])
    return Row(**row)


def _connect(path: Path, create: bool) -> sqlite3.Connection:
    """A connection that waits for another grade run's write instead of failing at once."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        db.executescript(SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(results)")}
        for column, kind in ADDED.items():  # a history an older grader wrote gains the new columns
            if column not in present:
                db.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")
        return db
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
