"""``grade similarity PATH... --lab ID [--out DIR] [--course DIR]``: which submissions look copied.

The submissions are found as ``grade`` finds them (grader.course.discover, with its bounds and
its one-notebook-per-student rule), every one taken as the lab ``--lab``; the lab's starter
notebook is what every student received and is subtracted. Nothing is executed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.cli.grade import output_folder
from grader.course.discover import discover, shown
from grader.course.layout import Course
from grader.course.notebook_file import read_file, reason
from grader.errors import ExitCode, UsageError
from grader.similarity.compare import pairs, read_batch, read_starter
from grader.similarity.page import write_csv, write_html

SHOWN_PAIRS = 10  # printed on the terminal


def cmd_similarity(argv: list[str], console: Console) -> int:
    p = argparse.ArgumentParser(prog="grade similarity", description="Score how similar the submissions of a lab "
                                "are to each other (winnowed fingerprints of the answer cells, the starter code "
                                "subtracted) and write similarity.csv and similarity.html.")
    p.add_argument("paths", nargs="+", type=Path, help="notebooks, zips, or folders of them (as grade takes them)")
    p.add_argument("--lab", required=True, help="the lab they are for; its labs/<id>/lab.ipynb is the starter code")
    p.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    p.add_argument("--course", type=Path, help="the course folder (default: the current folder)")
    args = p.parse_args(argv)
    course = Course.find(args.course)
    lab = course.lab(args.lab)
    try:
        starter = read_starter(read_file(lab.notebook))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{lab.notebook}: the lab's starter notebook cannot be read ({reason(exc)}); "
                         "run grade assign to write it") from None
    subs = [s for s in discover(args.paths, course.lab_ids(), args.lab) if s.lab == args.lab]
    if not subs:
        raise UsageError("no notebooks found under " + ", ".join(map(str, args.paths)))
    output_folder(args.out)
    with _progress(console, len(subs)) as advance:
        batch = read_batch(subs, starter, advance)
    found = pairs(batch)
    csv_path, html_path = write_csv(args.out, found), write_html(args.out, args.lab, batch, found)
    for pair in found[:SHOWN_PAIRS]:
        console.print(escape(f"{pair.score:g}  {shown(pair.a)} · {shown(pair.b)}"), highlight=False)
    for student, why in sorted(batch.skipped.items()):
        console.print(escape(f"skipped {shown(student)}: {shown(why)}"), highlight=False, soft_wrap=True)
    console.print(f"{len(batch.prints)} compared, {len(batch.skipped)} skipped, {len(found)} pairs share code")
    console.print(escape(f"wrote {csv_path} and {html_path}"), highlight=False)
    return ExitCode.OK


@contextmanager
def _progress(console: Console, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar over the notebooks read; yields the function to call with each name."""
    bar = Progress(TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=console, transient=True)
    with bar:
        task = bar.add_task("", total=total)
        yield lambda name: bar.update(task, advance=1, description=escape(name))
