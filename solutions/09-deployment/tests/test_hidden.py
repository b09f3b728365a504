"""Hidden tests for 09-deployment: run by the grader only.

In-process: the app.py and model.joblib the notebook wrote in service/ are copied into a fresh
sandbox and served there with uvicorn; the requests come from the grader's
process, and the rows are chosen at random here, so no answer can be
written in advance. Numbers that are not measurements (NaN, infinity, 1e308)
go as the text Python's json writes for them (``NaN``, ``Infinity``) and as
strings. Static: the
Dockerfile is parsed and linted here, and each practice the notebook teaches
is worth its own points. A Dockerfile that reaches for the network or the
host at build time earns none of them.
"""

import random
from importlib.metadata import version

import pytest
from sklearn.datasets import load_breast_cancer

from grader.kits.deployment import rules
from grader.kits.deployment.dockerfile import refusal
from grader.kits.deployment.files import dockerfile
from grader.kits.deployment.probe import probe_app

PACKAGES = ["fastapi", "uvicorn", "scikit-learn", "joblib"]
LABELS = ["malignant", "benign"]
DATA = load_breast_cancer()
PICKED = random.Random().sample(range(len(DATA.target)), 40)
ROWS = DATA.data[PICKED].tolist()
BAD = {
    "no features": {},
    "29 numbers": {"features": [1.0] * 29},
    "31 numbers": {"features": [1.0] * 31},
    "words": {"features": ["large"] * 30},
    "one number": {"features": 3.5},
}
ROW = DATA.data[PICKED[0]].tolist()
NOT_MEASUREMENTS = {  # one feature of a real row replaced, or every feature 1e308 (it overflows the scaler)
    "NaN": {"features": [float("nan"), *ROW[1:]]},
    "Infinity": {"features": [*ROW[:7], float("inf"), *ROW[8:]]},
    "-Infinity": {"features": [*ROW[:29], float("-inf")]},
    "1e308": {"features": [1e308] * 30},
    '"NaN"': {"features": ["NaN", *ROW[1:]]},
    '"Infinity"': {"features": [*ROW[:12], "Infinity", *ROW[13:]]},
    '"1e308"': {"features": ["1e308"] * 30},
}
PROBABILITY_TOLERANCE = 0.01  # the text allows rounding to two decimals


@pytest.fixture(scope="module")
def app(nb, files, contract):
    report = probe_app(nb, ROWS, {**BAD, **NOT_MEASUREMENTS}, contract=contract, files=files)
    assert report["error"] is None, f"the app did not start: {report['error']}"
    return report


def holds(files, rule) -> None:
    """Fail with what ``rule`` finds in the Dockerfile; a refused Dockerfile gets nothing."""
    df = dockerfile(files)
    reason = refusal(df)
    found = [f"refused: {reason}"] if reason else rule(df)
    assert not found, "; ".join(found)


# --- q2: the app, in-process --------------------------------------------------------


@pytest.mark.points(2)
def test_q2_predict_answers(app):
    """q2: /predict answers every row with a label, its class number and a probability in [0, 1]"""
    for response in app["predict"]:
        assert response["status"] == 200, response["text"]
        body = response["json"]
        assert body["label"] == LABELS[body["prediction"]], body
        assert 0.0 <= body["probability"] <= 1.0, body


@pytest.mark.points(3)
def test_q2_predictions_are_the_models(app):
    """q2: the predictions are the saved model's own, and right for at least 85% of the rows"""
    predicted = [r["json"]["prediction"] if r["status"] == 200 else None for r in app["predict"]]
    assert predicted == app["expected"], "the app's answers differ from model.predict"
    right = sum(p == t for p, t in zip(predicted, DATA.target[PICKED], strict=True))
    assert right >= 0.85 * len(ROWS), f"{right} of {len(ROWS)} right"


@pytest.mark.points(2)
def test_q2_bad_input_is_422(app):
    """q2: a bad request gets 422 (missing, too few or too many numbers, words, not a list), never 500"""
    statuses = {name: app["bad"][name]["status"] for name in BAD}
    assert statuses == dict.fromkeys(BAD, 422), statuses


@pytest.mark.points(1)
def test_q2_not_measurements_are_422(app):
    """q2: NaN, infinity and 1e308, as numbers or as strings, get 422: never 500, never a prediction"""
    statuses = {name: app["bad"][name]["status"] for name in NOT_MEASUREMENTS}
    assert statuses == dict.fromkeys(NOT_MEASUREMENTS, 422), statuses


@pytest.mark.points(2)
def test_q2_probability_is_the_predicted_classs(app):
    """q2: the probability is the one the model gives the class it predicts"""
    assert app["probabilities"] is not None, "the saved model gives no probabilities (predict_proba)"
    answered = [r["json"].get("probability") if r["status"] == 200 and isinstance(r["json"], dict) else None
                for r in app["predict"]]
    wrong = [(given, expected) for given, expected in zip(answered, app["probabilities"], strict=True)
             if type(given) not in (int, float) or abs(given - expected) > PROBABILITY_TOLERANCE]
    assert not wrong, f"{len(wrong)} of {len(ROWS)} rows: (answered, the model's for its class) {wrong[:3]}"


@pytest.mark.points(2)
def test_q2_model_loaded_at_start_up(app):
    """q2: the model is loaded once at start-up, not on each request"""
    response = app["without_file"]
    assert response["status"] == 200, "with model.joblib emptied after start-up, /predict failed"
    assert response["json"]["prediction"] == app["expected"][0]


@pytest.mark.points(1)
def test_q2_schemas(app):
    """q2: the request and the response are pydantic models in the app's OpenAPI schema"""
    post = app["openapi"]["paths"]["/predict"]["post"]
    request = post["requestBody"]["content"]["application/json"]["schema"]
    response = post["responses"]["200"]["content"]["application/json"]["schema"]
    schemas = app["openapi"]["components"]["schemas"]
    assert "features" in schemas[request["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert {"label", "prediction", "probability"} <= set(schemas[response["$ref"].rsplit("/", 1)[-1]]["properties"])


# --- q3: requirements ------------------------------------------------------------------


@pytest.mark.points(1)
def test_q3_requirements_match_the_grader(files):
    """q3: requirements.txt pins the versions the notebook ran with, so the image builds offline"""
    lines = (files["requirements.txt"] or b"").decode(errors="replace").lower().split()
    wrong = [p for p in PACKAGES if f"{p}=={version(p)}" not in lines]
    assert not wrong, f"not pinned to the version in use: {', '.join(wrong)}"


# --- q4: the Dockerfile, read ----------------------------------------------------------


@pytest.mark.points(2)
def test_q4_pinned_base(files):
    """q4: the base image is pinned to a version, never latest"""
    holds(files, rules.pinned_base)


@pytest.mark.points(2)
def test_q4_dependencies_before_code(files):
    """q4: requirements are installed before the code is copied, so the layer cache holds"""
    holds(files, rules.dependencies_before_code)


@pytest.mark.points(2)
def test_q4_copies_what_it_needs(files):
    """q4: only the files the service needs are copied in, never the whole folder (COPY . .)"""
    holds(files, rules.copies_what_it_needs)


@pytest.mark.points(2)
def test_q4_non_root(files):
    """q4: the container runs as a non-root user"""
    holds(files, rules.non_root)


@pytest.mark.points(1)
def test_q4_exposes_port(files):
    """q4: the Dockerfile EXPOSEs the app's port"""
    holds(files, rules.exposes_port)


@pytest.mark.points(2)
def test_q4_health_check(files):
    """q4: the image has a HEALTHCHECK"""
    holds(files, rules.health_check)


@pytest.mark.points(1)
def test_q4_no_secrets(files):
    """q4: no secret is baked into the image"""
    holds(files, rules.no_secrets)


@pytest.mark.points(1)
def test_q4_small_image(files):
    """q4: the image is small: a slim base and no pip cache"""
    holds(files, rules.small_image)


@pytest.mark.points(1)
def test_q4_hadolint(files):
    """q4: hadolint finds nothing else to warn about"""
    holds(files, rules.other_findings)
