"""The ``grade`` command end to end, as instructors and students call it."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import EXAMPLE, LAB, notebook, run_grade, solution_cells, write_notebook

FULL = 22


def read_gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """The bundled example course, graded as ``make demo`` grades it."""
    out = tmp_path_factory.mktemp("example") / "grades"
    proc = run_grade("submissions/", "--out", str(out), cwd=EXAMPLE)
    return proc, out


def test_example_course_grades_every_submission(example_run):
    proc, out = example_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    book = read_gradebook(out)
    expected = {"alice": ("graded", 22), "bob": ("graded", 17), "carol": ("graded", 13), "dave": ("graded", 0),
                "eve": ("graded", 4), "mallory": ("graded", 22), "oscar": ("memory", 0), "trudy": ("graded", 22),
                "zed": ("invalid", 0), "'=HYPERLINK(\"http-evil\")": ("graded", 22)}
    assert {s: (r["status"], float(r["score"])) for s, r in book.items()} == expected
    assert all(r["max_score"] == "22" and r["sandboxed"] == "yes" for r in book.values())


def test_summary_table_is_printed(example_run):
    proc, _ = example_run
    assert "Grades" in proc.stdout and "alice" in proc.stdout and "22 / 22" in proc.stdout


def test_off_a_terminal_each_result_gets_a_line(example_run):
    """A CI log cannot redraw a progress bar: each result is reported on a line as it comes."""
    proc, _ = example_run
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert sorted(int(line[1:line.index("/")]) for line in lines) == list(range(1, 11))
    assert "bob · 00-warmup: 17 / 22 graded" in proc.stdout and "oscar · 00-warmup: 0 / 22 memory" in proc.stdout


def test_results_json_follows_the_gradescope_schema(example_run):
    _, out = example_run
    data = json.loads((out / "bob" / f"{LAB}.json").read_text())
    assert {"score", "execution_time", "output", "tests", "status"} <= set(data)
    assert data["score"] == 17 and data["status"] == "graded"
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
    hidden_failure = next(t for t in data["tests"] if t["name"].startswith("q2: mean of an empty list"))
    assert hidden_failure == {"name": "q2: mean of an empty list is None", "score": 0.0, "max_score": 2.0,
                              "status": "failed", "output": "failed (hidden test)", "visibility": "visible"}
    public_failure = next(t for t in data["tests"] if t["name"] == "q3: word_counts counts each word")
    assert public_failure["status"] == "passed"


def test_executed_notebook_is_kept_beside_the_results(example_run):
    import nbformat

    _, out = example_run
    executed = nbformat.read(out / "carol" / f"{LAB}.ipynb", as_version=4)
    errors = [o.ename for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert "NameError" in errors
    assert not (out / "zed" / f"{LAB}.ipynb").exists()


def test_student_folders_and_zips(course, tmp_path):
    subs = course / "submissions"
    write_notebook(subs / "ann" / "work" / "final.ipynb", notebook(*solution_cells()))
    write_notebook(tmp_path / "inner.ipynb", notebook(*solution_cells()[:2]))
    with zipfile.ZipFile(subs / "ben.zip", "w") as zf:
        zf.write(tmp_path / "inner.ipynb", "ben/lab.ipynb")
        zf.writestr("../escape.ipynb", "{}")
    proc = run_grade("submissions", "--out", "grades", cwd=course)
    assert proc.returncode == 0, proc.stderr
    book = read_gradebook(course / "grades")
    assert (book["ann"]["status"], book["ann"]["score"]) == ("graded", "22")
    assert book["ben"]["status"] == "graded" and 0 < float(book["ben"]["score"]) < FULL
    assert not (course / "escape.ipynb").exists() and not (course / "submissions" / "escape.ipynb").exists()


def test_lab_override_and_unknown_lab(course):
    write_notebook(course / "submissions" / "nolab.ipynb", notebook(*solution_cells(), lab=None))
    assert run_grade("submissions", "--lab", "nope", cwd=course).returncode == 2
    proc = run_grade("submissions", "--lab", LAB, cwd=course)
    assert proc.returncode == 0 and read_gradebook(course / "grades")["nolab"]["score"] == "22"


def test_course_option_from_elsewhere(course, tmp_path):
    subs = tmp_path / "inbox"
    write_notebook(subs / "zoe.ipynb", notebook(*solution_cells()))
    proc = run_grade(str(subs), "--course", str(course), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert read_gradebook(tmp_path / "out")["zoe"]["score"] == "22"


def test_usage_errors_exit_2(course, tmp_path):
    assert run_grade("missing/", cwd=course).returncode == 2
    (course / "empty").mkdir()
    proc = run_grade("empty", cwd=course)
    assert proc.returncode == 2 and "no notebooks" in proc.stderr
    assert run_grade("submissions", cwd=tmp_path).returncode == 2  # not a course
    assert run_grade("submissions", "--backend", "chroot", cwd=course).returncode == 2
    assert run_grade("submissions", "-j", "0", cwd=course).returncode == 2


def test_no_sandbox_is_marked(course):
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    proc = run_grade("submissions", "--no-sandbox", cwd=course)
    assert proc.returncode == 0 and "WITHOUT a sandbox" in proc.stdout
    row = read_gradebook(course / "grades")["amy"]
    assert (row["score"], row["sandboxed"]) == ("22", "no")


def test_broken_tests_are_a_grader_error(course):
    (course / "solutions" / LAB / "tests" / "test_broken.py").write_text("def test_x(nb):\n    assert (\n")
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    refused = run_grade("submissions", cwd=course)  # the solution's grading finds it first
    assert refused.returncode == 2 and "test_broken.py" in refused.stderr and "Traceback" not in refused.stderr
    assert not (course / "grades" / "gradebook.csv").exists()
    proc = run_grade("submissions", "--skip-solution-check", cwd=course)
    assert proc.returncode == 1 and "grader error" in proc.stderr
    assert read_gradebook(course / "grades")["amy"]["status"] == "crashed"


def test_check_runs_public_tests_only(course):
    lab = course / "labs" / LAB / "lab.ipynb"
    proc = run_grade("check", str(lab), cwd=course)
    assert proc.returncode == 0, proc.stderr
    assert f"{LAB}: 0 / 4" in proc.stdout and "hidden" not in proc.stdout.lower()
    solved = write_notebook(course / "labs" / LAB / "mine.ipynb", notebook(*solution_cells()))
    proc = run_grade("check", str(solved), "-k", "q1", cwd=course / "labs" / LAB)
    assert f"{LAB}: 1 / 1" in proc.stdout and "square(3) is 9" in proc.stdout


def test_check_finds_the_course_above_a_look_alike_labs_folder(course):
    from grader.cli.grade import find_course_root

    stray = write_notebook(course / "tests" / "labs" / LAB / "mine.ipynb", notebook("x = 1"))
    assert find_course_root(stray, None) == course.resolve()


def test_assign_check_detects_drift(course):
    solutions = course / "solutions" / LAB
    assert run_grade("assign", str(solutions), "--check", cwd=course).returncode == 0
    (course / "labs" / LAB / "tests" / "test_public.py").write_text("# edited by hand\n")
    proc = run_grade("assign", str(solutions), "--check", cwd=course)
    assert proc.returncode == 1 and "test_public.py" in proc.stdout
    assert run_grade("assign", str(solutions), cwd=course).returncode == 0
    assert run_grade("assign", str(solutions), "--check", cwd=course).returncode == 0


def test_regrading_keeps_one_row_per_submission(course):
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    shutil.copy(course / "submissions" / "amy.ipynb", course / "submissions" / "bea.ipynb")
    for _ in range(2):
        assert run_grade("submissions", "-j", "1", cwd=course).returncode == 0
    assert sorted(read_gradebook(course / "grades")) == ["amy", "bea"]


def test_a_test_that_cannot_run_here_is_not_run_and_leaves_the_maximum(course):
    """A test that calls pytest.skip (what it needs is missing here) is reported as not run,
    with its points left out of max_score, in every output; and record_property shows on a pass."""
    (course / "solutions" / LAB / "tests" / "test_needs.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.points(3)\n"
        "def test_gpu(nb):\n"
        '    """needs a GPU"""\n'
        '    pytest.skip("no GPU on the grading machine")\n\n\n'
        "def test_measured(nb, record_property):\n"
        '    """reports a measurement"""\n'
        '    record_property("answer", nb.ref("6 * 7"))\n')
    write_notebook(course / "submissions" / "ann.ipynb", notebook(*solution_cells()))
    proc = run_grade("submissions", "--out", "grades", "--junit", "grades/junit.xml", cwd=course)
    assert proc.returncode == 0, proc.stderr
    book = read_gradebook(course / "grades")
    assert (book["ann"]["score"], book["ann"]["max_score"]) == ("23", "23")  # 22 + 1, the GPU's 3 left out
    tests = {t["name"]: t for t in json.loads((course / "grades" / "ann" / f"{LAB}.json").read_text())["tests"]}
    assert tests["needs a GPU"] == {"name": "needs a GPU", "score": 0.0, "max_score": 0.0, "status": "not run",
                                    "output": "not run: no GPU on the grading machine "
                                              "(3 points left out of the maximum)", "visibility": "visible"}
    assert tests["reports a measurement"]["status"] == "passed"
    junit = (course / "grades" / "junit.xml").read_text()
    assert 'skipped="1"' in junit and "<skipped " in junit
    page = (course / "grades" / "ann" / f"{LAB}.html").read_text()
    assert '<td class="grader-not-run">not run</td>' in page
    again = run_grade("submissions", "--out", "grades", cwd=course)  # what was missing may be there now
    assert again.returncode == 0 and read_gradebook(course / "grades")["ann"]["reused"] == "no"


@pytest.mark.parametrize("typo", ["cell_timout", "Timeout", "memroy", "kit", "show_hidden"])
def test_a_misspelt_setting_stops_check_and_grade_naming_it(course, typo):
    """A lab.toml key the grader does not know is a usage error naming it, never a silent default."""
    (course / "solutions" / LAB / "lab.toml").write_text(f"{typo} = 5\n")
    lab = course / "labs" / LAB / "lab.ipynb"
    for args in (("check", str(lab)), ("labs",)):
        proc = run_grade(*args, cwd=course)
        assert proc.returncode == 2, proc.stderr
        assert f"unknown setting '{typo}'" in proc.stderr and "cell_timeout" in proc.stderr
        assert "Traceback" not in proc.stderr


# --- usage problems: one line, exit 2, never a traceback ---------------------------------------


def one_error_line(proc, status: int = 2, kind: str = "error") -> str:
    assert proc.returncode == status, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"grade: {kind}: ")
    return proc.stderr


@pytest.mark.parametrize(("out", "says"), [
    ("afile", "this is a file"),
    ("afile/grades", "cannot make this folder"),
    ("afile/deeper/grades", "cannot make this folder"),
])
def test_out_that_cannot_be_the_grades_folder_is_a_usage_error(course, out, says):
    write_notebook(course / "submissions" / "amy.ipynb", notebook(*solution_cells()))
    (course / "afile").write_text("in the way")
    stderr = one_error_line(run_grade("submissions", "--out", out, "--skip-solution-check", cwd=course))
    assert f"--out {out}: {says}" in stderr
    assert (course / "afile").read_text() == "in the way"


@pytest.mark.parametrize(("source", "error"), [
    ("def test_x(nb):\n    assert (\n", "SyntaxError"),
    ("import no_such_module_anywhere\n", "ModuleNotFoundError"),
    ("from os import no_such_name\n", "ImportError"),
])
def test_a_broken_public_test_under_check_is_one_line_naming_it(course, source, error):
    """The lab's fault, not the student's: the grader's error (exit 1), said in one line that
    names the test file and the error, whatever pytest printed."""
    (course / "labs" / LAB / "tests" / "test_broken.py").write_text(source)
    stderr = one_error_line(run_grade("check", str(course / "labs" / LAB / "lab.ipynb"), cwd=course),
                            status=1, kind="grader error")
    assert "test_broken.py" in stderr and error in stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--port", "-1"], "--port -1: a port is a number from 1 to 65535"),
    (["--port", "70000"], "--port 70000: a port is a number from 1 to 65535"),
    (["--port", "0"], "--port 0: a port is a number from 1 to 65535"),
    (["--host", "nonsense.invalid"], "cannot listen on nonsense.invalid:"),
    (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1:8000: Cannot assign requested address"),
])
def test_llm_server_on_an_address_it_cannot_have_is_one_line(tmp_path, args, says):
    proc = run_grade("llm-server", *args, cwd=tmp_path, timeout=60)
    assert says in one_error_line(proc)


def test_llm_server_on_a_busy_port_is_one_line(tmp_path):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = run_grade("llm-server", "--port", str(port), cwd=tmp_path, timeout=60)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in one_error_line(proc)


def test_one_line_holds_any_message():
    from grader.cli import one_line

    assert one_line(ValueError("a\n\n  b: c\r\nd  ")) == "a; b: c; d"
    assert one_line(ValueError("")) == "ValueError"
