"""What each grading layer of the deployment lab costs, against plain Docker.

The reference solution of ``09-deployment`` is executed once (nbclient, in a
temporary folder) to write its app, model, requirements and Dockerfile. Then,
``--repeat`` times each:

- baseline: the ``docker`` command line builds the same context (no cache, no
  network, on the grader's image), runs it with no network, and polls
  ``/health`` with ``docker exec`` until it answers; then removes both;
- static: the Dockerfile parsed and linted (dockerfile-parse, hadolint);
- in-process: the app served by uvicorn in a fresh sandbox, probed from this process;
- live: the grader's whole live layer (build with limits, confined run, probe
  container, HEALTHCHECK, clean-up).

The median of each is printed with its ratio to the baseline. Needs a Docker
engine and the grader's image (``make image``). Run from the repository root::

    .venv/bin/python benchmarks/deployment_layers.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import nbformat
from nbclient import NotebookClient
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_breast_cancer

from grader.engine.sandbox import image
from grader.kits.deployment import container as live_layer
from grader.kits.deployment.answers import Contract
from grader.kits.deployment.dockerfile import Dockerfile, build_labels, rebased
from grader.kits.deployment.probe import probe_app
from grader.testing.live import LiveNotebook

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "09-deployment" / "solution.ipynb"
ROWS = load_breast_cancer().data[::57].tolist()
BAD = {"29 numbers": {"features": [1.0] * 29}}
NOTEBOOK_FILES = ("app.py", "model.joblib", "requirements.txt", "Dockerfile")  # what the solution writes
CONTRACT = Contract(health="/health", predict="/predict", request=lambda row: {"features": row})  # the lab's


def write_solution_files(folder: Path) -> dict[str, bytes]:
    """Run the solution notebook in ``folder`` (its check() cells may fail there: no tests)."""
    nb = nbformat.read(SOLUTION, as_version=4)
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
    return {name: (folder / name).read_bytes() for name in NOTEBOOK_FILES}


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def baseline(files: dict[str, bytes], base: str, folder: Path) -> None:
    """Build, run and wait for /health with the docker command line, then remove it all."""
    context = folder / f"context-{uuid.uuid4().hex[:8]}"
    context.mkdir()
    for name, data in files.items():
        (context / name).write_bytes(data)
    df = Dockerfile.parse(files["Dockerfile"].decode())
    (context / "Dockerfile").write_text(rebased(df, base, build_labels(context.name)))
    tag = f"bench-baseline:{context.name}"
    run = ["docker", "build", "-q", "--no-cache", "--network", "none", "-t", tag, str(context)]
    subprocess.run(run, check=True, capture_output=True, env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin"})
    container = subprocess.run(["docker", "run", "-d", "--network", "none", tag], check=True, capture_output=True,
                               text=True).stdout.strip()
    try:
        probe = ["docker", "exec", container, "python", "-c",
                 "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=1)"]
        deadline = time.monotonic() + live_layer.READY_WITHIN
        while subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the baseline container never answered /health")
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def benchmark(repeat: int, console: Console) -> None:
    base = image.current_image(docker.from_env())
    if base is None:
        raise RuntimeError("the grader's image is not built: run 'make image'")
    with tempfile.TemporaryDirectory(prefix="deploy-bench-") as tmp:
        folder = Path(tmp)
        with console.status("running the solution notebook"):
            files = write_solution_files(folder)
        layers = {
            "baseline: docker CLI build + run + /health": lambda: baseline(files, base, folder),
            "static: parse + hadolint": lambda: Dockerfile.parse(files["Dockerfile"].decode()),
            "in-process: sandboxed probe": lambda: probe_app(LiveNotebook({}), ROWS, BAD, contract=CONTRACT),
            "live: build, confined run, probe, clean-up":
                lambda: live_layer.run_live(files, ROWS, BAD, contract=CONTRACT),
        }
        times: dict[str, list[float]] = {name: [] for name in layers}
        with contextlib.chdir(folder):  # the in-process probe reads the files from the current folder
            for round_ in range(repeat):
                for name, fn in layers.items():
                    with console.status(f"round {round_ + 1}/{repeat}: {name}"):
                        times[name].append(timed(fn))
    table = Table(title=f"deployment lab, median of {repeat}")
    for column in ("layer", "median s", "vs baseline"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    reference = statistics.median(times[next(iter(layers))])
    for name, values in times.items():
        table.add_row(name, f"{statistics.median(values):.2f}", f"{statistics.median(values) / reference:.2f}x")
    console.print(table)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    try:
        benchmark(args.repeat, Console())
    except (RuntimeError, subprocess.CalledProcessError, docker.errors.DockerException) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
