"""Fingerprints: editing a kit regrades only the labs that declare it; the engine's cover no kit."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import kits
from grader.batch import fingerprint
from grader.course.layout import Course


def course_with(tmp_path: Path, **declared: str) -> Course:
    """A course whose lab ``id`` has the lab.toml text ``declared[id]``."""
    for lab_id, toml in declared.items():
        (tmp_path / "labs" / lab_id / "tests").mkdir(parents=True)
        (tmp_path / "labs" / lab_id / "lab.ipynb").write_text("{}")
        (tmp_path / "solutions" / lab_id / "tests").mkdir(parents=True)
        (tmp_path / "solutions" / lab_id / "lab.toml").write_text(toml)
    return Course(tmp_path)


@pytest.mark.parametrize("kit", kits.available())
def test_editing_a_kit_changes_only_the_labs_that_declare_it(tmp_path, monkeypatch, kit):
    course = course_with(tmp_path, uses=f'kits = ["{kit}"]\n', plain="")
    fake = tmp_path / f"{kit}.py"
    fake.write_text("VERSION = 1\n")
    monkeypatch.setattr(kits, "files", lambda name: [fake] if name == kit else [])
    before = {lab: fingerprint.lab_fingerprint(course.lab(lab)) for lab in ("uses", "plain")}
    fake.write_text("VERSION = 2\n")
    after = {lab: fingerprint.lab_fingerprint(course.lab(lab)) for lab in ("uses", "plain")}
    assert before["uses"] != after["uses"]
    assert before["plain"] == after["plain"]


def test_the_engine_fingerprint_covers_the_engine_and_the_registry_but_no_kit():
    """The registry and the modules kits share (kits/*.py, no kit of their own) are the engine's:
    editing those regrades every lab; no file of a kit's own folder is."""
    sources = fingerprint.engine_sources()
    names = {p.relative_to(fingerprint.package_dir()).as_posix() for p in sources}
    assert {"runner.py", "engine/kernel.py", "kits/__init__.py", "kits/served.py", "kits/sandboxed.py"} <= names
    assert not [n for n in names if any(n.startswith(f"kits/{kit}/") for kit in kits.available())]


def test_a_kits_files_are_its_own_folder():
    for kit in kits.available():
        files = kits.files(kit)
        assert files and all(f"kits/{kit}/" in p.as_posix() for p in files)
