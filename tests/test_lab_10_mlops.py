"""The 10-mlops lab graded end to end: the solution, the untouched student notebook, other correct
solutions, and typical mistakes, in one ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/10-mlops/``. Each is the solution with
some answer cells (found by tag) replaced; ``python tests/test_lab_10_mlops.py`` rewrites them
after the solution changes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

import numpy as np
import pytest
from conftest import REPO, KeptNotebooks, edit
from lab_suite import LabSuite, assert_docker_grades_the_same, load_module, solution_cell

LAB = "10-mlops"

# --- correct answers in other styles -------------------------------------------------------

ARTIFACT_FILE_RUNS = '''
import tempfile

EXPERIMENT = "late-deliveries"
CS = [0.001, 0.01, 0.1, 1.0, 10.0]
PIP_REQUIREMENTS = [f"scikit-learn=={version('scikit-learn')}"]


def train_model(data, C):
    model = Pipeline(steps=[("scale", StandardScaler()), ("model", LogisticRegression(C=C))])
    model.fit(data.loc[:, FEATURES].values, data[LABEL].values)
    return model


def track_runs(train, valid, Cs):
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    ids = []
    X_valid, y_valid = valid[FEATURES].values, valid[LABEL].values
    for C in Cs:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=f"logreg-{C}")
        try:
            model = train_model(train, C)
            predicted = model.predict(X_valid)
            mlflow.log_params({"C": C})
            mlflow.log_metrics({"val_accuracy": float((predicted == y_valid).mean())})
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "confusion.json"
                path.write_text(json.dumps({"confusion": confusion_matrix(y_valid, predicted).tolist()}))
                mlflow.log_artifact(str(path))
            mlflow.sklearn.log_model(model, name="model", pip_requirements=PIP_REQUIREMENTS)
            ids.append(run.info.run_id)
        finally:
            mlflow.end_run()
    return ids


run_ids = track_runs(train, valid, CS)
'''

CLIENT_REGISTRY = '''
from mlflow.tracking import MlflowClient
import mlflow.pyfunc

MODEL_NAME = "late-delivery"


def best_run_id(experiment_name):
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id],
                              order_by=["metrics.val_accuracy DESC", "attributes.start_time ASC"])
    return runs[0].info.run_id


def register(run_id, name):
    version = mlflow.register_model(model_uri="runs:/" + run_id + "/model", name=name)
    return int(version.version)


def load_version(name, version):
    return mlflow.pyfunc.load_model(model_uri=f"models:/{name}/{version}")


best = best_run_id(EXPERIMENT)
model_version = register(best, MODEL_NAME)
model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{model_version}")
'''

JSON_INDEX_PIPELINE = '''
CODE_VERSION = "1"


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()


def run_pipeline(data_path, params, cache_dir="cache"):
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    index_file = cache / "index.json"
    index = json.loads(index_file.read_text()) if index_file.exists() else {}
    ran = []
    data_key = _digest(Path(data_path).read_bytes(), CODE_VERSION)
    if data_key not in index.get("features", {}):
        frame = pd.read_csv(data_path)
        name = f"features-{len(index.get('features', {}))}.joblib"
        joblib.dump({"X": frame[FEATURES].values, "y": frame[LABEL].values}, cache / name)
        index.setdefault("features", {})[data_key] = name
        ran.append("features")
    model_key = _digest(data_key, json.dumps(params, sort_keys=True), CODE_VERSION)
    if model_key not in index.get("train", {}):
        arrays = joblib.load(cache / index["features"][data_key])
        model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(**params))])
        model.fit(arrays["X"], arrays["y"])
        name = f"train-{len(index.get('train', {}))}.joblib"
        joblib.dump(model, cache / name)
        index.setdefault("train", {})[model_key] = name
        ran.append("train")
    index_file.write_text(json.dumps(index))
    return ran


print(run_pipeline("deliveries.csv", {"C": 0.1}), run_pipeline("deliveries.csv", {"C": 0.1}))
'''

CUSTOM_REGISTRY_APP = '''
%%writefile service/app.py
import time
from contextlib import asynccontextmanager
from pathlib import Path

import joblib
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, conlist

REGISTRY = CollectorRegistry()
REQUESTS = Counter("predict_requests_total", "requests", labelnames=("status",), registry=REGISTRY)
LATENCY = Histogram("predict_latency_seconds", "latency", registry=REGISTRY,
                    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0))
PREDICTIONS = Counter("predictions_total", "predictions", labelnames=("label",), registry=REGISTRY)
NAMES = {0: "on_time", 1: "late"}
state = {}


@asynccontextmanager
async def lifespan(app):
    state["model"] = joblib.load(Path(__file__).parent / "model.joblib")
    yield


app = FastAPI(lifespan=lifespan)


class Features(BaseModel):
    features: conlist(float, min_length=4, max_length=4)


@app.middleware("http")
async def observe(request: Request, call_next):
    started = time.monotonic()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        if request.url.path == "/predict":
            REQUESTS.labels(str(status)).inc()
            LATENCY.observe(time.monotonic() - started)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict(body: Features):
    prediction = int(state["model"].predict(np.array([body.features]))[0])
    PREDICTIONS.labels(NAMES[prediction]).inc()
    return {"prediction": prediction, "label": NAMES[prediction]}


@app.get("/metrics", response_class=PlainTextResponse)
def metrics():
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
'''

IDXMAX_BEST_RUN = '''
MODEL_NAME = "late-delivery"


def best_run_id(experiment_name):
    runs = mlflow.search_runs(experiment_names=[experiment_name], order_by=["attributes.start_time ASC"])
    return runs.loc[runs["metrics.val_accuracy"].idxmax(), "run_id"]  # the first of the best, in start order


def register(run_id, name):
    return int(mlflow.register_model(f"runs:/{run_id}/model", name).version)


def load_version(name, version):
    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


best = best_run_id(EXPERIMENT)
model_version = register(best, MODEL_NAME)
model = load_version(MODEL_NAME, model_version)
'''

PANDAS_PSI = '''
def psi(reference, current, bins=10, eps=1e-4):
    reference, current = pd.Series(reference, dtype=float), pd.Series(current, dtype=float)
    cuts = list(reference.quantile(np.linspace(0, 1, bins + 1)))
    cuts[0], cuts[-1] = -np.inf, np.inf
    ref = pd.cut(reference, cuts, right=False).value_counts(normalize=True, sort=False).clip(lower=eps)
    cur = pd.cut(current, cuts, right=False).value_counts(normalize=True, sort=False).clip(lower=eps)
    return float(((cur - ref) * np.log(cur / ref)).sum())
'''

ECDF_REPORT = '''
DRIFT_FEATURES = ["distance_km", "prep_minutes"]


def _ks(a, b):
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    points = np.concatenate([a, b])
    gaps = np.abs(np.searchsorted(a, points, side="right") / len(a) - np.searchsorted(b, points, side="right") / len(b))
    return float(gaps.max())


def drift_report(reference, batch, threshold=0.2):
    out = {}
    for name in DRIFT_FEATURES:
        score = psi(reference[name].to_numpy(), batch[name].to_numpy())
        out[name] = dict(psi=score, ks=_ks(reference[name], batch[name]), alert=score > threshold)
    return out
'''

LOOP_SWITCH = '''
stream = pd.read_csv("stream.csv")


def first_alert_day(reference, stream, feature, threshold=0.2):
    days = sorted(set(stream["day"].tolist()))
    alerts = [day for day in days if psi(reference[feature], stream.loc[stream["day"] == day, feature]) > threshold]
    return alerts[0] if alerts else None


def known_accuracy(stream, predictions, today):
    frame = stream.assign(predicted=list(predictions))
    arrived = frame[frame.label_day <= today]
    if arrived.empty:
        return None
    return float((arrived.predicted == arrived.late).mean())


predictions = model.predict(stream[FEATURES].to_numpy())
alert = first_alert_day(train, stream, "distance_km")
'''

CORRECT: dict[str, dict[str, str]] = {
    "artifact-file-client-registry": {"q1": ARTIFACT_FILE_RUNS, "q2": CLIENT_REGISTRY},
    "json-index-custom-registry": {"q3": JSON_INDEX_PIPELINE, "q4": CUSTOM_REGISTRY_APP},
    "pandas-psi-ecdf-ks": {"q2": IDXMAX_BEST_RUN, "q5": PANDAS_PSI, "q6": ECDF_REPORT, "q7": LOOP_SWITCH},
}

# --- typical mistakes: each breaks one thing in the solution --------------------------------


def changed(tag: str, old: str, new: str) -> dict[str, str]:
    """The solution's cell ``tag`` with one change: a mistake that follows the solution."""
    return {tag: edit(solution_cell(LAB, tag), old, new)}


def counted_in_the_endpoint() -> dict[str, str]:
    """Requests counted in /predict's function, which a refused request never reaches."""
    cell = edit(solution_cell(LAB, "q4"), "    REQUESTS.labels(status=str(response.status_code)).inc()\n", "")
    counted = '    PREDICTIONS.labels(label=LABELS[prediction]).inc()\n    REQUESTS.labels(status="200").inc()\n'
    return {"q4": edit(cell, "    PREDICTIONS.labels(label=LABELS[prediction]).inc()\n", counted)}


MISTAKES = {  # made from the current solution's cells, so that they follow it
    "accuracy-on-train": lambda: changed(
        "q1", 'mlflow.log_metric("val_accuracy", accuracy_score(valid[LABEL], predicted))',
        'mlflow.log_metric("val_accuracy", model.score(train[FEATURES].to_numpy(), train[LABEL].to_numpy()))'),
    "lowest-accuracy": lambda: changed("q2", "ascending=[False, True]", "ascending=[True, True]"),
    "ties-to-the-latest": lambda: changed("q2", "ascending=[False, True]", "ascending=[False, False]"),
    "cache-keyed-on-the-name": lambda: changed(
        "q3", "Path(data_path).read_bytes() + CODE_VERSION.encode()",
        "str(data_path).encode() + CODE_VERSION.encode()"),
    "train-key-without-the-data": lambda: changed(
        "q3", "train_inputs = features_key + json.dumps", "train_inputs = json.dumps"),
    "errors-not-counted": counted_in_the_endpoint,
    "latency-in-milliseconds": lambda: changed(
        "q4", "LATENCY.observe(time.perf_counter() - start)", "LATENCY.observe((time.perf_counter() - start) * 1000)"),
    "psi-without-eps": lambda: changed(
        "q5", "    r = np.maximum(np.histogram(reference, edges)[0] / len(reference), eps)\n"
              "    c = np.maximum(np.histogram(current, edges)[0] / len(current), eps)",
        "    r = np.histogram(reference, edges)[0] / len(reference)\n"
        "    c = np.histogram(current, edges)[0] / len(current)"),
    "bins-from-the-batch": lambda: changed(
        "q5", "edges = np.quantile(reference, ", "edges = np.quantile(current, "),
    "alert-the-wrong-way": lambda: changed(
        "q6", '"alert": bool(value > threshold)', '"alert": bool(value < threshold)'),
    "accuracy-on-every-label": lambda: changed(
        "q7", 'known = (stream["label_day"] <= today).to_numpy()', 'known = np.ones(len(stream), dtype=bool)'),
}

# The tests' names (their docstrings), as the results list them.
Q1_ACCURACY = "q1: each run's val_accuracy is its model's accuracy on the validation rows"
Q2_REGISTERED = "q2: the registered model has one version, made from the run with the best val_accuracy"
Q2_TIES = "q2: best_run_id picks the highest val_accuracy, ties going to the run started first"
Q3_UNCHANGED = "q3: the same data (under any file name) and parameters run no step again; earlier outputs stay cached"
Q3_CHANGED = "q3: new parameters rerun train; new data in the same file, or a new code version, rerun both"
Q4_STATUS = "q4: predict_requests_total counts every request to /predict by status, the refused ones too"
Q4_LATENCY = "q4: predict_latency_seconds observes each request to /predict, in seconds"
Q5_PSI = "q5: psi is the stated PSI (bins at the reference's quantiles, eps) on other batches"
Q5_ARGS = "q5: psi uses the bins and eps it is given"
Q6_REPORT = "q6: drift_report gives each drift feature's PSI, KS statistic and alert (PSI above the threshold)"
Q7_PUBLIC = "q7: the alert comes on the day the distances switch to miles; no label, no accuracy"
Q7_KNOWN = "q7: known_accuracy is the accuracy over the labels arrived by that day, None before the first"

EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "accuracy-on-train": {Q1_ACCURACY: 2},
    "lowest-accuracy": {Q2_REGISTERED: 2, Q2_TIES: 2},
    "ties-to-the-latest": {Q2_TIES: 2},
    "cache-keyed-on-the-name": {Q3_UNCHANGED: 2, Q3_CHANGED: 2},
    "train-key-without-the-data": {Q3_CHANGED: 2},
    "errors-not-counted": {Q4_STATUS: 2},
    "latency-in-milliseconds": {Q4_LATENCY: 1},
    "psi-without-eps": {Q5_PSI: 2, Q5_ARGS: 1},
    "bins-from-the-batch": {Q5_PSI: 2, Q5_ARGS: 1},
    "alert-the-wrong-way": {Q6_REPORT: 2},
    "accuracy-on-every-label": {Q7_PUBLIC: 1, Q7_KNOWN: 2},
}

# The lab's real-world concerns: reproducibility (q3), drift (q5, q6) and the silent unit switch (q7).
LESSON_EXERCISES = ("q3", "q5", "q6", "q7")


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return CORRECT[name] if name in CORRECT else MISTAKES[name]()


KEPT = KeptNotebooks(LAB, [*CORRECT, *EXPECTED_LOSSES], replacements)

# --- the lab's data, checked in process ----------------------------------------------------

HIDDEN_DIR = REPO / "solutions" / LAB / "tests"
DATA = load_module("lab10_delivery_data", HIDDEN_DIR / "delivery_data.py")
UNCHANGED_MOST, SWITCHED_LEAST = 0.2, 0.35  # the PSI of a day of 150 orders, as the hidden tests' docstring says


def test_the_shipped_files_are_their_generators():
    """deliveries.csv and stream.csv, in the solution and in the lab, are the generator's from LAB_SEED."""
    for folder in (REPO / "solutions" / LAB / "files", REPO / "labs" / LAB):
        assert (folder / "deliveries.csv").read_text() == DATA.history(DATA.LAB_SEED).to_csv(index=False)
        assert (folder / "stream.csv").read_text() == DATA.stream(DATA.LAB_SEED + 1).to_csv(index=False)


@pytest.mark.parametrize("seed", range(40))
def test_the_alert_threshold_separates_a_switch_from_noise(seed):
    """A day of 150 orders has a PSI well under the 0.2 alert when nothing changed, and well over it once its
    distances are miles or its preparation times hours: the grader's streams alert on the switch day only."""
    hidden = load_module("lab10_hidden", HIDDEN_DIR / "test_hidden.py")
    reference = DATA.history(seed + 100, n=1000)
    plain = DATA.stream(seed, days=1, switch_day=None)
    for feature, factor in (("distance_km", DATA.MILES_PER_KM), ("prep_minutes", 1 / 60)):
        switched = DATA.stream(seed, days=1, switch_day=1, feature=feature, factor=factor)
        assert hidden.psi(reference[feature], plain[feature]) < UNCHANGED_MOST
        assert hidden.psi(reference[feature], switched[feature]) > SWITCHED_LEAST


def test_the_best_run_differs_from_the_mistakes_picks():
    """On the lab's data the best C by validation accuracy is unique, and neither the lowest accuracy nor the
    training accuracy picks it, so the q1 and q2 mistakes show."""
    hidden = load_module("lab10_hidden", HIDDEN_DIR / "test_hidden.py")
    valid = [hidden.reference_model(C).score(hidden.VALID[DATA.FEATURES].to_numpy(), hidden.VALID[DATA.LABEL])
             for C in hidden.CS]
    on_train = [hidden.reference_model(C).score(hidden.TRAIN[DATA.FEATURES].to_numpy(), hidden.TRAIN[DATA.LABEL])
                for C in hidden.CS]
    assert sorted(valid)[-1] > sorted(valid)[-2]
    assert len({int(np.argmax(valid)), int(np.argmin(valid)), int(np.argmax(on_train))}) == 3


@pytest.mark.parametrize("kind", ["endless view", "not a database"])
def test_the_store_is_read_within_bounds(tmp_path, monkeypatch, kind):
    """A student's mlflow.db is the student's: a query the grader sends it that would never end is aborted at the
    time budget, and a file that is no database fails the test, never the grader."""
    hidden = load_module("lab10_hidden", HIDDEN_DIR / "test_hidden.py")
    monkeypatch.setattr(hidden, "QUERY_SECONDS", 0.2)
    store = tmp_path / "mlflow.db"
    if kind == "endless view":
        with contextlib.closing(sqlite3.connect(store)) as connection:
            connection.execute("CREATE VIEW runs AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                               "SELECT i AS run_uuid FROM n")
    else:
        store.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)
    start = time.monotonic()
    with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro&immutable=1", uri=True)) as connection, \
            pytest.raises(pytest.fail.Exception, match="could not be read"):
        hidden.query(connection, "SELECT count(*) FROM runs")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("page", ['predict_requests_total{status="200" 3\n', "# TYPE x counter\nx_total{} one\n",
                                  "\x00" * 1000])
def test_a_metrics_page_that_does_not_parse_fails_the_test(page):
    """The /metrics page is the student's text: whatever the parser makes of it, the test fails with a message."""
    hidden = load_module("lab10_hidden", HIDDEN_DIR / "test_hidden.py")
    with pytest.raises(pytest.fail.Exception, match="Prometheus' text format"):
        hidden.samples({"scrape": {"/metrics": {"status": 200, "json": None, "text": page}}})


# --- the batch ------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite). Its correct variants differ in MLflow's API (fluent or
    MlflowClient, log_dict or log_artifact, sorting or idxmax, sklearn or pyfunc loading), the cache (files named
    by hash or a JSON index), the metrics' registry (default or a CollectorRegistry of the app's) and the drift
    measures (numpy or pandas bins, scipy's KS or a numpy ECDF)."""

    kept = KEPT
    max_score = 36
    test_count = 26
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("alert-the-wrong-way", "q6: drift_report gives")
    lesson = "reproducibility, drift and a silent unit switch: what keeps a model right in production"
    lesson_exercises = LESSON_EXERCISES


# A correct variant with the client API and a registry of its own, and two mistakes, beside the solution.
DOCKER_SAMPLE = ("solution", "json-index-custom-registry", "errors-not-counted", "bins-from-the-batch")


@pytest.mark.docker
def test_the_docker_backend_grades_the_same(tmp_path):
    """The kernel image holds what the lab needs (mlflow, prometheus-client, fastapi, scipy, scikit-learn)."""
    assert_docker_grades_the_same(TestLab, DOCKER_SAMPLE, tmp_path)


if __name__ == "__main__":
    KEPT.write()
