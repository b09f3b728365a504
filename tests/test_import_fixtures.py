"""nbgrader's own fixture courses, shipped in its package, imported and graded here: the points
graded automatically must be nbgrader's.

- The documentation's course (``docs/source/user_guide``): its source ``ps1``, its students'
  submissions, and nbgrader's autograded copies of them, whose test cells' outputs say what
  nbgrader scored (a cell with an error, or output on stderr, scores 0).
- The autograder test's files (``tests/apps/files``): ``submitted-unchanged.ipynb`` as the source
  and four submissions of it, with the scores ``test_nbgrader_autograde.py``'s ``test_grade`` and
  ``test_grade_overwrite_files`` assert (1, 2, 1 and 1 of 7; the rest of the 7 is graded by hand).
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import run_grade

NBGRADER = Path(importlib.util.find_spec("nbgrader").submodule_search_locations[0])
GUIDE = NBGRADER / "docs" / "source" / "user_guide"
FILES = NBGRADER / "tests" / "apps" / "files"
AUTOGRADE_TEST_SCORES = {"foo": ("unchanged", 1.0), "bar": ("changed", 2.0), "spam": ("cheat-attempt", 1.0),
                         "eggs": ("cheat-attempt-alternative", 1.0)}  # test_nbgrader_autograde.py, test_grade*


def nbgrader_score(autograded: Path) -> float:
    """What nbgrader gave an autograded notebook's test cells, read from their outputs."""
    score = 0.0
    for cell in nbformat.read(autograded, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        failed = any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
                     for o in cell.outputs)
        score += 0.0 if failed else float(meta["points"])
    return score


def gradebook(course: Path) -> dict[tuple[str, str], float]:
    with open(course / "grades" / "gradebook.csv", newline="") as f:
        return {(row["student"], row["lab"]): float(row["score"]) for row in csv.DictReader(f)}


def test_the_documentation_course_scores_as_nbgrader_did(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    imported = run_grade("import", "nbgrader", str(GUIDE / "source" / "ps1"), cwd=course)
    assert imported.returncode == 0, imported.stderr
    shutil.copytree(GUIDE / "submitted", course / "submitted")
    proc = run_grade("submitted", "--out", "grades", cwd=course)
    assert proc.returncode == 0, proc.stderr
    expected = {(path.parts[-3], f"ps1-{path.stem}"): nbgrader_score(path)
                for path in (GUIDE / "autograded").glob("*/ps1/*.ipynb")}
    assert len(expected) == 4 and any(expected.values())
    assert gradebook(course) == expected


def test_the_autograder_tests_course_scores_as_nbgrader_asserts(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    shutil.copy(FILES / "submitted-unchanged.ipynb", course / "source" / "ps1" / "p1.ipynb")
    imported = run_grade("import", "nbgrader", "source/ps1", "--skip-solution-check", cwd=course)
    assert imported.returncode == 0, imported.stderr
    for student, (variant, _) in AUTOGRADE_TEST_SCORES.items():
        target = course / "submitted" / student / "ps1"
        target.mkdir(parents=True)
        shutil.copy(FILES / f"submitted-{variant}.ipynb", target / "p1.ipynb")
    proc = run_grade("submitted", "--out", "grades", "--skip-solution-check", cwd=course)
    assert proc.returncode == 0, proc.stderr
    assert gradebook(course) == {(s, "ps1-p1"): score for s, (_, score) in AUTOGRADE_TEST_SCORES.items()}


@pytest.mark.parametrize("name", ["test-v0.ipynb", "test-v1.ipynb", "test-v2.ipynb", "too-new.ipynb"])
def test_notebooks_nbgrader_refuses_are_refused_with_a_reason(tmp_path, name):
    """nbgrader's own fixtures of metadata of other schemas: older ones (which `nbgrader update`
    upgrades), one too new."""
    (tmp_path / "ps1").mkdir()
    shutil.copy(FILES / name, tmp_path / "ps1" / "p1.ipynb")
    proc = run_grade("import", "nbgrader", "ps1", "--skip-solution-check", cwd=tmp_path)
    assert proc.returncode == 2 and "schema" in proc.stderr, proc.stderr
