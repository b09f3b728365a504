"""Tests for grader.course.discover: paths -> submissions, never following links or trusting zip names."""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.course import discover as discover_module
from grader.course import notebook_file
from grader.course.discover import UNKNOWN_LAB, Submission, discover

LABS = ["lab1", "lab2"]


def notebook_text(lab: str | None = "lab1", marker: str = "") -> str:
    metadata = {"grader": {"lab": lab}} if lab is not None else {}
    nb = nbformat.v4.new_notebook(metadata=metadata)
    nb.cells.append(nbformat.v4.new_code_cell(f"x = 1  # {marker}"))
    return nbformat.writes(nb)


def write_nb(path: Path, lab: str | None = "lab1", marker: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_text(lab, marker), encoding="utf-8")
    return path


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def by_student(subs: list[Submission]) -> dict[str, list[Submission]]:
    out: dict[str, list[Submission]] = {}
    for s in subs:
        out.setdefault(s.student, []).append(s)
    return out


def only(subs: list[Submission]) -> Submission:
    assert len(subs) == 1, subs
    return subs[0]


class OpenSpy:
    """Records every path the discover module opens (zip archives too: it opens them for zipfile)."""

    def __init__(self, monkeypatch):
        self.paths: list[Path] = []
        real_open = open

        def spy_open(file, *args, **kwargs):
            self.paths.append(Path(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(notebook_file, "open", spy_open, raising=False)

    def opened(self, path: Path) -> bool:
        return any(os.path.realpath(p) == os.path.realpath(path) for p in self.paths)


# --- who and which lab -----------------------------------------------------------------


def test_notebook_in_folder_belongs_to_its_stem(tmp_path):
    write_nb(tmp_path / "subs" / "alice.ipynb")
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "alice"
    assert sub.lab == "lab1"
    assert sub.problem is None
    assert sub.member is None
    assert sub.path == tmp_path / "subs" / "alice.ipynb"


def test_notebook_given_directly(tmp_path):
    path = write_nb(tmp_path / "alice.ipynb", lab="lab2")
    sub = only(discover([path], LABS))
    assert (sub.student, sub.lab, sub.problem) == ("alice", "lab2", None)


def test_notebook_in_student_folder_belongs_to_the_folder(tmp_path):
    write_nb(tmp_path / "subs" / "bob" / "whatever name.ipynb")
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "bob" and sub.problem is None and sub.lab == "lab1"


def test_nested_notebook_in_student_folder(tmp_path):
    path = write_nb(tmp_path / "subs" / "bob" / "deep" / "deeper" / "work.ipynb", lab="lab2")
    sub = only(discover([tmp_path / "subs"], LABS))
    assert (sub.student, sub.lab, sub.path) == ("bob", "lab2", path)


def test_student_folder_with_one_notebook_per_lab(tmp_path):
    write_nb(tmp_path / "subs" / "bob" / "a.ipynb", lab="lab1")
    write_nb(tmp_path / "subs" / "bob" / "b.ipynb", lab="lab2")
    subs = discover([tmp_path / "subs"], LABS)
    assert [(s.student, s.lab) for s in subs] == [("bob", "lab1"), ("bob", "lab2")]
    assert all(s.problem is None for s in subs)


def test_zip_holding_notebooks(tmp_path):
    text1, text2 = notebook_text("lab1", "one"), notebook_text("lab2", "two")
    write_zip(tmp_path / "subs" / "carol.zip", {"work/lab1.ipynb": text1, "lab2.ipynb": text2})
    subs = discover([tmp_path / "subs"], LABS)
    assert [(s.student, s.lab, s.member) for s in subs] == [
        ("carol", "lab1", "work/lab1.ipynb"), ("carol", "lab2", "lab2.ipynb")]
    assert all(s.problem is None for s in subs)
    assert subs[0].read_bytes() == text1.encode("utf-8")
    assert subs[1].read_bytes() == text2.encode("utf-8")
    assert subs[0].origin.endswith("carol.zip:work/lab1.ipynb")


def test_zip_given_directly_ignores_non_notebooks_and_macos_junk(tmp_path):
    path = write_zip(tmp_path / "carol.zip", {
        "lab.ipynb": notebook_text(), "notes.txt": "hi",
        "__MACOSX/._lab.ipynb": b"\x00\x05junk", ".hidden.ipynb": "junk"})
    sub = only(discover([path], LABS))
    assert (sub.student, sub.member, sub.problem) == ("carol", "lab.ipynb", None)


def test_zip_without_notebook_is_a_problem(tmp_path):
    path = write_zip(tmp_path / "dan.zip", {"readme.txt": "no notebook"})
    sub = only(discover([path], LABS))
    assert sub.student == "dan" and sub.problem and "no notebook" in sub.problem


def test_lab_from_metadata(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb", lab="lab2")
    assert only(discover([tmp_path / "s"], LABS)).lab == "lab2"


def test_lab_override_wins_over_metadata(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb", lab="lab2")
    sub = only(discover([tmp_path / "s"], LABS, lab_override="lab1"))
    assert sub.lab == "lab1" and sub.problem is None


def test_lab_override_for_notebook_without_metadata(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb", lab=None)
    sub = only(discover([tmp_path / "s"], LABS, lab_override="lab2"))
    assert sub.lab == "lab2" and sub.problem is None


def test_unknown_lab_override_is_a_problem(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb")
    sub = only(discover([tmp_path / "s"], LABS, lab_override="nope"))
    assert sub.problem and "nope" in sub.problem


def test_single_lab_course_matches_notebook_without_metadata(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb", lab=None)
    sub = only(discover([tmp_path / "s"], ["only"]))
    assert sub.lab == "only" and sub.problem is None


def test_unknown_lab_in_metadata_is_a_problem(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb", lab="lab9")
    sub = only(discover([tmp_path / "s"], LABS))
    assert sub.student == "a"
    assert sub.lab == "lab9"
    assert sub.problem and "lab9" in sub.problem


def test_missing_metadata_with_several_labs_is_a_problem(tmp_path):
    write_nb(tmp_path / "s" / "a.ipynb", lab=None)
    sub = only(discover([tmp_path / "s"], LABS))
    assert sub.lab == UNKNOWN_LAB
    assert sub.problem and "--lab" in sub.problem


IMPORTED = ["ps1-problem1", "ps1-problem2", "ps2-problem1", "essay"]


@pytest.mark.parametrize(("relative", "lab"), [
    ("submitted/alice/ps1/problem1.ipynb", "ps1-problem1"),  # nbgrader's layout: <assignment>-<notebook>
    ("submitted/alice/ps2/problem1.ipynb", "ps2-problem1"),
    ("submitted/alice/ps1/problem2.ipynb", "ps1-problem2"),  # the only lab ending in -problem2
    ("submitted/alice/problem2.ipynb", "ps1-problem2"),
    ("submitted/alice/essay.ipynb", "essay"),  # a lab named as the notebook
    ("submitted/alice/answers/essay.ipynb", "essay"),
])
def test_notebook_without_metadata_is_matched_by_its_file_name(tmp_path, relative, lab):
    write_nb(tmp_path / relative, lab=None)
    sub = only(discover([tmp_path / "submitted"], IMPORTED))
    assert (sub.student, sub.lab, sub.problem) == ("alice", lab, None)


def test_file_name_fitting_several_labs_names_them(tmp_path):
    write_nb(tmp_path / "submitted" / "alice" / "problem1.ipynb", lab=None)
    sub = only(discover([tmp_path / "submitted"], IMPORTED))
    assert sub.lab == UNKNOWN_LAB
    assert "ps1-problem1, ps2-problem1" in sub.problem and "--lab" in sub.problem


def test_metadata_wins_over_the_file_name(tmp_path):
    write_nb(tmp_path / "submitted" / "alice" / "ps1" / "problem1.ipynb", lab="essay")
    assert only(discover([tmp_path / "submitted"], IMPORTED)).lab == "essay"


def test_file_name_inside_a_zip(tmp_path):
    write_zip(tmp_path / "submitted" / "alice.zip", {"ps2/problem1.ipynb": notebook_text(None)})
    sub = only(discover([tmp_path / "submitted"], IMPORTED))
    assert (sub.lab, sub.problem) == ("ps2-problem1", None)


def test_non_string_lab_metadata_counts_as_missing(tmp_path):
    path = tmp_path / "s" / "a.ipynb"
    path.parent.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"grader": {"lab": ["lab1"]}})
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    sub = only(discover([tmp_path / "s"], LABS))
    assert sub.lab == UNKNOWN_LAB and sub.problem


def test_results_sorted_by_student_then_lab(tmp_path):
    write_nb(tmp_path / "s" / "zed.ipynb", lab="lab1")
    write_nb(tmp_path / "s" / "amy" / "x.ipynb", lab="lab2")
    write_nb(tmp_path / "s" / "amy" / "y.ipynb", lab="lab1")
    subs = discover([tmp_path / "s"], LABS)
    assert [(s.student, s.lab) for s in subs] == [("amy", "lab1"), ("amy", "lab2"), ("zed", "lab1")]


def test_several_paths_are_combined(tmp_path):
    a = write_nb(tmp_path / "one" / "alice.ipynb")
    write_nb(tmp_path / "two" / "bob.ipynb")
    subs = discover([a, tmp_path / "two"], LABS)
    assert [s.student for s in subs] == ["alice", "bob"]


# --- symbolic links --------------------------------------------------------------------


@pytest.fixture
def outside_notebook(tmp_path) -> Path:
    """A valid notebook outside the submissions folder: a link must never lead here."""
    return write_nb(tmp_path / "outside" / "secret.ipynb", marker="SECRET")


def test_symlinked_notebook_given_directly_is_not_followed(tmp_path, outside_notebook, monkeypatch):
    link = tmp_path / "mallory.ipynb"
    link.symlink_to(outside_notebook)
    spy = OpenSpy(monkeypatch)
    sub = only(discover([link], LABS))
    assert sub.student == "mallory"
    assert sub.path == link
    assert sub.problem and "symbolic link" in sub.problem
    assert not spy.opened(outside_notebook)


def test_symlinked_notebook_in_folder_is_not_followed(tmp_path, outside_notebook, monkeypatch):
    (tmp_path / "subs").mkdir()
    link = tmp_path / "subs" / "mallory.ipynb"
    link.symlink_to(outside_notebook)
    alice = write_nb(tmp_path / "subs" / "alice.ipynb")
    spy = OpenSpy(monkeypatch)
    subs = by_student(discover([tmp_path / "subs"], LABS))
    sub = only(subs["mallory"])
    assert sub.problem and "symbolic link" in sub.problem
    assert sub.path == link
    assert only(subs["alice"]).problem is None
    assert spy.opened(alice)  # the spy does see what is read
    assert not spy.opened(outside_notebook)


def test_symlinked_student_folder_is_not_followed(tmp_path, outside_notebook, monkeypatch):
    (tmp_path / "subs").mkdir()
    link = tmp_path / "subs" / "mallory"
    link.symlink_to(outside_notebook.parent, target_is_directory=True)
    spy = OpenSpy(monkeypatch)
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "mallory"
    assert sub.problem and "symbolic link" in sub.problem
    assert sub.path == link
    assert not spy.opened(outside_notebook)


def test_symlink_inside_student_folder_is_not_followed(tmp_path, outside_notebook, monkeypatch):
    folder = tmp_path / "subs" / "mallory"
    folder.mkdir(parents=True)
    link = folder / "lab.ipynb"
    link.symlink_to(outside_notebook)
    spy = OpenSpy(monkeypatch)
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "mallory"
    assert sub.path == link
    assert sub.problem and "symbolic link" in sub.problem
    assert not spy.opened(outside_notebook)


def test_linked_folder_inside_student_folder_is_not_entered(tmp_path, outside_notebook, monkeypatch):
    folder = tmp_path / "subs" / "mallory"
    folder.mkdir(parents=True)
    (folder / "more").symlink_to(outside_notebook.parent, target_is_directory=True)
    spy = OpenSpy(monkeypatch)
    subs = discover([tmp_path / "subs"], LABS)
    assert all(s.path != folder / "more" / "secret.ipynb" for s in subs)
    assert any(s.problem and "symbolic link" in s.problem for s in subs)
    assert not spy.opened(outside_notebook)


def test_dangling_symlink_is_a_problem_not_an_error(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ghost.ipynb").symlink_to(tmp_path / "does-not-exist.ipynb")
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "ghost" and "symbolic link" in sub.problem


# --- unsafe zip members ----------------------------------------------------------------


def test_zip_member_climbing_out_is_a_problem(tmp_path):
    path = write_zip(tmp_path / "eve.zip", {"../evil.ipynb": notebook_text()})
    subs = discover([path], LABS)
    assert subs and all(s.problem for s in subs)
    assert [s.member for s in subs] == ["../evil.ipynb"]
    assert "unsafe" in subs[0].problem


def test_zip_member_climbing_out_beside_a_good_one_is_reported(tmp_path):
    path = write_zip(tmp_path / "eve.zip", {"ok.ipynb": notebook_text("lab1"),
                                            "a/../../evil.ipynb": notebook_text("lab2")})
    subs = discover([path], LABS)
    bad = [s for s in subs if s.member == "a/../../evil.ipynb"]
    assert len(bad) == 1 and bad[0].problem
    good = [s for s in subs if s.member == "ok.ipynb"]
    assert len(good) == 1 and good[0].problem is None


def test_zip_member_with_absolute_path_is_a_problem(tmp_path):
    path = write_zip(tmp_path / "eve.zip", {"/etc/evil.ipynb": notebook_text()})
    sub = only(discover([path], LABS))
    assert sub.member == "/etc/evil.ipynb"
    assert sub.problem and "unsafe" in sub.problem


def test_zip_member_with_backslash_path_is_a_problem(tmp_path):
    path = write_zip(tmp_path / "eve.zip", {"work\\evil.ipynb": notebook_text()})
    sub = only(discover([path], LABS))
    assert sub.member == "work\\evil.ipynb"
    assert sub.problem and "unsafe" in sub.problem


def test_zip_member_that_is_a_symlink_is_a_problem(tmp_path, monkeypatch):
    path = tmp_path / "eve.zip"
    info = zipfile.ZipInfo("lab.ipynb")
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    calls = []
    monkeypatch.setattr(Submission, "read_bytes", lambda self: calls.append(self) or b"")
    sub = only(discover([path], LABS))
    assert sub.member == "lab.ipynb"
    assert sub.problem and "symbolic link" in sub.problem
    assert calls == []


# --- unreadable things become problems, never exceptions -------------------------------


def test_broken_inputs_each_get_a_problem_row(tmp_path):
    subs_dir = tmp_path / "subs"
    subs_dir.mkdir()
    (subs_dir / "corruptzip.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (subs_dir / "emptyzip.zip").write_bytes(b"")
    (subs_dir / "badjson.ipynb").write_text("{ not json", encoding="utf-8")
    (subs_dir / "notnb.ipynb").write_text('{"hello": "world"}', encoding="utf-8")
    (subs_dir / "jsonlist.ipynb").write_text("[1, 2, 3]", encoding="utf-8")
    (subs_dir / "empty.ipynb").write_bytes(b"")
    (subs_dir / "binary.ipynb").write_bytes(b"\xff\xfe\x00garbage\x80")
    write_nb(subs_dir / "good.ipynb")
    subs = by_student(discover([subs_dir], LABS))
    broken = ["badjson", "binary", "corruptzip", "empty", "emptyzip", "jsonlist", "notnb"]
    assert sorted(subs) == sorted(broken + ["good"])
    for student in broken:
        sub = only(subs[student])
        assert sub.problem, student
    assert only(subs["good"]).problem is None


def test_corrupt_zip_member_is_a_problem(tmp_path):
    path = write_zip(tmp_path / "carol.zip", {"lab.ipynb": "{ not json"})
    sub = only(discover([path], LABS))
    assert sub.member == "lab.ipynb" and sub.problem and "not a valid notebook" in sub.problem


def test_corrupt_notebook_problem_in_single_lab_course(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.ipynb").write_text("{ not json", encoding="utf-8")
    sub = only(discover([tmp_path / "s"], ["only"]))
    assert sub.problem and sub.lab == "only"


def test_non_notebook_file_given_directly_is_a_problem(tmp_path):
    path = tmp_path / "alice.txt"
    path.write_text("hello", encoding="utf-8")
    sub = only(discover([path], LABS))
    assert sub.student == "alice.txt" and sub.problem


# --- ignored things --------------------------------------------------------------------


def test_hidden_files_and_checkpoints_are_ignored(tmp_path):
    subs_dir = tmp_path / "subs"
    write_nb(subs_dir / ".hidden.ipynb")
    write_nb(subs_dir / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    write_nb(subs_dir / "bob" / ".ipynb_checkpoints" / "lab-checkpoint.ipynb", lab="lab2")
    write_nb(subs_dir / "bob" / ".secret.ipynb", lab="lab2")
    write_nb(subs_dir / "bob" / "lab.ipynb", lab="lab1")
    write_nb(subs_dir / "bob" / "__MACOSX" / "lab.ipynb", lab="lab2")
    (subs_dir / "notes.txt").write_text("ignored", encoding="utf-8")
    subs = discover([subs_dir], LABS)
    assert [(s.student, s.lab, s.path.name) for s in subs] == [("bob", "lab1", "lab.ipynb")]
    assert subs[0].problem is None


def test_student_folder_without_notebook_gets_a_problem_row(tmp_path):
    folder = tmp_path / "subs" / "dave"
    folder.mkdir(parents=True)
    (folder / "answers.py").write_text("x = 1", encoding="utf-8")
    write_nb(folder / ".ipynb_checkpoints" / "lab-checkpoint.ipynb")
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "dave"
    assert sub.path == folder
    assert sub.problem and "no notebook" in sub.problem


def test_empty_student_folder_gets_a_problem_row(tmp_path):
    (tmp_path / "subs" / "dave").mkdir(parents=True)
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.student == "dave" and sub.problem


def test_empty_submissions_folder_gives_nothing(tmp_path):
    (tmp_path / "subs").mkdir()
    assert discover([tmp_path / "subs"], LABS) == []


# --- one notebook per student and lab: the last by name, the others named -------------


def layout(root: Path, files: list[str]) -> dict[str, str]:
    """Write ``files`` under ``root`` (``a.zip:m.ipynb`` is member m of zip a); each notebook is
    marked with its own name, so the one chosen can be told from its bytes. Returns origin -> name."""
    zips: dict[str, dict[str, str]] = {}
    for name in files:
        if ":" in name:
            archive, member = name.split(":")
            zips.setdefault(archive, {})[member] = notebook_text(marker=name)
        else:
            write_nb(root / name, marker=name)
    for archive, members in zips.items():
        write_zip(root / archive, members)
    return {str(root / name): name for name in files}


def chosen(subs: list[Submission]) -> str:
    """The name of the one submission's notebook (its marker)."""
    text = only(subs).read_bytes().decode()
    return text.split("x = 1  # ", 1)[1].split('"', 1)[0]


DUPLICATE_LAYOUTS = [  # (files of student bob, the one graded)
    (["bob.ipynb", "bob/lab.ipynb"], "bob/lab.ipynb"),  # a folder beats the notebook beside it
    (["bob.ipynb", "bob/lab.ipynb", "bob.zip:work/lab.ipynb"], "bob.zip:work/lab.ipynb"),
    (["bob.ipynb", "bob.zip:lab.ipynb"], "bob.zip:lab.ipynb"),
    (["bob/lab.ipynb", "bob.zip:lab.ipynb"], "bob.zip:lab.ipynb"),  # equal by name: the path decides
    (["bob/lab-v9.ipynb", "bob/lab-v10.ipynb"], "bob/lab-v10.ipynb"),
    (["bob/lab.ipynb", "bob/lab-v2.ipynb"], "bob/lab-v2.ipynb"),
    (["bob/lab.ipynb", "bob/lab (1).ipynb", "bob/lab (2).ipynb"], "bob/lab (2).ipynb"),  # downloaded again
    (["bob/lab-1.ipynb", "bob/lab-2.ipynb", "bob/lab-10.ipynb", "bob/lab.ipynb"], "bob/lab-10.ipynb"),  # Canvas
    (["bob/LAB-v2.ipynb", "bob/lab-v1.ipynb"], "bob/LAB-v2.ipynb"),  # case is no part of the order
    (["bob/v010.ipynb", "bob/v9.ipynb"], "bob/v010.ipynb"),  # numbers by value, leading zeros aside
    (["bob/v1/lab.ipynb", "bob/v2/a.ipynb"], "bob/v2/a.ipynb"),  # folder by folder
    (["bob/lab_final.ipynb", "bob/lab.ipynb"], "bob/lab_final.ipynb"),
    (["bob.zip:v" + "9" * 900 + ".ipynb", "bob.zip:v1" + "0" * 900 + ".ipynb"],
     "bob.zip:v1" + "0" * 900 + ".ipynb"),  # numbers far past 64 bits, in a zip member's long name
]


@pytest.mark.parametrize(("files", "winner"), DUPLICATE_LAYOUTS)
def test_the_last_by_name_is_graded_and_the_others_named(tmp_path, files, winner):
    names = layout(tmp_path / "subs", files)
    sub = only(discover([tmp_path / "subs"], LABS))
    assert chosen([sub]) == winner
    others = {discover_module.shown(origin) for origin, name in names.items() if name != winner}
    assert set(sub.duplicates) == others and sub.more_duplicates == 0
    assert discover_module.shown(sub.origin) not in sub.duplicate_note
    assert all(o in sub.duplicate_note for o in others)
    assert sub.duplicate_note.startswith(f"{len(others)} other notebook")


@pytest.mark.parametrize(("files", "winner"), DUPLICATE_LAYOUTS)
@pytest.mark.parametrize("seed", range(3))
def test_the_choice_depends_on_names_alone(tmp_path, files, winner, seed, monkeypatch):
    """File times are shuffled (a clone or an unzip resets them) and folders listed in a shuffled
    order: the same notebook is chosen, with the same note."""
    rng = random.Random(seed)
    layout(tmp_path / "subs", files)
    for path in (tmp_path / "subs").rglob("*"):
        stamp = rng.randrange(1_000_000_000, 2_000_000_000)
        os.utime(path, (stamp, stamp), follow_symlinks=False)
    real_iterdir = Path.iterdir

    def shuffled_iterdir(self):
        entries = list(real_iterdir(self))
        rng.shuffle(entries)
        return iter(entries)

    monkeypatch.setattr(Path, "iterdir", shuffled_iterdir)
    sub = only(discover([tmp_path / "subs"], LABS))
    assert chosen([sub]) == winner
    monkeypatch.undo()
    assert sub == only(discover([tmp_path / "subs"], LABS))


@pytest.mark.parametrize("seed", range(20))
def test_a_generated_family_of_names_agrees_with_the_rule(tmp_path, seed):
    """Random version-like names, each a word and maybe a number, in bob's folder or zip. The
    rule, computed from how each name was made: the greatest (word ignoring case, number or
    none), then the zip over the folder, then the name itself. Whatever order the submissions
    come in, the same one is kept and every other one is named."""
    rng = random.Random(seed)
    words = ["lab", "Lab", "LAB", "final", "lab-final", "lab_v", "lab-v", "copy of lab", "lab ("]
    made: dict[str, tuple] = {}
    while len(made) < rng.randrange(2, 9):
        word, number = rng.choice(words), rng.randrange(0, 120) if rng.random() < 0.7 else -1
        number = max(number, 0) if word.endswith("(") else number  # "lab (3)", never "lab ()"
        stem = word + ("" if number < 0 else str(number)) + (")" if word.endswith("(") else "")
        container = rng.choice(["bob/", "bob.zip:"])
        made[container + stem + ".ipynb"] = (word.casefold(), number, container == "bob.zip:", stem)
    layout(tmp_path / "subs", sorted(made))
    winner = max(made, key=made.get)
    assert chosen(discover([tmp_path / "subs"], LABS)) == winner
    subs = [Submission("bob", tmp_path / "subs" / n.split(":")[0], n.split(":")[1] if ":" in n else None, "lab1")
            for n in made]
    for _ in range(5):
        rng.shuffle(subs)
        kept = only(discover_module._one_per_student_and_lab(subs))
        assert chosen([kept]) == winner and len(kept.duplicates) == min(len(made) - 1, 5)


def test_a_readable_notebook_beats_a_later_one_that_cannot_be_read(tmp_path):
    """In a one-lab course every notebook is for that lab, a broken one too: a stray empty or
    corrupt copy never hides the real work, and is named as not graded."""
    write_nb(tmp_path / "subs" / "bob" / "lab.ipynb")
    (tmp_path / "subs" / "bob" / "zz-copy.ipynb").write_text("{ not json")
    sub = only(discover([tmp_path / "subs"], ["lab1"]))
    assert sub.path.name == "lab.ipynb" and sub.problem is None
    assert "zz-copy.ipynb" in sub.duplicate_note


@pytest.mark.parametrize("count", [2, discover_module.NAMED_DUPLICATES + 1, 300])
def test_many_duplicates_are_counted_and_a_few_named(tmp_path, count):
    for i in range(count):
        write_nb(tmp_path / "subs" / "bob" / f"lab-{i}.ipynb")
    sub = only(discover([tmp_path / "subs"], LABS))
    assert sub.path.name == f"lab-{count - 1}.ipynb"
    named = min(count - 1, discover_module.NAMED_DUPLICATES)
    assert len(sub.duplicates) == named and sub.more_duplicates == count - 1 - named
    assert sub.duplicates[0].endswith(f"lab-{count - 2}.ipynb")  # the nearest first
    assert sub.duplicate_note.startswith(f"{count - 1} other notebook")
    assert ("more" in sub.duplicate_note) == (count - 1 > named)
    assert len(sub.duplicate_note) < 300 + named * discover_module.DUPLICATE_NAME_CHARS


def test_a_duplicate_s_name_is_shown_safely_and_bounded(tmp_path):
    write_nb(tmp_path / "subs" / "bob" / "a\x1b[31m.ipynb")
    write_nb(tmp_path / "subs" / "bob" / ("b" * 120) / ("b" * 120 + ".ipynb"))
    write_nb(tmp_path / "subs" / "bob" / "z.ipynb")
    note = only(discover([tmp_path / "subs"], LABS)).duplicate_note
    assert "\x1b" not in note and "a?[31m.ipynb" in note
    assert "b" * 100 in note and "b" * 120 + "/" + "b" * 120 not in note and "…" in note


def test_one_notebook_per_lab_and_student_is_no_duplicate(tmp_path):
    write_nb(tmp_path / "subs" / "bob" / "a.ipynb", lab="lab1")
    write_nb(tmp_path / "subs" / "bob" / "b.ipynb", lab="lab2")
    write_nb(tmp_path / "subs" / "amy.ipynb", lab="lab1")
    subs = discover([tmp_path / "subs"], LABS)
    assert len(subs) == 3 and all(s.duplicates == () and s.duplicate_note == "" for s in subs)


def test_a_path_given_twice_is_one_notebook_not_a_duplicate(tmp_path):
    path = write_nb(tmp_path / "subs" / "bob.ipynb")
    sub = only(discover([tmp_path / "subs", path, tmp_path / "subs"], LABS))
    assert sub.duplicate_note == ""


def test_the_same_student_in_two_folders_given_is_one_row(tmp_path):
    write_nb(tmp_path / "first" / "bob.ipynb")
    write_nb(tmp_path / "second" / "bob" / "lab.ipynb")
    for order in ([tmp_path / "first", tmp_path / "second"], [tmp_path / "second", tmp_path / "first"]):
        sub = only(discover(order, LABS))
        assert sub.path == tmp_path / "second" / "bob" / "lab.ipynb"
        assert sub.duplicates == (str(tmp_path / "first" / "bob.ipynb"),)


# --- errors and limits -----------------------------------------------------------------


def test_nonexistent_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover([tmp_path / "nope"], LABS)


def test_read_bytes_refuses_oversized_notebook(tmp_path, monkeypatch):
    path = write_nb(tmp_path / "alice.ipynb")
    monkeypatch.setattr(notebook_file, "MAX_NOTEBOOK_BYTES", 10)
    with pytest.raises(ValueError):
        Submission("alice", path).read_bytes()


def test_read_bytes_refuses_oversized_zip_member(tmp_path, monkeypatch):
    path = write_zip(tmp_path / "carol.zip", {"lab.ipynb": notebook_text()})
    monkeypatch.setattr(notebook_file, "MAX_NOTEBOOK_BYTES", 10)
    with pytest.raises(ValueError):
        Submission("carol", path, "lab.ipynb").read_bytes()


def test_read_bytes_at_the_limit_is_fine(tmp_path, monkeypatch):
    path = tmp_path / "a.ipynb"
    path.write_bytes(b"x" * 10)
    monkeypatch.setattr(notebook_file, "MAX_NOTEBOOK_BYTES", 10)
    assert Submission("a", path).read_bytes() == b"x" * 10


def test_oversized_notebook_becomes_a_problem_during_discover(tmp_path, monkeypatch):
    write_nb(tmp_path / "s" / "alice.ipynb")
    write_zip(tmp_path / "s" / "carol.zip", {"lab.ipynb": notebook_text()})
    monkeypatch.setattr(notebook_file, "MAX_NOTEBOOK_BYTES", 10)
    subs = discover([tmp_path / "s"], LABS)
    assert [s.student for s in subs] == ["alice", "carol"]
    assert all(s.problem for s in subs)


# --- bounded folders and files ---------------------------------------------------------


def test_pipes_are_problems_never_opened(tmp_path, monkeypatch):
    """Opening a pipe would wait for a writer forever: discovery never opens one."""
    subs_dir = tmp_path / "subs"
    (subs_dir / "bob").mkdir(parents=True)
    for pipe in (subs_dir / "ann.ipynb", subs_dir / "cat.zip", subs_dir / "bob" / "lab.ipynb"):
        os.mkfifo(pipe)
    spy = OpenSpy(monkeypatch)
    subs = by_student(discover([subs_dir, subs_dir / "ann.ipynb"], LABS))
    assert sorted(subs) == ["ann", "bob", "cat"]
    assert all("not a regular file" in s.problem for group in subs.values() for s in group)
    assert spy.paths == []


def test_read_bytes_refuses_a_pipe_without_waiting(tmp_path):
    pipe = tmp_path / "pipe.ipynb"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match="not a regular file"):
        Submission("p", pipe).read_bytes()


def nest(folder: Path, depth: int) -> Path:
    for level in range(depth):
        folder = folder / f"d{level}"
    return folder


def test_student_folder_nested_to_the_limit_is_searched(tmp_path):
    path = write_nb(nest(tmp_path / "subs" / "bob", discover_module.MAX_FOLDER_DEPTH) / "lab.ipynb")
    assert only(discover([tmp_path / "subs"], LABS)).path == path


@pytest.mark.parametrize("depth", [discover_module.MAX_FOLDER_DEPTH + 1, 100])
def test_student_folder_nested_deeper_is_one_problem(tmp_path, depth):
    write_nb(nest(tmp_path / "subs" / "bob", depth) / "lab.ipynb")
    write_nb(tmp_path / "subs" / "ann.ipynb")
    subs = by_student(discover([tmp_path / "subs"], LABS))
    assert only(subs["ann"]).problem is None
    assert "nested more than" in only(subs["bob"]).problem


def test_student_folder_with_too_many_entries_is_one_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(discover_module, "MAX_FOLDER_ENTRIES", 50)
    folder = tmp_path / "subs" / "bob"
    write_nb(folder / "lab.ipynb")
    for i in range(50):
        (folder / f"data{i}.csv").write_text("x")
    assert "more than 50 entries" in only(discover([tmp_path / "subs"], LABS)).problem


def test_problem_reasons_are_one_short_line():
    long = ValueError("first line " + "x" * 10_000 + "\nsecond line")
    text = notebook_file.reason(long)
    assert text.startswith("first line") and "\n" not in text and len(text) == notebook_file.MAX_REASON
    assert notebook_file.reason(ValueError()) == "ValueError"


@pytest.mark.parametrize("data", [b"", b"[]", b'{"cells": []}', b'{"nbformat": 4.0}', b"\xff"])
def test_metadata_lab_raises_value_error_for_what_is_not_a_notebook(data):
    with pytest.raises(ValueError):
        notebook_file.metadata_lab(data)


def test_an_overlong_lab_id_is_not_kept(tmp_path):
    sub = only(discover([write_nb(tmp_path / "a.ipynb", lab="x" * 10_000)], LABS))
    assert sub.lab == UNKNOWN_LAB and "longer than" in sub.problem and len(sub.problem) < 300
