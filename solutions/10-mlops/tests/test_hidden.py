"""Hidden tests for 10-mlops: run by the grader only.

The MLflow store is read as data, outside the kernel: mlflow.db's bytes are copied out (bounded),
written to a file of the grader's and opened read-only with sqlite3 (never with MLflow's code, and
no model is ever unpickled here), with a time budget on every query. Runs, parameters, metrics,
artefacts and registered versions are checked by plain SQL against what the grader computes itself
from the lab's data. The pipeline, the drift measures and the unit switch are called on data the
grader draws from ``delivery_data.py`` with its own seeds. The service is served in a fresh sandbox
and probed from the grader's process, and its /metrics page, read after every request, is parsed
here with prometheus-client's parser and compared with what was sent.

Seeds and thresholds: a day of 150 orders against a reference of 1,000 has a PSI of 0.02 to 0.18
when nothing changed, 0.39 to 1.24 in miles and over 8 in hours (seeds 0..39), so the 0.2 alert of
the text separates them; every value here is compared with the grader's own to 1e-9.
"""

import collections
import importlib.util
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import ks_2samp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from grader import bounded
from grader.kits.deployment.answers import Contract
from grader.kits.deployment.files import read_files
from grader.kits.deployment.probe import probe_app

HERE = Path(__file__).resolve().parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()


def _module(name):
    """A module of beside this file (pytest imports tests by path): the data's generator, or the
    grader's kernel-side code, loaded here as the grader's own."""
    spec = importlib.util.spec_from_file_location(f"_lab10_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


data = _module("delivery_data")
FEATURES, LABEL = data.FEATURES, data.LABEL
HISTORY = data.history(data.LAB_SEED)
TRAIN, VALID = HISTORY.iloc[:1000], HISTORY.iloc[1000:]
EXPERIMENT, MODEL_NAME = "late-deliveries", "late-delivery"
CS = [0.001, 0.01, 0.1, 1.0, 10.0]
CLOSE = 1e-9
STORE_LIMIT = 16 * 2**20  # bytes of mlflow.db read out of the kernel
QUERY_SECONDS = 5.0  # per query on the student's store
ARTEFACT_LIMIT = 2**16  # bytes of one confusion.json
URI_LIMIT = 4096  # characters of a run's artefact URI, as the store gives it
LABELS = ["on_time", "late"]
CONTRACT = Contract(health="/health", predict="/predict", request=lambda row: {"features": row})


def reference_model(C, rows=TRAIN):
    """The model the text asks for, trained here on the lab's own rows: what every logged number is checked against."""
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=C))]).fit(
        rows[FEATURES].to_numpy(), rows[LABEL].to_numpy())


def with_grader_code(nb):
    """The kernel, with the grader's own code (``kernel_side.py``) loaded as ``_g_lab``."""
    if not nb.ref("'_g_lab' in globals()"):
        nb.run(f"import types as _g_types\n_g_lab = _g_types.ModuleType('_g_lab')\n"
               f"exec({KERNEL_SIDE!r}, _g_lab.__dict__)\ndel _g_types")
    return nb


@pytest.fixture
def lab(nb):
    return with_grader_code(nb)


def send(lab, name, table):
    """Put ``table`` into the kernel as ``name``, sent as CSV and read there as the notebook reads it."""
    lab.assign("_g_csv", table.to_csv(index=False))
    lab.run(f"{name} = _g_lab.frame(_g_csv)\ndel _g_csv")


# --- the store, read as data -----------------------------------------------------------------


@pytest.fixture(scope="module")
def store(nb):
    """mlflow.db as the notebook left it, opened read-only in the grader; each query has a time budget."""
    raw = read_files(nb, ["mlflow.db"], limit=STORE_LIMIT)["mlflow.db"]
    assert raw, "no mlflow.db next to the notebook (or over 16 MiB): run the notebook from the top"
    fd, path = tempfile.mkstemp(prefix="grader-store-", suffix=".db")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        connection = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            yield connection
        finally:
            connection.close()
    finally:
        os.unlink(path)


def query(store, sql, *args):
    """The rows of one query; a store that is not MLflow's, or a query that runs too long, fails the test."""
    deadline = time.monotonic() + QUERY_SECONDS
    store.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        return store.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as exc:
        pytest.fail(f"mlflow.db could not be read as MLflow's store: {exc}", pytrace=False)


def runs(store):
    """The experiment's active runs: id -> (start time, C as logged, val_accuracy, artefact URI)."""
    found = query(store, """
        SELECT r.run_uuid, r.start_time, r.artifact_uri,
               (SELECT value FROM params p WHERE p.run_uuid = r.run_uuid AND p.key = 'C'),
               (SELECT value FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = 'val_accuracy')
        FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id
        WHERE e.name = ? AND r.lifecycle_stage = 'active'""", EXPERIMENT)
    return {run: {"start": start, "uri": uri, "C": c, "accuracy": accuracy}
            for run, start, uri, c, accuracy in found if isinstance(run, str)}


def logged_c(run):
    try:
        return float(run["C"])
    except (TypeError, ValueError):
        return None


def best_of(found):
    """The stated rule: the highest val_accuracy, ties to the run started first."""
    ranked = [(-r["accuracy"], r["start"], run) for run, r in found.items()
              if type(r["accuracy"]) is float and type(r["start"]) is int]
    return min(ranked)[2] if ranked else None


@pytest.mark.points(1)
def test_q1_one_run_per_C_in_order(nb, store):
    """q1: the experiment holds one run per C, in the order of Cs, each with its parameter C; their ids are returned"""
    found = runs(store)
    in_order = sorted(found, key=lambda run: found[run]["start"] if type(found[run]["start"]) is int else 0)
    assert [logged_c(found[run]) for run in in_order] == CS, \
        f"{len(found)} runs in {EXPERIMENT!r}, with C = {[str(found[run]['C']) for run in in_order]}"
    assert nb.ref("run_ids") == in_order, "run_ids are not the runs' ids in the order of Cs"


@pytest.mark.points(2)
def test_q1_val_accuracy_is_measured_on_valid(store):
    """q1: each run's val_accuracy is its model's accuracy on the validation rows"""
    found = runs(store)
    assert found, f"no runs in {EXPERIMENT!r}"
    for run in found.values():
        C = logged_c(run)
        assert C in CS, f"C = {run['C']!r}"
        expected = reference_model(C).score(VALID[FEATURES].to_numpy(), VALID[LABEL].to_numpy())
        assert type(run["accuracy"]) is float and abs(run["accuracy"] - expected) < CLOSE, \
            f"C = {C}: val_accuracy {run['accuracy']!r}"


@pytest.mark.points(1)
def test_q1_confusion_artefact(nb, store):
    """q1: each run has the artefact confusion.json, its confusion matrix on the validation rows"""
    found = runs(store)
    assert found, f"no runs in {EXPERIMENT!r}"
    for run in found.values():
        uri = run["uri"] if isinstance(run["uri"], str) and len(run["uri"]) <= URI_LIMIT else ""
        assert "/mlruns/" in uri, f"the run's artefacts are not under mlruns/: {uri[:200]!r}"
        path = "mlruns/" + uri.rsplit("/mlruns/", 1)[1] + "/confusion.json"
        raw = read_files(nb, [path], limit=ARTEFACT_LIMIT)[path]
        assert raw, f"no confusion.json in the run with C = {run['C']}"
        C = logged_c(run)
        predicted = reference_model(C).predict(VALID[FEATURES].to_numpy())
        expected = {"confusion": confusion_matrix(VALID[LABEL], predicted).tolist()}
        assert bounded.loads(raw, ARTEFACT_LIMIT, "confusion.json") == expected, f"C = {C}"


@pytest.mark.points(1)
def test_q1_model_logged_in_each_run(store):
    """q1: each run logged its model, named "model\""""
    found = runs(store)
    models = {run for run, in query(store, "SELECT source_run_id FROM logged_models WHERE name = 'model'")}
    assert found and set(found) <= models, f"{len(set(found) - models)} of {len(found)} runs logged no model"


@pytest.mark.points(2)
def test_q2_registered_version_is_the_best_run(store):
    """q2: the registered model has one version, made from the run with the best val_accuracy"""
    versions = query(store, "SELECT version, run_id FROM model_versions WHERE name = ?", MODEL_NAME)
    assert len(versions) == 1, f"{len(versions)} versions of {MODEL_NAME!r}"
    assert versions[0][1] == best_of(runs(store)), "the registered version is not the best run's"


@pytest.mark.points(2)
def test_q2_best_run_id_on_an_experiment_of_the_graders(lab):
    """q2: best_run_id picks the highest val_accuracy, ties going to the run started first"""
    accuracies = [0.71, 0.83, 0.64, 0.83, 0.79]
    run_ids = lab.ref(f"_g_lab.experiment_of('grader-ties', {accuracies})")
    assert lab.call("best_run_id", "grader-ties") == run_ids[1]


@pytest.mark.points(1)
def test_q2_load_version_gives_the_registered_model(lab, store):
    """q2: load_version loads the registered version: its predictions are those of the best run's model"""
    versions = query(store, "SELECT version, run_id FROM model_versions WHERE name = ?", MODEL_NAME)
    assert versions and type(versions[0][0]) is int, f"no version of {MODEL_NAME!r}"
    C = logged_c(runs(store).get(versions[0][1], {}))
    assert C in CS, "the registered version's run has no C"
    rows = data.history(1001, n=60)[FEATURES].to_numpy()
    got = lab.ref(f"[int(p) for p in load_version({MODEL_NAME!r}, {versions[0][0]}).predict("
                  f"__import__('numpy').array({rows.tolist()}))]")
    assert got == reference_model(C).predict(rows).tolist()


# --- q3: the pipeline on the grader's data ----------------------------------------------------


@pytest.fixture(scope="module")
def story(nb):
    """The steps run_pipeline ran at each turn of kernel_side.pipeline_story, on the grader's data."""
    with_grader_code(nb)
    first, second = (data.history(seed, n=300).to_csv(index=False) for seed in (2024, 2025))
    return nb.ref(f"_g_lab.pipeline_story(globals(), {first!r}, {second!r}, {{'C': 0.3}}, {{'C': 3.0}})")


@pytest.mark.points(2)
def test_q3_unchanged_inputs_rerun_nothing(story):
    """q3: the same data (under any file name) and parameters run no step again; earlier outputs stay cached"""
    unchanged = ("again", "same bytes, other name", "first data and params again")
    assert story["first"] == ["features", "train"]
    assert {name: story[name] for name in unchanged} == dict.fromkeys(unchanged, [])


@pytest.mark.points(2)
def test_q3_changes_rerun_what_depends_on_them(story):
    """q3: new parameters rerun train; new data in the same file, or a new code version, rerun both"""
    changed = {"other params": ["train"], "other data, same name": ["features", "train"],
               "other code version": ["features", "train"]}
    assert {name: story[name] for name in changed} == changed


# --- q4: the service, probed, and its metrics read ---------------------------------------------

ROWS = data.history(1004, n=30)[FEATURES].to_numpy().tolist()
BAD = {"no features": {}, "three numbers": {"features": [1.0, 2.0, 3.0]},
       "five numbers": {"features": [1.0] * 5}, "words": {"features": ["far"] * 4}}


@pytest.fixture(scope="module")
def app(nb):
    files = read_files(nb, ["app.py", "model.joblib"], "service")
    start = time.monotonic()
    report = probe_app(nb, ROWS, BAD, contract=CONTRACT, files=files, scrape=("/metrics",))
    assert report["error"] is None, f"the app did not start: {report['error']}"
    return {**report, "seconds": time.monotonic() - start}


def sent(app):
    """Every request the probe sent to /predict, as answered."""
    return [app["without_file"], *app["predict"], *app["bad"].values()]


def samples(app):
    """The /metrics page's samples: (name, labels) -> value; it is the student's text, cut at BODY_LIMIT."""
    page = app["scrape"]["/metrics"]
    assert page["status"] == 200, f"GET /metrics answered {page['status']}"
    try:
        families = list(text_string_to_metric_families(page["text"]))
    except Exception as exc:  # the parser's errors are of several kinds, all the student's
        pytest.fail(f"/metrics is not in Prometheus' text format: {type(exc).__name__}: {str(exc)[:200]}",
                    pytrace=False)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def by_label(found, name, label):
    return {dict(labels)[label]: value for (sample, labels), value in found.items()
            if sample == name and label in dict(labels)}


@pytest.mark.points(1)
def test_q4_predictions_are_the_models(app):
    """q4: /predict answers each row with the saved model's prediction and its label"""
    answers = [(r["status"], r["json"]) for r in app["predict"]]
    expected = [(200, {"prediction": p, "label": LABELS[p]}) for p in app["expected"]]
    assert answers == expected


@pytest.mark.points(1)
def test_q4_health_start_up_and_422(app):
    """q4: /health answers ok, the model is loaded at start-up, and a list of other than 4 numbers is a 422"""
    assert (app["health"]["status"], app["health"]["json"]) == (200, {"status": "ok"}), app["health"]["text"]
    assert app["without_file"]["status"] == 200, "with model.joblib emptied after start-up, /predict failed"
    statuses = {name: answer["status"] for name, answer in app["bad"].items()}
    assert statuses == dict.fromkeys(BAD, 422), statuses


@pytest.mark.points(2)
def test_q4_requests_counted_by_status(app):
    """q4: predict_requests_total counts every request to /predict by status, the refused ones too"""
    expected = collections.Counter(str(r["status"]) for r in sent(app))
    assert by_label(samples(app), "predict_requests_total", "status") == expected


@pytest.mark.points(1)
def test_q4_predictions_counted_by_label(app):
    """q4: predictions_total counts the predictions made, by label"""
    expected = collections.Counter(r["json"]["label"] for r in sent(app)
                                   if r["status"] == 200 and isinstance(r["json"], dict) and "label" in r["json"])
    assert by_label(samples(app), "predictions_total", "label") == expected


@pytest.mark.points(1)
def test_q4_latency_histogram_in_seconds(app):
    """q4: predict_latency_seconds observes each request to /predict, in seconds"""
    found = samples(app)
    count, total = found.get(("predict_latency_seconds_count", ())), found.get(("predict_latency_seconds_sum", ()))
    assert count == len(sent(app)), f"{count} observations for {len(sent(app))} requests"
    assert total is not None and 0 < total < app["seconds"], \
        f"{total} for requests that all took {app['seconds']:.1f} s: not seconds"


# --- q5 to q7: drift, on batches the grader draws ---------------------------------------------


psi = _module("kernel_side").psi  # the stated rule, computed here with the very code the kernel gets


REFERENCE = data.history(3001, n=1000)
BATCHES = {  # a batch like the reference, one in miles, one of long rides only (bins left empty)
    "unchanged": data.history(3002, n=400),
    "in miles": data.stream(3003, days=1, per_day=400, switch_day=1),
    "long rides": data.history(3004, n=400).query("distance_km > 6"),
}


@pytest.mark.points(2)
def test_q5_psi_on_the_graders_batches(nb):
    """q5: psi is the stated PSI (bins at the reference's quantiles, eps) on other batches"""
    for name, batch in BATCHES.items():
        for feature in ("distance_km", "prep_minutes"):
            ref, cur = REFERENCE[feature].to_numpy(), batch[feature].to_numpy()
            got = nb.call("psi", ref, cur)
            assert type(got) is float and abs(got - psi(ref, cur)) < CLOSE, f"{name}, {feature}: {got}"


@pytest.mark.points(1)
def test_q5_psi_bins_and_eps_as_asked(nb):
    """q5: psi uses the bins and eps it is given"""
    ref, cur = REFERENCE["distance_km"].to_numpy(), BATCHES["long rides"]["distance_km"].to_numpy()
    got = nb.call("psi", ref, cur, 5, 1e-3)
    assert type(got) is float and abs(got - psi(ref, cur, 5, 1e-3)) < CLOSE


@pytest.mark.points(2)
def test_q6_report_on_the_graders_batches(lab):
    """q6: drift_report gives each drift feature's PSI, KS statistic and alert (PSI above the threshold)"""
    send(lab, "_g_reference", REFERENCE)
    for name, batch in BATCHES.items():
        send(lab, "_g_batch", batch)
        for threshold in (0.2, 0.05):
            got = lab.ref("_g_lab.with_reference(globals(), lambda: "
                          f"drift_report(_g_reference, _g_batch, {threshold}))")
            expected = {}
            for feature in ("distance_km", "prep_minutes"):
                value = psi(REFERENCE[feature], batch[feature])
                expected[feature] = {"psi": value, "ks": ks_2samp(REFERENCE[feature], batch[feature]).statistic,
                                     "alert": value > threshold}
            assert set(got) == set(expected), f"{name}: {sorted(got)}"
            for feature, values in expected.items():
                mine = got[feature]
                assert mine["alert"] is values["alert"], f"{name}, {feature}, threshold {threshold}: alert"
                assert all(abs(mine[k] - values[k]) < CLOSE for k in ("psi", "ks")), f"{name}, {feature}: {mine}"


STREAMS = {  # the switch on a day the grader picks, in another feature, or never
    "miles from day 4": data.stream(4001, days=9, per_day=150, switch_day=4),
    "minutes to hours from day 6": data.stream(4002, days=9, per_day=150, switch_day=6, feature="prep_minutes",
                                               factor=1 / 60),
    "no switch": data.stream(4003, days=9, per_day=150, switch_day=None),
}


def first_alert(stream, feature):
    for day, batch in stream.groupby("day"):
        if psi(REFERENCE[feature], batch[feature]) > 0.2:
            return int(day)
    return None


@pytest.mark.points(2)
def test_q7_first_alert_day_on_the_graders_streams(lab):
    """q7: first_alert_day is the first day whose PSI is above the threshold, or None"""
    send(lab, "_g_reference", REFERENCE)
    for name, stream in STREAMS.items():
        send(lab, "_g_stream", stream.sample(frac=1.0, random_state=7))  # the rows in any order
        for feature in ("distance_km", "prep_minutes"):
            got = lab.ref(f"_g_lab.with_reference(globals(), lambda: first_alert_day(_g_reference, _g_stream, "
                          f"{feature!r}))")
            assert got == first_alert(stream, feature), f"{name}, {feature}"


@pytest.mark.points(2)
def test_q7_known_accuracy_counts_only_arrived_labels(lab):
    """q7: known_accuracy is the accuracy over the labels arrived by that day, None before the first"""
    stream = STREAMS["miles from day 4"]
    predictions = np.random.default_rng(5).integers(0, 2, len(stream))
    send(lab, "_g_stream", stream)
    for today in (1, 7, 8, 12, 16, 30):
        known = (stream["label_day"] <= today).to_numpy()
        expected = float(np.mean(predictions[known] == stream[LABEL].to_numpy()[known])) if known.any() else None
        got = lab.ref(f"known_accuracy(_g_stream, __import__('numpy').array({predictions.tolist()}), {today})")
        if expected is None:
            assert got is None, f"day {today}: no label has arrived"
        else:
            assert type(got) is float and abs(got - expected) < CLOSE, f"day {today}: {got} for {expected}"
