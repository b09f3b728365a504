"""The 02-ml-basics lab graded end to end: the solution, the untouched student notebook,
correct solutions in other styles, and typical mistakes, in one sandboxed ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/02-ml-basics/``. Each is the
solution with some answer cells (found by tag) replaced by the sources below, so that they
stay realistic. A test below checks the files still match that recipe;
``python tests/test_lab_02_ml_basics.py`` rewrites them after the solution changes.

Each mistake must cost exactly the tests named in ``EXPECTED_LOSSES``, all of its own
exercise: a slip in q1 or a weak q2 pipeline must not cost q3's points. The lab's lesson,
the leak, must weigh at least 15 % of the lab.
"""

from __future__ import annotations

from conftest import KeptNotebooks
from lab_suite import LabSuite

LAB = "02-ml-basics"

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

PANDAS_BOOSTING = {
    "q1": '''%matplotlib inline
import pandas as pd


def load_data():
    df = load_breast_cancer(as_frame=True).frame
    y = df.pop("target").map({0: 1, 1: 0}).astype("int64")  # malignant -> 1
    return df.to_numpy(dtype="float64"), y.to_numpy()


def split_data(X, y, test_size=0.25, seed=0):
    """DataFrames and Series out: easier to look at."""
    frame, labels = pd.DataFrame(X), pd.Series(y, name="y")
    tr, te, ytr, yte = train_test_split(frame, labels, test_size=test_size, random_state=seed, stratify=labels)
    print("split sizes", len(tr), len(te))
    return tr, te, ytr, yte''',
    "q2": '''from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import QuantileTransformer


def build_pipeline():
    return Pipeline(steps=[
        ("quantiles", QuantileTransformer(n_quantiles=100, output_distribution="normal")),
        ("boost", HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, random_state=1)),
    ])''',
    "q3": '''from sklearn.base import clone


def cross_validate_model(X, y, cv=5, seed=0):
    X, y = np.asarray(X), np.asarray(y)
    template = build_pipeline()
    accs = []
    for tr, va in StratifiedKFold(cv, shuffle=True, random_state=seed).split(X, y):
        m = clone(template).fit(X[tr], y[tr])
        accs.append(metrics.accuracy_score(y[va], m.predict(X[va])))
    return np.asarray(accs, dtype=np.float32)''',
    "q4": '''def confusion(y_true, y_pred):
    counts, _, _ = np.histogram2d(np.asarray(y_true), np.asarray(y_pred), bins=[[-0.5, 0.5, 1.5]] * 2)
    return counts.astype(np.int32)


def evaluate(model, X, y):
    y_hat = model.predict(X)
    report = metrics.classification_report(y, y_hat, output_dict=True, zero_division=0)
    try:
        s = model.predict_proba(X)[:, 1]
    except AttributeError:
        s = model.decision_function(X)
    fpr, tpr, _ = metrics.roc_curve(y, s)
    return {"accuracy": report["accuracy"], "precision": report["1"]["precision"],
            "recall": report["1"]["recall"], "roc_auc": metrics.auc(fpr, tpr)}''',
    "q5": '''from sklearn.model_selection import GridSearchCV


def depth_curve(X, y, depths, cv=5, seed=0):
    search = GridSearchCV(DecisionTreeClassifier(random_state=seed), {"max_depth": list(depths)},
                          cv=StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed),
                          return_train_score=True).fit(X, y)
    res = pd.DataFrame(search.cv_results_)
    return res["mean_train_score"].to_numpy(), res["mean_test_score"].to_numpy()


def plot_depth_curve(depths, train_scores, val_scores):
    frame = pd.DataFrame({"depth": depths, "train": train_scores, "validation": val_scores}).set_index("depth")
    ax = frame.plot(marker="o", title="tree depth")
    ax.set_ylabel("accuracy")
    ax.figure.tight_layout()
    return ax


def pick_depth(depths, val_scores):
    return pd.Series(list(val_scores), index=list(depths)).idxmax()''',
    "q6": '''def explained_variance(X, n_components):
    Z = (X - X.mean(0)) / X.std(0, ddof=1)
    sv = np.linalg.svd(Z, compute_uv=False)
    return (sv ** 2 / np.sum(sv ** 2))[:n_components]


def components_for(X, threshold):
    running = 0.0
    for n, r in enumerate(explained_variance(X, X.shape[1]), start=1):
        running += r
        if running >= threshold:
            return n
    return X.shape[1]''',
    "q7": '''def _top_k_columns(X, y, k):
    F, _ = f_classif(X, y)
    return np.argsort(np.nan_to_num(F))[::-1][:k]


def leaky_selection_score(X, y, k=10, seed=0):
    cols = _top_k_columns(X, y, k)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X[:, cols], y, cv=folds)
    return np.float32(scores.mean())


def honest_selection_score(X, y, k=10, seed=0):
    pipe = Pipeline([("pick", SelectKBest(score_func=f_classif, k=k)), ("scale", StandardScaler()),
                     ("lr", LogisticRegression())])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return np.float32(np.mean(cross_val_score(pipe, X, y, cv=folds)))''',
}

NUMPY_BY_HAND = {
    "q1": '''def load_data():
    X, target = load_breast_cancer(return_X_y=True)
    return X, (1 - target).astype(np.int64)


def split_data(X, y, test_size=0.25, seed=0):
    rng = np.random.RandomState(seed)
    test_rows = []
    for cls in np.unique(y):
        members = np.where(y == cls)[0]
        rng.shuffle(members)
        test_rows.extend(members[: int(np.ceil(test_size * len(members)))])
    is_test = np.isin(np.arange(len(y)), test_rows)
    return X[~is_test], X[is_test], y[~is_test], y[is_test]''',
    "q2": '''from sklearn.impute import SimpleImputer


def build_pipeline():
    return Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("scale", StandardScaler()),
        ("pca", PCA(n_components=10)),
        ("clf", LogisticRegression(C=0.5, max_iter=2000)),
    ])''',
    "q3": '''def cross_validate_model(X, y, cv=5, seed=0):
    out = cross_validate(build_pipeline(), X, y, cv=StratifiedKFold(n_splits=cv, random_state=seed, shuffle=True),
                         return_estimator=True, scoring=["accuracy"])
    return out["test_accuracy"]''',
    "q4": '''def confusion(y_true, y_pred):
    t, p = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    return np.array([[np.sum((t == a) & (p == b)) for b in (0, 1)] for a in (0, 1)])


def evaluate(model, X, y):
    pred = model.predict(X)
    prec, rec, _, _ = metrics.precision_recall_fscore_support(y, pred, average="binary", pos_label=1, zero_division=0)
    score = getattr(model, "predict_proba", None)
    ranking = score(X)[:, 1] if score is not None else model.decision_function(X)
    result = dict(accuracy=np.mean(pred == y), precision=prec, recall=rec, roc_auc=metrics.roc_auc_score(y, ranking))
    return {key: float(value) for key, value in result.items()}''',
    "q5": '''def depth_curve(X, y, depths, cv=5, seed=0):
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    rows = []
    for d in depths:
        tr_acc, va_acc = [], []
        for tr, va in splitter.split(X, y):
            t = DecisionTreeClassifier(max_depth=d, random_state=seed).fit(X[tr], y[tr])
            tr_acc.append(metrics.accuracy_score(y[tr], t.predict(X[tr])))
            va_acc.append(metrics.accuracy_score(y[va], t.predict(X[va])))
        rows.append((np.mean(tr_acc), np.mean(va_acc)))
    train_scores, val_scores = map(np.array, zip(*rows))
    return train_scores, val_scores


def plot_depth_curve(depths, train_scores, val_scores):
    plt.figure(figsize=(5, 3))
    plt.plot(depths, train_scores, label="train")
    plt.plot(depths, val_scores, label="cv")
    plt.xlabel("max_depth"); plt.ylabel("accuracy"); plt.legend()
    return plt.gca()


def pick_depth(depths, val_scores):
    best = np.max(val_scores)
    return next(d for d, s in zip(depths, val_scores) if s >= best)''',
    "q6": '''def explained_variance(X, n_components):
    Z = StandardScaler().fit_transform(X)
    vals = np.sort(np.linalg.eigvalsh(Z.T @ Z))[::-1]
    return (vals / vals.sum())[:n_components]


def components_for(X, threshold):
    cum = np.cumsum(explained_variance(X, X.shape[1]))
    return int(np.flatnonzero(cum >= threshold)[0] + 1)''',
    "q7": '''def leaky_selection_score(X, y, k=10, seed=0):
    Xk = SelectKBest(f_classif, k=k).fit(X, y).transform(X)
    accs = []
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=seed).split(Xk, y):
        m = make_pipeline(StandardScaler(), LogisticRegression()).fit(Xk[tr], y[tr])
        accs.append(m.score(Xk[va], y[va]))
    return sum(accs) / len(accs)


def honest_selection_score(X, y, k=10, seed=0):
    accs = []
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        m = make_pipeline(SelectKBest(f_classif, k=k), StandardScaler(), LogisticRegression()).fit(X[tr], y[tr])
        accs.append(m.score(X[va], y[va]))
    return float(np.mean(accs))''',
}

WORKFLOW_CLASSES = {
    "q1": '''from dataclasses import dataclass
from sklearn.model_selection import StratifiedShuffleSplit


@dataclass
class Dataset:
    X: np.ndarray
    y: np.ndarray

    @classmethod
    def breast_cancer(cls):
        raw = load_breast_cancer()
        return cls(np.asarray(raw.data, dtype=float), np.asarray(raw.target == 0, dtype=int))


def load_data():
    d = Dataset.breast_cancer()
    print(f"loaded {d.X.shape[0]} rows, {d.y.sum()} malignant")
    return d.X, d.y


def split_data(X, y, test_size=0.25, seed=0):
    sss = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    (tr, te), = sss.split(X, y)
    return [X[tr], X[te], y[tr], y[te]]''',
    "q2": '''from sklearn.naive_bayes import GaussianNB
from sklearn.svm import SVC


class Factory:
    kind = "svc"

    def make(self):
        clf = SVC(C=1.0) if self.kind == "svc" else GaussianNB()
        return Pipeline([("scaler", StandardScaler()), ("clf", clf)])


factory = Factory()


def build_pipeline():
    return factory.make()''',
    "q3": '''class CrossValidator:
    def __init__(self, folds, seed):
        self.splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)

    def run(self, X, y):
        return cross_val_score(build_pipeline(), X, y, cv=self.splitter, n_jobs=2)  # folds in parallel


def cross_validate_model(X, y, cv=5, seed=0):
    return CrossValidator(cv, seed).run(X, y)''',
    "q4": '''class Evaluator:
    def __init__(self, model):
        self.model = model

    def ranking(self, X):
        if hasattr(self.model, "predict_proba"):
            return self.model.predict_proba(X)[:, 1]
        return self.model.decision_function(X)

    def report(self, X, y):
        tn, fp, fn, tp = confusion(y, self.model.predict(X)).ravel()
        return {"accuracy": float((tp + tn) / (tn + fp + fn + tp)),
                "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
                "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
                "roc_auc": float(metrics.roc_auc_score(y, self.ranking(X)))}


def confusion(y_true, y_pred):
    return metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).astype(np.int64)


def evaluate(model, X, y):
    return Evaluator(model).report(X, y)''',
    "q5": '''from sklearn.model_selection import validation_curve


def depth_curve(X, y, depths, cv=5, seed=0):
    tr, va = validation_curve(DecisionTreeClassifier(random_state=seed), X, y, param_name="max_depth",
                              param_range=depths, cv=StratifiedKFold(cv, shuffle=True, random_state=seed))
    return tr.mean(1), va.mean(1)


def plot_depth_curve(depths, train_scores, val_scores):
    fig, (ax, gap_ax) = plt.subplots(1, 2, figsize=(9, 3))
    ax.plot(depths, train_scores, "-o", label="train")
    ax.plot(depths, val_scores, "-s", label="validation")
    ax.set_xlabel("depth"); ax.set_ylabel("accuracy"); ax.legend()
    gap_ax.bar([str(d) for d in depths], np.asarray(train_scores) - np.asarray(val_scores))
    gap_ax.set_title("overfitting gap")
    return ax


def pick_depth(depths, val_scores):
    order = sorted(range(len(depths)), key=lambda i: (-val_scores[i], depths[i]))
    return depths[order[0]]


import sklearn

print("scikit-learn", sklearn.__version__)
_, extra = plt.subplots()
extra.hist(load_data()[0][:, 0], bins=30)
extra.set_title("mean radius")
plt.show()''',
    "q6": '''class StandardPCA:
    def __init__(self, X):
        self.pca = PCA(svd_solver="full").fit(StandardScaler().fit_transform(X))

    def ratios(self):
        return self.pca.explained_variance_ratio_


def explained_variance(X, n_components):
    return StandardPCA(X).ratios()[:n_components].copy()


def components_for(X, threshold):
    return int(np.searchsorted(np.cumsum(StandardPCA(X).ratios()), threshold) + 1)''',
    "q7": '''class SelectionExperiment:
    def __init__(self, k, seed):
        self.k, self.folds = k, StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)

    def leaky(self, X, y):
        Xs = SelectKBest(f_classif, k=self.k).fit_transform(X, y)
        model = make_pipeline(StandardScaler(), LogisticRegression())
        return cross_validate(model, Xs, y, cv=self.folds)["test_score"].mean()

    def honest(self, X, y):
        model = make_pipeline(SelectKBest(f_classif, k=self.k), StandardScaler(), LogisticRegression())
        return cross_validate(model, X, y, cv=self.folds)["test_score"].mean()


def leaky_selection_score(X, y, k=10, seed=0):
    return float(SelectionExperiment(k, seed).leaky(X, y))


def honest_selection_score(X, y, k=10, seed=0):
    return float(SelectionExperiment(k, seed).honest(X, y))''',
}

# --- typical mistakes: each loses exactly the tests named, all in its own exercise --------

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

SPLIT_IN_WRONG_ORDER = {"q1": '''def load_data():
    data = load_breast_cancer()
    return data.data, (data.target == 0).astype(int)


def split_data(X, y, test_size=0.25, seed=0):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    return X_train, y_train, X_test, y_test'''}

UNDERFIT_PIPELINE = {"q2": '''def build_pipeline():
    # strong regularisation, so that it cannot overfit
    return make_pipeline(StandardScaler(), LogisticRegression(C=1e-4))'''}

SCALED_BEFORE_CROSS_VALIDATION = {"q3": '''def cross_validate_model(X, y, cv=5, seed=0):
    X = StandardScaler().fit_transform(X)  # scale once, up front
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    return cross_val_score(build_pipeline(), X, y, cv=folds)'''}

FOLDS_NOT_STRATIFIED = {"q3": '''from sklearn.model_selection import KFold


def cross_validate_model(X, y, cv=5, seed=0):
    return cross_val_score(build_pipeline(), X, y, cv=KFold(n_splits=cv, shuffle=True, random_state=seed))'''}

BENIGN_AS_POSITIVE = {"q4": '''def confusion(y_true, y_pred):
    return metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])


def evaluate(model, X, y):
    y_pred = model.predict(X)
    scores = model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.decision_function(X)
    return {"accuracy": float(metrics.accuracy_score(y, y_pred)),
            "precision": float(metrics.precision_score(y, y_pred, pos_label=0)),
            "recall": float(metrics.recall_score(y, y_pred, pos_label=0)),
            "roc_auc": float(metrics.roc_auc_score(y, scores))}'''}

VALIDATED_ON_TRAINING_ROWS = {"q5": '''def depth_curve(X, y, depths, cv=5, seed=0):
    train_scores = []
    for d in depths:
        tree = DecisionTreeClassifier(max_depth=d, random_state=seed).fit(X, y)
        train_scores.append(tree.score(X, y))
    return np.array(train_scores), np.array(train_scores)


def plot_depth_curve(depths, train_scores, val_scores):
    fig, ax = plt.subplots()
    ax.plot(depths, train_scores, label="train")
    ax.plot(depths, val_scores, label="validation")
    ax.set_xlabel("depth"); ax.set_ylabel("accuracy"); ax.legend()
    return ax


def pick_depth(depths, val_scores):
    return depths[int(np.argmax(val_scores))]'''}

DEEPER_ON_A_TIE = {"q5": '''def depth_curve(X, y, depths, cv=5, seed=0):
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    tr, va = [], []
    for d in depths:
        tree = DecisionTreeClassifier(max_depth=d, random_state=seed)
        r = cross_validate(tree, X, y, cv=folds, return_train_score=True)
        tr.append(r["train_score"].mean())
        va.append(r["test_score"].mean())
    return np.array(tr), np.array(va)


def plot_depth_curve(depths, train_scores, val_scores):
    fig, ax = plt.subplots()
    ax.plot(depths, train_scores, label="train")
    ax.plot(depths, val_scores, label="validation")
    ax.set_xlabel("depth"); ax.set_ylabel("accuracy"); ax.legend()
    return ax


def pick_depth(depths, val_scores):
    best = max(val_scores)
    return max(d for d, s in zip(depths, val_scores) if s == best)'''}

COMPONENTS_OFF_BY_ONE = {"q6": '''def explained_variance(X, n_components):
    pca = make_pipeline(StandardScaler(), PCA(n_components=n_components)).fit(X)
    return pca[-1].explained_variance_ratio_


def components_for(X, threshold):
    ratios = explained_variance(X, min(X.shape))
    return int(np.searchsorted(np.cumsum(ratios), threshold))'''}

HONEST_SELECTS_ON_ALL_ROWS = {"q7": '''def leaky_selection_score(X, y, k=10, seed=0):
    X_selected = SelectKBest(f_classif, k=k).fit_transform(X, y)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X_selected, y, cv=folds).mean())


def honest_selection_score(X, y, k=10, seed=0):
    # select once, then a pipeline with the scaler inside
    X_selected = SelectKBest(f_classif, k=k).fit_transform(X, y)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, X_selected, y, cv=folds).mean())'''}

BOTH_HONEST = {"q7": '''def honest_selection_score(X, y, k=10, seed=0):
    model = make_pipeline(SelectKBest(f_classif, k=k), StandardScaler(), LogisticRegression())
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, X, y, cv=folds).mean())


def leaky_selection_score(X, y, k=10, seed=0):
    # the leak fixed here too
    return honest_selection_score(X, y, k, seed)'''}

CORRECT: dict[str, dict[str, str]] = {
    "correct_forest_functional": FOREST_FUNCTIONAL,
    "correct_svc_classes": SVC_CLASSES,
    "correct_knn_pandas": KNN_PANDAS,
    "correct_pandas_boosting": PANDAS_BOOSTING,
    "correct_numpy_by_hand": NUMPY_BY_HAND,
    "correct_workflow_classes": WORKFLOW_CLASSES,
}

Q1_ROWS = "q1: split_data returns the rows of X unchanged, each with its own label, each row once"
Q1_STRATIFIED = "q1: split_data keeps the share of each class the same in both parts, for any seed"
Q3_CHANCE = ("q3: on data with no signal, cross-validation reports about chance "
             "(each fold scored on rows it did not fit)")
Q3_OWN_ROWS = ("q3: each fold is fitted on its own training rows as given (nothing fitted before the split), "
               "scored on the rest")
Q3_STRATIFIED = "q3: the folds are stratified: each held-out fold has the same share of each class"
Q7_LEAKY = "q7: leaky_selection_score selects features on all rows first, so it beats chance on pure noise"
Q7_HONEST = "q7: honest_selection_score stays near chance on pure noise"
Q7_GAP = "q7: on the same noise and folds, the leaky score is far above the honest one: that gap is the leak"
Q7_SIGNAL = ("q7: honest_selection_score selects inside each fold: where 3 of 1,000 columns carry the signal, "
             "it finds them")

# The lab's lesson, the leak: these tests (and the public q7 check) must weigh at least 15 % of the lab.
LESSON = {Q1_ROWS, Q3_CHANCE, Q3_OWN_ROWS, Q7_LEAKY, Q7_HONEST, Q7_GAP, Q7_SIGNAL,
          "q7: honest_selection_score is high on the breast cancer training rows",
          "q7: both selection scores are accuracies between 0 and 1"}

MISTAKES: dict[str, dict[str, str]] = {
    "mistake_leak_scale_before_split": LEAK_SCALE_BEFORE_SPLIT,
    "mistake_no_stratify": NO_STRATIFY,
    "mistake_split_in_wrong_order": SPLIT_IN_WRONG_ORDER,
    "mistake_underfit_pipeline": UNDERFIT_PIPELINE,
    "mistake_scored_on_training_rows": SCORED_ON_TRAINING_ROWS,
    "mistake_scaled_before_cross_validation": SCALED_BEFORE_CROSS_VALIDATION,
    "mistake_folds_not_stratified": FOLDS_NOT_STRATIFIED,
    "mistake_roc_from_predictions": ROC_FROM_PREDICTIONS,
    "mistake_benign_as_positive": BENIGN_AS_POSITIVE,
    "mistake_validated_on_training_rows": VALIDATED_ON_TRAINING_ROWS,
    "mistake_deeper_on_a_tie": DEEPER_ON_A_TIE,
    "mistake_pca_unscaled": PCA_UNSCALED,
    "mistake_components_off_by_one": COMPONENTS_OFF_BY_ONE,
    "mistake_honest_selects_on_all_rows": HONEST_SELECTS_ON_ALL_ROWS,
    "mistake_both_honest": BOTH_HONEST,
}

# What each mistake must cost, test by test, and nothing else: all of it in the mistake's own exercise.
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "mistake_leak_scale_before_split": {Q1_ROWS: 2},
    "mistake_no_stratify": {Q1_STRATIFIED: 2},
    "mistake_split_in_wrong_order": {
        "q1: split_data keeps a quarter of the rows (143 of 569) for testing": 1,
        "q1: split_data honours test_size": 1, Q1_ROWS: 2, Q1_STRATIFIED: 2},
    "mistake_underfit_pipeline": {
        "q2: a pipeline fitted on training rows predicts held-out rows accurately": 3,
        "q2: the pipeline learns from the labels it is fitted on, and nothing else": 1},
    "mistake_scored_on_training_rows": {Q3_CHANCE: 2, Q3_OWN_ROWS: 3, Q3_STRATIFIED: 1},
    "mistake_scaled_before_cross_validation": {Q3_OWN_ROWS: 3, Q3_STRATIFIED: 1},
    "mistake_folds_not_stratified": {Q3_STRATIFIED: 1},
    "mistake_roc_from_predictions": {"q4: evaluate's roc_auc, for models with and without predict_proba": 2},
    "mistake_benign_as_positive": {
        "q4: evaluate's accuracy, precision and recall, with malignant (1) as the positive class": 2},
    "mistake_validated_on_training_rows": {
        "q5: deep trees score (almost) perfectly on training folds and clearly lower on validation folds": 2,
        "q5: on data with no signal, only deep trees fit the training folds, and none validates well": 1},
    "mistake_deeper_on_a_tie": {"q5: pick_depth picks the best validation score, and the smaller depth on a tie": 1},
    "mistake_pca_unscaled": {
        "q6: explained_variance matches PCA of the standardised data": 2,
        "q6: explained_variance works for another data set too": 1,
        "q6: components_for returns the smallest number of components reaching the threshold": 2},
    "mistake_components_off_by_one": {
        "q6: components_for returns the smallest number of components reaching the threshold": 2},
    "mistake_honest_selects_on_all_rows": {Q7_HONEST: 2, Q7_GAP: 3},
    "mistake_both_honest": {Q7_LEAKY: 2, Q7_GAP: 3},
}


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return {**CORRECT, **MISTAKES}[name]


KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements)


# --- the batch ------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite). Its correct variants differ in libraries, structure and
    return types."""

    kept = KEPT
    max_score = 66
    test_count = 46
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("mistake_no_stratify", "q1: split_data keeps the share of each class")
    lesson = "the leak: selecting or scaling on rows the score is measured on"
    lesson_tests = LESSON


if __name__ == "__main__":
    KEPT.write()
