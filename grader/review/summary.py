"""What the review pages show, computed from the grades folder: each lab's reviewed results,
its tests' pass rates, its statuses, its exercises and the cells of an exercise's answer.

Read afresh for every page (a grades folder is a few files per student), so a page always
shows what is on disk, including what another ``grade`` run or reviewer just wrote.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from grader import bounded
from grader.report.feedback import EXECUTED_BYTES
from grader.results.model import NOT_RUN, OTHER, TestStatus
from grader.review.publish import executed_text, latest_results
from grader.review.store import Reviewed, reviewed_all
from grader.testing.exercises import cell_exercise

MAX_CELLS = 20  # cells of one exercise shown for one student
CELL_CHARS = 8_000  # of one cell's source, and of one cell's outputs together


@dataclass(frozen=True)
class TestRate:
    """How one test did across a lab's results: a test every student fails is likely a bug in it."""

    name: str
    hidden: bool
    passed: int
    ran: int

    @property
    def rate(self) -> float:
        return self.passed / self.ran if self.ran else 0.0

    @property
    def suspicious(self) -> bool:
        return self.ran > 0 and self.passed == 0


@dataclass(frozen=True)
class Cell:
    source: str
    outputs: str


def by_lab(out_dir: Path) -> dict[str, list[Reviewed]]:
    """Every (student, lab)'s latest result with its overrides, by lab, each lab's by student."""
    labs: dict[str, list[Reviewed]] = {}
    for found in reviewed_all(out_dir, latest_results(out_dir)):
        labs.setdefault(found.result.lab, []).append(found)
    return {lab: sorted(found, key=lambda r: r.result.student) for lab, found in sorted(labs.items())}


def percents(results: list[Reviewed]) -> list[float]:
    """Each score, overrides in force, as a percentage of its maximum (results with no maximum left
    out), before any late penalty: the picture is of the answers, not of when they came."""
    return [100 * r.result.score / r.result.max_score for r in results if r.result.max_score > 0]


def statuses(results: list[Reviewed]) -> Counter:
    return Counter(str(r.result.status) for r in results)


def test_rates(results: list[Reviewed]) -> list[TestRate]:
    """Every test's automatic pass rate, hidden ones included, the lowest first."""
    passed: Counter = Counter()
    ran: Counter = Counter()
    hidden: dict[str, bool] = {}
    for r in results:
        for test in r.automatic.tests:
            hidden.setdefault(test.name, test.hidden)
            if test.status != NOT_RUN:
                ran[test.name] += 1
                passed[test.name] += test.status == TestStatus.PASSED
    rates = [TestRate(name, hidden[name], passed[name], ran[name]) for name in hidden]
    return sorted(rates, key=lambda t: (t.ran == 0, t.rate, t.name))


def items(results: list[Reviewed]) -> list[str]:
    """The lab's exercises (and OTHER for tests of none), in the order they first appear."""
    return list(dict.fromkeys(t.exercise or OTHER for r in results for t in r.automatic.tests))


def item_tests(reviewed: Reviewed, item: str) -> list[int]:
    """The indices of the tests of one exercise (OTHER: of none) in a result."""
    return [i for i, t in enumerate(reviewed.automatic.tests) if (t.exercise or OTHER) == item]


def progress(results: list[Reviewed], item: str) -> tuple[int, int]:
    """(results with a test of ``item`` graded by hand or overridden, results with a test of it)."""
    with_item = [r for r in results if item_tests(r, item)]
    return sum(any(i in r.applied for i in item_tests(r, item)) for r in with_item), len(with_item)


def answer_cells(out_dir: Path, reviewed: Reviewed, item: str) -> list[Cell] | None:
    """The code cells of the executed notebook that belong to ``item``, each cut to its bound;
    None when the notebook as it ran was not kept."""
    text = executed_text(out_dir, reviewed.automatic)
    try:
        doc = bounded.loads(text, EXECUTED_BYTES, "the executed notebook") if text else None
    except ValueError:
        doc = None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        return None
    cells = [c if isinstance(c, dict) else {} for c in cells]
    wanted = "" if item == OTHER else item.casefold()
    chosen = [c for i, c in enumerate(cells) if c.get("cell_type") == "code" and cell_exercise(cells, i) == wanted]
    return [Cell(_cut(_text(c.get("source"))), _cut(_outputs(c.get("outputs")))) for c in chosen[:MAX_CELLS]]


def _outputs(outputs: object) -> str:
    """An output's text as a reader needs it: streams, plain results, errors' name and value."""
    texts = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            texts.append(_text(output.get("text")))
        elif output.get("output_type") == "error":
            texts.append(f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}")
        elif isinstance(output.get("data"), dict):
            texts.append(_text(output["data"].get("text/plain")))
        if sum(map(len, texts)) > CELL_CHARS:
            break
    return "\n".join(texts)


def _text(value: object) -> str:
    if isinstance(value, list):
        return "".join(v for v in value[:10_000] if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _cut(text: str) -> str:
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + f"\n[{len(text) - CELL_CHARS} more characters cut]"
