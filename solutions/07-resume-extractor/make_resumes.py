"""Writes the lab's data from a fixed seed, copied beside the student's notebook by ``grade assign``:
``files/resumes/*.pdf`` (eight resumes in four layouts, one of them carrying a prompt injection and
two of them scans with no text layer) and ``files/labels.json`` (the fields a correct extraction
finds in each). Run it again and nothing changes.

The generator is ``tests/resumes.py``, which the hidden tests use with other seeds.

    python solutions/07-resume-extractor/make_resumes.py
"""

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))

from resumes import make_resumes  # noqa: E402 - the generator lives beside the tests that use it

SEED = 2026


def main() -> None:
    """Write the PDFs and their labels into files/."""
    resumes = make_resumes(SEED)
    folder = HERE / "files" / "resumes"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for resume in resumes:
        (folder / resume["file"]).write_bytes(resume["pdf"])
    labels = [{"file": r["file"], **r["label"]} for r in resumes]
    (HERE / "files" / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")


if __name__ == "__main__":
    main()
