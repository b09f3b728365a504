"""Hidden tests for 06-recommender: they call the student's functions on watch logs, matrices and
rankings the grader makes from its own seeds (``rec_data.py``), and compute every expected answer
here, in the grader.

Each exercise is tested on its own answer: q6 and q8 run with the grader's metrics and ``top_k``
in the kernel, and q5 and q8 are judged with the grader's own ranking and metrics. Exact answers are
asked where the text states a rule (splits, rankings with their tie rules, metrics); where a method
is only asked to minimise or to find something, it is judged against the known structure it was
planted with: the regularised minimum of ALS's objective is known in closed form (the singular values
of X shrunk by reg), and the planted taste clusters must come out.

Thresholds, from the spread of the reference over seeds 0..7: on worlds of 500 users x 120 items,
matrix factorisation's recall@10 is 1.3x to 1.75x the popularity baseline's (1.15x is asked); on the
planted matrices (4 and 5 clusters), ALS from any start reaches the minimum within 1e-3 (relative) in
10 iterations and torch's Adam within 3e-3, while without regularisation it stays 0.27 away (0.02 is
allowed); each user's own cluster fills 81 % to 99.8 % of the top 10 of item-item CF and of the
factors, 13 % to 22 % of the popularity baseline's (60 % is asked).
"""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()
CLOSE = 1e-9
CLUSTER_SHARE = 0.6  # of the top 10 from the user's own planted cluster (see above)


def _rec_data():
    """The generator of the lab's data, loaded from beside this file (pytest imports tests by path)."""
    spec = importlib.util.spec_from_file_location("_lab06_rec_data", HERE / "rec_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


rec_data = _rec_data()
WORLDS = {seed: rec_data.make_world(seed, n_users=500, n_items=120) for seed in (11, 47)}
PLANTED = {seed: rec_data.planted_matrix(seed, clusters=clusters) for seed, clusters in ((5, 4), (9, 5))}


@pytest.fixture
def lab(nb):
    """The kernel, with the grader's own code (``kernel_side.py``) loaded as ``_g_lab``."""
    if not nb.ref("'_g_lab' in globals()"):
        nb.run(f"import types as _g_types\n_g_lab = _g_types.ModuleType('_g_lab')\n"
               f"exec({KERNEL_SIDE!r}, _g_lab.__dict__)\ndel _g_types")
    return nb


def send(lab, name, table):
    """Put ``table`` into the kernel as ``name``, sent as CSV and read there as the notebook reads it."""
    lab.assign("_g_csv", table.to_csv(index=False))
    lab.run(f"{name} = _g_lab.frame(_g_csv)\ndel _g_csv")


# --- the grader's reference, computed here ---------------------------------------------------

def time_split(events, cutoff):
    train = events[events["timestamp"] < cutoff]
    test = events[events["timestamp"] >= cutoff]
    return train, test[test["user_id"].isin(train["user_id"]) & test["item_id"].isin(train["item_id"])]


def to_matrix(events, users, items):
    X = np.zeros((len(users), len(items)))
    rows, cols = pd.Index(users).get_indexer(events["user_id"]), pd.Index(items).get_indexer(events["item_id"])
    X[rows[(rows >= 0) & (cols >= 0)], cols[(rows >= 0) & (cols >= 0)]] = 1.0
    return X


def top_k(scores, seen, k):
    return np.argsort(-np.where(seen, -np.inf, scores), axis=1, kind="stable")[:, :k]


def cosine(X):
    norms = np.linalg.norm(X, axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    similarity = X.T @ X / np.outer(safe, safe)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def precision_recall(top, X_test):
    """Mean precision and recall of the rankings ``top`` (column indices) over users with test items."""
    hits = np.take_along_axis(X_test, top, axis=1).sum(axis=1)
    have = X_test.sum(axis=1) > 0
    return float((hits[have] / top.shape[1]).mean()), float((hits[have] / X_test.sum(axis=1)[have]).mean())


def world_matrices(world, cutoff):
    """The train and test matrices of a world's time split, over the train's users and items."""
    train, test = time_split(world.interactions, cutoff)
    users, items = np.sort(train["user_id"].unique()), np.sort(train["item_id"].unique())
    return to_matrix(train, users, items), to_matrix(test, users, items)


def in_cluster_share(scores, planted):
    """The share of the top 10 unseen items (by the grader's ranking) from each user's own taste cluster."""
    X, user_cluster, item_cluster = planted
    top = top_k(scores, X > 0, 10)
    return float((item_cluster[top] == user_cluster[:, None]).mean())


# --- q1: the time split and the leakage audit ------------------------------------------------

def cutoff_on_a_row(world):
    """A cutoff equal to the timestamp of a row near day 95 whose user and item were seen before: that row
    belongs to test, and is kept there."""
    events = world.interactions
    stamps = events["timestamp"]
    known = ((events.groupby("user_id")["timestamp"].transform("min") < stamps)
             & (events.groupby("item_id")["timestamp"].transform("min") < stamps))
    return stamps[known & (stamps >= rec_data.START + pd.Timedelta(days=95))].min()


def student_split(lab, world, cutoff):
    send(lab, "_g_events", world.interactions)
    return lab.ref(f"_g_lab.split_facts(time_split(_g_events, pd.Timestamp({str(cutoff)!r})))")


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", list(WORLDS))
def test_q1_train_is_the_past(lab, seed):
    """q1: time_split's train holds exactly the rows before the cutoff, with their index labels"""
    world = WORLDS[seed]
    cutoff = cutoff_on_a_row(world)
    kinds, index, _ = student_split(lab, world, cutoff)
    assert kinds == ["DataFrame", "DataFrame"], "return (train, test), two DataFrames"
    assert sorted(index[0]) == sorted(time_split(world.interactions, cutoff)[0].index)


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", list(WORLDS))
def test_q1_test_is_the_known_future(lab, seed):
    """q1: time_split's test holds the rows at or after the cutoff whose user and item train knows"""
    world = WORLDS[seed]
    cutoff = cutoff_on_a_row(world)
    kinds, index, columns = student_split(lab, world, cutoff)
    assert kinds == ["DataFrame", "DataFrame"], "return (train, test), two DataFrames"
    assert sorted(index[1]) == sorted(time_split(world.interactions, cutoff)[1].index)
    assert columns[1] == list(world.interactions.columns)


def leaked(train, test):
    last = test["user_id"].map(train.groupby("user_id")["timestamp"].max())
    return float((test["timestamp"] < last).mean()) if len(test) else 0.0


@pytest.mark.points(2)
def test_q1_leaked_share(lab):
    """q1: leaked_share is the share of test rows whose user has a later train row, on random and time splits"""
    events = WORLDS[47].interactions
    shuffled = events.sample(frac=1.0, random_state=3)
    splits = [(shuffled.iloc[300:], shuffled.iloc[:300]), time_split(events, cutoff_on_a_row(WORLDS[47])),
              (events.iloc[:2000], events.iloc[2000:2600]), (events.iloc[:100], events.iloc[:0])]
    for train, test in splits:
        send(lab, "_g_train", train)
        send(lab, "_g_test", test)
        got = lab.ref("leaked_share(_g_train, _g_test)")
        assert isinstance(got, (float, np.floating)) and math.isclose(got, leaked(train, test), abs_tol=CLOSE)


# --- q2: top-k without what was seen, and the baseline --------------------------------------

@pytest.mark.points(2)
def test_q2_top_k_skips_seen(nb):
    """q2: top_k gives each row's k best unseen columns, best first, as an int array"""
    rng = np.random.default_rng(21)
    scores, seen = rng.normal(size=(40, 30)), rng.random((40, 30)) < 0.3
    got = nb.call("top_k", scores, seen, 7)
    assert isinstance(got, np.ndarray) and got.dtype.kind in "iu" and got.shape == (40, 7)
    assert np.array_equal(got, top_k(scores, seen, 7))


@pytest.mark.points(1)
def test_q2_top_k_ties_to_smaller_index(nb):
    """q2: top_k gives equal scores to the smaller column index first"""
    rng = np.random.default_rng(22)
    scores = rng.integers(0, 4, size=(30, 25)).astype(float)
    seen = np.zeros_like(scores, dtype=bool)
    seen[::3, ::4] = True
    got = nb.call("top_k", scores, seen, 9)
    assert isinstance(got, np.ndarray) and np.array_equal(got, top_k(scores, seen, 9))


@pytest.mark.points(1)
def test_q2_popularity_scores(nb):
    """q2: popularity_scores gives every user each item's number of watchers"""
    X = PLANTED[5][0][:50]
    got = nb.call("popularity_scores", X)
    assert isinstance(got, np.ndarray) and got.shape == X.shape
    assert np.allclose(got, np.tile(X.sum(axis=0), (50, 1)))


# --- q3: the metrics ----------------------------------------------------------------------

RANKINGS = [  # recommended, relevant, k
    ([5, 3, 9, 1, 7], [3, 7, 8], 5), ([5, 3, 9, 1, 7], [3, 7, 8], 3), ([2, 4, 6, 8, 10, 12], [12, 2], 6),
    ([11, 12, 13, 14], [14, 15, 16, 17, 18, 19], 4), ([1, 2, 3], [4], 3), ([8, 1, 2, 3, 4, 5, 6, 7], [8], 8),
]


def dcg(recommended, relevant, k):
    return sum(1 / math.log2(r + 2) for r, item in enumerate(recommended[:k]) if item in relevant)


def ndcg(recommended, relevant, k):
    ideal = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg(recommended, set(relevant), k) / ideal if ideal else 0.0


def metric(nb, name, recommended, relevant, k):
    got = nb.call(name, recommended, relevant, k)
    assert isinstance(got, (float, int, np.floating, np.integer)) and not isinstance(got, bool), f"{name}: a float"
    return float(got)


@pytest.mark.points(1)
def test_q3_precision(nb):
    """q3: precision_at_k is the hits among the first k over k"""
    for rec, rel, k in RANKINGS:
        assert math.isclose(metric(nb, "precision_at_k", rec, rel, k), len(set(rec[:k]) & set(rel)) / k)


@pytest.mark.points(1)
def test_q3_recall(nb):
    """q3: recall_at_k is the hits among the first k over the number of relevant items"""
    for rec, rel, k in RANKINGS:
        assert math.isclose(metric(nb, "recall_at_k", rec, rel, k), len(set(rec[:k]) & set(rel)) / len(rel))


@pytest.mark.points(2)
def test_q3_ndcg(nb):
    """q3: ndcg_at_k is DCG (1/log2(rank + 1) per hit) over the DCG of a perfect list"""
    for rec, rel, k in RANKINGS:
        assert math.isclose(metric(nb, "ndcg_at_k", rec, rel, k), ndcg(rec, rel, k), rel_tol=1e-9)


@pytest.mark.points(1)
def test_q3_ndcg_ideal_stops_at_k(nb):
    """q3: with more relevant items than k, a list of k hits has an NDCG of 1"""
    assert math.isclose(metric(nb, "ndcg_at_k", [4, 5, 6], [1, 2, 3, 4, 5, 6, 7], 3), 1.0)
    assert math.isclose(metric(nb, "ndcg_at_k", [9, 5, 6, 8], list(range(1, 8)), 4), ndcg([9, 5, 6, 8], range(1, 8), 4))


@pytest.mark.points(1)
def test_q3_fewer_than_k(nb):
    """q3: a list shorter than k still divides precision by k, and NDCG counts only what is there"""
    assert math.isclose(metric(nb, "precision_at_k", [3, 4], [3, 4, 5], 5), 0.4)
    assert math.isclose(metric(nb, "ndcg_at_k", [3, 4], [3, 4, 5], 5), ndcg([3, 4], [3, 4, 5], 5))
    assert math.isclose(metric(nb, "recall_at_k", [3, 4], [3, 4, 5], 5), 2 / 3)


@pytest.mark.points(1)
def test_q3_no_relevant_items(nb):
    """q3: a user with no relevant items gets 0.0 from each metric"""
    for name in ("precision_at_k", "recall_at_k", "ndcg_at_k"):
        assert metric(nb, name, [1, 2, 3], [], 3) == 0.0


# --- q4: item-item collaborative filtering --------------------------------------------------

def planted_with_empty_column(seed):
    X = PLANTED[seed][0].copy()
    X[:, 7] = 0.0
    return X


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", list(PLANTED))
def test_q4_cosine_of_columns(nb, seed):
    """q4: item_cosine holds the cosine similarity of every two different items' columns"""
    X = planted_with_empty_column(seed)
    got = nb.call("item_cosine", X)
    assert isinstance(got, np.ndarray) and got.shape == (X.shape[1],) * 2
    off = ~np.eye(X.shape[1], dtype=bool)
    off[7, :] = off[:, 7] = False
    assert np.allclose(got[off], cosine(X)[off], atol=1e-9)


@pytest.mark.points(1)
def test_q4_diagonal_and_empty_items(nb):
    """q4: item_cosine is 0.0 on the diagonal and for an item nobody watched (no NaN)"""
    X = planted_with_empty_column(9)
    got = nb.call("item_cosine", X)
    assert isinstance(got, np.ndarray) and not np.isnan(got).any()
    assert np.allclose(np.diag(got), 0.0) and np.allclose(got[7], 0.0) and np.allclose(got[:, 7], 0.0)


@pytest.mark.points(2)
def test_q4_scores(nb):
    """q4: item_cf_scores is X times the item similarity matrix"""
    X = planted_with_empty_column(5)
    got = nb.call("item_cf_scores", X)
    assert isinstance(got, np.ndarray) and got.shape == X.shape
    assert np.allclose(got, X @ cosine(X), atol=1e-9)


@pytest.mark.points(1)
def test_q4_recovers_planted_tastes(nb):
    """q4: on a matrix with planted taste clusters, item-item CF recommends from each user's own cluster"""
    assert in_cluster_share(nb.call("item_cf_scores", PLANTED[9][0]), PLANTED[9]) >= CLUSTER_SHARE


# --- q5: matrix factorisation ---------------------------------------------------------------

def regularised_minimum(X, factors, reg):
    """The minimum of ||X - Z||^2 + reg (||U||^2 + ||V||^2) over Z = U V^T of rank factors: X's top
    singular values, each shrunk by reg."""
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    return (u[:, :factors] * np.maximum(s[:factors] - reg, 0.0)) @ vt[:factors]


def product(lab, X, factors, reg, iterations, seed):
    """U @ V.T of the student's als, or a failure saying what came back."""
    lab.assign("_g_X", X)
    got = lab.ref(f"(lambda f: [_g_lab.as_array(f[0]), _g_lab.as_array(f[1])])"
                  f"(als(_g_X, {factors}, {reg}, {iterations}, {seed}))")
    U, V = got
    assert U is not None and V is not None, "als should return (U, V), two arrays"
    assert U.shape == (X.shape[0], factors) and V.shape == (X.shape[1], factors)
    return U @ V.T


@pytest.mark.points(3)
@pytest.mark.parametrize("seed", list(PLANTED))
def test_q5_reaches_the_regularised_minimum(lab, seed):
    """q5: U @ V.T from als is the minimum of the regularised objective (known from X's singular values)"""
    X, _, items = PLANTED[seed]
    factors = int(items.max()) + 1
    Z = regularised_minimum(X, factors, 3.0)
    got = product(lab, X, factors, 3.0, 20, seed)
    assert np.linalg.norm(got - Z) / np.linalg.norm(Z) < 0.02


@pytest.mark.points(1)
def test_q5_recovers_planted_tastes(lab):
    """q5: on a matrix with planted taste clusters, the factors recommend from each user's own cluster"""
    X, _, items = PLANTED[9]
    assert in_cluster_share(product(lab, X, int(items.max()) + 1, 3.0, 20, 1), PLANTED[9]) >= CLUSTER_SHARE


@pytest.mark.points(2)
def test_q5_beats_the_popularity_baseline(lab):
    """q5: on another catalogue's time split, the factors' recall@10 is well above the popularity baseline's"""
    world = WORLDS[11]
    X, X_test = world_matrices(world, rec_data.CUTOFF - pd.Timedelta(days=10))
    mf = product(lab, X, 16, 5.0, 15, 0)
    _, mf_recall = precision_recall(top_k(mf, X > 0, 10), X_test)
    _, pop_recall = precision_recall(top_k(np.tile(X.sum(axis=0), (len(X), 1)), X > 0, 10), X_test)
    assert mf_recall >= 1.15 * pop_recall


# --- q6: evaluation -------------------------------------------------------------------------

def lists(seed, users=30, items=40):
    """Grader-chosen recommendations and relevant lists; every third user has nothing relevant."""
    rng = np.random.default_rng(seed)
    recommended = [rng.permutation(items)[: rng.integers(3, 12)].tolist() for _ in range(users)]
    relevant = [[] if u % 3 == 0 else rng.choice(items, rng.integers(1, 8), replace=False).tolist()
                for u in range(users)]
    return recommended, relevant


def reference_evaluate(recommended, relevant, k):
    pairs = [(rec, rel) for rec, rel in zip(recommended, relevant, strict=True) if rel]
    return {"precision": np.mean([len(set(rec[:k]) & set(rel)) / k for rec, rel in pairs]),
            "recall": np.mean([len(set(rec[:k]) & set(rel)) / len(rel) for rec, rel in pairs]),
            "ndcg": np.mean([ndcg(rec, rel, k) for rec, rel in pairs])}


def student_evaluate(lab, recommended, relevant, k):
    lab.assign("_g_args", [recommended, relevant, k])
    got = lab.ref("_g_lab.with_reference(globals(), lambda: evaluate(*_g_args))")
    assert isinstance(got, dict) and sorted(got) == ["ndcg", "precision", "recall"]
    return got


@pytest.mark.points(2)
@pytest.mark.parametrize("seed,k", [(61, 5), (62, 10)], ids=["k5", "k10"])
def test_q6_means_over_users(lab, seed, k):
    """q6: evaluate returns the mean precision, recall and NDCG at k over the users"""
    recommended, relevant = lists(seed)
    relevant = [rel or [recommended[u][0]] for u, rel in enumerate(relevant)]  # everyone has something
    got, expected = student_evaluate(lab, recommended, relevant, k), reference_evaluate(recommended, relevant, k)
    assert all(math.isclose(float(got[m]), expected[m], rel_tol=1e-9) for m in expected)


@pytest.mark.points(1)
def test_q6_skips_users_without_relevant_items(lab):
    """q6: evaluate leaves out the users with no relevant item"""
    recommended, relevant = lists(63)
    got, expected = student_evaluate(lab, recommended, relevant, 10), reference_evaluate(recommended, relevant, 10)
    assert all(math.isclose(float(got[m]), expected[m], rel_tol=1e-9) for m in expected)


# --- q7: cold start -------------------------------------------------------------------------

def recent(events, now, k, days):
    window = events[(events["timestamp"] >= now - pd.Timedelta(days=days)) & (events["timestamp"] < now)]
    counts = window.groupby("item_id").size().reset_index(name="n")
    return counts.sort_values(["n", "item_id"], ascending=[False, True])["item_id"].head(k).tolist()


def audience(events, items, item_id, n):
    genre = items.loc[items["item_id"] == item_id, "genre"].iloc[0]
    watched = events[events["item_id"].isin(items.loc[items["genre"] == genre, "item_id"])]
    counts = watched.groupby("user_id").size().reset_index(name="n")
    return counts.sort_values(["n", "user_id"], ascending=[False, True])["user_id"].head(n).tolist()


@pytest.mark.points(2)
@pytest.mark.parametrize("seed,days", [(11, 14), (47, 7)])
def test_q7_recent_popular(lab, seed, days):
    """q7: recent_popular gives the items watched most in the days before now, new items included"""
    events = WORLDS[seed].interactions
    now = rec_data.START + pd.Timedelta(days=97, hours=5)
    send(lab, "_g_events", events)
    got = lab.ref(f"_g_lab.ids(recent_popular(_g_events, pd.Timestamp({str(now)!r}), 12, {days}))")
    assert got == recent(events, now, 12, days)


@pytest.mark.points(1)
def test_q7_recent_window_edges(lab):
    """q7: recent_popular counts a watch exactly `days` before now, not one at now; ties by smaller item_id"""
    now = pd.Timestamp("2025-03-15 12:00:00")
    events = pd.DataFrame({"user_id": [1, 2, 3, 4, 5, 6, 7], "item_id": [30, 30, 20, 10, 10, 40, 50],
                           "timestamp": [now - pd.Timedelta(days=3), now - pd.Timedelta(hours=1), now,
                                         now - pd.Timedelta(days=1), now - pd.Timedelta(days=2),
                                         now - pd.Timedelta(days=3, seconds=1), now - pd.Timedelta(hours=5)]})
    send(lab, "_g_events", events)
    assert lab.ref(f"_g_lab.ids(recent_popular(_g_events, pd.Timestamp({str(now)!r}), 5, 3))") == [10, 30, 50]


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", list(WORLDS))
def test_q7_genre_audience(lab, seed):
    """q7: genre_audience gives a new item to the users who watched the most of its genre"""
    world = WORLDS[seed]
    train, _ = time_split(world.interactions, rec_data.CUTOFF)
    new = world.items.loc[~world.items["item_id"].isin(train["item_id"]), "item_id"]
    item_id = int(new.iloc[0]) if len(new) else int(world.items["item_id"].iloc[-1])
    send(lab, "_g_events", train)
    send(lab, "_g_items", world.items)
    got = lab.ref(f"_g_lab.ids(genre_audience(_g_events, _g_items, {item_id}, 15))")
    assert got == audience(train, world.items, item_id, 15)


@pytest.mark.points(1)
def test_q7_audience_ties(lab):
    """q7: genre_audience breaks equal counts by smaller user_id, and counts only the item's genre"""
    items = pd.DataFrame({"item_id": [1, 2, 3, 4], "title": list("abcd"),
                          "genre": ["drama", "drama", "comedy", "drama"], "added": pd.to_datetime(["2025-01-01"] * 4)})
    events = pd.DataFrame({"user_id": [9, 9, 5, 5, 7, 7, 7, 8], "item_id": [1, 2, 1, 2, 3, 3, 3, 1],
                           "timestamp": pd.date_range("2025-02-01", periods=8, freq="h")})
    send(lab, "_g_events", events)
    send(lab, "_g_items", items)
    assert lab.ref("_g_lab.ids(genre_audience(_g_events, _g_items, 4, 3))") == [5, 9, 8]


# --- q8: popularity bias --------------------------------------------------------------------

@pytest.mark.points(1)
def test_q8_coverage(nb):
    """q8: coverage is the share of the catalogue in at least one list"""
    got = nb.call("coverage", [[1, 2, 3], [3, 4, 1], [9, 2, 4]], 20)
    assert isinstance(got, (float, np.floating)) and math.isclose(got, 0.25)


@pytest.mark.points(2)
def test_q8_rerank(lab):
    """q8: rerank is top_k on the scores minus penalty * log(1 + popularity)"""
    X = PLANTED[5][0]
    scores, popularity = X @ cosine(X), X.sum(axis=0)
    lab.assign("_g_args", [scores, X > 0, popularity])
    for penalty in (0.0, 0.4, 1.5):
        got = lab.ref(f"_g_lab.with_reference(globals(), lambda: rerank(*_g_args, 10, {penalty}))")
        assert isinstance(got, np.ndarray)
        assert np.array_equal(got, top_k(scores - penalty * np.log1p(popularity), X > 0, 10))


@pytest.mark.points(2)
def test_q8_penalty_meets_the_goal(nb):
    """q8: PENALTY lifts item-item CF's coverage on the lab's time split to 0.75, keeping 90 % of its precision@10"""
    penalty = nb.ref("PENALTY")
    assert isinstance(penalty, (int, float)) and not isinstance(penalty, bool) and math.isfinite(penalty)
    train, test = time_split(rec_data.make_world(rec_data.LAB_SEED).interactions, rec_data.CUTOFF)
    users, items = np.sort(train["user_id"].unique()), np.sort(train["item_id"].unique())
    X, X_test = to_matrix(train, users, items), to_matrix(test, users, items)
    scores, popularity = X @ cosine(X), X.sum(axis=0)
    plain = precision_recall(top_k(scores, X > 0, 10), X_test)[0]
    top = top_k(scores - penalty * np.log1p(popularity), X > 0, 10)
    assert len(np.unique(top)) / len(items) >= 0.75
    assert precision_recall(top, X_test)[0] >= 0.9 * plain
