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
import contextlib
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session
from zmq.utils.monitor import parse_monitor_message

from grader import bounded
from grader.engine.sandbox import Backend, Limits, Service

STARTUP_TIMEOUT = 60.0
INTERRUPT_GRACE = 3.0
LOG_TAIL = 2000
MiB = 2**20
# The largest frame the grader accepts on each channel, and how many messages may wait
# unread. ZeroMQ checks a frame's size from its header, before it allocates the frame,
# and drops the connection to a kernel that sends a larger one (BoundedKernelClient then
# connects again): nothing a kernel sends can make the grader hold more than about size x queue per channel.
# iopub carries values for tests (grader.testing.codec keeps them below 16 MiB); the others carry
# replies, which are small. stdin is never started (the grader answers no input()), only
# connected by jupyter_client as it stops; the heartbeat is never started: a dead kernel
# is told by its process.
CHANNEL_BOUNDS = {"iopub": (20 * MiB, 16), "shell": (8 * MiB, 8), "control": (1 * MiB, 8), "stdin": (64 * 2**10, 1)}
RETRY_WAIT = 1.0  # seconds in which ZeroMQ retries a dropped connection itself, if it does
SOCKET_PATH_LIMIT = 107  # bytes in a Unix socket's path (sun_path, less its final NUL)
STDOUT_LIMIT = 1 * MiB  # what a test's ``nb.run`` gets back of the code's stdout
ERROR_TEXT_LIMIT = 4000  # of an exception's name and message in a reply


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


class LogTail:
    """What the kernel process writes outside Jupyter's channels: read from a pipe as it
    comes, only its last LOG_TAIL bytes kept. Never a file: the kernel could fill the
    host's disk through its own stdout."""

    def __init__(self):
        self._tail = b""
        self._read, self._write = os.pipe()
        threading.Thread(target=self._drain, name="kernel-log", daemon=True).start()

    @contextlib.contextmanager
    def writer(self):
        """The pipe's writing end, for the kernel process; closed here once it has its copy."""
        try:
            yield self._write
        finally:
            os.close(self._write)

    def _drain(self) -> None:
        with open(self._read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                self._tail = (self._tail + chunk)[-LOG_TAIL:]

    def text(self) -> str:
        return self._tail.decode("utf-8", "replace")


class BoundedSession(Session):
    """A session that turns any message it cannot read safely into one nobody waits for.

    The kernel holds the session key, so it can sign anything: frames that are not JSON,
    JSON nested past the bound, fields of the wrong type, a replayed signature. Each would
    raise inside jupyter_client's reader, in the grader, and end the whole submission as a
    grader error. Here each becomes a message with no parent, which every reader skips.
    """

    def deserialize(self, msg_list, content: bool = True, copy: bool = True) -> dict:
        try:
            message = super().deserialize(msg_list, content=content, copy=copy)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _dropped(f"{type(exc).__name__}: {str(exc)[:200]}")
        fields = ("header", "parent_header", "metadata", "content")
        if not all(isinstance(message.get(f), dict) for f in fields) or not isinstance(message["msg_type"], str):
            return _dropped("a message whose parts are not objects")
        return message


def unpack_bounded(data: bytes) -> object:
    """One JSON frame of a message, read within the bounds of grader.bounded."""
    return bounded.loads(data, CHANNEL_BOUNDS["iopub"][0], "a kernel message")


def _dropped(reason: str) -> dict:
    """A stand-in for an unreadable message: its empty parent matches no request."""
    header = {"msg_id": "", "msg_type": "grader_dropped", "reason": reason}
    return {"header": header, "msg_id": "", "msg_type": "grader_dropped", "parent_header": {}, "metadata": {},
            "content": {}, "buffers": []}


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client whose sockets take only frames of a bounded size, and queue few.

    ZeroMQ ends a connection that brought an oversized frame for good (a protocol error is
    never retried), so each socket is watched, and a dropped connection made again: the
    oversized message is lost, the channel is not.
    """

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket:
        url = self._make_url(channel)
        sock = self.context.socket(_SOCKET_TYPES[channel])
        size, queue = CHANNEL_BOUNDS[channel]
        sock.setsockopt(zmq.MAXMSGSIZE, size)
        sock.setsockopt(zmq.RCVHWM, queue)
        sock.linger = 1000
        if identity:
            sock.identity = identity
        sock.connect(url)
        if channel != "stdin":  # only ever connected as the channels stop
            self._watchers = [*getattr(self, "_watchers", []), asyncio.ensure_future(_reconnect(sock, url))]
        return sock

    async def stop_watched_channels(self) -> None:
        """Stop the watchers, then the channels, on the loop that runs both: ZeroMQ sockets
        must not be used from two threads at once."""
        watchers = getattr(self, "_watchers", [])
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        self.stop_channels()


RETRY_EVENTS = zmq.EVENT_CONNECTED | zmq.EVENT_CONNECT_DELAYED | zmq.EVENT_CONNECT_RETRIED


async def _reconnect(sock: zmq.Socket, url: str) -> None:
    """Connect ``sock`` to ``url`` again when its connection dropped and ZeroMQ does not
    retry it (after a frame over the bound): a dropped connection it retries by itself (a
    kernel that exited) is left to it, never doubled."""
    monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | RETRY_EVENTS)
    try:
        while True:
            if parse_monitor_message(await monitor.recv_multipart())["event"] != zmq.EVENT_DISCONNECTED:
                continue
            try:
                await asyncio.wait_for(monitor.recv_multipart(), RETRY_WAIT)
            except TimeoutError:
                sock.disconnect(url)  # ZeroMQ keeps the dead endpoint, and ignores a second connect to it
                sock.connect(url)
    except zmq.ZMQError:  # the socket was closed
        return
    finally:
        monitor.close(linger=0)


_SOCKET_TYPES = {"iopub": zmq.SUB, "shell": zmq.DEALER, "control": zmq.DEALER, "stdin": zmq.DEALER}


@dataclass
class Reply:
    """What one request to the kernel produced."""

    status: str = "ok"
    stdout: str = ""  # at most STDOUT_LIMIT characters: the head
    ename: str | None = None
    evalue: str = ""
    value: str | None = None  # the last display bundle's ``value_mime`` entry, if one came


class Kernel:
    """A sandboxed kernel with blocking methods; ``close()`` ends it and its sandbox."""

    def __init__(self, backend: Backend, files: list[Path], limits: Limits, services: tuple[Service, ...] = ()):
        self.backend = backend
        self.socket_dir = Path(tempfile.mkdtemp(prefix="k-"))  # short: a socket's path has 107 bytes at most
        if len(str(self.socket_dir / "k-65535")) > SOCKET_PATH_LIMIT:
            shutil.rmtree(self.socket_dir)
            raise KernelError(f"the temporary folder {tempfile.gettempdir()} has too long a path for the kernel's "
                              "sockets: set TMPDIR to a shorter one")
        self.sandbox = backend.open(files, self.socket_dir, limits, services)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kernel-loop", daemon=True)
        self._thread.start()
        self.km: SandboxedKernelManager | None = None
        self.kc = None
        self.hung = False  # set when the kernel ignored an interrupt
        self._log = LogTail()

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
            self.sandbox, transport="ipc", ip=str(self.socket_dir / "k"),
            connection_file=str(self.socket_dir / "kernel.json"),
            client_class="grader.engine.kernel.BoundedKernelClient", session=BoundedSession(unpack=unpack_bounded),
        )
        with self._log.writer() as log:  # the kernel process keeps its own copy of the descriptor
            await self.km.start_kernel(cwd=str(self.sandbox.launch_dir), stdout=log, stderr=log)
        self.kc = self.km.client()
        self.kc.start_channels(stdin=False, hb=False)
        await self.kc.wait_for_ready(timeout=timeout)
        self._seal()

    def _seal(self) -> None:
        """The kernel has bound its sockets and read its connection file: from now on the
        sandbox may write nothing in the folder, which is on the host's disk. Run as root,
        the grader takes both back; as a user the sandbox shares its uid, and its own
        limits (file size) are what bound it."""
        if os.geteuid() != 0:
            return
        for path in (self.socket_dir / "kernel.json", self.socket_dir):
            os.chown(path, 0, 0)
            os.chmod(path, 0o700)

    def log_tail(self) -> str:
        """The end of what the kernel process wrote outside Jupyter's channels."""
        return self._log.text()

    def is_alive(self) -> bool:
        return self.km is not None and self.run(self.km.is_alive(), 10)

    def execute(self, code: str, timeout: float, value_mime: str | None = None) -> Reply:
        """Run ``code``; on timeout interrupt it and raise KernelTimeout. The reply keeps the
        head of stdout and the last ``value_mime`` payload displayed, nothing else."""
        if self.hung:
            raise KernelError("the kernel stopped answering after an earlier timeout")
        if not self.is_alive():
            raise KernelError("the kernel is no longer running")
        try:
            return self.run(self._execute(code, value_mime), timeout)
        except KernelTimeout:
            self._interrupt()
            raise

    async def _execute(self, code: str, value_mime: str | None) -> Reply:
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
        reply = Reply()
        while True:
            msg = await self.kc.get_iopub_msg()
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                reply.stdout += _text(content.get("text"))[:STDOUT_LIMIT - len(reply.stdout)]
            elif kind in ("display_data", "execute_result") and value_mime is not None:
                data = content.get("data")
                if isinstance(data, dict) and isinstance(data.get(value_mime), str):
                    reply.value = data[value_mime]
            elif kind == "error":
                reply.status = "error"
                reply.ename = _text(content.get("ename"))[:ERROR_TEXT_LIMIT] or "Error"
                reply.evalue = _text(content.get("evalue"))[:ERROR_TEXT_LIMIT]
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
                self.run(self.kc.stop_watched_channels(), 10)
            if self.km is not None and self.km.has_kernel:
                self.run(self.km.shutdown_kernel(now=True), 15)
        except (RuntimeError, TimeoutError, OSError):
            pass
        finally:
            self.sandbox.close()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            shutil.rmtree(self.socket_dir, ignore_errors=True)


def _text(value: object) -> str:
    """A message field that should be text: the kernel may send anything."""
    return value if isinstance(value, str) else ""
