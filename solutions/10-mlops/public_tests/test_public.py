"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks, mostly on the lab's own data, in your kernel. The grader also runs
hidden tests: it reads your MLflow store (mlflow.db, mlruns/) as data, reruns your pipeline on data
it changes, serves your app in a fresh sandbox and reads its /metrics after its own requests, and
checks your drift measures on batches it draws.
"""

import pytest


def test_q1_runs(nb):
    """q1: track_runs returned one run id per C, and train_model is at least 75 % right on valid"""
    assert nb.ref("[type(r).__name__ for r in run_ids]") == ["str"] * 5
    assert nb.ref("float(train_model(train, 0.1).score(valid[FEATURES].to_numpy(), valid[LABEL].to_numpy()))") >= 0.75


def test_q2_registry(nb):
    """q2: the best run is one of them, registered as an int version, loaded back as a model"""
    assert nb.ref("best_run_id(EXPERIMENT) in run_ids")
    assert nb.ref("type(model_version).__name__") == "int"
    assert nb.ref("[int(p) for p in load_version(MODEL_NAME, model_version).predict([[2.5, 2, 14, 12]])]") in ([0], [1])


def test_q3_cache(nb):
    """q3: a first run runs both steps, a second with the same data and params runs none"""
    got = nb.ref("(lambda d: [run_pipeline('deliveries.csv', {'C': 0.5}, d), run_pipeline('deliveries.csv', "
                 "{'C': 0.5}, d), __import__('shutil').rmtree(d)][:2])(__import__('tempfile').mkdtemp(dir='.'))")
    assert got == [["features", "train"], []]


def test_q4_routes(nb):
    """q4: the app loaded from service/app.py serves /health, /predict and /metrics"""
    routes = nb.ref("sorted(getattr(route, 'path', '') for route in service.app.routes)")
    assert {"/health", "/predict", "/metrics"} <= set(routes), routes
    assert nb.ref("Path('service/model.joblib').is_file()"), "no service/model.joblib: run the cell that writes it"


def test_q5_psi(nb):
    """q5: a sample against itself has a PSI of 0; longer rides have a large one"""
    assert nb.ref("psi(train['distance_km'], train['distance_km'])") == pytest.approx(0.0, abs=1e-12)
    assert nb.ref("psi(train['distance_km'], train['distance_km'] + 3)") > 0.2


def test_q6_report(nb):
    """q6: drift_report gives psi, ks and alert for each drift feature"""
    report = nb.ref("drift_report(train, valid)")
    assert set(report) == {"distance_km", "prep_minutes"}
    for values in report.values():
        assert set(values) == {"psi", "ks", "alert"} and type(values["alert"]) is bool


def test_q7_unit_switch(nb):
    """q7: the alert comes on the day the distances switch to miles; no label, no accuracy"""
    assert nb.ref("first_alert_day(train, stream, 'distance_km')") == 8
    assert nb.ref("known_accuracy(stream, predictions, 3)") is None
    frame = "pd.DataFrame({'late': [1, 0, 1], 'label_day': [2, 2, 9]})"
    assert nb.ref(f"known_accuracy({frame}, [1, 1, 0], 5)") == pytest.approx(0.5)
