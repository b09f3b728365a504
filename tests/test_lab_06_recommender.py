"""The 06-recommender lab graded end to end: the solution, the untouched student notebook, other
correct solutions, and typical mistakes, in one ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/06-recommender/``. Each is the solution
with some answer cells (found by tag) replaced; ``python tests/test_lab_06_recommender.py``
rewrites them after the solution changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, KeptNotebooks, edit
from lab_suite import LabSuite, assert_docker_grades_the_same, load_module, solution_cell

LAB = "06-recommender"

# --- correct answers in other styles -------------------------------------------------------

MERGE_SPLIT = '''
def time_split(interactions, cutoff):
    before = interactions["timestamp"] < cutoff
    train = interactions.loc[before].copy()
    later = interactions.loc[~before]
    test = later.query("user_id in @train.user_id and item_id in @train.item_id")
    return train, test


def leaked_share(train, test):
    if test.empty:
        return 0.0
    last = train.groupby("user_id", as_index=False)["timestamp"].max().rename(columns={"timestamp": "last"})
    joined = test.merge(last, on="user_id", how="left")
    return float((joined["timestamp"] < joined["last"]).sum() / len(test))
'''

SORTED_TOP_K = '''
def top_k(scores, seen, k):
    columns = np.arange(scores.shape[1])
    result = []
    for row_scores, row_seen in zip(scores, seen):
        candidates = [c for c in columns if not row_seen[c]]
        candidates.sort(key=lambda c: (-row_scores[c], c))
        result.append(candidates[:k])
    return np.array(result, dtype=int)


def popularity_scores(X):
    counts = np.asarray(X).sum(axis=0)
    return np.broadcast_to(counts, X.shape).astype(float)
'''

ARRAY_METRICS = '''
def _hits(recommended, relevant, k):
    return np.isin(np.asarray(recommended[:k]), np.asarray(list(relevant))).astype(float)


def precision_at_k(recommended, relevant, k):
    return float(_hits(recommended, relevant, k).sum() / k)


def recall_at_k(recommended, relevant, k):
    n_relevant = len(set(relevant))
    return float(_hits(recommended, relevant, k).sum() / n_relevant) if n_relevant else 0.0


def ndcg_at_k(recommended, relevant, k):
    hits = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(len(set(relevant)), k)].sum()
    return float((hits * discounts[: len(hits)]).sum() / ideal) if ideal > 0 else 0.0
'''

SKLEARN_COSINE = '''
from sklearn.metrics.pairwise import cosine_similarity


def item_cosine(X):
    similarity = cosine_similarity(np.asarray(X).T)
    np.fill_diagonal(similarity, 0)
    return similarity


def item_cf_scores(X):
    return np.asarray(X) @ item_cosine(X)
'''

INVERSE_ALS = '''
def als(X, factors, reg, iterations=15, seed=0):
    rng = np.random.default_rng(seed)
    n_users, n_items = X.shape
    V = rng.standard_normal((n_items, factors)) * 0.01
    U = np.zeros((n_users, factors))
    for _ in range(iterations):
        U = X @ V @ np.linalg.inv(V.T @ V + reg * np.identity(factors))
        V = X.T @ U @ np.linalg.inv(U.T @ U + reg * np.identity(factors))
    return U, V
'''

PANDAS_EVALUATE = '''
def evaluate(recommended, relevant, k):
    rows = pd.DataFrame({"rec": recommended, "rel": relevant})
    rows = rows[rows["rel"].map(len) > 0]
    return {
        "precision": float(rows.apply(lambda r: precision_at_k(r["rec"], r["rel"], k), axis=1).mean()),
        "recall": float(rows.apply(lambda r: recall_at_k(r["rec"], r["rel"], k), axis=1).mean()),
        "ndcg": float(rows.apply(lambda r: ndcg_at_k(r["rec"], r["rel"], k), axis=1).mean()),
    }
'''

VALUE_COUNTS_COLD_START = '''
def recent_popular(interactions, now, k, days=14):
    since = now - pd.Timedelta(days, unit="D")
    recent = interactions.loc[interactions["timestamp"].between(since, now, inclusive="left"), "item_id"]
    counts = recent.value_counts()
    order = sorted(counts.index, key=lambda item: (-counts[item], item))
    return [int(item) for item in order[:k]]


def genre_audience(interactions, items, item_id, n):
    genre_of = items.set_index("item_id")["genre"]
    genres = interactions["item_id"].map(genre_of)
    counts = interactions.loc[genres == genre_of[item_id], "user_id"].value_counts()
    order = sorted(counts.index, key=lambda user: (-counts[user], user))
    return [int(user) for user in order[:n]]
'''

SET_COVERAGE = '''
def coverage(recommended, n_items):
    distinct = set()
    for row in recommended:
        distinct.update(row)
    return len(distinct) / n_items


def rerank(scores, seen, popularity, k, penalty):
    adjusted = scores - penalty * np.log(1 + np.asarray(popularity, dtype=float))
    return top_k(adjusted, seen, k)


PENALTY = 0.12
'''

MASK_SPLIT = '''
def time_split(interactions, cutoff):
    is_train = interactions.timestamp.lt(cutoff)
    train, rest = interactions[is_train], interactions[~is_train]
    users, items = set(train.user_id), set(train.item_id)
    keep = [u in users and i in items for u, i in zip(rest.user_id, rest.item_id)]
    return train, rest[keep]


def leaked_share(train, test):
    last = dict(train.groupby("user_id").timestamp.max())
    flags = [user in last and when < last[user] for user, when in zip(test.user_id, test.timestamp)]
    return sum(flags) / len(flags) if flags else 0.0
'''

LEXSORT_TOP_K = '''
def top_k(scores, seen, k):
    n_items = scores.shape[1]
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for row in range(scores.shape[0]):
        keys = np.where(seen[row], np.inf, -scores[row])
        out[row] = np.lexsort((np.arange(n_items), keys))[:k]
    return out


def popularity_scores(X):
    return np.ones((X.shape[0], 1)) @ X.sum(axis=0, keepdims=True)
'''

LOOP_METRICS = '''
import math


def precision_at_k(recommended, relevant, k):
    hits = 0
    for item in recommended[:k]:
        if item in relevant:
            hits += 1
    return hits / k


def recall_at_k(recommended, relevant, k):
    relevant = set(relevant)
    if not relevant:
        return 0.0
    return sum(1 for item in recommended[:k] if item in relevant) / len(relevant)


def ndcg_at_k(recommended, relevant, k):
    relevant = set(relevant)
    if not relevant:
        return 0.0
    dcg = 0.0
    for position, item in enumerate(recommended[:k]):
        if item in relevant:
            dcg += 1 / math.log(position + 2, 2)
    idcg = sum(1 / math.log(position + 2, 2) for position in range(min(k, len(relevant))))
    return dcg / idcg
'''

SPARSE_COSINE = '''
import scipy.sparse as sp


def item_cosine(X):
    M = sp.csc_matrix(X)
    norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=0))).ravel()
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    N = M @ sp.diags(inverse)
    similarity = (N.T @ N).toarray()
    similarity[np.diag_indices_from(similarity)] = 0.0
    return similarity


def item_cf_scores(X):
    return np.asarray(sp.csr_matrix(X) @ item_cosine(X))
'''

LSTSQ_ALS = '''
def als(X, factors, reg, iterations=15, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.uniform(-0.05, 0.05, size=(X.shape[0], factors))
    V = rng.uniform(-0.05, 0.05, size=(X.shape[1], factors))
    ridge = np.sqrt(reg) * np.eye(factors)
    for _ in range(iterations):
        # each update is a ridge regression: least squares on the factors stacked over sqrt(reg) I
        V = np.linalg.lstsq(np.vstack([U, ridge]), np.vstack([X, np.zeros((factors, X.shape[1]))]), rcond=None)[0].T
        U = np.linalg.lstsq(np.vstack([V, ridge]), np.vstack([X.T, np.zeros((factors, X.shape[0]))]), rcond=None)[0].T
    return U, V
'''

LOOP_EVALUATE = '''
def evaluate(recommended, relevant, k):
    totals = {"precision": 0.0, "recall": 0.0, "ndcg": 0.0}
    counted = 0
    for rec, rel in zip(recommended, relevant):
        if not rel:
            continue
        counted += 1
        totals["precision"] += precision_at_k(rec, rel, k)
        totals["recall"] += recall_at_k(rec, rel, k)
        totals["ndcg"] += ndcg_at_k(rec, rel, k)
    return {name: value / counted for name, value in totals.items()}
'''

COUNTER_COLD_START = '''
from collections import Counter


def recent_popular(interactions, now, k, days=14):
    start = now - pd.Timedelta(days=days)
    window = interactions[(interactions.timestamp >= start) & (interactions.timestamp < now)]
    counts = Counter(window.item_id.tolist())
    return [item for item, _ in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))][:k]


def genre_audience(interactions, items, item_id, n):
    genre = dict(zip(items.item_id, items.genre))
    counts = Counter(user for user, item in zip(interactions.user_id, interactions.item_id)
                     if genre.get(item) == genre[item_id])
    return [user for user, _ in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))][:n]
'''

NUMPY_COVERAGE = '''
def coverage(recommended, n_items):
    return float(np.unique(np.concatenate([np.asarray(row) for row in recommended])).size / n_items)


def rerank(scores, seen, popularity, k, penalty):
    return top_k(scores - penalty * np.log1p(popularity), seen, k)


PENALTY = 0.08
'''

TORCH_MF = '''
import torch


def als(X, factors, reg, iterations=15, seed=0):
    """Not ALS: the same objective minimised by full-batch Adam in torch."""
    torch.manual_seed(seed)
    target = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    U = (0.1 * torch.randn(target.shape[0], factors, dtype=torch.float64)).requires_grad_()
    V = (0.1 * torch.randn(target.shape[1], factors, dtype=torch.float64)).requires_grad_()
    optimizer = torch.optim.Adam([U, V], lr=0.1)
    for _ in range(25 * iterations):
        optimizer.zero_grad()
        loss = ((target - U @ V.T) ** 2).sum() + reg * (U.pow(2).sum() + V.pow(2).sum())
        loss.backward()
        optimizer.step()
    return U.detach().numpy(), V.detach().numpy()
'''

CORRECT: dict[str, dict[str, str]] = {
    "pandas-sklearn": {"q1": MERGE_SPLIT, "q2": SORTED_TOP_K, "q3": ARRAY_METRICS, "q4": SKLEARN_COSINE,
                       "q5": INVERSE_ALS, "q6": PANDAS_EVALUATE, "q7": VALUE_COUNTS_COLD_START, "q8": SET_COVERAGE},
    "loops-scipy-sparse": {"q1": MASK_SPLIT, "q2": LEXSORT_TOP_K, "q3": LOOP_METRICS, "q4": SPARSE_COSINE,
                           "q5": LSTSQ_ALS, "q6": LOOP_EVALUATE, "q7": COUNTER_COLD_START, "q8": NUMPY_COVERAGE},
    "torch-mf": {"q5": TORCH_MF, "q4": SKLEARN_COSINE, "q8": SET_COVERAGE},
}

# --- typical mistakes: each breaks one thing in the solution --------------------------------



def changed(tag: str, old: str, new: str) -> dict[str, str]:
    """The solution's cell ``tag`` with one change: a mistake that follows the solution."""
    return {tag: edit(solution_cell(LAB, tag), old, new)}


DERIVED_MISTAKES = {  # made from the current solution's cells, so that they follow it
    "keeps-unknown-users": lambda: changed("q1", "return train, test[known]", "return train, test"),
    "cutoff-in-train": lambda: changed(
        "q1", 'interactions["timestamp"] < cutoff]', 'interactions["timestamp"] <= cutoff]'),
    "leak-global-max": lambda: changed(
        "q1", 'test["user_id"].map(train.groupby("user_id")["timestamp"].max())', 'train["timestamp"].max()'),
    "recommends-seen": lambda: changed("q2", "masked = np.where(seen, -np.inf, scores)", "masked = scores"),
    "ties-to-larger-index": lambda: changed(
        "q2", 'np.argsort(-masked, axis=1, kind="stable")[:, :k]',
        'np.argsort(masked, axis=1, kind="stable")[:, ::-1][:, :k]'),
    "precision-over-list-length": lambda: changed(
        "q3", "return len(set(recommended[:k]) & set(relevant)) / k",
        "return len(set(recommended[:k]) & set(relevant)) / len(recommended[:k])"),
    "ideal-over-all-relevant": lambda: changed(
        "q3", "range(1, min(len(relevant), k) + 1)", "range(1, len(relevant) + 1)"),
    "recall-divides-by-zero": lambda: changed("q3", "    if len(relevant) == 0:\n        return 0.0\n", ""),
    "unnormalised-cosine": lambda: changed(
        "q4", "similarity = (X.T @ X) / np.outer(safe, safe)", "similarity = X.T @ X"),
    "diagonal-kept": lambda: changed("q4", "    np.fill_diagonal(similarity, 0.0)\n", ""),
    "nan-for-empty-items": lambda: changed("q4", "np.outer(safe, safe)", "np.outer(norms, norms)"),
    "als-without-regularisation": lambda: changed(
        "q5", "penalty = reg * np.eye(factors)", "penalty = 0.0 * np.eye(factors)"),
    "mean-over-all-users": lambda: changed("q6", " if len(rel) > 0]", "]"),
    "all-time-popular": lambda: changed(
        "q7", '(interactions["timestamp"] >= start) & (interactions["timestamp"] < now)',
        'interactions["timestamp"] < now'),
    "audience-by-activity": lambda: changed(
        "q7", 'interactions[interactions["item_id"].isin(in_genre)]', "interactions"),
    "new-item-gets-nobody": lambda: changed(
        "q7", 'interactions[interactions["item_id"].isin(in_genre)]',
        'interactions[interactions["item_id"] == item_id]'),
    "penalty-too-strong": lambda: changed("q8", "PENALTY = 0.1  # SOLUTION", "PENALTY = 0.5"),
    "rerank-divides": lambda: changed(
        "q8", "scores - penalty * np.log1p(np.asarray(popularity, dtype=float))[None, :]",
        "scores / (1.0 + penalty * np.log1p(np.asarray(popularity, dtype=float)))[None, :]"),
}

WRITTEN_MISTAKES: dict[str, dict[str, str]] = {
    "random-split": {"q1": '''
def time_split(interactions, cutoff):
    """(train, test), a fifth of the rows at random as test."""
    test = interactions.sample(frac=0.2, random_state=0)
    train = interactions.drop(test.index)
    return train, test[test["user_id"].isin(train["user_id"]) & test["item_id"].isin(train["item_id"])]


def leaked_share(train, test):
    if len(test) == 0:
        return 0.0
    last_train = test["user_id"].map(train.groupby("user_id")["timestamp"].max())
    return float((test["timestamp"] < last_train).mean())
'''},
}


def mistake_cells(name: str) -> dict[str, str]:
    """The replaced cells of mistake ``name``."""
    return DERIVED_MISTAKES[name]() if name in DERIVED_MISTAKES else WRITTEN_MISTAKES[name]


# The tests' names (their docstrings), as the results list them without "[parameters]".
PUBLIC = {
    "q1": "q1: time_split keeps the past in train and the known future in test; leaked_share is 0.0 for it",
    "q2": "q2: top_k picks the best unseen columns, ties to the smaller index; popularity_scores counts watchers",
    "q4": "q4: item_cosine on two users and three items, 0 on the diagonal",
    "q6": "q6: evaluate averages over the users with relevant items",
    "q7": "q7: a new user gets the recently popular items, a new item the users who watch its genre",
}
TRAIN_PAST = "q1: time_split's train holds exactly the rows before the cutoff, with their index labels"
TEST_FUTURE = "q1: time_split's test holds the rows at or after the cutoff whose user and item train knows"
LEAKED = "q1: leaked_share is the share of test rows whose user has a later train row, on random and time splits"
TOP_K = "q2: top_k gives each row's k best unseen columns, best first, as an int array"
TIES = "q2: top_k gives equal scores to the smaller column index first"
NDCG = "q3: ndcg_at_k is DCG (1/log2(rank + 1) per hit) over the DCG of a perfect list"
COSINE = "q4: item_cosine holds the cosine similarity of every two different items' columns"
DIAGONAL = "q4: item_cosine is 0.0 on the diagonal and for an item nobody watched (no NaN)"
CF_SCORES = "q4: item_cf_scores is X times the item similarity matrix"
MINIMUM = "q5: U @ V.T from als is the minimum of the regularised objective (known from X's singular values)"
RECENT = "q7: recent_popular gives the items watched most in the days before now, new items included"
EDGES = "q7: recent_popular counts a watch exactly `days` before now, not one at now; ties by smaller item_id"
AUDIENCE = "q7: genre_audience gives a new item to the users who watched the most of its genre"
PENALTY_GOAL = ("q8: PENALTY lifts item-item CF's coverage on the lab's time split to 0.75, "
                "keeping 90 % of its precision@10")
AUDIENCE_TIES = "q7: genre_audience breaks equal counts by smaller user_id, and counts only the item's genre"

# What each mistake must cost, test by test (parameters' losses added up), and nothing else.
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "random-split": {PUBLIC["q1"]: 1, TRAIN_PAST: 4, TEST_FUTURE: 4},
    "keeps-unknown-users": {PUBLIC["q1"]: 1, TEST_FUTURE: 4},
    "cutoff-in-train": {PUBLIC["q1"]: 1, TRAIN_PAST: 4},  # the row at the cutoff is in train and in test
    "leak-global-max": {LEAKED: 2},
    "recommends-seen": {PUBLIC["q2"]: 1, TOP_K: 2, TIES: 1},
    "ties-to-larger-index": {PUBLIC["q2"]: 1, TIES: 1},
    "precision-over-list-length": {
        "q3: a list shorter than k still divides precision by k, and NDCG counts only what is there": 1},
    "ideal-over-all-relevant": {NDCG: 2, "q3: with more relevant items than k, a list of k hits has an NDCG of 1": 1},
    "recall-divides-by-zero": {"q3: a user with no relevant items gets 0.0 from each metric": 1},
    "unnormalised-cosine": {PUBLIC["q4"]: 1, COSINE: 4, CF_SCORES: 2},
    "diagonal-kept": {PUBLIC["q4"]: 1, DIAGONAL: 1, CF_SCORES: 2},
    "nan-for-empty-items": {DIAGONAL: 1, CF_SCORES: 2},
    "als-without-regularisation": {  # X^T X alone is singular when X has fewer independent rows than factors
        "q5: als returns U (users x factors) and V (items x factors) whose product is close to a rank-1 X": 1,
        MINIMUM: 6},
    "mean-over-all-users": {PUBLIC["q6"]: 1, "q6: evaluate leaves out the users with no relevant item": 1},
    "all-time-popular": {RECENT: 4, EDGES: 1},
    "audience-by-activity": {AUDIENCE: 4, AUDIENCE_TIES: 1},
    "new-item-gets-nobody": {PUBLIC["q7"]: 1, AUDIENCE: 4, AUDIENCE_TIES: 1},
    "penalty-too-strong": {  # 0.5 covers the catalogue, at a third of the precision
        PENALTY_GOAL: 2},
    "rerank-divides": {"q8: rerank is top_k on the scores minus penalty * log(1 + popularity)": 2},
}

# The lab's real-world concerns: leakage (q1), cold start (q7) and popularity bias (q8). They must weigh at
# least 15 % of the lab.
LESSON_EXERCISES = ("q1", "q7", "q8")


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return CORRECT[name] if name in CORRECT else mistake_cells(name)


KEPT = KeptNotebooks(LAB, [*CORRECT, *EXPECTED_LOSSES], replacements)


# --- the lab's parts, checked in process over generated inputs ------------------------------

HIDDEN_DIR = REPO / "solutions" / LAB / "tests"


REC_DATA = load_module("lab06_rec_data", HIDDEN_DIR / "rec_data.py")


def solution_function(tag: str, name: str):
    """Function ``name`` as the solution's cell ``tag`` defines it."""
    namespace: dict = {"np": np, "pd": pd}
    exec(solution_cell(LAB, tag), namespace)
    return namespace[name]


def test_the_shipped_files_are_their_generators():
    """interactions.csv and items.csv, in the solution and in the lab, are rec_data's world from LAB_SEED."""
    interactions, items = REC_DATA.make_world(REC_DATA.LAB_SEED).csv()
    for folder in (REPO / "solutions" / LAB / "files", REPO / "labs" / LAB):
        assert (folder / "interactions.csv").read_text() == interactions
        assert (folder / "items.csv").read_text() == items


@pytest.mark.parametrize("seed", range(8))
def test_worlds_hold_the_structure_the_text_speaks_of(seed):
    """Every generated world has what the lab's text and hidden tests rely on: each (user, item) once, watched
    only once the item is in the catalogue, new items and new users near the cutoff, a long tail of popularity
    and users who mostly watch their favourite genre."""
    world = REC_DATA.make_world(seed, n_users=300, n_items=80)
    events = world.interactions.merge(world.items, on="item_id")
    assert not events.duplicated(["user_id", "item_id"]).any()
    assert (events["timestamp"] >= events["added"]).all()
    assert (world.items["added"] >= REC_DATA.CUTOFF - pd.Timedelta(days=20)).sum() >= 3
    assert (events.groupby("user_id")["timestamp"].min() >= REC_DATA.CUTOFF).sum() >= 5
    counts = events["item_id"].value_counts()
    assert counts.iloc[: len(counts) // 10].sum() >= 0.2 * counts.sum()  # a tenth of the items, a fifth of the watches
    favourite = events["genre"] == events["user_id"].map(world.favourite)
    assert favourite.groupby(events["user_id"]).mean().median() >= 0.4  # chance is 1/6


@pytest.mark.parametrize("seed", range(8))
def test_als_reaches_the_closed_form_minimum(seed):
    """The hidden q5 test's minimum is what the solution's ALS reaches from its random start, on planted matrices
    of 4 and 5 clusters, and an ALS without regularisation stays far from it."""
    hidden = load_module("lab06_hidden", HIDDEN_DIR / "test_hidden.py")
    als = solution_function("q5", "als")
    for clusters in (4, 5):
        X, _, _ = REC_DATA.planted_matrix(seed, clusters=clusters)
        minimum = hidden.regularised_minimum(X, clusters, 3.0)
        U, V = als(X, clusters, 3.0, 20, seed)
        assert np.linalg.norm(U @ V.T - minimum) / np.linalg.norm(minimum) < 1e-3
        U, V = als(X, clusters, 1e-9, 20, seed)
        assert np.linalg.norm(U @ V.T - minimum) / np.linalg.norm(minimum) > 0.1


# --- the batch ------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite). Its correct variants differ in libraries (pandas,
    scikit-learn, scipy.sparse, torch), methods (ALS by solve, inverse or least squares, gradient descent)
    and structure (vectorised or loops)."""

    kept = KEPT
    max_score = 66
    test_count = 43
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("random-split", "q1: time_split's train")
    lesson = "leakage, cold start and popularity bias: what makes a recommender fail in production"
    lesson_exercises = LESSON_EXERCISES


# A correct variant in torch and two mistakes, beside the solution.
DOCKER_SAMPLE = ("solution", "torch-mf", "random-split", "als-without-regularisation")


@pytest.mark.docker
def test_the_docker_backend_grades_the_same(tmp_path):
    """The kernel image holds what the lab needs (numpy, pandas, scipy, scikit-learn, torch; the torch variant too)."""
    assert_docker_grades_the_same(TestLab, DOCKER_SAMPLE, tmp_path)


if __name__ == "__main__":
    KEPT.write()
