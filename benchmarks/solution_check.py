"""What grading each lab's solution first costs a batch: cold (the solution graded), warm (the
pass recalled from the cache) and skipped, same run, same submissions.

``grade`` grades the solution of every lab in a batch before any student, and remembers a
pass by the fingerprint of the lab and the grader. This benchmark runs one batch three ways
on a copy of a course, with a cache folder of its own and ``--force`` so that no student's
result is reused: with an empty cache, with the cache the first run filled, and with
``--skip-solution-check`` (the baseline). It prints each wall time and its ratio to the
baseline. The scores of the three runs must agree, or it exits 1.

Run from the repository root (default: the example course's honest submissions)::

    .venv/bin/python benchmarks/solution_check.py [--lab 02-ml-basics]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "course"
HONEST = ("alice", "bob", "carol", "dave")


def course_copy(root: Path, lab: str | None) -> tuple[Path, list[Path]]:
    """A course to grade and its submissions: the example's honest ones, or for ``lab`` this
    repository's course with its untouched lab and its solution handed in as two students."""
    course = root / "course"
    source = EXAMPLE if lab is None else REPO
    for part in ("labs", "solutions"):
        shutil.copytree(source / part, course / part, ignore=shutil.ignore_patterns("__pycache__"))
    subs = course / "submissions"
    subs.mkdir()
    if lab is None:
        for name in HONEST:
            shutil.copy(EXAMPLE / "submissions" / f"{name}.ipynb", subs)
    else:
        shutil.copy(course / "labs" / lab / "lab.ipynb", subs / "untouched.ipynb")
        shutil.copy(REPO / "tests" / "labs" / lab / "solution.ipynb", subs / "solved.ipynb")
    return course, sorted(subs.iterdir())


def run(course: Path, cache: Path, *extra: str) -> tuple[float, dict[str, str]]:
    """Wall seconds of one ``grade`` batch, and each student's score."""
    out = course / "grades"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "submissions", "--out", str(out), "--force", *extra],
                          cwd=course, capture_output=True, text=True,
                          env={**os.environ, "GRADER_CACHE_DIR": str(cache)})
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"grade failed ({proc.returncode}): {proc.stderr[-2000:]}")
    with open(out / "gradebook.csv", encoding="utf-8") as f:
        return seconds, {row["student"]: row["score"] for row in csv.DictReader(f)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", help="one of this repository's labs instead of the example course")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course, subs = course_copy(Path(tmp), args.lab)
        cache = Path(tmp) / "cache"
        cold, cold_scores = run(course, cache)
        warm, warm_scores = run(course, cache)
        base, base_scores = run(course, cache, "--skip-solution-check")
    if not cold_scores == warm_scores == base_scores:
        print(f"the runs grade differently: {cold_scores} {warm_scores} {base_scores}", file=sys.stderr)
        return 1
    print(f"{len(subs)} submissions of {args.lab or 'the example course'}, scores {base_scores}")
    for name, seconds in (("skipped (baseline)", base), ("cold cache", cold), ("warm cache", warm)):
        print(f"{name:20} {seconds:7.2f} s   {seconds / base:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
