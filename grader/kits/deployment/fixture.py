"""The deployment kit's pytest plugin: the batch's one decision about the live layer, as a fixture.

A lab's live tests pass the ``docker_engine`` fixture to :func:`.container.run_live`, so that
every submission of a batch is graded under the decision its batch made before the first one
(:func:`.container.decide`): an engine that starts or stops in the middle of a batch cannot give
its rows two different maximum scores.
"""

from __future__ import annotations

import pytest

from grader.kits.deployment.container import Engine


class DeploymentFixtures:
    """The plugin over one submission; ``decided`` is None when the tests are only listed."""

    def __init__(self, decided: Engine | None):
        self._decided = decided

    @pytest.fixture(scope="session")
    def docker_engine(self) -> Engine:
        """Whether the live layer runs for this submission, as its batch decided (container.Engine)."""
        if self._decided is None:
            pytest.fail("the notebook was not run: nothing to build", pytrace=False)
        return self._decided
