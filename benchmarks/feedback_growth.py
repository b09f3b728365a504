"""How the feedback page's filters grow on hostile text, against nbconvert's own in the same run.

Each filter the page uses (markdown, code highlighting, the HTML sanitiser, ANSI colours)
runs on every pathological family of ``tests/test_feedback_limits.py`` at its bound per
cell or output and at an eighth of it. A linear filter takes about eight times as long; a
quadratic one sixty-four. The baseline is nbconvert's files-prefix filter (which the page
replaced) on a run of link openers. Then a whole page past every bound, and twice that:
past the page's shares, more input is cut, not rendered.

Run from the repository root::

    .venv/bin/python benchmarks/feedback_growth.py
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_feedback_limits import FAMILIES, FILTERS, SIZES, Family, hostile_notebook  # noqa: E402

from grader.report import feedback  # noqa: E402
from test_feedback import graded_result  # noqa: E402


def timed(function: Callable, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def growth(function: Callable[[str], str], family: Family, size: int) -> tuple[float, float]:
    """Seconds at ``size``, and how many times longer than at an eighth of it. Each size's
    best of three runs, taken in turn and without the garbage collector; a millisecond is
    added to each so that noise in tiny times does not count as growth."""
    texts = [family(size // 8), family(size)]
    gc.collect()
    gc.disable()
    try:
        runs = [[timed(function, text) for text in texts] for _ in range(3)]
    finally:
        gc.enable()
    small, large = (min(times) for times in zip(*runs, strict=True))
    return large, (large + 0.001) / (small + 0.001)


def page_seconds(scale: int) -> float:
    nb = nbformat.v4.new_notebook()
    for family in ("quoted lines", "asterisks", "html nesting", "ansi codes"):
        nb.cells += hostile_notebook(FAMILIES[family](scale * feedback.OUTPUT_CHARS), scale * 5).cells
    return min(timed(feedback.render, graded_result(), nb) for _ in range(2))


def main() -> int:
    from nbconvert.filters.strings import strip_files_prefix

    console = Console()
    rows = []
    with console.status("filters"):
        baseline = growth(strip_files_prefix, FAMILIES["link openers"], feedback.SOURCE_CHARS)
        for stage, function in FILTERS.items():
            worst = max(((family, *growth(function, FAMILIES[family], SIZES[stage])) for family in FAMILIES),
                        key=lambda row: row[2])
            rows.append((stage, *worst))
    table = Table(title="8x the input: how many times longer (linear about 8, quadratic about 64)")
    for column in ("filter", "worst family", "s at the bound", "growth", "vs nbconvert's"):
        table.add_column(column, justify="left" if column in ("filter", "worst family") else "right")
    table.add_row("nbconvert strip_files_prefix (baseline)", "link openers", f"{baseline[0]:.2f}",
                  f"{baseline[1]:.1f}x", "1.00")
    for stage, family, seconds, ratio in rows:
        table.add_row(stage, family, f"{seconds:.2f}", f"{ratio:.1f}x", f"{ratio / baseline[1]:.2f}")
    console.print(table)
    with console.status("pages"):
        small, large = page_seconds(1), page_seconds(2)
    console.print(f"page past every bound: {small:.2f} s; twice the notebook: {large:.2f} s ({large / small:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
