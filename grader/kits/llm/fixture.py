"""The ``llm`` fixture: what the notebook sent to the grader's LLM server, and the next replies."""

from __future__ import annotations

import pytest

from grader.kits.llm.model import LLM


class LLMFixtures:
    """The pytest plugin of the llm kit, over one submission's server (None: tests only listed)."""

    def __init__(self, llm: LLM | None):
        self._llm = llm

    @pytest.fixture
    def llm(self) -> LLM:
        """The grader's LLM server for this notebook (grader.kits.llm.model.LLM)."""
        if self._llm is None:
            pytest.fail("the LLM server is not running: the notebook was not run", pytrace=False)
        return self._llm
