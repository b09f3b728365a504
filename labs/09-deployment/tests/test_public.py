"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They read the files your notebook wrote in service/ (model.joblib, app.py,
requirements.txt, Dockerfile) and serve your app with uvicorn in a fresh
sandbox that holds only app.py and model.joblib, sending it requests from
outside. The grader also runs hidden tests on more requests,
on bad input, and on every Dockerfile practice the notebook teaches.
"""

import re

import pytest
from sklearn.datasets import load_breast_cancer

from grader.kits.deployment.dockerfile import refusal
from grader.kits.deployment.files import dockerfile
from grader.kits.deployment.probe import probe_app

PACKAGES = ["fastapi", "uvicorn", "scikit-learn", "joblib"]
ROWS = load_breast_cancer().data[:3].tolist()


@pytest.fixture(scope="module")
def app(nb, files, contract):
    return probe_app(nb, ROWS, {}, contract=contract, files=files)


def answered(app: dict) -> dict:
    assert app["error"] is None, f"the app did not start: {app['error']}"
    return app


@pytest.mark.points(1)
def test_q1_model_is_accurate(nb):
    """q1: train_model() returns a fitted model at least 95% accurate on the data"""
    data = "load_breast_cancer(return_X_y=True)"
    assert nb.ref(f"float(train_model().score(*__import__('sklearn.datasets').datasets.{data}))") >= 0.95


@pytest.mark.points(1)
def test_q1_model_is_saved(files):
    """q1: the model is saved as service/model.joblib"""
    assert files["model.joblib"], "no service/model.joblib: run the cell that calls save_model"


@pytest.mark.points(1)
def test_q2_health(app):
    """q2: GET /health answers 200 with {"status": "ok"}"""
    health = answered(app)["health"]
    assert (health["status"], health["json"]) == (200, {"status": "ok"}), health["text"]


@pytest.mark.points(1)
def test_q2_predict_fields(app):
    """q2: POST /predict answers 200 with label, prediction and probability"""
    for response in answered(app)["predict"]:
        assert response["status"] == 200, response["text"]
        assert set(response["json"]) >= {"label", "prediction", "probability"}, response["json"]


@pytest.mark.points(1)
def test_q3_requirements_pinned(files):
    """q3: requirements.txt pins fastapi, uvicorn, scikit-learn and joblib with =="""
    text = (files["requirements.txt"] or b"").decode(errors="replace")
    pinned = {m.group(1).lower() for m in re.finditer(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*\S+", text, re.MULTILINE)}
    missing = [p for p in PACKAGES if p not in pinned]
    assert not missing, f"not pinned with ==: {', '.join(missing)}"


@pytest.mark.points(1)
def test_q4_dockerfile_builds_from_its_files(files):
    """q4: the Dockerfile has a FROM and a CMD, and builds from its own files, offline"""
    df = dockerfile(files)
    reason = refusal(df)
    assert reason is None, f"refused: {reason}"
    assert df.all("CMD") or df.all("ENTRYPOINT"), "no CMD: the container would not start the app"
