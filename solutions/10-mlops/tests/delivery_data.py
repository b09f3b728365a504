"""The deliveries of a food-delivery company, generated from a seed: the lab's files and the hidden
tests' batches come from here.

An order is late (``late`` = 1) more often the longer the ride, the longer the kitchen takes, the
more items and the busier the hour. ``history`` is labelled orders to train and validate on;
``stream`` is the orders the deployed model scores day by day, whose labels arrive ``label_delay``
days later (a customer's complaint, the courier's report), and from ``switch_day`` on the upstream
feed sends one feature in other units (distance in miles instead of kilometres): nothing fails,
the numbers are just smaller.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["distance_km", "items", "prep_minutes", "hour"]
LABEL = "late"
LAB_SEED = 10
MILES_PER_KM = 0.621371


def _orders(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` orders with their true lateness, drawn from one fixed world."""
    distance = np.round(rng.gamma(2.0, 2.2, n) + 0.3, 2)
    items = rng.poisson(2.0, n) + 1
    prep = np.round(np.clip(rng.normal(16.0, 5.0, n), 3.0, None), 1)
    hour = rng.integers(10, 23, n)
    rush = np.isin(hour, [12, 13, 19, 20]).astype(float)
    logit = -6.2 + 0.55 * distance + 0.12 * prep + 0.25 * items + 1.0 * rush
    late = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"distance_km": distance, "items": items, "prep_minutes": prep, "hour": hour,
                         LABEL: late})


def history(seed: int, n: int = 1500) -> pd.DataFrame:
    """Labelled past orders (the lab trains on the first 1,000 and validates on the rest)."""
    return _orders(np.random.default_rng(seed), n)


def stream(seed: int, days: int = 14, per_day: int = 150, switch_day: int | None = 8,
           label_delay: int = 7, feature: str = "distance_km", factor: float = MILES_PER_KM) -> pd.DataFrame:
    """Orders scored from day 1 to ``days``, ``per_day`` a day. From ``switch_day`` on (never if
    None), ``feature`` arrives multiplied by ``factor``; ``label_day`` is when each label arrives."""
    orders = _orders(np.random.default_rng(seed), days * per_day)
    day = np.repeat(np.arange(1, days + 1), per_day)
    if switch_day is not None:
        switched = day >= switch_day
        orders.loc[switched, feature] = np.round(orders.loc[switched, feature] * factor, 2)
    orders.insert(0, "day", day)
    orders["label_day"] = day + label_delay
    return orders
