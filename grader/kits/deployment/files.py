"""What the notebook wrote: its files read out of the kernel as bytes, and its Dockerfile parsed.

Which files a lab's notebook writes, and in which folder, is the lab's (its tests name them);
the kit's layers know them by their names in the image's build context: ``app.py`` (the app,
serving ``app``), ``model.joblib`` (the saved model) and ``Dockerfile`` among them, and build
the image from all of those they are given.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from grader.kits.deployment.dockerfile import Dockerfile

FILE_LIMIT = 8 * 2**20  # bytes: a lab's app, model and Dockerfile are far smaller
Files = dict[str, bytes | None]  # a notebook's files by their names in the build context (None: not read)


def read_files(nb, names: list[str] | tuple[str, ...], folder: str = "") -> Files:
    """The files ``names`` the notebook wrote in ``folder`` (relative to its own; its own by
    default), read inside the sandbox and keyed by ``names`` alone: a notebook that keeps the
    image's build context in a folder of its own gives the kit the names the image sees.
    Bytes, or None for one that is missing, not a regular file, or over FILE_LIMIT (checked
    again here: the kernel's answer is the student's)."""
    reader = ("(lambda p: p.read_bytes() if p.is_file() and not p.is_symlink() "
              f"and p.stat().st_size <= {FILE_LIMIT} else None)(__import__('pathlib').Path({{!r}}))")
    files = {name: nb.ref(reader.format(str(PurePosixPath(folder, name)))) for name in names}
    return {name: data if isinstance(data, bytes) and len(data) <= FILE_LIMIT else None
            for name, data in files.items()}


def dockerfile(files: Files) -> Dockerfile:
    """The parsed Dockerfile; ValueError if there is none to parse."""
    raw = files.get("Dockerfile")
    if raw is None:
        raise ValueError("no Dockerfile was written")
    return Dockerfile.parse(raw.decode("utf-8", errors="replace"))
