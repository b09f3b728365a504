"""Writes the lab's data, ``files/deliveries.csv`` and ``files/stream.csv`` (copied beside the
student's notebook by ``grade assign``), from a fixed seed: run it again and nothing changes.

The generator is ``tests/delivery_data.py``, which the hidden tests use with other seeds.

    python solutions/10-mlops/make_data.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))

from delivery_data import LAB_SEED, history, stream  # noqa: E402 - the generator lives beside its tests


def main() -> None:
    """Write both CSV files into files/."""
    (HERE / "files").mkdir(exist_ok=True)
    history(LAB_SEED).to_csv(HERE / "files" / "deliveries.csv", index=False)
    stream(LAB_SEED + 1).to_csv(HERE / "files" / "stream.csv", index=False)


if __name__ == "__main__":
    main()
