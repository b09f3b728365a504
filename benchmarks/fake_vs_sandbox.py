"""How much faster the unit layer's fake kernel grades than the real sandbox, same run, same notebooks.

The fake (tests/fakes.py) is what runner and batch unit tests run on; the real
sandboxed kernel is the acceptance layer. Both grade the example course's honest
submissions (alice, bob, carol, dave) with ``runner.grade`` in this process,
``--repeats`` times each; the ratio is the sandbox's wall time over the fake's.
Before any number is printed the two must give every submission the same
score: a fake that grades differently is no stand-in, and the run exits 1.

Run from the repository root::

    .venv/bin/python benchmarks/fake_vs_sandbox.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes import fake_grade  # noqa: E402 - the tests' folder is not a package

from grader.course.discover import discover  # noqa: E402
from grader.course.layout import Course  # noqa: E402
from grader.runner import Job, grade  # noqa: E402

COURSE = REPO / "examples" / "course"
STUDENTS = ("alice", "bob", "carol", "dave")


def timed(grade_one, jobs: list[Job], repeats: int) -> tuple[float, dict[str, float]]:
    """Seconds for every job ``repeats`` times, and each student's score."""
    scores: dict[str, float] = {}
    started = time.perf_counter()
    for _ in range(repeats):
        for job in jobs:
            scores[job.submission.student] = grade_one(job).score
    return time.perf_counter() - started, scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    course = Course(COURSE)
    subs = discover([COURSE / "submissions" / f"{s}.ipynb" for s in STUDENTS], course.lab_ids())
    jobs = [Job(sub, course.root, "bwrap") for sub in subs]
    fake_seconds, fake_scores = timed(fake_grade, jobs, args.repeats)
    real_seconds, real_scores = timed(grade, jobs, args.repeats)
    if fake_scores != real_scores:
        print(f"the fake grades differently: {fake_scores} != {real_scores}", file=sys.stderr)
        return 1
    count = len(jobs) * args.repeats
    print(f"{count} gradings of {len(jobs)} notebooks, scores {real_scores}")
    print(f"fake kernel:    {fake_seconds / count * 1000:8.1f} ms per notebook")
    print(f"bwrap sandbox:  {real_seconds / count * 1000:8.1f} ms per notebook")
    print(f"ratio sandbox / fake: {real_seconds / fake_seconds:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
