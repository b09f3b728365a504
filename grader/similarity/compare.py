"""A batch's notebooks fingerprinted and their pairs scored, through an inverted index.

The score of a pair is the share of the smaller notebook's fingerprints that the other holds
too, |A ∩ B| / min(|A|, |B|): symmetric, 1 when one answer is contained in the other (a copy
with work added still scores high), 0 when they share nothing. It is computed on what is
left after two subtractions:

- the starter code: every k-gram of the lab's own notebook (``labs/<id>/lab.ipynb``), so
  that the prompt, the stubs and the ``check`` cells every student received never count;
- boilerplate: a fingerprint held by more than COMMON_SHARE of the readable notebooks is
  what everyone writes (``return x * x``), not a copy. Only in a class of at least MIN_CLASS:
  in a smaller one, half the class is a handful of students, who may well share more than
  boilerplate (six of ten handing in the same answer are six of a kind, not six blank
  notebooks).

A notebook left with fewer than MIN_FINGERPRINTS scores 0 with everyone and is listed as
skipped, with that reason: a handful of fingerprints would make any shared line look like a
copy. Pairs are counted from an inverted index, fingerprint to notebooks, so the work grows
with the fingerprints two notebooks share rather than with every pair of texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations

from grader.course.discover import Submission, shown
from grader.course.notebook_file import load_notebook, reason
from grader.similarity.fingerprint import Fingerprints, every_hash, notebook_fingerprints

COMMON_SHARE = 0.5
MIN_CLASS = 20  # readable notebooks
MIN_FINGERPRINTS = 10
ROUNDING = 3  # decimals of a score


@dataclass(frozen=True)
class Pair:
    """Two students (a < b), their score and the fingerprints they share."""

    a: str
    b: str
    score: float
    shared: frozenset[int] = frozenset()  # filled in only for the pairs the page shows


@dataclass
class Batch:
    """What was read: each readable student's fingerprints, and why the others were skipped."""

    prints: dict[str, Fingerprints]
    skipped: dict[str, str]
    dropped_common: int = 0


def notebook_cells(data: bytes) -> list[tuple[str, str]]:
    """The (kind, source) of every code and markdown cell of a notebook's bytes, read within
    grader.course.notebook_file's bounds; ValueError if they are not a notebook."""
    cells = []
    for cell in load_notebook(data)["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] in ("code", "markdown"):
            cells.append((cell["cell_type"], source))
    return cells


@dataclass(frozen=True)
class Starter:
    """What every student was given: the starter notebook's cells and all their k-gram hashes."""

    cells: frozenset[str]
    hashes: frozenset[int]


def read_starter(data: bytes) -> Starter:
    """The lab's starter notebook (its bytes), read as a submission is."""
    cells = notebook_cells(data)
    return Starter(frozenset(source for _, source in cells), frozenset(every_hash(cells)))


def read_batch(subs: Iterable[Submission], starter: Starter, advance: Callable[[str], None] = lambda _: None
               ) -> Batch:
    """Each submission fingerprinted, the starter's k-grams and the class's boilerplate removed;
    a submission that cannot be read, or leaves too few fingerprints, is skipped with its reason.
    ``advance`` is called with each student's name as they are read."""
    batch = Batch({}, {})
    for sub in subs:
        if sub.problem is not None:
            batch.skipped[sub.student] = sub.problem
        else:
            try:
                prints = notebook_fingerprints(notebook_cells(sub.read_bytes()), starter.cells)
                batch.prints[sub.student] = prints.without(starter.hashes)
            except (OSError, ValueError) as exc:
                batch.skipped[sub.student] = f"not a readable notebook: {reason(exc)}"
        advance(shown(sub.student))
    _drop_common(batch)
    for student, prints in list(batch.prints.items()):
        if len(prints.places) < MIN_FINGERPRINTS:
            batch.skipped[student] = (f"{len(prints.places)} fingerprints of its own, the starter's and the class's "
                                      f"common code set aside (fewer than {MIN_FINGERPRINTS}): scored 0")
            del batch.prints[student]
    return batch


def _drop_common(batch: Batch) -> None:
    """Remove the fingerprints more than COMMON_SHARE of the class holds."""
    if len(batch.prints) < MIN_CLASS:
        return
    counts = Counter(h for prints in batch.prints.values() for h in prints.places)
    common = {h for h, n in counts.items() if n > COMMON_SHARE * len(batch.prints)}
    batch.dropped_common = len(common)
    for student, prints in batch.prints.items():
        batch.prints[student] = prints.without(common)


def pairs(batch: Batch) -> list[Pair]:
    """Every pair sharing a fingerprint, most similar first; among equal scores, the pair sharing
    more fingerprints first (a notebook of two answers contained in another's scores 1 as a whole
    copy does, on less evidence), then by name. From the inverted index: a fingerprint held by
    n notebooks adds to n(n-1)/2 pairs, and in a class of MIN_CLASS or more none is held by more
    than half of it."""
    students = sorted(batch.prints)
    index: dict[int, list[int]] = {}
    for number, student in enumerate(students):
        for h in batch.prints[student].places:
            index.setdefault(h, []).append(number)
    shared: Counter[tuple[int, int]] = Counter()
    for holders in index.values():
        if len(holders) > 1:
            shared.update(combinations(holders, 2))
    found = []
    for (i, j), count in shared.items():
        a, b = batch.prints[students[i]].places, batch.prints[students[j]].places
        found.append((-round(count / min(len(a), len(b)), ROUNDING), -count, students[i], students[j]))
    found.sort()
    return [Pair(a, b, -score) for score, _, a, b in found]


def with_shared(batch: Batch, pair: Pair) -> Pair:
    """The pair with the fingerprints its two notebooks share, for the report (computed only for
    the pairs shown, not kept for every pair)."""
    a, b = batch.prints[pair.a].places, batch.prints[pair.b].places
    return Pair(pair.a, pair.b, pair.score, frozenset(a.keys() & b.keys()))
