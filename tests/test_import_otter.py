"""`grade import otter`: masters written here, read, written as labs, assigned and graded.

The masters are small and built with nbformat in this file: their test cells carry the
outputs an executed master holds (what otter's doctests expect).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import nbformat
import pytest
from conftest import run_grade
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from grader.course.assign import assign, student_notebook
from grader.course.imports.model import DOCTEST, PYTHON
from grader.course.imports.otter import read_master
from grader.course.imports.otter_cases import read_test_cell, resolve_points
from grader.course.imports.write import write_lab
from grader.course.layout import Course
from grader.errors import UsageError


def raw(text: str) -> nbformat.NotebookNode:
    return new_raw_cell(text)


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text)


def code(text: str, shown: str | None = None, printed: str = "") -> nbformat.NotebookNode:
    """A code cell as an executed master holds it: what it printed, then what it returned."""
    cell = new_code_cell(text)
    cell.outputs = ([new_output("stream", name="stdout", text=printed)] if printed else []) + \
        ([new_output("execute_result", data={"text/plain": shown}, execution_count=1)] if shown is not None else [])
    return cell


def question(config: str, *cells) -> list:
    return [raw(f"# BEGIN QUESTION\n{config}"), *cells, raw("# END QUESTION")]


def block(kind: str, *cells) -> list:
    return [raw(f"# BEGIN {kind}"), *cells, raw(f"# END {kind}")]


def flat(items) -> list:
    """Cells, from cells and (nested) lists of them."""
    return [cell for item in items for cell in (flat(item) if isinstance(item, list) else [item])]


def write_master(folder: Path, *cells, name: str = "master.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(new_notebook(cells=flat(cells)), path)
    return path


CONFIG = raw("# ASSIGNMENT CONFIG\nname: hw01\nfiles:\n  - data.csv\n  - extra\nrequirements: reqs.txt\n"
             "show_question_points: true\nexport_cell: false\ngenerate: true\n"
             "seed:\n  variable: rng_seed\n  autograder_value: 42\n  student_value: 7")
SETUP = code("import numpy as np\nrng_seed = 7")
Q1 = question("name: q1\npoints: 3",
              md("**Question 1.** Define `square`."),
              block("SOLUTION", code("def square(x):\n    return x * x # SOLUTION")),
              block("TESTS",
                    code("square(3)", "9"),
                    code("# HIDDEN\nsquare(-2)", "4"),
                    code('""" # BEGIN TEST CONFIG\npoints: 1\nhidden: true\nfailure_message: no\n'
                         '""" # END TEST CONFIG\nnp.isclose(square(0.5), 0.25)', "np.True_")))
Q2 = question("name: q2\nmanual: true\npoints: 2",
              md("**Question 2.** Why is a square never negative?"),
              block("SOLUTION", md("Because a negative number times itself is positive.")))
Q3 = question("name: q3\nall_or_nothing: true",
              md("**Question 3.** Set `answer`."),
              block("PROMPT", code("answer = ...")),
              block("SOLUTION", code("answer = 6 * 7")),
              block("TESTS", code("answer > 0", "True"), code("answer", "42")))
Q4 = question("name: q4\npoints: [null, 2]",
              md("**Question 4.** Define `cube`."),
              block("SOLUTION", code("def cube(x):\n    # BEGIN SOLUTION\n    return x ** 3\n    # END SOLUTION")),
              block("TESTS",
                    code("def twice(v: int) -> int:\n    return 2 * v\n\ntwice(cube(2))", "16"),
                    code("assert cube(3) == 27")))


@pytest.fixture
def master(tmp_path) -> Path:
    """The master of every marker: config, four questions (points total, list with a gap,
    none with all-or-nothing, manual), hidden cases, a test config block, prompts."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (source / "extra").mkdir()
    (source / "extra" / "notes.txt").write_text("kept\n", encoding="utf-8")
    (source / "reqs.txt").write_text("# what the lab needs\nnumpy\n\npandas>=2\n", encoding="utf-8")
    return write_master(source, CONFIG, SETUP, Q1, Q2, md("Not part of a question."), Q3, Q4)


def test_cases_points_and_hidden_flags(master):
    [lab] = read_master(master)
    assert (lab.lab_id, lab.title, lab.tool, lab.origin) == ("hw01", "hw01", "otter", "master.ipynb")
    summary = [(c.name, c.exercise, c.points, c.hidden, c.manual, len(c.sources)) for c in lab.cases]
    assert summary == [("q1 - 1", "q1", 1.0, False, False, 1), ("q1 - 2", "q1", 1.0, True, False, 1),
                       ("q1 - 3", "q1", 1.0, True, False, 1), ("q2", "q2", 2.0, False, True, 0),
                       ("q3", "q3", 1.0, False, False, 2), ("q4 - 1", "q4", 0.0, False, False, 1),
                       ("q4 - 2", "q4", 2.0, False, False, 1)]
    assert all(kind == DOCTEST for case in lab.cases for kind, _ in case.sources)
    assert lab.cases[0].sources[0][1] == ">>> square(3)\n9"
    assert lab.cases[2].sources[0][1] == ">>> np.isclose(square(0.5), 0.25)\nnp.True_"
    assert lab.cases[5].sources[0][1] == ">>> def twice(v):\n...     return 2 * v\n>>> twice(cube(2))\n16"
    assert lab.files == {"data.csv": master.parent / "data.csv", "extra": master.parent / "extra"}
    assert lab.requirements == ["numpy", "pandas>=2"]
    assert any("ignored export_cell, generate" in note for note in lab.notes)
    assert any("rng_seed = 42" in note and "instead of 7" in note for note in lab.notes)


def test_the_solution_keeps_blocks_for_the_stubbing_and_loses_tests_and_config(master):
    [lab] = read_master(master)
    sources = [c.source for c in lab.solution.cells]
    assert sources[:2] == ["from grader.check import check", "import numpy as np\nrng_seed = 42"]
    assert sources.count('check("q1")') == sources.count('check("q3")') == sources.count('check("q4")') == 1
    assert 'check("q2")' not in sources
    text = "\n".join(sources)
    assert "BEGIN TESTS" not in text and "ASSIGNMENT CONFIG" not in text and "BEGIN QUESTION" not in text
    assert "square(-2)" not in text and "twice" not in text
    assert "**Question 1.** Define `square`.\n\n_Points:_ 3" in sources
    assert "**Question 3.** Set `answer`.\n\n_Points:_ 1" in sources


def test_the_student_notebook_shows_prompts_never_solutions(master):
    [lab] = read_master(master)
    student = [(c.cell_type, c.source) for c in student_notebook(lab.solution, "hw01").cells]
    text = "\n".join(source for _, source in student)
    for secret in ("x * x", "6 * 7", "x ** 3", "negative number times", "SOLUTION"):
        assert secret not in text
    assert ("code", "def square(x):\n    ...") in student
    assert ("code", "answer = ...") in student
    assert ("markdown", "YOUR ANSWER HERE") in student
    assert ("code", "def cube(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()") in student
    assert [s for kind, s in student if s.startswith("check(")] == ['check("q1")', 'check("q3")', 'check("q4")']
    assert [s for kind, s in student if "answer" in s and kind == "code"] == ["answer = ..."]  # no stub beside it


def test_written_lab_folder(master, tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    [lab] = read_master(master)
    done = write_lab(course, lab)
    folder = course / "solutions" / "hw01"
    assert (done.converted, done.kernel_side, done.manual) == (5, 1, 1)
    assert (folder / "files" / "data.csv").read_text(encoding="utf-8") == "a,b\n1,2\n"
    assert (folder / "files" / "extra" / "notes.txt").is_file()
    assert (folder / "requirements.txt").read_text(encoding="utf-8") == "numpy\npandas>=2\n"
    public = (folder / "public_tests" / "test_public.py").read_text(encoding="utf-8")
    hidden = (folder / "tests" / "test_hidden.py").read_text(encoding="utf-8")
    assert '"q1 - 1"' in public and '"q1 - 2"' in hidden and '"q1 - 3"' in hidden and '"q2"' in hidden
    assert "square(-2)" not in public
    written = assign(Course.find(course).lab("hw01"))
    assert course / "labs" / "hw01" / "lab.ipynb" in written
    assert (course / "labs" / "hw01" / "extra" / "notes.txt").is_file()


@pytest.mark.parametrize(("total", "own", "expected"), [
    (None, [None, None], [0.5, 0.5]),  # no points anywhere: the question is worth 1
    (None, [0, None, 0], [0, 1.0, 0]),  # zeros given: the rest shares 1
    (None, [0, 0], [0, 0]),
    (None, [2, None], [2, 0.0]),  # some given, no total: the others are worth 0
    (4, [None, None], [2.0, 2.0]),
    (4, [1, None, None], [1, 1.5, 1.5]),  # what is left of the total, split evenly
    (3, [3, None], [3, 0.0]),
    (2, [1, 1], [1, 1]),  # nothing missing: the total does not matter
    ([1, None, 2], [5, 5, 5], [1, 0.0, 2]),  # a list replaces the cases' own points
    ([0, None], [None, None], [0, 1.0]),
    ({"each": 2}, [None, None, 1], [2.5, 2.5, 1]),
])
def test_points_split_as_otter_splits_them(total, own, expected):
    assert resolve_points(total, own, "q") == pytest.approx(expected)


def test_points_split_invariants_over_generated_questions():
    """Over many generated questions: a total is always the question's worth; a list is
    copied; with neither, a question without points is worth exactly 1."""
    draw = random.Random(19)
    for _ in range(500):
        own = [draw.choice([None, None, 0, 0.5, 1, 2, 3]) for _ in range(draw.randint(1, 6))]
        resolved = resolve_points(None, own, "q")
        if all(p in (0, None) for p in own) and None in own:
            assert sum(resolved) == pytest.approx(1)
        else:
            assert resolved == [p or 0 for p in own]
        total = sum(p or 0 for p in own) + draw.choice([0, 1, 2.5])
        if None in own:
            assert sum(resolve_points(total, own, "q")) == pytest.approx(total)
        listed = [draw.choice([0, 1, 2]) for _ in own]
        assert resolve_points(listed, own, "q") == listed


@pytest.mark.parametrize(("total", "own", "message"), [
    ([1, 2], [None], "points lists 2 values for 1 test case"),
    (1, [2, None], "exceed the question's"),
    ("three", [None], "must be a number"),
    (-1, [None], "must be a number >= 0"),
    (True, [None], "must be a number"),
])
def test_bad_points_are_refused(total, own, message):
    with pytest.raises(UsageError, match=message):
        resolve_points(total, own, "q")


def test_a_test_cell_becomes_otters_doctest():
    printed = code('""" # BEGIN TEST CONFIG\nhidden: true\npoints: 2\n""" # END TEST CONFIG\n'
                   "for i in range(2):\n    print(i)\nstr(None)", "'None'", printed="0\n1\n")
    case = read_test_cell(printed.source, printed.outputs, "cell 9")
    assert case.source[1] == ">>> for i in range(2):\n...     print(i)\n>>> str(None)\n0\n1\n'None'"
    assert (case.hidden, case.points, case.unrun) == (True, 2.0, False)
    unrun = read_test_cell("# hidden test\nsquare(2)", [], "cell 10")
    assert (unrun.source[1], unrun.hidden, unrun.unrun) == (">>> square(2)\n", True, True)
    assert not read_test_cell("assert square(2) == 4", [], "cell 12").unrun  # an assert shows nothing
    commented = read_test_cell("# checks the sign\nsquare(2) > 0", [], "cell 11")
    assert (commented.source[1], commented.hidden) == (">>> square(2) > 0\n", False)


def test_exception_based_tests_call_their_function_as_otter_does(tmp_path):
    path = write_master(tmp_path, raw("# ASSIGNMENT CONFIG\ntests:\n  ok_format: false"),
                        question("name: q1\npoints: 4",
                                 block("TESTS",
                                       code("def test_x(x):\n    assert x == 2\ntest_x(x)"),
                                       code('""" # BEGIN TEST CONFIG\npoints: 1\nhidden: true\n'
                                            '""" # END TEST CONFIG\ndef test_env(env, y: int):\n'
                                            '    assert "x" in env and y is None'))))
    [lab] = read_master(path)
    assert [(c.name, c.points, c.hidden, c.sources) for c in lab.cases] == [
        ("q1 - 1", 3.0, False, ((PYTHON, "def test_x(x):\n    assert x == 2\ntest_x(x=globals().get('x'))"),)),
        ("q1 - 2", 1.0, True, ((PYTHON, "def test_env(env, y):\n    assert 'x' in env and y is None\n"
                                        "test_env(env=globals(), y=globals().get('y'))"),))]


def test_fenced_config_ignored_lines_and_cells(tmp_path):
    path = write_master(tmp_path, md("Intro.\n\n```otter\n# ASSIGNMENT CONFIG\nname: fenced\n```\n\nAfter."),
                        code("# IGNORE\nprint('dropped cell')"),
                        question("name: q1",
                                 block("SOLUTION", code("x = 2 # SOLUTION\nscratch = 1 # IGNORE\n"
                                                        "# BEGIN IGNORE\ny = 3\n# END IGNORE\nz = 4")),
                                 block("TESTS", code("x", "2"))))
    [lab] = read_master(path)
    sources = [c.source for c in lab.solution.cells]
    assert lab.lab_id == "fenced"
    assert sources[1:3] == ["Intro.\n", "After."]  # as otter cuts the cell around its fence
    assert "x = 2 # SOLUTION\nz = 4" in sources
    assert "dropped cell" not in "\n".join(sources)
    assert [(c.name, c.points) for c in lab.cases] == [("q1 - 1", 1.0)]


def test_in_cell_prompts_included_markdown_and_a_question_without_tests(tmp_path):
    included = md("Then call it below (students see this).")
    included.metadata["tags"] = ["otter_include"]
    path = write_master(tmp_path, question(
        "name: q5", md("Define `circumference`."),
        block("SOLUTION",
              code('pi = 3.14\ndef circumference(r):\n    # BEGIN SOLUTION NO PROMPT\n    return 2 * pi * r\n'
                   '    # END SOLUTION\n    """ # BEGIN PROMPT\n    pass\n    """; # END PROMPT'),
              included, code("c = circumference(1) # SOLUTION"), md("Removed: the solution's own text."))))
    [lab] = read_master(path)
    student = [c.source for c in student_notebook(lab.solution, "x").cells]
    assert student == ["Define `circumference`.", "pi = 3.14\ndef circumference(r):\n    pass",
                       "Then call it below (students see this).", "c = ..."]
    assert lab.cases == [] and lab.notes == ["question q5 has no tests and is not manual: otter grades nothing "
                                             "for it, nor does this lab"]


def test_the_masters_stem_names_a_lab_without_config(tmp_path):
    [lab] = read_master(write_master(tmp_path, question("name: q1", block("TESTS", code("1 + 1", "2"))),
                                     name="week-3.ipynb"))
    assert lab.lab_id == "week-3" and lab.notes == []
    with pytest.raises(UsageError, match="its file name: 'week 3' cannot name a lab"):
        read_master(write_master(tmp_path, name="week 3.ipynb"))


def test_an_unrun_master_is_imported_as_otter_reads_it_and_noted(tmp_path):
    [lab] = read_master(write_master(tmp_path, question("name: q1", block("TESTS", code("1 + 1"), code("x = 1"),
                                                                          code("assert True"), code("2 + 2")))))
    assert [c.sources[0][1] for c in lab.cases] == [">>> 1 + 1\n", ">>> x = 1\n", ">>> assert True\n", ">>> 2 + 2\n"]
    assert lab.notes == ["the master holds no output for test(s) q1 - 1, q1 - 4: they expect none, as under otter "
                         "(execute the master before importing it)"]


BAD = [
    ([raw("# BEGIN QUESTION\nname: q1")], "BEGIN QUESTION is never closed"),
    ([raw("# BEGIN QUESTION\nname: [q1"), raw("# END QUESTION")], "cell 1: not YAML"),
    ([raw("# BEGIN QUESTION\npoints: 2"), raw("# END QUESTION")], "cell 1: a question without a name"),
    ([raw("# BEGIN QUESTION\nname: q1\npoint: 2"), raw("# END QUESTION")], "unknown question key"),
    (question("name: q1\npoints: [1, 2]", block("TESTS", code("1", "1"))), "points lists 2 values for 1"),
    (block("TESTS", code("1", "1")), "cell 1: BEGIN TESTS outside a question"),
    (question("name: q1", block("TESTS", md("not code"))), "cell 3: a markdown cell in a tests block"),
    (question("name: q1", raw("# END SOLUTION")), "cell 2: END SOLUTION without its BEGIN"),
    (question("name: q1", block("TESTS", code('""" # BEGIN TEST CONFIG\npoints: 1\n1'))), "never closed"),
    (question("name: q1", block("TESTS", code("1 +", "1"))), "cell 3: the test cell is not valid Python"),
    (question("name: q1", block("TESTS", code("(" * 300 + ")" * 300))), "cell 3: the test cell is not valid"),
    ([raw("# BEGIN QUESTION\nname: q1\npoints: " + "[" * 5000 + "]" * 5000), raw("# END QUESTION")],
     "cell 1: a configuration nested too deeply"),
    (question("name: q1") + question("name: q1"), "cell 3: a second question named 'q1'"),
    (question("name: q1\nmanual: yes please"), "manual must be true or false"),
    ([raw("# ASSIGNMENT CONFIG\nfiles:\n  - ../outside.csv")], "outside the master's folder"),
    ([raw("# ASSIGNMENT CONFIG\nfiles:\n  - missing.csv")], "does not exist"),
    ([raw("# ASSIGNMENT CONFIG\nname: ../up")], "cannot name a lab"),
    ([raw("# ASSIGNMENT CONFIG\nname: 12")], "12 cannot name a lab"),
    ([raw("# ASSIGNMENT CONFIG\ntests:\n  ok_format: maybe")], "ok_format: true or false"),
    ([raw("# ASSIGNMENT CONFIG\ntests:\n  ok_format: false"), question("name: q1", block("TESTS", code("x == 1")))],
     "cell 4: an exception-based test cell holds one function"),
]


@pytest.mark.parametrize(("cells", "message"), BAD)
def test_bad_masters_are_refused_naming_the_cell(tmp_path, cells, message):
    (tmp_path / "outside.csv").write_text("x\n", encoding="utf-8")
    path = write_master(tmp_path / "source", *cells)
    with pytest.raises(UsageError, match=message):
        read_master(path)


def test_a_refused_master_writes_nothing(tmp_path):
    path = write_master(tmp_path / "source", question("name: q1\npoints: [1, 2]", block("TESTS", code("1", "1"))))
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    proc = run_grade("import", "otter", str(path), "--course", str(course), cwd=tmp_path)
    assert proc.returncode != 0 and "points lists 2 values" in proc.stderr + proc.stdout
    assert list(course.rglob("*")) == [course / "solutions"]


def test_a_file_reached_through_a_link_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("x\n", encoding="utf-8")
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "data").symlink_to(tmp_path)
    path = write_master(tmp_path / "source", raw("# ASSIGNMENT CONFIG\nfiles:\n  - data/secret.txt"))
    with pytest.raises(UsageError, match="outside the master's folder|is a link"):
        read_master(path)


# --- graded: the solution, a wrong submission, submissions that monkeypatch ----------------------

ATTACKS = {
    "patches_numpy": "import numpy\nnumpy.isclose = lambda *a, **k: True\nnp.isclose = numpy.isclose",
    "patches_doctest": "import doctest\ndoctest.OutputChecker.check_output = lambda *a, **k: True",
    "patches_builtins": ("import builtins\nbuiltins.abs = lambda v: 0\n"
                         "builtins.AssertionError = type('Quiet', (Exception,), {})"),
    "redefines_comparison": ("class Anything:\n    def __eq__(self, other):\n        return True\n"
                             "    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
                             "    def __repr__(self):\n        return '42'\n\n"
                             "answer = Anything()\nsquare = cube = lambda x: Anything()"),
}


def submission(solution: nbformat.NotebookNode, replace: dict[str, str], extra: str = "") -> nbformat.NotebookNode:
    """The solution with cells replaced by their first line's match, and ``extra`` code at the end."""
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    for cell in nb.cells:
        for old, new in replace.items():
            if cell.cell_type == "code" and cell.source.startswith(old):
                cell.source = new
    if extra:
        nb.cells.append(new_code_cell(extra))
    return nb


def test_imported_lab_grades_as_otter_and_resists_monkeypatching(master, tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    proc = run_grade("import", "otter", str(master), "--course", str(course), cwd=course, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hw01: 5 test(s) judged in the grader, 1 kernel-side" in proc.stdout.replace("\n", " ")
    with open(course / "solutions" / "hw01" / "lab.toml", "a", encoding="utf-8") as settings:
        settings.write("timeout = 60\n")  # a notebook that breaks its kernel costs a minute, not five
    solution = nbformat.read(course / "solutions" / "hw01" / "solution.ipynb", as_version=4)
    wrong = {"def square": "def square(x):\n    return x * abs(x)", "answer = 6": "answer = -42",
             "def cube": "def cube(x):\n    return 3 * x"}
    broken = {"def square": "def square(x):\n    return 0", "answer = 6": "answer = 41",
              "def cube": "def cube(x):\n    return 0"}
    notebooks = {"solution": submission(solution, {}), "wrong": submission(solution, wrong),
                 **{name: submission(solution, broken, attack) for name, attack in ATTACKS.items()}}
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    out = tmp_path / "out"
    proc = run_grade(str(folder), "--out", str(out), cwd=course, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {name: json.loads((out / name / "hw01.json").read_text()) for name in notebooks}
    scores = {name: {t["name"]: t["score"] for t in r["tests"]} for name, r in results.items()}
    full = scores["solution"]
    assert sum(full.values()) == 1 + 1 + 1 + 1 + 0 + 2  # q1 (3), q3 (1), q4 (0 + 2); q2 is graded by hand
    lost = {test: full[test] - score for test, score in scores["wrong"].items() if score != full[test]}
    assert lost == {"q1 - 2": 1.0, "q3": 1.0, "q4 - 2": 2.0}  # square(-2), answer > 0, cube(3)
    for name in ATTACKS:
        gained = {t: s for t, s in scores[name].items() if s and t != "q4 - 1"}
        assert gained == {}, name  # every converted case judged in the grader: nothing forged
    kernel_side = [results["solution"]["tests"][i]["name"] for i in results["solution"]["kernel_side_tests"]]
    assert kernel_side == ["q4 - 1"]
