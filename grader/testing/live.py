"""The ``nb`` fixture's interface over a running kernel's own namespace, for ``check()``.

Values still make a round trip through the codec, so that a test sees the same
plain values here as when the grader runs it against the sandboxed kernel.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from typing import Any

from grader.testing import codec
from grader.testing.notebook import NotebookError, check_name


class LiveNotebook:
    """The ``nb`` fixture's interface over the running kernel's own namespace; ``shell`` (IPython's)
    names the cell an error was raised in."""

    def __init__(self, namespace: dict, shell=None):
        self._ns = namespace
        self._shell = shell
        self.notebook = None

    def ref(self, expr: str) -> Any:
        return codec.loads(codec.dumps(self._eval(f"({expr}\n)")))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fn = self._eval(check_name(name))
        args, kwargs = codec.loads(codec.dumps(list(args))), codec.loads(codec.dumps(kwargs))
        return codec.loads(codec.dumps(self._guard(lambda: fn(*args, **kwargs))))

    def assign(self, name: str, value: Any) -> None:
        if not name.isidentifier():
            raise ValueError(f"not a variable name: {name!r}")
        self._ns[name] = codec.loads(codec.dumps(value))

    def run(self, code: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self._guard(lambda: exec(code, self._ns))
        return out.getvalue()

    def cell(self, tag: str):
        raise LookupError("nb.cell() needs the executed notebook: run 'grade check' on the saved notebook")

    def _eval(self, expr: str) -> Any:
        return self._guard(lambda: eval(expr, self._ns))

    def _guard(self, fn):
        try:
            return fn()
        except Exception as exc:
            raise NotebookError(type(exc).__name__, str(exc), self._where(exc)) from exc

    def _where(self, exc: Exception) -> str:
        """The innermost frame of ``exc`` in one of the notebook's cells, as IPython names the cell
        ("cell In[12], line 3"); "" if none, or without a shell to ask."""
        name_of = getattr(getattr(self._shell, "compile", None), "format_code_name", None)
        where = ""
        for frame, line in traceback.walk_tb(exc.__traceback__):
            label = name_of(frame.f_code.co_filename) if name_of is not None else None
            if label:
                where = f"cell {label[1]}, line {line}"
        return where
