"""The API's default data: a small support desk, its customers and their tickets.

This is what a notebook sees when it runs top to bottom before the tests, and what
``grade api-server`` serves a student: generated from a fixed seed, so that every run and
every machine gets the same records, and small enough to read whole. Ticket ids have gaps
(deleted tickets), as a real desk's do, so that a missing id is a real 404. Tests replace
a collection with data of their own choosing (``api.load``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

SEED = 20240304
CUSTOMERS = 12
TICKETS = 45
START = datetime(2024, 3, 4, 8, 0)

PEOPLE = [("Ada", "Okafor"), ("Bruno", "Lindqvist"), ("Chen", "Wei"), ("Dalia", "Haddad"), ("Emeka", "Nwosu"),
          ("Freya", "Jensen"), ("Goran", "Petrovic"), ("Hana", "Sato"), ("Ines", "Moreau"), ("Jonas", "Weber"),
          ("Kaia", "Tamm"), ("Luis", "Ortega")]
COMPANIES = ["northwind", "bluefin", "acme", "lumen", "terrafirma", "quokka"]
PLANS = ("free", "pro", "enterprise")
SUBJECTS = [  # a title and the tags an agent would give it
    ("Cannot log in after password reset", ["login"]),
    ("Invoice shows the wrong VAT rate", ["billing"]),
    ("Export to CSV times out", ["export", "bug"]),
    ("Two-factor codes arrive late", ["login", "sms"]),
    ("Dashboard shows no data since Monday", ["bug", "dashboard"]),
    ("Webhook retries flood our endpoint", ["api", "webhooks"]),
    ("Please add a seat to our plan", ["billing", "plan"]),
    ("API returns 500 on large uploads", ["api", "bug"]),
    ("Refund for a duplicate charge", ["billing", "refund"]),
    ("Search ignores accented letters", ["search", "bug"]),
    ("Mobile app crashes on start", ["mobile", "bug"]),
    ("Single sign-on loops back to the login page", ["login", "sso"]),
    ("Rate limit too low for our nightly sync", ["api", "plan"]),
]
STATUSES = (("open", 4), ("pending", 2), ("closed", 5))  # value, weight
PRIORITIES = (("low", 3), ("normal", 5), ("high", 2), ("urgent", 1))


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in choices], [weight for _, weight in choices])[0]


def customers(rng: random.Random) -> list[dict]:
    """One record per customer: id, name, email, plan."""
    return [{"id": number, "name": f"{first} {last}",
             "email": f"{first.lower()}.{last.lower()}@{rng.choice(COMPANIES)}.example",
             "plan": rng.choice(PLANS)}
            for number, (first, last) in enumerate(PEOPLE[:CUSTOMERS], start=1)]


def tickets(rng: random.Random) -> list[dict]:
    """Tickets in the order they were opened, ids increasing with an occasional gap."""
    made, number, when = [], 100, START
    while len(made) < TICKETS:
        number += 1 if rng.random() > 0.1 else 2  # a deleted ticket now and then
        when += timedelta(hours=rng.randint(1, 14), minutes=rng.randint(0, 59))
        title, tags = rng.choice(SUBJECTS)
        made.append({"id": number, "title": title, "status": _weighted(rng, STATUSES),
                     "priority": _weighted(rng, PRIORITIES), "customer_id": rng.randint(1, CUSTOMERS),
                     "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "tags": list(tags)})
    return made


def default_collections() -> dict[str, list[dict]]:
    """Fresh copies of the default data, by collection name: the same on every call."""
    rng = random.Random(SEED)
    return {"customers": customers(rng), "tickets": tickets(rng)}
