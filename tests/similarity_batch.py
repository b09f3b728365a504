"""Generated submissions of the example course's warm-up lab, for grade similarity's tests and benchmark.

Honest students answer the lab's four functions (square, mean, word_counts, standardize),
each in one of VARIANTS ways (different algorithms and idioms), with names of their own, a
comment or none, and a few checks of their own in a cell of scratch work. Their choices of
variant form a code in which two students share the same variant of at most one function
((a, b, a + b, a + 2b) mod 5: two codewords agree in at most one place), so that two honest
notebooks agree at most as much as two people who happened on the same idea once.

A near-copy is another student's notebook with every name changed, two answer cells swapped,
comments and blank lines changed and a dead line added to one answer; its scratch work is the
original's.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.similarity.fingerprint import KEPT_NAMES

VARIANTS = 5
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
ANSWER_CELLS = {"square": 3, "mean": 6, "word_counts": 9, "standardize": 12}  # in the lab's notebook
NAMES = ["x", "v", "val", "num", "data", "values", "items", "arr", "a", "xs", "total", "acc", "n", "count", "k",
         "w", "word", "token", "tok", "counts", "freq", "table", "result", "out", "res", "m", "mu", "avg", "s",
         "sd", "sigma", "std", "tmp", "y", "z", "seq", "elems", "nums", "text", "t", "words", "parts", "i", "j"]

BODIES = {
    "square": [
        "return {a} * {a}",
        "{b} = {a} ** 2\nreturn {b}",
        "{b} = {a}\n{b} *= {a}\nreturn {b}",
        "import math\nif isinstance({a}, int):\n    return {a} * {a}\nreturn math.pow({a}, 2)",
        "return pow({a}, 2)",
    ],
    "mean": [
        "if not {a}:\n    return None\nreturn sum({a}) / len({a})",
        "{b} = 0\n{c} = 0\nfor {d} in {a}:\n    {b} += {d}\n    {c} += 1\nreturn {b} / {c} if {c} else None",
        "import statistics\nreturn statistics.mean({a}) if len({a}) > 0 else None",
        "try:\n    return sum({a}) / len({a})\nexcept ZeroDivisionError:\n    return None",
        "{c} = len({a})\nif {c} == 0:\n    return None\n{b} = 0.0\nfor {d} in range({c}):\n"
        "    {b} = {b} + {a}[{d}]\nreturn {b} / {c}",
    ],
    "word_counts": [
        "{b} = {{}}\nfor {c} in {a}.lower().split():\n    {b}[{c}] = {b}.get({c}, 0) + 1\nreturn {b}",
        "from collections import Counter\nreturn dict(Counter({a}.lower().split()))",
        "{b} = {{}}\nfor {c} in {a}.split():\n    {c} = {c}.lower()\n    if {c} in {b}:\n        {b}[{c}] += 1\n"
        "    else:\n        {b}[{c}] = 1\nreturn {b}",
        "{d} = [{c}.lower() for {c} in {a}.split()]\nreturn {{{c}: {d}.count({c}) for {c} in set({d})}}",
        "from collections import defaultdict\n{b} = defaultdict(int)\nfor {c} in {a}.split():\n"
        "    {b}[{c}.lower()] += 1\nreturn dict({b})",
    ],
    "standardize": [
        "{b} = np.asarray({a}, dtype=float)\nreturn ({b} - {b}.mean()) / {b}.std()",
        "{b} = np.array({a}, dtype=np.float64)\n{c} = np.mean({b})\n{d} = np.std({b})\nreturn ({b} - {c}) / {d}",
        "{b} = [float({c}) for {c} in {a}]\n{d} = sum({b}) / len({b})\n"
        "{e} = (sum(({c} - {d}) ** 2 for {c} in {b}) / len({b})) ** 0.5\n"
        "return np.array([({c} - {d}) / {e} for {c} in {b}])",
        "{b} = np.asarray({a}).astype(float)\n{b} = {b} - {b}.mean()\n{b} /= {b}.std()\nreturn {b}",
        "{b} = np.asarray({a}, dtype=float)\n{c} = {b} - np.mean({b})\nreturn {c} / np.sqrt(np.mean({c} ** 2))",
    ],
}
SCRATCH = [
    "print(square(-4), square(2.5))",
    "assert mean([]) is None\nassert mean([1, 2, 3]) == 2",
    "for sentence in ['a b a', 'To be or not TO BE']:\n    print(word_counts(sentence))",
    "z = standardize([10, 20, 30])\nprint(z.mean(), z.std())",
    "import matplotlib.pyplot as plt\nplt.hist(standardize(np.random.rand(100)))",
    "print({k: v for k, v in sorted(word_counts('x y x').items())})",
    "results = [mean(list(range(n))) for n in range(1, 6)]\nprint(results)",
    "while True:\n    print(square(3))\n    break",
    "data = np.arange(12).reshape(3, 4)\nprint(standardize(data.ravel()).round(2))",
    "print(len(word_counts('the cat and the hat')) == 4)",
]
COMMENTS = ["# my answer", "# tried a loop first", "# works for the examples", "# TODO: tidy", ""]


@dataclass(frozen=True)
class Student:
    """One student's choices: a variant per function and a random source for everything else."""

    name: str
    variants: tuple[int, int, int, int]
    seed: int  # names and comments
    scratch: int  # which checks of their own


def honest_choices(count: int) -> list[tuple[int, int, int, int]]:
    """``count`` choices; the first VARIANTS ** 2 share at most one function's variant two by two.
    Past those they repeat (a benchmark's large class: many pairs alike in every function but
    names, comments and scratch work, the index's worst case)."""
    codes = [(a, b, (a + b) % VARIANTS, (a + 2 * b) % VARIANTS) for a in range(VARIANTS) for b in range(VARIANTS)]
    return [codes[n % len(codes)] for n in range(count)]


def answer(function: str, variant: int, rng: random.Random) -> str:
    """One function's answer cell: the lab's def line and docstring kept, the stub replaced."""
    names = rng.sample(NAMES, 5)
    body = BODIES[function][variant].format(a=names[0], b=names[1], c=names[2], d=names[3], e=names[4])
    comment = rng.choice(COMMENTS)
    lines = ([comment] if comment else []) + body.split("\n")
    return f"def {function}({names[0]}):\n" + "\n".join("    " + line for line in lines)


def student_notebook(starter: nbformat.NotebookNode, student: Student, copy: bool = False) -> nbformat.NotebookNode:
    """The lab's notebook with this student's answers (a near-copy's, when ``copy``: other names,
    two answer cells swapped, a dead line, other comments)."""
    rng = random.Random(student.seed)
    nb = nbformat.from_dict(starter)
    answers = [answer(f, v, rng) for f, v in zip(ANSWER_CELLS, student.variants, strict=True)]
    if copy:
        answers[1] = answers[1].replace("\n", "\n    unused = None\n", 1)
        answers = [text.replace("\n    ", "\n\n    ", 1) for text in answers]
    for index, text in zip(ANSWER_CELLS.values(), answers, strict=True):
        nb.cells[index] = nbformat.v4.new_code_cell(text)
    if copy:
        first, second = ANSWER_CELLS["mean"], ANSWER_CELLS["standardize"]
        nb.cells[first], nb.cells[second] = nb.cells[second], nb.cells[first]
    scratch_rng = random.Random(student.scratch)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell("\n".join(scratch_rng.sample(SCRATCH, 3))))
    return nb


def write_batch(folder: Path, starter_path: Path, honest: int, copies: int, seed: int) -> list[tuple[str, str]]:
    """``honest`` students and ``copies`` near-copies of the first few, written as
    ``folder/<student>.ipynb``; returns the copied pairs (original, copy), each sorted."""
    starter = nbformat.read(starter_path, as_version=4)
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    students = [Student(f"s{n:03d}", v, rng.randrange(2**32), rng.randrange(2**32))
                for n, v in enumerate(honest_choices(honest))]
    rng.shuffle(students)
    for student in students:
        nbformat.write(student_notebook(starter, student), folder / f"{student.name}.ipynb")
    copied = []
    for n, original in enumerate(students[:copies]):
        copy = Student(f"c{n:03d}", original.variants, rng.randrange(2**32), original.scratch)
        nbformat.write(student_notebook(starter, copy, copy=True), folder / f"{copy.name}.ipynb")
        copied.append(tuple(sorted((original.name, copy.name))))
    return copied


def renamed(source: str, rng: random.Random) -> str:
    """``source`` with every identifier but keywords, builtins and attributes renamed, a comment
    added to each line and the blank lines changed."""
    names: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        word, dot = match.group(2), match.group(1)
        if dot or word in KEPT_NAMES:
            return match.group(0)
        return dot + names.setdefault(word, f"v{rng.randrange(10**6)}_{len(names)}")
    code = re.sub(r"(\.?)\b([A-Za-z_]\w*)\b", rename, source)
    return "\n\n".join(f"{line}  # note {rng.random()}" if line.strip() else line for line in code.split("\n"))


def solution_batch(folder: Path, solution: Path, starter: Path, students: int, seed: int) -> None:
    """``students`` notebooks of a real lab: each answers a random half of the exercises with
    the solution's cells, every name renamed, and leaves the starter's cells in the others (a
    realistic size of notebook, and many pairs sharing a quarter of their answers)."""
    solved, given = nbformat.read(solution, as_version=4), nbformat.read(starter, as_version=4)
    answers = [i for i, (s, g) in enumerate(zip(solved.cells, given.cells, strict=False)) if s.source != g.source]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(students):
        nb = nbformat.from_dict(given)
        for index in rng.sample(answers, len(answers) // 2):
            nb.cells[index] = nbformat.v4.new_code_cell(renamed(solved.cells[index].source, rng)) \
                if solved.cells[index].cell_type == "code" else solved.cells[index]
        nbformat.write(nb, folder / f"r{n:03d}.ipynb")
