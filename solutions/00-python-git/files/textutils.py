"""Small text helpers for the support desk's tools."""

import re


def slugify(text: str, max_length: int = 40) -> str:
    """A short name for text that is safe in a URL or a git branch: "Login fails on Safari!" -> "login-fails-on-safari".

    - letters are lowercased;
    - every run of other characters (spaces, punctuation, accented letters, ...) becomes one "-";
    - the slug never starts or ends with "-";
    - it has at most max_length characters: a longer slug is cut, and a "-" left at the cut is dropped;
    - ValueError if text has no letter or digit (a-z, 0-9) at all.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not slug:
        raise ValueError(f"no letter or digit to make a slug of in {text!r}")
    return slug[:max_length].rstrip("-")
