"""A student's zip archive: its notebooks listed and read within bounds, names never trusted.

Split from grader.course.discover, which turns what is listed here into
submissions: this module knows archives, not students or labs. An archive is
bounded before zipfile parses it (its central directory, through
``_ListingBudget``), then in its entries, the notebooks it holds and the bytes
they may inflate to, and each notebook is judged from the listing alone
(``_member_problem``) before a byte of it is inflated. Whatever an archive
holds, reading it ends in bytes or in an OSError or a ValueError (Unreadable)
whose message is that submission's problem.

The file itself is opened as every notebook file is (grader.course.notebook_file),
and a notebook inside is held to the same MAX_NOTEBOOK_BYTES, read from that
module when it runs so that the bound is one value.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from grader import bounded
from grader.course import notebook_file
from grader.course.notebook_file import Unreadable, reason, regular_file

MAX_ZIP_DIRECTORY = 1024 * 1024  # bytes zipfile may read to list an archive (its central directory)
MAX_ZIP_ENTRIES = 5_000  # entries an archive may list, notebooks or not
MAX_ZIP_NOTEBOOKS = 20  # each is read at discovery, and the kept ones again to fingerprint and grade
MAX_ZIP_NOTEBOOK_BYTES = 2 * notebook_file.MAX_NOTEBOOK_BYTES  # inflated size of all of an archive's notebooks
MAX_ZIP_RATIO = 1000  # inflated : compressed; deflate tops out near 1030 : 1, a notebook of one
# output line printed a million times is 500 : 1, most notebooks 4 : 1
ZIP_RATIO_FLOOR = 1024 * 1024  # members this small inflate to little whatever their ratio
MAX_MEMBER_NAME = 1024  # characters of a path inside an archive
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what every zip tool writes
LOCAL_HEADER = 30  # bytes: the fixed part of a zip entry's local header
ZIP_TRAILER = 2**16 + 128  # bytes zipfile reads to find the listing: end records and archive comment


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
def zip_notebooks(path: Path) -> Iterator[tuple[zipfile.ZipFile, dict[str, str | None]]]:
    """The archive open for reading, and its notebooks, each mapped to the reason it cannot be
    read (None if it can). Unreadable if the archive as a whole cannot be trusted."""
    with regular_file(path) as f:
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
    if info.file_size > notebook_file.MAX_NOTEBOOK_BYTES:
        return "notebook is too large"
    if info.file_size > max(ZIP_RATIO_FLOOR, MAX_ZIP_RATIO * info.compress_size):
        return f"inflates more than {MAX_ZIP_RATIO} times (a zip bomb)"
    return None


def read_member(path: Path, member: str) -> bytes:
    """One notebook of an archive, checked as discovery checked it. It is read in one read of
    its listed size, which the checks bound: zipfile inflates as much as a read asks for
    (then cuts it to the listed size), so a larger read would inflate a lying stream in full."""
    with zip_notebooks(path) as (zf, notebooks):
        if member not in notebooks:
            raise Unreadable("no such notebook in the zip archive")
        if notebooks[member] is not None:
            raise Unreadable(notebooks[member])
        try:
            with zf.open(member) as f:
                return f.read(zf.getinfo(member).file_size)
        except Exception as exc:  # a corrupt member raises zlib, EOF, CRC or other errors: all are its own
            raise Unreadable(f"the zip archive's notebook cannot be read: {reason(exc)}") from None
