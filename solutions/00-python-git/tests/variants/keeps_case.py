"""Mutant: capital letters are kept (the text is never lowercased)."""

import re


def slugify(text: str, max_length: int = 40) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")
    if not slug:
        raise ValueError(f"no letter or digit to make a slug of in {text!r}")
    return slug[:max_length].rstrip("-")
