"""The API's default data: a small support desk, its customers, their tickets and orders.

This is what a notebook sees when it runs top to bottom before the tests, and what
``grade api-server`` serves a student: generated from a fixed seed, so that every run and
every machine gets the same records, and small enough to read whole. Ticket ids have gaps
(deleted tickets), as a real desk's do, so that a missing id is a real 404. Tests replace
a collection with data of their own choosing (``api.load``).

The desk's back office (``orders``, and the empty collections an agent writes to: ``cases``,
``replies``, ``refunds``) comes from a seed of its own, after the rest, so that adding it left
the tickets and customers as they were. The back office's empty collections are the only
default ones open to writes (``WRITABLE``): a notebook that runs top to bottom before the tests
can act there, and nowhere else.
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
ORDERS = 24
ORDER_SEED = SEED + 1
ITEMS = [("Espresso grinder", 89.0), ("Travel mug", 18.5), ("Pour-over kettle", 45.0), ("Coffee beans 1 kg", 24.0),
         ("Milk frother", 32.0), ("Espresso machine", 349.0), ("Paper filters x200", 7.5), ("Scale with timer", 39.9)]
ORDER_STATUSES = (("delivered", 5), ("shipped", 3), ("processing", 2))
WRITABLE = ("cases", "replies", "refunds")  # the back office's actions: empty, and open to writes
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


def orders(rng: random.Random, people: list[dict]) -> list[dict]:
    """The shop's orders, ids from 5001: whose they are (by email), what, for how much, and where they are."""
    made, when = [], START
    for number in range(5001, 5001 + ORDERS):
        when += timedelta(hours=rng.randint(2, 30))
        item, price = rng.choice(ITEMS)
        quantity = rng.choice((1, 1, 1, 2))
        made.append({"id": number, "customer_email": rng.choice(people)["email"], "item": item,
                     "quantity": quantity, "total": round(price * quantity, 2),
                     "status": _weighted(rng, ORDER_STATUSES), "placed_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return made


def default_collections() -> dict[str, list[dict]]:
    """Fresh copies of the default data, by collection name: the same on every call."""
    rng = random.Random(SEED)
    people = customers(rng)
    desk = {"customers": people, "tickets": tickets(rng), "orders": orders(random.Random(ORDER_SEED), people)}
    return desk | {name: [] for name in WRITABLE}
