"""The similarity report: ``similarity.csv`` for a spreadsheet, ``similarity.html`` for a person.

The CSV holds every pair that shares a fingerprint, most similar first, in exactly the
columns ``student_a,student_b,score`` (student_a < student_b); a pair it does not list
scores 0. The page shows a summary table of the top pairs, the notebooks skipped and why,
then the top MAX_PAIRS pairs side by side: the cells holding shared fingerprints, with the
lines those fingerprints came from wrapped in ``<mark>``. Every text on it is a student's
and is escaped; names and cells are cut to bounds; the page forbids every script with the
feedback page's Content-Security-Policy, and has none of its own.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from grader.course.discover import shown
from grader.files import atomic_write
from grader.report.feedback import CSP
from grader.similarity.compare import Batch, Pair, with_shared
from grader.similarity.fingerprint import Cell, Fingerprints

CSV_FILE = "similarity.csv"
HTML_FILE = "similarity.html"
MAX_PAIRS = 20  # shown side by side
SUMMARY_ROWS = 50  # pairs in the summary table
MAX_CELLS = 20  # cells shown per student of a pair
SHOWN_CHARS = 4_000  # of one cell
MAX_SKIPPED = 1_000  # skipped notebooks listed; the rest counted
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula

STYLE = """
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; margin: 0.3em 0; font-size: 0.85em; }
mark { background: #ffe08a; }
table.pair { width: 100%; table-layout: fixed; }
.side { width: 50%; }
.cell-label { color: #555; font-size: 0.8em; }
"""


def write_csv(out: Path, found: list[Pair]) -> Path:
    """``out/similarity.csv``; a name a spreadsheet would take for a formula is quoted with '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_a", "student_b", "score"])
    for pair in found:
        writer.writerow([_cell_text(pair.a), _cell_text(pair.b), f"{pair.score:g}"])
    path = out / CSV_FILE
    atomic_write(path, buffer.getvalue())
    return path


def _cell_text(name: str) -> str:
    return "'" + name if name.startswith(_CSV_FORMULA) else name


def write_html(out: Path, lab: str, batch: Batch, found: list[Pair]) -> Path:
    """``out/similarity.html``: summary, skipped notebooks, the top pairs side by side."""
    top = [with_shared(batch, pair) for pair in found[:MAX_PAIRS]]
    body = [f"<h1>Similarity: {_text(lab)}</h1>", _about(batch, found), _summary(found), _skipped(batch)]
    body += [_side_by_side(number, pair, batch) for number, pair in enumerate(top, 1)]
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>Similarity: {_text(lab)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")
    path = out / HTML_FILE
    atomic_write(path, page)
    return path


def _text(value: str) -> str:
    """A student's name, a lab id or a reason: non-printing characters shown as "?", cut, escaped."""
    return html.escape(shown(value))


def _about(batch: Batch, found: list[Pair]) -> str:
    return (f"<p>{len(batch.prints)} notebooks compared, {len(batch.skipped)} skipped, {len(found)} pairs share "
            "code. The score is the share of the smaller notebook's fingerprints the other holds too, after the "
            f"starter notebook's code and {batch.dropped_common} fingerprints more than half the class holds were "
            "removed. A high score asks for a look, not for a verdict.</p>")


def _summary(found: list[Pair]) -> str:
    rows = "".join(f'<tr><td><a href="#pair-{n}">{n}</a></td><td>{_text(p.a)}</td><td>{_text(p.b)}</td>'
                   f"<td>{p.score:g}</td></tr>" if n <= MAX_PAIRS else
                   f"<tr><td>{n}</td><td>{_text(p.a)}</td><td>{_text(p.b)}</td><td>{p.score:g}</td></tr>"
                   for n, p in enumerate(found[:SUMMARY_ROWS], 1))
    more = f"<p>{len(found) - SUMMARY_ROWS} more pairs in {CSV_FILE}.</p>" if len(found) > SUMMARY_ROWS else ""
    return ('<h2>Most similar pairs</h2><table id="summary"><thead><tr><th>#</th><th>Student A</th>'
            f"<th>Student B</th><th>Score</th></tr></thead><tbody>{rows}</tbody></table>{more}")


def _skipped(batch: Batch) -> str:
    if not batch.skipped:
        return ""
    listed = sorted(batch.skipped.items())
    items = "".join(f"<li><b>{_text(student)}</b>: {_text(why)}</li>" for student, why in listed[:MAX_SKIPPED])
    more = f"<p>and {len(listed) - MAX_SKIPPED} more.</p>" if len(listed) > MAX_SKIPPED else ""
    return f'<h2>Skipped</h2><ul id="skipped">{items}</ul>{more}'


def _side_by_side(number: int, pair: Pair, batch: Batch) -> str:
    sides = [_side(batch.prints[student], pair.shared) for student in (pair.a, pair.b)]
    return (f'<h2 id="pair-{number}">{number}. {_text(pair.a)} and {_text(pair.b)}: {pair.score:g}</h2>'
            f'<table class="pair"><tr><th class="side">{_text(pair.a)}</th><th class="side">{_text(pair.b)}</th>'
            f'</tr><tr><td class="side">{sides[0]}</td><td class="side">{sides[1]}</td></tr></table>')


def _side(prints: Fingerprints, shared: frozenset[int]) -> str:
    """The cells of one notebook that hold shared fingerprints, in notebook order, their shared
    lines marked."""
    marked: dict[int, set[int]] = {}
    for h in shared:
        for place in prints.places.get(h, ()):
            last = min(place.last, place.first + SHOWN_CHARS)  # a line past the shown characters is not shown
            marked.setdefault(place.cell, set()).update(range(place.first, last + 1))
    cells = sorted(marked)[:MAX_CELLS]
    more = len(marked) - len(cells)
    shown_cells = "".join(_cell(prints.cells[i], marked[i]) for i in cells)
    return shown_cells + (f"<p>and {more} more cells.</p>" if more > 0 else "")


def _cell(cell: Cell, lines: set[int]) -> str:
    text = cell.source[:SHOWN_CHARS]
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        escaped = html.escape(line)
        out.append(f"<mark>{escaped}</mark>" if number in lines else escaped)
    cut = "\n…" if len(cell.source) > SHOWN_CHARS else ""
    return (f'<div class="cell"><div class="cell-label">cell {cell.number} ({_text(cell.kind)})</div>'
            f"<pre>{chr(10).join(out)}{cut}</pre></div>")
