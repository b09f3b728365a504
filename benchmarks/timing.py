"""How the benchmarks time a piece of work: one way, so that their ratios compare like with like."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def durations(work: Callable[[], object], repeat: int) -> list[float]:
    """The seconds ``work`` took, once per repeat, by the monotonic performance counter."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def best(work: Callable[[], object], repeat: int) -> float:
    """The fastest run: the work's own cost, with the least of the machine's noise."""
    return min(durations(work, repeat))


def median(work: Callable[[], object], repeat: int) -> float:
    """The middle run: what the work usually costs, on a machine that is busy at times."""
    return statistics.median(durations(work, repeat))
