"""The in-process layer: the app served in a fresh sandbox, probed from the grader's process.

The app's files are read out of the kernel as bytes, and the app is served by uvicorn
(:mod:`.inside.serve`) in a fresh sandbox of the kernel's own backend that holds only those
files, on a Unix socket. The grader's process sends the requests itself (httpx), so nothing
the notebook or the app did to a process can change what is observed; the saved model's own
predictions come from a second fresh sandbox (:mod:`.inside.predict`). The tests judge the
plain observations.

What the student's app or model does is the student's: one that does not start or does not
predict is a ProbeError, and the report says why (``error``). What the kit fails at itself
(a sandbox it cannot open, a bug of its own) is a KitError: the grader's error, never a
failed test.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from grader.engine.sandbox import Backend, Limits
from grader.kits.deployment.answers import BODY_LIMIT, Contract, ask
from grader.kits.deployment.inside import predict, serve
from grader.kits.sandboxed import (
    Files,
    finished,
    host_copies,
    kit_failures,
    notebook_backend,
    read_files,
    sandboxed,
    shared_file,
    shared_json,
)

APP, MODEL = "app.py", "model.joblib"  # the app (serving ``app``) and the saved model it loads
OPENAPI = "/openapi.json"  # FastAPI's schema of the app
PROBE_TIMEOUT = 90.0  # seconds for the whole in-process probe: both sandboxes and every request
READY_POLL = 0.05  # seconds waited on the app's process between two looks at its socket
LOG_TAIL = 1500  # characters kept of the app's output
PREDICTIONS_LIMIT = 2**20  # bytes of the saved model's predictions, as JSON
PROBE_LIMITS = Limits(memory=1024, cpu_seconds=int(PROBE_TIMEOUT) + 30, processes=64, file_size=16,
                      scratch=64, tmp=64)


class ProbeError(Exception):
    """The app could not be probed: it did not start, or its model did not predict."""


def probe_app(nb, rows: list[list[float]], bad: dict[str, object], backend: Backend | None = None, *,
              contract: Contract, files: Files | None = None, scrape: tuple[str, ...] = ()) -> dict:
    """What the app does with ``rows`` and the ``bad`` request bodies.

    app.py and model.joblib (the lab's ``files``, see :func:`_app_files`) are served in a fresh
    sandbox of ``backend`` (by default the kernel's own, see :func:`grader.kits.sandboxed.notebook_backend`); every
    request is sent from this process, as ``contract`` says. The result is data only: ``health``,
    ``predict`` (one per row), ``bad`` (by name) hold ``{"status", "json", "text"}``;
    ``without_file`` is the first request, made while the model file was emptied;
    ``expected`` is the saved model's own predictions, ``probabilities`` the probability it
    gives each of them (None if it gives none: no ``predict_proba``); ``openapi`` the app's schema;
    ``error`` why there are none of these, if so. KitError if the kit itself failed.
    """
    files = _app_files(nb, [APP, MODEL], files)
    missing = [name for name, data in files.items() if data is None]
    if missing:
        return {"error": " and ".join(missing) + " missing: run the cells that write them"}
    deadline = time.monotonic() + PROBE_TIMEOUT
    with kit_failures("the in-process probe"), host_copies(files) as folder:
        backend = backend or notebook_backend(nb)
        try:
            expected, probabilities = _predictions(backend, folder / MODEL, rows, deadline)
            return {"error": None, "expected": expected, "probabilities": probabilities,
                    **_served(backend, folder, rows, bad, contract, deadline, scrape)}
        except ProbeError as exc:
            return {"error": str(exc)}


def saved_predictions(nb, rows: list[list[float]], backend: Backend | None = None, *,
                      files: Files | None = None) -> list[int] | None:
    """The saved model's own predictions for ``rows`` (computed as :func:`probe_app` does), or
    None if it is missing or does not predict. KitError if the kit itself failed."""
    model = _app_files(nb, [MODEL], files)
    if model[MODEL] is None:
        return None
    with kit_failures("the saved model's predictions"), host_copies(model) as folder:
        try:
            return _predictions(backend or notebook_backend(nb), folder / MODEL, rows,
                                time.monotonic() + PROBE_TIMEOUT)[0]
        except ProbeError:
            return None


def _app_files(nb, names: list[str], files: Files | None) -> Files:
    """``names`` out of the lab's ``files`` (as its tests read them with :func:`.files.read_files`,
    from wherever its notebook writes them), or else read out of the notebook's own folder."""
    return read_files(nb, names) if files is None else {name: files.get(name) for name in names}


def _predictions(backend: Backend, model: Path, rows: list[list[float]],
                 deadline: float) -> tuple[list[int], list[float] | None]:
    """The saved model's predictions for ``rows``, and the probability it gives each (None if it
    gives none), made in a fresh sandbox of their own."""
    with sandboxed(backend, [model], PROBE_LIMITS, predict, model.name, json.dumps(rows)) as (_, process, shared):
        if not finished(process, deadline):
            raise ProbeError(f"the saved model did not predict within {PROBE_TIMEOUT:.0f} s")
        answer = shared_json(shared / predict.ANSWER, PREDICTIONS_LIMIT)
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        raise ProbeError(f"the saved model did not load and predict:\n{answer['error'][-LOG_TAIL:]}")
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(rows) or \
            not all(type(p) is int for p in predictions):
        raise ProbeError("the saved model gave no predictions")
    return predictions, _probabilities(answer.get("probabilities"), len(rows))


def _probabilities(found: object, rows: int) -> list[float] | None:
    """The probabilities as the sandbox wrote them, if they are one number in [0, 1] per row."""
    if isinstance(found, list) and len(found) == rows and all(type(p) is float and 0.0 <= p <= 1.0 for p in found):
        return found
    return None


def _served(backend: Backend, folder: Path, rows: list[list[float]], bad: dict[str, object], contract: Contract,
            deadline: float, scrape: tuple[str, ...] = ()) -> dict:
    """The app's answers, asked over its socket from here while it runs in a fresh sandbox."""
    bodies = [contract.request(row) for row in rows]
    files = [folder / APP, folder / MODEL]
    with sandboxed(backend, files, PROBE_LIMITS, serve) as (sandbox, process, shared):
        address = _wait_ready(process, shared, folder, deadline)
        transport = httpx.HTTPTransport(uds=str(address))
        with httpx.Client(transport=transport, base_url="http://app", trust_env=False) as client:
            def asked(method: str, path: str, body: object = None) -> dict:
                return ask(client, method, path, body, deadline)

            try:
                with _emptied(_seen(sandbox, files[1])):
                    without_file = asked("POST", contract.predict, bodies[0])
            except OSError as exc:  # only where there is no sandbox can the app reach the file
                raise ProbeError(f"the app's model file could not be emptied: {exc}") from None
            answers = {"without_file": without_file, "health": asked("GET", contract.health),
                       "predict": [asked("POST", contract.predict, body) for body in bodies],
                       "bad": {name: asked("POST", contract.predict, body) for name, body in bad.items()},
                       "openapi": asked("GET", OPENAPI)["json"]}
            return {**answers, "scrape": {path: ask(client, "GET", path, None, deadline, text_limit=BODY_LIMIT)
                                          for path in scrape}}


def _seen(sandbox, path: Path) -> Path:
    """The file the sandboxed app opens for ``path``: that very file where the backend binds it,
    the backend's own copy where it copies files instead (no sandbox)."""
    return path if sandbox.sandboxed else Path(sandbox.launch_dir) / path.name


@contextlib.contextmanager
def _emptied(path: Path) -> Iterator[None]:
    """The file emptied in place while the block runs, then restored. It stays the same file,
    so a sandbox that binds it read-only sees it empty too: only a model loaded at start-up
    can answer meanwhile, never one loaded per request or at the first request."""
    data = path.read_bytes()
    with open(path, "r+b") as f:
        f.truncate(0)
    try:
        yield
    finally:
        with open(path, "r+b") as f:
            f.write(data)


def _wait_ready(process: subprocess.Popen, shared: Path, private: Path, deadline: float) -> Path:
    """The app's socket, once the app accepts connections on it. It is first moved from the
    shared folder into the grader's own: the sandbox can put anything in its folder (a link to
    some other socket of the host), but cannot reach a socket the grader has taken away."""
    address = private / "app.sock"
    while time.monotonic() < deadline:
        if not os.path.lexists(address):
            with contextlib.suppress(OSError):  # nothing there yet, or nothing the grader can take
                os.rename(shared / "app.sock", address)
        if _is_socket(address) and _accepts(address):
            return address
        if finished(process, min(deadline, time.monotonic() + READY_POLL)):
            raise ProbeError(f"the app stopped before it served a request:\n{_app_log(shared)}")
    raise ProbeError(f"the app did not start within {PROBE_TIMEOUT:.0f} s:\n{_app_log(shared)}")


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


def _app_log(shared: Path) -> str:
    return shared_file(shared / "app.log", LOG_TAIL, tail=True).decode("utf-8", "replace").strip()
