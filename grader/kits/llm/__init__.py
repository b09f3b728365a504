"""The llm kit: an OpenAI-compatible server of the grader's, reached from inside the sandbox.

A lab with ``kits = ["llm"]`` gets, for each submission, a fresh server on a
Unix socket that the sandbox sees as ``127.0.0.1:8000`` (``OPENAI_BASE_URL``
and a dummy ``OPENAI_API_KEY`` are set), and its tests get the ``llm``
fixture: every request the notebook sent, and the next replies or faults.
Students run the same server with ``grade llm-server``.
"""

from grader.kits import Kit
from grader.kits.llm.command import cmd_llm_server
from grader.kits.llm.fixture import LLMFixtures
from grader.kits.llm.server import sandbox_service

KIT = Kit("llm", plugin=LLMFixtures, service=sandbox_service, commands={"llm-server": cmd_llm_server},
          summary="an OpenAI-compatible server the notebook calls; the llm fixture scripts and reads it")
