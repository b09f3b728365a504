"""Mutant: each other character becomes its own "-", so a run of them becomes several."""

import re


def slugify(text: str, max_length: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]", "-", text.lower()).strip("-")
    if not slug:
        raise ValueError(f"no letter or digit to make a slug of in {text!r}")
    return slug[:max_length].rstrip("-")
