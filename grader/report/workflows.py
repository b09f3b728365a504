"""``grade init-ci``: put a CI workflow template into a repository.

    grade init-ci --student|--instructor [--gitlab] [--force] [DIR]

The templates are package data (``grader/ci_templates/``), so the command
works from a pip-installed grader; ``ci/`` at the repository root holds the
same files for people reading them on the web, and a test keeps both equal.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from grader.files import atomic_write

DESTINATIONS = {"github": Path(".github/workflows/grade.yml"), "gitlab": Path(".gitlab-ci.yml")}


def template(platform: str, role: str) -> str:
    """The workflow text for ``platform`` (github, gitlab) and ``role`` (student, instructor)."""
    return (resources.files("grader") / "ci_templates" / platform / f"{role}.yml").read_text(encoding="utf-8")


def write_template(repo: Path, platform: str, role: str, force: bool) -> Path:
    """Write the template into ``repo``; FileExistsError if the file is there and not ``force``.
    Without ``force`` the file is created exclusively, so nothing is ever overwritten by a race."""
    path = repo / DESTINATIONS[platform]
    text = template(platform, role)
    if force:
        atomic_write(path, text)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
    return path


def leak_warning(repo: Path, role: str) -> str | None:
    """A student repository must never hold hidden tests: say so if this one looks like a course
    with ``solutions/`` in it (students could read them, and print them from the workflow)."""
    if role == "student" and (repo / "solutions").exists():
        return (f"{repo / 'solutions'} exists: a student repository must not contain solutions/ "
                "(hidden tests); make the student template from labs/ only")
    return None
