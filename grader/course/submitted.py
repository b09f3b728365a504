"""When each submission was handed in, and how the grader knows: the time a late policy reads.

Three sources, in this order, each said in the ``detail`` students and instructors read:

1. **An LMS export** (``export``): a CSV with one row per student and a time column, as
   Gradescope's grade download (``Submission Time``), Moodle's grading worksheet
   (``Last modified (submission)``) or a Canvas API dump (``submitted_at``) has. A time must carry
   its UTC offset: the grader never guesses a timezone. The export is the instructor's file, yet it
   is bounded like anything else the grader parses, and every doubt (two columns that could be the
   student's, a student twice with two times) stops ``grade`` with a message instead of a guess.
2. **The commit time in the instructor's repository** (``commit``): the committer time of the last
   commit that touched the file, when the file is tracked and unmodified in the git repository that
   holds the folder given to ``grade``. The repository is found from that folder, never from inside a
   student's: a student's folder may be a clone of their own repository (GitHub Classroom, an
   unzipped ``.git/``), whose dates and config are theirs to forge, so a file below a ``.git`` of
   its own does not count as committed. Git runs without hooks or fsmonitor, with a timeout and a
   bound on what it prints, and a few times per repository (one status, one log walk), not per file.
3. **The file's modification time** (``file``), the last resort, said as such: copying, cloning or
   unzipping can change it. A zip's own time counts for a notebook inside it, never the date the
   student's zip tool wrote into the archive. Links are not followed.
"""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader import bounded
from grader.course.discover import Submission, shown
from grader.errors import UsageError

SOURCES = ("export", "commit", "file")

MAX_EXPORT_BYTES = 16 * 2**20
MAX_EXPORT_ROWS = 100_000
MAX_CELL_CHARS = 4096
# Headers an LMS writes, compared case-insensitively: who, and when they submitted.
STUDENT_HEADERS = ("student", "login_id", "sis login id", "sis user id", "email", "email address", "username", "sid")
TIME_HEADERS = ("submitted_at", "submission time", "last modified (submission)", "time", "timestamp")
NO_TIME = ("", "-")  # Moodle writes "-" for a student who submitted nothing
GRADESCOPE_TIME = "%Y-%m-%d %H:%M:%S %z"  # "2023-09-20 17:41:47 -0700"

GIT_TIMEOUT = 5.0  # seconds, per git call
GIT_OUTPUT_LIMIT = 64 * 2**20
GIT_REASON_CHARS = 200
FILE_TIME = "the file's modification time (a last resort: copying or unzipping can change it)"


@dataclass(frozen=True)
class Submitted:
    """When a submission was handed in, and how the grader knows."""

    at: datetime  # timezone-aware, in UTC, whole seconds
    source: str  # one of SOURCES
    detail: str  # one short sentence saying where ``at`` comes from


# --- the LMS export --------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """An LMS export's submission times, by student (None: the student submitted nothing)."""

    path: Path
    times: dict[str, Submitted | None] = field(default_factory=dict)

    def time(self, student: str) -> Submitted | None:
        return self.times.get(student.strip())


def read_export(path: Path, student_column: str | None = None, time_column: str | None = None,
                students: Collection[str] = ()) -> Export:
    """The times in the CSV at ``path``; a UsageError naming the problem if it cannot be read
    without guessing. Of several columns that could name the student (Gradescope's has ``SID``
    and ``Email``), the one whose cells name the most of ``students`` (the batch's) is taken,
    when one does: that is no guess, it is the column the submissions are named by."""
    rows = _csv_rows(path)
    if not rows:
        raise UsageError(f"{path}: the export is empty (a header row naming its columns is needed)")
    header = [cell.strip() for cell in rows[0]]
    named = student_column or _matching(header, rows[1:], set(students))
    who = _column(path, header, named, STUDENT_HEADERS, "student", "--student-column")
    when = _column(path, header, time_column, TIME_HEADERS, "submission time", "--time-column")
    times: dict[str, Submitted | None] = {}
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        student = row[who].strip() if who < len(row) else ""
        if not student:
            continue
        cell = row[when].strip() if when < len(row) else ""
        at = None if cell in NO_TIME else _parse_time(path, number, header[when], cell)
        detail = f"the {header[when]!r} column of {path.name}, row {number}"
        submitted = Submitted(at, "export", detail) if at else None
        if student in times and _at(times[student]) != _at(submitted):
            raise UsageError(f"{path}: student {shown(student)!r} is on row {first_row[student]} and row {number} with "
                             "different times; keep the row that counts")
        times.setdefault(student, submitted)
        first_row.setdefault(student, number)
    return Export(path, times)


def _at(submitted: Submitted | None) -> datetime | None:
    return submitted.at if submitted else None


def _csv_rows(path: Path) -> list[list[str]]:
    """Every row of the CSV, refused past the bounds before it is kept."""
    try:
        data = bounded.read(path, MAX_EXPORT_BYTES, f"{path}: the export")
    except bounded.Unbounded as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the export: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: the export is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if len(rows) > MAX_EXPORT_ROWS:
                raise UsageError(f"{path}: the export has more than {MAX_EXPORT_ROWS} rows")
            if any(len(cell) > MAX_CELL_CHARS for cell in row):
                raise UsageError(f"{path}: row {len(rows) + 1} has a cell longer than {MAX_CELL_CHARS} characters")
            rows.append(row)
    except csv.Error as exc:
        raise UsageError(f"{path}: not a CSV file the grader reads (line {reader.line_num}: {exc})") from None
    return rows


def _column(path: Path, header: list[str], named: str | None, known: tuple[str, ...], what: str, option: str) -> int:
    """The index of the ``what`` column: the one ``named``, else the only known header there."""
    if named is not None:
        matches = [i for i, name in enumerate(header) if name == named.strip()]
        if len(matches) != 1:
            problem = f"{len(matches)} columns are named {named!r}" if matches else f"no column {named!r}"
            raise UsageError(f"{path}: {problem}; its columns are {_names(header)}")
        return matches[0]
    matches = [i for i, name in enumerate(header) if name.casefold() in known]
    if len(matches) == 1:
        return matches[0]
    found = "several columns could" if matches else "no column"
    raise UsageError(f"{path}: {found} hold the {what} ({_names([header[i] for i in matches] or header)}); "
                     f"say which with {option}")


def _matching(header: list[str], rows: list[list[str]], students: set[str]) -> str | None:
    """The one known student column whose cells name more of ``students`` than any other's; None
    when there is no such column (then the usual rule decides, or asks)."""
    candidates = [i for i, name in enumerate(header) if name.casefold() in STUDENT_HEADERS]
    counts = {i: sum(i < len(row) and row[i].strip() in students for row in rows) for i in candidates}
    best = sorted(counts.values(), reverse=True)
    if len(candidates) < 2 or not best[0] or best[0] == best[1]:
        return None
    return header[max(counts, key=counts.__getitem__)]


def _names(header: list[str]) -> str:
    return ", ".join(repr(shown(name)) for name in header[:30]) + (" ..." if len(header) > 30 else "")


def _parse_time(path: Path, row: int, column: str, cell: str) -> datetime:
    """``cell`` as an aware UTC time in whole seconds: ISO 8601, or Gradescope's form."""
    at = None
    for parse in (datetime.fromisoformat, lambda text: datetime.strptime(text, GRADESCOPE_TIME)):
        try:
            at = parse(cell)
            break
        except ValueError:
            continue
    where = f"{path}: row {row}, column {column!r}: {shown(cell)!r}"
    if at is None:
        raise UsageError(f"{where} is not a time the grader reads: ISO 8601 with its UTC offset "
                         "(2026-01-31T23:59:00+01:00, ...Z) or Gradescope's 2026-01-31 23:59:00 -0700")
    if at.utcoffset() is None:
        raise UsageError(f"{where} has no UTC offset: add one (+01:00, Z); the grader never guesses a timezone")
    return at.astimezone(UTC).replace(microsecond=0)


# --- git -------------------------------------------------------------------------------


class _GitFailed(Exception):
    """Git could not answer: missing, failed, too slow or too talkative. The message says why."""


def _git(where: Path, *args: str) -> bytes:
    """What ``git args`` prints when run in ``where``, with no hook, fsmonitor, prompt or
    environment of an outer git; _GitFailed past GIT_TIMEOUT or GIT_OUTPUT_LIMIT."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    argv = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "--no-pager",
            "--literal-pathspecs", "-C", str(where), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            status = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                    timeout=GIT_TIMEOUT, check=False).returncode
        except FileNotFoundError:
            raise _GitFailed("git is not installed") from None
        except OSError as exc:
            raise _GitFailed(f"git could not run: {exc.strerror or exc}") from None
        except subprocess.TimeoutExpired:
            raise _GitFailed(f"git {args[0]} took longer than {GIT_TIMEOUT:g} s") from None
        if status != 0:
            err.seek(0)
            lines = err.read(64 * 1024).decode("utf-8", "replace").strip().splitlines() or [f"status {status}"]
            fatal = next((line for line in lines if line.startswith("fatal:")), lines[-1])
            raise _GitFailed(f"git {args[0]} failed: {shown(fatal[:GIT_REASON_CHARS])}")
        if out.seek(0, os.SEEK_END) > GIT_OUTPUT_LIMIT:
            raise _GitFailed(f"git {args[0]} printed more than {GIT_OUTPUT_LIMIT / 2**20:g} MiB")
        out.seek(0)
        return out.read()


@dataclass
class _Repository:
    """What one status and one log walk say of the files below the grade roots in a repository."""

    top: Path
    specs: list[str]
    failure: str | None = None
    dirty: set[bytes] = field(default_factory=set)  # paths (folders end in "/") not clean
    last: dict[bytes, tuple[int, str]] = field(default_factory=dict)  # path: (committer time, commit)
    loaded: bool = False

    def load(self) -> None:
        self.loaded = True
        try:
            status = _git(self.top, "status", "--porcelain", "-z", "--ignored", "--untracked-files=all",
                          "--no-renames", "--", *self.specs)
            log = _git(self.top, "log", "-z", "--no-renames", "--raw", "--no-color", "--no-show-signature",
                       "--format=%x01%ct %H", "--", *self.specs)
        except _GitFailed as exc:
            self.failure = str(exc)
            return
        self.dirty = {entry[3:] for entry in status.split(b"\0") if len(entry) > 3}
        self.last = _last_commits(log)

    def commit(self, relative: bytes) -> tuple[int, str] | str:
        """(committer time, commit) of the clean file at ``relative``, else why not."""
        if not self.loaded:
            self.load()
        if self.failure:
            return self.failure
        parts = relative.split(b"/")
        if relative in self.dirty or any(b"/".join(parts[:i]) + b"/" in self.dirty for i in range(1, len(parts))):
            return "the file differs from its last commit, or is not committed, in the grade folder's repository"
        return self.last.get(relative) or "the file is not committed in the grade folder's repository"


def _last_commits(log: bytes) -> dict[bytes, tuple[int, str]]:
    """Path -> the newest commit that touched it, from ``git log -z --raw``, newest first. The
    tokens are read by position (header, then a ':' status and a path per file), so no file
    name, whatever it holds, is ever read as a commit."""
    last: dict[bytes, tuple[int, str]] = {}
    tokens = log.split(b"\0")
    i, current = 0, (0, "")
    while i < len(tokens):
        token = tokens[i].lstrip(b"\n")
        if token.startswith(b":") and i + 1 < len(tokens):
            last.setdefault(tokens[i + 1], current)
            i += 2
            continue
        if token.startswith(b"\x01"):
            seconds, _, commit = token[1:].decode("ascii", "replace").partition(" ")
            current = (int(seconds), commit[:8]) if seconds.isdigit() else current
        i += 1
    return last


# --- the decision ----------------------------------------------------------------------


class SubmissionTimes:
    """Decides each submission's time, once per batch: git is asked once per root and twice
    per repository, however many submissions it holds."""

    def __init__(self, roots: Sequence[Path], export: Export | None = None):
        self.roots = [Path(os.path.abspath(root)) for root in roots]
        self.export = export
        self._repos: dict[Path, _Repository | str] | None = None  # root -> its repository, or why none

    def of(self, sub: Submission) -> Submitted:
        """``sub``'s time from the first source that knows it; never raises for its sake."""
        if self.export is not None and (exported := self.export.time(sub.student)) is not None:
            return exported
        path = Path(os.path.abspath(sub.path))
        why = self._commit(path)
        if isinstance(why, Submitted):
            return why
        return _file_time(path, why)

    def _commit(self, path: Path) -> Submitted | str | None:
        """The commit time of ``path`` in its root's repository, else why not (None: no root)."""
        root = self._root_of(path)
        if root is None:
            return None
        repo = self._repositories()[root]
        if isinstance(repo, str):
            return repo
        folder = root if root.is_dir() else root.parent
        if _nested(path, folder):
            return "the file is in a git repository of its own inside the grade folder, not the instructor's"
        try:
            relative = (Path(os.path.realpath(folder)) / path.relative_to(folder)).relative_to(repo.top)
        except ValueError:
            return "the file is outside the grade folder's repository"
        found = repo.commit(os.fsencode(relative.as_posix()))
        if isinstance(found, str):
            return found
        seconds, commit = found
        at = datetime.fromtimestamp(seconds, UTC)
        return Submitted(at, "commit", f"commit {commit} in the instructor's repository")

    def _root_of(self, path: Path) -> Path | None:
        """The deepest root ``path`` was found under (a PATH given to ``grade``)."""
        under = [root for root in self.roots if root == path or root in path.parents]
        return max(under, key=lambda root: len(root.parts)) if under else None

    def _repositories(self) -> dict[Path, _Repository | str]:
        """Each root's repository (one per top folder, shared by its roots), or why it has none:
        one ``git rev-parse`` per root, asked of the root's folder, never of a student's."""
        if self._repos is None:
            self._repos, by_top = {}, {}
            for root in self.roots:
                folder = root if root.is_dir() else root.parent
                try:
                    top = Path(os.fsdecode(_git(folder, "rev-parse", "--show-toplevel").rstrip(b"\n")))
                    spec = (Path(os.path.realpath(root))).relative_to(top).as_posix()
                except (_GitFailed, ValueError) as exc:
                    self._repos[root] = f"the grade folder is in no git repository the grader can read ({exc})"
                    continue
                repo = by_top.setdefault(top, _Repository(top, []))
                repo.specs.append(spec)
                self._repos[root] = repo
        return self._repos


def _nested(path: Path, folder: Path) -> bool:
    """Whether a ``.git`` lies between ``folder`` (excluded) and ``path``: the file is then in a
    repository of its own, maybe a student's, below the instructor's."""
    return any(os.path.lexists(parent / ".git") for parent in path.parents if folder in parent.parents)


def _file_time(path: Path, why: str | None) -> Submitted:
    """The last resort: ``path``'s own modification time, not following a link."""
    because = f"; no commit time: {why}" if why else ""
    try:
        seconds = math.floor(os.lstat(path).st_mtime)
    except OSError as exc:
        return Submitted(datetime.now(UTC).replace(microsecond=0), "file",
                         f"the time it was graded: the file's own time cannot be read ({exc.strerror or exc})")
    return Submitted(datetime.fromtimestamp(seconds, UTC), "file", FILE_TIME.removesuffix(")") + because + ")")
