"""Writes the lab's data, ``files/orders.csv`` and ``files/customers.csv`` (copied beside the
student's notebook by ``grade assign``), from a fixed seed: run it again and nothing changes.

The generator is ``tests/shop_data.py``, which the hidden tests use with other seeds.

    python solutions/01-data-wrangling/make_data.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))

from shop_data import make_shop  # noqa: E402 - the generator lives beside the tests that use it

SEED = 2024


def main() -> None:
    """Write both CSV files into files/."""
    shop = make_shop(SEED)
    (HERE / "files").mkdir(exist_ok=True)
    (HERE / "files" / "orders.csv").write_text(shop.orders_csv)
    (HERE / "files" / "customers.csv").write_text(shop.customers_csv)


if __name__ == "__main__":
    main()
