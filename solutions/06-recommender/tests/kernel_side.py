"""Grader code that runs in the student's kernel for the hidden tests of 06-recommender.

The tests send this module's source into the kernel as a module of its own (``_g_lab``), so its
names cannot clash with the student's. Frames travel as CSV text and are read here with
``pd.read_csv``, as the notebook reads its files. What goes back is plain data (lists of ints,
floats, arrays); the tests decide. While q6 and q8 are tested, the q3 metrics and ``top_k`` in the
student's namespace are the grader's own (:func:`with_reference`), so that a slip in q2 or q3
costs its own exercise and no other.
"""

import io

import numpy as np
import pandas as pd


def frame(text):
    """A watch log or catalogue read from CSV text, its date columns parsed."""
    table = pd.read_csv(io.StringIO(text))
    for column in ("timestamp", "added"):
        if column in table:
            table[column] = pd.to_datetime(table[column])
    return table


def split_facts(result):
    """(type names, index labels, column names) of what a split function returned, as plain data."""
    parts = list(result) if isinstance(result, tuple) else [result]
    return ([type(p).__name__ for p in parts],
            [[int(i) for i in p.index] if isinstance(p, pd.DataFrame) else [] for p in parts],
            [[str(c) for c in p.columns] if isinstance(p, pd.DataFrame) else [] for p in parts])


def ids(values):
    """A list of item or user ids as plain ints."""
    return [int(v) for v in values]


def as_array(value):
    """What a function returned as a float array (None when it is not array-like)."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def top_k(scores, seen, k):
    """The grader's top_k: the stated rule."""
    return np.argsort(-np.where(seen, -np.inf, scores), axis=1, kind="stable")[:, :k]


def precision_at_k(recommended, relevant, k):
    return len(set(recommended[:k]) & set(relevant)) / k


def recall_at_k(recommended, relevant, k):
    return len(set(recommended[:k]) & set(relevant)) / len(set(relevant)) if len(relevant) else 0.0


def ndcg_at_k(recommended, relevant, k):
    relevant = set(relevant)
    dcg = sum(1 / np.log2(r + 2) for r, item in enumerate(recommended[:k]) if item in relevant)
    ideal = sum(1 / np.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


REFERENCE = {"top_k": top_k, "precision_at_k": precision_at_k, "recall_at_k": recall_at_k,
             "ndcg_at_k": ndcg_at_k}


def with_reference(namespace, fn):
    """fn() while the student's top_k and q3 metrics are the grader's: evaluate and rerank may call them."""
    saved = {name: namespace.get(name) for name in REFERENCE}
    namespace.update(REFERENCE)
    try:
        return fn()
    finally:
        namespace.update(saved)
