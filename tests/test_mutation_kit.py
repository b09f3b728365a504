"""grader.kits.mutation: a student's pytest tests against a reference, a refactoring and mutants.

Each implementation runs in a fresh sandbox: the tests here are student test files of every kind
(good, weak, failing, empty, hanging, noisy, and hostile ones that leave processes and files
behind for the next run), and the outcomes are what pytest's exit status says, seen from outside.
"""

from __future__ import annotations

import textwrap
import time

import pytest
from conftest import BACKENDS, leftover_processes

from grader.engine.sandbox import get_backend
from grader.errors import KitError
from grader.kits.mutation.run import DETAIL_LIMIT, TEST_LIMIT, Outcome, TestsError, run_tests

REFERENCE = '''\
def slugify(text: str) -> str:
    """Lower-case words of ``text`` joined by hyphens; characters other than letters and digits dropped."""
    words = ["".join(ch for ch in word if ch.isalnum()) for word in text.lower().split()]
    return "-".join(word for word in words if word)
'''
REFACTORED = '''\
import re


def slugify(text):
    parts = (re.sub(r"[\\W_]+", "", part) for part in text.lower().split())
    return "-".join(filter(None, parts))
'''
MUTANTS = {
    "upper": REFERENCE.replace("text.lower()", "text"),
    "underscore": REFERENCE.replace('"-".join', '"_".join'),
    "keeps-punctuation": REFERENCE.replace("if ch.isalnum()", ""),
    "keeps-empty": REFERENCE.replace(" if word)", ")"),
}
IMPLEMENTATIONS = {"reference": REFERENCE, "refactored": REFACTORED, **MUTANTS}

GOOD = '''\
from textutils import slugify


def test_words_are_joined_by_hyphens():
    assert slugify("Hello World") == "hello-world"


def test_punctuation_is_dropped():
    assert slugify("Hi, there!") == "hi-there"


def test_a_word_of_punctuation_leaves_no_gap():
    assert slugify("a - b") == "a-b"
'''
WEAK = '''\
from textutils import slugify


def test_one_word():
    assert slugify("hello") == "hello"


def test_two_words():
    assert slugify("hello world") == "hello-world"
'''


def student(source: str) -> dict[str, bytes]:
    return {"test_textutils.py": textwrap.dedent(source).encode()}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return get_backend(request.param)


def statuses(outcomes: dict[str, Outcome]) -> dict[str, str]:
    return {name: outcome.status for name, outcome in outcomes.items()}


def test_the_implementations_are_what_they_claim():
    """The reference and the refactoring agree; each mutant differs from the reference somewhere."""
    spaces = {}
    for name, source in IMPLEMENTATIONS.items():
        exec(source, spaces.setdefault(name, {}))
    inputs = ["Hello World", "Hi, there!", "a - b", "  x  ", "", "Ünïcode 2 go"]
    reference = [spaces["reference"]["slugify"](i) for i in inputs]
    assert [spaces["refactored"]["slugify"](i) for i in inputs] == reference
    assert all([spaces[m]["slugify"](i) for i in inputs] != reference for m in MUTANTS)


def test_a_good_test_file_passes_the_correct_ones_and_kills_every_mutant(backend):
    started = time.monotonic()
    outcomes = run_tests(backend, student(GOOD), "textutils", IMPLEMENTATIONS)
    elapsed = time.monotonic() - started
    assert statuses(outcomes) == {"reference": "passed", "refactored": "passed", **dict.fromkeys(MUTANTS, "failed")}
    assert "3 passed" in outcomes["reference"].detail
    assert "hello_world" in outcomes["underscore"].detail  # the assertion that caught it, for feedback
    assert elapsed < 6 * 5, f"{elapsed:.1f} s for six implementations"


def test_a_weak_test_file_kills_only_some(backend):
    outcomes = statuses(run_tests(backend, student(WEAK), "textutils", IMPLEMENTATIONS))
    assert outcomes == {"reference": "passed", "refactored": "passed", "upper": "passed", "underscore": "failed",
                        "keeps-punctuation": "passed", "keeps-empty": "passed"}


@pytest.mark.parametrize("source, status", [
    ("def test_wrong():\n    assert False\n", "failed"),
    ("def helper():\n    return 1\n", "error"),  # pytest: no tests collected (5)
    ("def test_broken(:\n    pass\n", "error"),  # a collection error (2)
    ("import sys\nprint('3 passed in 0.01s')\nsys.exit(3)\n", "error"),  # an exit status that is no verdict
    ("import textutils\ntextutils.slugify = lambda s: 'x'\ndef test_patched():\n"
     "    assert textutils.slugify('A b') == 'x'\n", "passed"),  # the student's tests decide, even so
])
def test_what_pytest_exits_with_is_the_outcome(source, status):
    outcomes = run_tests(get_backend("bwrap"), student(source), "textutils", {"reference": REFERENCE})
    assert outcomes["reference"].status == status


def test_a_test_that_hangs_is_a_timeout_and_the_next_runs(backend):
    hangs = "import time\nfrom textutils import slugify\n\ndef test_hangs():\n    time.sleep(3600)\n"
    started = time.monotonic()
    outcomes = run_tests(backend, student(hangs), "textutils", {"a": REFERENCE, "b": REFERENCE}, timeout=3)
    assert statuses(outcomes) == {"a": "timeout", "b": "timeout"}
    assert "did not finish within 3 s" in outcomes["a"].detail
    assert time.monotonic() - started < 2 * 3 + 20


LEAVES_THINGS_BEHIND = '''\
import os
import pathlib
import subprocess
import tempfile

from textutils import slugify

PLACES = [pathlib.Path.home() / "left.txt", pathlib.Path(tempfile.gettempdir()) / "left.txt",
          pathlib.Path("conftest.py"), pathlib.Path("/dev/shm/left.txt")]


def test_nothing_of_the_last_run_is_here():
    assert not [p for p in PLACES if p.exists()]
    alive = subprocess.run(["sh", "-c", "ps -eo args 2>/dev/null | grep -c '[s]leep 4242' || true"],
                           capture_output=True, text=True).stdout.strip()
    assert alive in ("", "0")


def test_leave_files_and_a_process_behind():
    for place in PLACES:
        try:
            place.write_text("def pytest_collection_modifyitems(items):\\n    items.clear()\\n")
        except OSError:
            pass
    subprocess.Popen(["sh", "-c", "sleep 4242"], start_new_session=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    assert slugify("a b") == "a-b"
'''


def test_nothing_a_run_leaves_behind_reaches_the_next(backend, tmp_path, monkeypatch):
    """Each run writes files (a conftest.py that would empty the next collection among them) and
    starts a background process; the next run, in its own sandbox, sees none of them, and none is
    left once run_tests returns."""
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    outcomes = run_tests(backend, student(LEAVES_THINGS_BEHIND), "textutils",
                         {"first": REFERENCE, "second": REFERENCE, "third": REFERENCE})
    assert statuses(outcomes) == dict.fromkeys(outcomes, "passed"), outcomes
    assert list(scratch.iterdir()) == [] and leftover_processes(scratch) == []


def test_megabytes_of_output_leave_a_bounded_detail(backend):
    noisy = ("def test_noisy():\n    print('x' * 5_000_000)\n    assert False, 'the end'\n\n"
             "def test_quiet_but_chatty():\n    print('y' * 5_000_000)\n")
    outcomes = run_tests(backend, student(noisy), "textutils", {"reference": REFERENCE})
    assert outcomes["reference"].status == "failed"
    assert len(outcomes["reference"].detail) <= DETAIL_LIMIT and "1 failed, 1 passed" in outcomes["reference"].detail


def test_several_test_files_run_together():
    tests = {"test_a.py": GOOD.encode(), "test_b.py": b"def test_b():\n    assert True\n"}
    outcomes = run_tests(get_backend("bwrap"), tests, "textutils", {"reference": REFERENCE, "upper": MUTANTS["upper"]})
    assert statuses(outcomes) == {"reference": "passed", "upper": "failed"}
    assert "4 passed" in outcomes["reference"].detail


@pytest.mark.parametrize("tests, message", [
    ({}, "between 1 and 16 test files"),
    ({f"test_{i}.py": b"" for i in range(17)}, "between 1 and 16 test files"),
    ({"test_textutils.py": None}, "test_textutils.py is missing"),
    ({"tests.py": b""}, "not a test file's name"),
    ({"../test_x.py": b""}, "not a test file's name"),
    ({"sub/test_x.py": b""}, "not a test file's name"),
    ({"test_x.py": b"#" * (TEST_LIMIT + 1)}, "over 256 KiB"),
])
def test_test_files_that_cannot_run_are_the_students_error(tests, message):
    with pytest.raises(TestsError, match=message):
        run_tests(get_backend("bwrap"), tests, "textutils", {"reference": REFERENCE})


@pytest.mark.parametrize("module", ["text-utils", "test_textutils", "", "os.path"])
def test_a_module_name_that_cannot_be_imported_is_the_labs_mistake(module):
    with pytest.raises(ValueError) as caught:
        run_tests(get_backend("bwrap"), student(GOOD), module, {"reference": REFERENCE})
    assert not isinstance(caught.value, TestsError)


class Unopenable:
    name = identity = "unopenable"
    sandboxed = True

    def open(self, files, socket_dir, limits, services=()):
        raise OSError("no sandbox here today")


def test_a_sandbox_that_does_not_open_is_the_kits_error():
    with pytest.raises(KitError, match="no sandbox here today"):
        run_tests(Unopenable(), student(GOOD), "textutils", {"reference": REFERENCE})


def test_no_backend_means_the_default_sandbox_here():
    """check() in a student's kernel has no grader's kernel to take a backend from."""
    assert statuses(run_tests(None, student(GOOD), "textutils", {"reference": REFERENCE})) == {"reference": "passed"}
