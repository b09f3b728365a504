"""The course layout: ``labs/`` for students, ``solutions/`` for the instructor.

A course is a folder. Everything the grader knows about a lab comes from
``labs/<id>/`` (what students get), ``solutions/<id>/`` (what they never see)
and the optional ``solutions/<id>/lab.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.course.settings import Settings
from grader.errors import CourseError


@dataclass(frozen=True)
class Lab:
    """One lab: where its files live and how it is graded."""

    id: str
    lab_dir: Path
    solution_dir: Path
    settings: Settings

    @property
    def notebook(self) -> Path:
        return self.lab_dir / "lab.ipynb"

    @property
    def solution(self) -> Path:
        return self.solution_dir / "solution.ipynb"

    @property
    def public_tests(self) -> Path:
        return self.lab_dir / "tests"

    @property
    def hidden_tests(self) -> Path:
        return self.solution_dir / "tests"

    @property
    def title(self) -> str:
        return self.settings.title or self.id

    def test_dirs(self, hidden: bool = True) -> list[Path]:
        """The test folders that exist, public first."""
        dirs = [self.public_tests] + ([self.hidden_tests] if hidden else [])
        return [d for d in dirs if d.is_dir()]

    def student_files(self) -> list[Path]:
        """What a sandbox gets of the lab: everything in ``labs/<id>/`` but the notebook."""
        if not self.lab_dir.is_dir():
            return []
        return sorted(p for p in self.lab_dir.iterdir()
                      if p.name != "lab.ipynb" and not p.name.startswith("."))


@dataclass(frozen=True)
class Course:
    """A folder holding ``labs/`` and ``solutions/``."""

    root: Path

    @classmethod
    def find(cls, root: Path | None = None) -> Course:
        """The course at ``root`` (default: the current directory)."""
        root = (root or Path.cwd()).resolve()
        if not (root / "solutions").is_dir() and not (root / "labs").is_dir():
            raise CourseError(f"{root} is not a course: it has neither labs/ nor solutions/")
        return cls(root)

    def lab_ids(self) -> list[str]:
        ids = set()
        for sub in ("labs", "solutions"):
            folder = self.root / sub
            if folder.is_dir():
                ids.update(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        return sorted(ids)

    def lab(self, lab_id: str) -> Lab:
        """The lab ``lab_id``, or a CourseError naming the labs there are."""
        if "/" in lab_id or lab_id in ("", ".", ".."):
            raise CourseError(f"not a lab id: {lab_id!r}")
        if lab_id not in self.lab_ids():
            raise CourseError(f"no lab {lab_id!r} in {self.root} (labs: {', '.join(self.lab_ids()) or 'none'})")
        solution_dir = self.root / "solutions" / lab_id
        return Lab(lab_id, self.root / "labs" / lab_id, solution_dir,
                   Settings.load(solution_dir / "lab.toml"))
