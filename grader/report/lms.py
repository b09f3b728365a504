"""Grades out to an LMS: a Gradescope autograder zip, a Canvas gradebook CSV.

**Gradescope.** ``grade export gradescope LAB`` writes a zip Gradescope unpacks
into ``/autograder/source``: ``setup.sh`` (installs bubblewrap and this grader
from ``grader-src/``), ``run_autograder`` (grades ``/autograder/submission``
with this grader and writes ``/autograder/results/results.json``) and
``course/`` (the lab's student files, public and hidden tests and ``lab.toml``;
not the solution notebook). ``run_autograder`` takes its root from
``AUTOGRADER_ROOT`` (default ``/autograder``), its Python from
``GRADER_PYTHON`` (default the venv ``setup.sh`` made), and its sandbox from
``GRADER_SANDBOX``: ``bwrap``, ``none`` or ``auto`` (the default: bubblewrap
if it works in Gradescope's container, else unsandboxed, said in the output,
with Gradescope's per-submission container as the only wall). Choose a base
image with Python 3.11 or newer (Ubuntu 24.04). A lab's deadline is not applied
there: Gradescope keeps its own due dates and late policy.

**Canvas.** ``grade export canvas`` writes the CSV Canvas's gradebook import
takes, from the latest grade of every (student, lab) in the history:

| column | value |
|---|---|
| Student | the student's name as the grader knows it (file or folder name) |
| ID | empty: Canvas's internal user id is not known to the grader |
| SIS User ID | empty |
| SIS Login ID | the student's name: name submissions by Canvas login for Canvas to match them |
| Section | empty |
| one column per lab, headed by the lab id | the points: overrides in, late penalty off; empty if no grade |

A second row, ``Points Possible``, holds each lab's maximum, which Canvas uses
when the import creates the assignment. Every text cell is defused against
spreadsheet formulas as in ``gradebook.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from grader.course.layout import Course, Lab
from grader.engine.sandbox import SandboxUnavailable, get_backend
from grader.engine.sandbox.base import package_dir
from grader.errors import UsageError
from grader.files import atomic_write
from grader.results import history
from grader.results.model import NOT_RUN, Result, Status, TestResult
from grader.results.store import csv_cell, read_result
from grader.review import store as review
from grader.review.store import Override

CANVAS_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same zip
SKIP = ("__pycache__", ".ipynb_checkpoints")
GRADESCOPE_VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")
CANVAS_FILE = "canvas-grades.csv"  # the file ``grade export canvas`` writes unless told otherwise

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap util-linux >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet "./grader-src[all]"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade it, write results/results.json.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{GRADER_PYTHON:-$ROOT/venv/bin/python}}"
exec "$PYTHON" -m grader.report.lms gradescope-run --root "$ROOT" --lab {lab}
"""


# --- Gradescope: the zip ------------------------------------------------------------

def gradescope_zip(course: Course, lab_id: str, out: Path) -> Path:
    """Write the autograder zip for ``lab_id`` to ``out``."""
    lab = course.lab(lab_id)
    source = package_dir().parent
    if not (source / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{source}: not the grader's source tree (no pyproject.toml); "
                                "export from a source checkout")
    entries = {"setup.sh": SETUP_SH.encode(), "run_autograder": RUN_AUTOGRADER.format(lab=_shell_word(lab.id)).encode()}
    for name in ("pyproject.toml", "README.md"):
        if (source / name).is_file():
            entries[f"grader-src/{name}"] = (source / name).read_bytes()
    entries.update(_tree(package_dir(), "grader-src/grader"))
    entries.update(_lab_files(lab))
    with _writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, ZIP_TIME)
                executable = name in ("setup.sh", "run_autograder")
                info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, entries[name])
    return out


def gradescope_file(lab_id: str) -> str:
    """The zip's name unless told otherwise."""
    return f"gradescope-{lab_id}.zip"


@contextlib.contextmanager
def _writing(out: Path):
    """Writing where the user said to write: a folder in the way or one that cannot be made or
    written to is their mistake, in one line."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None


def _lab_files(lab: Lab) -> dict[str, bytes]:
    """What grading the lab needs: its student folder, hidden tests and settings."""
    entries = _tree(lab.lab_dir, f"course/labs/{lab.id}")
    entries.update(_tree(lab.hidden_tests, f"course/solutions/{lab.id}/tests"))
    toml = lab.solution_dir / "lab.toml"
    if toml.is_file():
        entries[f"course/solutions/{lab.id}/lab.toml"] = toml.read_bytes()
    else:  # keeps solutions/<lab>/ in the zip, so the course knows the lab
        entries[f"course/solutions/{lab.id}/lab.toml"] = b""
    return entries


def _tree(folder: Path, prefix: str) -> dict[str, bytes]:
    """Every regular file under ``folder`` (no symlinks, no caches), by zip name."""
    if not folder.is_dir():
        return {}
    return {f"{prefix}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and not any(part in SKIP for part in p.parts)}


def _shell_word(text: str) -> str:
    """Quote ``text`` for bash: a lab id is the instructor's, but quoting costs nothing."""
    return "'" + text.replace("'", "'\\''") + "'"


# --- Gradescope: inside the autograder ---------------------------------------------

def gradescope_run(root: Path, lab_id: str, sandbox: str = "auto") -> dict:
    """Grade the submission under ``root/submission`` and write ``root/results/results.json``."""
    notebooks = _submitted_notebooks(root / "submission", lab_id)
    if len(notebooks) != 1:
        found = ", ".join(p.name for p in notebooks) or "none"
        data = _failure(f"Submit exactly one notebook (.ipynb) for {lab_id}; found: {found}.")
    else:
        try:
            data = _grade_one(root, notebooks[0], lab_id, _backend_args(sandbox))
        except Exception as exc:
            data = _failure(f"The grader failed ({type(exc).__name__}: {exc}); please tell your instructor.")
    path = root / "results" / "results.json"
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data


def _submitted_notebooks(folder: Path, lab_id: str) -> list[Path]:
    """The notebooks submitted; of several, those named lab.ipynb or <lab-id>.ipynb."""
    found = sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and not p.is_symlink()
                   and not any(part in SKIP for part in p.parts)) if folder.is_dir() else []
    named = [p for p in found if p.name in ("lab.ipynb", f"{lab_id}.ipynb")]
    return named if len(found) > 1 and named else found


def _backend_args(sandbox: str) -> list[str]:
    """``grade`` options for the sandbox asked for; ``auto`` falls back to none."""
    if sandbox == "none":
        return ["--no-sandbox"]
    if sandbox == "auto":
        try:
            get_backend("bwrap")
        except SandboxUnavailable:
            return ["--no-sandbox"]
    return ["--backend", "bwrap"]


def _grade_one(root: Path, notebook: Path, lab_id: str, backend_args: list[str]) -> dict:
    """Run ``grade`` on one notebook, as its own process, and turn its result into Gradescope's
    results.json."""
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
        out = Path(tmp) / "grades"
        status = subprocess.run([sys.executable, "-m", "grader", str(notebook), "--lab", lab_id,
                                 "--course", str(root / "source" / "course"), "--out", str(out), "-j", "1",
                                 "--force", "--no-deadlines", *backend_args], check=False).returncode
        result = read_result(out, notebook.stem, lab_id)
    if result is None:
        return _failure(f"The grader could not grade this submission (exit status {status}); "
                        "please tell your instructor.")
    return gradescope_results(result)


def gradescope_results(result: Result, overrides: Mapping[str, Override] | None = None) -> dict:
    """``result`` in Gradescope's results.json schema, with ``overrides`` (grade review's, by test
    name) applied and said; our own fields go to ``extra_data``."""
    automatic, found = result, review.review(result, overrides or {})
    result = found.result
    lines = [f"Status: {result.status}"] + [line for line in (result.message, result.late_note) if line]
    lines += [f"{o.test}: {o.points:g} points from {o.who} ({o.at}): {o.comment}" for o in found.applied.values()]
    if not result.sandboxed:
        lines.append("Graded without a sandbox.")
    tests = [{"name": t.name, "score": t.score, "max_score": t.max_score, **_gradescope_status(t),
              "output": t.output, "visibility": t.visibility if t.visibility in GRADESCOPE_VISIBILITY else "visible"}
             for t in result.tests]
    late = {"late": result.late.to_json(result.score, result.max_score)} if result.late else {}
    return {"score": result.final_score, "execution_time": round(result.execution_time, 3),
            "output": "\n".join(lines), "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"status": result.status, "sandboxed": result.sandboxed, "max_score": result.max_score,
                           "fingerprint": result.fingerprint, "automatic_score": automatic.score} | late}


def _gradescope_status(test: TestResult) -> dict:
    """Gradescope knows "passed" and "failed" only: a test that did not run has no status
    (its output says why, and its max_score is 0)."""
    return {} if test.status == NOT_RUN else {"status": test.status}


def _failure(message: str) -> dict:
    return {"score": 0.0, "execution_time": 0.0, "output": message, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": [], "extra_data": {"status": str(Status.INVALID)}}


# --- Canvas ---------------------------------------------------------------------

def canvas_csv(grades: Path) -> str:
    """The Canvas gradebook import CSV (see the module's docstring for the columns)."""
    overrides = review.in_force(grades)
    latest = [_final(grades, r, overrides.get((r.student, r.lab))) for r in history.rows(grades, latest=True)]
    labs = sorted({r.lab for r in latest})
    points = {lab: max(r.max_score for r in latest if r.lab == lab) for lab in labs}
    scores: dict[str, dict[str, float]] = {}
    for r in latest:
        scores.setdefault(r.student, {})[r.lab] = r.score
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_FIXED, *(csv_cell(lab) for lab in labs)])
    writer.writerow(["Points Possible", "", "", "", "", *(_number(points[lab]) for lab in labs)])
    for student in sorted(scores):
        cells = [_number(scores[student][lab]) if lab in scores[student] else "" for lab in labs]
        writer.writerow([csv_cell(student), "", "", csv_cell(student), "", *cells])
    return buffer.getvalue()


def _final(grades: Path, row: history.Row, overrides: Mapping[str, Override] | None) -> history.Row:
    """A recorded grade with the overrides in force for it (grade review) and its late penalty,
    read from its results file."""
    result = read_result(grades, row.student, row.lab)
    if result is None:
        return row
    final = review.review(result, overrides or {}).result
    return replace(row, score=final.final_score, max_score=final.max_score)


def write_canvas(grades: Path, out: Path) -> Path:
    """Write the CSV atomically, so an upload never picks up half a file."""
    text = canvas_csv(grades)
    with _writing(out):
        atomic_write(out, text)
    return out


def _number(x: float) -> str:
    """Points as Canvas reads them: 22, not 22.0."""
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


# --- python -m grader.report.lms gradescope-run (what run_autograder calls) -------------

def _main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m grader.report.lms")
    p.add_argument("action", choices=["gradescope-run"])
    p.add_argument("--root", type=Path, required=True, help="the folder laid out like /autograder")
    p.add_argument("--lab", required=True)
    args = p.parse_args(argv)
    sandbox = os.environ.get("GRADER_SANDBOX", "auto")
    if sandbox not in ("auto", "bwrap", "none"):
        print(f"GRADER_SANDBOX must be auto, bwrap or none, not {sandbox!r}", file=sys.stderr)
        return 2
    data = gradescope_run(args.root, args.lab, sandbox)
    print(f"score: {data['score']}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
