"""Fingerprints: a digest of everything one grade depends on, so a rerun regrades only what changed.

A result's fingerprint joins three digests. The environment's: Python, the
kernel's libraries, the sandbox backend (with its image) and the engine's own
code, which is every file of the package except the kits. The lab's: the files
students get, the hidden tests, the settings, and the files of the kits the lab
declares, so that editing a kit regrades only the labs that use it. The
submission's: its bytes, and the other notebooks it was chosen over.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from grader import kits
from grader.course.discover import Submission
from grader.course.layout import Lab
from grader.engine.sandbox import Backend
from grader.engine.sandbox.base import package_dir
from grader.engine.sandbox.image import requirements

SOURCE_SUFFIXES = (".py", ".ini")


def environment_fingerprint(backend: Backend) -> str:
    """The engine's code, Python, the kernel's libraries and the backend (with its image)."""
    return digest(sys.version, backend.identity, *requirements(), *(_file_digest(p) for p in engine_sources()))


def engine_sources() -> list[Path]:
    """The package's code but the kits' own folders (the registry is the engine's)."""
    kit_folders = [package_dir() / "kits" / name for name in kits.available()]
    return sorted(p for p in package_dir().rglob("*") if p.suffix in SOURCE_SUFFIXES
                  and not any(folder in p.parents for folder in kit_folders))


def lab_fingerprint(lab: Lab) -> str:
    """Every file of the lab that students get, its hidden tests, its settings and its kits. The
    settings count as read, without the late policy: a moved deadline regrades nothing."""
    files = _files(lab.lab_dir) + _files(lab.hidden_tests)
    files += [p for name in lab.settings.kit_names for p in kits.files(name)]
    return digest(repr(lab.settings.grading), *(f"{p.name}:{_file_digest(p)}" for p in files))


def submission_fingerprint(sub: Submission) -> str:
    """The notebook's bytes (or why it has none), and the other notebooks it was chosen over:
    the result's message names them, so when they change the result must not be reused."""
    return digest(_content_fingerprint(sub), sub.duplicate_note)


def _content_fingerprint(sub: Submission) -> str:
    try:
        if sub.problem is not None:
            return digest(f"problem:{sub.problem}")
        return hashlib.sha256(sub.read_bytes()).hexdigest()
    except (OSError, ValueError) as exc:
        return digest(f"unreadable:{exc}")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()
