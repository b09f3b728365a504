"""slugify rewritten without a regular expression: the same behaviour, so tests of the behaviour pass on it."""

import string

ALLOWED = set(string.ascii_lowercase + string.digits)


def slugify(text: str, max_length: int = 40) -> str:
    words: list[str] = []
    current = ""
    for char in text.lower():
        if char in ALLOWED:
            current += char
        elif current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    if not words:
        raise ValueError(f"no letter or digit to make a slug of in {text!r}")
    slug = "-".join(words)[:max_length]
    while slug.endswith("-"):
        slug = slug[:-1]
    return slug
