"""A test that errors for a reason of its own is the lab's error (TestsBroken, naming the test and the
reason in one line), never the student's failed test; what the student's notebook caused stays their
failed test, even when it makes the test's own code raise. A batch says a lab's broken tests once, and
no student's row shows a hidden test's name or source. The rule is grader.testing.blame's.

Families of broken tests and of their student-caused counterparts run on the fake kernel
(tests/fakes.py); one batch runs through the ``grade`` command in the sandbox.
"""

from __future__ import annotations

import csv
import json

import pytest
from conftest import LAB, copy_course, notebook, run_grade, solution_cells, write_notebook
from fakes import InlineExecutor
from test_runner_fast import ANSWERS, LAB_ID, TAGS, by_name, grade_cells, make_course

from grader.batch.run import run_batch
from grader.course.discover import Submission
from grader.course.layout import Course
from grader.engine.sandbox import get_backend
from grader.errors import TestsBroken
from grader.results.model import TestStatus

# name -> (hidden test module, what the one-line reason must contain). Each test errs by itself.
BROKEN = {
    "name-error": ("def test_q3_typo(nb):\n    assert nb.call('square', 2) == fourr\n",
                   "test_q3_typo errors by itself: NameError: name 'fourr' is not defined"),
    "unbound-local": ("def test_q3_unbound(nb):\n    if nb.call('square', 2) < 0:\n        x = 1\n    assert x\n",
                      "test_q3_unbound errors by itself: UnboundLocalError"),
    "import-in-test": ("def test_q3_import(nb):\n    import no_such_module_here\n    assert nb.call('square', 2)\n",
                       "test_q3_import errors by itself: ModuleNotFoundError"),
    "module-attribute": ("import math\n\ndef test_q3_attr(nb):\n    assert nb.call('square', 2) < math.tau2\n",
                         "test_q3_attr errors by itself: AttributeError: module 'math' has no attribute 'tau2'"),
    "helper-called-wrongly": ("def helper(a, b):\n    return a + b\n\ndef test_q3_helper(nb):\n"
                              "    assert helper(nb.call('square', 2)) == 8\n",
                              "test_q3_helper errors by itself: TypeError: helper() missing 1 required"),
    "nb-called-wrongly": ("def test_q3_nbcall(nb):\n    assert nb.call() == 4\n",
                          "test_q3_nbcall errors by itself: TypeError"),
    "fixture-raises": ("import pytest\n\n@pytest.fixture\ndef data():\n    return 1 / 0\n\n"
                       "def test_q3_fixture(nb, data):\n    assert data\n",
                       "test_q3_fixture errors by itself: ZeroDivisionError: division by zero (in fixture 'data')"),
    "fixture-chain-raises": ("import pytest\n\n@pytest.fixture(scope='module')\ndef table():\n    return {}\n\n"
                             "@pytest.fixture\ndef row(table, tmp_path):\n    return table['missing']\n\n"
                             "def test_q3_chain(nb, row):\n    assert row\n",
                             "test_q3_chain errors by itself: KeyError: 'missing' (in fixture 'row')"),
    "fixture-with-nb-typo": ("import pytest\n\n@pytest.fixture\ndef got(nb):\n"
                             "    return nb.call('square', 2) + typo\n\ndef test_q3_got(got):\n    assert got\n",
                             "test_q3_got errors by itself: NameError: name 'typo' is not defined"),
    "fixture-not-found": ("def test_q3_nofixture(nb, no_such_fixture):\n    assert True\n",
                          "test_q3_nofixture errors by itself: "
                          "FixtureLookupError: fixture 'no_such_fixture' not found"),
    "scope-mismatch": ("import pytest\n\n@pytest.fixture\ndef small():\n    return 1\n\n"
                       "@pytest.fixture(scope='module')\ndef big(small):\n    return small\n\n"
                       "def test_q3_scope(nb, big):\n    assert big\n",
                       "test_q3_scope errors by itself: Failed: ScopeMismatch"),
    "syntax-error": ("def test_q3_oops(nb)\n    assert True\n",
                     "test_x.py does not load: SyntaxError: expected ':' (test_x.py, line 1)"),
    "import-error": ("import no_such_module_here\n\ndef test_q3_x(nb):\n    assert True\n",
                     "test_x.py does not load: ModuleNotFoundError: No module named 'no_such_module_here'"),
    "module-name-error": ("THRESHOLD = undefined_constant\n\ndef test_q3_x(nb):\n    assert True\n",
                          "test_x.py does not load: NameError: name 'undefined_constant' is not defined"),
}

# name -> (the student's cells, a hidden test). The student's notebook makes the test fail, even
# where the test's own code raises: each is the student's failed test.
CALLS = "def test_q3(nb):\n    assert nb.call('square', 3) == 9\n"
STUDENT = {
    "wrong-type-compared": (["def square(x):\n    return None"],
                            "def test_q3(nb):\n    assert nb.call('square', 3) > 5\n"),
    "wrong-type-len": (["def square(x):\n    return 9"],
                       "def test_q3(nb):\n    assert len(nb.call('square', 3)) == 1\n"),
    "wrong-type-unpacked": (["def square(x):\n    return 9"],
                            "def test_q3(nb):\n    a, b = nb.call('square', 3)\n    assert a == b\n"),
    "wrong-type-attribute": (["def square(x):\n    return {'x': 1}"],
                             "def test_q3(nb):\n    assert nb.call('square', 3).shape == (1,)\n"),
    "wrong-type-subscripted": (["def square(x):\n    return 9"],
                               "def test_q3(nb):\n    assert nb.call('square', 3)[0] == 9\n"),
    "name-error-in-kernel": (["def square(x):\n    return y"], CALLS),
    "type-error-in-kernel": (["def square():\n    return 9"], CALLS),
    "function-missing": (["x = 1"], CALLS),
    "codec-refusal": (["def square(x):\n    return object()"], CALLS),
    "fixture-meets-wrong-type": (["def square(x):\n    return 9"],
                                 "import pytest\n\n@pytest.fixture\ndef pair(nb):\n    a, b = nb.call('square', 3)\n"
                                 "    return a\n\ndef test_q3(pair):\n    assert pair\n"),
    "chain-meets-wrong-type": (["def square(x):\n    return None"],
                               "import pytest\n\n@pytest.fixture(scope='module')\ndef got(nb):\n"
                               "    return nb.call('square', 3)\n\n@pytest.fixture\ndef first(got):\n"
                               "    return got[0]\n\ndef test_q3(first):\n    assert first\n"),
    "fixture-fails-on-purpose": (["def square(x):\n    return 9"],
                                 "import pytest\n\n@pytest.fixture\ndef data(nb):\n    pytest.fail('no data')\n\n"
                                 "def test_q3(data):\n    assert data\n"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_test_that_errs_by_itself_is_the_labs_error_naming_it(tmp_path, kind):
    hidden, reason = BROKEN[kind]
    with pytest.raises(TestsBroken) as raised:
        grade_cells(tmp_path, course=make_course(tmp_path / "course", hidden=hidden))
    message = str(raised.value)
    assert reason in message and f"solutions/{LAB_ID}/tests/test_x.py" in message
    assert "\n" not in message and len(message) < 600 and " at 0x" not in message


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_public_test_that_errs_by_itself_is_the_labs_error_too(tmp_path, kind):
    public, reason = BROKEN[kind]
    course = make_course(tmp_path / "course", public=public)
    with pytest.raises(TestsBroken, match=f"labs/{LAB_ID}/tests/test_public.py"):
        grade_cells(tmp_path, course=course, hidden=False)


@pytest.mark.parametrize("kind", sorted(STUDENT))
def test_what_the_student_caused_stays_their_failed_test(tmp_path, kind):
    cells, hidden = STUDENT[kind]
    course = make_course(tmp_path / "course", hidden=hidden, toml="show_hidden_output = true\n")
    result = grade_cells(tmp_path, cells, tags={}, course=course)
    test = by_name(result)["test_q3"]
    assert (result.status, test.status, test.score) == ("graded", TestStatus.FAILED, 0.0)
    assert test.output.startswith("q3: ") and " at 0x" not in test.output


def test_a_passing_lab_with_a_fixture_of_its_own_is_not_broken(tmp_path):
    hidden = ("import pytest\n\n@pytest.fixture\ndef data(tmp_path):\n    return [1, 2, 3]\n\n"
              "def test_q3(nb, data):\n    assert nb.call('square', len(data)) == 9\n")
    result = grade_cells(tmp_path, course=make_course(tmp_path / "course", hidden=hidden))
    assert by_name(result)["test_q3"].status == TestStatus.PASSED


@pytest.mark.parametrize("kind", ["name-error", "fixture-raises", "syntax-error"])
def test_a_batch_says_a_labs_broken_tests_once_and_no_row_shows_the_hidden_test(tmp_path, kind):
    hidden, reason = BROKEN[kind]
    course = Course(make_course(tmp_path / "course", hidden=hidden + "\n# SECRET-SOURCE-LINE\n"))
    subs = [Submission(s, write_notebook(tmp_path / "subs" / f"{s}.ipynb", notebook(*ANSWERS, lab=LAB_ID, tags=TAGS)),
                       lab=LAB_ID) for s in "abcde"]
    out = tmp_path / "grades"
    results, errors = run_batch(subs, course, out, get_backend("none"), 2, False, lambda r: None,
                                executor_factory=InlineExecutor)
    assert len(errors) == 1 and errors[0].startswith(f"lab {LAB_ID}: ") and reason in errors[0]
    assert {r.status for r in results} == {"crashed"} and all(r.score == 0 for r in results)
    secret = ("test_x.py", "test_q3", "SECRET", hidden.splitlines()[0].strip())
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".csv", ".html"):
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not any(s in text for s in secret), (path, text[:500])
    assert all("the lab's tests are broken" in r.message for r in results)


def test_grade_reports_a_hidden_tests_own_error_once_and_charges_no_student(tmp_path):
    """Through the command, in the sandbox: exit 1, one line naming the test and the reason."""
    course = copy_course(tmp_path / "course")
    (course / "solutions" / LAB / "tests" / "test_typo.py").write_text(
        "def test_q1_typo(nb):\n    assert nb.call('square', 2) == fourr\n")
    for student in ("amy", "bob"):
        write_notebook(course / "submissions" / f"{student}.ipynb", notebook(*solution_cells()))
    proc = run_grade("submissions", "--skip-solution-check", cwd=course)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "grader error" in line]
    assert lines == [f"grade: grader error: lab {LAB}: test solutions/{LAB}/tests/test_typo.py::test_q1_typo "
                     "errors by itself: NameError: name 'fourr' is not defined"]
    with open(course / "grades" / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {rows[s]["status"] for s in ("amy", "bob")} == {"crashed"}
    for student in ("amy", "bob"):
        result = json.loads((course / "grades" / student / f"{LAB}.json").read_text())
        assert "test_typo" not in json.dumps(result) and "fourr" not in json.dumps(result)
