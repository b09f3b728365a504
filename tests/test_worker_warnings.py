"""A worker's Python warnings reach the terminal through the parent, once each, above the
progress bar: never written under it by the worker, whose stderr is the terminal's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from conftest import copy_course, notebook, solution_cells, write_notebook

from grader.batch.executors import WARNING_CHARS, LocalExecutor, WorkerWarning
from grader.course.discover import Submission
from grader.results.model import Result
from grader.runner import Job, Steps


def warning_task(job: Job, steps: Steps) -> None:
    """Warns from the main thread and from another one, the same words in every worker, and
    once more with a message far past the bound."""
    category = DeprecationWarning if job.submission.student == "a" else UserWarning
    warnings.warn("the same in every worker", category, stacklevel=1)
    thread = threading.Thread(target=lambda: warnings.warn(f"from a thread of {job.submission.student}", stacklevel=1))
    thread.start()
    thread.join()
    warnings.warn("long " + "x" * 50_000, RuntimeWarning, stacklevel=1)
    steps.deliver(Result(job.submission.student, "lab", "graded"))


def jobs(*names: str) -> list[Job]:
    return [Job(Submission(n, Path(f"{n}.ipynb"), lab="lab"), Path(".")) for n in names]


def test_workers_warnings_are_shown_by_the_parent_once_each_and_bounded():
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")  # as Python shows warnings: once per place and text
        results = [r for _, r in LocalExecutor(2, warning_task).run(jobs("a", "b", "c"))]
    assert sorted(r.student for r in results) == ["a", "b", "c"]
    texts = [str(w.message) for w in shown]
    assert all(w.category is WorkerWarning for w in shown)
    assert texts.count("UserWarning: the same in every worker") == 1  # b's and c's: shown once
    assert "DeprecationWarning: the same in every worker" not in texts  # the worker's filters hid it
    assert sorted(t for t in texts if "thread" in t) == [f"UserWarning: from a thread of {s}" for s in "abc"]
    long = [t for t in texts if t.startswith("RuntimeWarning: long")]
    assert len(long) == 1 and len(long[0]) <= WARNING_CHARS + len("RuntimeWarning: ")


def test_a_warning_after_the_pipe_is_closed_is_dropped_quietly():
    from grader.batch.executors import PipeSteps

    receiver, sender = __import__("multiprocessing").Pipe(duplex=False)
    steps = PipeSteps(sender)
    sender.close()
    steps.warning(UserWarning("late"), UserWarning, "x.py", 1)  # no exception: the job is over


def read_terminal(args: list[str], cwd: Path) -> str:
    """Run ``args`` on a pseudo-terminal, as an instructor's shell does; all it wrote."""
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("CI", None), env.pop("GITHUB_ACTIONS", None)
    proc = subprocess.Popen(args, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    chunks = []
    try:
        while chunk := _read(master):
            chunks.append(chunk)
    finally:
        os.close(master)
        proc.wait(timeout=60)
    return b"".join(chunks).decode(errors="replace")


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other side is closed
        return b""


@pytest.fixture
def no_ids(tmp_path: Path) -> Path:
    """A course and three notebooks without cell ids: nbformat warns in each worker."""
    course = copy_course(tmp_path / "course")
    for name in ("a", "b", "c"):
        path = write_notebook(course / "submissions" / f"{name}.ipynb", notebook(*solution_cells()))
        data = json.loads(path.read_text())
        for cell in data["cells"]:
            cell.pop("id", None)
        path.write_text(json.dumps(data))
    return course


def test_a_workers_warning_never_lands_on_the_progress_bar(no_ids):
    screen = read_terminal([sys.executable, "-m", "grader", "submissions", "-j", "2", "--skip-solution-check"],
                           no_ids)
    assert "Grades" in screen and "gradebook:" in screen, screen[-3000:]
    lines = re.split(r"[\r\n]", screen)  # what the terminal shows on one line between two returns
    warned = [line for line in lines if "MissingIDFieldWarning" in line]
    assert len(warned) == 1, warned  # three workers warned; shown once
    assert "grading" not in warned[0] and "━" not in warned[0], warned[0]
    assert "WorkerWarning" in warned[0]
