"""The llm kit: an OpenAI-compatible server of the grader's, reached from inside the sandbox.

A lab with ``kits = ["llm"]`` gets, for each submission, a fresh server on a
Unix socket that the sandbox sees as ``127.0.0.1:8000`` (``OPENAI_BASE_URL``
and a dummy ``OPENAI_API_KEY`` are set), and its tests get the ``llm``
fixture: every request the notebook sent, and the next replies or faults.
Students run the same server with ``grade llm-server``.

This package defines ``KIT`` only; nothing else is exported from it. Lab tests
import what they script the server with from :mod:`grader.kits.llm.model`
(``Reply``, ``count_tokens``) and :mod:`grader.kits.llm.embedding` (``embed``).
Its modules, each importing only those above it: ``bounds`` (what a request may
cost), ``embedding`` (the embedding model), ``model`` (the script, the record and the
answers), ``server`` (the app and its uvicorn thread), then ``fixture`` and
``command``. The HTTP machinery it shares with the api kit (the bounds, the
record, the uvicorn thread, the sandbox service, the serve command) is
:mod:`grader.kits.served`.
"""

from grader.kits import Kit
from grader.kits.llm.command import cmd_llm_server
from grader.kits.llm.fixture import LLMFixtures
from grader.kits.llm.server import sandbox_service

__all__ = ["KIT"]

KIT = Kit("llm", plugin=LLMFixtures, service=sandbox_service, commands={"llm-server": cmd_llm_server},
          summary="an OpenAI-compatible server the notebook calls; the llm fixture scripts and reads it")
