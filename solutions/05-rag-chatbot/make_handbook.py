"""Writes the lab's data, ``files/handbook.json`` (the pages) and ``files/questions.json`` (the labelled
questions), copied beside the student's notebook by ``grade assign``, from a fixed seed: run it again
and nothing changes.

The generator is ``tests/handbook.py``, which the hidden tests use with other seeds.

    python solutions/05-rag-chatbot/make_handbook.py
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))

from handbook import make_handbook  # noqa: E402 - the generator lives beside the tests that use it

SEED = 2026


def main() -> None:
    """Write both JSON files into files/."""
    pages, questions = make_handbook(SEED)
    (HERE / "files").mkdir(exist_ok=True)
    (HERE / "files" / "handbook.json").write_text(json.dumps(pages, indent=1) + "\n")
    (HERE / "files" / "questions.json").write_text(json.dumps(questions, indent=1) + "\n")


if __name__ == "__main__":
    main()
