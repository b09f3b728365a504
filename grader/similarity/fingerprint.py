"""One notebook's answers as a set of fingerprints: normalised tokens, k-grams, winnowing.

A copy hides behind renamed variables, changed comments and whitespace, and cells moved
around. So each cell's code is read with Python's own ``tokenize`` and normalised: every
identifier but a keyword, a builtin or an attribute becomes one token ``N`` (``total`` and
``s`` look alike; ``len``, ``sum`` and the ``lower`` of ``text.lower()`` stay themselves:
renaming one's variables does not rename a library's functions), a number becomes ``0``
and a string ``"``, comments and whitespace (newlines and indentation included) are dropped. A cell that does
not tokenize (an unclosed bracket, prose) is split into words and punctuation instead,
its words normalised as identifiers are; a markdown cell is split so too, lower-cased, its
words kept (prose is copied word for word).

Every K consecutive tokens of a cell (a k-gram) are hashed, and winnowing (Schleimer,
Wilkerson and Aiken, "Winnowing: local algorithms for document fingerprinting", SIGMOD
2003) keeps the smallest hash of every window of W consecutive k-grams: any run of at
least W + K - 1 tokens two cells share yields a fingerprint both keep, whatever surrounds
it. Fingerprints are a set over the whole notebook, so moving a cell moves nothing.

Bounds: a cell is read to CELL_CHARS characters and a notebook to NOTEBOOK_CHARS (first
come, first served), so that the pure-Python tokenizer's time is bounded whatever a
notebook holds (half a second at worst, on a notebook of unclosed brackets, which is read
twice: tokenized, then split into words); a notebook keeps at most MAX_FINGERPRINTS, each with at most
MAX_PLACES places for the report.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import keyword
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

K = 5  # tokens per k-gram: shorter runs are what every solution of a small function shares
W = 4  # k-grams per window: a shared run of W + K - 1 = 8 tokens is always caught
CELL_CHARS = 20_000  # of one cell's source; the feedback page shows as much
NOTEBOOK_CHARS = 100_000  # of all cells but the starter's; the longest solution here is some 24,000
MAX_FINGERPRINTS = 10_000  # per notebook: five times the longest lab's solution
MAX_PLACES = 4  # places of one fingerprint kept for the report

KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_SKIPPED = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                      tokenize.ENCODING, tokenize.ENDMARKER})
_WORDS = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Token:
    """A normalised token and the lines of its cell it spans (1-based)."""

    text: str
    first: int
    last: int


@dataclass(frozen=True)
class Cell:
    """One cell as read: its place in the notebook (1-based), its kind, its source (cut)."""

    number: int
    kind: str
    source: str


@dataclass(frozen=True)
class Place:
    """Where a fingerprint came from: the cell (index into Fingerprints.cells) and its lines."""

    cell: int
    first: int
    last: int


@dataclass
class Fingerprints:
    """A notebook's fingerprints, each with where it occurs, and the cells they come from."""

    places: dict[int, list[Place]] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)

    def add(self, hashes: dict[int, Place]) -> None:
        """Record these fingerprints, up to MAX_FINGERPRINTS and MAX_PLACES each."""
        for value, place in hashes.items():
            known = self.places.get(value)
            if known is None and len(self.places) < MAX_FINGERPRINTS:
                self.places[value] = [place]
            elif known is not None and len(known) < MAX_PLACES:
                known.append(place)

    def without(self, removed: set[int] | frozenset[int]) -> Fingerprints:
        """These fingerprints but ``removed``, with the same cells."""
        return Fingerprints({h: p for h, p in self.places.items() if h not in removed}, self.cells)


def tokens(source: str, kind: str = "code") -> list[Token]:
    """The normalised tokens of one cell (see the module's docstring)."""
    if kind == "code":
        try:
            return list(_code_tokens(source))
        except (tokenize.TokenError, SyntaxError, ValueError):
            return list(_word_tokens(source, names=True))
    return list(_word_tokens(source.lower(), names=False))


def _code_tokens(source: str) -> Iterable[Token]:
    after_dot = False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _SKIPPED or not tok.string.strip():  # tokenize gives a stray space as an error token
            continue
        text = tok.string if after_dot and tok.type == tokenize.NAME else _normalised(tok)
        after_dot = tok.string == "."
        yield Token(text, tok.start[0], tok.end[0])


def _normalised(tok: tokenize.TokenInfo) -> str:
    if tok.type == tokenize.NAME:
        return tok.string if tok.string in KEPT_NAMES else "N"
    if tok.type == tokenize.NUMBER:
        return "0"
    if tok.type == tokenize.STRING:
        return '"'
    return tok.string


def _word_tokens(source: str, names: bool) -> Iterable[Token]:
    """Words and punctuation, line by line (lines as tokenize counts them); with ``names``,
    a word is normalised as an identifier would be (code that did not tokenize)."""
    for number, line in enumerate(source.split("\n"), 1):
        for word in _WORDS.findall(line):
            if word[0].isdigit():
                word = "0"
            elif names and (word[0].isalpha() or word[0] == "_") and word not in KEPT_NAMES:
                word = "N"
            yield Token(word, number, number)


def kgram_hashes(toks: list[Token]) -> list[int]:
    """The hash of every K consecutive tokens, in order, rolled (Karp-Rabin, modulo the prime
    2**61 - 1) over each token's own hash: one multiplication per token rather than a digest per
    k-gram. Stable across runs (blake2b, not Python's salted hash), so that the same batch
    always gives the same fingerprints and scores."""
    values = [_token_value(t.text) for t in toks]
    if len(values) < K:
        return []
    current = 0
    for value in values[:K]:
        current = (current * _BASE + value) % _PRIME
    hashes = [current]
    for old, new in zip(values, values[K:], strict=False):
        current = ((current - old * _LEADING) * _BASE + new) % _PRIME
        hashes.append(current)
    return hashes


_PRIME = 2**61 - 1
_BASE = 1_000_003
_LEADING = pow(_BASE, K - 1, _PRIME)  # the weight of the token leaving the window


@lru_cache(maxsize=65_536)
def _token_value(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()) % _PRIME


def winnow(hashes: list[int]) -> list[int]:
    """The positions winnowing selects: in each window of W hashes, the smallest, the rightmost
    of equal ones, each position once. Fewer hashes than W make one window."""
    chosen: list[int] = []
    width = min(W, len(hashes))
    for start in range(len(hashes) - width + 1 if hashes else 0):
        window = hashes[start:start + width]
        position = start + width - 1 - window[::-1].index(min(window))
        if not chosen or chosen[-1] != position:
            chosen.append(position)
    return chosen


def cell_fingerprints(toks: list[Token], cell: int) -> dict[int, Place]:
    """The winnowed fingerprints of one cell's tokens, each with the lines its k-gram spans."""
    hashes = kgram_hashes(toks)
    return {hashes[i]: Place(cell, toks[i].first, toks[i + K - 1].last) for i in winnow(hashes)}


def every_hash(cells: Iterable[tuple[str, str]]) -> set[int]:
    """Every k-gram hash of these (kind, source) cells, not only the winnowed ones: the starter
    notebook's, all of which are subtracted from every submission's fingerprints."""
    found: set[int] = set()
    for kind, source in cells:
        found.update(kgram_hashes(tokens(source[:CELL_CHARS], kind)))
    return found


def notebook_fingerprints(cells: Iterable[tuple[str, str]], given: frozenset[str] = frozenset()) -> Fingerprints:
    """The fingerprints of a notebook's (kind, source) cells, in order, within the bounds. A cell
    whose source is one of ``given`` (the starter notebook's cells, left as they were handed out)
    is not read: its k-grams would all be subtracted, and it spends none of the notebook's budget."""
    prints, budget = Fingerprints(), NOTEBOOK_CHARS
    for number, (kind, source) in enumerate(cells, 1):
        if budget <= 0:
            break
        if source in given:
            continue
        text = source[:min(CELL_CHARS, budget)]
        budget -= len(text)
        found = cell_fingerprints(tokens(text, kind), len(prints.cells))
        if found:
            prints.cells.append(Cell(number, kind, text))
            prints.add(found)
    return prints
