"""Running a submission's cells: nbclient, with timeouts, an output cap and a status.

nbclient runs the cells on the already started sandboxed kernel. A cell that
runs too long is interrupted and the next cell runs; a notebook that runs too
long is stopped and gets ``timeout``. nbclient keeps all output in memory and
has no cap, so every output message is counted as it streams in, whole
(text, data, metadata, an error's message and traceback), and dropped past
the cell's or the notebook's share (:class:`OutputCaps`), before it can fill
the grader's memory or the files written from it.

A cell stopped at its time limit ends in the KeyboardInterrupt of the interrupt
that stopped it; the student did not press anything, so that error becomes
``TimeoutError: cell exceeded N s`` in the cell, and the result's message names the cell.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.engine.kernel import Kernel, KernelTimeout

KiB, MiB = 2**10, 2**20
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")
ERROR_KEEP = 2000  # characters of an error's message kept when its cell's output is spent


@dataclass(frozen=True)
class OutputCaps:
    """How much output the grader keeps, in bytes of JSON (so escapes count as written).

    A cell keeps the head of its output up to ``cell``; all cells together keep up to
    ``total``, and once that is spent every later cell still keeps ``head``. A flood in one
    cell costs that cell's tail only: a later cell that prints its answer keeps it.
    """

    cell: int = 256 * KiB
    total: int = 2 * MiB
    head: int = 4 * KiB


class OutputBudget:
    """What each cell has spent of its ``OutputCaps``; a cell once cut keeps nothing more."""

    def __init__(self, caps: OutputCaps):
        self.caps = caps
        self.spent = 0
        self.by_cell: dict[int, int] = {}
        self.cut: set[int] = set()

    def left(self, cell: int) -> int:
        if cell in self.cut:
            return 0
        used = self.by_cell.get(cell, 0)
        return max(0, min(self.caps.cell - used, max(self.caps.total - self.spent, self.caps.head - used)))

    def spend(self, cell: int, size: int) -> None:
        self.spent += size
        self.by_cell[cell] = self.by_cell.get(cell, 0) + size


@dataclass
class Execution:
    """The executed notebook and how its execution ended."""

    notebook: nbformat.NotebookNode
    status: str  # graded, timeout, memory or crashed
    message: str
    seconds: float
    truncated: bool = False


class CappedNotebookClient(NotebookClient):
    """A NotebookClient that keeps only well-formed output, within an :class:`OutputBudget`.

    Comm messages (widgets) are never kept: nothing grades or shows them, and their state
    would be a channel around the cap.
    """

    def __init__(self, nb, km, caps: OutputCaps, **kwargs):
        super().__init__(nb, km=km, store_widget_state=False, **kwargs)
        self.budget = OutputBudget(caps)
        self.truncated = False
        self.timed_out: list[int] = []  # the cells interrupted at their time limit, by index

    async def _async_handle_timeout(self, timeout: int, cell=None):
        """nbclient's step for a cell past its time (it interrupts the kernel): note which cell it was."""
        index = next((i for i, c in enumerate(self.nb.cells) if c is cell), None)
        if index is not None and index not in self.timed_out:
            self.timed_out.append(index)
        return await super()._async_handle_timeout(timeout, cell)

    def _stopped(self, cell_index: int, content: dict | None) -> dict | None:
        """The error of a cell: the KeyboardInterrupt of a cell interrupted at its limit is said as what it is."""
        if content is None or cell_index not in self.timed_out or content["ename"] != "KeyboardInterrupt":
            return content
        text = f"cell exceeded {self.timeout} s and was stopped"
        return {"ename": "TimeoutError", "evalue": text, "traceback": [f"TimeoutError: {text}"]}

    def timeout_note(self) -> str:
        """The cells stopped at their limit, for the result's message (counting cells from 1)."""
        if not self.timed_out:
            return ""
        cells = ", ".join(str(i + 1) for i in self.timed_out)
        return f"cell{'s' if len(self.timed_out) > 1 else ''} {cells} exceeded {self.timeout} s and " + (
            "were stopped" if len(self.timed_out) > 1 else "was stopped")

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind.startswith("comm"):
            return None
        if kind not in OUTPUT_TYPES:
            return super().process_message(msg, cell, cell_index)
        content = msg["content"] if _well_formed(kind, msg["content"]) else None
        if kind == "error":
            content = self._stopped(cell_index, content)
        size = _json_size(content) + sum(len(b) for b in msg.get("buffers") or ())
        if content is None or size > self.budget.left(cell_index):
            content = self._cut(cell, cell_index, kind, content)
            if content is None:
                return None
            size = _json_size(content)
        self.budget.spend(cell_index, size)
        return super().process_message({**msg, "content": content, "buffers": []}, cell, cell_index)

    def _cut(self, cell, cell_index: int, kind: str, content: dict | None) -> dict | None:
        """What is kept of a message past the cell's budget: the head of a stream, the name
        and start of an error (tests look at which error a cell raised), else nothing."""
        left = self.budget.left(cell_index)
        kept = None
        if content is None:
            reason = "output that is not a well-formed Jupyter message"
        else:
            reason = f"output beyond {self.budget.caps.cell // KiB} KiB per cell"
            if kind == "stream" and left > 0:
                kept = {**content, "text": content["text"][: left // 6]}  # an escaped char is at most 6 bytes
            elif kind == "error":
                kept = {"ename": content["ename"][:200], "evalue": content["evalue"][:ERROR_KEEP], "traceback": []}
        if cell_index not in self.budget.cut:
            self.budget.cut.add(cell_index)
            self.truncated = True
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr", text=f"\n[grader: {reason} was dropped]\n"))
        return kept


def _json_size(content) -> int:
    return len(json.dumps(content)) if content is not None else 0


def _well_formed(kind: str, content) -> bool:
    """The fields nbformat and the grader read, of the types they expect: anything else
    a kernel sends is dropped, never an error of the grader's."""
    if not isinstance(content, dict):
        return False
    if kind == "stream":
        return content.get("name") in ("stdout", "stderr") and isinstance(content.get("text"), str)
    if kind == "error":
        trace = content.get("traceback", [])
        return (isinstance(content.get("ename"), str) and isinstance(content.get("evalue"), str)
                and isinstance(trace, list) and all(isinstance(line, str) for line in trace))
    data, meta = content.get("data"), content.get("metadata", {})
    return (isinstance(data, dict) and isinstance(meta, dict) and all(isinstance(k, str) for k in data)
            and all(_mime_value(k, v) for k, v in data.items()))


def _mime_value(mime: str, value) -> bool:
    """A mime bundle's value: text (or lines of it), or any JSON for a ``+json`` type."""
    if isinstance(value, str):
        return True
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return True
    return mime.endswith("json") and isinstance(value, (dict, list))


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as submitted, minus outputs the student may have typed in by hand."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def execute(kernel: Kernel, nb: nbformat.NotebookNode, cell_timeout: float, timeout: float,
            caps: OutputCaps = OutputCaps()) -> Execution:
    """Run every code cell of ``nb`` in ``kernel``; the notebook is changed in place."""
    client = CappedNotebookClient(
        clean(nb), kernel.km, caps, timeout=int(max(1, cell_timeout)), interrupt_on_timeout=True,
        allow_errors=True, record_timing=False, startup_timeout=60, kernel_name="python3",
    )
    client.kc = kernel.kc
    started = time.monotonic()
    status, message = "graded", ""
    try:
        kernel.run(client.async_execute(), timeout)
    except KernelTimeout:
        status, message = "timeout", f"the notebook ran longer than {timeout:.0f} s and was stopped"
    except DeadKernelError:
        if kernel.sandbox.memory_exceeded():
            status, message = "memory", "the notebook used more memory than allowed and was stopped"
        else:
            status, message = "crashed", "the kernel died while running the notebook"
    return Execution(nb, status, message or client.timeout_note(), time.monotonic() - started, client.truncated)
