"""Feedback students can read: ``grades/<student>/<lab-id>.html`` next to the result JSON.

The page shows the score, every test with its points, the messages of public
tests and the notebook as it ran, error outputs marked. Hidden tests appear by
name and result only. Everything on the page that comes from a submission is
escaped or sanitised, and the page forbids every script and remote load with a
Content-Security-Policy, so a hostile notebook cannot run code in the browser
of whoever opens its report (a second wall behind nbconvert's sanitiser).
"""

from __future__ import annotations

import copy
import html
import sys
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import bleach
import nbformat

from grader import history
from grader.course import Course, CourseError
from grader.results import NOT_RUN, Result, TestResult, atomic_write, result_path

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

SHOWN_MIME_TYPES = {"text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg"}
ALLOWED_TAGS = {*bleach.ALLOWED_TAGS, "p", "br", "hr", "div", "span", "pre", "code", "h1", "h2", "h3", "h4", "h5",
                "h6", "table", "thead", "tbody", "tr", "th", "td", "img", "sub", "sup", "del", "dl", "dt", "dd"}
ALLOWED_ATTRIBUTES = {"*": ["class"], "a": ["href", "title"], "img": ["src", "alt", "title"],
                      "td": ["colspan", "rowspan"], "th": ["colspan", "rowspan"]}
HIDDEN_FAILED = "failed (hidden test)"  # what grader.runner puts in a hidden test's output
ERROR_TAG = "grader-error"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "base-uri 'none'; form-action 'none'")

# Extends nbconvert's JupyterLab page: no scripts (require.js, MathJax, widgets,
# mermaid), a CSP first thing in <head>, our summary above the cells, and every
# error output wrapped so that it stands out.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">{{ resources.grader_css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.grader_summary }}{%- endblock body_header -%}
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


def hidden_names(result: Result) -> set[str]:
    """The tests of ``result`` that are hidden: named by the runner (``Result.hidden_tests``),
    or, for a result read back from disk, recognised by the output the runner gives a
    failed hidden test. A passed hidden test has no output to leak either way."""
    named = set(result.hidden_tests)
    return named | {t.name for t in result.tests if t.output == HIDDEN_FAILED}


def executed_notebook(result: Result) -> nbformat.NotebookNode | None:
    """The notebook as it ran (``Result.executed``, nbformat JSON), else None: a result read
    back from disk or of a notebook that never ran has none, and the page says so."""
    text = result.executed
    if not text:
        return None
    try:
        return nbformat.reads(text, as_version=4)
    except Exception:  # noqa: BLE001 - a notebook we cannot read is shown as missing, never fatal
        return None


def render(result: Result, executed: nbformat.NotebookNode | None, hidden: Collection[str] = (),
           title: str = "") -> str:
    """The whole page for one result, as an HTML string that is safe to open."""
    hidden = set(hidden) | hidden_names(result)
    notice = ""
    if executed is None:
        notice = ("Your notebook as it ran is not available"
                  + (f" ({result.message})" if result.message else "") + ".")
        executed = nbformat.v4.new_notebook()
    summary = _summary(result, hidden, title or result.lab, notice)
    try:
        return _export(executed, summary, f"{title or result.lab}: {result.student}")
    except Exception as exc:  # noqa: BLE001 - a notebook nbconvert chokes on must not stop the batch
        summary = _summary(result, hidden, title or result.lab,
                           f"Your notebook could not be shown ({type(exc).__name__}).")
        return _export(nbformat.v4.new_notebook(), summary, f"{title or result.lab}: {result.student}")


def write_feedback(out_dir: Path, result: Result, executed: nbformat.NotebookNode | None,
                   hidden: Collection[str] = (), title: str = "") -> Path:
    """Render and write the page atomically; return its path."""
    path = feedback_path(out_dir, result.student, result.lab)
    atomic_write(path, render(result, executed, hidden, title))
    return path


def publisher(out_dir: Path, course: Course, then: Callable[[Result], None]) -> Callable[[Result], None]:
    """The ``on_result`` callback of a ``grade`` run: append the result to the history, then
    call ``then`` (the progress bar). A fresh result's page was written by its worker, with
    the notebook; a reused one keeps its page, or gets one without the notebook."""
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")

    def publish(result: Result) -> None:
        try:
            if result.reused and not feedback_path(out_dir, result.student, result.lab).is_file():
                write_feedback(out_dir, result, None, (), _title(course, result.lab))
            history.append(out_dir, result, run)
        except (OSError, history.HistoryError) as exc:
            print(f"grade: could not write feedback or history for {result.student!r}: {exc}", file=sys.stderr)
        then(result)

    return publish


def _title(course: Course, lab_id: str) -> str:
    try:
        return course.lab(lab_id).title
    except CourseError:
        return lab_id


def _summary(result: Result, hidden: set[str], title: str, notice: str) -> str:
    """The part above the notebook: score, status, tests. Every value is escaped here."""
    e = html.escape
    parts = [f'<section class="grader-summary"><h1>{e(title)}</h1>',
             f'<p>Student: <strong class="grader-student">{e(result.student)}</strong></p>',
             f'<p class="grader-score">Score: {result.score:g} / {result.max_score:g}</p>',
             f'<p>Status: <span class="grader-status">{e(result.status)}</span></p>']
    if result.message:
        parts.append(f"<p>Note: {e(result.message)}</p>")
    if not result.sandboxed:
        parts.append('<p class="grader-notice">Graded without a sandbox.</p>')
    if notice:
        parts.append(f'<p class="grader-notice">{e(notice)}</p>')
    parts.append("<table><thead><tr><th>Test</th><th>Points</th><th>Result</th><th>Message</th></tr></thead><tbody>")
    parts.extend(_test_row(t, t.name in hidden) for t in result.tests)
    parts.append("</tbody></table></section>")
    return "\n".join(parts)


def _test_row(test: TestResult, hidden: bool) -> str:
    """One test; a hidden one shows its name and result, never its output."""
    e = html.escape
    mark = test.status if test.status in ("passed", NOT_RUN) else "failed"
    message = '<em>hidden test</em>' if hidden else f"<pre>{e(test.output)}</pre>"
    return (f'<tr class="grader-test"><td>{e(test.name)}</td><td>{test.score:g} / {test.max_score:g}</td>'
            f'<td class="grader-{mark.replace(" ", "-")}">{mark}</td><td>{message}</td></tr>')


def _export(nb: nbformat.NotebookNode, summary: str, page_title: str) -> str:
    body, _ = _exporter().from_notebook_node(_prepared(nb, page_title),
                                             resources={"grader_summary": summary, "grader_css": CSS})
    return body.replace("<head>", f'<head>\n<meta http-equiv="Content-Security-Policy" content="{CSP}">', 1)


def _prepared(nb: nbformat.NotebookNode, page_title: str) -> nbformat.NotebookNode:
    """A copy reduced to what the page needs. Student-controlled metadata goes: output
    metadata lands unquoted in attributes in nbconvert's templates (image width), so
    none of it is kept; only passive output types stay (no JavaScript, widgets or SVG);
    cells that raised get the tag that marks them."""
    nb = copy.deepcopy(nb)
    nb.metadata = nbformat.NotebookNode(title=page_title, language_info={"name": "python"})
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode()
        cell.pop("attachments", None)
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if "metadata" in output:
                output.metadata = nbformat.NotebookNode()
            if "data" in output:
                output.data = nbformat.NotebookNode({k: v for k, v in output.data.items() if k in SHOWN_MIME_TYPES})
        if any(o.get("output_type") == "error" for o in cell.outputs):
            cell.metadata["tags"] = [ERROR_TAG]
    return nb


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    """One exporter per process (building its Jinja environment is slow); nbconvert is
    imported here so that commands that write no page do not pay for it."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="grader_feedback.html.j2",
                        extra_loaders=[DictLoader({"grader_feedback.html.j2": TEMPLATE})],
                        sanitize_html=True, exclude_anchor_links=True, embed_images=False,
                        filters={"clean_html": clean_html})


def clean_html(element: str | bytes) -> str:
    """nbconvert's ``clean_html`` with the tags markdown produces (headings, paragraphs,
    tables, images) allowed: its own list shows a student's headings as literal tags.
    No attribute that can run or load anything is allowed; the CSP blocks the rest."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                        protocols={"http", "https", "mailto", "data"}, strip_comments=True)
