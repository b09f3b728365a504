"""Inline SVG charts for the review's overview: drawn on the server, no script, no library.

Every number drawn is computed here from grades; the only text is numbers and the fixed
labels, so nothing of a submission reaches the SVG unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

BINS = 10  # of ten percentage points each; a full score falls in the last
WIDTH, HEIGHT, BAR_GAP, TOP = 420, 140, 4, 14  # TOP: room for the tallest bar's count


def histogram(percents: Sequence[float]) -> list[int]:
    """How many scores fall in each tenth of the maximum."""
    counts = [0] * BINS
    for percent in percents:
        counts[min(BINS - 1, max(0, int(percent // (100 / BINS))))] += 1
    return counts


def distribution_svg(percents: Sequence[float], label: str) -> str:
    """A bar chart of the scores' distribution (percent of the maximum), with its counts."""
    counts = histogram(percents)
    tallest = max(counts) or 1
    bar = WIDTH / BINS
    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(label)}" width="{WIDTH}" '
             f'height="{TOP + HEIGHT + 30}" viewBox="0 {-TOP} {WIDTH} {TOP + HEIGHT + 30}" '
             'xmlns="http://www.w3.org/2000/svg">']
    for index, count in enumerate(counts):
        height = round(HEIGHT * count / tallest)
        x = round(index * bar + BAR_GAP / 2, 1)
        parts.append(f'<rect x="{x}" y="{HEIGHT - height}" width="{bar - BAR_GAP:.1f}" height="{height}" '
                     f'fill="#4a6fa5"><title>{index * 10}-{index * 10 + 10}%: {count}</title></rect>')
        if count:
            parts.append(f'<text x="{x + (bar - BAR_GAP) / 2:.1f}" y="{HEIGHT - height - 2}" font-size="11" '
                         f'text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{x + (bar - BAR_GAP) / 2:.1f}" y="{HEIGHT + 14}" font-size="10" '
                     f'text-anchor="middle">{index * 10}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT + 28}" font-size="10" text-anchor="middle">'
                 "score, % of the maximum</text></svg>")
    return "".join(parts)


def rate_bar(rate: float) -> str:
    """A small horizontal bar for a pass rate (0 to 1)."""
    width = round(100 * min(1.0, max(0.0, rate)))
    color = "#b00020" if rate == 0 else "#176117" if rate == 1 else "#e0a800"
    return (f'<svg width="100" height="10" xmlns="http://www.w3.org/2000/svg"><rect width="100" height="10" '
            f'fill="#eee"/><rect width="{width}" height="10" fill="{color}"/></svg>')
