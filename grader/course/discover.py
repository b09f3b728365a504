"""Turn the paths given to ``grade`` into submissions: who, which lab, which bytes.

Nothing here follows a symbolic link or trusts a name inside an archive: a
submission is data from a stranger. A path that cannot be graded still becomes
a submission, with ``problem`` set, so that it gets a row marked ``invalid``
instead of vanishing from the gradebook.

Everything a submission controls is bounded before it is parsed or kept: a
student's folder in depth and entries, a zip archive in its central directory,
its entries and the bytes it may inflate to, a notebook in size, nesting, cells
and cell sources. Whatever a file holds, reading it ends in bytes or in an
OSError or ValueError whose message is that submission's problem.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import nbformat

from grader import bounded

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_CELLS = 2_000  # ten times a long lab; every cell is executed and rendered
MAX_CELL_SOURCE = 1024 * 1024  # characters: a megabyte of code is data pasted in, not an answer
MAX_LAB_ID = 100  # characters; the gradebook keeps it
MAX_REASON = 200  # characters of a problem's explanation
MAX_FOLDER_DEPTH = 32  # folders below a student's folder
MAX_FOLDER_ENTRIES = 10_000  # entries listed below a student's folder
MAX_ZIP_DIRECTORY = 1024 * 1024  # bytes zipfile may read to list an archive (its central directory)
MAX_ZIP_ENTRIES = 5_000  # entries an archive may list, notebooks or not
MAX_ZIP_NOTEBOOKS = 20  # each is read at discovery, and the kept ones again to fingerprint and grade
MAX_ZIP_NOTEBOOK_BYTES = 2 * MAX_NOTEBOOK_BYTES  # inflated size of all of an archive's notebooks
MAX_ZIP_RATIO = 1000  # inflated : compressed; deflate tops out near 1030 : 1, a notebook of one
# output line printed a million times is 500 : 1, most notebooks 4 : 1
ZIP_RATIO_FLOOR = 1024 * 1024  # members this small inflate to little whatever their ratio
MAX_MEMBER_NAME = 1024  # characters of a path inside an archive
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what every zip tool writes
LOCAL_HEADER = 30  # bytes: the fixed part of a zip entry's local header
ZIP_TRAILER = 2**16 + 128  # bytes zipfile reads to find the listing: end records and archive comment
UNKNOWN_LAB = "?"

_CELL_TYPES = ("code", "markdown", "raw")
_OUTPUT_TYPES = ("execute_result", "display_data", "stream", "error")


class Unreadable(ValueError):
    """A submission whose bytes cannot be had; the message says why, for its row."""


class InvalidNotebook(ValueError):
    """Bytes that are not a notebook the grader can take; the message says why, for its row."""


@dataclass(frozen=True)
class Submission:
    """One notebook of one student, not yet graded."""

    student: str
    path: Path
    member: str | None = None  # the notebook's name inside the zip at ``path``
    lab: str = UNKNOWN_LAB
    problem: str | None = None  # why it cannot be graded, if it cannot

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def read_bytes(self) -> bytes:
        """The notebook's bytes, at most MAX_NOTEBOOK_BYTES of them. Every check is made again
        on each read, since the file may have changed since discovery; whatever the file is,
        a failure is an OSError or a ValueError naming the reason."""
        data = _read_file(self.path) if self.member is None else _read_member(self.path, self.member)
        bounded.check_size(data, MAX_NOTEBOOK_BYTES, "the notebook")
        return data


def reason(exc: BaseException) -> str:
    """An exception's message cut to one short line: it is shown in a row, and its text may be
    the submission's own (a name, a value quoted back by a parser or a validator)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    text = lines[0]
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def discover(paths: list[Path], lab_ids: list[str], lab_override: str | None = None) -> list[Submission]:
    """Every submission under ``paths``, each matched to a lab.

    A student with several notebooks for the same lab keeps the newest one.
    """
    found: list[Submission] = []
    for path in paths:
        if path.is_symlink():
            found.append(Submission(_student_name(path), path, problem="is a symbolic link"))
        elif path.is_dir():
            found.extend(_scan_folder(path))
        elif path.exists():
            found.extend(_scan_file(path, _student_name(path)))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    matched = [_match_lab(sub, lab_ids, lab_override) for sub in found]
    return _newest_per_student_and_lab(matched)


def _student_name(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix in (".ipynb", ".zip") else path.name


def _scan_folder(folder: Path) -> list[Submission]:
    """``folder/alice.ipynb``, ``folder/alice.zip`` and ``folder/alice/**.ipynb`` are alice's."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        student = _student_name(entry)
        if entry.is_symlink():
            found.append(Submission(student, entry, problem="is a symbolic link"))
        elif entry.is_dir():
            found.extend(_scan_student_folder(entry, student))
        elif entry.suffix in (".ipynb", ".zip"):
            found.extend(_scan_file(entry, student))
    return found


def _scan_student_folder(folder: Path, student: str) -> list[Submission]:
    try:
        entries = _entries_below(folder)
    except (OSError, bounded.Unbounded) as exc:
        return [Submission(student, folder, problem=f"cannot list this folder: {reason(exc)}")]
    found = [Submission(student, path, problem=_file_problem(path))
             for path in sorted(entries) if path.is_symlink() or path.suffix == ".ipynb"]
    if not found:
        found.append(Submission(student, folder, problem="no notebook in this folder"))
    return found


def _entries_below(folder: Path) -> list[Path]:
    """What lies below ``folder`` other than folders, never entering a linked folder (links are
    listed, not followed). Iterative and capped, since a student's folder may be as deep and as
    full as its owner likes."""
    found: list[Path] = []
    pending, listed = [(folder, 0)], 0
    while pending:
        current, depth = pending.pop()
        for entry in current.iterdir():
            listed += 1
            if listed > MAX_FOLDER_ENTRIES:
                raise bounded.Unbounded(f"more than {MAX_FOLDER_ENTRIES} entries below it")
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            if entry.is_symlink() or not entry.is_dir():
                found.append(entry)
            elif depth < MAX_FOLDER_DEPTH:
                pending.append((entry, depth + 1))
            else:
                raise bounded.Unbounded(f"folders nested more than {MAX_FOLDER_DEPTH} deep")
    return found


def _file_problem(path: Path) -> str | None:
    """Why ``path`` is not a file to read: a link is never followed, and a pipe or a device
    could block or never end."""
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return f"cannot be read: {reason(exc)}"
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    return None if stat.S_ISREG(mode) else "is not a regular file"


def _scan_file(path: Path, student: str) -> list[Submission]:
    problem = _file_problem(path)
    if problem is not None:
        return [Submission(student, path, problem=problem)]
    if path.suffix == ".zip":
        return _scan_zip(path, student)
    if path.suffix != ".ipynb":
        return [Submission(student, path, problem="not a notebook (.ipynb) or a zip archive")]
    return [Submission(student, path)]


# --- files and archives ------------------------------------------------------------------


def _no_follow(path: str, flags: int) -> int:
    """An ``open`` opener that refuses a link and does not wait on a pipe."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


@contextmanager
def _regular_file(path: Path) -> Iterator[BinaryIO]:
    with open(path, "rb", opener=_no_follow) as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Unreadable("is not a regular file")
        yield f


def _read_file(path: Path) -> bytes:
    with _regular_file(path) as f:
        return f.read(MAX_NOTEBOOK_BYTES + 1)


class _ListingBudget:
    """A file for zipfile to list an archive from, refusing to read more than ``budget`` bytes
    until ``lift()``: zipfile reads the whole central directory in one read of the size the
    archive declares, so this bounds the listing before zipfile parses any of it."""

    def __init__(self, f: BinaryIO, budget: int):
        self._f, self._left = f, budget

    def lift(self) -> None:
        """The listing is parsed: members are read within the ranges checked against it."""
        self._left = None

    def read(self, n: int | None = -1) -> bytes:
        if self._left is None:
            return self._f.read(n)
        to_end = n is None or n < 0
        if not to_end and n > self._left:
            raise self._refusal()
        data = self._f.read(self._left + 1 if to_end else n)
        if len(data) > self._left:
            raise self._refusal()
        self._left -= len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def seekable(self) -> bool:
        return True

    @staticmethod
    def _refusal() -> bounded.Unbounded:
        return bounded.Unbounded(f"the zip archive's listing is larger than {MAX_ZIP_DIRECTORY // 1024} KiB")


@contextmanager
def _zip_notebooks(path: Path) -> Iterator[tuple[zipfile.ZipFile, dict[str, str | None]]]:
    """The archive open for reading, and its notebooks, each mapped to the reason it cannot be
    read (None if it can). Unreadable if the archive as a whole cannot be trusted."""
    with _regular_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        listing = _ListingBudget(f, MAX_ZIP_DIRECTORY + ZIP_TRAILER)
        try:
            zf = zipfile.ZipFile(listing)
        except Exception as exc:  # zipfile raises many kinds on a malformed archive: all are this one's
            raise Unreadable(reason(exc)) from None
        listing.lift()
        with zf:
            infos = zf.infolist()
            _check_archive(infos, size)
            yield zf, _notebook_members(infos)


def _check_archive(infos: list[zipfile.ZipInfo], size: int) -> None:
    """Refuse an archive whose entries are too many, share a name, or share bytes: entries that
    overlap are how a small zip inflates one member many times over."""
    if len(infos) > MAX_ZIP_ENTRIES:
        raise Unreadable(f"the zip archive lists more than {MAX_ZIP_ENTRIES} entries")
    if len({info.filename for info in infos}) != len(infos):
        raise Unreadable("the zip archive lists a name twice")
    end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < end:
            raise Unreadable("entries of the zip archive overlap (a zip bomb)")
        end = info.header_offset + LOCAL_HEADER + info.compress_size
    if end > size:
        raise Unreadable("an entry of the zip archive runs past its end")


def _notebook_members(infos: list[zipfile.ZipInfo]) -> dict[str, str | None]:
    """The archive's notebooks and why each cannot be read; Unreadable if there are so many, or
    they inflate to so much, that reading them all (at discovery, then the kept ones again to
    fingerprint and to grade) would not be bounded by the notebook size alone."""
    members = []
    for info in infos:
        name = PurePosixPath(info.filename)
        if info.is_dir() or name.suffix != ".ipynb":
            continue
        problem = _unsafe_name(info.filename)
        if problem is None and _ignored_member(name):
            continue
        members.append((info, problem or _member_problem(info)))
    if len(members) > MAX_ZIP_NOTEBOOKS:
        raise Unreadable(f"the zip archive holds more than {MAX_ZIP_NOTEBOOKS} notebooks")
    if sum(info.file_size for info, problem in members if problem is None) > MAX_ZIP_NOTEBOOK_BYTES:
        raise Unreadable(f"the zip archive's notebooks inflate to more than {MAX_ZIP_NOTEBOOK_BYTES // 2**20} MiB")
    return {info.filename: problem for info, problem in members}


def _unsafe_name(name: str) -> str | None:
    parts = PurePosixPath(name)
    if (len(name) > MAX_MEMBER_NAME or parts.is_absolute() or ".." in parts.parts or "\\" in name
            or not name.isprintable()):
        return "unsafe path in zip archive"
    return None


def _ignored_member(name: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.parts)


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a notebook in an archive is not read, judged from the listing alone."""
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in ZIP_METHODS:
        return f"is compressed with method {info.compress_type}, which the grader does not read (use deflate)"
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return "notebook is too large"
    if info.file_size > max(ZIP_RATIO_FLOOR, MAX_ZIP_RATIO * info.compress_size):
        return f"inflates more than {MAX_ZIP_RATIO} times (a zip bomb)"
    return None


def _scan_zip(path: Path, student: str) -> list[Submission]:
    """The notebooks inside a zip, each with the reason it cannot be read, if any."""
    try:
        with _zip_notebooks(path) as (_, notebooks):
            found = [Submission(student, path, member, problem=problem) for member, problem in notebooks.items()]
    except (OSError, ValueError) as exc:
        return [Submission(student, path, problem=f"not a readable zip archive: {reason(exc)}")]
    return found or [Submission(student, path, problem="no notebook in this zip archive")]


def _read_member(path: Path, member: str) -> bytes:
    """One notebook of an archive, checked as discovery checked it. It is read in one read of
    its listed size, which the checks bound: zipfile inflates as much as a read asks for
    (then cuts it to the listed size), so a larger read would inflate a lying stream in full."""
    with _zip_notebooks(path) as (zf, notebooks):
        if member not in notebooks:
            raise Unreadable("no such notebook in the zip archive")
        if notebooks[member] is not None:
            raise Unreadable(notebooks[member])
        try:
            with zf.open(member) as f:
                return f.read(zf.getinfo(member).file_size)
        except Exception as exc:  # a corrupt member raises zlib, EOF, CRC or other errors: all are its own
            raise Unreadable(f"the zip archive's notebook cannot be read: {reason(exc)}") from None


# --- notebooks ---------------------------------------------------------------------------


def _match_lab(sub: Submission, lab_ids: list[str], lab_override: str | None) -> Submission:
    """Which lab the notebook is for: ``--lab``, else its metadata, else the only lab."""
    lab, problem = lab_override, sub.problem
    if problem is None:
        meta_lab, problem = _notebook_lab(sub)
        lab = lab or meta_lab
    if lab is None and len(lab_ids) == 1:
        lab = lab_ids[0]
    if lab is None:
        return replace(sub, problem=problem or "notebook does not say which lab it is for (use --lab)")
    if lab not in lab_ids:
        return replace(sub, lab=lab, problem=problem or f"no lab {lab!r} in this course")
    return replace(sub, lab=lab, problem=problem)


def _notebook_lab(sub: Submission) -> tuple[str | None, str | None]:
    """The lab the notebook names, or why it cannot be read or is not a notebook."""
    try:
        data = sub.read_bytes()
    except (OSError, ValueError) as exc:
        return None, f"not a readable notebook: {reason(exc)}"
    try:
        return metadata_lab(data), None
    except ValueError as exc:
        return None, f"not a valid notebook: {reason(exc)}"


def metadata_lab(data: bytes) -> str | None:
    """The lab id in ``metadata.grader.lab``; InvalidNotebook (a ValueError) if this is not a notebook."""
    grader_meta = load_notebook(data)["metadata"].get("grader")
    lab = grader_meta.get("lab") if isinstance(grader_meta, dict) else None
    if isinstance(lab, str) and len(lab) > MAX_LAB_ID:
        raise InvalidNotebook(f"metadata.grader.lab is longer than {MAX_LAB_ID} characters")
    return lab if isinstance(lab, str) else None


def load_notebook(data: bytes) -> dict[str, Any]:
    """The notebook document in ``data``: bounded in size and depth (grader.bounded), text that
    is Unicode throughout, and of the shape nbformat's reader and the grader take for granted,
    so that nothing downstream meets a type it does not expect; nbformat's validation does the
    rest. InvalidNotebook (a ValueError) saying why not."""
    try:
        doc = bounded.loads(data, MAX_NOTEBOOK_BYTES, "the notebook")
    except ValueError as exc:
        raise InvalidNotebook(reason(exc)) from None
    _check_notebook(doc)
    _check_unicode(doc)
    return doc


def _check_notebook(doc: Any) -> None:
    """What nbformat's reader assumes (it raises AttributeError, TypeError or AssertionError on
    anything else), what the grader relies on, and a version whose schema is strict: a minor
    newer than nbformat knows is validated with unknown cell and output types allowed."""
    newest = nbformat.v4.nbformat_minor
    _expect(type(doc) is dict, "the top level is not a JSON object")
    _expect(type(doc.get("nbformat")) is int and doc["nbformat"] == 4, "nbformat is not the integer 4")
    minor = doc.get("nbformat_minor")
    _expect(type(minor) is int and 0 <= minor <= newest, f"nbformat_minor is not an integer from 0 to {newest}")
    _expect(type(doc.get("metadata")) is dict, "metadata is not an object")
    cells = doc.get("cells")
    _expect(type(cells) is list, "cells is not a list")
    _expect(len(cells) <= MAX_CELLS, f"more than {MAX_CELLS} cells")
    for number, cell in enumerate(cells, 1):
        _check_cell(cell, f"cell {number}")


def _check_cell(cell: Any, where: str) -> None:
    _expect(type(cell) is dict, f"{where} is not an object")
    _expect(cell.get("cell_type") in _CELL_TYPES, f"{where} has no cell_type the grader knows")
    source = cell.get("source")
    _expect(_is_text(source), f"{where}: source is not text")
    _expect((len(source) if type(source) is str else sum(map(len, source))) <= MAX_CELL_SOURCE,
            f"{where}: source is longer than {MAX_CELL_SOURCE} characters")
    _expect(type(cell.get("metadata")) is dict, f"{where}: metadata is not an object")
    _expect(type(cell.get("id", "")) is str, f"{where}: id is not a string")
    attachments = cell.get("attachments", {})
    _expect(type(attachments) is dict and all(type(a) is dict for a in attachments.values()),
            f"{where}: attachments are not objects")
    if cell["cell_type"] == "code":
        outputs = cell.get("outputs")
        _expect(type(outputs) is list and all(_is_output(o) for o in outputs), f"{where}: outputs are not outputs")


def _is_output(output: Any) -> bool:
    return (type(output) is dict and output.get("output_type") in _OUTPUT_TYPES
            and type(output.get("data", {})) is dict and _is_text(output.get("text", "")))


def _is_text(value: Any) -> bool:
    return type(value) is str or (type(value) is list and all(type(line) is str for line in value))


def _check_unicode(doc: dict[str, Any]) -> None:
    """Refuse a lone surrogate (``"\\ud800"`` is valid JSON): text that cannot be encoded would
    fail when the notebook is sent to its kernel or written out."""
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNotebook("the notebook holds text that is not Unicode (a lone surrogate)") from None


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise InvalidNotebook(problem)


def _newest_per_student_and_lab(subs: list[Submission]) -> list[Submission]:
    """One submission per (student, lab): the most recently modified notebook."""
    best: dict[tuple[str, str], Submission] = {}
    for sub in subs:
        key = (sub.student, sub.lab)
        if key not in best or _mtime(sub) > _mtime(best[key]):
            best[key] = sub
    return sorted(best.values(), key=lambda s: (s.student, s.lab))


def _mtime(sub: Submission) -> float:
    try:
        return sub.path.lstat().st_mtime
    except OSError:
        return 0.0
