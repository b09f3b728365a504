"""The lab's streaming catalogue, made from a seed: a hidden structure first, then the events it causes.

``make_data.py`` writes the files the students get from seed 2026; the hidden tests draw other seeds
and smaller worlds, so only general answers pass. The structure the lab's methods should find is
planted here and known: each user has a favourite genre, each item one genre, popularity has a long
tail, items are added over time (and are watched most while new: the drift a random split leaks),
and some users arrive late.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

GENRES = ("drama", "comedy", "sci-fi", "documentary", "thriller", "animation")
START = pd.Timestamp("2025-01-01")
DAYS = 120
LAB_SEED = 2026  # the seed of the files the students get
CUTOFF = START + pd.Timedelta(days=100)  # the notebook's cutoff: 2025-04-11
ADJECTIVES = ("Silent", "Golden", "Last", "Broken", "Hidden", "Northern", "Electric", "Lost", "Quiet", "Wild")
NOUNS = ("River", "Station", "Garden", "Signal", "Harbour", "Engine", "Winter", "Empire", "Orbit", "Kitchen")


@dataclass(frozen=True)
class World:
    """The events, the catalogue, and the hidden structure that made them."""

    interactions: pd.DataFrame  # user_id, item_id, timestamp: one row per (user, item), each user's first watch
    items: pd.DataFrame  # item_id, title, genre, added
    favourite: dict[int, str]  # each user's favourite genre

    def csv(self) -> tuple[str, str]:
        """The two tables as the lab's CSV files: interactions.csv, items.csv."""
        events = self.interactions.assign(timestamp=self.interactions["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"))
        items = self.items.assign(added=self.items["added"].dt.strftime("%Y-%m-%d"))
        return events.to_csv(index=False), items.to_csv(index=False)


def read_interactions(text: str) -> pd.DataFrame:
    """interactions.csv as the notebook reads it."""
    return pd.read_csv(io.StringIO(text), parse_dates=["timestamp"])


def make_world(seed: int, n_users: int = 1500, n_items: int = 300, events: float = 14.0) -> World:
    """A catalogue of ``n_items`` and the first watches of ``n_users`` over DAYS days, from ``seed``."""
    rng = np.random.default_rng(seed)
    genre = rng.integers(len(GENRES), size=n_items)
    added = np.where(rng.random(n_items) < 0.75, 0, rng.integers(1, DAYS - 3, n_items))
    base = rng.normal(0.0, 1.1, n_items)  # popularity: a long tail
    favourite = rng.integers(len(GENRES), size=n_users)
    joined = np.where(rng.random(n_users) < 0.85, rng.integers(0, 60, n_users), rng.integers(60, DAYS - 2, n_users))
    taste = 2.6 * (favourite[:, None] == genre[None, :]) + rng.normal(0.0, 0.5, (n_users, n_items))
    rows = []
    for user in range(n_users):
        rows += _watches(rng, user, joined[user], taste[user] + base, added, events)
    frame = pd.DataFrame(rows, columns=["user", "item", "second"])
    item_ids = 1001 + rng.permutation(n_items * 3)[:n_items]
    user_ids = 1 + rng.permutation(n_users * 4)[:n_users]
    interactions = pd.DataFrame({
        "user_id": user_ids[frame["user"]],
        "item_id": item_ids[frame["item"]],
        "timestamp": START + pd.to_timedelta(frame["second"], unit="s"),
    }).sort_values(["timestamp", "user_id"], kind="stable").reset_index(drop=True)
    items = pd.DataFrame({"item_id": item_ids, "title": _titles(rng, n_items),
                          "genre": np.array(GENRES)[genre], "added": START + pd.to_timedelta(added, unit="D")})
    items = items.sort_values("item_id").reset_index(drop=True)
    return World(interactions, items, {int(user_ids[u]): GENRES[favourite[u]] for u in range(n_users)})


def _watches(rng: np.random.Generator, user: int, joined: int, appeal: np.ndarray, added: np.ndarray,
             events: float) -> list[tuple[int, int, int]]:
    """One user's first watches: each at a random second after joining, an item available then, not seen
    before, drawn by appeal plus a boost for items added in the last three weeks."""
    n = min(2 + rng.poisson(events - 2), len(appeal) // 3)
    seconds = np.sort(rng.integers(joined * 86400, DAYS * 86400, n))
    seen: list[int] = []
    out = []
    for second in seconds:
        day = second // 86400
        fresh = (added <= day) & (day - added < 21) & (added > 0)
        logit = appeal + 1.5 * fresh
        logit[added > day] = -np.inf
        logit[seen] = -np.inf
        p = np.exp(logit - logit.max())
        item = int(rng.choice(len(appeal), p=p / p.sum()))
        seen.append(item)
        out.append((user, item, int(second)))
    return out


def _titles(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct titles such as "Silent River" or, for its sequels, "Silent River 2"."""
    titles: list[str] = []
    for _ in range(n):
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        sequel = sum(t == title or t.startswith(title + " ") for t in titles)
        titles.append(f"{title} {sequel + 1}" if sequel else title)
    return titles


def planted_matrix(seed: int, n_users: int = 240, n_items: int = 90, clusters: int = 4,
                   inside: float = 0.35, outside: float = 0.03) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A binary user x item matrix with planted taste clusters: (X, the users' clusters, the items')."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(clusters, size=n_users), rng.integers(clusters, size=n_items)
    p = np.where(users[:, None] == items[None, :], inside, outside)
    return (rng.random((n_users, n_items)) < p).astype(float), users, items
