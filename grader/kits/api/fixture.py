"""The ``api`` fixture: the grader's REST API for this notebook, its data, faults and record."""

from __future__ import annotations

import pytest

from grader.kits.api.model import API


class APIFixtures:
    """The pytest plugin of the api kit, over one submission's server (None: tests only listed)."""

    def __init__(self, api: API | None):
        self._api = api

    @pytest.fixture
    def api(self) -> API:
        """The grader's REST API for this notebook (grader.kits.api.model.API)."""
        if self._api is None:
            pytest.fail("the API server is not running: the notebook was not run", pytrace=False)
        return self._api
