"""Writes the lab's data, ``files/interactions.csv`` and ``files/items.csv`` (copied beside the
student's notebook by ``grade assign``), from a fixed seed: run it again and nothing changes.

The generator is ``tests/rec_data.py``, which the hidden tests use with other seeds.

    python solutions/06-recommender/make_data.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))

from rec_data import LAB_SEED, make_world  # noqa: E402 - the generator lives beside the tests that use it


def main() -> None:
    """Write both CSV files into files/."""
    interactions, items = make_world(LAB_SEED).csv()
    (HERE / "files").mkdir(exist_ok=True)
    (HERE / "files" / "interactions.csv").write_text(interactions)
    (HERE / "files" / "items.csv").write_text(items)


if __name__ == "__main__":
    main()
