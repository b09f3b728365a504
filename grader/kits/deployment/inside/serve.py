"""The app under uvicorn, in a fresh sandbox that holds only the app's files:
``python -s -P -m grader.kits.deployment.inside.serve SHARED``.

Its output goes to ``app.log`` in SHARED, the sandbox's read-write folder, before anything
of the app runs. The socket is bound here, as ``app.sock`` in SHARED, and handed to
uvicorn, which listens on it once the app has started up: an accepted connection means
start-up is over. Nothing here touches the socket's path again, so the grader can move it
out of the sandbox's reach at any time. uvicorn is imported only after the output is
redirected, so that even its import errors reach the log.
"""

from __future__ import annotations

import os
import socket
import sys

APP = "app:app"  # the module (app.py in the working folder) and the ASGI app in it


def main(shared: str) -> None:
    log = os.open(os.path.join(shared, "app.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.path.insert(0, os.getcwd())
    import uvicorn

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(shared, "app.sock"))
    uvicorn.Server(uvicorn.Config(APP, lifespan="on", log_level="warning")).run(sockets=[listener])


if __name__ == "__main__":
    main(sys.argv[1])
