"""Grader code that runs in the student's kernel for the hidden tests of 10-mlops.

The tests send this module's source into the kernel as a module of its own (``_g_lab``), so its
names cannot clash with the student's. Frames travel as CSV text. What goes back is plain data
(run ids, lists of step names, numbers); the tests decide. While q6 and q7 are tested, ``psi`` in
the student's namespace is the grader's own (:func:`with_reference`), so that a slip in q5 costs
q5 and no other exercise.
"""

import io
import os
import shutil
import tempfile
import time

import numpy as np
import pandas as pd


def frame(text):
    """A table of orders read from CSV text."""
    return pd.read_csv(io.StringIO(text))


def psi(reference, current, bins=10, eps=1e-4):
    """The grader's PSI: the stated rule."""
    reference, current = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    edges = np.quantile(reference, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.maximum(np.histogram(reference, edges)[0] / len(reference), eps)
    c = np.maximum(np.histogram(current, edges)[0] / len(current), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def with_reference(namespace, fn):
    """fn() while the student's psi is the grader's: drift_report and first_alert_day may call it."""
    saved = namespace.get("psi")
    namespace["psi"] = psi
    try:
        return fn()
    finally:
        namespace["psi"] = saved


def experiment_of(name, accuracies):
    """An experiment ``name`` in the notebook's store with one finished run per accuracy, started a
    second apart in this order, so that ties are decided by the start; the run ids."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.create_experiment(name)
    start = int(time.time() * 1000)
    run_ids = []
    for i, accuracy in enumerate(accuracies):
        run = client.create_run(experiment, start_time=start + 1000 * i, run_name=f"grader-{i}")
        client.log_metric(run.info.run_id, "val_accuracy", accuracy)
        client.set_terminated(run.info.run_id, end_time=start + 1000 * i + 500)
        run_ids.append(run.info.run_id)
    return run_ids


def _steps(ran):
    """What run_pipeline returned, as plain data (a list of names, or what it was instead)."""
    return [str(step) for step in ran] if isinstance(ran, (list, tuple)) else repr(ran)[:200]


def pipeline_story(namespace, first, second, params, other_params):
    """run_pipeline, in a fresh folder, through a story of changes; the steps each call ran, by name."""
    run = namespace["run_pipeline"]
    folder = tempfile.mkdtemp(prefix="_g_pipeline_", dir=".")
    data, copy, cache = (os.path.join(folder, name) for name in ("orders.csv", "copy.csv", "cache"))

    def write(path, text):
        with open(path, "w", newline="") as f:
            f.write(text)

    steps = {}
    try:
        write(data, first)
        steps["first"] = _steps(run(data, params, cache))
        steps["again"] = _steps(run(data, params, cache))
        write(copy, first)
        steps["same bytes, other name"] = _steps(run(copy, params, cache))
        steps["other params"] = _steps(run(data, other_params, cache))
        write(data, second)
        steps["other data, same name"] = _steps(run(data, params, cache))
        write(data, first)
        steps["first data and params again"] = _steps(run(data, params, cache))
        saved = namespace["CODE_VERSION"]
        namespace["CODE_VERSION"] = f"{saved}-changed"
        try:
            steps["other code version"] = _steps(run(data, params, cache))
        finally:
            namespace["CODE_VERSION"] = saved
        return steps
    finally:
        shutil.rmtree(folder, ignore_errors=True)
