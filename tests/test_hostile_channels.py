"""Floods on every kernel channel, in every phase: each costs only the flooding cell.

One batch per backend, graded by the CLI inside a memory cgroup of the test's own,
so that the grader's peak memory is measured, not guessed. Each submission floods
one channel with one kind of message (generated: kind x phase x size), then answers.
The answers are worth full marks only if the flood cost nothing but its own cell's
output: a later cell prints a value that a hidden test reads, and the tests call
functions that flood again while they answer.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import BACKENDS, LAB, copy_course, notebook, run_grade, solution_cells, wait_for, write_notebook

MiB = 2**20
FULL = 22 + 1  # the example lab, plus the printed-answer test added here
PEAK_LIMIT = 1536 * MiB
FILE_LIMIT = 32 * MiB

# Defined in the notebook's first cell: ``flood(kind, total)`` sends ``total`` bytes of one
# kind of message on one channel, as a hostile kernel can (it holds the session key).
HELPER = r'''
from IPython.display import display
_k = get_ipython().kernel

def _send(stream, msg_type, content, ident=None, buffers=None):
    _k.session.send(stream, msg_type, content, parent=_k.get_parent("shell"), ident=ident, buffers=buffers)

def _raw(content_frame):
    parts = [_k.session.pack(_k.session.msg_header("stream")), _k.session.pack(_k.get_parent("shell")["header"]),
             b"{}", content_frame]
    _k.iopub_socket.send_multipart([b"<IDS|MSG>", _k.session.sign(parts)] + parts)

def flood(kind, total, piece=2**20):
    ident = _k._parent_ident["shell"]
    handle = display("x", display_id=True) if kind == "update" else None
    for i in range(max(1, total // piece)):
        text = chr(97 + i % 26) * piece
        if kind == "stdout":
            print(text, flush=True)
        elif kind == "stderr":
            import sys; print(text, file=sys.stderr, flush=True)
        elif kind == "display":
            display({"text/plain": text}, raw=True)
        elif kind == "result":
            _send(_k.iopub_socket, "execute_result", {"data": {"text/plain": text}, "metadata": {}, "execution_count": 1})
        elif kind == "update":
            handle.update(text)
        elif kind == "metadata":
            display({"text/plain": "m"}, metadata={"m": text}, raw=True)
        elif kind == "evalue":
            _send(_k.iopub_socket, "error", {"ename": "E", "evalue": text, "traceback": []})
        elif kind == "traceback":
            _send(_k.iopub_socket, "error", {"ename": "E", "evalue": "", "traceback": [text[:1000]] * (piece // 1000)})
        elif kind == "widget":
            _send(_k.iopub_socket, "comm_open", {"comm_id": f"c{i}", "target_name": "jupyter.widget",
                                                 "data": {"state": {"value": text}}})
        elif kind == "buffers":
            _send(_k.iopub_socket, "comm_msg", {"comm_id": "c", "data": {"state": {}, "buffer_paths": [["b"]]}},
                  buffers=[text.encode()])
        elif kind == "stdin":
            _send(_k.stdin_socket, "input_request", {"prompt": text, "password": False}, ident=ident)
        elif kind == "shell":
            _send(_k.shell_stream, "execute_reply", {"status": "ok", "pad": text}, ident=ident)
        elif kind == "control":
            _send(_k.control_stream, "kernel_info_reply", {"pad": text}, ident=ident)
        elif kind == "oversized" and i < 3:  # frames over the grader's bound: each drops the connection
            print(text * 40, flush=True)
        elif kind == "deep":
            _raw(b"[" * 200_000 + b"]" * 200_000)
        elif kind == "malformed":
            _raw([b"[1, 2]", b'{"name": 5, "text": []}', b'{"data": {"text/plain": 7}}', b"not json"][i % 4])
'''

KINDS = ["stdout", "stderr", "display", "result", "update", "metadata", "evalue", "traceback", "widget",
         "buffers", "stdin", "shell", "control", "oversized", "deep", "malformed"]
SIZES = {"small": 2 * MiB, "huge": 120 * MiB}
TEST_PHASE_KINDS = ["stdout", "display", "widget", "stdin", "shell", "oversized", "deep"]
PRINTED_TEST = '''
def test_printed_answer(nb):
    """the answer cell printed its value"""
    assert nb.cell("answer").text == "answer: 42\\n"
'''


def execution_phase(kind: str, size: str) -> list[str]:
    """A flood in a cell of its own, before the answers."""
    return [HELPER, f"flood({kind!r}, {SIZES[size]})"]


def during_tests(kind: str) -> list[str]:
    """Functions that flood while the tests call them, and still answer."""
    return [HELPER, f"_square = square\ndef square(x):\n    flood({kind!r}, {SIZES['small']})\n    return _square(x)"]


def submissions() -> dict[str, list[str]]:
    """Student name -> the hostile cells; answers and the printed answer follow them."""
    subs = {f"exec-{kind}-{size}": execution_phase(kind, size) for kind in KINDS for size in SIZES}
    subs.update({f"test-{kind}": during_tests(kind) for kind in TEST_PHASE_KINDS})
    subs["many-cells"] = [HELPER] + [f"flood('stdout', {4 * MiB})"] * 12
    subs["exec-big-source"] = ["#" + "s" * 999_999] * 36  # 36 MB of code: no output, yet over the file bound
    return subs


def build(course: Path) -> list[str]:
    (course / "solutions" / LAB / "tests" / "test_printed.py").write_text(PRINTED_TEST)
    answers = solution_cells()
    for student, cells in submissions().items():
        before, after = (cells, []) if student.startswith("exec") or student == "many-cells" else ([], cells)
        write_notebook(course / "submissions" / f"{student}.ipynb", _with_answers(before, answers, after))
    write_notebook(course / "submissions" / "honest.ipynb", _with_answers([], answers, []))
    return [*submissions(), "honest"]


def _with_answers(before: list[str], answers: list[str], after: list[str]):
    cells = [*before, *answers, *after, "print('answer:', 42)"]
    return notebook(*cells, tags={len(cells) - 1: ["answer"]})


class MemoryCgroup:
    """A cgroup v1 memory group of the test's own around the grader: its peak usage is the
    grader's peak, kernels excluded (each sandbox moves its kernel to a group of its own)."""

    def __init__(self, name: str):
        self.path = Path("/sys/fs/cgroup/memory") / name

    def __enter__(self) -> MemoryCgroup:
        self.path.mkdir()
        return self

    def prefix(self) -> list[str]:
        """A command line prefix that joins the group before it runs the rest."""
        return ["/bin/sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$0" "$@"']

    @property
    def peak(self) -> int:
        return int((self.path / "memory.max_usage_in_bytes").read_text())

    def __exit__(self, *exc) -> None:
        """Remove the group once the grader's last process (its forkserver) has left it."""
        wait_for(lambda: not (self.path / "cgroup.procs").read_text().strip(), 30)
        self.path.rmdir()


def _cgroup_v1_memory() -> bool:
    return os.geteuid() == 0 and Path("/sys/fs/cgroup/memory/memory.max_usage_in_bytes").exists()


@pytest.fixture(scope="module", params=BACKENDS)
def batch(request, tmp_path_factory):
    if not _cgroup_v1_memory():
        pytest.fail("these tests measure the grader in a memory cgroup: run them as root on cgroup v1")
    root = tmp_path_factory.mktemp(f"floods-{request.param}")
    course = copy_course(root / "course", cell_timeout=20, timeout=120, memory=1024)
    students = build(course)
    out, scratch = root / "grades", root / "tmp"
    scratch.mkdir()
    free_before = shutil.disk_usage(scratch).free
    with MemoryCgroup(f"testgrader-{os.getpid()}-{request.param}") as group:
        # test_printed.py reads a cell every submission here adds and the warm-up's solution lacks
        proc = run_grade("submissions", "--out", str(out), "-j", "2", "--backend", request.param,
                         "--skip-solution-check", cwd=course,
                         env={"TMPDIR": str(scratch)}, timeout=1500, prefix=group.prefix())
        peak = group.peak
    with open(out / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return {"proc": proc, "rows": rows, "students": students, "out": out, "scratch": scratch, "peak": peak,
            "disk_lost": free_before - shutil.disk_usage(scratch).free}


def test_exits_zero_with_a_row_each(batch):
    assert batch["proc"].returncode == 0, batch["proc"].stderr[-3000:]
    assert sorted(batch["rows"]) == sorted(batch["students"])


@pytest.mark.parametrize("student", [*submissions(), "honest"])
def test_a_flood_costs_only_its_own_cell(batch, student):
    r = batch["rows"][student]
    assert (r["status"], float(r["score"]), float(r["max_score"])) == ("graded", FULL, FULL), r


@pytest.mark.parametrize("kind", ["stdout", "stderr", "display", "result", "update", "metadata", "evalue",
                                  "traceback"])
def test_a_flood_of_kept_output_is_marked_truncated(batch, kind):
    data = json.loads((batch["out"] / f"exec-{kind}-huge" / f"{LAB}.json").read_text())
    assert "truncated" in data["output"]


def test_grader_peak_memory_is_bounded(batch):
    assert batch["peak"] < PEAK_LIMIT, f"peak {batch['peak'] / MiB:.0f} MiB"


def test_no_file_written_over_the_limit(batch):
    sizes = {p: p.stat().st_size for p in batch["out"].rglob("*") if p.is_file()}
    assert max(sizes.values()) < FILE_LIMIT, max(sizes.items(), key=lambda kv: kv[1])


def test_no_host_disk_is_lost(batch):
    assert list(batch["scratch"].iterdir()) == []
    grades = sum(p.stat().st_size for p in batch["out"].rglob("*") if p.is_file())
    assert batch["disk_lost"] < grades + 256 * MiB  # the grades written, and the machine's own noise
