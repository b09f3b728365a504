"""What the notebook wrote: its files read out of the kernel as bytes, and its Dockerfile parsed.

Which files a lab's notebook writes, and in which folder, is the lab's (its tests name them);
the kit's layers know them by their names in the image's build context: ``app.py`` (the app,
serving ``app``), ``model.joblib`` (the saved model) and ``Dockerfile`` among them, and build
the image from all of those they are given.
"""

from __future__ import annotations

from grader.kits.deployment.dockerfile import Dockerfile
from grader.kits.sandboxed import FILE_LIMIT, Files, read_files

# read_files (at most FILE_LIMIT bytes a file: a lab's app, model and Dockerfile are far smaller)
# is the shared reader's; the labs' tests import it from here, with the parser below.
__all__ = ["FILE_LIMIT", "Files", "dockerfile", "read_files"]


def dockerfile(files: Files) -> Dockerfile:
    """The parsed Dockerfile; ValueError if there is none to parse."""
    raw = files.get("Dockerfile")
    if raw is None:
        raise ValueError("no Dockerfile was written")
    return Dockerfile.parse(raw.decode("utf-8", errors="replace"))
