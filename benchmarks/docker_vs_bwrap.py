"""Per-submission cost of the Docker backend against the default bubblewrap sandbox.

Both runs grade the same submissions of the example lab (copies of a correct,
a partly right and a blank notebook) with ``grade``, one at a time (``-j 1``)
so that the difference per submission is the backend's own overhead: starting
a container through the Docker API instead of a bubblewrap namespace. The
image size is printed too. The image must be built (``make image``).

Run from the repository root::

    .venv/bin/python benchmarks/docker_vs_bwrap.py [-n 12]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import docker
from rich.console import Console
from rich.table import Table

from grade_vs_nbclient import BenchmarkError, build_submissions, time_grade, verify_gradebook
from grader.engine.sandbox import image
def benchmark(count: int, console: Console) -> None:
    client = docker.from_env()
    tag = image.current_image(client)
    if tag is None:
        raise BenchmarkError("the grading image is not built: run 'make image'")
    rows = []
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        folder = Path(tmp) / "submissions"
        sources = build_submissions(folder, count)
        for backend in ("bwrap", "docker"):
            out = Path(tmp) / f"out-{backend}"
            with console.status(f"grade -j 1 --backend {backend}"):
                seconds = time_grade(folder, out, 1, ["--backend", backend])
            verify_gradebook(out, sources)
            rows.append((backend, seconds))
    table = Table(title=f"{count} submissions, one at a time")
    for column in ("backend", "wall s", "s / submission", "vs bwrap"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for backend, seconds in rows:
        table.add_row(backend, f"{seconds:.1f}", f"{seconds / count:.2f}", f"{seconds / rows[0][1]:.2f}x")
    console.print(table)
    size = client.images.get(tag).attrs["Size"] / 2**20
    print(f"image {tag}: {size:.0f} MiB")
    print(f"docker overhead per submission: {(rows[1][1] - rows[0][1]) / count:.2f} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--count", type=int, default=12)
    args = p.parse_args()
    console = Console()
    try:
        benchmark(args.count, console)
    except BenchmarkError as exc:
        console.print(f"[red]benchmark failed:[/] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
