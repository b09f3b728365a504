"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick checks of shape and type. The grader also runs hidden tests that
call your functions on other data, splits and seeds.

Each test brings its own data (its names start with ``_t_``) rather than using
the notebook's ``X_train``: a slip in one exercise then shows in that exercise.
"""

import numpy as np
import pytest

# The breast cancer data split by scikit-learn itself, with 1 = malignant.
DATA = r'''
from sklearn.datasets import load_breast_cancer as _t_load
from sklearn.model_selection import train_test_split as _t_split

_t_X, _t_y = _t_load(return_X_y=True)
_t_y = 1 - _t_y
_t_Xtr, _t_Xte, _t_ytr, _t_yte = _t_split(_t_X, _t_y, test_size=0.25, stratify=_t_y, random_state=0)
'''


@pytest.fixture
def data(nb):
    """The notebook, with the tests' own split of the data in it."""
    nb.run(DATA)
    return nb


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


def test_q2_pipeline_fits(data):
    """q2: build_pipeline returns a Pipeline that fits and predicts 0/1 labels"""
    assert data.ref("type(build_pipeline()).__name__") == "Pipeline"
    predictions = data.ref("build_pipeline().fit(_t_Xtr, _t_ytr).predict(_t_Xte)")
    assert type(predictions) is np.ndarray and predictions.shape == (143,)
    assert set(predictions.tolist()) <= {0, 1}


def test_q3_cross_validation(data):
    """q3: cross_validate_model returns one accuracy per fold"""
    scores = data.ref("cross_validate_model(_t_Xtr, _t_ytr, cv=3)")
    assert type(scores) is np.ndarray and scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))


def test_q4_confusion_small(nb):
    """q4: confusion on a small example gives [[TN, FP], [FN, TP]]"""
    got = nb.call("confusion", np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]))
    assert type(got) is np.ndarray and got.tolist() == [[1, 1], [1, 2]]


def test_q4_evaluate_keys(data):
    """q4: evaluate returns accuracy, precision, recall and roc_auc between 0 and 1"""
    data.run("from sklearn.linear_model import LogisticRegression as _t_LR\n"
             "from sklearn.pipeline import make_pipeline as _t_make\n"
             "from sklearn.preprocessing import StandardScaler as _t_Scaler\n"
             "_t_model = _t_make(_t_Scaler(), _t_LR()).fit(_t_Xtr, _t_ytr)")
    report = data.ref("evaluate(_t_model, _t_Xte, _t_yte)")
    assert type(report) is dict and set(report) == {"accuracy", "precision", "recall", "roc_auc"}
    assert all(0 <= value <= 1 for value in report.values())


def test_q5_depth_curve_shapes(data):
    """q5: depth_curve returns one training and one validation score per depth"""
    train, val = data.ref("depth_curve(_t_Xtr, _t_ytr, [1, 3, 5])")
    assert type(train) is np.ndarray and train.shape == (3,)
    assert type(val) is np.ndarray and val.shape == (3,)


def test_q5_pick_depth(nb):
    """q5: pick_depth returns the depth with the best validation score"""
    assert nb.call("pick_depth", [1, 2, 4, 8], [0.8, 0.9, 0.85, 0.7]) == 2


def test_q6_explained_variance(data):
    """q6: explained_variance returns n ratios, largest first, adding up to at most 1"""
    ratios = data.ref("explained_variance(_t_Xtr, 5)")
    assert type(ratios) is np.ndarray and ratios.shape == (5,)
    assert np.all(np.diff(ratios) <= 0) and ratios.sum() <= 1 + 1e-9


def test_q7_scores_are_floats(data):
    """q7: both selection scores are accuracies between 0 and 1"""
    for name in ("leaky_selection_score", "honest_selection_score"):
        score = data.ref(f"{name}(_t_Xtr, _t_ytr)")
        assert (type(score) is float or isinstance(score, np.floating)) and 0 <= score <= 1
