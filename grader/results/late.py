"""A late submission's record: when it came, when it was due, and the penalty that follows.

The penalty is kept apart from the grade: the tests' points are what the notebook earned, and
the penalty is taken off the total only where a final score is shown (the results JSON's
``score``, the gradebook, the feedback page, the exports), always beside the score before it. It
is a share of the lab's points, as Canvas's late policy deducts, per started day after the due time
once past the grace period, up to a cap; it never takes a score below 0. A result carries the
record the last ``grade`` run made from the lab's policy and the extensions then in force
(grader.course.deadlines): changing either and running ``grade`` again recomputes every record
without grading anything again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Late:
    """One submission against its lab's deadline. Times are ISO 8601 with their offset."""

    submitted_at: str  # when it was handed in
    source: str  # where that time came from: "export", "commit" or "file" (grader.course.submitted)
    source_detail: str  # the same, said in a sentence
    due: str  # the deadline, moved by the student's extension if there is one
    extension: str = ""  # the extension that moved it, said in a sentence; "" for none
    grace_minutes: float = 0.0
    per_day: float = 0.0  # percent of the lab's points per started day late
    cap: float = 100.0  # percent, the most the penalty takes

    @property
    def days(self) -> int:
        """Started days after the due time; 0 when it came in time or within the grace period."""
        over = datetime.fromisoformat(self.submitted_at) - datetime.fromisoformat(self.due)
        if over <= timedelta(minutes=self.grace_minutes):
            return 0
        return math.ceil(over / DAY)

    @property
    def percent(self) -> float:
        return min(self.cap, self.days * self.per_day)

    def penalty(self, max_score: float) -> float:
        """The points taken off a result worth ``max_score``."""
        return round(max_score * self.percent / 100, 4)

    def final(self, score: float, max_score: float) -> float:
        """``score`` less the penalty, never below 0 nor (by rounding) above ``score``."""
        return min(score, max(0.0, round(score - self.penalty(max_score), 4)))

    def describe(self, score: float, max_score: float) -> str:
        """One sentence for a student or an instructor: when, how we know, and what it cost."""
        when = f"Submitted {self.submitted_at} ({self.source_detail}); due {self.due}"
        if self.extension:
            when += f" ({self.extension})"
        if not self.days:
            return f"{when}: on time."
        days = f"{self.days} day{'s' if self.days != 1 else ''} late"
        return (f"{when}: {days}, {self.percent:g}% of the lab's points off ({self.penalty(max_score):g} points; "
                f"{self.per_day:g}% a day, at most {self.cap:g}%). Score before the penalty: {score:g}.")

    def to_json(self, score: float, max_score: float) -> dict:
        """The stored record and what it works out to for this score."""
        return asdict(self) | {"days_late": self.days, "percent": self.percent, "penalty": self.penalty(max_score),
                               "score_before_penalty": score}

    @classmethod
    def from_json(cls, data: object) -> Late | None:
        """The record a results file holds (None if it has none); ValueError or TypeError if it is not one."""
        if data is None:
            return None
        if not isinstance(data, dict):
            raise TypeError("late is not a table")
        known = [f for f in fields(cls) if f.name in data]
        for f in known:  # each field is a str or a float (``f.type`` is its annotation's text)
            value = data[f.name]
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number if f.type == "float" else isinstance(value, str)):
                raise TypeError(f"late.{f.name} is not what it should be: {value!r}")
        late = cls(**{f.name: data[f.name] for f in known})
        datetime.fromisoformat(late.submitted_at), datetime.fromisoformat(late.due)  # ValueError if not times
        return late
