"""Raw HTTP/1.1 on a kit server's Unix socket, the way a sandboxed notebook reaches it: lengths
can lie, bodies can be chunked or trickle in, and heads can be as large as an attacker likes.
Shared by the tests of every kit that serves HTTP (grader.kits.served), with the server's
peak memory."""

from __future__ import annotations

import http.client
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import wait_for

KiB = 2**10

RESET = 0  # h11 refuses a head that overflows its buffer, and uvicorn closes at once: the
# client, still sending, may see the connection reset rather than the 400


def connect(sock: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(30)
    conn.connect(str(sock))
    return conn


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def in_pieces(data: bytes, piece: int = 64 * KiB) -> list[bytes]:
    return [data[start:start + piece] for start in range(0, len(data), piece)]


def header_fields(count: int, size: int = 8) -> bytes:
    return b"".join(b"x-f%d: %s\r\n" % (i, b"v" * size) for i in range(count))


def exchange(sock: Path, first: bytes, rest: Iterable[bytes] = ()) -> tuple[int, bytes, int]:
    """Send ``first``, then each of ``rest`` until the server answers; return the status and
    body of the answer and how many bytes of ``rest`` went out before it came."""
    with connect(sock) as conn:
        conn.sendall(first)
        sent = 0
        for piece in rest:
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        answer = http.client.HTTPResponse(conn)
        answer.begin()
        return answer.status, answer.read(), sent


def status_or_reset(sock: Path, request: bytes) -> int:
    """The status of ``request`` sent in pieces, or RESET if the server closed on it mid-send."""
    try:
        return exchange(sock, b"", in_pieces(request))[0]
    except ConnectionResetError:
        return RESET


def trickle(conn: socket.socket, data: bytes) -> bool:
    """Send ``data`` a byte at a time, pausing between bytes until the server closes; True
    if it did before everything was sent."""
    for byte in data:
        readable, _, _ = select.select([conn], [], [], 0.05)
        if readable and conn.recv(1024) == b"":
            return True
        try:
            conn.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def peak_rss(pid: int) -> int:
    """The process's peak resident set size, in bytes: what a server serving from a process of
    its own cost at most, hostile requests included."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * KiB


def assert_cut_off(sock: Path, seconds: float, before: bytes, trickled: bytes) -> None:
    """A request that takes too long to arrive (``before`` at once, then ``trickled`` a byte at a
    time) is cut off by the server after ``seconds``, give or take."""
    with connect(sock) as conn:
        started = time.monotonic()
        conn.sendall(before)
        assert trickle(conn, trickled) or conn.recv(1024) == b""
        assert seconds * 0.9 <= time.monotonic() - started < seconds + 10


def _answers(sock: Path, still_answers: Callable[[Path], None]) -> bool:
    try:
        still_answers(sock)
    except (OSError, http.client.HTTPException):
        return False
    return True


def assert_connections_bounded(sock: Path, bound: int, still_answers: Callable[[Path], None]) -> None:
    """With ``bound`` connections open and idle, one more is closed as it arrives; once one of them
    closes, the server answers again (``still_answers`` checks an answer)."""
    idle = [connect(sock) for _ in range(bound)]
    try:
        with connect(sock) as extra:
            assert extra.recv(1024) == b""
        idle.pop().close()
        wait_for(lambda: _answers(sock, still_answers), 10)  # until the server has seen the close
    finally:
        for conn in idle:
            conn.close()


SERVE = """
import importlib, sys
from pathlib import Path
server = importlib.import_module(sys.argv[1]).Server(uds=Path(sys.argv[2]))
server.start()
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def served_alone(module: str, sock: Path) -> Iterator[subprocess.Popen]:
    """The ``Server`` of ``module`` serving on ``sock`` from a process of its own (whose memory
    ``peak_rss`` reads), until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", SERVE, module, str(sock)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(10)
