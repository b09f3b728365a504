"""otter-assign's master notebooks read as labs (being written)."""

from __future__ import annotations

from pathlib import Path

from grader.course.imports.model import ImportedLab
from grader.errors import UsageError


def read_master(master: Path) -> list[ImportedLab]:
    """The lab of an otter-assign master notebook."""
    raise UsageError(f"{master}: importing otter is not written yet")
