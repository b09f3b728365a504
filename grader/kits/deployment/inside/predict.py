"""The saved model's own predictions, in a fresh sandbox that holds only the model file:
``python -s -P -m grader.kits.deployment.inside.predict SHARED MODEL ROWS``.

ROWS is a JSON list of feature rows. The answer is written as JSON into SHARED, the
sandbox's read-write folder (a container's standard output does not reach the grader):
``{"predictions": [...]}``, or ``{"error": traceback}`` if the model does not load or
predict. joblib is imported only here, after the sandbox has started.
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

        answer = {"predictions": [int(p) for p in joblib.load(model).predict(json.loads(rows))]}
    except Exception:
        answer = {"error": traceback.format_exc(limit=-3)[-ERROR_TAIL:]}
    with open(os.path.join(shared, ANSWER), "w") as out:
        json.dump(answer, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
