"""A batch keeps each distinct test outcome once (grader.results.compact), and every result still
reads exactly as it arrived. Checked over a generated family of results: tests that pass, fail
with each student's own output, are hidden or not, belong to an exercise or not."""

from __future__ import annotations

import itertools
import pickle
import random
from dataclasses import astuple

from grader.results.compact import SharedTests
from grader.results.model import Result, TestResult

NAMES = ("q1: square(3) is 9", "q2: mean of floats", "q3: word_counts", "hidden one")


def generated(count: int, seed: int) -> list[Result]:
    """``count`` results, each a fresh set of objects as an unpickled worker's result is."""
    rng = random.Random(seed)
    results = []
    for i in range(count):
        tests = []
        for j, name in enumerate(NAMES):
            passed = rng.random() < 0.7
            output = "" if passed else rng.choice(["assert 4 == 9", f"assert {i} == 9", "NameError: square"])
            tests.append(TestResult(name, float(passed) * (j + 1), float(j + 1), "passed" if passed else "failed",
                                    output, hidden=name.startswith("hidden"), exercise=f"q{j + 1}" if j < 3 else ""))
        results.append(pickle.loads(pickle.dumps(Result(f"s{i}", "lab", "graded", tests))))
    return results


def test_results_read_as_they_arrived_and_equal_outcomes_are_one_object():
    for count, seed in itertools.product((1, 2, 10, 200), range(3)):
        results = generated(count, seed)
        before = [r.to_json() for r in results]
        shared = SharedTests()
        kept = [shared.share(r) for r in results]
        assert [r.to_json() for r in kept] == before
        tests = [t for r in kept for t in r.tests]
        assert len({id(t) for t in tests}) == len({astuple(t) for t in tests})
        assert count < 200 or len({id(t) for t in tests}) < len(tests) / 4
