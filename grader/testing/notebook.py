"""The ``nb`` object that tests use: the executed notebook and its live kernel.

Tests run in the grader's process. Each call here sends a short piece of code
into the sandboxed kernel and reads back only a value encoded by
:mod:`grader.testing.codec`. Whatever student code prints while a test calls it is
not shown to the student: it would reveal the tests' inputs.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import time
from dataclasses import dataclass
from typing import Any

import nbformat

from grader.engine.kernel import Kernel, KernelTimeout
from grader.engine.sandbox import Backend
from grader.testing import codec
from grader.testing.codec import CodecError

_CODEC_NAME = "__grader_codec__"
_VALUE = "__grader_value__"
_WHERE = f"{_CODEC_NAME}.last_error_place()"  # see codec.last_error_place
_CELL_LABEL = re.compile(r"In\[(\d+)\]")


class NotebookError(Exception):
    """Code run in the notebook raised; ``ename`` is the exception's name there, ``where`` the
    student's cell and line it was raised in ("cell 5, line 3"), "" when not in one of their cells."""

    def __init__(self, ename: str, evalue: str, where: str = ""):
        super().__init__(f"{ename}: {evalue}" if evalue else ename)
        self.ename = ename
        self.evalue = evalue
        self.where = where


@dataclass(frozen=True)
class Cell:
    """An executed cell, as ``nb.cell(tag)`` returns it."""

    source: str
    text: str
    error: str | None


def cell_view(cell: nbformat.NotebookNode) -> Cell:
    """The source, the printed text and the error name of an executed cell."""
    text, error = [], None
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stdout":
            text.append(out.text)
        elif out.output_type in ("execute_result", "display_data") and "text/plain" in out.data:
            text.append(out.data["text/plain"] + "\n")
        elif out.output_type == "error":
            error = out.ename
    return Cell(cell.source, "".join(text), error)


def find_cell(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    """The first cell tagged ``tag``; LookupError naming the tag if there is none."""
    for cell in nb.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            return cell
    raise LookupError(f"the notebook has no cell tagged {tag!r}")


def check_name(name: str) -> str:
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(f"not a name that can be called: {name!r}")
    return name


class Notebook:
    """The executed notebook and its kernel, as seen by tests.

    Each call may take ``timeout`` seconds, and all calls together ``budget``
    seconds, so that a slow submission cannot stretch grading without end.
    """

    def __init__(self, kernel: Kernel, executed: nbformat.NotebookNode, timeout: float,
                 budget: float | None = None):
        self._kernel = kernel
        self._timeout = timeout
        self._deadline = None if budget is None else time.monotonic() + budget
        self._codec_sent = False
        self.notebook = executed

    @property
    def backend(self) -> Backend:
        """The kind of sandbox the kernel runs in: a kit that starts processes of its own
        (an app to probe) starts them in the same kind."""
        return self._kernel.backend

    def ref(self, expr: str) -> Any:
        """The value of ``expr`` in the notebook, decoded into plain Python values."""
        return self._value(f"({expr}\n)")

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the notebook's ``name`` with these (encoded) arguments; return the decoded result."""
        fn = check_name(name)
        a, kw = codec.dumps(list(args)), codec.dumps(kwargs)
        return self._value(f"{fn}(*{_CODEC_NAME}.loads({a!r}), **{_CODEC_NAME}.loads({kw!r}))")

    def assign(self, name: str, value: Any) -> None:
        """Set the kernel's variable ``name`` to (a decoded copy of) ``value``: data the grader
        chooses, for code run with ``run`` or ``call`` to use."""
        if not name.isidentifier():
            raise ValueError(f"not a variable name: {name!r}")
        self._send_codec()
        self.run(f"{name} = {_CODEC_NAME}.loads({codec.dumps(value)!r})")

    def run(self, code: str) -> str:
        """Run ``code`` in the kernel and return what it printed; NotebookError if it raised."""
        reply = self._kernel.execute(code, self._call_timeout())
        if reply.status == "error":
            raise NotebookError(reply.ename or "Error", reply.evalue, self._where())
        return reply.stdout

    def cell(self, tag: str) -> Cell:
        """The executed cell tagged ``tag``."""
        return cell_view(find_cell(self.notebook, tag))

    def _value(self, expression: str, locate: bool = True) -> Any:
        self._send_codec()
        code = f"with {_CODEC_NAME}.quiet():\n    {_VALUE} = {expression}\n{_CODEC_NAME}.emit({_VALUE})\ndel {_VALUE}"
        reply = self._kernel.execute(code, self._call_timeout(), codec.MIME)
        if reply.status == "error":
            if reply.ename == "CodecError":
                raise CodecError(reply.evalue)
            raise NotebookError(reply.ename or "Error", reply.evalue, self._where() if locate else "")
        if reply.value is None:
            raise CodecError("no value came back from the notebook")
        return codec.loads(reply.value)

    def _where(self) -> str:
        """The notebook cell and line the last error was raised in ("cell 5, line 3", counting
        every cell from 1), asked of the kernel; "" if it was not raised in one of the notebook's
        cells (the test's own code) or cannot be told. Only a message depends on it."""
        if not self._codec_sent:
            return ""
        with contextlib.suppress(Exception):  # the query's own failure leaves the message without a place
            found = self._value(_WHERE, locate=False)
            place = found[0] if isinstance(found, list) and found else None
            if isinstance(place, tuple) and isinstance(place[1], int) and (
                    label := _CELL_LABEL.fullmatch(str(place[0])[:20])):
                count, line = int(label.group(1)), place[1]
                for index, cell in enumerate(self.notebook.cells):
                    if cell.get("execution_count") == count:
                        return f"cell {index + 1}, line {line}"
        return ""

    def _call_timeout(self) -> float:
        if self._deadline is None:
            return self._timeout
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise KernelTimeout("the time for testing this notebook ran out")
        return min(self._timeout, left)

    def _send_codec(self) -> None:
        if self._codec_sent:
            return
        source = inspect.getsource(codec)
        # Minimal tracebacks: IPython's default mode takes seconds to format a deep one,
        # and tests only need the exception's name and message.
        self.run(f"import types as _t\n{_CODEC_NAME} = _t.ModuleType({_CODEC_NAME!r})\n"
                 f"exec({source!r}, {_CODEC_NAME}.__dict__)\ndel _t\n"
                 "get_ipython().InteractiveTB.set_mode('Minimal')")
        self._codec_sent = True
