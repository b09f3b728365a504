"""Starting, driving and ending one ipykernel inside one sandbox.

The kernel is launched by jupyter_client's own ``AsyncKernelManager`` (the
synchronous one can hang when a cell calls ``os._exit``); only its command
line is changed, so that it runs inside the sandbox. Setting ``kernel_cmd``
would be silently ignored, so the wrapping happens in ``format_kernel_cmd``,
and tests check that the kernel really runs sandboxed.

The grader talks to the kernel over ``ipc`` (Unix sockets in a folder bound
into the sandbox): TCP would not cross the network namespace. Everything
async runs on one event loop in a background thread, so that the rest of the
grader, pytest included, can call the kernel with plain blocking calls.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from grader.sandbox import Backend, Limits, Service

STARTUP_TIMEOUT = 60.0
INTERRUPT_GRACE = 3.0
LOG_TAIL = 2000


class KernelError(RuntimeError):
    """The kernel could not be started, or is gone."""


class KernelTimeout(TimeoutError):
    """Code sent to the kernel did not finish in time."""


class SandboxedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel command runs inside a sandbox."""

    def __init__(self, sandbox, **kwargs):
        super().__init__(**kwargs)
        self._sandbox = sandbox
        self._kernel_spec = KernelSpec(
            argv=[os.path.abspath(sys.executable), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (sandboxed)", language="python",
            interrupt_mode="message",  # signals would reach bubblewrap, not the kernel
        )

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        self._sandbox.share(Path(self.connection_file))
        return self._sandbox.command(super().format_kernel_cmd(extra_arguments))


@dataclass
class Reply:
    """What one request to the kernel produced."""

    status: str = "ok"
    stdout: str = ""
    ename: str | None = None
    evalue: str = ""
    data: list[dict] = field(default_factory=list)  # display_data / execute_result bundles


class Kernel:
    """A sandboxed kernel with blocking methods; ``close()`` ends it and its sandbox."""

    def __init__(self, backend: Backend, files: list[Path], limits: Limits, services: tuple[Service, ...] = ()):
        self.socket_dir = Path(tempfile.mkdtemp(prefix="grader-kernel-"))
        self.sandbox = backend.open(files, self.socket_dir, limits, services)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kernel-loop", daemon=True)
        self._thread.start()
        self.km: SandboxedKernelManager | None = None
        self.kc = None
        self.hung = False  # set when the kernel ignored an interrupt
        self._log = self.sandbox.launch_dir / "kernel.log"

    def run(self, coro, timeout: float | None = None):
        """Run ``coro`` on the kernel's loop and wait for it; KernelTimeout after ``timeout``."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise KernelTimeout(f"no answer within {timeout:.0f} s") from None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        try:
            self.run(self._start(timeout), timeout + 5)
        except (RuntimeError, TimeoutError) as exc:
            raise KernelError(f"the kernel did not start: {exc}\n{self.log_tail()}") from exc

    async def _start(self, timeout: float) -> None:
        self.km = SandboxedKernelManager(
            self.sandbox, transport="ipc", ip=str(self.socket_dir / "kernel"),
            connection_file=str(self.socket_dir / "kernel.json"),
        )
        with open(self._log, "wb") as log:  # the kernel process keeps its own copy of the descriptor
            await self.km.start_kernel(cwd=str(self.sandbox.launch_dir), stdout=log, stderr=log)
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=timeout)

    def log_tail(self) -> str:
        """The end of what the kernel process wrote outside Jupyter's channels."""
        try:
            return self._log.read_bytes()[-LOG_TAIL:].decode("utf-8", "replace")
        except OSError:
            return ""

    def is_alive(self) -> bool:
        return self.km is not None and self.run(self.km.is_alive(), 10)

    def execute(self, code: str, timeout: float) -> Reply:
        """Run ``code``; on timeout interrupt it and raise KernelTimeout."""
        if self.hung:
            raise KernelError("the kernel stopped answering after an earlier timeout")
        if not self.is_alive():
            raise KernelError("the kernel is no longer running")
        try:
            return self.run(self._execute(code), timeout)
        except KernelTimeout:
            self._interrupt()
            raise

    async def _execute(self, code: str) -> Reply:
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
        reply = Reply()
        while True:
            msg = await self.kc.get_iopub_msg()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                reply.stdout += content.get("text", "")
            elif kind in ("display_data", "execute_result"):
                reply.data.append(content.get("data", {}))
            elif kind == "error":
                reply.status, reply.ename, reply.evalue = "error", content.get("ename"), content.get("evalue", "")
            elif kind == "status" and content.get("execution_state") == "idle":
                return reply

    def _interrupt(self) -> None:
        """Interrupt the running code; mark the kernel hung if it does not come back."""
        try:
            self.run(self.km.interrupt_kernel(), 10)
            self.run(self._wait_idle(), INTERRUPT_GRACE)
        except (KernelTimeout, RuntimeError):
            self.hung = True

    async def _wait_idle(self) -> None:
        msg_id = self.kc.kernel_info()
        while True:
            msg = await self.kc.get_shell_msg()
            if msg["parent_header"].get("msg_id") == msg_id:
                return

    def close(self) -> None:
        """Kill the kernel at once (no polite shutdown: it can take seconds) and clean up."""
        try:
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km is not None and self.km.has_kernel:
                self.run(self.km.shutdown_kernel(now=True), 15)
        except (RuntimeError, TimeoutError, OSError):
            pass
        finally:
            self.sandbox.close()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            shutil.rmtree(self.socket_dir, ignore_errors=True)
