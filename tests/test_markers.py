"""Solution markers of every common style: stubbed, or refused naming the cell and line; never copied through.

Each family is generated (styles x spellings x indentation x cell types x counts) and held to
one property: no solution line reaches the student notebook, everything outside the regions
does, no marker is left, and the solution notebook is unchanged. Solution lines carry a token
``SECRET_<n>`` and the lines around them ``PUBLIC_<n>``, so the property is checked on the
notebook's whole text, independently of how the grader finds regions.
"""

from __future__ import annotations

import copy
import itertools
import re

import nbformat
import pytest

from grader.course import assign as assign_mod
from grader.course.assign import student_notebook
from grader.course.markers import Reading, Secret, leaks, otter_prompt, stub_cell, stub_source
from grader.errors import AssignError

MARKER_LEFT = re.compile(r"(BEGIN|END)[\s_-]*(SOLUTION|HIDDEN)|#\s*SOLUTION\s*$", re.IGNORECASE | re.MULTILINE)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def code(source: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata=metadata)


def markdown(source: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(source, metadata=metadata)


def raw(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(source)


def solution(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = list(cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SECRET_OUTPUT\n")]
    return nb


def holds(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The property every family is held to; returns the student notebook."""
    before = copy.deepcopy(nb)
    student = student_notebook(nb, "lab")
    assert nb == before, "the solution notebook was changed"
    text = "\n".join(cell.source for cell in student.cells)
    whole = nbformat.writes(student)
    secrets = set(re.findall(r"SECRET_\w+", nbformat.writes(nb)))
    publics = set(re.findall(r"PUBLIC_\w+", nbformat.writes(nb)))
    assert secrets and not [s for s in secrets if s in whole], f"solution text reached students:\n{text}"
    assert [p for p in sorted(publics) if p not in text] == [], f"text outside the regions was lost:\n{text}"
    assert MARKER_LEFT.search(text) is None, f"a marker was left:\n{text}"
    nbformat.validate(student)
    return student


# --- region delimiters: ours, nbgrader's (any number of #), spellings, indentation ------------------

MARKS = ["#", "##", "###", "####"]
SPACING = ["{m} BEGIN SOLUTION", "{m}BEGIN SOLUTION", "{m} begin solution", "{m} Begin Solution",
           "{m} BEGIN  SOLUTION", "{m} BEGIN_SOLUTION", "{m} BEGIN SOLUTION   ", "{m} BEGIN SOLUTION {m}"]
INDENTS = ["", "    ", "        ", "\t"]


def region(begin: str, indent: str, n: int, end: str | None = None) -> str:
    end = end or begin.replace("BEGIN", "END").replace("begin", "end").replace("Begin", "End")
    return (f"{indent}{begin}\n{indent}secret_{n} = SECRET_{n}_A\n{indent}print(SECRET_{n}_B)\n"
            f"{indent}{end}")


@pytest.mark.parametrize(("mark", "spelling", "indent"), list(itertools.product(MARKS, SPACING, INDENTS)))
def test_code_regions_in_every_spelling(mark, spelling, indent):
    begin = spelling.format(m=mark)
    body = region(begin, indent + "    ", 1) if indent else region(begin, "", 1)
    source = f"PUBLIC_A = 1\ndef f():\n{body}\nPUBLIC_B = 2" if indent else f"PUBLIC_A = 1\n{body}\nPUBLIC_B = 2"
    student = holds(solution(code(source)))
    stub_indent = indent + "    " if indent else ""
    assert f"{stub_indent}# YOUR CODE HERE\n{stub_indent}raise NotImplementedError()" in student.cells[0].source


@pytest.mark.parametrize("count", [1, 2, 3, 5])
@pytest.mark.parametrize("mark", MARKS)
def test_several_regions_in_one_cell(count, mark):
    parts = ["PUBLIC_0 = 0"]
    for n in range(count):
        parts += [region(f"{mark} BEGIN SOLUTION", "", n), f"PUBLIC_{n + 1} = {n}"]
    student = holds(solution(code("\n".join(parts))))
    assert student.cells[0].source.count("raise NotImplementedError()") == count


@pytest.mark.parametrize("begin", ["### BEGIN SOLUTION", "# BEGIN SOLUTION", "<!-- BEGIN SOLUTION -->",
                                   "<!--BEGIN SOLUTION-->", "## begin solution"])
@pytest.mark.parametrize("kind", [markdown, raw])
def test_text_regions_become_your_answer_here(begin, kind):
    end = begin.replace("BEGIN", "END").replace("begin", "end")
    cell = kind(f"PUBLIC_Q: explain.\n\n{begin}\nSECRET_ANSWER because SECRET_REASON.\n{end}\n\nPUBLIC_AFTER")
    student = holds(solution(cell))
    assert student.cells[0].source == "PUBLIC_Q: explain.\n\nYOUR ANSWER HERE\n\nPUBLIC_AFTER"


@pytest.mark.parametrize("mark", MARKS + ["//"])
def test_writefile_cells_get_a_comment_stub(mark):
    source = f"%%writefile Dockerfile\n{mark} BEGIN SOLUTION\nFROM SECRET_BASE\n{mark} END SOLUTION"
    student = holds(solution(code(source)))
    assert student.cells[0].source == "%%writefile Dockerfile\n# YOUR CODE HERE"


# --- hidden tests (nbgrader) -------------------------------------------------------------------------

@pytest.mark.parametrize(("mark", "indent", "count"), list(itertools.product(MARKS, ["", "    "], [1, 2])))
def test_hidden_tests_are_removed(mark, indent, count):
    lines = ["assert PUBLIC_CHECK(1) == 1"] if not indent else ["def check():", "    assert PUBLIC_CHECK(1) == 1"]
    for n in range(count):
        lines += [f"{indent}{mark} BEGIN HIDDEN TESTS", f"{indent}assert SECRET_HIDDEN_{n}(2) == 4",
                  f"{indent}{mark} END HIDDEN TESTS"]
    student = holds(solution(code("\n".join(lines), nbgrader={"grade": True, "solution": False})))
    assert student.cells[0].source == "\n".join(lines[:1 if not indent else 2])


# --- nbgrader's metadata --------------------------------------------------------------------------------

NBGRADER = {"schema_version": 3, "grade": False, "solution": True, "locked": False, "grade_id": "q1"}


@pytest.mark.parametrize("lines", [1, 3, 10])
def test_nbgrader_solution_code_cells_are_stubbed_whole(lines):
    source = "\n".join(f"SECRET_{n} = {n}" for n in range(lines))
    student = holds(solution(code("PUBLIC_X = 1"), code(source, nbgrader=NBGRADER)))
    assert student.cells[1].source == STUB
    assert student.cells[1].metadata["nbgrader"] == NBGRADER


@pytest.mark.parametrize("text", ["SECRET_PROSE", "SECRET_A\n\n* SECRET_B\n* SECRET_C", "## SECRET_HEADING\nSECRET_X"])
def test_nbgrader_solution_markdown_cells_are_stubbed_whole(text):
    student = holds(solution(markdown("PUBLIC_Q?"), markdown(text, nbgrader=NBGRADER)))
    assert student.cells[1].source == "YOUR ANSWER HERE"


@pytest.mark.parametrize("mark", ["###", "#"])
def test_nbgrader_solution_cell_with_a_region_keeps_the_rest(mark):
    source = f"def f(x):\n    PUBLIC_DOC = 1\n    {mark} BEGIN SOLUTION\n    return SECRET_R\n    {mark} END SOLUTION"
    student = holds(solution(code(source, nbgrader=NBGRADER)))
    stub = "\n".join("    " + line for line in STUB.split("\n"))
    assert student.cells[0].source == "def f(x):\n    PUBLIC_DOC = 1\n" + stub


def test_nbgrader_solution_writefile_cell_keeps_its_file_name():
    student = holds(solution(code("%%writefile app.py\nSECRET_APP = 1", nbgrader=NBGRADER)))
    assert student.cells[0].source == "%%writefile app.py\n# YOUR CODE HERE"


# --- otter ---------------------------------------------------------------------------------------------

OTTER_SHAPES = [
    ("x = SECRET_1 # SOLUTION", "x = ..."),
    ("x = SECRET_1  #SOLUTION", "x = ..."),
    ("x = SECRET_1 # solution", "x = ..."),
    ("x: int = SECRET_1 # SOLUTION", "x: int = ..."),
    ("a, b = SECRET_1, SECRET_2 # SOLUTION", "a, b = ..."),
    ('table["k"] = SECRET_1 # SOLUTION', 'table["k"] = ...'),
    ("total += SECRET_1 # SOLUTION", "total += ..."),
    ("a = b = SECRET_1 # SOLUTION", "a = b = ..."),
    ("x = SECRET_1  # a note # SOLUTION", "x = ..."),
    ("print(SECRET_1) # SOLUTION", "..."),
    ("SECRET_1(3) # SOLUTION", "..."),
    ("for SECRET_1 in range(3): # SOLUTION", "..."),
    ("x == SECRET_1 # SOLUTION", "..."),
]


@pytest.mark.parametrize(("line", "shown"), OTTER_SHAPES)
@pytest.mark.parametrize("indent", ["", "    "])
def test_otter_solution_lines(line, shown, indent):
    source = f"def f():\n{indent}PUBLIC_A = 1\n{indent}{line}\n{indent}PUBLIC_B = 2" if indent \
        else f"PUBLIC_A = 1\n{line}\nPUBLIC_B = 2"
    student = holds(solution(code(source)))
    assert f"\n{indent}{shown}\n" in student.cells[0].source


@pytest.mark.parametrize("line", ["SECRET_1 = 2 # SOLUTION NO PROMPT", "    SECRET_1() # solution no prompt"])
def test_otter_no_prompt_lines_are_removed(line):
    student = holds(solution(code(f"def f():\n    PUBLIC_A = 1\n{line}\n    return PUBLIC_A")))
    assert student.cells[0].source == "def f():\n    PUBLIC_A = 1\n    return PUBLIC_A"


def test_otter_prompt_block_shows_after_a_quiet_region():
    source = ("def square(x):\n    # BEGIN SOLUTION NO PROMPT\n    return SECRET_SQUARE\n    # END SOLUTION\n"
              '    """ # BEGIN PROMPT\n    PUBLIC_PROMPT = ...\n    """ # END PROMPT')
    student = holds(solution(code(source)))
    assert student.cells[0].source == "def square(x):\n    PUBLIC_PROMPT = ..."


def test_otter_prompt_is_ast_based():
    assert otter_prompt("x = 5") == "x = ..."
    assert otter_prompt("é = 'ü'") == "é = ..."  # offsets are bytes in ast, characters here
    assert otter_prompt("if x:") == "..."


# --- blocks of whole cells (otter's raw cells, a marker alone in a cell) --------------------------------

@pytest.mark.parametrize("edge", ["# BEGIN SOLUTION", "### BEGIN SOLUTION", "<!-- BEGIN SOLUTION -->"])
@pytest.mark.parametrize("kind", [raw, markdown, code])
def test_block_of_cells_between_two_marker_cells(edge, kind):
    end = edge.replace("BEGIN", "END")
    student = holds(solution(markdown("PUBLIC_Q"), kind(edge), code("SECRET_CODE = 1"), markdown("SECRET_TEXT"),
                             code("x = SECRET_ONE # SOLUTION\nPUBLIC_KEPT = 1"), kind(end), code("PUBLIC_AFTER")))
    assert [c.source for c in student.cells] == ["PUBLIC_Q", STUB, "YOUR ANSWER HERE", "x = ...\nPUBLIC_KEPT = 1",
                                                 "PUBLIC_AFTER"]


@pytest.mark.parametrize("edge", ["# BEGIN TESTS", "# BEGIN HIDDEN TESTS", "# BEGIN SOLUTION NO PROMPT"])
def test_blocks_of_tests_and_quiet_solutions_are_removed(edge):
    end = edge.replace("BEGIN", "END").replace(" NO PROMPT", "")
    student = holds(solution(code("PUBLIC_A = 1"), raw(edge), code("# HIDDEN\nassert SECRET_T == 1"),
                             markdown("SECRET_NOTE"), raw(end), code("PUBLIC_B = 2")))
    assert [c.source for c in student.cells] == ["PUBLIC_A = 1", "PUBLIC_B = 2"]


# --- mistakes: refused, naming the cell and the line ------------------------------------------------------

LOOKALIKES = [
    "x = 1  # BEGIN SOLUTION",
    "# BEGIN SOLUTION here",
    "# BEGIN SOLUTION: the loop",
    "print('END SOLUTION')",
    "# BEGIN SOLUTION_1",
    "# BEGIN HIDDEN TESTS now",
    "**BEGIN SOLUTION**",
    "<!-- BEGIN SOLUTION --> and more",
    "# BEGIN SOLUTON",
    "# BEGN SOLUTION",
    "### END SOULTION",
    "<!-- BEGIN SOLUTIN -->",
    "# BEGIN HIDEN TESTS",
]


@pytest.mark.parametrize("line", LOOKALIKES)
@pytest.mark.parametrize("kind", [code, markdown])
@pytest.mark.parametrize("position", [1, 3])
def test_lookalike_markers_are_refused_with_cell_and_line(line, kind, position):
    lines = ["PUBLIC_A = 1", "PUBLIC_B = 2", "SECRET_C = 3"]
    lines.insert(position - 1, line)
    with pytest.raises(AssignError, match=rf"cell 1, line {position}: .*looks like a (misspelt )?solution marker"):
        student_notebook(solution(code("PUBLIC_0 = 0"), kind("\n".join(lines))), "lab")


UNBALANCED = [
    ("PUBLIC = 1\n# END SOLUTION", "line 2: END SOLUTION without BEGIN SOLUTION"),
    ("# BEGIN SOLUTION\nSECRET = 1", "BEGIN SOLUTION is never closed"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\nSECRET = 1\n# END SOLUTION\n# END SOLUTION", "line 2: BEGIN SOLUTION inside"),
    ("### BEGIN SOLUTION\nSECRET = 1\n### END HIDDEN TESTS", "line 3: END HIDDEN TESTS closes BEGIN SOLUTION"),
    ("### BEGIN HIDDEN TESTS\nassert SECRET\n", "BEGIN HIDDEN TESTS is never closed"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# END SOLUTION", "line 4: END SOLUTION without"),
    ("    ## BEGIN SOLUTION\n    SECRET = 1\n", "never closed"),
    ("<!-- BEGIN SOLUTION -->\nSECRET", "never closed"),
]


@pytest.mark.parametrize(("source", "message"), UNBALANCED)
@pytest.mark.parametrize("index", [0, 2])
def test_unbalanced_regions_are_refused(source, message, index):
    cells = [code("PUBLIC_0 = 0"), markdown("PUBLIC_1"), code("PUBLIC_2 = 2")]
    cells[index] = code(source)
    with pytest.raises(AssignError, match=rf"cell {index}\b.*{re.escape(message)}"):
        student_notebook(solution(*cells), "lab")


@pytest.mark.parametrize("cells, message", [
    ([raw("# BEGIN SOLUTION"), code("SECRET = 1")], "cell 0: BEGIN SOLUTION .* never closed"),
    ([code("PUBLIC = 1"), raw("# END SOLUTION")], "cell 1.*END SOLUTION without BEGIN"),
    ([raw("# BEGIN SOLUTION"), raw("# BEGIN SOLUTION"), raw("# END SOLUTION")], "cell 1.*inside another"),
    ([raw("# BEGIN TESTS"), code("assert SECRET"), raw("# END SOLUTION")], "cell 2.*closes BEGIN TESTS"),
])
def test_unbalanced_blocks_are_refused(cells, message):
    with pytest.raises(AssignError, match=message):
        student_notebook(solution(*cells), "lab")


# --- the check after generating --------------------------------------------------------------------------

def test_the_check_refuses_what_the_stubbing_let_through(monkeypatch):
    """If stubbing missed a region, the independent reading still finds the lines."""
    monkeypatch.setattr(assign_mod, "stub_cell", lambda source, kind, where, whole=False:
                        source.replace("# BEGIN SOLUTION\n", "").replace("\n# END SOLUTION", ""))
    nb = solution(code("PUBLIC = 1"), code("# BEGIN SOLUTION\nanswer = compute(SECRET)\n# END SOLUTION"))
    with pytest.raises(AssignError, match=r"cell 1, line 2: solution text would reach students: 'answer = "):
        student_notebook(nb, "lab")


def test_the_check_refuses_a_marker_left_behind(monkeypatch):
    monkeypatch.setattr(assign_mod, "stub_cell", lambda source, kind, where, whole=False: source)
    with pytest.raises(AssignError, match=r"cell 0, line 1: a solution marker would reach students"):
        student_notebook(solution(code("x = 5 # SOLUTION")), "lab")


@pytest.mark.parametrize("line", ["# End of solution", "# send the solution", "end = solve(x)", "# the end"])
def test_words_near_a_marker_are_not_one(line):
    student = holds(solution(code(f"PUBLIC_A = 1\n{line}\n# BEGIN SOLUTION\nSECRET_B = 2\n# END SOLUTION")))
    assert line in student.cells[0].source


@pytest.mark.parametrize("line", ["pass", "return", "...", "    )", "# a comment", "", "else:", "return None"])
def test_the_check_ignores_lines_every_answer_has(line):
    reading = Reading(secrets=[Secret(1, 2, line, True)], public=[])
    assert list(leaks(reading, [(1, "code", f"def f():\n    {line}")])) == []


@pytest.mark.parametrize("secret, public, found", [
    ("model = fit(X, y)", ["model = fit(X, y)"], False),  # also outside a region: students may see it
    ("model = fit(X, y)", ["print(1)"], True),
    ("## The reason", [], True),  # in markdown, a heading is text
])
def test_the_check_counts_only_what_is_the_students_to_write(secret, public, found):
    reading = Reading(secrets=[Secret(3, 4, secret, secret.startswith("model"))], public=public)
    problems = list(leaks(reading, [(3, "code", f"x = 1\n{secret}  # kept")]))
    assert bool(problems) is found
    assert all("cell 3, line 4" in p for p in problems)


def test_stub_source_is_the_code_cell_stub():
    assert stub_source("a = 1\n# BEGIN SOLUTION\nb = 2\n# END SOLUTION") == "a = 1\n" + STUB
    assert stub_cell("a\n<!-- BEGIN SOLUTION -->\nb\n<!-- END SOLUTION -->", "markdown", "c") == "a\nYOUR ANSWER HERE"
