"""Tests for grader.course.assign: solution notebook -> student notebook, copies, and staleness."""

from __future__ import annotations

import copy
import importlib.metadata
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from conftest import run_grade

from grader.course.assign import AssignError, assign, out_of_date, render, requirements, student_notebook
from grader.course.layout import Course
from grader.course.markers import stub_source
from grader.errors import CourseError

REPO = Path(__file__).resolve().parents[1]
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


# --- stub_source -----------------------------------------------------------------------


def test_stub_replaces_region_at_marker_indentation():
    source = ("def square(x):\n"
              "    # BEGIN SOLUTION\n"
              "    y = x * x\n"
              "    return y\n"
              "    # END SOLUTION\n")
    assert stub_source(source) == ("def square(x):\n"
                                   "    # YOUR CODE HERE\n"
                                   "    raise NotImplementedError()")


def test_stub_at_top_level():
    assert stub_source("# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION") == STUB


def test_stub_of_a_writefile_cell_is_a_comment_only():
    """A %%writefile cell writes a file (a Dockerfile, say), where a raise line is no code."""
    source = "%%writefile Dockerfile\n# BEGIN SOLUTION\nFROM python:3.11-slim\n# END SOLUTION"
    assert stub_source(source) == "%%writefile Dockerfile\n# YOUR CODE HERE"


def test_stub_several_regions_keep_everything_else():
    source = "\n".join([
        "import math",
        "def f(x):",
        "    '''doc'''",
        "    # BEGIN SOLUTION",
        "    return math.sqrt(x)",
        "    # END SOLUTION",
        "",
        "class C:",
        "    def g(self):",
        "        # BEGIN SOLUTION",
        "        return 1",
        "        # END SOLUTION",
        "    other = 2",
        "# BEGIN SOLUTION",
        "secret = 3",
        "# END SOLUTION",
        "print('done')",
    ])
    assert stub_source(source) == "\n".join([
        "import math",
        "def f(x):",
        "    '''doc'''",
        "    # YOUR CODE HERE",
        "    raise NotImplementedError()",
        "",
        "class C:",
        "    def g(self):",
        "        # YOUR CODE HERE",
        "        raise NotImplementedError()",
        "    other = 2",
        "# YOUR CODE HERE",
        "raise NotImplementedError()",
        "print('done')",
    ])


def test_stub_removes_every_solution_line():
    source = "x = 1\n# BEGIN SOLUTION\nSECRET_A = 1\nSECRET_B = 2\n# END SOLUTION\ny = 2\n"
    out = stub_source(source)
    assert "SECRET" not in out and "BEGIN SOLUTION" not in out and "END SOLUTION" not in out
    assert out.startswith("x = 1\n") and out.endswith("y = 2")


def test_stub_allows_trailing_whitespace_on_markers():
    assert stub_source("# BEGIN SOLUTION   \nx = 1\n# END SOLUTION\t") == STUB


def test_stub_leaves_source_without_markers_alone():
    assert stub_source("a = 1\nb = 2") == "a = 1\nb = 2"
    assert stub_source("") == ""


def test_stub_keeps_tab_indentation():
    out = stub_source("if True:\n\t# BEGIN SOLUTION\n\tx = 1\n\t# END SOLUTION")
    assert out == "if True:\n\t# YOUR CODE HERE\n\traise NotImplementedError()"


@pytest.mark.parametrize("source, message", [
    ("x = 1\n# END SOLUTION", "without BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION", "inside another"),
    ("# BEGIN SOLUTION\nx = 1", "never closed"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# END SOLUTION", "without BEGIN"),
    ("    # BEGIN SOLUTION\n    x = 1\n", "never closed"),
])
def test_unbalanced_markers_raise(source, message):
    with pytest.raises(AssignError, match=message):
        stub_source(source)


def test_error_names_where_and_line():
    with pytest.raises(AssignError, match=r"cell 3, line 2"):
        stub_source("x = 1\n# END SOLUTION", "cell 3")


# --- student_notebook ------------------------------------------------------------------


def solution_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    intro = nbformat.v4.new_markdown_cell("# Lab\nAnswer each question below.")
    code = nbformat.v4.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION",
                                     metadata={"tags": ["q1"]})
    code.execution_count = 7
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SECRET OUTPUT\n"),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=7)]
    hidden = nbformat.v4.new_code_cell("answer_key = {'q1': 2}", metadata={"tags": ["solution-only"]})
    hidden_md = nbformat.v4.new_markdown_cell("instructor notes", metadata={"tags": ["x", "solution-only"]})
    raw = nbformat.v4.new_raw_cell("raw text")
    plain = nbformat.v4.new_code_cell("print(f(2))")
    plain.execution_count = 8
    plain.outputs = [nbformat.v4.new_output("stream", name="stdout", text="4\n")]
    nb.cells = [intro, code, hidden, hidden_md, raw, plain]
    return nb


def test_student_notebook_drops_solution_only_cells():
    nb = student_notebook(solution_nb(), "lab1")
    sources = [c.source for c in nb.cells]
    assert len(nb.cells) == 4
    assert "answer_key = {'q1': 2}" not in sources and "instructor notes" not in sources
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "raw", "code"]


def test_student_notebook_stubs_code_and_keeps_markdown():
    nb = student_notebook(solution_nb(), "lab1")
    assert nb.cells[0].source == "# Lab\nAnswer each question below."
    assert nb.cells[1].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert "2 * x" not in nbformat.writes(nb)
    assert nb.cells[2].source == "raw text"


def test_student_notebook_clears_outputs_and_counts():
    nb = student_notebook(solution_nb(), "lab1")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None
    assert "SECRET OUTPUT" not in nbformat.writes(nb)


def test_student_notebook_sets_lab_metadata_and_keeps_the_rest():
    nb = student_notebook(solution_nb(), "lab7")
    assert nb.metadata["grader"] == {"lab": "lab7"}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[1].metadata["tags"] == ["q1"]
    nbformat.validate(nb)


def test_student_notebook_overrides_existing_lab_metadata():
    sol = solution_nb()
    sol.metadata["grader"] = {"lab": "wrong"}
    assert student_notebook(sol, "right").metadata["grader"] == {"lab": "right"}


def test_student_notebook_leaves_solution_unchanged():
    sol = solution_nb()
    before = copy.deepcopy(sol)
    nb = student_notebook(sol, "lab1")
    nb.metadata["kernelspec"]["name"] = "changed"
    nb.cells[1].metadata["tags"].append("changed")
    assert sol == before
    assert "grader" not in sol.metadata
    assert sol.cells[1].outputs and sol.cells[1].execution_count == 7


def test_student_notebook_reports_bad_markers_with_cell_index():
    sol = solution_nb()
    sol.cells[5].source = "# BEGIN SOLUTION\nx = 1"
    with pytest.raises(AssignError, match="cell 5"):
        student_notebook(sol, "lab1")


# --- assign and out_of_date on a small course ------------------------------------------


def make_course(root: Path, lab_id: str = "lab1"):
    sol_dir = root / "solutions" / lab_id
    (sol_dir / "tests").mkdir(parents=True)
    nbformat.write(solution_nb(), sol_dir / "solution.ipynb")
    (sol_dir / "tests" / "test_hidden.py").write_text("def test_hidden(): pass\n", encoding="utf-8")
    (sol_dir / "public_tests" / "sub").mkdir(parents=True)
    (sol_dir / "public_tests" / "test_public.py").write_text("def test_public(): pass\n", encoding="utf-8")
    (sol_dir / "public_tests" / "sub" / "helper.py").write_text("X = 1\n", encoding="utf-8")
    (sol_dir / "public_tests" / "__pycache__").mkdir()
    (sol_dir / "public_tests" / "__pycache__" / "junk.pyc").write_bytes(b"\x00junk")
    (sol_dir / "files" / "data").mkdir(parents=True)
    (sol_dir / "files" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (sol_dir / "files" / "data" / "more.txt").write_text("more\n", encoding="utf-8")
    return Course(root).lab(lab_id)


def test_assign_writes_student_notebook(tmp_path):
    lab = make_course(tmp_path)
    written = assign(lab)
    assert lab.notebook == tmp_path / "labs" / "lab1" / "lab.ipynb"
    assert lab.notebook in written
    nb = nbformat.read(lab.notebook, as_version=4)
    assert nb.metadata["grader"]["lab"] == "lab1"
    assert len(nb.cells) == 4
    assert "2 * x" not in lab.notebook.read_text(encoding="utf-8")
    assert "answer_key" not in lab.notebook.read_text(encoding="utf-8")
    assert lab.notebook.read_text(encoding="utf-8") == render(lab)
    nbformat.validate(nb)


def test_assign_copies_public_tests_and_files(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    lab_dir = tmp_path / "labs" / "lab1"
    assert (lab_dir / "tests" / "test_public.py").read_text(encoding="utf-8") == "def test_public(): pass\n"
    assert (lab_dir / "tests" / "sub" / "helper.py").read_text(encoding="utf-8") == "X = 1\n"
    assert not (lab_dir / "tests" / "__pycache__").exists()
    assert (lab_dir / "data.csv").read_text(encoding="utf-8") == "a,b\n1,2\n"
    assert (lab_dir / "data" / "more.txt").read_text(encoding="utf-8") == "more\n"
    assert not (lab_dir / "files").exists()
    assert not (lab_dir / "tests" / "test_hidden.py").exists()
    assert not (lab_dir / "solution.ipynb").exists()


def test_assign_without_public_tests_or_files(tmp_path):
    sol_dir = tmp_path / "solutions" / "lab1"
    sol_dir.mkdir(parents=True)
    nbformat.write(solution_nb(), sol_dir / "solution.ipynb")
    lab = Course(tmp_path).lab("lab1")
    assert assign(lab) == [lab.notebook, lab.lab_dir / "lab.toml", lab.lab_dir / "requirements.txt"]
    assert sorted(p.name for p in lab.lab_dir.iterdir()) == ["lab.ipynb", "lab.toml", "requirements.txt"]
    assert out_of_date(lab) == []


def test_assign_is_repeatable(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    first = lab.notebook.read_bytes()
    assign(lab)
    assert lab.notebook.read_bytes() == first
    assert out_of_date(lab) == []


def test_out_of_date_before_assign_names_everything(tmp_path):
    lab = make_course(tmp_path)
    stale = out_of_date(lab)
    assert str(lab.notebook) in stale
    assert str(lab.public_tests / "test_public.py") in stale
    assert str(lab.lab_dir / "data.csv") in stale


def test_out_of_date_empty_right_after_assign(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    assert out_of_date(lab) == []


def test_out_of_date_names_notebook_after_solution_changes(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    sol = nbformat.read(lab.solution, as_version=4)
    sol.cells.append(nbformat.v4.new_markdown_cell("a new question"))
    nbformat.write(sol, lab.solution)
    assert out_of_date(lab) == [str(lab.notebook)]


def test_out_of_date_ignores_solution_only_changes_that_students_never_see(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    sol = nbformat.read(lab.solution, as_version=4)
    sol.cells[1].source = sol.cells[1].source.replace("2 * x", "x + x")
    sol.cells[2].source = "answer_key = {'q1': 3}"
    nbformat.write(sol, lab.solution)
    assert out_of_date(lab) == []


def test_out_of_date_names_public_test_after_it_changes(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    (lab.solution_dir / "public_tests" / "test_public.py").write_text("def test_public(): assert 1\n",
                                                                       encoding="utf-8")
    assert out_of_date(lab) == [str(lab.public_tests / "test_public.py")]


def test_out_of_date_names_new_public_test_and_edited_copy(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    (lab.solution_dir / "public_tests" / "test_new.py").write_text("def test_new(): pass\n", encoding="utf-8")
    (lab.lab_dir / "data.csv").write_text("tampered\n", encoding="utf-8")
    assert sorted(out_of_date(lab)) == sorted([str(lab.public_tests / "test_new.py"), str(lab.lab_dir / "data.csv")])


def test_out_of_date_names_edited_student_notebook(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    lab.notebook.write_text(lab.notebook.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert out_of_date(lab) == [str(lab.notebook)]
    lab.notebook.unlink()
    assert out_of_date(lab) == [str(lab.notebook)]


# --- what a student's repository needs: settings and requirements ----------------------


def test_assign_writes_the_settings_a_check_needs(tmp_path):
    lab = make_course(tmp_path)
    (lab.solution_dir / "lab.toml").write_text('title = "T"\ntimeout = 90\nshow_hidden_output = true\nllm = true\n',
                                               encoding="utf-8")
    lab = Course(tmp_path).lab("lab1")
    assign(lab)
    text = (lab.lab_dir / "lab.toml").read_text(encoding="utf-8")
    assert "show_hidden_output" not in text
    shutil.rmtree(tmp_path / "solutions")  # a student's repository
    copy = Course(tmp_path).lab("lab1").settings
    assert (copy.title, copy.timeout, copy.kit_names, copy.show_hidden_output) == ("T", 90, ("llm",), False)


def test_out_of_date_names_stale_settings_and_requirements(tmp_path):
    lab = make_course(tmp_path)
    assign(lab)
    (lab.solution_dir / "lab.toml").write_text("memory = 64\n", encoding="utf-8")
    (lab.solution_dir / "requirements.txt").write_text("numpy\n", encoding="utf-8")
    assert sorted(out_of_date(Course(tmp_path).lab("lab1"))) == sorted(
        [str(lab.lab_dir / "lab.toml"), str(lab.lab_dir / "requirements.txt")])


def kit_extra(extra: str) -> set[str]:
    """The names of what the installed grader's extra adds (read here with plain string work)."""
    names = set()
    for line in importlib.metadata.requires("grader"):
        if line.replace(" ", "").endswith(f'extra=="{extra}"'):
            names.add(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower())
    return names


@pytest.mark.parametrize("kits", [(), ("llm",), ("deployment",), ("llm", "deployment")])
@pytest.mark.parametrize("own", [None, "numpy>=1.26\n# a comment\n\nscikit-learn >= 1.4  # inline\nnumpy>=1.26\n"])
def test_requirements_are_the_kits_extras_and_the_labs_own(tmp_path, kits, own):
    lab = make_course(tmp_path)
    (lab.solution_dir / "lab.toml").write_text(f"kits = {list(kits)!r}\n".replace("'", '"'), encoding="utf-8")
    if own is not None:
        (lab.solution_dir / "requirements.txt").write_text(own, encoding="utf-8")
    lab = Course(tmp_path).lab("lab1")
    text = requirements(lab)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    names = {re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower() for line in lines}
    expected = set().union(*(kit_extra({"deployment": "deploy"}.get(k, k)) for k in kits))
    expected |= {"numpy", "scikit-learn"} if own else set()
    assert names == expected and len(lines) == len(set(lines))
    assert not names & {"torch", "ruff", "jupyter"} - expected  # nothing the lab did not ask for
    assert text.startswith("# Generated by `grade assign`") and "labs/lab1/requirements.txt" in text
    assert ("scikit-learn>=1.4" in lines) is bool(own)


@pytest.mark.parametrize("line", ["numpy >>= 1", "--index-url https://example.org/simple", "-e .", "not a req!"])
def test_a_requirement_pip_would_not_read_is_refused_naming_the_line(tmp_path, line):
    lab = make_course(tmp_path)
    (lab.solution_dir / "requirements.txt").write_text(f"numpy\n{line}\n", encoding="utf-8")
    with pytest.raises(AssignError, match=r"requirements.txt, line 2: not a requirement"):
        assign(lab)
    assert not lab.lab_dir.exists()


def test_an_unknown_kit_stops_assign(tmp_path):
    lab = make_course(tmp_path)
    (lab.solution_dir / "lab.toml").write_text('kits = ["vector"]\n', encoding="utf-8")
    with pytest.raises(CourseError, match="no kit 'vector'"):
        assign(Course(tmp_path).lab("lab1"))


@pytest.mark.parametrize("name", ["requirements.txt", "lab.toml", "lab.ipynb", "tests"])
def test_files_must_not_take_the_place_of_what_assign_writes(tmp_path, name):
    lab = make_course(tmp_path)
    (lab.solution_dir / "files" / name).write_text("mine\n", encoding="utf-8")
    with pytest.raises(AssignError, match=f"{name} would replace what grade assign writes"):
        assign(lab)


# --- nothing is written unless everything could be made --------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("breakage", [
    lambda sol: (sol / "solution.ipynb").write_text(
        (sol / "solution.ipynb").read_text(encoding="utf-8").replace("# END SOLUTION", "# END SOLUTON"),
        encoding="utf-8"),
    lambda sol: (sol / "requirements.txt").write_text("numpy\n???\n", encoding="utf-8"),
    lambda sol: (sol / "lab.toml").write_text('kits = ["nope"]\n', encoding="utf-8"),
], ids=["marker", "requirements", "kit"])
def test_a_refused_assign_leaves_the_lab_folder_as_it_was(tmp_path, breakage):
    lab = make_course(tmp_path)
    assign(lab)
    (lab.solution_dir / "public_tests" / "test_public.py").write_text("def test_new(): pass\n", encoding="utf-8")
    before = snapshot(lab.lab_dir)
    breakage(lab.solution_dir)
    with pytest.raises((AssignError, CourseError)):
        assign(Course(tmp_path).lab("lab1"))
    assert snapshot(lab.lab_dir) == before


# --- a student's repository: labs/ alone -------------------------------------------------


@pytest.mark.parametrize("settings_copied", [True, False], ids=["as-assigned", "without-labs-lab.toml"])
def test_the_llm_labs_solution_passes_grade_check_in_a_labs_only_repository(tmp_path, settings_copied):
    """A student's repository has labs/ and no solutions/: the settings grade assign copied into
    labs/<id>/ (kits = ["llm"]) start the lab's kit, and the lab's own solution passes every public
    test. Without that copy the same check fails, which is what students met before."""
    repo = tmp_path / "student"
    shutil.copytree(REPO / "labs" / "04-llm-api", repo / "labs" / "04-llm-api",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not settings_copied:
        (repo / "labs" / "04-llm-api" / "lab.toml").unlink()
    solved = nbformat.read(REPO / "solutions" / "04-llm-api" / "solution.ipynb", as_version=4)
    solved.metadata["grader"] = {"lab": "04-llm-api"}
    nbformat.write(solved, repo / "labs" / "04-llm-api" / "lab.ipynb")
    proc = run_grade("check", "labs/04-llm-api/lab.ipynb", "--junit", "public.xml", "--fail-under", "100", cwd=repo,
                     env={"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": ""})
    assert not (repo / "solutions").exists() and "no sandbox" not in proc.stdout
    root = ET.parse(repo / "public.xml").getroot()
    failed = int(root.get("failures")) + int(root.get("errors"))
    assert int(root.get("tests")) >= 4
    if settings_copied:
        assert (proc.returncode, failed) == (0, 0), proc.stdout + proc.stderr
    else:
        assert (proc.returncode, failed > 0) == (3, True), proc.stdout + proc.stderr


# --- the shipped courses are in sync ---------------------------------------------------


def course_labs_with_solutions(root: Path):
    if not ((root / "labs").is_dir() or (root / "solutions").is_dir()):
        return []
    course = Course(root)
    return [course.lab(i) for i in course.lab_ids() if (root / "solutions" / i / "solution.ipynb").is_file()]


def test_shipped_courses_are_in_sync():
    """Every lab of examples/course and of the repository's own course matches its solution."""
    example = course_labs_with_solutions(REPO / "examples" / "course")
    assert example, "examples/course should hold at least one lab with a solution"
    labs = example + course_labs_with_solutions(REPO)
    stale = {str(lab.solution_dir): out_of_date(lab) for lab in labs}
    assert stale == {str(lab.solution_dir): [] for lab in labs}
