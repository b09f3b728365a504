"""The lab's messy shop data, made from a seed: the truth first, then the mess.

``make_data.py`` writes the files the students get from seed 2024; the hidden tests draw other
seeds, so only general answers pass. Every rule of the notebook's text is a rule here: what the
clean table holds is the truth the mess was made from, never the output of a reference cleaner.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

CITIES = ("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig")
SEGMENTS = ("retail", "business")
COUPONS = ("WELCOME10", "SPRING5", "VIP20")
UNKNOWN_CITY = "Unknown"
MAX_AMOUNT = 5000.0  # above it: a staff test order, dropped by the cleaning
FREE_SHIPPING_FROM = 50.0  # q1's rule


@dataclass(frozen=True)
class Shop:
    """The clean truth and its messy rendering as CSV text."""

    orders: pd.DataFrame  # one row per real order: order_id, order_date, customer_id, city, amount, coupon
    customers: pd.DataFrame  # as exported: some customer_ids twice (same segment)
    orders_csv: str
    customers_csv: str

    def raw_orders(self) -> pd.DataFrame:
        """The messy orders as ``pd.read_csv`` reads them, as in the notebook."""
        return pd.read_csv(io.StringIO(self.orders_csv))


def make_shop(seed: int, n_orders: int = 1200, n_customers: int = 250, days: int = 91) -> Shop:
    """A shop's first ``days`` days of 2024 from ``seed``."""
    rng = np.random.default_rng(seed)
    customers = _customers(rng, n_customers)
    orders = _orders(rng, customers["customer_id"].to_numpy(), n_orders, days)
    raw = _messy_orders(rng, orders)
    exported = _duplicated_customers(rng, customers)
    return Shop(orders, exported, raw.to_csv(index=False), exported.to_csv(index=False))


def _customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    ids = 101 + rng.permutation(n * 2)[:n]
    return pd.DataFrame({"customer_id": np.sort(ids), "name": [f"Customer {i}" for i in np.sort(ids)],
                         "segment": rng.choice(SEGMENTS, n, p=[0.7, 0.3])})


def _orders(rng: np.random.Generator, customer_ids: np.ndarray, n: int, days: int) -> pd.DataFrame:
    """Clean orders: dates on the days the shop was open only (about one day in ten it was shut)."""
    closed = rng.choice(np.arange(1, days - 1), days // 10, replace=False)  # never the first or last day
    open_days = np.setdiff1d(np.arange(days), closed)
    dates = np.sort(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.choice(open_days, n), unit="D"))
    city = rng.choice([*CITIES, UNKNOWN_CITY], n, p=[0.3, 0.22, 0.2, 0.15, 0.1, 0.03])
    amount = np.round(np.clip(rng.lognormal(4.0, 0.9, n), 1.0, 2500.0), 2)
    coupon = np.where(rng.random(n) < 0.25, rng.choice(COUPONS, n), None)
    return pd.DataFrame({"order_id": 10001 + np.arange(n), "order_date": pd.DatetimeIndex(dates),
                         "customer_id": rng.choice(customer_ids, n), "city": city, "amount": amount,
                         "coupon": coupon})


def _messy_orders(rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """The orders as text, plus rows the cleaning must drop and copies it must remove, shuffled."""
    n = len(orders)
    bad = orders.sample(max(n // 25, 2), random_state=rng).copy()  # invalid orders, new ids
    bad["order_id"] = 10001 + n + np.arange(len(bad))
    bad["amount"] = np.where(np.arange(len(bad)) % 2 == 0, np.nan,
                             np.round(rng.uniform(MAX_AMOUNT + 1, 99_999, len(bad)), 2))
    copies = orders.sample(max(n // 20, 2), random_state=rng)  # exported twice, rendered anew
    rows = pd.concat([orders, bad, copies, copies.iloc[: len(copies) // 3]], ignore_index=True)
    rendered = _rendered(rng, rows)
    exact = rendered.iloc[:n].sample(max(n // 100, 2), random_state=rng)  # exported twice, byte for byte
    return pd.concat([rendered, exact]).sample(frac=1.0, random_state=rng).reset_index(drop=True)


def _rendered(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    """Orders as the export writes them: text in several spellings and formats."""
    return pd.DataFrame({
        "order_id": rows["order_id"],
        "order_date": [_date_text(rng, d) for d in rows["order_date"]],
        "customer_id": rows["customer_id"],
        "city": [_city_text(rng, c) for c in rows["city"]],
        "amount": [_amount_text(rng, a) for a in rows["amount"]],
        "coupon": rows["coupon"],
    })


def _date_text(rng: np.random.Generator, date: pd.Timestamp) -> str:
    return date.strftime("%d.%m.%Y" if rng.random() < 0.3 else "%Y-%m-%d")


def _city_text(rng: np.random.Generator, city: str) -> str | None:
    if city == UNKNOWN_CITY:
        return None
    forms = (city, city, city, city.lower(), city.upper(), f" {city}", f"{city}  ", f" {city.lower()} ")
    return forms[rng.integers(len(forms))]


def _amount_text(rng: np.random.Generator, amount: float) -> str | None:
    if np.isnan(amount):
        return None
    forms = (f"{amount:.2f}", f"€{amount:,.2f}", f"{amount:,.2f} €", f"€ {amount:,.2f}")
    return forms[rng.choice(len(forms), p=[0.4, 0.3, 0.2, 0.1])]


def _duplicated_customers(rng: np.random.Generator, customers: pd.DataFrame) -> pd.DataFrame:
    """The CRM export: about one customer in eight listed twice, some of them with the name retyped."""
    twice = customers.sample(max(len(customers) // 8, 2), random_state=rng).copy()
    twice["name"] = [name.upper() if rng.random() < 0.5 else name for name in twice["name"]]
    both = pd.concat([customers, twice], ignore_index=True)
    return both.sample(frac=1.0, random_state=rng).reset_index(drop=True)
