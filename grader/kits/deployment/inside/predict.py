"""The saved model's own predictions, in a fresh sandbox that holds only the model file:
``python -s -P -m grader.kits.deployment.inside.predict SHARED MODEL ROWS``.

ROWS is a JSON list of feature rows. The answer is written as JSON into SHARED, the
sandbox's read-write folder (a container's standard output does not reach the grader):
``{"predictions": [...], "probabilities": [...]}`` (each row's class, and the probability
the model gives that class; None for a model with no ``predict_proba``), or
``{"error": traceback}`` if the model does not load or predict. joblib is imported only
here, after the sandbox has started.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

ANSWER = "predictions.json"
ERROR_TAIL = 1500  # characters of the traceback kept


def main(shared: str, model: str, rows: str) -> None:
    try:
        import joblib

        answer = predictions(joblib.load(model), json.loads(rows))
    except Exception:
        answer = {"error": traceback.format_exc(limit=-3)[-ERROR_TAIL:]}
    with open(os.path.join(shared, ANSWER), "w") as out:
        json.dump(answer, out)


def predictions(model, rows: list[list[float]]) -> dict:
    """Each row's predicted class, and the probability the model gives the class it predicts."""
    predicted = [int(p) for p in model.predict(rows)]
    return {"predictions": predicted, "probabilities": _probabilities(model, rows, predicted)}


def _probabilities(model, rows: list[list[float]], predicted: list[int]) -> list[float] | None:
    """The probability ``model`` gives each row's predicted class; None if it gives none."""
    try:
        classes = [int(c) for c in model.classes_]
        return [float(p[classes.index(c)]) for p, c in zip(model.predict_proba(rows), predicted, strict=True)]
    except Exception:  # no predict_proba, or one that fails: the lab's tests say what that costs
        return None


if __name__ == "__main__":
    main(*sys.argv[1:4])
