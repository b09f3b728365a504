"""Every grade ever given, in ``grades/history.sqlite`` (Python's own sqlite3, no server).

``gradebook.csv`` holds the latest grade of the submissions one run was given;
the history keeps one row per result of every run, reused or regraded, so an
instructor can see when a grade changed and why (a new fingerprint: the
submission, the lab or the grader changed). Rows are only ever appended.
"""

from __future__ import annotations

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
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_student_lab ON results (student, lab, id);
"""
COLUMNS = ("id", "run", "student", "lab", "score", "max_score", "status", "fingerprint", "graded_at", "reused",
           "sandboxed", "message")




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


def history_path(out_dir: Path) -> Path:
    """Beside gradebook.csv, so a grades folder carries its own history."""
    return out_dir / FILE_NAME


def append(out_dir: Path, result: Result, run: str) -> None:
    """Record ``result``, committed at once so a killed batch keeps what it recorded."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    values = (run, result.student, result.lab, result.score, result.max_score, result.status, result.fingerprint,
              now, int(result.reused), int(result.sandboxed), result.message)
    try:
        with closing(_connect(history_path(out_dir), create=True)) as db, db:
            db.execute(f"INSERT INTO results ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * 11)})", values)
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
    query = f"SELECT {', '.join(COLUMNS)} FROM results WHERE {' AND '.join(where)} ORDER BY student, lab, id"
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
        return db
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
