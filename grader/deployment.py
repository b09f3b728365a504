"""Grading a model served over HTTP from a container image, in three layers.

- **Static**: the Dockerfile is read with a real parser (dockerfile-parse) and
  linted with hadolint, in the grader's process. Both only read text.
- **In-process**: the student's app is imported by a fresh Python inside the
  sandbox and exercised with FastAPI's ``TestClient``. Only observations
  (statuses, JSON bodies) come back, and the tests judge them here.
- **Live**, where a Docker engine runs: the image is built with no network from
  the grader's own kernel image (no registry is needed or reachable), started
  read-only with limits and no network, probed over loopback by a second
  container that shares only its network namespace, measured, and removed.
  Where no engine runs, :class:`NotRun` says so and the tests skip: the grader
  reports them as not run and leaves their points out of the maximum.

A Dockerfile that reaches for the network or the host at build time (``ADD``
of a URL, ``RUN --mount``, a download in ``RUN``) is refused before anything
is built: :func:`refusal` names why, and the tests give it nothing.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import secrets
import subprocess
import sysconfig
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from grader.sandbox.docker import OWNER_LABEL, orphaned

NOTEBOOK_FILES = ("app.py", "model.joblib", "requirements.txt", "Dockerfile")  # what the lab's notebook writes
FILE_LIMIT = 8 * 2**20  # bytes: a lab's app, model and Dockerfile are far smaller
LINT_TIMEOUT = 30
PROBE_TIMEOUT = 90
DEFAULT_PORT = 8000
LIVE_LABEL = "grader.deployment"
BUILD_TIMEOUT = 180  # seconds; a build that takes longer is cancelled (the engine stops it when we hang up)
READY_WITHIN = 30.0  # seconds for the container to answer /health
BUILD_MEMORY = 1024 * 2**20
RUN_MEMORY = "512m"

# Build-time reaches for the network or the host; network none stops the rest.
_REFUSED_RUN = re.compile(r"--mount|--network|--security|://|\b(curl|wget|git\s+clone|apt-get|apk|nc|ncat|"
                          r"ssh|scp|rsync)\b|/dev/tcp")
_SECRET_WORDS = {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIALS", "APIKEY"}
_SECRET_ENDINGS = ("API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "SECRET_KEY")
_SECRET_FILE = re.compile(r"(^|/)(\.env|id_rsa|id_ed25519|\.ssh|\.aws|\.netrc|.*\.pem)$")
_SMALL_BASE = re.compile(r"slim|alpine|distroless|minimal")
_ROOT_USERS = ("root", "0")


class NotRun(Exception):
    """What the live layer needs is missing here (no engine, no grader image)."""


class BuildRefused(Exception):
    """The Dockerfile reaches for the network or the host at build time."""


# --- static -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    value: str  # flags included, continuation lines joined
    line: int  # 1-based


@dataclass
class Dockerfile:
    """A Dockerfile's instructions and hadolint's findings."""

    text: str
    instructions: list[Instruction]
    findings: list[dict] = field(default_factory=list)  # hadolint's JSON: code, level, line, message

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
        instructions = [Instruction(s["instruction"].upper(), s["value"], s["startline"] + 1)
                        for s in parser.structure if s["instruction"] != "COMMENT"]
        return cls(text, instructions, lint(text))

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def stages(self) -> list[tuple[str, str]]:
        """(image, alias) of each FROM, flags dropped."""
        out = []
        for i in self.all("FROM"):
            words = [w for w in i.value.split() if not w.startswith("--")]
            image = words[0] if words else ""
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else ""
            out.append((image, alias))
        return out

    def base_images(self) -> list[str]:
        """The images the stages start from, leaving out earlier stages."""
        aliases, bases = set(), []
        for image, alias in self.stages():
            if image not in aliases:
                bases.append(image)
            aliases.add(alias)
        return bases

    def port(self) -> int:
        """The first port EXPOSEd, or the lab's default."""
        for i in self.all("EXPOSE"):
            match = re.match(r"(\d+)", i.value.strip())
            if match:
                return int(match.group(1))
        return DEFAULT_PORT


def lint(text: str) -> list[dict]:
    """hadolint's findings for ``text`` (it reads the text only, never builds). Its
    ``# hadolint ignore=`` comments are not honoured: the rules are the grader's.
    Every Dockerfile test parses the same text: hadolint runs once for it."""
    return [dict(finding) for finding in _lint(text)]


@functools.lru_cache(maxsize=4)
def _lint(text: str) -> tuple[dict, ...]:
    binary = Path(sysconfig.get_path("scripts")) / "hadolint"
    try:
        proc = subprocess.run([str(binary), "--no-fail", "--disable-ignore-pragma", "--format", "json", "-"],
                              input=text, capture_output=True, text=True, timeout=LINT_TIMEOUT, check=False)
        return tuple(f for f in json.loads(proc.stdout or "[]") if isinstance(f, dict))
    except (json.JSONDecodeError, subprocess.TimeoutExpired) as exc:
        return ({"code": "DL1000", "level": "error", "line": 0, "message": f"hadolint could not read it: {exc}"},)


def refusal(df: Dockerfile) -> str | None:
    """Why this Dockerfile is refused, or None: it must build from its own files, offline."""
    stages = {alias for _, alias in df.stages() if alias} | {str(n) for n in range(len(df.stages()))}
    for i in df.instructions:
        if i.keyword == "RUN" and _REFUSED_RUN.search(i.value):
            return f"line {i.line}: RUN reaches for the network or the host ({i.value[:80]})"
        if i.keyword == "ADD" and "://" in i.value or i.keyword == "ADD" and "git@" in i.value:
            return f"line {i.line}: ADD downloads from the network ({i.value[:80]})"
        source = re.search(r"--from=(\S+)", i.value) if i.keyword in ("COPY", "ADD") else None
        if source and source.group(1) not in stages:
            return f"line {i.line}: COPY --from another image ({source.group(1)})"
    if not df.all("FROM"):
        return "no FROM line: this is not a Dockerfile yet"
    return None


def pinned_base(df: Dockerfile) -> list[str]:
    """Every base image names a version (tag with a digit, or a digest), never latest."""
    problems = [f"{image}: pin a version tag such as python:3.11-slim" for image in df.base_images()
                if not re.search(r"@sha256:|:[^/]*\d", image) or image.endswith(":latest")]
    return problems + _findings(df, {"DL3006", "DL3007"})


def dependencies_before_code(df: Dockerfile) -> list[str]:
    """The dependencies are installed from requirements.txt before the app's code is copied."""
    install = next((n for n, i in enumerate(df.instructions)
                    if i.keyword == "RUN" and re.search(r"pip3?\s+install|-m\s+pip\s+install", i.value)), None)
    if install is None:
        return ["no RUN pip install: the image never installs requirements.txt"]
    code = next((n for n, i in enumerate(df.instructions) if i.keyword in ("COPY", "ADD")
                 and any(not s.startswith("requirements") for s in _copy_sources(i))), None)
    if code is not None and code < install:
        line = df.instructions[code].line
        return [f"line {line} copies the code before the dependencies are installed: every edit reinstalls them"]
    return []


def non_root(df: Dockerfile) -> list[str]:
    user = df.last("USER")
    if user is None or user.value.split(":")[0].strip() in _ROOT_USERS:
        return ["the container runs as root: add a USER (a non-root uid) after the install steps"]
    return _findings(df, {"DL3002"})


def exposes_port(df: Dockerfile) -> list[str]:
    return [] if df.all("EXPOSE") else ["no EXPOSE: say which port the app listens on"]


def health_check(df: Dockerfile) -> list[str]:
    check = df.last("HEALTHCHECK")
    if check is None or check.value.strip().upper() == "NONE" or "CMD" not in check.value.upper():
        return ["no HEALTHCHECK: nothing can tell a hung container from a healthy one"]
    return []


def no_secrets(df: Dockerfile) -> list[str]:
    """No ENV or ARG named like a credential (both stay readable in the image's
    history), and no credential file copied in."""
    problems = []
    for i in df.all("ENV") + df.all("ARG"):
        names = re.findall(r"([A-Za-z_]\w*)=", i.value) if "=" in i.value else i.value.split()[:1]
        for name in names:
            if _secret_name(name):
                problems.append(f"line {i.line}: {name} is baked into the image; pass secrets at run time")
    for i in df.all("COPY") + df.all("ADD"):
        problems += [f"line {i.line}: copies {s}" for s in _copy_sources(i) if _SECRET_FILE.search(s)]
    return problems


def _secret_name(name: str) -> bool:
    """GITHUB_TOKEN, DB_PASSWORD, OPENAI_API_KEY; not TOKENIZERS_PARALLELISM."""
    upper = name.upper()
    return bool(set(upper.split("_")) & _SECRET_WORDS) or upper.endswith(_SECRET_ENDINGS)


def small_image(df: Dockerfile) -> list[str]:
    """A slim base, and no package caches left in the layers."""
    problems = [f"{image}: start from a slim base" for image in df.base_images() if not _SMALL_BASE.search(image)]
    return problems + _findings(df, {"DL3042", "DL3009"})


MAPPED_CODES = {"DL3006", "DL3007", "DL3002", "DL3042", "DL3009", "DL3064"}  # DL3064: see no_secrets


def other_findings(df: Dockerfile) -> list[str]:
    """hadolint's errors and warnings that no rule above accounts for."""
    return [_finding_text(f) for f in df.findings
            if f.get("code") not in MAPPED_CODES and f.get("level") in ("error", "warning")]


def _findings(df: Dockerfile, codes: set[str]) -> list[str]:
    return [_finding_text(f) for f in df.findings if f.get("code") in codes]


def _finding_text(finding: dict) -> str:
    return f"line {finding.get('line')}: {finding.get('code')} {finding.get('message')}"


def _copy_sources(i: Instruction) -> list[str]:
    words = [w for w in i.value.split() if not w.startswith("--")]
    if words and words[0].startswith("["):
        words = json.loads(i.value[i.value.index("["):]) if i.value.rstrip().endswith("]") else words
    return [w.strip('"') for w in words[:-1]]


# --- reading what the notebook wrote ------------------------------------------------------


def read_files(nb, names: list[str]) -> dict[str, bytes | None]:
    """The files the notebook wrote in its folder, read inside the sandbox: bytes, or None
    for one that is missing, not a regular file, or over FILE_LIMIT."""
    reader = ("(lambda p: p.read_bytes() if p.is_file() and not p.is_symlink() "
              f"and p.stat().st_size <= {FILE_LIMIT} else None)(__import__('pathlib').Path({{!r}}))")
    return {name: nb.ref(reader.format(name)) for name in names}


def dockerfile(files: dict[str, bytes | None]) -> Dockerfile:
    """The parsed Dockerfile; ValueError if there is none to parse."""
    raw = files.get("Dockerfile")
    if raw is None:
        raise ValueError("no Dockerfile was written")
    return Dockerfile.parse(raw.decode("utf-8", errors="replace"))


# --- in-process: the app under TestClient, inside the sandbox -----------------------------

# What both probes keep of a response: data only, the body cut short.
_OBSERVE = r'''
def observe(response):
    try:
        body = response.json()
    except ValueError:
        body = None
    return {"status": response.status_code, "json": body, "text": response.text[:300]}
'''

# Runs in a fresh interpreter in the sandbox, on copies of app.py and the model.
# The model file is away for the first request after start-up: only a model
# loaded at start-up can answer it. Then the file is back for the others.
_APP_PROBE = _OBSERVE + r'''
import json, os, shutil, sys, tempfile, traceback
rows, bad, mark = json.loads(sys.stdin.read())
report = {"error": None}
try:
    missing = [name for name in ("app.py", "model.joblib") if not os.path.isfile(name)]
    if missing:
        raise FileNotFoundError(" and ".join(missing) + " missing: run the cells that write them")
    work = tempfile.mkdtemp()
    for name in ("app.py", "model.joblib"):
        shutil.copy(name, work)
    os.chdir(work)
    sys.path.insert(0, work)
    import joblib
    model = joblib.load("model.joblib")
    report["expected"] = [int(p) for p in model.predict(rows)]
    from fastapi.testclient import TestClient
    import app
    with TestClient(app.app, raise_server_exceptions=False) as client:
        os.rename("model.joblib", "model.away")
        report["without_file"] = observe(client.post("/predict", json={"features": rows[0]}))
        os.rename("model.away", "model.joblib")
        report["health"] = observe(client.get("/health"))
        report["predict"] = [observe(client.post("/predict", json={"features": row})) for row in rows]
        report["bad"] = {name: observe(client.post("/predict", json=body)) for name, body in bad.items()}
        report["openapi"] = observe(client.get("/openapi.json"))["json"]
except BaseException:
    report["error"] = traceback.format_exc(limit=-3)[-1500:]
print(mark + json.dumps(report) + mark)
'''


def probe_app(nb, rows: list[list[float]], bad: dict[str, object]) -> dict:
    """What the app does with ``rows`` and the ``bad`` request bodies, run in the sandbox.

    The result is data only: ``health``, ``predict`` (one per row), ``bad`` (by name) hold
    ``{"status", "json", "text"}``; ``without_file`` is the first request, made while the
    model file was away; ``expected`` is the saved model's own predictions;
    ``openapi`` the app's schema; ``error`` what went wrong before the requests, if anything.
    """
    mark = secrets.token_hex(16)  # printed JSON without it is not ours
    payload = json.dumps([rows, bad, mark])
    expr = (f"(lambda r: (r.stdout, r.stderr[-2000:]))(__import__('subprocess').run("
            f"[__import__('sys').executable, '-I', '-c', {_APP_PROBE!r}], input={payload!r}, "
            f"capture_output=True, text=True, timeout={PROBE_TIMEOUT}))")
    stdout, stderr = nb.ref(expr)
    parts = stdout.split(mark)
    if len(parts) != 3:
        return {"error": f"the app's process died before it answered: {stderr.strip()[-800:]}"}
    return json.loads(parts[1])


# --- live: the image built and run by a Docker engine -------------------------------------


@dataclass
class Live:
    """What the running container did; ``startup`` is None if /health never answered."""

    user: str  # the image's USER
    run_as: str  # the user the grader ran it as: the image's, unless that is root
    added_bytes: int  # what the student's layers add to the base image
    startup: float | None
    health: dict | None
    predict: list[dict]
    bad: dict[str, dict]
    healthcheck: tuple[int, str] | None  # the HEALTHCHECK command's exit code and output
    logs: str = ""


_LIVE_PROBE = _OBSERVE + r'''
import json, sys, time, httpx
port, rows, bad, wait = json.loads(sys.argv[1])
base = f"http://127.0.0.1:{port}"
report = {"ready_at": None, "health": None, "predict": [], "bad": {}}
deadline = time.time() + wait
while time.time() < deadline:
    try:
        health = httpx.get(base + "/health", timeout=2)
        if health.status_code == 200:
            report["ready_at"], report["health"] = time.time(), observe(health)
            break
    except httpx.HTTPError:
        pass
    time.sleep(0.1)
if report["ready_at"] is not None:
    report["predict"] = [observe(httpx.post(base + "/predict", json={"features": r}, timeout=10)) for r in rows]
    report["bad"] = {k: observe(httpx.post(base + "/predict", json=b, timeout=10)) for k, b in bad.items()}
print(json.dumps(report))
'''


def engine():
    """A Docker client and the grader's kernel image to build on; NotRun if either is missing."""
    import docker

    from grader import image

    try:
        client = docker.from_env(timeout=BUILD_TIMEOUT)
        client.ping()
    except docker.errors.DockerException:
        raise NotRun("no Docker engine runs on the grading machine") from None
    base = image.current_image(client)
    if base is None:
        raise NotRun("the grader's image is not built here (grade image build)")
    remove_orphans(client)
    return client, base


def run_live(files: dict[str, bytes | None], rows: list[list[float]], bad: dict[str, object]) -> Live:
    """Build the notebook's image offline, run it, probe it, and remove it all.

    NotRun where no engine runs; BuildRefused for a Dockerfile that reaches out;
    RuntimeError (with the build log's end) when the build fails.
    """
    import docker
    import requests
    import urllib3

    client, base = engine()
    df = dockerfile(files)
    reason = refusal(df)
    if reason:
        raise BuildRefused(reason)
    tag = f"grader-deployment:{uuid.uuid4().hex[:12]}"
    containers = []
    try:
        return _run(client, base, files, df, tag, containers, rows, bad)
    except (docker.errors.DockerException, requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise RuntimeError(f"the container did not run: {exc}") from None
    finally:
        for container in containers:
            _quietly(container.remove, force=True)
        _quietly(client.images.remove, tag, force=True)


def _run(client, base: str, files, df: Dockerfile, tag: str, containers: list, rows, bad) -> Live:
    """Build, start as the image's own user (never root), probe, and collect what happened."""
    built = _build(client, files, df, base, tag)
    user = built.attrs["Config"].get("User") or ""
    run_as = user if user and user.split(":")[0] not in _ROOT_USERS else "65534:65534"
    started = time.time()
    app = client.containers.run(tag, detach=True, user=run_as, **_confined())
    containers.append(app)
    report = _probe(client, base, app, df.port(), rows, bad, containers)
    ready = report["ready_at"]
    return Live(user, run_as, built.attrs["Size"] - client.images.get(base).attrs["Size"],
                None if ready is None else max(0.0, ready - started), report["health"], report["predict"],
                report["bad"], _healthcheck(app, built, run_as) if ready is not None else None,
                app.logs(tail=20).decode(errors="replace"))


def _build(client, files: dict[str, bytes | None], df: Dockerfile, base: str, tag: str):
    """The built image; RuntimeError with the log's end if it does not build in time.
    The log is read here, chunk by chunk, so that even a build cut short by the timeout
    leaves no step images behind."""
    import docker
    import requests
    import urllib3

    log: list[str] = []
    error = None
    try:
        for chunk in client.api.build(
                fileobj=_context(files, rebased(df, base)), custom_context=True, tag=tag, decode=True,
                network_mode="none", pull=False, nocache=True, rm=True, forcerm=True,
                timeout=BUILD_TIMEOUT,  # the SDK's build has no timeout unless given one
                labels={LIVE_LABEL: "1", OWNER_LABEL: str(os.getpid())},
                container_limits={"memory": BUILD_MEMORY, "memswap": BUILD_MEMORY, "cpushares": 512}):
            log.append(str(chunk.get("stream", chunk.get("error", ""))))
            error = chunk.get("error", error)
    except docker.errors.APIError as exc:
        error = f"the image does not build: {exc.explanation}"
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):  # before or while streaming
        error = f"the image did not build within {BUILD_TIMEOUT} s"
    if error is not None:
        _remove_steps(client, "".join(log), base)
        raise RuntimeError(f"{error}\n{''.join(log)[-1500:]}".strip())
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


def _remove_steps(client, log: str, base: str) -> None:
    """The images of the steps a failed build did finish (its log names them): nothing else
    would ever remove them."""
    keep = client.images.get(base).id
    for step in reversed(re.findall(r"---> ([0-9a-f]{12})\b", log)):
        if not keep.removeprefix("sha256:").startswith(step):
            for running in client.containers.list(all=True, filters={"ancestor": step}):  # a step cut short
                _quietly(running.remove, force=True)
            _quietly(client.images.remove, step, force=True)


def rebased(df: Dockerfile, base: str) -> str:
    """The Dockerfile with every external base image replaced by the grader's own image:
    builds need no registry, and every student builds on the same Python and libraries."""
    lines = df.text.splitlines()
    aliases: set[str] = set()
    for instruction, (image, alias) in zip(df.all("FROM"), df.stages()):
        if image not in aliases:
            number = instruction.line - 1
            lines[number] = f"FROM {base}" + (f" AS {alias}" if alias else "")
        aliases.add(alias)
    return "\n".join(lines) + "\n"


def _confined() -> dict:
    """The student's container: no network, read-only, small, no privileges."""
    return {"network_mode": "none", "read_only": True, "tmpfs": {"/tmp": "rw,size=16m,nosuid,nodev"},
            "mem_limit": RUN_MEMORY, "memswap_limit": RUN_MEMORY, "pids_limit": 64, "nano_cpus": 1_000_000_000,
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "labels": {LIVE_LABEL: "1", OWNER_LABEL: str(os.getpid())}}


def _probe(client, base: str, app, port: int, rows, bad, containers: list) -> dict:
    """Run the grader's probe in a container that shares only the app's network namespace,
    so it reaches the app on 127.0.0.1 and nothing else does."""
    argument = json.dumps([port, rows, bad, READY_WITHIN])
    probe = client.containers.run(base, ["python", "-c", _LIVE_PROBE, argument], detach=True,
                                  user="65534:65534", **{**_confined(), "network_mode": f"container:{app.id}"})
    containers.append(probe)
    probe.wait(timeout=READY_WITHIN + 60)
    output = probe.logs(stdout=True, stderr=False).decode(errors="replace").strip().splitlines()
    if not output:
        raise RuntimeError(f"the probe failed: {probe.logs().decode(errors='replace')[-800:]}")
    return json.loads(output[-1])


def _healthcheck(app, built, run_as: str) -> tuple[int, str] | None:
    """The image's own HEALTHCHECK command, run once in the running container."""
    test = (built.attrs["Config"].get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    command = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    code, output = app.exec_run(["timeout", "10", *command], user=run_as)
    return code, output.decode(errors="replace")[-500:]


def remove_orphans(client) -> None:
    """Containers and images of graders that were killed before they cleaned up.

    Only what carries both labels: a build adds them as two steps, and the step image
    between them, with one label and no owner, belongs to a build still running."""
    both = {"label": [LIVE_LABEL, OWNER_LABEL]}
    for container in client.containers.list(all=True, filters=both):
        if orphaned(container.labels):
            _quietly(container.remove, force=True)
    for image in client.images.list(filters=both):
        if orphaned(image.labels):
            _quietly(client.images.remove, image.id, force=True)


def _quietly(fn, *args, **kwargs) -> None:
    import docker

    try:
        fn(*args, **kwargs)
    except docker.errors.APIError:
        pass
