"""Turn the paths given to ``grade`` into submissions: who, which lab, which bytes.

Nothing here follows a symbolic link or trusts a name inside an archive: a
submission is data from a stranger. A path that cannot be graded still becomes
a submission, with ``problem`` set, so that it gets a row marked ``invalid``
instead of vanishing from the gradebook.

Everything a submission controls is bounded before it is parsed or kept: a
student's folder in depth and entries (here), a zip archive in its central
directory, its entries and the bytes it may inflate to (grader.course.archive),
a notebook in size, nesting, cells and cell sources (grader.course.notebook_file).
This module is the top of the three: it imports them and they know nothing of
submissions. Whatever a file holds, reading it ends in bytes or in an OSError or
ValueError whose message is that submission's problem.

**One notebook per student and lab.** When several notebooks are found for the same
student and lab, one is graded, by a rule an instructor can predict from the file
names alone: a notebook the grader can read wins over one it cannot (a stray empty
or corrupt copy never hides the real work); among those, the one whose path sorts
last in natural order. Natural order compares the path folder by folder (a zip
counts as a folder, the member's own folders inside it), ``.ipynb`` and ``.zip``
set aside, ignoring case, and runs of digits by their value. So ``lab-v10`` beats
``lab-v9``, ``lab-v2`` and ``lab (1)`` beat ``lab``, and ``alice/lab.ipynb`` beats
``alice.ipynb`` beside the folder. File times are not used: a clone, a copy or an
unzip resets them. A Gradescope or nbgrader user expects the *latest* submission to
count; without a trustworthy time, the names are what carries "latest": Canvas's
bulk download appends ``-1``, ``-2`` to resubmissions, browsers ``(1)``, ``(2)`` to
a file downloaded again, students ``v2`` or ``final``; each sorts after the name it
extends. The order is total (the path itself breaks every tie), so the same files
give the same choice whatever the order they were listed in. Nothing is dropped
silently: the kept submission carries the others' paths (``duplicates``: the first
few named, the rest counted), and its result's message, the feedback page and the
batch's summary say which were not graded.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from grader import bounded
from grader.course import notebook_file
from grader.course.archive import read_member, zip_notebooks
from grader.course.notebook_file import metadata_lab, read_file, reason

MAX_FOLDER_DEPTH = 32  # folders below a student's folder
MAX_FOLDER_ENTRIES = 10_000  # entries listed below a student's folder
UNKNOWN_LAB = "?"
NAMED_DUPLICATES = 5  # duplicates a submission names; it counts the rest (a folder may hold thousands)
DUPLICATE_NAME_CHARS = 200  # of a path kept to name it in a message


@dataclass(frozen=True)
class Submission:
    """One notebook of one student, not yet graded."""

    student: str
    path: Path
    member: str | None = None  # the notebook's name inside the zip at ``path``
    lab: str = UNKNOWN_LAB
    problem: str | None = None  # why it cannot be graded, if it cannot
    duplicates: tuple[str, ...] = ()  # other notebooks for this student and lab, not graded: the first few
    more_duplicates: int = 0  # how many more there were, beyond those named

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @property
    def duplicate_note(self) -> str:
        """What the result says of the notebooks this one was chosen over; empty if none. It is
        part of the submission's fingerprint: a result must not be reused with a stale note."""
        count = len(self.duplicates) + self.more_duplicates
        if not count:
            return ""
        names = ", ".join(self.duplicates) + (f" and {self.more_duplicates} more" if self.more_duplicates else "")
        were = "notebook for this lab was" if count == 1 else "notebooks for this lab were"
        return (f"{count} other {were} not graded: {names} (one notebook is graded per lab: "
                "a readable one, the last by name)")

    def read_bytes(self) -> bytes:
        """The notebook's bytes, at most MAX_NOTEBOOK_BYTES of them. Every check is made again
        on each read, since the file may have changed since discovery; whatever the file is,
        a failure is an OSError or a ValueError naming the reason. The bound is read from
        grader.course.notebook_file, as its readers read it, so that it is one value."""
        data = read_file(self.path) if self.member is None else read_member(self.path, self.member)
        bounded.check_size(data, notebook_file.MAX_NOTEBOOK_BYTES, "the notebook")
        return data


def discover(paths: list[Path], lab_ids: list[str], lab_override: str | None = None) -> list[Submission]:
    """Every submission under ``paths``, each matched to a lab, one per student and lab (see the
    module's docstring for which one, and how the others are reported)."""
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
    return _one_per_student_and_lab(matched)


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


def _scan_zip(path: Path, student: str) -> list[Submission]:
    """The notebooks inside a zip, each with the reason it cannot be read, if any."""
    try:
        with zip_notebooks(path) as (_, notebooks):
            found = [Submission(student, path, member, problem=problem) for member, problem in notebooks.items()]
    except (OSError, ValueError) as exc:
        return [Submission(student, path, problem=f"not a readable zip archive: {reason(exc)}")]
    return found or [Submission(student, path, problem="no notebook in this zip archive")]


# --- labs ------------------------------------------------------------------------------


def _match_lab(sub: Submission, lab_ids: list[str], lab_override: str | None) -> Submission:
    """Which lab the notebook is for: ``--lab``, else its metadata, else its file name (see
    :func:`_lab_by_name`), else the only lab."""
    lab, problem = lab_override, sub.problem
    if problem is None:
        meta_lab, problem = _notebook_lab(sub)
        lab = lab or meta_lab
    if lab is None and problem is None:
        lab, problem = _lab_by_name(sub, lab_ids)
    if lab is None and len(lab_ids) == 1:
        lab = lab_ids[0]
    if lab is None:
        return replace(sub, problem=problem or "notebook does not say which lab it is for (use --lab)")
    if lab not in lab_ids:
        return replace(sub, lab=lab, problem=problem or f"no lab {lab!r} in this course")
    return replace(sub, lab=lab, problem=problem)


def _lab_by_name(sub: Submission, lab_ids: list[str]) -> tuple[str | None, str | None]:
    """The lab a notebook without metadata is for, by its file name, when only one lab fits: the
    lab ``<folder>-<name>`` (nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``, imported
    as lab ``<assignment>-<notebook>``), else the lab ``<name>``, else the one lab ending in
    ``-<name>``. Several labs ending so: the problem names them. (lab, problem), both None when no
    lab has the name."""
    path = PurePosixPath(sub.member) if sub.member else PurePosixPath(sub.path.as_posix())
    stem = path.name.removesuffix(".ipynb")
    for exact in (f"{path.parent.name}-{stem}", stem):
        if exact in lab_ids:
            return exact, None
    ending = sorted(lab for lab in lab_ids if lab.endswith(f"-{stem}"))
    if len(ending) > 1:
        return None, f"its name {path.name!r} fits labs {', '.join(ending)}: say which with --lab"
    return (ending[0], None) if ending else (None, None)


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


def _one_per_student_and_lab(subs: list[Submission]) -> list[Submission]:
    """One submission per (student, lab), chosen by :func:`_rank`, naming the others it won over.
    A path listed twice (given twice on the command line) is one notebook, not a duplicate."""
    groups: dict[tuple[str, str], dict[str, Submission]] = {}
    for sub in subs:
        groups.setdefault((sub.student, sub.lab), {}).setdefault(sub.origin, sub)
    chosen = []
    for group in groups.values():
        kept, *others = sorted(group.values(), key=_rank, reverse=True)
        named = tuple(shown(o.origin) for o in others[:NAMED_DUPLICATES])
        chosen.append(replace(kept, duplicates=named, more_duplicates=len(others) - len(named)))
    return sorted(chosen, key=lambda s: (s.student, s.lab))


def _rank(sub: Submission) -> tuple:
    """Higher wins: readable first, then the path in natural order, then the path itself (the
    origin is unique, so no two submissions tie)."""
    parts = [*sub.path.parts, *(sub.member.split("/") if sub.member else ())]
    return (sub.problem is None, [_natural(_stem(part)) for part in parts], parts, sub.origin)


def _stem(name: str) -> str:
    for suffix in (".ipynb", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


_DIGITS = re.compile(r"([0-9]+)")  # ASCII digits: other scripts compare as text


def _natural(text: str) -> list:
    """``text`` as natural order compares it: case ignored, each run of digits by its value
    ("v9" before "v10"). The split puts text at even places and numbers at odd ones, so two keys
    always compare like with like. A name is at most a zip member's MAX_MEMBER_NAME characters,
    far below the digits int() refuses."""
    return [int(part) if i % 2 else part.casefold() for i, part in enumerate(_DIGITS.split(text))]


def shown(path: str) -> str:
    """A path as messages show it: a file name may hold any character but "/" and NUL, so
    what a terminal or a spreadsheet would act on becomes "?", and it is cut to a bound."""
    text = "".join(c if c.isprintable() else "?" for c in path[:DUPLICATE_NAME_CHARS])
    return text if len(path) <= DUPLICATE_NAME_CHARS else text[:-1] + "…"
