"""What a lab's deadline costs a batch: each submission's time, against finding the submissions.

A folder of N students' notebooks (the example course's alice.ipynb under every name) is
committed to a git repository in ``--commits`` commits, as an instructor who collects
hand-ins into a repository would. Then, each ``--repeat`` times, the best kept:

- discover: finding the submissions and reading their lab (what every ``grade`` run pays);
- commit times: every submission's time from the repository (grader.course.submitted: one
  ``git rev-parse``, one ``git status`` and one ``git log`` walk for the whole batch);
- file times: the same folder outside any repository (the last resort: an lstat each);
- export: the same times from an LMS export CSV of N rows (reading it included).

Run from the repository root::

    .venv/bin/python benchmarks/submission_times.py [--students 500] [--commits 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table
from timing import best

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.course.discover import discover  # noqa: E402
from grader.course.submitted import SubmissionTimes, read_export  # noqa: E402

NOTEBOOK = REPO / "examples" / "course" / "submissions" / "alice.ipynb"
LAB = "00-warmup"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=b@example.org", *args], cwd=root,
                   check=True, capture_output=True)


def class_folder(root: Path, students: int, commits: int) -> Path:
    """``root/submissions`` with a notebook per student, committed in ``commits`` batches."""
    folder = root / "submissions"
    folder.mkdir(parents=True)
    git(root, "init", "-q")
    for batch in range(commits):
        for i in range(batch, students, commits):
            shutil.copy(NOTEBOOK, folder / f"s{i:04}.ipynb")
        git(root, "add", "submissions")
        git(root, "commit", "-q", "-m", f"hand-ins {batch}")
    return folder


def times_of(times: SubmissionTimes, subs: list) -> list:
    """Every submission's time, from one SubmissionTimes: one per batch, as ``grade`` makes it."""
    return [times.of(sub) for sub in subs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=500)
    p.add_argument("--commits", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = class_folder(Path(tmp) / "course", args.students, args.commits)
        loose = Path(tmp) / "loose"
        shutil.copytree(folder, loose)
        subs = discover([folder], [LAB], LAB)
        outside = discover([loose], [LAB], LAB)
        export = Path(tmp) / "export.csv"
        export.write_text("student,submitted_at\n" + "".join(f"{s.student},2026-03-01T12:00:00Z\n" for s in subs))
        rows = [("discover", best(lambda: discover([folder], [LAB], LAB), args.repeat)),
                ("commit times", best(lambda: times_of(SubmissionTimes([folder]), subs), args.repeat)),
                ("file times", best(lambda: times_of(SubmissionTimes([loose]), outside), args.repeat)),
                ("export", best(lambda: times_of(SubmissionTimes([folder], read_export(export)), subs),
                                args.repeat))]
        assert {SubmissionTimes([folder]).of(s).source for s in subs} == {"commit"}
    table = Table(title=f"Submission times of {args.students} notebooks ({args.commits} commits), "
                        f"best of {args.repeat} (cpus: {os.cpu_count()})")
    for column in ("step", "seconds", "× discover"):
        table.add_column(column, justify="right")
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.3f}", f"{seconds / rows[0][1]:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
