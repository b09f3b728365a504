"""``check("q1")`` inside a student's notebook: the public tests of one exercise, now.

This runs on the student's own machine, in their own kernel, against the
values their kernel holds right now: it is feedback, never a grade (grades
come only from ``grade``, which runs tests outside the kernel). Values still
pass through the codec, so a test sees the same plain values it will see
when graded. Inside the grader's sandbox ``check`` does nothing, and this
module imports nothing heavy, so the lab's first cell stays fast there.
"""

from __future__ import annotations

import os
from pathlib import Path


def check(select: str, tests: str | os.PathLike | None = None) -> None:
    """Run the public tests whose names match ``select`` against this kernel and print the results.

    ``tests`` defaults to ``tests/`` of a lab folder, or ``public_tests/`` when the notebook
    runs in a solution folder (whose ``tests/`` are the hidden ones)."""
    if os.environ.get("GRADER_SANDBOX") == "1":
        print(f"check({select!r}): skipped while grading")
        return
    from IPython import get_ipython

    from grader.testing.live import LiveNotebook
    from grader.testing.plugin import GradingPlugin, run_tests

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("check() runs inside a Jupyter notebook")
    folder = Path(tests or ("public_tests" if Path("public_tests").is_dir() else "tests")).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"no public tests at {folder}: open the notebook from its lab folder")
    plugin = GradingPlugin(LiveNotebook(shell.user_ns), None)
    run_tests([folder], plugin, folder.parent, select)
    outcomes = list(plugin.outcomes.values())
    if not outcomes:
        print(f"check({select!r}): no public test matches")
    for o in outcomes:
        print(("PASS " if o.passed else "FAIL ") + o.name + ("" if o.passed else f"\n     {o.output}"))
    passed = sum(o.passed for o in outcomes)
    print(f"{passed} passed, {len(outcomes) - passed} failed")
