"""Mutant: an off-by-one cut, one character shorter than max_length."""

import re


def slugify(text: str, max_length: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not slug:
        raise ValueError(f"no letter or digit to make a slug of in {text!r}")
    if len(slug) > max_length:
        slug = slug[:max_length - 1]
    return slug.rstrip("-")
