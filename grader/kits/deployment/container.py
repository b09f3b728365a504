"""The live layer: the image built and run by a Docker engine, probed, measured and removed.

Where a Docker engine runs, the image is built with no network from the grader's own kernel
image (no registry is needed or reachable), started read-only with limits and no network,
probed over loopback by a second container of the grader's image that shares only its
network namespace (:mod:`.inside.live_probe`, from the grader package mounted read-only),
measured, and removed (:mod:`.cleanup`). Whether it runs is decided once per batch
(:func:`decide`, the kit's ``prepare``); where no engine runs, :class:`NotRun` says so and the
tests skip: the grader reports them as not run and leaves their points out of the maximum.

Whose failure is whose: an image that does not build (:class:`BuildFailed`) and a container
that does not start or stops before it is probed (:class:`AppFailed`) are the student's, and
both are RuntimeErrors, which the lab's tests report as failed. The engine failing at the
grader's own work (creating a container, running the probe, reading an image), the probe
failing, or a bug of the kit's, is a KitError: the grader's error, never a failed test.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from grader import bounded
from grader.engine.sandbox.base import PACKAGE_MOUNT, package_dir
from grader.engine.sandbox.docker import engine_client
from grader.errors import KitError, SandboxUnavailable
from grader.kits.deployment.answers import BODY_LIMIT, REQUEST_TIMEOUT, Contract, observation
from grader.kits.deployment.cleanup import remove_build, remove_orphans
from grader.kits.deployment.dockerfile import ROOT_USERS, BuildRefused, build_labels, rebased, refusal
from grader.kits.deployment.files import dockerfile
from grader.kits.deployment.inside import live_probe

BUILD_TIMEOUT = 180  # seconds; a build that takes longer is cancelled (the engine stops it when we hang up)
READY_WITHIN = 30.0  # seconds for the container to answer its health path
REQUESTS_WITHIN = 60.0  # seconds for every request once it has
PROBE_SLACK = 60.0  # seconds the probe container may take beyond its own bound (starting, importing)
BUILD_MEMORY = 1024 * 2**20
RUN_MEMORY = "512m"
LOG_TAIL = 1500  # characters kept of a build log or a container's output
LIVE_REPORT_LIMIT = 4 * 2**20  # bytes of the live probe's report
NOBODY = "65534:65534"


class NotRun(Exception):
    """What the live layer needs is missing here (no engine, no grader image)."""


class BuildFailed(RuntimeError):
    """The image did not build, or not in time: the student's Dockerfile (the log's end says why)."""


class AppFailed(RuntimeError):
    """The image built, but its container did not start, or stopped before it was probed."""


@dataclass
class Live:
    """What the running container did; ``startup`` is None if its health path never answered."""

    user: str  # the image's USER
    run_as: str  # the user the grader ran it as: the image's, unless that is root
    added_bytes: int  # what the student's layers add to the base image
    startup: float | None
    health: dict | None
    predict: list[dict]
    bad: dict[str, dict]
    healthcheck: tuple[int, str] | None  # the HEALTHCHECK command's exit code and output
    logs: str = ""


@dataclass(frozen=True)
class Engine:
    """Whether the live layer runs, decided once per batch before its first submission (the kit's
    ``prepare``, :func:`decide`) and graded under by every submission of it, so that an engine
    that starts or stops mid-batch cannot give one batch two maximum scores. Small and
    picklable: it travels to the batch's workers."""

    base: str | None = None  # the grader's image to build on, where the live layer runs
    not_run: str = ""  # why it does not run here (no engine, no image): the live tests are not run
    failed: str = ""  # the engine failed while the batch asked: the grader's error on every row


def decide() -> Engine:
    """Whether a Docker engine runs here now and has the grader's image; the orphans of graders
    that were killed are removed on the way. Never raises: the engine's failure is carried."""
    from grader.engine.sandbox import image

    try:
        client = engine_client(timeout=BUILD_TIMEOUT)
    except SandboxUnavailable:  # no engine, or no docker package: the live tests are not run here
        return Engine(not_run="no Docker engine runs on the grading machine")
    try:
        with _kit_failures():
            base = image.current_image(client)
            if base is None:
                return Engine(not_run="the grader's image is not built here (grade image build)")
            remove_orphans(client)
    except KitError as exc:
        return Engine(failed=str(exc))
    return Engine(base=base)


def engine(decided: Engine | None = None):
    """A Docker client and the grader's image to build on, as the batch ``decided`` (None: as
    decided now). NotRun where it decided that the live layer does not run; KitError where the
    engine failed then, or where it did run and is gone since, or its image: the grader's error
    on this row, never a maximum score of its own."""
    decided = decided or decide()
    if decided.failed:
        raise KitError(decided.failed)
    if decided.base is None:
        raise NotRun(decided.not_run)
    try:
        client = engine_client(timeout=BUILD_TIMEOUT)
    except SandboxUnavailable:
        raise KitError("the Docker engine this batch began with no longer answers") from None
    with _kit_failures():
        client.images.get(decided.base)
    return client, decided.base


def run_live(files: dict[str, bytes | None], rows: list[list[float]], bad: dict[str, object], *,
             contract: Contract, decided: Engine | None = None) -> Live:
    """Build the notebook's image offline, run it, probe it as ``contract`` says, and remove it all.

    ``decided``: whether the live layer runs, as the batch decided (None: decide now, see
    :func:`engine`). NotRun where no engine runs; ValueError if there is no Dockerfile; BuildRefused for one
    that reaches out or that the grader cannot rebase with certainty; BuildFailed (with the
    build log's end) when the build fails; AppFailed when the container does not run;
    KitError when the engine or the probe fails at the grader's own work.
    """
    client, base = engine(decided)
    df = dockerfile(files)
    reason = refusal(df)
    if reason:
        raise BuildRefused(reason)
    build = secrets.token_hex(16)
    text = rebased(df, base, build_labels(build))
    with _kit_failures():
        try:
            return _run(client, base, files, text, build, df.port(), [contract.request(r) for r in rows], bad,
                        contract)
        finally:
            remove_build(client, build)


@contextlib.contextmanager
def _kit_failures() -> Iterator[None]:
    """The student's failures pass; any other exception (the engine's, a bug of the kit's) is a KitError."""
    try:
        yield
    except (NotRun, BuildRefused, BuildFailed, AppFailed, KitError):
        raise
    except Exception as exc:
        raise KitError(f"the live layer failed: {type(exc).__name__}: {str(exc)[:LOG_TAIL]}") from None


def _run(client, base: str, files: dict[str, bytes | None], text: str, build: str, port: int,
         bodies: list[object], bad: dict[str, object], contract: Contract) -> Live:
    """Build, start as the image's own user (never root), probe, and collect what happened."""
    import docker

    built = _build(client, files, text, f"grader-deployment:{build[:12]}")
    user = built.attrs["Config"].get("User") or ""
    run_as = user if user and user.split(":")[0] not in ROOT_USERS else NOBODY
    started = time.time()
    app = client.containers.create(built.id, user=run_as, **_confined(build))
    try:
        app.start()  # the image's CMD and USER are the student's: if they do not run, that is theirs
    except docker.errors.APIError as exc:
        raise AppFailed(f"the container did not run: {exc.explanation}"[:LOG_TAIL]) from None
    report = _probe(client, base, app, port, bodies, bad, contract, build)
    ready = report["ready_at"]
    return Live(user, run_as, built.attrs["Size"] - client.images.get(base).attrs["Size"],
                None if ready is None else max(0.0, ready - started), report["health"], report["predict"],
                report["bad"], _healthcheck(client, app, built, run_as) if ready is not None else None,
                app.logs(tail=20).decode(errors="replace")[-LOG_TAIL:])


def _build(client, files: dict[str, bytes | None], text: str, tag: str):
    """The built image; BuildFailed with the log's end if it does not build in time. Only a
    bounded tail of the log is kept while it streams. The engine refusing the Dockerfile (a
    client error) is the student's; the engine failing (a server error) is a KitError."""
    import docker
    import requests
    import urllib3

    tail, error = "", None
    try:
        for chunk in client.api.build(
                fileobj=_context(files, text), custom_context=True, tag=tag, decode=True,
                network_mode="none", pull=False, nocache=True, rm=True, forcerm=True, use_config_proxy=False,
                timeout=BUILD_TIMEOUT,  # the SDK's build has no timeout unless given one
                container_limits={"memory": BUILD_MEMORY, "memswap": BUILD_MEMORY, "cpushares": 512}):
            if isinstance(chunk, dict):
                tail = (tail + str(chunk.get("stream") or chunk.get("error") or ""))[-LOG_TAIL:]
                error = chunk.get("error", error)
    except docker.errors.APIError as exc:
        if not exc.is_client_error():
            raise KitError(f"the Docker engine failed to build: {str(exc.explanation)[:LOG_TAIL]}") from None
        error = f"the image does not build: {exc.explanation}"
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):  # before or while streaming
        error = f"the image did not build within {BUILD_TIMEOUT} s"
    if error is not None:
        raise BuildFailed(f"{str(error)[:LOG_TAIL]}\n{tail}".strip())
    return client.images.get(tag)


def _context(files: dict[str, bytes | None], dockerfile_text: str) -> io.BytesIO:
    """The build context: the notebook's files and the rebased Dockerfile, nothing else."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {**files, "Dockerfile": dockerfile_text.encode()}.items():
            if data is not None:
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    return context


def _confined(build: str) -> dict:
    """A container of the build: no network, read-only, small, no privileges, a capped log."""
    return {"network_mode": "none", "read_only": True, "tmpfs": {"/tmp": "rw,size=16m,nosuid,nodev"},
            "mem_limit": RUN_MEMORY, "memswap_limit": RUN_MEMORY, "pids_limit": 64, "nano_cpus": 1_000_000_000,
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "labels": build_labels(build),
            "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}}}


def _probe(client, base: str, app, port: int, bodies: list[object], bad: dict[str, object],
           contract: Contract, build: str) -> dict:
    """Run the grader's probe (:mod:`.inside.live_probe`) in a container that shares only the
    app's network namespace, so it reaches the app on 127.0.0.1 and nothing else does; the
    grader package is mounted into it read-only, as into a kernel's container. Its answers
    are read here. The probe bounds its own time, so a probe that outlasts that is the kit's."""
    import requests
    import urllib3

    settings = {"port": port, "health": contract.health, "predict": contract.predict, "requests": bodies,
                "bad": bad, "ready_within": READY_WITHIN, "requests_within": REQUESTS_WITHIN,
                "timeout": REQUEST_TIMEOUT, "limit": BODY_LIMIT}
    probe = client.containers.create(
        base, ["python", "-s", "-P", "-m", live_probe.__name__, json.dumps(settings)], user=NOBODY,
        environment={"PYTHONPATH": str(PACKAGE_MOUNT)},
        volumes={str(package_dir()): {"bind": str(PACKAGE_MOUNT / "grader"), "mode": "ro"}},
        **{**_confined(build), "network_mode": f"container:{app.id}"})
    with _unless_stopped(app, "was probed"):
        probe.start()
    wait = (READY_WITHIN + live_probe.HEALTH_TIMEOUT + REQUESTS_WITHIN + REQUEST_TIMEOUT + PROBE_SLACK)
    try:
        exit_status = probe.wait(timeout=wait).get("StatusCode")
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
        raise KitError(f"the live probe did not finish within {wait:.0f} s") from None
    lines = probe.logs(stdout=True, stderr=False).decode(errors="replace").strip().splitlines()
    try:
        report = bounded.loads(lines[-1], LIVE_REPORT_LIMIT, "the live probe's report")
    except (IndexError, ValueError):
        raise KitError(f"the live probe failed (exit status {exit_status}): "
                       f"{probe.logs(tail=20).decode(errors='replace')[-800:]}") from None
    return {"ready_at": report["ready_at"], "health": report["health"] and observation(report["health"]),
            "predict": [observation(r) for r in report["predict"]],
            "bad": {name: observation(r) for name, r in report["bad"].items()}}


@contextlib.contextmanager
def _unless_stopped(app, doing: str) -> Iterator[None]:
    """The engine failing at something the grader does to the app's container is the
    student's (AppFailed) if that container has stopped meanwhile, and a KitError if not."""
    import docker

    try:
        yield
    except docker.errors.APIError as exc:
        app.reload()
        if app.status != "running":
            logs = app.logs(tail=20).decode(errors="replace")[-LOG_TAIL:]
            raise AppFailed(f"the container stopped before it {doing}:\n{logs}".strip()) from None
        raise KitError(f"the Docker engine failed: {str(exc.explanation)[:LOG_TAIL]}") from None


def _healthcheck(client, app, built, run_as: str) -> tuple[int, str] | None:
    """The image's own HEALTHCHECK command, run once in the running container; the end of its output."""
    test = (built.attrs["Config"].get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    command = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    with _unless_stopped(app, "ran its HEALTHCHECK"):
        exec_id = client.api.exec_create(app.id, ["timeout", "10", *command], user=run_as)["Id"]
        tail = b""
        for chunk in client.api.exec_start(exec_id, stream=True):
            tail = (tail + chunk)[-500:]
        return client.api.exec_inspect(exec_id).get("ExitCode"), tail.decode(errors="replace")
