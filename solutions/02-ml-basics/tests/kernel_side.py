"""Grader code that runs in the student's kernel for the hidden tests of 02-ml-basics.

The tests send this module's source into the kernel as a module of its own
(``_g_lab``), so its names cannot clash with the student's. It is here for two
reasons. Noise data is drawn in the kernel from seeds the grader picks: sending
megabytes through the codec takes seconds, drawing them there milliseconds. And
an exercise that uses ``build_pipeline()`` must not depend on how well the
student answered q2: while q3 is tested, ``build_pipeline`` is the grader's own
(:func:`reference_pipeline`, or :class:`Spy`, which records the rows each fold
was fitted and scored on). Only plain facts go back; the tests decide.
"""

import json
import os
import tempfile

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def reference_pipeline():
    """The grader's pipeline: what q3's answer is tested with, whatever q2's answer is."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def noise(seed, rows, columns):
    """Features and balanced labels with no relation at all between them."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, columns)), rng.permutation(np.repeat([0, 1], rows // 2))


def sparse_signal(seed, rows, columns, informative, shift):
    """Noise in which ``informative`` columns, at places only the grader knows, are shifted by the label."""
    X, y = noise(seed, rows, columns)
    rng = np.random.default_rng(seed + 1)
    X[:, rng.choice(columns, informative, replace=False)] += shift * (2 * y[:, None] - 1)
    return X, y


class Spy(ClassifierMixin, BaseEstimator):
    """A stand-in for build_pipeline()'s pipeline that logs, for each fit and each prediction, which
    of the grader's rows it got (-1 for a row that is no longer as the grader sent it: a cast to
    float32 still counts as the same row, scaling does not), and predicts the grader's ``answers``.
    It logs to a file: cross-validation may fit it in other processes."""

    def __init__(self, log="", reference=None, answers=None):
        self.log = log
        self.reference = reference
        self.answers = answers

    def _rows(self, X):
        X = np.asarray(X, dtype=float)
        ids = []
        for row in X:
            i = int(row[0]) if float(row[0]).is_integer() and 0 <= row[0] < len(self.reference) else -1
            ids.append(i if i >= 0 and np.allclose(row, self.reference[i], rtol=1e-6, atol=1e-6) else -1)
        return ids

    def _note(self, kind, rows):
        with open(self.log, "a") as f:
            f.write(json.dumps({"kind": kind, "who": self.who_, "rows": rows}) + "\n")

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        self.who_ = os.urandom(8).hex()
        self._note("fit", self._rows(X))
        return self

    def predict(self, X):
        rows = self._rows(X)
        self._note("predict", rows)
        return np.array([self.answers[i] if i >= 0 else 0 for i in rows])


def spy_factory(reference, answers):
    """(the log's path, a build_pipeline that makes spies writing to it)."""
    handle, log = tempfile.mkstemp(suffix=".jsonl")
    os.close(handle)
    return log, lambda: Spy(log, reference, answers)


def fits(log):
    """Per fitted spy, in the order they were fitted: [rows it was fitted on, [rows of each prediction]]."""
    seen = {}
    with open(log) as f:
        for line in f:
            event = json.loads(line)
            if event["kind"] == "fit":
                seen[event["who"]] = [event["rows"], []]
            elif event["who"] in seen:
                seen[event["who"]][1].append(event["rows"])
    return list(seen.values())
