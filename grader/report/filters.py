"""The filters the feedback page runs on submission text, each linear by construction.

nbconvert's own filters for markdown, the files-prefix rewrite, ANSI colours, code
highlighting and HTML sanitising are each super-linear on some input a hostile
notebook can hold (see ``benchmarks/feedback_growth.py``); the page's exporter
(grader.report.feedback) uses these instead. They are kept apart from the page
because each is a text-to-HTML function on its own, tested and measured as one,
that knows nothing of results, budgets or templates: what reaches them is already
cut to the page's bounds there. Everything they write from a submission's text is
escaped, or reduced by ``clean_html`` to ALLOWED_TAGS and ALLOWED_ATTRIBUTES.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

ALLOWED_TAGS = frozenset({"a", "abbr", "acronym", "b", "blockquote", "code", "em", "i", "li", "ol", "strong", "ul",
                          "p", "br", "hr", "div", "span", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead",
                          "tbody", "tr", "th", "td", "img", "sub", "sup", "del", "s", "dl", "dt", "dd"})
ALLOWED_ATTRIBUTES = {"*": {"class"}, "a": {"href", "title"}, "img": {"src", "alt", "title"},
                      "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}  # and data: for images
MARKDOWN_NESTING = 10  # blocks (quotes, lists) nested in markdown; each level costs every line below it


def markdown2html(source: str) -> str:
    """Markdown rendered by markdown-it (CommonMark, linear in its input) where nbconvert's
    mistune renderer and its math rules are quadratic on runs of brackets, emphasis or LaTeX
    delimiters. Raw HTML is left to clean_html; math stays as written (the page runs no
    MathJax); fenced code is highlighted only as Python (see highlight_code)."""
    return _markdown().render(source)


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"maxNesting": MARKDOWN_NESTING, "highlight": _fenced_code}).enable(
        ["table", "strikethrough"])


def _fenced_code(code: str, language: str, attributes: str) -> str:
    """A fenced block in markdown that says it is Python, highlighted; any other, plain."""
    if language.lower() not in ("python", "py", "python3", "ipython", "ipython3"):
        return ""
    return f'<pre class="highlight"><code>{_python(code)}</code></pre>'


def strip_files_prefix(text: str) -> str:
    """nbconvert's filter without its markdown half, whose pattern backtracks over the rest of
    the line at every '[' (cubic on a run of '[a](files/') and which, run on HTML already
    rendered from markdown, only ever rewrote text that had stayed literal."""
    from nbconvert.filters.strings import files_url_pattern

    return files_url_pattern.sub(r"\1=\2", text)


def ansi2html(text: str) -> str:
    """Text escaped, its ANSI colour codes drawn as nbconvert draws them (the theme's
    ansi-* classes) and every other escape code removed, in one pass. nbconvert's own
    filter slices the rest of the text at every code and pops a code's parameters from the
    front of a list: quadratic in either. Bold, underline and the sixteen colours are drawn;
    256 and RGB colours are not."""
    out, style, pos = [], _PLAIN, 0
    for code in _ANSI.finditer(text):
        out.append(_styled(style, text[pos:code.start()]))
        style = _sgr(style, code[1]) if code[2] == "m" else style
        pos = code.end()
    out.append(_styled(style, text[pos:]))
    return "".join(out)


_ANSI = re.compile("\x1b\\[(.*?)([@-~])")  # nbconvert's: a code ends at its first final byte
_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_PLAIN = (None, None, False, False)  # foreground, background, bold, underline
_NUMBER = re.compile(r"[0-9]{1,4}")


def _sgr(style: tuple, parameters: str) -> tuple:
    """The style after one SGR code (ESC [ parameters m); its first 16 parameters count."""
    fg, bg, bold, underline = style
    for parameter in parameters.split(";", 16)[:16]:
        n = -1 if parameter and not _NUMBER.fullmatch(parameter) else int(parameter or 0)
        if n == 0:
            fg, bg, bold, underline = _PLAIN
        elif n in (1, 22):
            bold = n == 1
        elif n in (4, 24):
            underline = n == 4
        elif 30 <= n <= 37 or 90 <= n <= 97:
            fg = n % 10 + (8 if n >= 90 else 0)
        elif 40 <= n <= 47 or 100 <= n <= 107:
            bg = n % 10 + (8 if n >= 100 else 0)
        elif n == 39:
            fg = None
        elif n == 49:
            bg = None
        elif n in (38, 48):
            break  # an extended colour, whose own parameters follow
    return fg, bg, bold, underline


def _styled(style: tuple, text: str) -> str:
    fg, bg, bold, underline = style
    fg = fg + 8 if bold and fg is not None and fg < 8 else fg  # as nbconvert: bold is the intense colour
    classes = [f"ansi-{_colour(fg)}-fg" if fg is not None else "", f"ansi-{_colour(bg)}-bg" if bg is not None else "",
               "ansi-bold" if bold else "", "ansi-underline" if underline else ""]
    text = html.escape(text, quote=False)
    names = " ".join(name for name in classes if name)
    return f'<span class="{names}">{text}</span>' if names and text else text


def _colour(index: int) -> str:
    return _COLOURS[index] if index < 8 else f"{_COLOURS[index - 8]}-intense"


def highlight_code(source: str, language: str | None = None, metadata: dict | None = None) -> str:
    """A code cell highlighted as Python whatever it claims to be: nbconvert would follow a
    cell's %%magic to another of pygments' lexers, each with regular expressions of its own;
    the Python lexer is linear on the hostile inputs tested and sees bounded sources."""
    return f'<div class="highlight hl-python"><pre>{_python(source)}</pre></div>'


def _python(code: str) -> str:
    """Code as pygments' Python spans, every character of it escaped."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))



def clean_html(element: str | bytes) -> str:
    """HTML from a submission (an output, markdown's raw HTML) reduced to ALLOWED_TAGS with
    ALLOWED_ATTRIBUTES and safe URLs, by nh3 (the ammonia sanitiser): linear where bleach's
    html5lib tree builder is quadratic in nesting. What reaches it is already cut to the
    page's bounds (see _prepared)."""
    import nh3

    text = element.decode() if isinstance(element, bytes) else str(element)
    return nh3.clean(text, tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES | {"data"},
                     attribute_filter=_attribute_value, strip_comments=True, link_rel=None)


def _attribute_value(tag: str, attribute: str, value: str) -> str | None:
    """The value as it may be written, or None to drop it: data: only as an image's source."""
    if attribute in ("href", "src") and value.strip().lower().startswith("data:"):
        image = value.strip()[5:].lower().startswith(("image/png", "image/jpeg", "image/gif"))
        return value if tag == "img" and image else None
    if attribute in ("colspan", "rowspan", "start"):
        return value if _NUMBER.fullmatch(value) else None
    return value
