"""The review's pages, rendered on the server as HTML strings.

Everything that comes from a grades folder (students' names, tests' names and outputs, cells
and their outputs, comments) passes through :func:`e` (html.escape, quotes included) and every
URL through :func:`link`; the only script is the few lines of keyboard shortcuts, allowed by a
nonce the app gives each page (grader.review.app).
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from grader.results.model import NOT_RUN
from grader.review.charts import distribution_svg, rate_bar
from grader.review.store import COMMENT_CHARS, Reviewed, limit
from grader.review.summary import Cell, TestRate

NAME_CHARS = 300  # of a student's or a test's name shown
NOTE_CHARS = 2_000  # of a sentence about a result (its late record)
OUTPUT_CHARS = 4_000  # of a test's message shown

CSS = """
body { font-family: sans-serif; margin: 1em 2em; } table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; margin: 0; max-height: 30em; overflow: auto; background: #f6f6f6; }
.suspicious { background: #fdecee; } .stale { background: #fff4ce; } .applied { background: #e7f4e7; }
nav a { margin-right: 1em; } .bank button { display: block; margin: .2em 0; text-align: left; }
.status-graded { color: #176117; } .status-timeout, .status-memory, .status-crashed, .status-invalid { color: #b00020; }
kbd { border: 1px solid #999; border-radius: 3px; padding: 0 .3em; }
.cell { margin: .6em 0; border-left: 4px solid #4a6fa5; } .cell pre.output { background: #fff; color: #333;
  border-top: 1px dashed #ccc; } .cell pre.output:empty { display: none; }
"""

# j/k: next/previous student; 1-9: that comment of the bank into the form last used; s: save it.
# Keys typed into a field are the field's (Escape leaves it).
SCRIPT = """
let form = document.querySelector("form.override");
document.querySelectorAll("form.override").forEach(f => f.addEventListener("focusin", () => { form = f; }));
document.querySelectorAll(".bank button").forEach(b => b.addEventListener("click", () => {
  if (form) { form.elements.comment.value = b.dataset.text; } }));
document.addEventListener("keydown", ev => {
  const t = ev.target;
  if (ev.key === "Escape" && t.blur) { t.blur(); return; }
  if (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
  const go = id => { const a = document.getElementById(id); if (a) { location.href = a.href; } };
  if (ev.key === "j") { go("next"); } else if (ev.key === "k") { go("previous"); }
  else if (ev.key === "s" && form) { ev.preventDefault(); form.requestSubmit(); }
  else if (/^[1-9]$/.test(ev.key)) {
    const b = document.querySelectorAll(".bank button")[Number(ev.key) - 1];
    if (b && form) { form.elements.comment.value = b.dataset.text; } }
});
"""


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def cut(text: str, limit_chars: int) -> str:
    return text if len(text) <= limit_chars else text[:limit_chars] + f" [{len(text) - limit_chars} more characters]"


def link(path: str, **query: object) -> str:
    """A relative URL, escaped for an attribute."""
    return e(path + ("?" + urlencode({k: str(v) for k, v in query.items()}) if query else ""))


def layout(title: str, body: str, nonce: str, script: bool = False) -> str:
    code = f'<script nonce="{e(nonce)}">{SCRIPT}</script>' if script else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head><body>"
            f'<nav><a href="/">Overview</a></nav><h1>{e(title)}</h1>{body}{code}</body></html>')


def overview(labs: dict[str, list[Reviewed]], percents: dict[str, list[float]], statuses: dict[str, dict],
             rates: dict[str, list[TestRate]], items: dict[str, list[tuple[str, int, int]]], nonce: str) -> str:
    """Per lab: the score distribution, statuses, the queue of each exercise and every test's pass rate."""
    if not labs:
        return layout("Review", "<p>No grades here yet: run grade first.</p>", nonce)
    parts = []
    for lab, results in labs.items():
        counted = ", ".join(f'<span class="status-{e(s)}">{e(s)}: {n}</span>' for s, n in sorted(statuses[lab].items()))
        late = sum(bool(r.result.late and r.result.late.days) for r in results)
        counted += f'; <span class="late-count">late: {late}</span>' if late else ""
        parts.append(f'<section class="lab"><h2>{e(lab)}</h2><p>{len(results)} results; {counted}</p>')
        parts.append(distribution_svg(percents[lab], f"score distribution of {lab}"))
        parts.append("<h3>Review by exercise</h3><ul>")
        parts.extend(f'<li><a class="item" href="{link("/queue", lab=lab, item=item)}">{e(item)}</a> '
                     f'({done} / {total} reviewed)</li>' for item, done, total in items[lab])
        parts.append("</ul><h3>Tests, lowest pass rate first</h3><table><thead><tr><th>Test</th><th>Hidden</th>"
                     "<th>Passed</th><th></th><th></th></tr></thead><tbody>")
        parts.extend(_rate_row(rate) for rate in rates[lab])
        parts.append("</tbody></table></section>")
    return layout("Review", "".join(parts), nonce)


def _rate_row(rate: TestRate) -> str:
    flag = "likely a test bug: no student passes it" if rate.suspicious else ""
    return (f'<tr class="test-rate{" suspicious" if rate.suspicious else ""}"><td>{e(cut(rate.name, NAME_CHARS))}</td>'
            f'<td>{"hidden" if rate.hidden else ""}</td><td>{rate.passed} / {rate.ran}</td>'
            f"<td>{rate_bar(rate.rate)}</td><td>{flag}</td></tr>")


def queue(lab: str, item: str, index: int, results: list[Reviewed], tests: list[int], cells: list[Cell] | None,
          bank: list[str], done: tuple[int, int], nonce: str) -> str:
    """One student's answer to one exercise: their cells, the tests with a form each, the bank."""
    reviewed = results[index]
    result = reviewed.result
    nav = [f'<a id="previous" href="{link("/queue", lab=lab, item=item, i=index - 1)}">previous (k)</a>'
           if index > 0 else "",
           f'<a id="next" href="{link("/queue", lab=lab, item=item, i=index + 1)}">next (j)</a>'
           if index + 1 < len(results) else "",
           f'<a href="{link("/feedback", student=result.student, lab=lab)}">feedback page</a>']
    parts = [f"<p>Student {index + 1} of {len(results)}: "
             f'<strong class="student">{e(cut(result.student, NAME_CHARS))}</strong>; '
             f'<span class="status-{e(result.status)}">{e(result.status)}</span>; score {result.final_score:g} / '
             f"{result.max_score:g} (automatic {reviewed.automatic.score:g}); "
             f'exercise {e(item)}: {done[0]} / {done[1]} reviewed</p><nav class="queue">{"".join(nav)}</nav>']
    if result.late_note:
        parts.append(f'<p class="late">{e(cut(result.late_note, NOTE_CHARS))}</p>')
    if reviewed.stale:
        parts.append(f'<p class="stale">{e(result.message)}</p>')
    parts.append(_cells(cells))
    parts.append(_bank(bank))
    parts.extend(_test_form(reviewed, i, lab, item, index) for i in tests)
    parts.append("<p>Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>1</kbd>-<kbd>9</kbd> a saved comment, "
                 "<kbd>s</kbd> save, <kbd>Esc</kbd> leave a field.</p>")
    return layout(f"{lab} · {item}", "".join(parts), nonce, script=True)


def _cells(cells: list[Cell] | None) -> str:
    if cells is None:
        return "<p>The notebook as it ran was not kept.</p>"
    if not cells:
        return "<p>No code cell of the notebook belongs to this exercise.</p>"
    return "<h2>Answer</h2>" + "".join(f'<div class="cell"><pre class="source">{e(c.source)}</pre>'
                                       f'<pre class="output">{e(c.outputs)}</pre></div>' for c in cells)


def _bank(bank: list[str]) -> str:
    if not bank:
        return '<div class="bank"><p>No saved comments yet: tick "save to the bank" when saving one.</p></div>'
    buttons = "".join(f'<button type="button" data-text="{e(text)}">{n}. {e(cut(text, 200))}</button>'
                      for n, text in enumerate(bank, 1))
    return f'<div class="bank"><h2>Comment bank</h2>{buttons}</div>'


def _test_form(reviewed: Reviewed, index: int, lab: str, item: str, position: int) -> str:
    """A test with its automatic and final points, the override in force, and the form to change it."""
    automatic, final = reviewed.automatic.tests[index], reviewed.result.tests[index]
    override = reviewed.applied.get(index)
    stale = next((o for o in reviewed.stale if o.test == automatic.name), None)
    kind = "graded by hand" if automatic.manual is not None else ("hidden test" if automatic.hidden else "test")
    state = ""
    if override is not None:
        state = (f'<p class="applied">{override.points:g} points from {e(override.who)} ({e(override.at)}): '
                 f"{e(override.comment)}</p>")
    elif stale is not None:
        state = (f'<p class="stale">Not applied, the submission changed since: {stale.points:g} points from '
                 f"{e(stale.who)} ({e(stale.at)}): {e(stale.comment)}</p>")
    status = "to grade by hand" if automatic.manual is not None and override is None else str(automatic.status)
    output = "" if automatic.status == NOT_RUN and automatic.manual is not None else (
        f"<pre>{e(cut(automatic.output, OUTPUT_CHARS))}</pre>")
    hidden = "".join(f'<input type="hidden" name="{k}" value="{e(v)}">' for k, v in
                     (("student", reviewed.result.student), ("lab", lab), ("test", automatic.name),
                      ("item", item), ("i", position)))
    points = final.score if override is not None else automatic.score
    return (f'<section class="test"><h3>{e(kind)}: {e(cut(automatic.name, NAME_CHARS))}</h3>'
            f"<p>{e(status)}; automatic {automatic.score:g} / {automatic.max_score:g}, now {final.score:g} / "
            f"{final.max_score:g}</p>{output}{state}"
            f'<form class="override" method="post" action="/override">{hidden}'
            f'<label>Points (0 to {limit(automatic):g}) <input name="points" type="number" step="any" min="0" '
            f'max="{limit(automatic):g}" value="{points:g}" required></label> '
            f'<label>Comment <textarea name="comment" rows="2" cols="60" maxlength="{COMMENT_CHARS}">'
            f'{e(override.comment if override else "")}</textarea></label> '
            '<label><input type="checkbox" name="bank" value="1"> save to the bank</label> '
            '<button type="submit">Save (s)</button></form></section>')


def message(title: str, text: str, nonce: str) -> str:
    return layout(title, f"<p>{e(text)}</p>", nonce)
