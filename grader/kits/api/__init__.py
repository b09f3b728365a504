"""The api kit: a small paginated JSON REST API of the grader's, reached from inside the sandbox.

A lab with ``kits = ["api"]`` gets, for each submission, a fresh server on a Unix socket
that the sandbox sees as ``127.0.0.1:8001`` (``API_BASE_URL`` is set), serving a support
desk's ``tickets`` and ``customers`` (:mod:`grader.kits.api.data`), read-only; its tests get
the ``api`` fixture: load data of their own, open a collection to writes (create, update,
delete, made safe to retry by an ``Idempotency-Key``), script faults (429 with
``Retry-After``, 500, 503, slow answers, a write whose answer is lost), and read every
request the notebook sent and the records its writes left. Students run the same server
with ``grade api-server``.

This package defines ``KIT`` only; nothing else is exported from it. Lab tests that need
its types import them from :mod:`grader.kits.api.model`. Its modules, each importing only
those above it: ``data`` (the default records), ``writes`` (creates, updates, deletes and
idempotency keys, in bounds), ``model`` (the data, faults and record, and paging),
``server`` (the app and its uvicorn thread), then ``fixture`` and ``command``. The
HTTP machinery it shares with the llm kit is :mod:`grader.kits.served`.
"""

from grader.kits import Kit
from grader.kits.api.command import cmd_api_server
from grader.kits.api.fixture import APIFixtures
from grader.kits.api.server import sandbox_service

__all__ = ["KIT"]

KIT = Kit("api", plugin=APIFixtures, service=sandbox_service, commands={"api-server": cmd_api_server},
          summary="a paginated JSON REST API the notebook calls, writable where a test says so; the api fixture "
                  "scripts its data and faults and reads its requests and the records written")
