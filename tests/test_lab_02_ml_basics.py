"""The 02-ml-basics lab graded end to end: the solution, the untouched student notebook,
correct solutions in other styles, and typical mistakes, in one sandboxed ``grade`` batch.

The variant notebooks under ``tests/labs/02-ml-basics/`` are the solution notebook with
some answer cells (found by tag) replaced by the sources below, so that they stay
realistic. ``test_variant_notebooks_are_in_sync`` checks that the committed files are
exactly that; after changing the solution, rewrite them with
``.venv/bin/python tests/test_lab_02_ml_basics.py``.
"""

from __future__ import annotations

import csv
import json

import nbformat
import pytest
from conftest import REPO, run_grade

LAB = "02-ml-basics"
SOLUTION = REPO / "solutions" / LAB / "solution.ipynb"
STUDENT = REPO / "labs" / LAB / "lab.ipynb"
VARIANTS = REPO / "tests" / "labs" / LAB
MAX_SCORE = 57

# --- correct solutions in other styles -----------------------------------------------------

FOREST_FUNCTIONAL = {
    "q1": '''from sklearn.model_selection import StratifiedShuffleSplit


def load_data():
    """Features and labels, 1 = malignant."""
    bunch = load_breast_cancer()
    return bunch.data.astype(float), 1 - bunch.target


def split_data(X, y, test_size=0.25, seed=0):
    """One stratified shuffle split."""
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(X, y))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]''',
    "q2": '''from sklearn.ensemble import RandomForestClassifier


def build_pipeline():
    """Scaling does not matter to a forest, but it keeps the pipeline interchangeable."""
    return make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=100, random_state=0))''',
    "q3": '''def cross_validate_model(X, y, cv=5, seed=0):
    """Fold by fold, by hand."""
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scores = []
    for train_idx, val_idx in folds.split(X, y):
        model = build_pipeline().fit(X[train_idx], y[train_idx])
        scores.append(np.mean(model.predict(X[val_idx]) == y[val_idx]))
    return np.array(scores)''',
    "q4": '''def confusion(y_true, y_pred):
    """Count each (true, predicted) pair."""
    counts = np.zeros((2, 2), dtype=int)
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        counts[t, p] += 1
    return counts


def evaluate(model, X, y):
    """Metrics from the confusion counts; ROC AUC from the scores."""
    (tn, fp), (fn, tp) = confusion(y, model.predict(X))
    if hasattr(model, "predict_proba"):
        scores = model.predict_proba(X)[:, 1]
    else:
        scores = model.decision_function(X)
    return {
        "accuracy": (tp + tn) / len(y),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "roc_auc": float(metrics.roc_auc_score(y, scores)),
    }''',
    "q5": '''from sklearn.model_selection import validation_curve


def depth_curve(X, y, depths, cv=5, seed=0):
    """scikit-learn's validation_curve, averaged over folds."""
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    train, val = validation_curve(DecisionTreeClassifier(random_state=seed), X, y,
                                  param_name="max_depth", param_range=depths, cv=folds)
    return train.mean(axis=1), val.mean(axis=1)


def plot_depth_curve(depths, train_scores, val_scores):
    """A figure-level legend this time."""
    fig = plt.figure()
    ax = fig.add_subplot()
    ax.plot(depths, train_scores, "o-", label="train")
    ax.plot(depths, val_scores, "s--", label="validation")
    ax.set(xlabel="tree depth", ylabel="mean accuracy")
    fig.legend()
    return ax


def pick_depth(depths, val_scores):
    """The smallest depth among the best."""
    best = max(val_scores)
    return min(d for d, s in zip(depths, val_scores) if s == best)''',
    "q6": '''def explained_variance(X, n_components):
    """Eigenvalues of the covariance of standardised X, largest first."""
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    eigenvalues = np.linalg.eigvalsh(np.cov(Z, rowvar=False))[::-1]
    return eigenvalues[:n_components] / eigenvalues.sum()


def components_for(X, threshold):
    """First position where the running total reaches the threshold."""
    cumulative = np.cumsum(explained_variance(X, X.shape[1]))
    return int(np.argmax(cumulative >= threshold)) + 1''',
    "q7": '''def leaky_selection_score(X, y, k=10, seed=0):
    """Columns chosen with every row's label: leaky on purpose."""
    chosen = SelectKBest(f_classif, k=k).fit(X, y).get_support()
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    result = cross_validate(make_pipeline(StandardScaler(), LogisticRegression()), X[:, chosen], y, cv=folds)
    return float(result["test_score"].mean())


def honest_selection_score(X, y, k=10, seed=0):
    """Columns chosen inside each fold."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    model = make_pipeline(SelectKBest(f_classif, k=k), StandardScaler(), LogisticRegression())
    return float(cross_validate(model, X, y, cv=folds)["test_score"].mean())''',
}

SVC_CLASSES = {
    "q1": '''class BreastCancerData:
    """The data set, with malignant as class 1."""

    def __init__(self):
        bunch = load_breast_cancer()
        self.X = bunch.data
        self.y = np.where(bunch.target == 0, 1, 0)


def load_data():
    data = BreastCancerData()
    return data.X, data.y


def split_data(X, y, test_size=0.25, seed=0):
    return tuple(train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y, shuffle=True))''',
    "q2": '''from sklearn.preprocessing import RobustScaler
from sklearn.svm import SVC


class PipelineFactory:
    """Makes a fresh robust-scaled RBF support vector machine on every call."""

    def __init__(self, C=3.0):
        self.C = C

    def __call__(self):
        return Pipeline([("robust", RobustScaler()), ("svm", SVC(C=self.C, kernel="rbf"))])


build_pipeline = PipelineFactory()''',
    "q3": '''def cross_validate_model(X, y, cv=5, seed=0):
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    return cross_val_score(build_pipeline(), X, y, cv=splitter)''',
    "q4": '''class Report:
    """The usual binary metrics, class 1 positive."""

    def __init__(self, y, y_pred, scores):
        self.y, self.y_pred, self.scores = y, y_pred, scores

    def as_dict(self):
        return {
            "accuracy": metrics.accuracy_score(self.y, self.y_pred),
            "precision": metrics.precision_score(self.y, self.y_pred, pos_label=1, zero_division=0),
            "recall": metrics.recall_score(self.y, self.y_pred, pos_label=1),
            "roc_auc": metrics.roc_auc_score(self.y, self.scores),
        }


def confusion(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    return np.bincount(2 * y_true + y_pred, minlength=4).reshape(2, 2)


def evaluate(model, X, y):
    # an SVC without probability=True has no predict_proba: rank by its decision function
    scores = model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.decision_function(X)
    return Report(y, model.predict(X), scores).as_dict()''',
    "q5": '''class DepthStudy:
    """Train and validation accuracy of a decision tree per depth."""

    def __init__(self, cv=5, seed=0):
        self.folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        self.seed = seed

    def scores(self, X, y, depth):
        tree = DecisionTreeClassifier(max_depth=depth, random_state=self.seed)
        result = cross_validate(tree, X, y, cv=self.folds, return_train_score=True)
        return result["train_score"].mean(), result["test_score"].mean()


def depth_curve(X, y, depths, cv=5, seed=0):
    study = DepthStudy(cv, seed)
    pairs = [study.scores(X, y, d) for d in depths]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def plot_depth_curve(depths, train_scores, val_scores):
    _, ax = plt.subplots()
    for scores, name in ((train_scores, "train"), (val_scores, "validation")):
        ax.plot(depths, scores, label=name)
    ax.set_xlabel("max_depth")
    ax.set_ylabel("accuracy")
    ax.legend(loc="lower right")
    return ax


def pick_depth(depths, val_scores):
    return min(zip([-s for s in val_scores], depths))[1]''',
    "q6": '''def explained_variance(X, n_components):
    Z = StandardScaler().fit_transform(X)
    return PCA(n_components=n_components, svd_solver="full").fit(Z).explained_variance_ratio_


def components_for(X, threshold):
    Z = StandardScaler().fit_transform(X)
    return int(PCA(n_components=threshold, svd_solver="full").fit(Z).n_components_)''',
}

KNN_PANDAS = {
    "q1": '''import pandas as pd


def load_data():
    """Through a DataFrame, as real data usually arrives."""
    frame = load_breast_cancer(as_frame=True).frame
    frame["malignant"] = (frame["target"] == 0).astype(int)
    X = frame.drop(columns=["target", "malignant"]).to_numpy(dtype=float)
    return X, frame["malignant"].to_numpy()


def split_data(X, y, test_size=0.25, seed=0):
    """Stratified by hand: the same share of each class goes to the test set."""
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        test_mask[rows[: int(round(test_size * len(rows)))]] = True
    return X[~test_mask], X[test_mask], y[~test_mask], y[test_mask]''',
    "q2": '''from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler


def build_pipeline():
    return Pipeline(steps=[("minmax", MinMaxScaler()), ("knn", KNeighborsClassifier(n_neighbors=9))])''',
    "q3": '''def cross_validate_model(X, y, cv=5, seed=0):
    result = cross_validate(build_pipeline(), X, y, scoring="accuracy",
                            cv=StratifiedKFold(cv, shuffle=True, random_state=seed))
    return result["test_score"]''',
    "q4": '''from scipy.stats import rankdata


def confusion(y_true, y_pred):
    table = pd.crosstab(pd.Series(np.asarray(y_true), name="true"), pd.Series(np.asarray(y_pred), name="pred"))
    return table.reindex(index=[0, 1], columns=[0, 1], fill_value=0).to_numpy()


def roc_auc(y, scores):
    """The chance a random positive outranks a random negative (Mann-Whitney), ties counting half."""
    ranks = rankdata(scores)
    positive = np.asarray(y) == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(model, X, y):
    y = np.asarray(y)
    y_pred = model.predict(X)
    scores = model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.decision_function(X)
    tp = int(((y_pred == 1) & (y == 1)).sum())
    return {
        "accuracy": float((y_pred == y).mean()),
        "precision": tp / max(int((y_pred == 1).sum()), 1),
        "recall": tp / max(int((y == 1).sum()), 1),
        "roc_auc": roc_auc(y, scores),
    }''',
    "q5": '''def depth_curve(X, y, depths, cv=5, seed=0):
    folds = list(StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed).split(X, y))
    train_scores, val_scores = np.zeros(len(depths)), np.zeros(len(depths))
    for i, depth in enumerate(depths):
        for train_idx, val_idx in folds:
            tree = DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(X[train_idx], y[train_idx])
            train_scores[i] += tree.score(X[train_idx], y[train_idx]) / cv
            val_scores[i] += tree.score(X[val_idx], y[val_idx]) / cv
    return train_scores, val_scores


def plot_depth_curve(depths, train_scores, val_scores):
    fig, ax = plt.subplots(figsize=(5, 3))
    pd.DataFrame({"train": train_scores, "validation": val_scores}, index=depths).plot(ax=ax, marker=".")
    ax.set_xlabel("depth")
    ax.set_ylabel("accuracy")
    return ax


def pick_depth(depths, val_scores):
    return depths[int(np.argmax(np.asarray(val_scores)))]''',
}

# --- typical mistakes: each loses exactly the tests named -------------------------------------

LEAK_SCALE_BEFORE_SPLIT = {"q1": '''def load_data():
    data = load_breast_cancer()
    return data.data, (data.target == 0).astype(int)


def split_data(X, y, test_size=0.25, seed=0):
    X = StandardScaler().fit_transform(X)  # "clean the data first": fitted on the test rows too
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed)
    return X_train, X_test, y_train, y_test'''}

NO_STRATIFY = {"q1": '''def load_data():
    data = load_breast_cancer()
    return data.data, (data.target == 0).astype(int)


def split_data(X, y, test_size=0.25, seed=0):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed)
    return X_train, X_test, y_train, y_test'''}

SCORED_ON_TRAINING_ROWS = {"q3": '''def cross_validate_model(X, y, cv=5, seed=0):
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scores = []
    for train_idx, val_idx in folds.split(X, y):
        model = build_pipeline().fit(X[train_idx], y[train_idx])
        scores.append(model.score(X[train_idx], y[train_idx]))
    return np.array(scores)'''}

ROC_FROM_PREDICTIONS = {"q4": '''def confusion(y_true, y_pred):
    return metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])


def evaluate(model, X, y):
    y_pred = model.predict(X)
    return {
        "accuracy": float(metrics.accuracy_score(y, y_pred)),
        "precision": float(metrics.precision_score(y, y_pred)),
        "recall": float(metrics.recall_score(y, y_pred)),
        "roc_auc": float(metrics.roc_auc_score(y, y_pred)),
    }'''}

PCA_UNSCALED = {"q6": '''def explained_variance(X, n_components):
    return PCA(n_components=n_components).fit(X).explained_variance_ratio_


def components_for(X, threshold):
    ratios = PCA().fit(X).explained_variance_ratio_
    return int(np.searchsorted(np.cumsum(ratios), threshold) + 1)'''}

CORRECT = {
    "correct_forest_functional": FOREST_FUNCTIONAL,
    "correct_svc_classes": SVC_CLASSES,
    "correct_knn_pandas": KNN_PANDAS,
}

MISTAKES = {  # name: (replaced cells, names of the tests it must fail, points lost)
    "mistake_leak_scale_before_split": (LEAK_SCALE_BEFORE_SPLIT, {
        "q1: split_data returns the rows of X unchanged, each with its own label, each row once"}, 2),
    "mistake_no_stratify": (NO_STRATIFY, {
        "q1: split_data keeps the share of each class the same in both parts, for any seed"}, 2),
    "mistake_scored_on_training_rows": (SCORED_ON_TRAINING_ROWS, {
        ("q3: on data with no signal, cross-validation reports about chance "
         "(each fold scored on rows it did not fit)")}, 2),
    "mistake_roc_from_predictions": (ROC_FROM_PREDICTIONS, {
        "q4: evaluate's roc_auc, for models with and without predict_proba"}, 2),
    "mistake_pca_unscaled": (PCA_UNSCALED, {
        "q6: explained_variance matches PCA of the standardised data",
        "q6: explained_variance works for another data set too",
        "q6: components_for returns the smallest number of components reaching the threshold"}, 5),
}


def variant_cells() -> dict[str, dict[str, str]]:
    """Every variant's replaced cells, by variant name."""
    return {**CORRECT, **{name: cells for name, (cells, _, _) in MISTAKES.items()}}


def build_variant(replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The solution notebook with the cells tagged as in ``replacements`` given new sources."""
    nb = nbformat.read(SOLUTION, as_version=4)
    found = set()
    for cell in nb.cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag in replacements:
                cell.source = replacements[tag]
                found.add(tag)
    missing = set(replacements) - found
    if missing:
        raise LookupError(f"the solution has no cell tagged {sorted(missing)}")
    nb.metadata["grader"] = {"lab": LAB}
    return nb


def variant_text(replacements: dict[str, str]) -> str:
    return nbformat.writes(build_variant(replacements)) + "\n"


def write_variants() -> None:
    """Rewrite tests/labs/02-ml-basics/*.ipynb from the current solution."""
    VARIANTS.mkdir(parents=True, exist_ok=True)
    for name, cells in variant_cells().items():
        (VARIANTS / f"{name}.ipynb").write_text(variant_text(cells), encoding="utf-8")


# --- the batch ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One sandboxed ``grade`` run over the solution, the student notebook and every variant."""
    out = tmp_path_factory.mktemp("grades-01")
    proc = run_grade(str(VARIANTS.relative_to(REPO)), str(STUDENT.relative_to(REPO)),
                     str(SOLUTION.relative_to(REPO)), "--out", str(out), cwd=REPO)
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    results = {student: json.loads((out / student / f"{LAB}.json").read_text()) for student in rows}
    return proc, rows, results


def failed_tests(result: dict) -> set[str]:
    return {t["name"] for t in result["tests"] if t["status"] != "passed"}


def test_variant_notebooks_are_in_sync():
    """The committed variants are the solution with only their own cells replaced."""
    committed = {p.stem for p in VARIANTS.glob("*.ipynb")}
    assert committed == set(variant_cells()), "run: .venv/bin/python tests/test_lab_02_ml_basics.py"
    for name, cells in variant_cells().items():
        text = (VARIANTS / f"{name}.ipynb").read_text(encoding="utf-8")
        assert text == variant_text(cells), f"{name} is stale: run .venv/bin/python tests/test_lab_02_ml_basics.py"


def test_test_names_are_unique(batch):
    """Mistakes are recognised by the names of the tests they fail, so no two tests share a name."""
    _, _, results = batch
    names = [t["name"] for t in results["solution"]["tests"]]
    assert len(names) == len(set(names)) == 42


def test_batch_grades_everything(batch):
    """One row per notebook, all graded, no grader failure."""
    proc, rows, results = batch
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(rows) == {"solution", "lab", *variant_cells()}
    for student, row in rows.items():
        assert (row["lab"], row["status"], row["max_score"]) == (LAB, "graded", str(MAX_SCORE)), student
        assert results[student]["status"] == "graded" and float(row["score"]) == results[student]["score"]


def test_solution_full_marks(batch):
    _, rows, results = batch
    assert failed_tests(results["solution"]) == set()
    assert float(rows["solution"]["score"]) == MAX_SCORE


def test_untouched_student_notebook_scores_zero(batch):
    """The generated notebook runs to the end (stubs raise) and earns nothing, without a grader error."""
    _, rows, results = batch
    assert float(rows["lab"]["score"]) == 0
    assert rows["lab"]["message"] == ""
    assert len(results["lab"]["tests"]) == 42 and all(t["status"] == "failed" for t in results["lab"]["tests"])


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_variant_full_marks(batch, name):
    _, rows, results = batch
    assert failed_tests(results[name]) == set()
    assert float(rows[name]["score"]) == MAX_SCORE


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistake_loses_exactly_its_points(batch, name):
    _, failing, lost = MISTAKES[name]
    _, rows, results = batch
    assert failed_tests(results[name]) == failing
    assert float(rows[name]["score"]) == MAX_SCORE - lost


if __name__ == "__main__":
    write_variants()
    print(f"wrote {len(variant_cells())} notebooks to {VARIANTS.relative_to(REPO)}")
