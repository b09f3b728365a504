"""The hostile suite: one batch of honest and hostile submissions, graded by the CLI.

Every attack is paired with correct answers that it would spoil if it worked
(a notebook that manages to read a hidden test answers wrongly, so its full
score proves it could not), or with wrong answers it would need to hide. The
batch runs once; each test below checks one row, or what the batch left behind.
"""

from __future__ import annotations

import csv
import json
import socket
import threading
from pathlib import Path

import pytest

from conftest import (BACKENDS, LAB, copy_course, empty_cgroups, grader_cgroups, kernel_containers,
                      leftover_processes, notebook, run_grade, solution_cells, write_notebook)

FULL = 22
SECRET = "grader-secret-value-7d1f"
LIMITS = {"cell_timeout": 3, "timeout": 30, "memory": 300}


def spoil_if(condition: str) -> str:
    """A cell that breaks every answer when ``condition`` holds inside the sandbox."""
    return f"if {condition}:\n    square = mean = word_counts = standardize = None"


def attacks(course: Path, out: Path, port: int) -> dict[str, list[str]]:
    """Student name -> code cells run before (or instead of) the answers."""
    hidden = course / "solutions" / LAB / "tests" / "test_hidden.py"
    return {
        "net_host": [
            "import socket\nreached = []\nfor addr in [('127.0.0.1', %d), ('1.1.1.1', 80), ('8.8.8.8', 53)]:\n"
            "    try:\n        socket.create_connection(addr, timeout=1).close(); reached.append(addr)\n"
            "    except OSError:\n        pass" % port,
            spoil_if("reached"),
        ],
        "read_hidden": [
            "import glob, os\nleak = []\nfor p in [%r] + glob.glob('/*/*/solutions/*/tests/*.py') "
            "+ glob.glob('/tmp/**/test_hidden.py', recursive=True):\n"
            "    try:\n        leak.append(open(p).read())\n    except OSError:\n        pass" % str(hidden),
            spoil_if("leak"),
        ],
        "read_env": [
            "import os, glob\nseen = [k for k, v in os.environ.items() if %r in v]\n"
            "for p in glob.glob('/proc/*/environ'):\n    try:\n        seen += [p] if %r in open(p).read() else []\n"
            "    except OSError:\n        pass" % (SECRET, SECRET),
            spoil_if("seen"),
        ],
        "read_others": [
            "import os\ntry:\n    other = open(%r).read()\nexcept OSError:\n    other = ''"
            % str(course / "submissions" / "honest.ipynb"),
            spoil_if("other"),
        ],
        "forge_files": [
            "import json, os\nfor p in [%r, %r, 'grades/gradebook.csv', '../grades/forge_files/00-warmup.json']:\n"
            "    try:\n        os.makedirs(os.path.dirname(p) or '.', exist_ok=True)\n"
            "        open(p, 'w').write(json.dumps({'score': 999, 'tests': []}))\n    except OSError:\n        pass"
            % (str(out / "forge_files" / f"{LAB}.json"), str(out / "gradebook.csv")),
        ],
        "print_json": [
            "import json\nprint(json.dumps({'score': 22, 'max_score': 22, 'status': 'graded', 'tests': []}))\n"
            "print('student,lab,score\\nprint_json,00-warmup,22')",
        ],
        "monkeypatch": [
            "import builtins, sys\nip = get_ipython()\n"
            "ip.input_transformers_cleanup.append(lambda lines: [l.replace('assert', 'pass #') for l in lines])\n"
            "builtins.AssertionError = type('Nope', (Exception,), {})\nsys.modules['pytest'] = None\n"
            "def square(x):\n    return -1",
        ],
        "always_equal": [
            "class AlwaysEqual:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
            "    def __len__(self): return 3\n"
            "class SneakyInt(int):\n    def __eq__(self, other): return True\n"
            "square = lambda x: SneakyInt(1)\nmean = word_counts = standardize = lambda *a: AlwaysEqual()",
        ],
        "socket_fill": [
            "import os\nfrom ipykernel.connect import get_connection_file\nfolder = os.path.dirname(get_connection_file())\n"
            "written = []\nfor name in ['fill', 'kernel.json']:\n    try:\n"
            "        with open(os.path.join(folder, name), 'ab') as f:\n            f.write(b'x' * 2**20)\n"
            "        written.append(name)\n    except OSError:\n        pass",
            spoil_if("written"),
        ],
        "sys_exit": ["import sys\nsys.exit(0)"],
        "os_exit": ["import os\nos._exit(0)"],
        "infinite_loop": ["while True:\n    pass"],
        "ignore_signals": ["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                           "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"],
        "memory_bomb": ["hog = []\nwhile True:\n    hog.append(bytearray(64 * 2**20))"],
        "fork_bomb": ["import os, time\nroot = os.getpid()\nfor _ in range(100000):\n    try:\n        os.fork()\n"
                      "    except OSError:\n        break\n"
                      "if os.getpid() != root:\n    time.sleep(3600)\n    os._exit(0)"],
        "disk_fill": ["import os\nfor d in ['.', '/tmp', '/dev/shm']:\n    try:\n"
                      "        with open(os.path.join(d, 'fill'), 'wb') as f:\n"
                      "            while True:\n                f.write(b'x' * 2**20)\n    except OSError as e:\n"
                      "        print(d, e)"],
        "output_flood": ["for _ in range(100):\n    print('x' * 2**20, flush=True)"],
        "daemon": ["import subprocess, os\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\n"
                   "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                   "        import time; time.sleep(600)\n    os._exit(0)"],
    }


EXPECTED = {
    # student: (status, score)
    "honest": ("graded", FULL),
    "blank": ("graded", 0),
    "net_host": ("graded", FULL),
    "read_hidden": ("graded", FULL),
    "read_env": ("graded", FULL),
    "read_others": ("graded", FULL),
    "forge_files": ("graded", 0),
    "print_json": ("graded", 0),
    "monkeypatch": ("graded", 0),
    "always_equal": ("graded", 0),
    "sys_exit": ("graded", FULL),
    "os_exit": ("crashed", 0),
    "infinite_loop": ("graded", FULL),
    "ignore_signals": ("timeout", 0),
    "memory_bomb": ("memory", 0),
    "fork_bomb": ("graded", FULL),
    "disk_fill": ("graded", FULL),
    "output_flood": ("graded", FULL),
    "daemon": ("graded", FULL),
    "corrupt": ("invalid", 0),
    "empty": ("invalid", 0),
    "linked": ("invalid", 0),
    "=cmd|' -C calc'!A0": ("graded", FULL),
    "socket_fill": ("graded", FULL),
    "gradebook.csv": ("graded", FULL),  # named as the grader's own files
    "history.sqlite": ("graded", FULL),
    "GRADEBOOK.CSV": ("graded", FULL),
}
WRONG_ANSWERS = {"forge_files", "print_json", "monkeypatch", "always_equal", "blank"}


class Listener:
    """A TCP server on the host's loopback that counts who connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def build_submissions(course: Path, out: Path, port: int) -> None:
    subs = course / "submissions"
    answers = solution_cells()
    for student, cells in attacks(course, out, port).items():
        tail = [] if student in WRONG_ANSWERS else answers
        write_notebook(subs / f"{student}.ipynb", notebook(*answers[:1], *cells, *tail))
    write_notebook(subs / "honest.ipynb", notebook(*answers))
    write_notebook(subs / "=cmd|' -C calc'!A0.ipynb", notebook(*answers))
    for own in ("gradebook.csv", "history.sqlite", "GRADEBOOK.CSV"):
        write_notebook(subs / f"{own}.ipynb", notebook(*answers))
    write_notebook(subs / "blank.ipynb", notebook("import numpy as np"))
    (subs / "corrupt.ipynb").write_text('{"cells": [ not json')
    (subs / "empty.ipynb").write_bytes(b"")
    (subs / "linked.ipynb").symlink_to(course / "solutions" / LAB / "solution.ipynb")


@pytest.fixture(scope="module", params=BACKENDS)
def batch(request, tmp_path_factory):
    """Grade the hostile batch once per backend; return what the grader wrote and what it left."""
    root = tmp_path_factory.mktemp(f"hostile-{request.param}")
    course = copy_course(root / "course", **LIMITS)
    out, scratch = root / "grades", root / "tmp"
    scratch.mkdir()
    listener = Listener()
    cgroups_before = grader_cgroups()
    try:
        build_submissions(course, out, listener.port)
        proc = run_grade("submissions", "--out", str(out), "-j", "2", "--backend", request.param, cwd=course,
                         env={"GRADER_TEST_SECRET": SECRET, "TMPDIR": str(scratch)})
    finally:
        listener.close()
    with open(out / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"proc": proc, "rows": rows, "out": out, "scratch": scratch, "listener": listener,
            "processes": leftover_processes(scratch), "cgroups": empty_cgroups(grader_cgroups() - cgroups_before),
            "containers": kernel_containers()}


def row(batch, student: str) -> dict:
    matches = [r for r in batch["rows"] if r["student"].lstrip("'") == student]
    assert len(matches) == 1, f"{student}: {len(matches)} rows"
    return matches[0]


def test_batch_exits_zero_with_a_row_per_submission(batch):
    assert batch["proc"].returncode == 0, batch["proc"].stderr[-3000:]
    assert len(batch["rows"]) == len(EXPECTED)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_status_and_score(batch, student):
    status, score = EXPECTED[student]
    r = row(batch, student)
    assert (r["status"], float(r["score"]), float(r["max_score"])) == (status, score, FULL), r


def test_no_connection_reached_the_host(batch):
    assert batch["listener"].connections == 0


def test_forged_files_are_overwritten_by_real_results(batch):
    data = json.loads((batch["out"] / "forge_files" / f"{LAB}.json").read_text())
    assert data["score"] == 0 and data["status"] == "graded" and len(data["tests"]) == 12


def test_output_flood_is_capped(batch):
    data = json.loads((batch["out"] / "output_flood" / f"{LAB}.json").read_text())
    assert "truncated" in data["output"]
    kept = sum(p.stat().st_size for p in (batch["out"] / "output_flood").iterdir())
    assert kept < 4_000_000  # results, executed notebook and feedback page, of 100 MB printed


def test_formula_injection_is_defused(batch):
    text = (batch["out"] / "gradebook.csv").read_text()
    assert "\n=cmd" not in text and "'=cmd" in text


def test_hidden_tests_do_not_leak_into_results(batch):
    hidden_source = (batch["out"].parent / "course" / "solutions" / LAB / "tests" / "test_hidden.py").read_text()
    secret_lines = [line.strip() for line in hidden_source.splitlines() if line.strip().startswith("assert")]
    for path in batch["out"].rglob("*.json"):
        text = path.read_text()
        assert not any(line in text for line in secret_lines), path


def test_nothing_left_running_or_on_disk(batch):
    assert batch["processes"] == []
    assert batch["cgroups"] == []
    assert batch["containers"] == []
    assert list(batch["scratch"].iterdir()) == []
