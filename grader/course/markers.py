"""Solution markers: every common way of marking what students must not see, stubbed or refused.

A solution notebook may come from this grader, from nbgrader or from otter-grader,
or be written by hand by someone used to one of them. Each style is recognised:

- a region: a line holding only ``BEGIN SOLUTION`` and, further down, one holding
  only ``END SOLUTION``, behind any comment mark (``# ``, nbgrader's ``### ``,
  ``//``) or inside ``<!-- -->`` (otter's markdown). In code the region becomes
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the marker's
  indentation (only the comment in a ``%%writefile`` cell, which writes a file
  where ``raise`` is no code); in markdown and raw cells it becomes ``YOUR ANSWER
  HERE``. ``BEGIN SOLUTION NO PROMPT`` (otter) leaves nothing behind;
- ``BEGIN HIDDEN TESTS`` ... ``END HIDDEN TESTS`` (nbgrader): removed;
- otter's one-line ``# SOLUTION`` at the end of a line: an assignment keeps its
  left-hand side (``x = 5 # SOLUTION`` becomes ``x = ...``), any other line becomes
  ``...``; ``# SOLUTION NO PROMPT`` removes the line. Otter's prompt delimiters
  (``\"\"\" # BEGIN PROMPT``, ``<!-- END PROMPT -->``) are removed, so the prompt
  between them shows;
- a whole cell: nbgrader's ``metadata.nbgrader.solution`` without any region in
  it, or a cell between two raw cells that hold only a begin and an end marker
  (otter's blocks), is replaced by the stub, as nbgrader's ClearSolutions does.

Anything that looks like a marker and is none of these (a marker sharing its line
with code, ``BEGIN SOLUTION`` followed by words, a misspelt ``# BEGIN SOLUTON``, an
END without a BEGIN, a region left open or opened inside another) is refused with
the cell and the line: an honest slip must never copy a solution through to students.

:func:`leaks` is the check after generating, done apart from the stubbing: it
reads the solution again, leniently, for every line marked as the students' to
write, and refuses a student notebook where such a line, or anything that looks
like a marker, is still there.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from grader.errors import AssignError

STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
FILE_STUB = ("# YOUR CODE HERE",)  # a %%writefile cell writes a file (a Dockerfile...), where `raise` is no code
TEXT_STUB = ("YOUR ANSWER HERE",)
PROMPT = "..."  # otter's prompt for a `# SOLUTION` line

_SEP = r"[ \t_-]*"
_PHRASE = rf"(?P<edge>BEGIN|END){_SEP}(?P<what>SOLUTIONS?|HIDDEN{_SEP}TESTS?|TESTS?)(?P<quiet>{_SEP}NO{_SEP}PROMPT)?"
# Whatever reads as a solution or hidden-test marker, in any spelling, anywhere in a line.
LOOKALIKE = re.compile(rf"(?<![A-Za-z])(BEGIN|END){_SEP}(SOLUTIONS?|HIDDEN{_SEP}TESTS?)(?![A-Za-z])", re.IGNORECASE)
# A marker on a line of its own: a comment mark (or <!--), the phrase, a closing mark.
ALONE = re.compile(rf"(?P<indent>\s*)(?:#+|//+|--|%+|/\*+|<!--+)?[ \t]*{_PHRASE}[ \t]*(?:#+|\*+/|-->)?\s*",
                   re.IGNORECASE)
OTTER_LINE = re.compile(r"(?P<indent>\s*)(?P<code>.*?)\s*#\s*SOLUTION(?P<quiet>\s+NO\s+PROMPT)?\s*", re.IGNORECASE)
PROMPT_LINE = re.compile(r"\s*(?:(?:\"\"\"|''')?\s*;?\s*#|<!--)\s*(?:BEGIN|END)\s+PROMPT\s*(?:-->)?\s*", re.IGNORECASE)
TRIVIAL = frozenset({"pass", "...", "return", "break", "continue", "else:", "try:", "finally:", "except:",
                     "raise", "yield", "None", "return None", "return True", "return False"})


@dataclass(frozen=True)
class Marker:
    """One marker line: which edge of what, and where its stub goes."""

    begin: bool
    what: str  # "solution", "hidden tests", or "tests" (otter's test blocks, in raw cells only)
    quiet: bool  # NO PROMPT: nothing replaces the region
    indent: str


def marker(line: str, where: str, number: int) -> Marker | None:
    """The marker on ``line``, None if it holds none; AssignError if it only looks like one."""
    found = ALONE.fullmatch(line)
    if found is None and LOOKALIKE.search(line):
        raise AssignError(f"{where}, line {number}: {line.strip()[:80]!r} looks like a solution marker but is not "
                          "one: put '# BEGIN SOLUTION' / '# END SOLUTION' on lines of their own, or reword it")
    if found is None and misspelt(line):
        raise AssignError(f"{where}, line {number}: {line.strip()[:80]!r} looks like a misspelt solution marker: "
                          "write '# BEGIN SOLUTION' / '# END SOLUTION', or reword it")
    if found is None:
        return None
    what = found["what"].upper()
    kind = "hidden tests" if "HIDDEN" in what else "tests" if what.startswith("TEST") else "solution"
    return Marker(found["edge"].upper() == "BEGIN", kind, bool(found["quiet"]), found["indent"])


def misspelt(line: str) -> bool:
    """A short line whose words come close to BEGIN or END and to SOLUTION or HIDDEN
    (``# BEGIN SOLUTON``, ``# BEGN SOLUTION``): a marker with a typo would copy its region through."""
    words = [w.upper() for w in re.findall(r"[A-Za-z]+", line)]
    return len(words) <= 6 and any(_close(a, ("BEGIN", "END")) and _close(b, ("SOLUTION", "HIDDEN"))
                                   for a, b in zip(words, words[1:], strict=False))


def _close(word: str, targets: tuple[str, ...]) -> bool:
    return any(difflib.SequenceMatcher(None, word, t).ratio() >= 0.8 for t in targets)


def stub_source(source: str, where: str = "cell") -> str:
    """A code cell's ``source`` with each solution region replaced by a stub."""
    return stub_cell(source, "code", where)


def stub_cell(source: str, kind: str, where: str, whole: bool = False) -> str:
    """The student's text of one cell of type ``kind``. ``whole``: the cell is a solution as a whole
    (nbgrader's metadata, or inside a block), which matters only when no marker is in it."""
    out: list[str] = []
    region: Marker | None = None
    marked = False
    lines = source.splitlines()
    for number, line in enumerate(lines, 1):
        found = marker(line, where, number)
        if found is not None and found.what == "tests":
            found = None  # otter's test blocks are marked by raw cells alone
        if found is not None:
            marked = True
            region = region_after(region, found, where, number)
            if found.begin and not found.quiet and found.what == "solution":
                out.extend(found.indent + s for s in _stub(kind, source))
        elif region is None and not PROMPT_LINE.fullmatch(line):
            shown, one_line = _otter(line) if kind == "code" else (line, False)
            marked |= one_line
            out += [] if shown is None else [shown]
    if region is not None:
        raise AssignError(f"{where}: BEGIN {region.what.upper()} is never closed")
    return _whole_stub(kind, source) if whole and not marked else "\n".join(out)


def region_after(region: Marker | None, found: Marker, where: str, number: int) -> Marker | None:
    """The region after marker ``found``: opened, closed, or an error naming the mistake."""
    name = f"{'BEGIN' if found.begin else 'END'} {found.what.upper()}"
    if found.begin and region is not None:
        raise AssignError(f"{where}, line {number}: {name} inside another region (BEGIN {region.what.upper()})")
    if not found.begin and region is None:
        raise AssignError(f"{where}, line {number}: {name} without BEGIN {found.what.upper()}")
    if not found.begin and region is not None and region.what != found.what:
        raise AssignError(f"{where}, line {number}: {name} closes BEGIN {region.what.upper()}")
    return found if found.begin else None


def _stub(kind: str, source: str) -> tuple[str, ...]:
    if kind != "code":
        return TEXT_STUB
    return FILE_STUB if source.startswith("%%writefile") else STUB


def _whole_stub(kind: str, source: str) -> str:
    """A whole solution cell's stub; a cell magic's line (``%%writefile app.py``) stays, as it says
    where the answer goes."""
    first = source.split("\n", 1)[0]
    head = [first] if kind == "code" and first.startswith("%%") else []
    return "\n".join(head + list(_stub(kind, source)))


def _otter(line: str) -> tuple[str | None, bool]:
    """``line`` as students see it: otter's ``# SOLUTION`` line becomes its prompt (None: nothing),
    any other line stays. The flag says whether it was such a line."""
    found = OTTER_LINE.fullmatch(line)
    if found is None:
        return line, False
    if found["quiet"] or not found["code"].strip():
        return None, True
    return found["indent"] + otter_prompt(found["code"]), True


def otter_prompt(code: str) -> str:
    """What otter shows for ``code # SOLUTION``: an assignment keeps its targets (``x = ...``),
    anything else is ``...``. Python's own parser says which is an assignment."""
    code = code.strip()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return PROMPT
    node = tree.body[0] if len(tree.body) == 1 else None
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
        targets = code.encode("utf-8")[:node.value.col_offset].decode("utf-8").rstrip()
        return f"{targets} {PROMPT}"
    return PROMPT


def boundary(cell) -> Marker | None:
    """A cell holding nothing but a marker: the edge of a block of whole cells (otter's raw
    ``# BEGIN SOLUTION`` / ``# BEGIN TESTS`` cells, a markdown ``<!-- BEGIN SOLUTION -->``).
    Otter's test blocks count in raw cells only."""
    lines = cell.source.strip().splitlines()
    if len(lines) != 1 or not ALONE.fullmatch(lines[0]):
        return None
    found = marker(lines[0], "cell", 1)
    return None if found.what == "tests" and cell.cell_type != "raw" else found


def nbgrader_solution(cell) -> bool:
    """nbgrader's metadata marks the cell as a solution."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(meta, dict) and meta.get("solution") is True


# --- the check after generating -------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A line of a solution region: where it is in the solution notebook."""

    cell: int
    line: int
    text: str
    code: bool  # from a code cell, where a line starting with # is a comment (in markdown, a heading)


@dataclass
class Reading:
    """A solution notebook read for the check: what students must not see, and what they may."""

    secrets: list[Secret] = field(default_factory=list)
    public: list[str] = field(default_factory=list)


def read_solution(cells: list, skip: set[int]) -> Reading:
    """Every line the solution marks as the students' to write, read leniently (any look-alike
    opens or closes a region; nothing is refused), apart from the stubbing it checks."""
    reading = Reading(public=[*STUB, *FILE_STUB, *TEXT_STUB])
    block: Marker | None = None
    for index, cell in enumerate(cells):
        edge = boundary(cell) if index not in skip else None
        if edge is not None:
            block = edge if edge.begin else None
        elif index not in skip:
            everything = block is not None and (block.quiet or block.what != "solution")
            whole = (block is not None or nbgrader_solution(cell)) and not _has_marker(cell)
            _read_cell(cell, index, everything or whole, reading)
    return reading


def _has_marker(cell) -> bool:
    code = cell.cell_type == "code"
    return any(LOOKALIKE.search(line) or (code and OTTER_LINE.fullmatch(line)) for line in cell.source.splitlines())


def _read_cell(cell, index: int, whole: bool, reading: Reading) -> None:
    code = cell.cell_type == "code"
    inside = False
    for number, line in enumerate(cell.source.splitlines(), 1):
        look = LOOKALIKE.search(line)
        otter = OTTER_LINE.fullmatch(line) if code else None
        magic = number == 1 and code and line.startswith("%%")  # %%writefile app.py: where the answer goes
        if look:
            inside = look.group(1).upper() == "BEGIN"
        elif inside or (whole and not magic):
            reading.secrets.append(Secret(index, number, line, code))
        elif otter:
            reading.secrets.append(Secret(index, number, otter["code"], code))
            reading.public.append(otter_prompt(otter["code"]).removesuffix(PROMPT))
        else:
            reading.public.append(line)


def substantive(text: str, code: bool) -> bool:
    """A line whose presence would give something away: not blank, not only a comment, not
    only punctuation, not a line every answer has (``pass``, ``return``)."""
    text = text.strip()
    if not text or text in TRIVIAL or not any(c.isalnum() for c in text):
        return False
    return not (code and text.startswith("#")) and not (text.startswith("<!--") and text.endswith("-->"))


def leaks(reading: Reading, student: list[tuple[int, str, str]]) -> Iterator[str]:
    """Why the student notebook (cells as (solution index, type, source)) must not be written:
    each marker left in it, and each substantive solution line that reached it while
    appearing nowhere outside a region of the solution."""
    lines = [(index, number, line, kind) for index, kind, source in student
             for number, line in enumerate(source.splitlines(), 1)]
    for index, number, line, kind in lines:
        if LOOKALIKE.search(line) or (kind == "code" and OTTER_LINE.fullmatch(line)):
            yield f"cell {index}, line {number}: a solution marker would reach students: {line.strip()[:80]!r}"
    for secret in reading.secrets:
        text = secret.text.strip()
        if not substantive(text, secret.code) or any(text in public for public in reading.public):
            continue
        if any(text in line for _, _, line, _ in lines):
            yield (f"cell {secret.cell}, line {secret.line}: solution text would reach students: "
                   f"{text[:80]!r}")
