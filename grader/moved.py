"""The lab author's modules under the names they had before the package had folders.

Courses written earlier import ``grader.notebook``, ``grader.codec`` or
``grader.llm_server`` in their tests; those names still load the modules
that now hold the same API, so such a course grades as it did. Only the
modules a lab's tests import are listed: the engine's own moved freely.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "grader.notebook": "grader.testing.notebook",
    "grader.codec": "grader.testing.codec",
    "grader.llm_server": "grader.kits.llm.model",
}


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module at its new one (the same module object)."""

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module) -> None:
        """Already executed under its new name."""


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old names in MOVED, and nothing else."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias())


def install() -> None:
    """Put the finder on the import path once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
