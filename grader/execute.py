"""Running a submission's cells: nbclient, with timeouts, an output cap and a status.

nbclient runs the cells on the already started sandboxed kernel. A cell that
runs too long is interrupted and the next cell runs; a notebook that runs too
long is stopped and gets ``timeout``. nbclient keeps all output in memory and
has no cap, so outputs are counted as they stream in and dropped past the
cap, before they can fill the grader's memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.kernel import Kernel, KernelTimeout

OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")
DEFAULT_OUTPUT_CAP = 1024 * 1024


@dataclass
class Execution:
    """The executed notebook and how its execution ended."""

    notebook: nbformat.NotebookNode
    status: str  # graded, timeout, memory or crashed
    message: str
    seconds: float
    truncated: bool = False


class CappedNotebookClient(NotebookClient):
    """A NotebookClient that keeps at most ``output_cap`` bytes of output per notebook."""

    def __init__(self, nb, km, output_cap: int, **kwargs):
        super().__init__(nb, km=km, **kwargs)
        self.output_cap = output_cap
        self.output_bytes = 0
        self.truncated = False

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] in OUTPUT_TYPES:
            self.output_bytes += _content_size(msg["content"])
            if self.output_bytes > self.output_cap:
                if not self.truncated:
                    self.truncated = True
                    cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stderr",
                        text=f"\n[grader: output beyond {self.output_cap // 1024} KiB was dropped]\n"))
                return None
        return super().process_message(msg, cell, cell_index)


def _content_size(content: dict) -> int:
    size = len(content.get("text", "")) + sum(len(line) for line in content.get("traceback", []))
    data = content.get("data")
    if isinstance(data, dict):
        size += sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())
    return size


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as submitted, minus outputs the student may have typed in by hand."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def execute(kernel: Kernel, nb: nbformat.NotebookNode, cell_timeout: float, timeout: float,
            output_cap: int = DEFAULT_OUTPUT_CAP) -> Execution:
    """Run every code cell of ``nb`` in ``kernel``; the notebook is changed in place."""
    client = CappedNotebookClient(
        clean(nb), kernel.km, output_cap, timeout=int(max(1, cell_timeout)), interrupt_on_timeout=True,
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
    return Execution(nb, status, message, time.monotonic() - started, client.truncated)
