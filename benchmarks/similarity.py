"""What ``grade similarity`` costs on a class of 500, against reading and against difflib.

500 submissions of the example course's warm-up lab are generated (tests/similarity_batch.py:
honest answers in five variants per function, so that past 25 students many honest pairs are
alike in all but names, comments and scratch work, the inverted index's worst case; and a
near-copy of one student in fifty). Then, each
``--repeat`` times, the best kept:

- read: finding the submissions and tokenising every cell, nothing compared (the floor any
  comparison pays);
- similarity: the whole command, in this process (finding, reading, fingerprinting, the
  inverted index, the CSV and the HTML report);
- difflib: ``SequenceMatcher.ratio`` on the answer text of 50 random pairs, extrapolated to
  every pair of the class (what comparing raw text pair by pair would take).

With ``--lab ID``, the submissions are this repository's lab instead, each answering a random
half of its exercises with the solution's cells, every name renamed: notebooks of a real
lab's size. Run from the repository root::

    .venv/bin/python benchmarks/similarity.py [--students 500] [--repeat 3] [--lab 10-mlops]
"""

from __future__ import annotations

import argparse
import difflib
import io
import random
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from timing import best

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from similarity_batch import solution_batch, write_batch  # noqa: E402

from grader.cli.similarity import cmd_similarity  # noqa: E402
from grader.course.discover import discover  # noqa: E402
from grader.similarity.compare import notebook_cells  # noqa: E402
from grader.similarity.fingerprint import tokens  # noqa: E402

EXAMPLE = REPO / "examples" / "course"
SAMPLED_PAIRS = 50


def read_only(folder: Path, lab: str) -> None:
    for sub in discover([folder], [lab], lab):
        if sub.problem is None:
            for kind, source in notebook_cells(sub.read_bytes()):
                tokens(source, kind)


def similarity(folder: Path, course: Path, lab: str, out: Path) -> None:
    args = [str(folder), "--lab", lab, "--course", str(course), "--out", str(out)]
    cmd_similarity(args, Console(file=io.StringIO()))


def difflib_all_pairs(folder: Path, lab: str) -> float:
    """Seconds for SequenceMatcher on SAMPLED_PAIRS random pairs, scaled to every pair."""
    texts = ["\n".join(src for _, src in notebook_cells(sub.read_bytes())) for sub in discover([folder], [lab], lab)]
    rng = random.Random(0)
    sample = [rng.sample(range(len(texts)), 2) for _ in range(SAMPLED_PAIRS)]
    started = time.perf_counter()
    for i, j in sample:
        difflib.SequenceMatcher(None, texts[i], texts[j]).ratio()
    per_pair = (time.perf_counter() - started) / SAMPLED_PAIRS
    return per_pair * len(texts) * (len(texts) - 1) / 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--lab", help="a lab of this repository's course: its solution's cells, renamed, for the "
                   "submissions (default: the example course's warm-up, generated answers)")
    args = p.parse_args()
    course, lab = (REPO, args.lab) if args.lab else (EXAMPLE, "00-warmup")
    starter = course / "labs" / lab / "lab.ipynb"
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "subs", Path(tmp) / "out"
        copied: list[tuple[str, str]] = []
        if args.lab:
            solution_batch(folder, course / "solutions" / lab / "solution.ipynb", starter, args.students, seed=1)
        else:
            copies = args.students // 50
            copied = write_batch(folder, starter, args.students - copies, copies, seed=1)
        read = best(lambda: read_only(folder, lab), args.repeat)
        whole = best(lambda: similarity(folder, course, lab, out), args.repeat)
        diff = difflib_all_pairs(folder, lab)
        rows = (out / "similarity.csv").read_text().splitlines()[1:]
    ranks = sorted(n for n, row in enumerate(rows, 1) if tuple(row.split(",")[:2]) in set(copied))
    table = Table(title=f"grade similarity, {args.students} submissions of {lab} (best of {args.repeat})")
    for column in ("stage", "seconds", "x read"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for stage, seconds in (("read and tokenise", read), ("grade similarity", whole),
                           (f"difflib, {SAMPLED_PAIRS} pairs extrapolated", diff)):
        table.add_row(stage, f"{seconds:.2f}", f"{seconds / read:.1f}")
    Console().print(table)
    print(f"pairs in the CSV: {len(rows)}")
    if copied:
        print(f"the {len(copied)} near-copy pairs rank {ranks} (honest students past 25 repeat each other's "
              "variants, differing only in names, comments and scratch work)")


if __name__ == "__main__":
    main()
