"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick checks of shape and type. The grader also runs hidden tests that
call your functions on other data, splits and seeds.
"""

import numpy as np


def test_q1_load_data(nb):
    """q1: load_data gives 569 rows of 30 features, 212 of them malignant (y == 1)"""
    X, y = nb.call("load_data")
    assert type(X) is np.ndarray and X.shape == (569, 30)
    assert type(y) is np.ndarray and y.shape == (569,) and int(y.sum()) == 212


def test_q1_split_sizes(nb):
    """q1: split_data keeps a quarter of the rows (143 of 569) for testing"""
    X_train, X_test, y_train, y_test = nb.ref("split_data(*load_data(), seed=0)")
    assert abs(len(X_test) - 143) <= 1 and len(X_train) + len(X_test) == 569  # rounding may differ by one
    assert X_train.shape[1:] == X_test.shape[1:] == (30,)
    assert y_train.shape == (len(X_train),) and y_test.shape == (len(X_test),)


def test_q2_pipeline_fits(nb):
    """q2: build_pipeline returns a Pipeline that fits and predicts 0/1 labels"""
    assert nb.ref("type(build_pipeline()).__name__") == "Pipeline"
    predictions = nb.ref("build_pipeline().fit(X_train, y_train).predict(X_test)")
    assert type(predictions) is np.ndarray and predictions.shape == nb.ref("y_test.shape")
    assert set(predictions.tolist()) <= {0, 1}


def test_q3_cross_validation(nb):
    """q3: cross_validate_model returns one accuracy per fold"""
    scores = nb.call("cross_validate_model", nb.ref("X_train"), nb.ref("y_train"), cv=3)
    assert type(scores) is np.ndarray and scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))


def test_q4_confusion_small(nb):
    """q4: confusion on a small example gives [[TN, FP], [FN, TP]]"""
    got = nb.call("confusion", np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]))
    assert type(got) is np.ndarray and got.tolist() == [[1, 1], [1, 2]]


def test_q4_evaluate_keys(nb):
    """q4: evaluate returns accuracy, precision, recall and roc_auc between 0 and 1"""
    report = nb.ref("evaluate(build_pipeline().fit(X_train, y_train), X_test, y_test)")
    assert type(report) is dict and set(report) == {"accuracy", "precision", "recall", "roc_auc"}
    assert all(0 <= value <= 1 for value in report.values())


def test_q5_depth_curve_shapes(nb):
    """q5: depth_curve returns one training and one validation score per depth"""
    train, val = nb.call("depth_curve", nb.ref("X_train"), nb.ref("y_train"), [1, 3, 5])
    assert type(train) is np.ndarray and train.shape == (3,)
    assert type(val) is np.ndarray and val.shape == (3,)


def test_q5_pick_depth(nb):
    """q5: pick_depth returns the depth with the best validation score"""
    assert nb.call("pick_depth", [1, 2, 4, 8], [0.8, 0.9, 0.85, 0.7]) == 2


def test_q6_explained_variance(nb):
    """q6: explained_variance returns n ratios, largest first, adding up to at most 1"""
    ratios = nb.call("explained_variance", nb.ref("X_train"), 5)
    assert type(ratios) is np.ndarray and ratios.shape == (5,)
    assert np.all(np.diff(ratios) <= 0) and ratios.sum() <= 1 + 1e-9


def test_q7_scores_are_floats(nb):
    """q7: both selection scores are accuracies between 0 and 1"""
    for name in ("leaky_selection_score", "honest_selection_score"):
        score = nb.ref(f"{name}(X_train, y_train)")
        assert type(score) in (float, np.float64) and 0 <= score <= 1
