"""What the deployment lab asks of the notebook, for its public tests (and ``check()``).

The grader's deployment kit knows a Dockerised HTTP model service in general; this lab's
service is the one described here: the files the notebook writes, the folder it writes them in,
and its app's contract.
The hidden tests' conftest describes the same service.
"""

import pytest

from grader.kits.deployment.answers import Contract
from grader.kits.deployment.files import read_files

NOTEBOOK_FILES = ("app.py", "model.joblib", "requirements.txt", "Dockerfile")  # what the notebook writes
SERVICE = "service"  # where it writes them: the image's build context, a folder beside the notebook
# GET /health answers once the app is up; POST /predict takes the 30 features of one tumour.
CONTRACT = Contract(health="/health", predict="/predict", request=lambda row: {"features": row})


@pytest.fixture(scope="module")
def files(nb):
    """The files the notebook wrote, as bytes (None for one it did not write), by their names
    in the build context."""
    return read_files(nb, NOTEBOOK_FILES, SERVICE)


@pytest.fixture(scope="session")
def contract():
    """How the grader asks this lab's app for a prediction."""
    return CONTRACT
