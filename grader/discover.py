"""Turn the paths given to ``grade`` into submissions: who, which lab, which bytes.

Nothing here follows a symbolic link or trusts a name inside an archive: a
submission is data from a stranger. A path that cannot be graded still becomes
a submission, with ``problem`` set, so that it gets a row marked ``invalid``
instead of vanishing from the gradebook.
"""

from __future__ import annotations

import json
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
UNKNOWN_LAB = "?"


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
        """The notebook's bytes, refusing anything over MAX_NOTEBOOK_BYTES."""
        if self.member is None:
            with open(self.path, "rb") as f:
                data = f.read(MAX_NOTEBOOK_BYTES + 1)
        else:
            with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as f:
                data = f.read(MAX_NOTEBOOK_BYTES + 1)
        if len(data) > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
        return data


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
    found = []
    for path in sorted(_walk_no_links(folder)):
        if path.is_symlink():
            found.append(Submission(student, path, problem="is a symbolic link"))
        elif path.suffix == ".ipynb":
            found.append(Submission(student, path))
    if not found:
        found.append(Submission(student, folder, problem="no notebook in this folder"))
    return found


def _walk_no_links(folder: Path):
    """Files below ``folder``, never entering a linked folder; links are yielded, not followed."""
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        if entry.is_symlink() or entry.is_file():
            yield entry
        elif entry.is_dir():
            yield from _walk_no_links(entry)


def _scan_file(path: Path, student: str) -> list[Submission]:
    if path.suffix == ".zip":
        return _scan_zip(path, student)
    if path.suffix != ".ipynb":
        return [Submission(student, path, problem="not a notebook (.ipynb) or a zip archive")]
    return [Submission(student, path)]


def _scan_zip(path: Path, student: str) -> list[Submission]:
    """The notebooks inside a zip, refusing links and names that climb out."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        return [Submission(student, path, problem=f"not a readable zip archive: {exc}")]
    found = []
    for info in members:
        name = PurePosixPath(info.filename)
        if info.is_dir() or name.suffix != ".ipynb":
            continue
        if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
            found.append(Submission(student, path, info.filename, problem="unsafe path in zip archive"))
        elif _ignored_member(name):
            continue
        elif stat.S_ISLNK(info.external_attr >> 16):
            found.append(Submission(student, path, info.filename, problem="is a symbolic link"))
        elif info.file_size > MAX_NOTEBOOK_BYTES:
            found.append(Submission(student, path, info.filename, problem="notebook is too large"))
        else:
            found.append(Submission(student, path, info.filename))
    if not found:
        found.append(Submission(student, path, problem="no notebook in this zip archive"))
    return found


def _ignored_member(name: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.parts)


def _match_lab(sub: Submission, lab_ids: list[str], lab_override: str | None) -> Submission:
    """Which lab the notebook is for: ``--lab``, else its metadata, else the only lab."""
    lab, problem = lab_override, sub.problem
    if problem is None:
        try:
            meta_lab = metadata_lab(sub.read_bytes())
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            meta_lab, problem = None, f"not a readable notebook: {exc}"
        lab = lab or meta_lab
    if lab is None and len(lab_ids) == 1:
        lab = lab_ids[0]
    if lab is None:
        return replace(sub, problem=problem or "notebook does not say which lab it is for (use --lab)")
    if lab not in lab_ids:
        return replace(sub, lab=lab, problem=problem or f"no lab {lab!r} in this course")
    return replace(sub, lab=lab, problem=problem)


def metadata_lab(data: bytes) -> str | None:
    """The lab id in ``metadata.grader.lab``; ValueError if this is not a notebook at all."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise ValueError("JSON, but not a notebook")
    meta = doc.get("metadata")
    grader_meta = meta.get("grader") if isinstance(meta, dict) else None
    lab = grader_meta.get("lab") if isinstance(grader_meta, dict) else None
    return lab if isinstance(lab, str) else None


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
