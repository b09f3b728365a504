"""The feedback page under hostile notebooks: rendering is bounded by construction.

A generated family of pathological texts (runs of link openers, brackets, backticks,
emphasis, HTML-ish openers, entities, ANSI codes, deep lists and quotes, one huge line)
fills every place of a notebook (markdown and code cells, stream, HTML, markdown and plain
outputs, a traceback) far past the page's bounds: the page says what it cut, and is still
well formed and sanitised. How each filter's time grows on these texts is measured in
``benchmarks/feedback_growth.py`` (speed is a benchmark's, not a test's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from html.parser import HTMLParser

import nbformat
import pytest

from grader.report import feedback, filters
from grader.report.feedback import render
from grader.report.filters import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from grader.results.model import Result
from grader.results.model import TestResult as Check  # not named Test*: pytest would collect it
from test_feedback import PWN, chromium, dom_title, executed_notebook, graded_result

v4 = nbformat.v4
Family = Callable[[int], str]


def repeat(unit: str) -> Family:
    return lambda n: unit * (n // len(unit))


FAMILIES: dict[str, Family] = {
    "link openers": repeat("[a]("),
    "image openers": repeat("![a]("),
    "files links": repeat("[a](files/"),
    "nested brackets": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "open brackets": repeat("["),
    "brackets then parens": lambda n: "[]" * (n // 4) + "(" * (n // 2),
    "backticks": repeat("`"),
    "backtick runs": lambda n: "".join("`" * (i % 50 + 1) + "a" for i in range(n // 26)),
    "underscores": repeat("_a"),
    "asterisks": repeat("*a"),
    "asterisks and underscores": repeat("*_"),
    "strong openers": repeat("**a"),
    "tildes": repeat("~~a"),
    "html openers": repeat("<a"),
    "html attributes": repeat("<a href='"),
    "html nesting": repeat("<div>"),
    "html closers": repeat("</a"),
    "html comments": repeat("<!--"),
    "html cdata": repeat("<![CDATA["),
    "autolinks": repeat("<http://"),
    "entities": repeat("&#"),
    "hostile html": repeat(f'<img src=x onerror="{PWN}"><a href="javascript:{PWN}">x</a><scr<!-- -->ipt>'),
    "deep list": lambda n: "".join("  " * i + "- x\n" for i in range(int((n / 2) ** 0.5))),
    "deep quote": repeat(">"),
    "quoted lines": lambda n: "> " * 20 + "a\n" * (n // 2),
    "dollars": repeat("$a"),
    "latex brackets": repeat("\\\\["),
    "latex environments": repeat("\\begin{a}"),
    "table pipes": lambda n: "|a" * (n // 4) + "\n" + "|-" * (n // 4),
    "link definitions": repeat("[a]: "),
    "short lines": repeat("a  \n"),
    "backslashes": repeat("\\"),
    "huge line": repeat("a"),
    "ansi codes": repeat("\x1b[31m"),
    "ansi openers": repeat("\x1b["),
    "ansi parameters": lambda n: "\x1b[" + "1;" * (n // 2) + "m",
    "ansi colours": repeat("\x1b[38;5;1m\x1b[48;2;1;2;3m"),
    "quotes": repeat("'"),
    "triple quotes": repeat('"""'),
    "f-strings": repeat('f"{'),
    "mixed": repeat("[*_`<$&\x1b"),
}

FILTERS: dict[str, Callable[[str], str]] = {
    "markdown": lambda text: filters.clean_html(filters.strip_files_prefix(filters.markdown2html(text))),
    "code": filters.highlight_code,
    "html": filters.clean_html,
    "ansi": filters.ansi2html,
}
# Each filter at the size a page gives it at most: its bound per cell or output.
SIZES = {"markdown": feedback.SOURCE_CHARS, "code": feedback.SOURCE_CHARS,
         "html": feedback.OUTPUT_CHARS, "ansi": feedback.OUTPUT_CHARS}


def hostile_notebook(text: str, cells: int) -> nbformat.NotebookNode:
    """``text`` in every place of ``cells`` pairs of cells."""
    nb = v4.new_notebook()
    for _ in range(cells):
        code = v4.new_code_cell(text, execution_count=1)
        code.outputs = [v4.new_output("stream", name="stdout", text=text),
                        v4.new_output("display_data", data={"text/html": text}),
                        v4.new_output("display_data", data={"text/markdown": text}),
                        v4.new_output("execute_result", data={"text/plain": text}, execution_count=1),
                        v4.new_output("error", ename=text, evalue=text, traceback=[text, text])]
        nb.cells += [v4.new_markdown_cell(text), code, v4.new_raw_cell(text)]
    return nb


class Structure(HTMLParser):
    """The tags and attributes of a page, and whether every element closes in order."""

    VOID = {"br", "hr", "img", "meta", "link", "input"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.urls: list[str] = []
        self.open: list[str] = []
        self.misnested: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self.urls.extend(value or "" for name, value in attrs if name in ("href", "src"))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.misnested.append(tag)


@cache
def honest() -> Structure:
    """An honest page: what the template itself writes."""
    return Structure(render(graded_result(), executed_notebook()))


def assert_well_formed_and_sanitised(page: str) -> None:
    """Every element closed in order; no tag or attribute but the template's and the
    allowed ones; no script URL."""
    structure = Structure(page)
    assert not structure.open and not structure.misnested
    safe_tags = honest().tags | ALLOWED_TAGS
    safe_attributes = honest().attributes | set().union(*ALLOWED_ATTRIBUTES.values())
    assert structure.tags <= safe_tags, structure.tags - safe_tags
    assert structure.attributes <= safe_attributes, structure.attributes - safe_attributes
    assert not [url for url in structure.urls if re.match(r"\s*(javascript|vbscript):", url, re.I)]
    assert "<script" not in page.lower()


@pytest.mark.parametrize("family", FAMILIES)
def test_a_hostile_notebook_renders_a_bounded_sanitised_page(family):
    text = FAMILIES[family](2 * feedback.OUTPUT_CHARS)
    page = render(graded_result(), hostile_notebook(text, 2))
    assert "[grader: " in page and " more characters cut]" in page
    assert len(page) < 16 * 2**20
    assert_well_formed_and_sanitised(page)


def test_counts_are_bounded_and_said():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("x") for _ in range(feedback.MAX_CELLS + 7)])
    nb.cells[0] = v4.new_code_cell("print()")
    nb.cells[0].outputs = [v4.new_output("stream", name="stdout", text="o")] * (feedback.MAX_OUTPUTS + 5)
    page = render(graded_result(), nb)
    assert "[grader: 7 more cells cut]" in page and "[grader: 5 more outputs cut]" in page
    assert page.count('class="jp-Cell ') == feedback.MAX_CELLS + 1  # the note is a cell of its own


def test_the_summary_is_bounded():
    result = Result("amy" * 10_000, "00-warmup", "graded", [Check(f"t{i}" * 1000, 0, 1, "failed", "<v>" * 10_000)
                                                            for i in range(feedback.MAX_TESTS + 3)])
    page = render(result, None)
    assert "[grader: 3 more tests cut]" in page
    assert page.count('<tr class="grader-test">') == feedback.MAX_TESTS
    # Each row escaped (six characters at most for one) and marked; unbounded, some 45 MB.
    assert len(page) < feedback.MAX_TESTS * 6 * (feedback.TEST_NAME_CHARS + feedback.TEST_OUTPUT_CHARS + 100) + 2**20


def test_an_image_too_large_is_left_out_and_said():
    nb = v4.new_notebook(cells=[v4.new_code_cell("plot()")])
    nb.cells[0].outputs = [v4.new_output("display_data", data={"image/png": "Zm9v" * (feedback.IMAGE_CHARS // 4 + 1)}),
                           v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    page = render(graded_result(), nb)
    assert f"[grader: an image of {4 * (feedback.IMAGE_CHARS // 4 + 1)} characters cut]" in page
    assert "data:image/png;base64,iVBORw0KGgo=" in page and "Zm9vZm9v" not in page


def test_browser_runs_no_script_of_a_hostile_page(tmp_path):
    nb = v4.new_notebook()
    for family in ("hostile html", "html comments", "mixed"):
        nb.cells += hostile_notebook(FAMILIES[family](feedback.OUTPUT_CHARS), 1).cells
    path = tmp_path / "page.html"
    path.write_text(render(graded_result(), nb, title="Warm-up"))
    dom = chromium(tmp_path, "--dump-dom", path.as_uri()).stdout
    assert dom_title(dom) == "Warm-up: amy" and 'data-pwned="1"' not in dom
    assert "[grader: " in dom
