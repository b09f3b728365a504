"""A batch's results, kept in memory until its end at a cost that hardly grows with the batch.

``grade`` keeps every result of a batch for the summary table, the gradebook and the CI
reports, and each result arrives as a fresh object (unpickled from its worker, or read
from its file), with a fresh object for each of its tests. Most tests end alike across
students (``q1: square(3) is 9`` passed, 1 of 1 points), so each distinct test outcome is
kept once and shared by every result that has it: about 0.8 KiB per result instead of
about 6 KiB for the example lab's twelve tests, which kept the grader's own peak at 1,000
submissions within 10 % of its peak at 100 (benchmarks/scale.py).

Results are read, never changed, once the batch has them (their files are written by then),
so sharing a test between two of them is safe.
"""

from __future__ import annotations

from dataclasses import astuple

from grader.results.model import Result, TestResult


class SharedTests:
    """One object per distinct test outcome seen in this batch."""

    def __init__(self) -> None:
        self._seen: dict[tuple, TestResult] = {}

    def share(self, result: Result) -> Result:
        """``result``, its tests replaced by the equal ones already kept (the same values, every field)."""
        result.tests = [self._seen.setdefault(astuple(test), test) for test in result.tests]
        return result
