"""``python -m grader.engine.sandbox.forward PORT SOCKET``: loopback TCP inside a sandbox -> a Unix socket.

A sandbox has no network, not even the host's loopback. A service the lab
needs (the grader's LLM server) is bound into it as a Unix socket, and this
forwarder, started inside the sandbox next to the kernel, makes it reachable
at ``127.0.0.1:PORT`` so that ordinary clients work unchanged. It runs as the
student: killing it only cuts the student's own access.
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(port: int, socket_path: str) -> None:
    async def handle(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), sys.argv[2]))
