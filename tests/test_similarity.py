"""``grade similarity``: near-copies first, the starter code never counts, hostile notebooks skipped.

The batches are generated (tests/similarity_batch.py): honest students answering the example
lab's four functions in different ways, and near-copies of some of them (renamed, cells moved,
comments and whitespace changed, a dead line added).
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import nbformat
import pytest
from conftest import EXAMPLE, LAB, copy_course, run_grade
from hostile_inputs import hostile_zips, malformed_notebooks
from similarity_batch import ANSWER_CELLS, BODIES, Student, answer, renamed, student_notebook, write_batch
from test_feedback import PWN, chromium, dom_title

from grader.course.discover import discover
from grader.course.notebook_file import read_file
from grader.similarity import fingerprint
from grader.similarity.compare import MIN_CLASS, MIN_FINGERPRINTS, Batch, Pair, pairs, read_batch, read_starter
from grader.similarity.fingerprint import (
    Fingerprints,
    K,
    Place,
    Token,
    W,
    cell_fingerprints,
    notebook_fingerprints,
    tokens,
)
from grader.similarity.page import write_csv, write_html

STARTER = EXAMPLE / "labs" / LAB / "lab.ipynb"


def compare(folder: Path):
    """The batch under ``folder`` read and paired as the command does."""
    batch = read_batch(discover([folder], [LAB], LAB), read_starter(read_file(STARTER)))
    return batch, pairs(batch)


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("seed", range(6))
def test_every_near_copy_pair_comes_first(tmp_path, seed):
    copied = write_batch(tmp_path / "subs", STARTER, honest=25, copies=1 + seed % 4, seed=seed)
    batch, found = compare(tmp_path / "subs")
    assert not batch.skipped
    rows = csv_rows(write_csv(tmp_path, found))
    assert rows[0] == ["student_a", "student_b", "score"]
    top = {tuple(row[:2]) for row in rows[1:len(copied) + 1]}
    assert top == set(copied), rows[:len(copied) + 3]
    assert all(row[0] < row[1] for row in rows[1:])
    scores = [float(row[2]) for row in rows[1:]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)


def blank(folder: Path, name: str) -> Path:
    """The lab's notebook as handed out, submitted untouched (with outputs, as if run)."""
    nb = nbformat.read(STARTER, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", text="NotImplementedError\n")]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("honest", [0, 3, 12])
def test_the_starter_code_alone_never_makes_a_pair_similar(tmp_path, honest):
    folder = tmp_path / "subs"
    write_batch(folder, STARTER, honest=honest, copies=0, seed=honest)
    blank(folder, "blank-1"), blank(folder, "blank-2")
    batch, found = compare(folder)
    assert not {"blank-1", "blank-2"} & {name for p in found for name in (p.a, p.b)}
    for name in ("blank-1", "blank-2"):
        assert f"fewer than {MIN_FINGERPRINTS}" in batch.skipped[name]
        assert batch.skipped[name].startswith("0 fingerprints")


@pytest.mark.parametrize("class_size", [3, MIN_CLASS - 1, MIN_CLASS, 2 * MIN_CLASS])
def test_code_most_of_a_large_class_holds_is_set_aside(tmp_path, class_size):
    """Two thirds of the class hand in the same answers. In a class of MIN_CLASS or more, that is
    boilerplate and set aside (those notebooks are left with too little of their own); in a
    smaller one, two thirds is a handful of students, and they are shown as alike."""
    starter = nbformat.read(STARTER, as_version=4)
    folder = tmp_path / "subs"
    alike = (2 * class_size) // 3
    write_batch(folder, STARTER, honest=class_size - alike, copies=0, seed=class_size)
    for n in range(alike):
        nbformat.write(student_notebook(starter, Student(f"same-{n}", (4, 4, 4, 4), 1, 1)), folder / f"same-{n}.ipynb")
    batch, found = compare(folder)
    same = [p for p in found if p.a.startswith("same-") and p.b.startswith("same-")]
    if class_size >= MIN_CLASS:
        assert batch.dropped_common > 0 and not same
        assert all(name in batch.skipped for name in (f"same-{n}" for n in range(alike)))
    else:
        assert batch.dropped_common == 0 and len(same) == alike * (alike - 1) // 2
        assert all(p.score == 1 for p in same) and found[:len(same)] == same


@pytest.mark.parametrize("seed", range(4))
def test_students_answering_different_questions_share_nothing(tmp_path, seed):
    """Each answers one function, leaving the lab's stubs in the others: the stubs, prompts and
    check cells they share are the starter's, and count for nothing."""
    starter = nbformat.read(STARTER, as_version=4)
    folder = tmp_path / "subs"
    folder.mkdir()
    functions = random.Random(seed).sample(range(4), 2)
    for n, function in enumerate(functions):
        nb = student_notebook(starter, Student(f"only-{n}", (function,) * 4, seed + n, seed))
        keep = list(ANSWER_CELLS.values())[function]
        for index in ANSWER_CELLS.values():
            if index != keep:
                nb.cells[index] = starter.cells[index]
        nb.cells.pop(-2)  # no scratch work either
        nbformat.write(nb, folder / f"only-{n}.ipynb")
    batch, found = compare(folder)
    assert found == [] and len(batch.prints) + len(batch.skipped) == 2


def test_hostile_notebooks_are_skipped_with_a_reason(tmp_path):
    folder = tmp_path / "subs"
    write_batch(folder, STARTER, honest=5, copies=1, seed=7)
    hostile = {**malformed_notebooks(LAB), **{f"zip-{k}": v for k, v in hostile_zips(LAB).items()}}
    names = {}
    for number, (label, data) in enumerate(hostile.items()):
        name = f"hostile-{number:03d}"
        suffix = ".zip" if label.startswith("zip-") else ".ipynb"
        (folder / f"{name}{suffix}").write_bytes(data)
        names[name] = label
    (folder / "linked.ipynb").symlink_to(STARTER)
    batch, found = compare(folder)
    assert "linked" in batch.skipped and "symbolic link" in batch.skipped["linked"]
    for name, label in names.items():
        why = batch.skipped[name]  # every one: none is a notebook with answers
        assert why.strip() and len(why) <= 400 and why.isprintable(), label
    assert found[0].a.startswith("c") or found[0].b.startswith("c")  # the copy still comes first
    page = write_html(tmp_path, LAB, batch, found).read_text()
    assert page.count("<li>") == len(batch.skipped)


def test_a_cell_that_does_not_tokenize_is_read_as_words():
    source = "!pip install numpy\ndef f(x:\n    return x + 1"
    assert [t.text for t in tokens(source)][:4] == ["!", "N", "N", "N"]
    broken = {"x = 'never closed": ["N", "=", "'", "N", "N"], "(((": ["(", "(", "("],
              '"""open': ['"', '"', '"', "open"], "\x00\ud800 def": ["\x00", "\ud800", "def"],
              "  indented\nnot": ["N", "not"]}
    for source, expected in broken.items():
        assert [t.text for t in tokens(source)] == expected, source


@pytest.mark.parametrize("seed", range(20))
def test_renaming_comments_and_blank_lines_change_no_fingerprint(seed):
    rng = random.Random(seed)
    function = rng.choice(list(BODIES))
    source = answer(function, rng.randrange(len(BODIES[function])), rng)
    before = cell_fingerprints(tokens(source), 0)
    assert set(cell_fingerprints(tokens(renamed(source, rng)), 0)) == set(before)


@pytest.mark.parametrize("seed", range(30))
def test_a_shared_run_of_w_plus_k_minus_1_tokens_is_always_caught(seed):
    """Winnowing's guarantee, on random token streams around a random shared run."""
    rng = random.Random(seed)

    def stream(n: int) -> list[Token]:
        return [Token(str(rng.randrange(50)), 1, 1) for _ in range(n)]
    shared = stream(W + K - 1 + rng.randrange(5))
    a = stream(rng.randrange(30)) + shared + stream(rng.randrange(30))
    b = stream(rng.randrange(30)) + shared + stream(rng.randrange(30))
    assert set(cell_fingerprints(a, 0)) & set(cell_fingerprints(b, 0))


def test_a_notebook_is_read_within_its_bounds():
    rng = random.Random(0)
    cells = [("code", "\n".join(f"x{rng.randrange(10**9)} = {i} + y" for i in range(4_000))) for _ in range(40)]
    prints = notebook_fingerprints(cells)
    assert len(prints.places) <= fingerprint.MAX_FINGERPRINTS
    assert sum(len(c.source) for c in prints.cells) <= fingerprint.NOTEBOOK_CHARS
    assert all(len(c.source) <= fingerprint.CELL_CHARS for c in prints.cells)
    assert all(len(p) <= fingerprint.MAX_PLACES for p in prints.places.values())


def test_names_a_spreadsheet_would_run_are_quoted(tmp_path):
    rows = csv_rows(write_csv(tmp_path, [Pair("=cmd|'/c calc'!A1", "bob", 0.5, frozenset())]))
    assert rows == [["student_a", "student_b", "score"], ["'=cmd|'/c calc'!A1", "bob", "0.5"]]


def hostile_copy_batch(folder: Path) -> None:
    """A batch where one copied pair's code holds a script, in a comment and a string."""
    write_batch(folder, STARTER, honest=8, copies=1, seed=3)
    copy = next(folder.glob("c000.ipynb"))
    nb = nbformat.read(copy, as_version=4)
    script = f"<script>{PWN}</script><img src=x onerror=\"{PWN}\">"
    cell = nb.cells[ANSWER_CELLS["square"]]
    cell.source = f"# {script}\n" + cell.source + f"\n    label = '{script}'"
    nbformat.write(nb, copy)


def test_the_page_escapes_student_code_marks_shared_lines_and_runs_no_script(tmp_path):
    hostile_copy_batch(tmp_path / "subs")
    batch, found = compare(tmp_path / "subs")
    page = write_html(tmp_path, LAB, batch, found)
    text = page.read_text()
    assert "<script" not in text and "&lt;script&gt;" in text
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = proc.stdout
    assert dom_title(dom) == f"Similarity: {LAB}", proc.stderr[-2000:]
    assert 'data-pwned="1"' not in dom and "<img" not in dom
    assert dom.count("<mark>") >= 10
    assert re.search(r"<mark>\s*(return|for|if|try|[a-z]\w* =)", dom)
    assert '<table id="summary">' in dom and "pair-1" in dom


def test_the_command_writes_the_csv_and_the_page(tmp_path):
    course = copy_course(tmp_path / "course")
    copied = write_batch(tmp_path / "subs", STARTER, honest=10, copies=2, seed=11)
    (tmp_path / "subs" / "broken.ipynb").write_text("{not json")
    proc = run_grade("similarity", str(tmp_path / "subs"), "--lab", LAB, "--course", str(course),
                     "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = csv_rows(tmp_path / "out" / "similarity.csv")
    assert {tuple(r[:2]) for r in rows[1:3]} == set(copied)
    assert "skipped broken: not a valid notebook" in proc.stdout
    assert (tmp_path / "out" / "similarity.html").is_file()


def test_the_command_needs_the_labs_starter_notebook(tmp_path):
    course = copy_course(tmp_path / "course")
    (course / "labs" / LAB / "lab.ipynb").unlink()
    write_batch(tmp_path / "subs", STARTER, honest=2, copies=0, seed=1)
    proc = run_grade("similarity", str(tmp_path / "subs"), "--lab", LAB, "--course", str(course), cwd=tmp_path)
    assert proc.returncode == 2 and "starter notebook cannot be read" in proc.stderr


def test_among_equal_scores_more_shared_evidence_comes_first():
    def prints(hashes: range) -> Fingerprints:
        return Fingerprints({h: [Place(0, 1, 1)] for h in hashes})
    batch = Batch({"x": prints(range(40)), "y": prints(range(40)), "a": prints(range(MIN_FINGERPRINTS)),
                   "b": prints(range(100, 140))}, {})
    assert [(p.a, p.b, p.score) for p in pairs(batch)] == [("x", "y", 1), ("a", "x", 1), ("a", "y", 1)]
