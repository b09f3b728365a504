"""The course layout: ``labs/`` for students, ``solutions/`` for the instructor.

A course is a folder. Everything the grader knows about a lab comes from
``labs/<id>/`` (what students get), ``solutions/<id>/`` (what they never see)
and its settings: ``solutions/<id>/lab.toml`` where the lab's solution folder
is there (the instructor's course), else ``labs/<id>/lab.toml``, the copy
``grade assign`` writes for a student's repository, which holds ``labs/`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.course.settings import Settings
from grader.errors import CourseError

NOTEBOOK_FILE = "lab.ipynb"
SETTINGS_FILE = "lab.toml"
REQUIREMENTS_FILE = "requirements.txt"
GENERATED = (NOTEBOOK_FILE, SETTINGS_FILE, REQUIREMENTS_FILE)  # what grade assign writes into labs/<id>/


@dataclass(frozen=True)
class Lab:
    """One lab: where its files live and how it is graded."""

    id: str
    lab_dir: Path
    solution_dir: Path
    settings: Settings

    @property
    def notebook(self) -> Path:
        return self.lab_dir / NOTEBOOK_FILE

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
        """What a sandbox gets of the lab: everything in ``labs/<id>/`` but what ``grade assign``
        generates there. The notebook comes as submitted; ``lab.toml`` and ``requirements.txt`` are
        for the student's machine (``grade check``, pip), not for the notebook, and are left out
        because the sandbox's copies are read-only: a notebook that writes a file of one of those
        names for a purpose of its own must find none in its way."""
        if not self.lab_dir.is_dir():
            return []
        return sorted(p for p in self.lab_dir.iterdir() if p.name not in GENERATED and not p.name.startswith("."))


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
        lab_dir, solution_dir = self.root / "labs" / lab_id, self.root / "solutions" / lab_id
        settings = (solution_dir if solution_dir.is_dir() else lab_dir) / SETTINGS_FILE
        return Lab(lab_id, lab_dir, solution_dir, Settings.load(settings))

    def title(self, lab_id: str) -> str:
        """The lab's title for pages and tables, or its id when this course does not know it (a
        result can name a lab that was renamed or removed since)."""
        try:
            return self.lab(lab_id).title
        except CourseError:
            return lab_id
