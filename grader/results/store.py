"""Results: one per (student, lab), written atomically as soon as it exists.

A result file follows Gradescope's ``results.json`` schema, plus ``status``,
``student``, ``lab`` and, beside the tests, what Gradescope has no field for
(``hidden_tests``; ``exercises``, each exercise's subtotal: grader.results.model).
The gradebook is a CSV rewritten (atomically) as results come, when grader.results.gradebook
says its turn has come, and at the batch's end: a grader killed mid-batch leaves a valid
gradebook and every result it finished in its own file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

from grader import bounded
from grader.files import atomic_write
from grader.results.model import Result
from grader.review import store as review

RESULT_LIMIT = 16 * 2**20  # bytes of a results file read back: the grader writes far less
# Bytes of an executed notebook kept beside its result. Outputs are capped as they stream
# (grader.engine.execute), but the sources come as submitted: a notebook of up to 50 MiB of code
# and text must not be copied whole onto the grader's disk.
EXECUTED_LIMIT = 32 * 2**20
# ``score`` and ``max_score`` are final: with the overrides and the points graded by hand in force
# (grader.review.store) and the late penalty taken off (grader.results.late); the grader's own score
# stays in ``automatic_score``, the score before the penalty in ``score_before_penalty``. The late
# columns are empty for a lab without a deadline. ``message`` stays last.
GRADEBOOK_COLUMNS = ("student", "lab", "score", "max_score", "status", "sandboxed", "reused", "execution_time",
                     "automatic_score", "overridden", "manual_score", "score_before_penalty", "submitted_at",
                     "time_source", "late_days", "penalty", "message")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
# The grader's own files at the top of a grades folder: gradebook.csv, history.sqlite and
# the journals SQLite keeps beside it. A student's folder never takes one of these names.
_OWN_FILES = re.compile(r"(gradebook|history)\..*", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def file_name(student: str) -> str:
    """A file name for ``student`` that cannot climb out of a folder, hide itself, or take
    the name of one of the grader's own files."""
    if _SAFE_NAME.fullmatch(student) and not _OWN_FILES.fullmatch(student):
        return student
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]", "_", student).lstrip("._-")[:60]
    return f"{cleaned or 'student'}~{digest}"  # "~" never occurs in a name kept as it is


def result_path(out_dir: Path, student: str, lab: str) -> Path:
    return out_dir / file_name(student) / f"{file_name(lab)}.json"


def read_result(out_dir: Path, student: str, lab: str) -> Result | None:
    """The earlier result for (student, lab), or None if there is none or it does not parse."""
    try:
        data = bounded.loads(result_path(out_dir, student, lab).read_bytes(), RESULT_LIMIT, "a results file")
        result = Result.from_json(review.automatic_json(data))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return result if (result.student, result.lab) == (student, lab) else None


def write_result(out_dir: Path, result: Result) -> Path:
    """The results file, with the overrides in force for it, and the executed notebook next to it
    when there is one."""
    path = result_path(out_dir, result.student, result.lab)
    write_executed(out_dir, result)
    data = review.reviewed(out_dir, result).to_json()
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def write_executed(out_dir: Path, result: Result) -> None:
    """The executed notebook beside the results file, if the result carries one of at most
    EXECUTED_LIMIT bytes; a larger one is not kept, and the result's message says so."""
    if not result.executed:
        return
    size = len(result.executed.encode("utf-8", "surrogateescape"))
    if size > EXECUTED_LIMIT:
        note = f"the executed notebook ({size / 2**20:.0f} MiB) is over {EXECUTED_LIMIT // 2**20} MiB and was not kept"
        result.message = "; ".join(p for p in (result.message, note) if p)
        return
    atomic_write(result_path(out_dir, result.student, result.lab).with_suffix(".ipynb"), result.executed)


def write_gradebook(out_dir: Path, results: Iterable[Result]) -> Path:
    """``gradebook.csv``: one row per result, with the overrides in force, every text cell safe
    to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GRADEBOOK_COLUMNS)
    for reviewed in review.reviewed_all(out_dir, sorted(results, key=lambda r: (r.student, r.lab))):
        r = reviewed.result
        writer.writerow([csv_cell(r.student), csv_cell(r.lab), _number(r.final_score), _number(r.max_score),
                         r.status, "yes" if r.sandboxed else "no", "yes" if r.reused else "no",
                         f"{r.execution_time:.2f}", _number(reviewed.automatic.score), len(reviewed.applied),
                         _number(reviewed.manual_score), _number(r.score), *_late_cells(r), csv_cell(r.message)])
    path = out_dir / "gradebook.csv"
    atomic_write(path, buffer.getvalue())
    return path


def _late_cells(r: Result) -> list[str]:
    """submitted_at, time_source, late_days, penalty: empty for a lab without a deadline."""
    if r.late is None:
        return ["", "", "", ""]
    return [r.late.submitted_at, r.late.source, str(r.late.days), _number(r.late.penalty(r.max_score))]


def csv_cell(text: str) -> str:
    """Defuse a cell a spreadsheet would run as a formula (CSV injection), and keep it on one line."""
    text = _CONTROL.sub(" ", text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


