"""What judging a notebook's work from outside its kernel costs, against doing it on the host.

00-python-git's git and mutation kits never trust the student's kernel: the repository is packed
in the kernel and read by git in a fresh sandbox, and each implementation the student's tests run
against gets a fresh sandbox of its own. This measures that isolation, ``--repeat`` times each,
the median printed with its ratio to a baseline that does the same work on the host, unsandboxed:

- git: the baseline runs the same git commands (rev-list, log, ls-tree of every commit, cat-file
  of every file, check-ignore, status) on the folder; the kit packs, sandboxes, reads and checks;
- mutation: the baseline runs ``python -m pytest`` on the host once per implementation; the kit
  runs each in a fresh sandbox.

Both use the lab's own material: the solution's story of a repository (a merge, a revert, a
secret) and its ``test_textutils.py`` against the reference, the rewrite and the five mutants.
Needs bubblewrap; Docker is measured too where its image is built. From the repository root::

    .venv/bin/python benchmarks/outside_probes.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table
from timing import median

from grader.engine.sandbox import get_backend
from grader.kits.git.inspect import inspect_repository
from grader.kits.mutation.run import run_tests
from grader.testing.live import LiveNotebook

LAB = Path(__file__).resolve().parents[1] / "solutions" / "00-python-git"
SECRET = "sk-live-0123456789abcdef"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout


def make_repository(folder: Path) -> None:
    """The lab's story: ignore rules, a leaked key, a branch merged with a conflict, a revert."""
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Bench")
    git(folder, "config", "user.email", "bench@example.org")
    steps = [(".gitignore", ".env\ndata/\n", "Ignore secrets and data"), ("app.py", f"KEY = '{SECRET}'\n", "Add app"),
             ("notes.txt", "status: draft\n", "Add notes"), ("broken.py", "raise SystemExit\n", "Add a broken module")]
    for name, text, message in steps:
        (folder / name).write_text(text)
        git(folder, "add", name)
        git(folder, "commit", "-q", "-m", message)
    git(folder, "revert", "--no-edit", "HEAD")
    git(folder, "branch", "feature", "HEAD~2")
    for branch, status, message in (("feature", "waiting", "Wait for QA"), ("main", "ready", "Ready to ship")):
        git(folder, "switch", "-q", branch)
        (folder / "notes.txt").write_text(f"status: {status}\n")
        git(folder, "commit", "-q", "-am", message)
    subprocess.run(["git", "-C", str(folder), "merge", "-q", "feature"], capture_output=True)
    (folder / "notes.txt").write_text("status: ready\nstatus: waiting\n")
    git(folder, "commit", "-q", "-am", "Merge feature, both statuses kept")


def host_git_read(folder: Path) -> None:
    """The same facts, from the host's git on the folder itself: nothing packed, nothing isolated."""
    shas = git(folder, "rev-list", "--all", "HEAD").split()
    git(folder, "log", "--no-walk=unsorted", "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%B", *shas)
    blobs = {line.split()[2] for sha in shas for line in git(folder, "ls-tree", "-r", sha).splitlines()}
    subprocess.run(["git", "-C", str(folder), "cat-file", "--batch"], input="\n".join(blobs), capture_output=True,
                   text=True, check=True)
    subprocess.run(["git", "-C", str(folder), "check-ignore", "--no-index", ".env", "data/x.csv"], capture_output=True)
    git(folder, "status", "--porcelain", "--untracked-files=no")


def student_tests() -> bytes:
    """The solution's test_textutils.py: its q5 cell without the %%writefile line and the markers."""
    nb = nbformat.read(LAB / "solution.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "q5" in c.metadata.get("tags", []))
    lines = [line for line in cell.source.splitlines()[1:] if "SOLUTION" not in line]
    return "\n".join(lines).encode() + b"\n"


def implementations() -> dict[str, str]:
    variants = {p.stem: p.read_text() for p in sorted((LAB / "tests" / "variants").glob("*.py"))}
    return {"reference": (LAB / "files" / "textutils.py").read_text(), **variants}


def host_pytest(tests: bytes, sources: dict[str, str], scratch: Path) -> None:
    """``python -m pytest`` on the host, one folder per implementation."""
    for name, source in sources.items():
        folder = scratch / name
        folder.mkdir(exist_ok=True)
        (folder / "test_textutils.py").write_bytes(tests)
        (folder / "textutils.py").write_text(source)
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder,
                       capture_output=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """The current folder is ``folder``: a LiveNotebook's kernel is this process, reading from here."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def backends() -> list[str]:
    """bwrap, and docker where its engine and image are there."""
    try:
        get_backend("docker")
        return ["bwrap", "docker"]
    except Exception:  # no engine, no SDK, no image: measured where it is
        return ["bwrap"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    table = Table(title="judging from outside the kernel (median seconds; ratio to the host baseline)")
    for column in ("work", "how", "seconds", "ratio"):
        table.add_column(column)
    tests, sources = student_tests(), implementations()
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp:
        work = Path(tmp)
        (work / "project").mkdir()
        make_repository(work / "project")
        rows = [("git", "host git on the folder", lambda: host_git_read(work / "project")),
                ("mutation", f"host pytest x {len(sources)}", lambda: host_pytest(tests, sources, work))]
        for backend in backends():
            sandbox = get_backend(backend)
            rows += [("git", f"inspect_repository ({backend})",
                      lambda s=sandbox: inspect_repository(LiveNotebook({}), "project", (SECRET,), (".env",), s)),
                     ("mutation", f"run_tests x {len(sources)} ({backend})",
                      lambda s=sandbox: run_tests(s, {"test_textutils.py": tests}, "textutils", sources))]
        with inside(work):
            measured = [(work_name, how, median(fn, args.repeat)) for work_name, how, fn in rows]
    baselines = {work_name: seconds for work_name, how, seconds in measured if how.startswith("host")}
    for work_name, how, seconds in measured:
        table.add_row(work_name, how, f"{seconds:.3f}", f"{seconds / baselines[work_name]:.1f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
