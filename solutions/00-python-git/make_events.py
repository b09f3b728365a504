"""Write files/events.log: a day of a support desk app's event log, with the lines real logs have.

Six hundred events (timestamp, user, action, status) from 37 users; each action fails at its own
rate, exports most often. Seven malformed lines (a cut-off line, a traceback, a status that is
neither ok nor error, an extra field, a rotation marker) and two blank ones are mixed in. A fixed
seed makes the file the same on every run: ``python solutions/00-python-git/make_events.py``.
"""

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20260301
ERROR_RATES = {"login": 0.04, "search": 0.02, "view_ticket": 0.01, "reply": 0.06, "close_ticket": 0.03,
               "export": 0.22, "upload": 0.12}
WEIGHTS = [30, 25, 35, 18, 9, 3, 5]  # how often each action happens, in ERROR_RATES' order
ODD_LINES = ["", "   ", "2026-03-02T09:14:03Z u101 login", "Traceback (most recent call last):",
             "2026-03-02T10:01:12Z u044 export timeout", "2026-03-02T10:22:40Z u044 export ok 1834ms",
             "2026-03-02T11:05:00Z", "-- log rotated --", "2026-03-02T12:40:19Z u207 reply OK?"]


def event_log(rng: random.Random) -> list[str]:
    """The log's lines, events in time order with the odd lines at random places."""
    users = [f"u{n:03d}" for n in rng.sample(range(1, 400), 37)]
    when = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
    lines = []
    for _ in range(600):
        when += timedelta(seconds=rng.randint(1, 90))
        action = rng.choices(list(ERROR_RATES), WEIGHTS)[0]
        status = "error" if rng.random() < ERROR_RATES[action] else "ok"
        lines.append(f"{when:%Y-%m-%dT%H:%M:%SZ} {rng.choice(users)} {action} {status}")
    for line in ODD_LINES:
        lines.insert(rng.randrange(len(lines)), line)
    return lines


def main() -> None:
    target = Path(__file__).with_name("files") / "events.log"
    target.write_text("\n".join(event_log(random.Random(SEED))) + "\n")


if __name__ == "__main__":
    main()
