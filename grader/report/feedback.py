"""Feedback students can read: ``grades/<student>/<lab-id>.html`` next to the result JSON.

The page shows the score, each exercise's subtotal, every test with its points
and exercise, the messages of public tests and the notebook as it ran, error
outputs marked. Hidden tests appear by name and result only. Everything on the
page that comes from a submission is escaped or sanitised, and the page forbids
every script and remote load with a Content-Security-Policy, so a hostile
notebook cannot run code in the browser of whoever opens its report (a second
wall behind the sanitiser).

Rendering is bounded by construction, for honest and hostile notebooks alike:
what reaches nbconvert is rebuilt from the notebook with every text cut to its
bound and the page's share of each kind of content spent first come, first
served (``_prepared``), and every nbconvert filter that sees submission text
and is super-linear on some input (the markdown renderer, the files-prefix
rewrite, the ANSI converter, the code highlighter, the HTML sanitiser) is
replaced by one that is linear by construction. Those filters live in
grader.report.filters, text to HTML and nothing else; this module assembles the
page around them: the summary, the budgets, the exporter, and the publisher
that writes a page for each result of a run.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from grader import bounded
from grader.course.layout import Course
from grader.files import atomic_write
from grader.report.filters import ansi2html, clean_html, highlight_code, markdown2html, strip_files_prefix
from grader.results import history
from grader.results.model import NOT_RUN, OTHER, Result, Subtotal, TestResult
from grader.results.store import result_path

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

    from grader.review.store import Override

# The one type of an output the page shows: the first of these it has, as nbconvert would pick.
SHOWN_MIME_TYPES = ("text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "text/plain")
IMAGE_TYPES = ("image/png", "image/jpeg")

# What of a submission reaches nbconvert (see _prepared): each text is cut to its bound with a
# visible marker, and the page's share of each kind is spent first come, first served. The
# shares are several times what this repository's labs show (some 10,000 characters each of
# markdown and code), and small enough that each filter at its slowest per character on
# hostile input (markdown up to some 60 microseconds, highlighting 20, the rest one or two)
# keeps the whole page to a few seconds of rendering and a few megabytes of HTML.
SOURCE_CHARS = 20_000  # one cell's source
OUTPUT_CHARS = 50_000  # one output's text: a stream, a result's shown type, a traceback
IMAGE_CHARS = 2_000_000  # one image, base64; a larger one is left out, never cut
PAGE_CHARS = {"markdown": 40_000, "code": 60_000, "text": 400_000, "image": 8_000_000}
MAX_CELLS = 300
MAX_OUTPUTS = 1_000  # on the whole page
EXECUTED_BYTES = 64 * 2**20  # the executed notebook read back: the submission's 50 MiB and its output
# The summary: the tests are the course's, but their output quotes what the notebook returned.
MAX_TESTS = 500
TEST_NAME_CHARS = 300
TEST_OUTPUT_CHARS = 4_000
MAX_EXERCISES = 100  # rows of the exercises' table; their ids are the lab's, but still cut and escaped
EXERCISE_CHARS = 100
NOTE_CHARS = 2_000  # the result's message, the student's name, the title, an error's name
ERROR_TAG = "grader-error"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "base-uri 'none'; form-action 'none'")

# Extends nbconvert's JupyterLab page: no scripts (require.js, MathJax, widgets,
# mermaid), a CSP first thing in <head>, our summary above the cells, every error
# output wrapped so that it stands out, and highlighted code not run through
# clean_html: pygments escapes every character of the source, and sanitising its
# span per token cost more than highlighting.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">{{ resources.grader_css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.grader_summary }}{%- endblock body_header -%}
{%- block input -%}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
<div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code }}
</div>
</div>
{%- endblock input -%}
{%- block error -%}
<div class="grader-error-output"><p class="grader-error-label">Error: {{ output.ename | escape_html }}</p>
{{ super() }}</div>
{%- endblock error -%}
"""

CSS = """
.grader-summary { font-family: sans-serif; margin: 1em 2em; }
.grader-summary table { border-collapse: collapse; margin: 1em 0; }
.grader-summary th, .grader-summary td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left;
  vertical-align: top; }
.grader-summary pre { white-space: pre-wrap; margin: 0; }
.grader-score { font-size: 1.4em; font-weight: bold; }
.grader-passed { color: #176117; } .grader-failed { color: #b00020; font-weight: bold; }
.grader-not-run { color: #6b6b6b; font-style: italic; }
.grader-notice { background: #fff4ce; border-left: 6px solid #e0a800; padding: 0.6em 1em; }
.celltag_grader-error { border-left: 6px solid #b00020; }
.grader-error-output { background: #fdecee; }
.grader-error-label { color: #b00020; font-weight: bold; margin: 0.3em 0; font-family: sans-serif; }
"""


def feedback_path(out_dir: Path, student: str, lab: str) -> Path:
    """Where a result's page goes: beside its JSON, with the same safe file names."""
    return result_path(out_dir, student, lab).with_suffix(".html")


def executed_notebook(result: Result) -> nbformat.NotebookNode | None:
    """The notebook as it ran (``Result.executed``, nbformat JSON), else None: a result read
    back from disk or of a notebook that never ran has none, and the page says so. It is read
    bounded (grader.bounded) and not validated: the page takes from it only what it checks."""
    text = result.executed
    if not text:
        return None
    try:
        doc = bounded.loads(text, EXECUTED_BYTES, "the executed notebook")
        return nbformat.v4.to_notebook_json(doc) if isinstance(doc, dict) else None
    except Exception:
        return None


def render(result: Result, executed: nbformat.NotebookNode | None, title: str = "",
           overrides: Mapping[int, Override] | None = None) -> str:
    """The whole page for one result (``overrides`` of its tests, by index: grader.review), safe to open."""
    title = _cut(title or result.lab, NOTE_CHARS)
    page_title = f"{title}: {_cut(result.student, NOTE_CHARS)}"
    notice = ""
    if executed is None:
        notice = ("Your notebook as it ran is not available"
                  + (f" ({_cut(result.message, NOTE_CHARS)})" if result.message else "") + ".")
        executed = nbformat.v4.new_notebook()
    summary = _summary(result, title, notice, overrides or {})
    try:
        return _export(executed, summary, page_title)
    except Exception as exc:
        summary = _summary(result, title, f"Your notebook could not be shown ({type(exc).__name__}).", overrides or {})
        return _export(nbformat.v4.new_notebook(), summary, page_title)


def write_feedback(out_dir: Path, result: Result, executed: nbformat.NotebookNode | None,
                   title: str = "", overrides: Mapping[int, Override] | None = None) -> Path:
    """Render and write the page atomically; return its path."""
    path = feedback_path(out_dir, result.student, result.lab)
    atomic_write(path, render(result, executed, title, overrides))
    return path


def publisher(out_dir: Path, course: Course, then: Callable[[Result], None]) -> Callable[[Result], None]:
    """The ``on_result`` callback of a ``grade`` run: append the result to the history, then
    call ``then`` (the progress bar). A fresh result's page was written by its worker, with
    the notebook; a reused one keeps its page, or gets one without the notebook."""
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")

    def publish(result: Result) -> None:
        try:
            if result.reused and not feedback_path(out_dir, result.student, result.lab).is_file():
                write_feedback(out_dir, result, None, course.title(result.lab))
            history.append(out_dir, result, run)
        except (OSError, history.HistoryError) as exc:
            print(f"grade: could not write feedback or history for {result.student!r}: {exc}", file=sys.stderr)
        then(result)

    return publish


def _summary(result: Result, title: str, notice: str, overrides: Mapping[int, Override]) -> str:
    """The part above the notebook: score, status, tests. Every value is escaped and cut here."""
    e = html.escape
    parts = [f'<section class="grader-summary"><h1>{e(title)}</h1>',
             f'<p>Student: <strong class="grader-student">{e(_cut(result.student, NOTE_CHARS))}</strong></p>',
             f'<p class="grader-score">Score: {result.final_score:g} / {result.max_score:g}</p>',
             f'<p>Status: <span class="grader-status">{e(result.status)}</span></p>']
    if result.late_note:
        parts.append(f'<p class="grader-late">{e(_cut(result.late_note, NOTE_CHARS))}</p>')
    if result.message:
        parts.append(f"<p>Note: {e(_cut(result.message, NOTE_CHARS))}</p>")
    if not result.sandboxed:
        parts.append('<p class="grader-notice">Graded without a sandbox.</p>')
    if notice:
        parts.append(f'<p class="grader-notice">{e(notice)}</p>')
    subtotals = result.subtotals()
    parts.extend(_exercises_table(subtotals))
    exercise = "<th>Exercise</th>" if subtotals else ""
    parts.append(f"<table><thead><tr>{exercise}<th>Test</th><th>Points</th><th>Result</th><th>Message</th></tr>"
                 "</thead><tbody>")
    parts.extend(_test_row(t, bool(subtotals), overrides.get(i)) for i, t in enumerate(result.tests[:MAX_TESTS]))
    if len(result.tests) > MAX_TESTS:
        parts.append(_cut_row(4 + bool(subtotals), f"{len(result.tests) - MAX_TESTS} more tests"))
    parts.append("</tbody></table></section>")
    return "\n".join(parts)


def _exercises_table(subtotals: list[Subtotal]) -> list[str]:
    """Each exercise's points and passed tests, above the tests; nothing for a lab without exercises."""
    if not subtotals:
        return []
    rows = [f'<tr class="grader-exercise"><td>{html.escape(_cut(s.label, EXERCISE_CHARS))}</td>'
            f"<td>{s.score:g} / {s.max_score:g}</td><td>{s.passed} of {s.total}</td></tr>"
            for s in subtotals[:MAX_EXERCISES]]
    if len(subtotals) > MAX_EXERCISES:
        rows.append(_cut_row(3, f"{len(subtotals) - MAX_EXERCISES} more exercises"))
    return ['<table class="grader-exercises"><thead><tr><th>Exercise</th><th>Points</th><th>Tests passed</th></tr>'
            "</thead><tbody>", *rows, "</tbody></table>"]


def _cut_row(columns: int, what: str) -> str:
    return f'<tr><td colspan="{columns}">{html.escape(_note(what))}</td></tr>'


def _test_row(test: TestResult, with_exercise: bool, override: Override | None = None) -> str:
    """One test; a hidden one shows its name and result, never its output."""
    e = html.escape
    mark = test.status if test.status in ("passed", NOT_RUN) else "failed"
    message = '<em>hidden test</em>' if test.hidden else f"<pre>{e(_cut(test.output, TEST_OUTPUT_CHARS))}</pre>"
    if test.kernel_side:
        message = '<em class="grader-kernel-side">kernel-side: a submission could forge this test</em> ' + message
    if test.manual is not None:
        message = f"<em>graded by hand: {test.manual:g} points, not in the automatic grade</em>"
    if override is not None:
        message = (f'<em class="grader-override">{override.points:g} points from {e(_cut(override.who, NOTE_CHARS))}'
                   f' ({e(override.at)}): {e(_cut(override.comment, NOTE_CHARS))}</em> {message}')
    exercise = f"<td>{e(_cut(test.exercise or OTHER, EXERCISE_CHARS))}</td>" if with_exercise else ""
    return (f'<tr class="grader-test">{exercise}<td>{e(_cut(test.name, TEST_NAME_CHARS))}</td>'
            f'<td>{test.score:g} / {test.max_score:g}</td>'
            f'<td class="grader-{mark.replace(" ", "-")}">{mark}</td><td>{message}</td></tr>')


def _note(what: str) -> str:
    """The marker that says something was left out, where it was."""
    return f"\n[grader: {what} cut]"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + _note(f"{len(text) - limit} more characters")


def _export(nb: nbformat.NotebookNode, summary: str, page_title: str) -> str:
    body, _ = _exporter().from_notebook_node(_prepared(nb, page_title),
                                             resources={"grader_summary": summary, "grader_css": CSS})
    return body.replace("<head>", f'<head>\n<meta http-equiv="Content-Security-Policy" content="{CSP}">', 1)


class _Budget:
    """What is left of the page's share of each kind of content (PAGE_CHARS) and of outputs."""

    def __init__(self) -> None:
        self.left = dict(PAGE_CHARS)
        self.outputs = MAX_OUTPUTS

    def cut(self, kind: str, text: str, limit: int) -> str:
        """``text`` cut to ``limit`` and to what is left of ``kind``'s share, marked if cut."""
        keep = min(len(text), limit, self.left[kind])
        self.left[kind] -= keep
        return _cut(text, keep)

    def fits(self, kind: str, size: int, limit: int) -> bool:
        """Whether something that cannot be cut (an image) fits whole; spent if so."""
        if size > min(limit, self.left[kind]):
            return False
        self.left[kind] -= size
        return True


def _prepared(nb: nbformat.NotebookNode, page_title: str) -> nbformat.NotebookNode:
    """A new notebook of what the page shows, every text bounded, rather than a pruned copy
    of the student's: only the fields the templates read, of the types they expect. No
    metadata is kept (output metadata lands unquoted in attributes in nbconvert's templates),
    only passive output types (no JavaScript, widgets or SVG), and cells that raised get
    the tag that marks them."""
    budget = _Budget()
    cells = [cell for cell in nb.get("cells") or [] if isinstance(cell, dict)]
    shown = [_cell(number, cell, budget) for number, cell in enumerate(cells[:MAX_CELLS])]
    if len(cells) > MAX_CELLS:
        shown.append(nbformat.v4.new_markdown_cell(_note(f"{len(cells) - MAX_CELLS} more cells"), id="grader-cut"))
    return nbformat.v4.new_notebook(cells=shown, metadata={"title": page_title, "language_info": {"name": "python"}})


def _cell(number: int, cell: dict, budget: _Budget) -> nbformat.NotebookNode:
    """A cell as shown, numbered (a notebook's own ids may repeat, and each one repeated
    would be a warning on the grader's output)."""
    ident = f"cell-{number}"
    source = _text(cell.get("source"))
    if cell.get("cell_type") == "markdown":
        return nbformat.v4.new_markdown_cell(budget.cut("markdown", source, SOURCE_CHARS), id=ident)
    if cell.get("cell_type") != "code":
        return nbformat.v4.new_raw_cell(budget.cut("text", source, SOURCE_CHARS), id=ident)
    code = nbformat.v4.new_code_cell(budget.cut("code", source, SOURCE_CHARS), id=ident,
                                     execution_count=_count(cell.get("execution_count")))
    code.outputs = _outputs(cell.get("outputs"), budget)
    if any(output.output_type == "error" for output in code.outputs):
        code.metadata["tags"] = [ERROR_TAG]
    return code


def _outputs(outputs: object, budget: _Budget) -> list[nbformat.NotebookNode]:
    """The outputs shown while the page has room for them; how many more there were is said."""
    outputs = [output for output in outputs if isinstance(output, dict)] if isinstance(outputs, list) else []
    shown = []
    for index, output in enumerate(outputs):
        if not budget.outputs:
            text = _note(f"{len(outputs) - index} more outputs")
            shown.append(nbformat.v4.new_output("stream", name="stdout", text=text))
            break
        if (kept := _output(output, budget)) is not None:
            budget.outputs -= 1
            shown.append(kept)
    return shown


def _output(output: dict, budget: _Budget) -> nbformat.NotebookNode | None:
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=budget.cut("text", _text(output.get("text")),
                                                                             OUTPUT_CHARS))
    if kind == "error":
        lines = output.get("traceback")
        lines = [line for line in lines if isinstance(line, str)] if isinstance(lines, list) else []
        traceback = budget.cut("text", "\n".join(lines), OUTPUT_CHARS).split("\n")  # cut as one text
        return nbformat.v4.new_output("error", ename=budget.cut("text", _text(output.get("ename")), NOTE_CHARS),
                                      evalue=budget.cut("text", _text(output.get("evalue")), OUTPUT_CHARS),
                                      traceback=traceback)
    if kind in ("display_data", "execute_result"):
        extra = {"execution_count": _count(output.get("execution_count"))} if kind == "execute_result" else {}
        return nbformat.v4.new_output(kind, data=_shown_data(output.get("data"), budget), **extra)
    return None


def _shown_data(data: object, budget: _Budget) -> dict[str, str]:
    """The one type of an output's data the page shows, bounded; an image too large to fit
    is replaced by a note that says so."""
    data = data if isinstance(data, dict) else {}
    mime = next((m for m in SHOWN_MIME_TYPES if isinstance(data.get(m), str)), None)
    if mime is None:
        return {}
    value = data[mime]
    if mime in IMAGE_TYPES:
        fits = budget.fits("image", len(value), IMAGE_CHARS)
        return {mime: value} if fits else {"text/plain": _note(f"an image of {len(value)} characters")}
    kind = "markdown" if mime == "text/markdown" else "text"
    return {mime: budget.cut(kind, value, OUTPUT_CHARS)}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    """An execution count as the template prints it, unescaped: an int or nothing."""
    return value if type(value) is int and 0 <= value < 10**9 else None


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    """One exporter per process (building its Jinja environment is slow); nbconvert is
    imported here so that commands that write no page do not pay for it. Every filter the
    templates apply to submission text, where nbconvert's own is super-linear on some
    input, is replaced by one of grader.report.filters."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter, TemplateExporter

    class FeedbackExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            """The template's page as it is: HTMLExporter would then parse the whole page
            with BeautifulSoup to add alt texts and tab stops, which costs more per tag than
            the rest of rendering together (pygments writes a tag per token)."""
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return FeedbackExporter(template_name="lab", template_file="grader_feedback.html.j2",
                            extra_loaders=[DictLoader({"grader_feedback.html.j2": TEMPLATE})],
                            sanitize_html=True, exclude_anchor_links=True, embed_images=False,
                            filters={"clean_html": clean_html, "markdown2html": markdown2html,
                                     "strip_files_prefix": strip_files_prefix, "ansi2html": ansi2html,
                                     "highlight_code": highlight_code, "filter_data_type": _shown_types})


def _shown_types(data: dict) -> list[str]:
    """The output's type to show: the one _shown_data kept."""
    return list(data)
