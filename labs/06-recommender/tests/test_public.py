"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks on a few hand-made rows. The grader also runs hidden tests that call
your functions on other catalogues and watch logs of the same shape, and checks every rule of the
text. Each test brings its own data (its names start with ``_t_``) rather than using the notebook's.
"""

import math

import numpy as np

# Six watches by three users; user 3 and item 40 appear only after 2025-03-01, item 30 never.
ROWS = r'''
import pandas as _t_pd

_t_events = _t_pd.DataFrame({
    "user_id": [1, 2, 1, 2, 3, 1],
    "item_id": [10, 10, 20, 20, 10, 40],
    "timestamp": _t_pd.to_datetime(["2025-02-01", "2025-02-03", "2025-02-20", "2025-03-01",
                                    "2025-03-02", "2025-03-05"]),
})
_t_items = _t_pd.DataFrame({"item_id": [10, 20, 30, 40], "title": ["A", "B", "C", "D"],
                            "genre": ["drama", "comedy", "drama", "drama"],
                            "added": _t_pd.to_datetime(["2025-01-01"] * 3 + ["2025-03-04"])})
'''


def rows(nb):
    nb.run(ROWS)
    return nb


def test_q1_split(nb):
    """q1: time_split keeps the past in train and the known future in test; leaked_share is 0.0 for it"""
    rows(nb)
    got = nb.ref("(lambda s: (sorted(s[0].index), sorted(s[1].index), leaked_share(*s)))"
                 "(time_split(_t_events, _t_pd.Timestamp('2025-03-01')))")
    assert got[0] == [0, 1, 2], "train: the rows before the cutoff"
    assert got[1] == [3], "test: rows from the cutoff on, whose user and item train knows"
    assert got[2] == 0.0


def test_q2_top_k(nb):
    """q2: top_k picks the best unseen columns, ties to the smaller index; popularity_scores counts watchers"""
    scores = np.array([[1.0, 5.0, 3.0, 3.0], [2.0, 2.0, 0.0, 9.0]])
    seen = np.array([[False, True, False, False], [False, False, False, True]])
    got = nb.call("top_k", scores, seen, 2)
    assert np.array_equal(got, [[2, 3], [0, 1]])
    X = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    assert np.allclose(nb.call("popularity_scores", X), [[2.0, 1.0, 1.0], [2.0, 1.0, 1.0]])


def test_q3_metrics(nb):
    """q3: precision, recall and NDCG at 3 for one small ranking"""
    args = ([7, 1, 3], [1, 9], 3)
    assert math.isclose(nb.call("precision_at_k", *args), 1 / 3)
    assert math.isclose(nb.call("recall_at_k", *args), 1 / 2)
    assert math.isclose(nb.call("ndcg_at_k", *args), (1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_q4_cosine(nb):
    """q4: item_cosine on two users and three items, 0 on the diagonal"""
    X = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    expected = np.array([[0.0, 1 / math.sqrt(2), 1 / math.sqrt(2)], [1 / math.sqrt(2), 0.0, 0.0],
                         [1 / math.sqrt(2), 0.0, 0.0]])
    assert np.allclose(nb.call("item_cosine", X), expected)
    assert np.allclose(nb.call("item_cf_scores", X), X @ expected)


def test_q5_shapes(nb):
    """q5: als returns U (users x factors) and V (items x factors) whose product is close to a rank-1 X"""
    X = np.outer([1.0, 2.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0, 2.0])
    nb.assign("_t_X", X)
    U, V = nb.ref("[np.asarray(a, dtype=float) for a in als(_t_X, 2, 0.01, 20, 0)]")
    assert U.shape == (4, 2) and V.shape == (5, 2)
    assert np.abs(U @ V.T - X).max() < 0.05


def test_q6_evaluate(nb):
    """q6: evaluate averages over the users with relevant items"""
    got = nb.call("evaluate", [[1, 2], [3, 4], [5, 6]], [[1], [], [9, 6]], 2)
    assert math.isclose(got["precision"], 0.5) and math.isclose(got["recall"], 0.75)


def test_q7_cold_start(nb):
    """q7: a new user gets the recently popular items, a new item the users who watch its genre"""
    rows(nb)
    got = nb.ref("recent_popular(_t_events, _t_pd.Timestamp('2025-03-06'), 2, 7)")
    assert list(got) == [10, 20]
    assert list(nb.ref("genre_audience(_t_events, _t_items, 40, 2)")) == [1, 2]


def test_q8_coverage(nb):
    """q8: coverage counts distinct items; rerank with penalty 0 is top_k; PENALTY is a number"""
    assert math.isclose(nb.call("coverage", [[1, 2], [2, 3]], 10), 0.3)
    scores = np.array([[3.0, 2.0, 1.0]])
    got = nb.call("rerank", scores, np.array([[False, False, False]]), np.array([9.0, 0.0, 0.0]), 2, 0.0)
    assert np.array_equal(got, [[0, 1]])
    assert isinstance(nb.ref("PENALTY"), (int, float))
