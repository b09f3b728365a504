"""grade import nbgrader: a small course in nbgrader's format, every kind of cell, read, written,
graded in nbgrader's submission layout, and attacked the ways nbgrader's own tests can be."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from conftest import run_grade, write_notebook
from hostile_inputs import malformed_notebooks

from grader.course.assign import assign
from grader.course.imports import nbgrader
from grader.course.imports.convert import aliases, python_case
from grader.course.imports.write import write_lab
from grader.course.layout import Course
from grader.errors import UsageError

SOLVED = {  # grade_id -> the answer a correct student writes in place of the stub
    "double": "def double(x):\n    return SCALE * x",
    "halve": "def halve(x):\n    return x / 2",
}
TEST_DOUBLE = '"""double doubles"""\nassert double(3) == 6\nassert np.isclose(double(0.25), 0.5)'
TEST_HALVE = ("assert halve(4) == 2\n### BEGIN HIDDEN TESTS\nassert halve(1) == 0.5\n"
              "assert halve(-3) == -1.5\n### END HIDDEN TESTS")
TEST_RAISES = 'try:\n    halve("a")\nexcept TypeError:\n    pass\nelse:\n    raise AssertionError("no TypeError")'
AUTOMATIC = {"test_double": 2.0, "test_halve": 1.5, "test_halve_raises": 1.0}
MANUAL = {"explain": 2.0, "task1": 3.0, "free_code": 1.0}


def cell(kind: str, source: str, grade_id: str | None = None, **meta) -> nbformat.NotebookNode:
    """A cell with nbgrader's metadata (schema 3) when it has a grade_id."""
    new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}[kind]
    made = new(source)
    if grade_id is not None:
        made.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False, "locked": False,
                                     "grade_id": grade_id, **meta}
    return made


def source_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("markdown", "# Doubling and halving", "intro", locked=True),
        cell("code", "import numpy as np\nSCALE = 2", "setup", locked=True),
        cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return SCALE * x\n    ### END SOLUTION",
             "double", solution=True),
        cell("code", TEST_DOUBLE, "test_double", grade=True, points=2),
        cell("code", "def halve(x):\n    return x / 2", "halve", solution=True),
        cell("code", TEST_HALVE, "test_halve", grade=True, points=1.5),
        cell("code", TEST_RAISES, "test_halve_raises", grade=True, points=1),
        cell("markdown", "Doubling then halving gives x back.", "explain", grade=True, solution=True, points=2),
        cell("markdown", "Plot both functions.", "task1", task=True, points=3, locked=True),
        cell("code", "def plot():\n    pass", "free_code", grade=True, solution=True, points=1),
    ]
    return nb


def write_source(root: Path) -> Path:
    folder = root / "source" / "ps1"
    write_notebook(folder / "problem1.ipynb", source_notebook())
    (folder / "data.csv").write_text("x\n1\n", encoding="utf-8")
    return folder


def test_every_kind_of_cell_is_read(tmp_path):
    (lab,) = nbgrader.read_source(write_source(tmp_path))
    assert lab.lab_id == "ps1-problem1" and set(lab.files) == {"data.csv"}
    cases = {case.name: case for case in lab.cases}
    assert {n: c.points for n, c in cases.items() if not c.manual} == AUTOMATIC
    assert {n: c.points for n, c in cases.items() if c.manual} == MANUAL
    assert [n for n, c in cases.items() if c.hidden] == ["test_halve"]
    assert "BEGIN HIDDEN" not in cases["test_halve"].sources[0][1]
    assert "halve(-3) == -1.5" in cases["test_halve"].sources[0][1]


def test_the_written_lab_hides_solutions_and_hidden_tests(tmp_path):
    (lab,) = nbgrader.read_source(write_source(tmp_path))
    course = tmp_path / "course"
    written = write_lab(course, lab)
    assert (written.converted, written.kernel_side, written.manual) == (2, 1, 3)
    assign(Course.find(course).lab("ps1-problem1"))
    student = (course / "labs" / "ps1-problem1" / "lab.ipynb").read_text()
    for secret in ("return SCALE * x", "return x / 2", "halve(1) == 0.5", "Doubling then halving"):
        assert secret not in student
    assert "assert halve(4) == 2" in student and "YOUR ANSWER HERE" in student
    assert (course / "labs" / "ps1-problem1" / "data.csv").read_text() == "x\n1\n"
    public = (course / "solutions" / "ps1-problem1" / "public_tests" / "test_public.py").read_text()
    hidden = (course / "solutions" / "ps1-problem1" / "tests" / "test_hidden.py").read_text()
    assert "def test_double(" in public and "def test_halve(" not in public
    assert "halve(-3)" in hidden and hidden.count("@pytest.mark.manual") == 3
    for text in (public, hidden):
        compile(text, "test.py", "exec")


def _meta(**changes) -> nbformat.NotebookNode:
    nb = source_notebook()
    nb.cells[3].metadata["nbgrader"].update(changes)
    return nb


@pytest.mark.parametrize(("notebook", "words"), [
    (_meta(grade_id=""), "without a grade_id"),
    (_meta(grade_id=None), "without a grade_id"),
    (_meta(points=-1), "points must be a number >= 0"),
    (_meta(points=True), "points must be a number >= 0"),
    (_meta(points="2"), "points must be a number >= 0"),
    (_meta(grade_id="test_halve"), "test_halve names more than one graded cell"),
])
def test_a_bad_cell_is_refused_naming_it(tmp_path, notebook, words):
    write_notebook(tmp_path / "ps1" / "problem1.ipynb", notebook)
    with pytest.raises(UsageError, match=words):
        nbgrader.read_source(tmp_path / "ps1")


@pytest.mark.parametrize("line", ["### AUTOTEST double(3); halve(2)", "### HASHED AUTOTEST double(3)",
                                  "  ### autotest double(3)"])
def test_autotest_lines_are_refused_not_passed(tmp_path, line):
    nb = source_notebook()
    nb.cells[3].source = f"{line}\nassert True"
    write_notebook(tmp_path / "ps1" / "problem1.ipynb", nb)
    with pytest.raises(UsageError, match="AUTOTEST lines are not imported"):
        nbgrader.read_source(tmp_path / "ps1")


def test_an_empty_test_cell_is_refused(tmp_path):
    nb = source_notebook()
    nb.cells[3].source = "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"
    write_notebook(tmp_path / "ps1" / "problem1.ipynb", nb)
    with pytest.raises(UsageError, match="cell 4: a test cell without code"):
        nbgrader.read_source(tmp_path / "ps1")


@pytest.mark.parametrize("make", [
    lambda p: p.mkdir(),  # an empty folder
    lambda p: p.with_suffix(".txt").write_text("x"),  # not a notebook
    lambda p: (p.mkdir(), (p / "a.ipynb").write_text("{not json")),  # a notebook nbformat cannot read
])
def test_a_source_that_is_no_assignment_is_refused(tmp_path, make):
    make(tmp_path / "ps1")
    target = tmp_path / "ps1" if (tmp_path / "ps1").exists() else tmp_path / "ps1.txt"
    with pytest.raises(UsageError):
        nbgrader.read_source(target)


def test_an_existing_lab_is_never_overwritten(tmp_path):
    (lab,) = nbgrader.read_source(write_source(tmp_path))
    kept = tmp_path / "course" / "solutions" / "ps1-problem1" / "mine.txt"
    kept.parent.mkdir(parents=True)
    kept.write_text("mine")
    with pytest.raises(UsageError, match="exists already"):
        write_lab(tmp_path / "course", lab)
    assert kept.read_text() == "mine" and sorted(p.name for p in kept.parent.iterdir()) == ["mine.txt"]


# --- graded, as nbgrader's submissions come -----------------------------------------------------

HOSTILE = {  # each keeps a wrong double and tries to pass test_double anyway
    "patched-isclose": "import numpy\nnumpy.isclose = lambda *a, **k: True",
    "patched-assertion": "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})",
    "equals-everything": "class Yes:\n    def __eq__(self, other):\n        return True\n"
                         "    __hash__ = object.__hash__\ndouble = lambda x: Yes()",
    "patched-testing": "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None",
    "patched-eq-of-int": "import builtins\nbuiltins.int = type('Int', (int,), {'__eq__': lambda s, o: True})",
}


def student(lab: Path, answers: dict[str, str], extra: str = "", setup: str | None = None) -> nbformat.NotebookNode:
    """The student notebook ``lab`` with ``answers`` in place of the stubs, ``extra`` code at its end,
    and the locked setup cell edited to ``setup``; no lab metadata, as nbgrader's files have none."""
    nb = nbformat.read(lab, as_version=4)
    for c in nb.cells:
        grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            c.source = answers[grade_id]
        if grade_id == "setup" and setup is not None:
            c.source = setup
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    del nb.metadata["grader"]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    """The course imported (its solution checked), and one batch of submissions graded."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = root / "course"
    course.mkdir()
    imported = run_grade("import", "nbgrader", str(write_source(root)), cwd=course)
    assert imported.returncode == 0, imported.stderr
    assert "2 test(s) judged in the grader, 1 kernel-side" in imported.stdout
    assert "the solution gets full marks (4.5 / 4.5)" in imported.stdout
    wrong = {**SOLVED, "double": "def double(x):\n    return x + 1"}
    lab = course / "labs" / "ps1-problem1" / "lab.ipynb"
    submissions = {"right": student(lab, SOLVED), "blank": student(lab, {}), "wrong-double": student(lab, wrong),
                   "edited-setup": student(lab, SOLVED, setup="import numpy as np\nSCALE = 3"),
                   **{name: student(lab, wrong, attack) for name, attack in HOSTILE.items()}}
    submissions.update(locked_claims(lab))
    for name, nb in submissions.items():
        write_notebook(course / "submitted" / name / "ps1" / "problem1.ipynb", nb)
    for name, data in malformed_notebooks("ps1-problem1").items():
        (course / "submitted" / f"malformed-{name}.ipynb").write_bytes(data)
    proc = run_grade("submitted", "--out", "grades", cwd=course)
    assert proc.returncode == 0, proc.stderr
    with open(course / "grades" / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    malformed = {name: row for name, row in rows.items() if name.startswith("malformed-")}
    assert len(malformed) == len(malformed_notebooks("ps1-problem1"))
    assert all(row["status"] == "invalid" and float(row["score"]) == 0 for row in malformed.values())
    return {name: {**json.loads((course / "grades" / name / "ps1-problem1.json").read_text()), "row": rows[name],
                   "page": (course / "grades" / name / "ps1-problem1.html").read_text(), "printed": proc.stdout}
            for name in submissions}


def locked_claims(lab: Path) -> dict[str, nbformat.NotebookNode]:
    """Submissions whose metadata lies about the locked cells: each must only cost its own points."""
    def claimed(change) -> nbformat.NotebookNode:
        nb = student(lab, SOLVED)
        change(nb.cells)
        return nb

    def everywhere(cells):  # every cell claims to be the setup: only the first is put back
        for c in cells:
            c.metadata["nbgrader"] = {"grade_id": "setup"}

    return {
        "claims-everywhere": claimed(everywhere),
        "metadata-a-list": claimed(lambda cells: cells[1].metadata.update(nbgrader=["setup"])),
        "id-not-a-string": claimed(lambda cells: cells[1].metadata["nbgrader"].update(grade_id=5)),
        "setup-deleted": claimed(lambda cells: cells.pop(1)),
    }


def test_lies_about_locked_cells_cost_only_their_own_row(graded):
    assert graded["setup-deleted"]["status"] == "graded"
    assert "locked cells missing from the notebook: setup" in graded["setup-deleted"]["output"]
    assert _lost(graded["setup-deleted"]) == {"test_double": 2.0}  # SCALE was never defined
    assert "missing" in graded["metadata-a-list"]["output"] and "missing" in graded["id-not-a-string"]["output"]
    assert graded["claims-everywhere"]["status"] == "graded"


def _lost(result: dict) -> dict[str, float]:
    return {t["name"]: t["max_score"] - t["score"] for t in result["tests"] if t["status"] == "failed"}


def test_the_submission_layout_grades_as_it_is(graded):
    assert {name: r["row"]["lab"] for name, r in graded.items()} == dict.fromkeys(graded, "ps1-problem1")
    right = graded["right"]
    assert (right["score"], right["max_score"], right["status"]) == (4.5, 4.5, "graded")


def test_hand_graded_items_keep_their_points_out_of_the_automatic_grade(graded):
    result = graded["right"]
    manual = {result["tests"][m["test"]]["name"]: m["points"] for m in result["manual_tests"]}
    assert manual == MANUAL
    assert all(result["tests"][m["test"]]["status"] == "not run" for m in result["manual_tests"])


def test_kernel_side_tests_are_labelled(graded):
    result = graded["right"]
    (index,) = result["kernel_side_tests"]
    assert result["tests"][index]["name"] == "test_halve_raises"
    assert "a submission could forge this test" in result["tests"][index]["output"]
    assert "kernel-side: a submission could forge this test" in result["page"]
    assert "1 kernel-side test;" in result["printed"]


def test_a_mistake_loses_its_own_points(graded):
    assert graded["blank"]["score"] == 0
    assert _lost(graded["wrong-double"]) == {"test_double": 2.0}


def test_an_edited_locked_cell_is_put_back(graded):
    result = graded["edited-setup"]
    assert result["score"] == 4.5
    assert "locked cells edited, put back as given: setup" in result["output"]


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_converted_tests_resist_monkeypatching(graded, attack):
    assert _lost(graded[attack]).get("test_double") == 2.0, graded[attack]["tests"]


@pytest.mark.parametrize(("source", "in_grader"), [(TEST_RAISES, False), (TEST_DOUBLE, True), (TEST_HALVE, True),
                                                   ("assert is_ok(x)", False), ("print(double(2))", False)])
def test_what_the_converter_judges_in_the_grader(source, in_grader):
    assert python_case(source, aliases(["import numpy as np"])).in_grader is in_grader


# --- nbgrader's own scoring, as a switch -----------------------------------------------------------

def scoring_notebook() -> nbformat.NotebookNode:
    """A wrong f warns in one test cell, and earns half a point as the other's value."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("code", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "f", solution=True),
        cell("code", 'import warnings\nif f() != 1:\n    warnings.warn("close, not exact")', "warns", grade=True,
             points=1),
        cell("code", "2.0 if f() == 1 else 0.5", "partial", grade=True, points=2),
    ]
    return nb


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict[str, dict]:
    """The notebook imported twice, with and without nbgrader's scoring, and graded right and wrong."""
    root = tmp_path_factory.mktemp("scoring")
    course = root / "course"
    course.mkdir()
    for assignment, options in (("plain", ()), ("nbg", ("--nbgrader-scoring",))):
        write_notebook(root / assignment / "scoring.ipynb", scoring_notebook())
        imported = run_grade("import", "nbgrader", str(root / assignment), *options, cwd=course)
        assert imported.returncode == 0, imported.stderr
        assert "full marks (3 / 3)" in imported.stdout
        lab = course / "labs" / f"{assignment}-scoring" / "lab.ipynb"
        for name, answer in (("right", "def f():\n    return 1"), ("wrong", "def f():\n    return 2")):
            write_notebook(course / "submitted" / name / assignment / "scoring.ipynb", student(lab, {"f": answer}))
    assert run_grade("submitted", "--out", "grades", cwd=course).returncode == 0
    return {f"{name}/{lab}": json.loads((course / "grades" / name / f"{lab}-scoring.json").read_text())
            for name in ("right", "wrong") for lab in ("plain", "nbg")}


def test_nbgrader_scoring_zeroes_stderr_and_reads_partial_credit(scored):
    assert {key: r["score"] for key, r in scored.items()} == {
        "right/plain": 3.0, "right/nbg": 3.0, "wrong/plain": 3.0, "wrong/nbg": 0.5}
    wrong = {t["name"]: (t["score"], t["status"]) for t in scored["wrong/nbg"]["tests"]}
    assert wrong == {"warns": (0.0, "failed"), "partial": (0.5, "failed")}
    assert len(scored["wrong/nbg"]["kernel_side_tests"]) == 2


def test_nbgrader_scoring_is_nbgraders_only(tmp_path):
    proc = run_grade("import", "otter", "master.ipynb", "--nbgrader-scoring", cwd=tmp_path)
    assert proc.returncode == 2 and "--nbgrader-scoring is nbgrader's" in proc.stderr


def test_an_import_that_fails_on_the_way_leaves_nothing(tmp_path):
    """A solution region left open stops grade assign: neither the lab nor its student folder stays."""
    nb = source_notebook()
    nb.cells[2].source = "def double(x):\n    ### BEGIN SOLUTION\n    return SCALE * x"
    write_notebook(tmp_path / "ps1" / "problem1.ipynb", nb)
    write_notebook(tmp_path / "ps1" / "problem0.ipynb", source_notebook())  # written first, removed too
    course = tmp_path / "course"
    course.mkdir()
    proc = run_grade("import", "nbgrader", str(tmp_path / "ps1"), "--skip-solution-check", cwd=course)
    assert proc.returncode == 2 and "never closed" in proc.stderr, proc.stderr
    assert not [p for p in course.rglob("*") if p.is_file()]


def test_a_second_import_of_the_same_labs_is_refused_before_writing(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    source = write_source(tmp_path)
    assert run_grade("import", "nbgrader", str(source), "--skip-solution-check", cwd=course).returncode == 0
    before = sorted((p, p.stat().st_mtime_ns) for p in course.rglob("*") if p.is_file())
    again = run_grade("import", "nbgrader", str(source), "--skip-solution-check", cwd=course)
    assert again.returncode == 2 and "exist(s) already" in again.stderr
    assert sorted((p, p.stat().st_mtime_ns) for p in course.rglob("*") if p.is_file()) == before
