"""Every generated malformed notebook and hostile zip in one batch beside two honest notebooks,
graded by the CLI in real sandboxes: each costs only its own row, and the batch ends well."""

from __future__ import annotations

import csv

from conftest import LAB, copy_course, notebook, run_grade, solution_cells, write_notebook
from hostile_inputs import hostile_zips, malformed_notebooks

FULL = 22


def test_a_batch_of_every_hostile_file_gives_one_invalid_row_each_and_grades_the_honest(tmp_path):
    course = copy_course(tmp_path / "course")
    subs = course / "submissions"
    subs.mkdir()
    hostile = {**{f"{name}.ipynb": data for name, data in malformed_notebooks(LAB).items()},
               **{f"{name}.zip": data for name, data in hostile_zips(LAB).items()}}
    for file_name, data in hostile.items():
        (subs / file_name).write_bytes(data)
    write_notebook(subs / "alice.ipynb", notebook(*solution_cells()))
    write_notebook(subs / "bob.ipynb", notebook(*solution_cells()[:2]))

    proc = run_grade("submissions", "--out", "grades", "-j", "2", cwd=course, timeout=1800)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    with open(course / "grades" / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    students = [row["student"] for row in rows]
    assert sorted(students) == sorted([name.rsplit(".", 1)[0] for name in hostile] + ["alice", "bob"])
    book = {row["student"]: row for row in rows}
    alice, bob = book.pop("alice"), book.pop("bob")
    assert (alice["status"], float(alice["score"])) == ("graded", FULL)
    assert bob["status"] == "graded" and 0 < float(bob["score"]) < FULL
    assert {s: r["status"] for s, r in book.items() if r["status"] != "invalid"} == {}
    assert all(float(r["score"]) == 0 for r in book.values())
    assert all(r["message"] and "\n" not in r["message"] and len(r["message"]) <= 300 for r in book.values())
