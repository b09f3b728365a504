"""Mutant: only the end is stripped, so text that starts with punctuation or a space gives a leading "-"."""

import re


def slugify(text: str, max_length: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).rstrip("-")
    if not slug:
        raise ValueError(f"no letter or digit to make a slug of in {text!r}")
    return slug[:max_length].rstrip("-")
