"""What the notebook wrote: its files read out of the kernel as bytes, and its Dockerfile parsed.

Which files a lab's notebook writes is the lab's (its tests name them); the kit's layers use
``app.py`` (the app, serving ``app``), ``model.joblib`` (the saved model) and ``Dockerfile``
among them, and build the image from all of those it is given.
"""

from __future__ import annotations

from grader.kits.deployment.dockerfile import Dockerfile

FILE_LIMIT = 8 * 2**20  # bytes: a lab's app, model and Dockerfile are far smaller


def read_files(nb, names: list[str] | tuple[str, ...]) -> dict[str, bytes | None]:
    """The files the notebook wrote in its folder, read inside the sandbox: bytes, or None
    for one that is missing, not a regular file, or over FILE_LIMIT (checked again here:
    the kernel's answer is the student's)."""
    reader = ("(lambda p: p.read_bytes() if p.is_file() and not p.is_symlink() "
              f"and p.stat().st_size <= {FILE_LIMIT} else None)(__import__('pathlib').Path({{!r}}))")
    files = {name: nb.ref(reader.format(name)) for name in names}
    return {name: data if isinstance(data, bytes) and len(data) <= FILE_LIMIT else None
            for name, data in files.items()}


def dockerfile(files: dict[str, bytes | None]) -> Dockerfile:
    """The parsed Dockerfile; ValueError if there is none to parse."""
    raw = files.get("Dockerfile")
    if raw is None:
        raise ValueError("no Dockerfile was written")
    return Dockerfile.parse(raw.decode("utf-8", errors="replace"))
