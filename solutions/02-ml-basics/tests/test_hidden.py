"""Hidden tests for 02-ml-basics: they call the student's functions on data, splits
and seeds the grader chooses, and compute every metric here, in the grader.

Values come back as plain data, so the exact type checks below cannot be fooled
by objects that claim equality. Every floor and band was set from the measured
spread of correct answers (30 or more random splits or noise draws; logistic
regression, SVMs, random forests, k-NN, naive Bayes, boosting, shallow trees;
several scalers and hyperparameters), with a margin: the comments give the
measured extreme. Exact answers are compared only where one exists (confusion
counts, metrics of given predictions, PCA ratios).

The label vector of a held-out set never enters the student's kernel when the
student's own model is scored: predictions come back and are scored here.

Each exercise is tested on its own answer only: while q3 is tested,
``build_pipeline`` in the kernel is the grader's (see ``kernel_side.py``), so a
weak q2 answer costs q2's points and no others.

The lab's central lesson, that whatever learns from data is fitted inside the
folds, after the split, carries its weight: q1's split keeps rows unchanged, q3's
folds are fitted on their own rows as given and scored on the others, and q7's
leak is measured three ways (optimism on noise, the honest score at chance, the
gap between them) besides the honest selection finding a real signal.
"""

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

KERNEL_SIDE = Path(__file__).with_name("kernel_side.py").read_text()
SPLIT_SEEDS = (11, 2024, 77)  # the grader's own splits of the breast cancer data
ACCURACY_FLOOR = 0.90  # mean test accuracy over SPLIT_SEEDS; measured min 0.916 (Gaussian NB)
FLIPPED_CEILING = 0.20  # accuracy on true labels after fitting on flipped ones; measured max 0.119
CV_FLOOR = 0.90  # mean cross-validated accuracy; measured min 0.916 (depth-4 tree)
CHANCE_BAND = (0.35, 0.65)  # mean 3-fold CV accuracy on three pure-noise sets; measured 0.419-0.561
LEAKY_FLOOR = 0.65  # leaky selection on noise, mean of two sets; measured min 0.755
HONEST_BAND = (0.30, 0.70)  # honest selection on noise, mean of two sets; measured 0.405-0.655
HONEST_REAL_FLOOR = 0.88  # either selection score on real training data; measured min 0.932
GAP_FLOOR = 0.12  # leaky minus honest on the same noise, mean of two sets; measured min 0.240 (30 pairs)
SPARSE_FLOOR = 0.85  # honest selection, 3 of 1,000 columns informative, mean of two sets; measured min 0.925
#                      (30 pairs); with no selection at all at most 0.767
DEPTHS = [1, 2, 3, 4, 6, 8, 12, 20]
DEEP_TRAIN_FLOOR = 0.99  # training-fold accuracy at depth 20; measured 1.000 on every split
OVERFIT_GAP_FLOOR = 0.02  # train minus validation at depth 20; measured min 0.045
UNDERFIT_RISE_FLOOR = 0.03  # training score, depth 20 minus depth 1; measured min 0.055
VALIDATION_FLOOR = 0.85  # best validation accuracy over the depths; measured min 0.906
NOISE_VALIDATION_CEILING = 0.75  # best validation accuracy on pure noise; measured max 0.653
NOISE_STUMP_CEILING = 0.80  # training accuracy of a depth-1 tree on pure noise; measured max 0.655


def real(value) -> bool:
    """A float as plain data: Python's or NumPy's, of any width (never bool, never an object)."""
    return type(value) is float or isinstance(value, np.floating)


def integer(value) -> bool:
    """An int as plain data: Python's or NumPy's, never bool."""
    return type(value) is int or isinstance(value, np.integer)


def cancer():
    """The breast cancer data with 1 = malignant."""
    data = load_breast_cancer()
    return data.data, (data.target == 0).astype(int)


def grader_split(seed):
    """A stratified 75/25 split of the breast cancer data chosen by the grader."""
    X, y = cancer()
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)


@pytest.fixture
def lab(nb):
    """The kernel, with the grader's own code (``kernel_side.py``) loaded as ``_g_lab``."""
    if not nb.ref("'_g_lab' in globals()"):
        nb.run(f"import types as _g_types\n_g_lab = _g_types.ModuleType('_g_lab')\n"
               f"exec({KERNEL_SIDE!r}, _g_lab.__dict__)\ndel _g_types")
    return nb


@contextmanager
def grader_pipeline(nb, factory: str):
    """For the block, ``build_pipeline`` in the kernel is ``factory`` (an expression there), the
    grader's: a test of q3 then depends on q3's answer alone. The student's is put back after."""
    nb.run(f"_g_student_build = globals().get('build_pipeline')\nbuild_pipeline = {factory}")
    try:
        yield
    finally:
        nb.run("build_pipeline = _g_student_build\ndel _g_student_build")


@contextmanager
def sent(nb, **values):
    """Put grader data into the kernel as the dict ``_g`` for the block, then remove it
    (one call each way: every call into the sandbox costs a round trip)."""
    nb.assign("_g", values)
    try:
        yield
    finally:
        nb.run("del _g")


@contextmanager
def drawn(lab, data: str):
    """Like ``sent``, for ``_g = {'X': ..., 'y': ...}`` drawn in the kernel by ``data``, a call of a
    function of kernel_side.py such as ``noise(31, 120, 100)``."""
    lab.run(f"_g = dict(zip('Xy', _g_lab.{data}))")
    try:
        yield
    finally:
        lab.run("del _g")


def indexed_data(rows=1000, positives=100, seed=0):
    """Rows whose first column is their own index, labels with a known count of 1s."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.arange(rows, dtype=float), rng.normal(size=(rows, 3))])
    y = np.zeros(rows, dtype=int)
    y[rng.choice(rows, positives, replace=False)] = 1
    return X, y


def split(nb, X, y, **kwargs):
    """The student's split_data on grader data: four arrays, NumPy's or pandas' (the text leaves it
    open), returned as NumPy arrays."""
    parts = nb.call("split_data", X, y, **kwargs)
    assert type(parts) in (tuple, list) and len(parts) == 4
    assert all(type(p) in (np.ndarray, pd.DataFrame, pd.Series) for p in parts)
    return [np.asarray(p) for p in parts]


# --- q1: loading and splitting ---------------------------------------------------------

def labelled_rows(X, y):
    """The rows of X, each with its label as a last column, in one fixed order."""
    rows = np.column_stack([X, y])
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.points(1)
def test_q1_load_data_labels(nb):
    """q1: load_data returns every row of the data, with y == 1 exactly for malignant tumours"""
    X, y = nb.call("load_data")
    assert type(X) is np.ndarray and X.dtype.kind == "f" and X.shape == (569, 30)
    assert type(y) is np.ndarray and y.dtype.kind in "iu" and y.shape == (569,)
    assert np.array_equal(labelled_rows(X, y), labelled_rows(*cancer()))


@pytest.mark.points(1)
def test_q1_split_sizes_follow_test_size(nb):
    """q1: split_data honours test_size"""
    X, y = indexed_data()
    for test_size, n_test in ((0.25, 250), (0.2, 200)):
        X_train, X_test, y_train, y_test = split(nb, X, y, test_size=test_size, seed=1)
        assert len(X_test) == len(y_test) == n_test and len(X_train) == len(y_train) == 1000 - n_test


@pytest.mark.points(2)
def test_q1_split_keeps_rows_and_labels(nb):
    """q1: split_data returns the rows of X unchanged, each with its own label, each row once"""
    X, y = indexed_data(seed=3)
    X_train, X_test, y_train, y_test = split(nb, X, y, seed=8)
    for part_X, part_y in ((X_train, y_train), (X_test, y_test)):
        assert np.isin(part_X[:, 0], X[:, 0]).all()
        index = part_X[:, 0].astype(int)
        assert np.array_equal(part_X, X[index]) and np.array_equal(part_y, y[index])
    assert sorted(np.concatenate([X_train[:, 0], X_test[:, 0]]).astype(int)) == list(range(len(X)))


@pytest.mark.points(2)
def test_q1_split_is_stratified(nb):
    """q1: split_data keeps the share of each class the same in both parts, for any seed"""
    X, y = indexed_data(seed=4)  # 10% positives: 25 of 250 test rows
    for seed in (3, 14, 15, 92, 65, 35):
        _, _, y_train, y_test = split(nb, X, y, seed=seed)
        assert abs(int(y_test.sum()) - 25) <= 1 and abs(int(y_train.sum()) - 75) <= 1


@pytest.mark.points(1)
def test_q1_split_depends_on_seed(nb):
    """q1: split_data gives the same split for the same seed and another one for another seed"""
    X, y = indexed_data(seed=5)
    first, again, other = (split(nb, X, y, seed=s)[1] for s in (21, 21, 22))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


# --- q2: the pipeline ------------------------------------------------------------------

def fit_predict(nb, X_train, y_train, X_test):
    """Fit a fresh student pipeline in the kernel and return its predictions for X_test."""
    with sent(nb, Xtr=X_train, ytr=y_train, Xte=X_test):
        predictions = nb.ref("build_pipeline().fit(_g['Xtr'], _g['ytr']).predict(_g['Xte'])")
    assert type(predictions) is np.ndarray and predictions.shape == (len(X_test),)
    return predictions


@pytest.mark.points(1)
def test_q2_returns_a_pipeline(nb):
    """q2: build_pipeline returns a scikit-learn Pipeline"""
    kind = nb.ref("(type(build_pipeline()).__module__, type(build_pipeline()).__qualname__)")
    assert kind == ("sklearn.pipeline", "Pipeline")


@pytest.mark.points(1)
def test_q2_preprocessing_then_classifier(nb):
    """q2: the pipeline has preprocessing step(s) first and a classifier last"""
    steps = nb.ref("[(hasattr(s, 'transform'), hasattr(s, 'predict')) for _, s in build_pipeline().steps]")
    assert type(steps) is list and len(steps) >= 2
    assert all(transform for transform, _ in steps[:-1]) and steps[-1][1] is True


@pytest.mark.points(1)
def test_q2_fresh_unfitted_each_call(nb):
    """q2: build_pipeline returns a new, unfitted pipeline every time it is called"""
    nb.run("from sklearn.utils.validation import check_is_fitted as _g_check\n"
           "from sklearn.exceptions import NotFittedError as _g_NotFitted\n"
           "try:\n    _g_check(build_pipeline())\n    _g_fitted = True\n"
           "except _g_NotFitted:\n    _g_fitted = False")
    assert nb.ref("(_g_fitted, build_pipeline() is not build_pipeline())") == (False, True)


@pytest.mark.points(3)
def test_q2_accurate_on_unseen_splits(nb):
    """q2: a pipeline fitted on training rows predicts held-out rows accurately"""
    accuracies = []
    for seed in SPLIT_SEEDS:
        X_train, X_test, y_train, y_test = grader_split(seed)
        accuracies.append(accuracy_score(y_test, fit_predict(nb, X_train, y_train, X_test)))
    assert np.mean(accuracies) >= ACCURACY_FLOOR


@pytest.mark.points(1)
def test_q2_learns_from_given_labels(nb):
    """q2: the pipeline learns from the labels it is fitted on, and nothing else"""
    X_train, X_test, y_train, y_test = grader_split(5)
    predictions = fit_predict(nb, X_train, 1 - y_train, X_test)
    assert accuracy_score(y_test, predictions) <= FLIPPED_CEILING


# --- q3: cross-validation --------------------------------------------------------------

def cv_scores(lab, **kwargs):
    """The student's cross_validate_model with the grader's pipeline on the data in ``_g``, checked
    to be a float array."""
    with grader_pipeline(lab, "_g_lab.reference_pipeline"):
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        scores = lab.ref(f"cross_validate_model(_g['X'], _g['y'], {args})")
    assert type(scores) is np.ndarray and scores.dtype.kind == "f"
    return scores


def spied_folds(lab, rows, positives, cv, seed):
    """What cross_validate_model did with a spy for build_pipeline, on ``rows`` grader rows whose first
    column is their index: (y, the spy's answers, the returned scores, [(fit rows, held-out rows)]).
    Held-out rows are those a fitted spy predicted without having been fitted on them."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.arange(rows, dtype=float), rng.normal(size=(rows, 2))])
    y = rng.permutation(np.repeat([1, 0], [positives, rows - positives]))
    answers = np.where(rng.random(rows) < 0.7, y, 1 - y)  # about 70% right, a different share per fold
    with sent(lab, X=X, a=answers, y=y):
        lab.run("_g['log'], _g['make'] = _g_lab.spy_factory(_g['X'], _g['a'])")
        with grader_pipeline(lab, "_g['make']"):
            scores = lab.ref(f"cross_validate_model(_g['X'], _g['y'], cv={cv}, seed={seed})")
        fitted = lab.ref("_g_lab.fits(_g['log'])")
    folds = []
    for fit_rows, predictions in fitted:
        held_out = sorted({i for p in predictions if not set(p) & set(fit_rows) for i in p})
        folds.append((fit_rows, held_out))
    return y, answers, scores, folds


@pytest.mark.points(1)
def test_q3_one_score_per_fold(lab):
    """q3: cross_validate_model returns cv accuracies between 0 and 1"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[1])
    with sent(lab, X=X_train, y=y_train):
        scores = cv_scores(lab, cv=4, seed=3)
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.points(2)
def test_q3_accurate(lab):
    """q3: cross-validated accuracy on the breast cancer training rows is high"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[0])
    with sent(lab, X=X_train, y=y_train):
        assert cv_scores(lab, cv=5, seed=9).mean() >= CV_FLOOR


@pytest.mark.points(2)
def test_q3_chance_on_noise(lab):
    """q3: on data with no signal, cross-validation reports about chance (each fold scored on rows it did not fit)"""
    means = []
    for seed in (31, 32, 33):
        with drawn(lab, f"noise({seed}, 120, 100)"):
            means.append(cv_scores(lab, cv=3, seed=seed).mean())
    assert CHANCE_BAND[0] <= np.mean(means) <= CHANCE_BAND[1]


@pytest.mark.points(1)
def test_q3_seed_decides_the_folds(lab):
    """q3: the same seed gives the same scores, another seed other folds"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[2])
    with sent(lab, X=X_train, y=y_train):
        first, again, other = (cv_scores(lab, cv=2, seed=s) for s in (4, 4, 5))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.points(3)
def test_q3_folds_fit_on_their_own_rows(lab):
    """q3: each fold is fitted on its own training rows as given (nothing fitted before the split), scored on the rest"""
    y, answers, scores, folds = spied_folds(lab, rows=120, positives=48, cv=4, seed=6)
    assert all(-1 not in fit_rows for fit_rows, _ in folds), "rows were changed before the folds were split"
    folds = [(fit_rows, held_out) for fit_rows, held_out in folds if held_out]
    assert len(folds) == 4
    assert sorted(i for _, held_out in folds for i in held_out) == list(range(len(y)))
    assert all(sorted(fit_rows + held_out) == list(range(len(y))) for fit_rows, held_out in folds)
    expected = sorted(np.mean(answers[held_out] == y[held_out]) for _, held_out in folds)
    assert type(scores) is np.ndarray and np.allclose(np.sort(scores), expected, atol=1e-6)


@pytest.mark.points(1)
def test_q3_folds_are_stratified(lab):
    """q3: the folds are stratified: each held-out fold has the same share of each class"""
    for cv, seed in ((5, 12), (4, 13)):
        y, _, _, folds = spied_folds(lab, rows=400, positives=40, cv=cv, seed=seed)
        counts = [int(y[held_out].sum()) for _, held_out in folds if held_out]
        assert len(counts) == cv and max(counts) - min(counts) <= 1, counts


# --- q4: evaluation --------------------------------------------------------------------

WITH_PROBA = ("LogisticRegression", "predict_proba(_g['Xte'])[:, 1]")
WITHOUT_PROBA = ("RidgeClassifier", "decision_function(_g['Xte'])")


def evaluations(nb, *models):
    """y_test and, per grader model (fitted in the kernel by the grader on two features),
    (the student's evaluate report, the model's predictions, its scores for class 1)."""
    X_train, X_test, y_train, y_test = grader_split(SPLIT_SEEDS[1])
    columns = [1, 9]  # texture and fractal dimension: a weak model, so mistakes show
    out = []
    with sent(nb, Xtr=X_train[:, columns], ytr=y_train, Xte=X_test[:, columns], yte=y_test):
        for model, score_call in models:
            nb.run(f"from sklearn import linear_model as _g_lm, pipeline as _g_pl, preprocessing as _g_pp\n"
                   f"_g['m'] = _g_pl.make_pipeline(_g_pp.StandardScaler(), _g_lm.{model}())"
                   f".fit(_g['Xtr'], _g['ytr'])")
            out.append(nb.ref(f"(evaluate(_g['m'], _g['Xte'], _g['yte']), _g['m'].predict(_g['Xte']), "
                              f"_g['m'].{score_call})"))
    return y_test, out


@pytest.mark.points(2)
def test_q4_confusion_counts(nb):
    """q4: confusion counts true negatives, false positives, false negatives and true positives"""
    rng = np.random.default_rng(12)
    y_true, y_pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    got = nb.call("confusion", y_true, y_pred)
    assert type(got) is np.ndarray and got.dtype.kind in "iu" and got.shape == (2, 2)
    assert np.array_equal(got, confusion_matrix(y_true, y_pred, labels=[0, 1]))


@pytest.mark.points(1)
def test_q4_confusion_always_2x2(nb):
    """q4: confusion is 2x2 even when only one class appears"""
    got = nb.call("confusion", np.zeros(7, dtype=int), np.zeros(7, dtype=int))
    assert type(got) is np.ndarray and got.tolist() == [[7, 0], [0, 0]]
    got = nb.call("confusion", np.array([0, 1, 1]), np.ones(3, dtype=int))
    assert type(got) is np.ndarray and got.tolist() == [[0, 1], [0, 2]]


@pytest.mark.points(1)
def test_q4_evaluate_returns_four_floats(nb):
    """q4: evaluate returns a dict with exactly the four keys, each a float"""
    _, results = evaluations(nb, WITH_PROBA)
    for report, _, _ in results:
        assert type(report) is dict and set(report) == {"accuracy", "precision", "recall", "roc_auc"}
        assert all(real(value) for value in report.values())


@pytest.mark.points(2)
def test_q4_evaluate_threshold_metrics(nb):
    """q4: evaluate's accuracy, precision and recall, with malignant (1) as the positive class"""
    y_test, results = evaluations(nb, WITH_PROBA)
    for report, predictions, _ in results:
        assert report["accuracy"] == pytest.approx(accuracy_score(y_test, predictions), abs=1e-9)
        assert report["precision"] == pytest.approx(precision_score(y_test, predictions), abs=1e-9)
        assert report["recall"] == pytest.approx(recall_score(y_test, predictions), abs=1e-9)


@pytest.mark.points(2)
def test_q4_evaluate_roc_auc(nb):
    """q4: evaluate's roc_auc, for models with and without predict_proba"""
    y_test, results = evaluations(nb, WITH_PROBA, WITHOUT_PROBA)
    for report, _, scores in results:
        assert report["roc_auc"] == pytest.approx(roc_auc_score(y_test, scores), abs=1e-9)


# --- q5: validation curve --------------------------------------------------------------

def depth_scores(nb, depths, **kwargs):
    """The student's depth_curve on the data in ``_g``, checked to be two float arrays, one score per depth."""
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    result = nb.ref(f"depth_curve(_g['X'], _g['y'], {depths!r}{args})")
    assert type(result) in (tuple, list) and len(result) == 2
    for scores in result:
        assert type(scores) is np.ndarray and scores.dtype.kind == "f" and scores.shape == (len(depths),)
    return result


@pytest.mark.points(1)
def test_q5_one_score_per_depth(nb):
    """q5: depth_curve returns a training and a validation score per depth, between 0 and 1"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[2])
    with sent(nb, X=X_train, y=y_train):
        train, val = depth_scores(nb, [1, 3, 20], cv=4, seed=2)
    assert np.all((train >= 0) & (train <= 1)) and np.all((val >= 0) & (val <= 1))


@pytest.mark.points(2)
def test_q5_deep_trees_overfit(nb):
    """q5: deep trees score (almost) perfectly on training folds and clearly lower on validation folds"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[0])
    with sent(nb, X=X_train, y=y_train):
        train, val = depth_scores(nb, DEPTHS, seed=7)
    assert train[-1] >= DEEP_TRAIN_FLOOR and train[-1] - val[-1] >= OVERFIT_GAP_FLOOR


@pytest.mark.points(1)
def test_q5_shallow_trees_underfit(nb):
    """q5: the training score rises from the shallowest to the deepest tree"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[1])
    with sent(nb, X=X_train, y=y_train):
        train, _ = depth_scores(nb, DEPTHS, seed=8)
    assert train[-1] - train[0] >= UNDERFIT_RISE_FLOOR


@pytest.mark.points(1)
def test_q5_best_validation_score(nb):
    """q5: the best validation score of the curve is high on the breast cancer data"""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[2])
    with sent(nb, X=X_train, y=y_train):
        _, val = depth_scores(nb, DEPTHS, seed=9)
    assert val.max() >= VALIDATION_FLOOR


@pytest.mark.points(1)
def test_q5_noise_memorised_not_learned(lab):
    """q5: on data with no signal, only deep trees fit the training folds, and none validates well"""
    with drawn(lab, "noise(41, 150, 20)"):
        train, val = depth_scores(lab, DEPTHS, seed=0)
    assert train[0] <= NOISE_STUMP_CEILING and train[-1] >= DEEP_TRAIN_FLOOR
    assert val.max() <= NOISE_VALIDATION_CEILING


@pytest.mark.points(2)
def test_q5_plot(nb):
    """q5: plot_depth_curve draws both curves, labels both axes, adds a legend and returns the Axes"""
    depths, train, val = [1, 2, 5, 9], [0.8, 0.9, 0.97, 1.0], [0.78, 0.86, 0.84, 0.8]
    with sent(nb, d=depths, tr=np.array(train), va=np.array(val)):
        nb.run("_g['ax'] = plot_depth_curve(_g['d'], _g['tr'], _g['va'])")
        kind, lines, labelled, legend = nb.ref(
            "(type(_g['ax']).__module__.split('.')[0] + '.' + type(_g['ax']).__name__,"
            " [[float(v) for v in line.get_ydata()] for line in _g['ax'].lines],"
            " bool(_g['ax'].get_xlabel().strip()) and bool(_g['ax'].get_ylabel().strip()),"
            " _g['ax'].get_legend() is not None or bool(_g['ax'].figure.legends))")
        nb.run("import matplotlib.pyplot as _g_plt\n_g_plt.close('all')")
    assert kind == "matplotlib.Axes"
    assert any(len(line) == 4 and np.allclose(line, train) for line in lines)
    assert any(len(line) == 4 and np.allclose(line, val) for line in lines)
    assert labelled is True and legend is True


@pytest.mark.points(1)
def test_q5_pick_depth(nb):
    """q5: pick_depth picks the best validation score, and the smaller depth on a tie"""
    for depths, val, best in (([2, 4, 6, 8, 10], [0.9, 0.93, 0.93, 0.91, 0.5], 4),
                              ([1, 5, 9], [0.70, 0.60, 0.71], 9)):
        got = nb.call("pick_depth", depths, np.array(val))
        assert integer(got) and got == best


# --- q6: PCA ---------------------------------------------------------------------------

def expected_ratios(X):
    """Explained variance ratios of standardised X, computed here."""
    return PCA().fit(StandardScaler().fit_transform(X)).explained_variance_ratio_


def cancer_rows(seed=6, rows=300):
    """A subset of the breast cancer rows chosen by the grader."""
    X, _ = cancer()
    return X[np.random.default_rng(seed).choice(len(X), rows, replace=False)]


@pytest.mark.points(2)
def test_q6_ratios_of_standardised_data(nb):
    """q6: explained_variance matches PCA of the standardised data"""
    X = cancer_rows()
    got = nb.call("explained_variance", X, 6)
    assert type(got) is np.ndarray and got.shape == (6,)
    assert np.allclose(got, expected_ratios(X)[:6], atol=1e-4)  # any exact solver


@pytest.mark.points(1)
def test_q6_ratios_other_dataset(nb):
    """q6: explained_variance works for another data set too"""
    X = load_wine().data
    got = nb.call("explained_variance", X, 4)
    assert type(got) is np.ndarray and np.allclose(got, expected_ratios(X)[:4], atol=1e-4)


@pytest.mark.points(2)
def test_q6_components_for(nb):
    """q6: components_for returns the smallest number of components reaching the threshold"""
    for X, threshold in ((cancer_rows(), 0.8), (cancer_rows(), 0.9), (load_wine().data, 0.75)):
        cumulative = np.cumsum(expected_ratios(X))
        expected = int(np.argmax(cumulative >= threshold)) + 1
        assert np.min(np.abs(cumulative - threshold)) > 1e-3  # no answer hinges on rounding
        got = nb.call("components_for", X, threshold)
        assert integer(got) and got == expected


# --- q7: leakage -----------------------------------------------------------------------

NOISE_SEEDS = (51, 52)
GAP_SEEDS = (53, 54)
SPARSE_SEEDS = (55, 56)


def drawn_score(lab, name, data, seed, k=10):
    """The student's ``name`` on data drawn in the kernel (see ``drawn``)."""
    with drawn(lab, data):
        score = lab.ref(f"{name}(_g['X'], _g['y'], k={k}, seed={seed})")
    assert real(score)
    return score


def noise_score(lab, name, seed):
    """The student's ``name`` on 100 rows of 2,000 noise features with balanced random labels."""
    return drawn_score(lab, name, f"noise({seed}, 100, 2000)", seed)


def real_score(nb, name):
    """The student's ``name`` on the training rows of a grader split of the breast cancer data."""
    X_train, _, y_train, _ = grader_split(SPLIT_SEEDS[0])
    with sent(nb, X=X_train, y=y_train):
        score = nb.ref(f"{name}(_g['X'], _g['y'], k=10, seed=3)")
    assert real(score)
    return score


@pytest.mark.points(2)
def test_q7_leaky_is_optimistic_on_noise(lab):
    """q7: leaky_selection_score selects features on all rows first, so it beats chance on pure noise"""
    scores = [noise_score(lab, "leaky_selection_score", seed) for seed in NOISE_SEEDS]
    assert np.mean(scores) >= LEAKY_FLOOR
    assert real_score(lab, "leaky_selection_score") >= HONEST_REAL_FLOOR


@pytest.mark.points(2)
def test_q7_honest_is_chance_on_noise(lab):
    """q7: honest_selection_score stays near chance on pure noise"""
    scores = [noise_score(lab, "honest_selection_score", seed) for seed in NOISE_SEEDS]
    assert HONEST_BAND[0] <= np.mean(scores) <= HONEST_BAND[1]


@pytest.mark.points(3)
def test_q7_leak_measured_on_noise(lab):
    """q7: on the same noise and folds, the leaky score is far above the honest one: that gap is the leak"""
    gaps = [noise_score(lab, "leaky_selection_score", seed) - noise_score(lab, "honest_selection_score", seed)
            for seed in GAP_SEEDS]
    assert np.mean(gaps) >= GAP_FLOOR


@pytest.mark.points(2)
def test_q7_honest_selection_finds_the_signal(lab):
    """q7: honest_selection_score selects inside each fold: where 3 of 1,000 columns carry the signal, it finds them"""
    scores = [drawn_score(lab, "honest_selection_score", f"sparse_signal({seed}, 120, 1000, 3, 1.0)", seed, k=3)
              for seed in SPARSE_SEEDS]
    assert np.mean(scores) >= SPARSE_FLOOR


@pytest.mark.points(1)
def test_q7_honest_on_real_data(nb):
    """q7: honest_selection_score is high on the breast cancer training rows"""
    assert real_score(nb, "honest_selection_score") >= HONEST_REAL_FLOOR
