"""The lab's corpus: one-line reviews drawn from templates, labelled 1 (positive) or 0 (negative).

Half of the reviews hold two opinion words of opposite polarity ("was good not bad", "was not bad
but good"): two such reviews with opposite labels hold the same words in another order, so a model
that sees a bag of words (no positions) is right on about half of them, while one that knows where
each word stands can be right on all. The hidden tests draw reviews from other seeds.
"""

import csv
import io
import random

LAB_SEED = 11
NOUNS = ("food", "service", "movie", "hotel", "room", "phone", "book", "show", "coffee", "pizza",
         "staff", "music", "game", "trip", "class", "app")
POSITIVE = ("good", "great", "fine", "nice", "lovely")
NEGATIVE = ("bad", "awful", "poor", "dull", "rude")
# (share, template, label): {p} is a positive word, {n} a negative one.
TEMPLATES = (
    (0.15, "the {noun} was {p}", 1), (0.15, "the {noun} was {n}", 0),
    (0.1, "the {noun} was not {n}", 1), (0.1, "the {noun} was not {p}", 0),
    (0.125, "the {noun} was {p} not {n}", 1), (0.125, "the {noun} was {n} not {p}", 0),
    (0.125, "the {noun} was not {n} but {p}", 1), (0.125, "the {noun} was not {p} but {n}", 0),
)
MAX_WORDS = 7  # the longest template's words


def reviews(seed: int, n: int) -> list[tuple[str, int]]:
    """n reviews and their labels, drawn from the templates with ``seed``."""
    rng = random.Random(seed)
    shares = [share for share, _, _ in TEMPLATES]
    out = []
    for _, template, label in rng.choices(TEMPLATES, weights=shares, k=n):
        text = template.format(noun=rng.choice(NOUNS), p=rng.choice(POSITIVE), n=rng.choice(NEGATIVE))
        out.append((text.capitalize() + rng.choice((".", "!", "")), label))
    return out


def csv_text(rows: list[tuple[str, int]]) -> str:
    """The reviews as CSV with the columns text and label."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return buffer.getvalue()
