"""Grading a model served over HTTP from a container image, in three layers.

- **Static**: the Dockerfile is split into instructions exactly as Docker's own
  parser splits them (:func:`instructions`), and linted with hadolint, in the
  grader's process. Both only read text. Text that tools could read in more
  than one way (odd line breaks and control characters, parser directives, a
  FROM that is continued or uses variables) is refused: :func:`refusal`.
- **In-process**: the app's files are read out of the kernel as bytes, and the
  app is served by uvicorn in a fresh sandbox of the kernel's own backend that
  holds only those files, on a Unix socket. The grader's process sends the
  requests itself (httpx), so nothing the notebook or the app did to a process
  can change what is observed; the saved model's own predictions come from a
  second fresh sandbox. The tests judge the plain observations.
- **Live**, where a Docker engine runs: the image is built with no network from
  the grader's own kernel image (no registry is needed or reachable), started
  read-only with limits and no network, probed over loopback by a second
  container that shares only its network namespace, measured, and removed.
  Where no engine runs, :class:`NotRun` says so and the tests skip: the grader
  reports them as not run and leaves their points out of the maximum.

A Dockerfile that reaches for the network or the host at build time (``ADD``
of a URL, ``RUN --mount``, a download in ``RUN``), or for any image but the
grader's, is refused before anything is built: :func:`refusal` names why, and
the tests give it nothing. The rewritten Dockerfile is parsed again and every
FROM checked before it is built (:func:`rebased`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from grader import bounded
from grader.engine.sandbox import Backend, Limits, SandboxUnavailable, get_backend
from grader.engine.sandbox.docker import OWNER_LABEL, orphaned

NOTEBOOK_FILES = ("app.py", "model.joblib", "requirements.txt", "Dockerfile")  # what the lab's notebook writes
FILE_LIMIT = 8 * 2**20  # bytes: a lab's app, model and Dockerfile are far smaller
DOCKERFILE_LIMIT = 64 * 2**10  # bytes: a real Dockerfile is a few KiB; hadolint reads no more
LINT_TIMEOUT = 30
LINT_OUTPUT_LIMIT = 2**20  # bytes of hadolint's JSON kept
DEFAULT_PORT = 8000
LIVE_LABEL = "grader.deployment"
BUILD_LABEL = "grader.build"  # a random id per build: what its clean-up may remove
BUILD_TIMEOUT = 180  # seconds; a build that takes longer is cancelled (the engine stops it when we hang up)
READY_WITHIN = 30.0  # seconds for the container to answer /health
BUILD_MEMORY = 1024 * 2**20
RUN_MEMORY = "512m"
PROBE_TIMEOUT = 90.0  # seconds for the whole in-process probe: both sandboxes and every request
REQUEST_TIMEOUT = 10.0  # seconds for one request
READY_POLL = 0.05  # seconds waited on the app's process between two looks at its socket
BODY_LIMIT = 32 * 2**10  # bytes of a response body kept; a longer one is cut and not parsed
TEXT_LIMIT = 300  # characters of a response body shown in a test's message
LOG_TAIL = 1500  # characters kept of a build log, a container's or the app's output
PREDICTIONS_LIMIT = 2**20  # bytes of the saved model's predictions, as JSON
LIVE_REPORT_LIMIT = 4 * 2**20  # bytes of the live probe's report
PROBE_LIMITS = Limits(memory=1024, cpu_seconds=int(PROBE_TIMEOUT) + 30, processes=64, file_size=16,
                      scratch=64, tmp=64)

# Build-time reaches for the network or the host; network none stops the rest.
_REFUSED_RUN = re.compile(r"--mount|--network|--security|://|\b(curl|wget|git\s+clone|apt-get|apk|nc|ncat|"
                          r"ssh|scp|rsync)\b|/dev/tcp")
_SECRET_WORDS = {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIALS", "APIKEY"}
_SECRET_ENDINGS = ("API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "SECRET_KEY")
_SECRET_FILE = re.compile(r"(^|/)(\.env|id_rsa|id_ed25519|\.ssh|\.aws|\.netrc|.*\.pem)$")
_SMALL_BASE = re.compile(r"slim|alpine|distroless|minimal")
_ROOT_USERS = ("root", "0")

# How Docker's parser reads a Dockerfile (moby/buildkit frontend/dockerfile/parser): lines end
# at \n (a \r before it belongs to the line end); a line whose first non-blank is # is a
# comment, also inside a continuation; a backslash then blanks at a line's end continues the
# instruction, across comment and blank lines; an instruction is its keyword, blanks, the rest.
_CONTINUATION = re.compile(r"\\[ \t]*$")
_KEYWORD = re.compile(r"([^ \t]*)[ \t]*(.*)", re.DOTALL)
_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(escape|syntax)[ \t]*=", re.IGNORECASE)
_LOOKS_LIKE_FROM = re.compile(r"[ \t]*from([ \t]|$)", re.IGNORECASE)
_STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*")  # Docker's rule for a stage name, lower-cased
_FLAG = re.compile(r"--[a-z-]+=[^ \t]*")
_SAFE_WHITESPACE = " \t\n"


class NotRun(Exception):
    """What the live layer needs is missing here (no engine, no grader image)."""


class BuildRefused(Exception):
    """The Dockerfile reaches for the network, the host or another image at build time,
    or the grader cannot be certain how Docker would read it."""


class ProbeError(Exception):
    """The app could not be probed: it did not start, or its model did not predict."""


# --- static -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    value: str  # flags included, continuation lines joined
    line: int  # 1-based, where it starts
    end: int  # 1-based, its last line (continuation lines included)


@dataclass
class Dockerfile:
    """A Dockerfile's instructions and hadolint's findings. ``problem`` says why the text
    cannot be read with certainty; it then has no instructions and is refused."""

    text: str
    instructions: list[Instruction]
    findings: list[dict] = field(default_factory=list)  # hadolint's JSON: code, level, line, message
    problem: str | None = None

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        problem = unreadable(text)
        if problem:
            return cls(text, [], [], problem)
        return cls(text, instructions(text), lint(text))

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def stages(self) -> list[tuple[str, str]]:
        """(image, alias) of each FROM, flags dropped; aliases lower-cased, as Docker keeps them."""
        return [stage(i) for i in self.all("FROM")]

    def base_images(self) -> list[str]:
        """The images the stages start from, leaving out earlier stages."""
        aliases, bases = set(), []
        for image, alias in self.stages():
            if image.lower() not in aliases:
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


def physical_lines(text: str) -> list[str]:
    """The lines as Docker's scanner cuts them: at \\n only, the \\r of a \\r\\n dropped."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def instructions(text: str) -> list[Instruction]:
    """The instructions of ``text``, split exactly as Docker splits them (see _CONTINUATION).
    Only meaningful for text that :func:`unreadable` accepts."""
    lines, found, n = physical_lines(text), [], 0
    while n < len(lines):
        first, n = n + 1, n + 1
        line = lines[n - 1].lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        joined, more = _continued(line)
        while more and n < len(lines):
            n += 1
            part = lines[n - 1]
            if part.lstrip(" \t").startswith("#") or not part.strip(" \t"):
                continue
            piece, more = _continued(part)
            joined += piece
        keyword, value = _KEYWORD.match(joined.strip(" \t")).groups()
        found.append(Instruction(keyword.upper(), value, first, n))
    return found


def _continued(line: str) -> tuple[str, bool]:
    """The line without its continuation mark, and whether it had one."""
    cut = _CONTINUATION.sub("", line)
    return cut, cut != line


def unreadable(text: str) -> str | None:
    """Why tools could read ``text`` differently from Docker, or None. Only blanks, tabs and
    \\n (or \\r\\n) may separate anything; parser directives and heredocs change the parser."""
    if len(text.encode()) > DOCKERFILE_LIMIT:
        return f"the Dockerfile is larger than {DOCKERFILE_LIMIT // 2**10} KiB"
    for number, line in enumerate(physical_lines(text), 1):
        odd = next((c for c in line if _odd(c)), None)
        if odd is not None:
            return (f"line {number}: the character U+{ord(odd):04X} ({unicodedata.name(odd, 'a control character')}) "
                    "is read differently by different tools: remove it")
        if _DIRECTIVE.match(line):
            return f"line {number}: parser directives (# escape=, # syntax=) are not allowed"
    for i in instructions(text):
        if "<<" in i.value:
            return f"line {i.line}: heredocs (<<) are not allowed"
    return None


def _odd(c: str) -> bool:
    """A character Docker, Python and hadolint do not all treat as plain text: control and
    format characters, and every blank or line break but space, tab and \\n."""
    return c not in _SAFE_WHITESPACE and (c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")
                                          or c == "\ufffd")


def stage(i: Instruction) -> tuple[str, str]:
    """(image, alias) of one FROM, flags dropped, the alias lower-cased."""
    words = [w for w in i.value.split() if not w.startswith("--")]
    image = words[0] if words else ""
    alias = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else ""
    return image, alias


def lint(text: str) -> list[dict]:
    """hadolint's findings for ``text`` (it reads the text only, never builds). Its
    ``# hadolint ignore=`` comments are not honoured: the rules are the grader's.
    Every Dockerfile test parses the same text: hadolint runs once for it."""
    return [dict(finding) for finding in _lint(text)]


@functools.lru_cache(maxsize=4)
def _lint(text: str) -> tuple[dict, ...]:
    """hadolint's JSON, read from a file and cut at LINT_OUTPUT_LIMIT: never all of it in memory."""
    binary = Path(sysconfig.get_path("scripts")) / "hadolint"
    try:
        with tempfile.TemporaryFile() as out:
            subprocess.run([str(binary), "--no-fail", "--disable-ignore-pragma", "--format", "json", "-"],
                           input=text.encode(), stdout=out, stderr=subprocess.DEVNULL, timeout=LINT_TIMEOUT,
                           check=False)
            out.seek(0)
            report = bounded.loads(out.read(LINT_OUTPUT_LIMIT + 1) or b"[]", LINT_OUTPUT_LIMIT, "hadolint's report")
        return tuple(f for f in report if isinstance(f, dict)) if isinstance(report, list) else ()
    except (ValueError, subprocess.TimeoutExpired) as exc:
        return ({"code": "DL1000", "level": "error", "line": 0, "message": f"hadolint could not read it: {exc}"},)


def refusal(df: Dockerfile) -> str | None:
    """Why this Dockerfile is refused, or None: it must build from its own files, offline, on
    the grader's image alone, and read the same to the grader as to Docker."""
    if df.problem:
        return df.problem
    reason = _reaches_out(df) or _ambiguous_from(df)
    if reason:
        return reason
    if not df.all("FROM"):
        return "no FROM line: this is not a Dockerfile yet"
    try:
        rebased(df, "grader-check:0", build_labels("check"))
    except BuildRefused as exc:
        return str(exc)
    return None


def _reaches_out(df: Dockerfile) -> str | None:
    """An instruction that reaches the network, the host, another image or the grader's labels."""
    earlier: set[str] = set()  # the stages before the current one, by alias and by number
    current: set[str] = set()
    stages = 0
    for i in df.instructions:
        if i.keyword == "FROM":
            problem = _from_problem(i)
            if problem:
                return problem
            earlier |= current
            current = {str(stages), stage(i)[1]} - {""}
            stages += 1
        if i.keyword == "RUN" and _REFUSED_RUN.search(i.value):
            return f"line {i.line}: RUN reaches for the network or the host ({i.value[:80]})"
        if i.keyword == "ADD" and ("://" in i.value or "git@" in i.value):
            return f"line {i.line}: ADD downloads from the network ({i.value[:80]})"
        if i.keyword == "ONBUILD":
            return f"line {i.line}: ONBUILD is not allowed"
        if i.keyword == "LABEL" and "grader" in i.value.lower():
            return f"line {i.line}: labels named grader are the grader's own"
        source = re.search(r"--from=(\S+)", i.value) if i.keyword in ("COPY", "ADD") else None
        if source and source.group(1).lower() not in earlier:
            return f"line {i.line}: COPY --from names no earlier stage ({source.group(1)[:80]})"
    return None


def _from_problem(i: Instruction) -> str | None:
    """Why the grader cannot rewrite this FROM with certainty, or None."""
    if i.end != i.line:
        return f"line {i.line}: a FROM must fit on one line (no continuation)"
    if "$" in i.value:
        return f"line {i.line}: a FROM may not use variables"
    words = i.value.split()
    while words and words[0].startswith("--"):
        if not _FLAG.fullmatch(words.pop(0)):
            return f"line {i.line}: a FROM flag the grader cannot read"
    if len(words) == 1 or len(words) == 3 and words[1].upper() == "AS" and _STAGE_NAME.fullmatch(words[2].lower()):
        return None
    return f"line {i.line}: FROM takes an image and an optional AS name ({i.value[:80]})"


def _ambiguous_from(df: Dockerfile) -> str | None:
    """A line that reads as a FROM but is not the start of one (it continues the instruction
    above it): other tools would take it for one."""
    starts = {i.line for i in df.all("FROM")}
    for number, line in enumerate(physical_lines(df.text), 1):
        if _LOOKS_LIKE_FROM.match(line) and number not in starts:
            return f"line {number}: this FROM continues the instruction above it: end that line without a backslash"
    return None


# --- rewriting onto the grader's image ------------------------------------------------------


def build_labels(build: str) -> dict[str, str]:
    """The labels every image and container of one build carries: the build's id is what its
    clean-up removes by, so nothing the grader did not make can match."""
    return {LIVE_LABEL: "1", OWNER_LABEL: str(os.getpid()), BUILD_LABEL: build}


def rebased(df: Dockerfile, base: str, labels: dict[str, str]) -> str:
    """The Dockerfile with every stage built on the grader's own image (or on an earlier
    stage), each FROM followed by a LABEL with ``labels``, so that every image of the build
    carries them. Builds need no registry, and every student builds on the same Python and
    libraries. The result is parsed again and checked; BuildRefused if it does not hold."""
    label = _label_instruction(labels)
    lines = physical_lines(df.text)
    aliases: set[str] = set()
    for i in df.all("FROM"):
        image, alias = stage(i)
        parent = image.lower() if image.lower() in aliases else base
        lines[i.line - 1] = f"FROM {parent}" + (f" AS {alias}" if alias else "") + "\n" + label
        aliases.add(alias)
    text = "\n".join(lines).removesuffix("\n") + "\n"
    problem = _unverified(text, base, label)
    if problem:
        raise BuildRefused(f"the grader could not rebase this Dockerfile with certainty: {problem}")
    return text


def _label_instruction(labels: dict[str, str]) -> str:
    return "LABEL " + " ".join(f'{key}="{value}"' for key, value in labels.items())


def _unverified(text: str, base: str, label: str) -> str | None:
    """What is wrong with a rewritten Dockerfile, read again as Docker reads it: every FROM
    names ``base`` or an earlier stage, on one line, followed by the grader's LABEL."""
    problem = unreadable(text)
    if problem:
        return problem
    df = Dockerfile(text, instructions(text))
    problem = _ambiguous_from(df)
    if problem or not df.all("FROM"):
        return problem or "no FROM"
    aliases: set[str] = set()
    following = dict(zip(df.instructions, [*df.instructions[1:], None], strict=True))
    for i in df.all("FROM"):
        words = i.value.split()
        named = bool(words) and (words[0] == base or words[0] in aliases)
        form = len(words) == 1 or len(words) == 3 and words[1] == "AS" and _STAGE_NAME.fullmatch(words[2])
        after = following[i]
        labelled = after is not None and after.keyword == "LABEL" and f"LABEL {after.value}" == label
        if i.end != i.line or not named or not form or not labelled:
            return f"line {i.line}: {i.value[:80]}"
        aliases.update(words[2:])
    return None


# --- the rules ----------------------------------------------------------------------------


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
    return f"line {finding.get('line')}: {finding.get('code')} {str(finding.get('message'))[:300]}"


def _copy_sources(i: Instruction) -> list[str]:
    words = [w for w in i.value.split() if not w.startswith("--")]
    if words and words[0].startswith("["):
        try:
            words = json.loads(i.value[i.value.index("["):]) if i.value.rstrip().endswith("]") else words
        except ValueError:
            pass
    return [str(w).strip('"') for w in words[:-1]]


# --- reading what the notebook wrote ------------------------------------------------------


def read_files(nb, names: list[str] | tuple[str, ...]) -> dict[str, bytes | None]:
    """The files the notebook wrote in its folder, read inside the sandbox: bytes, or None
    for one that is missing, not a regular file, or over FILE_LIMIT (checked again here:
    the kernel's answer is the student's)."""
    reader = ("(lambda p: p.read_bytes() if p.is_file() and not p.is_symlink() "
              f"and p.stat().st_size <= {FILE_LIMIT} else None)(__import__('pathlib').Path({{!r}}))")
    files = {name: nb.ref(reader.format(name)) for name in names}
    return {name: data if isinstance(data, bytes) and len(data) <= FILE_LIMIT else None
            for name, data in files.items()}


def dockerfile(files: dict[str, bytes | None]) -> Dockerfile:
    """The parsed Dockerfile; ValueError if there is none to parse."""
    raw = files.get("Dockerfile")
    if raw is None:
        raise ValueError("no Dockerfile was written")
    return Dockerfile.parse(raw.decode("utf-8", errors="replace"))


# --- in-process: the app served in a fresh sandbox, probed from the grader's process ---------

# In a fresh sandbox holding only model.joblib: the saved model's own predictions, written as
# JSON into the shared folder (a container's standard output does not reach the grader).
_PREDICT = r'''
import json, os, sys, traceback
try:
    import joblib
    answer = {"predictions": [int(p) for p in joblib.load("model.joblib").predict(json.loads(sys.argv[2]))]}
except Exception:
    answer = {"error": traceback.format_exc(limit=-3)[-1500:]}
with open(os.path.join(sys.argv[1], "predictions.json"), "w") as out:
    json.dump(answer, out)
'''

# In a fresh sandbox holding only app.py and model.joblib: the app under uvicorn, its output in
# app.log. The socket is bound here and handed to uvicorn, which listens on it once the app has
# started up: an accepted connection means start-up is over. Nothing here touches the socket's
# path again, so the grader can move it out of the sandbox's reach at any time.
_SERVE = r'''
import os, socket, sys
log = os.open(os.path.join(sys.argv[1], "app.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.dup2(log, 1)
os.dup2(log, 2)
sys.path.insert(0, os.getcwd())
import uvicorn
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(os.path.join(sys.argv[1], "app.sock"))
uvicorn.Server(uvicorn.Config("app:app", lifespan="on", log_level="warning")).run(sockets=[listener])
'''


def probe_app(nb, rows: list[list[float]], bad: dict[str, object], backend: Backend | None = None) -> dict:
    """What the app does with ``rows`` and the ``bad`` request bodies.

    app.py and model.joblib are read out of the kernel and served in a fresh sandbox of
    ``backend`` (by default the kernel's own, see :func:`notebook_backend`); every request is
    sent from this process. The result is data only: ``health``, ``predict`` (one per row),
    ``bad`` (by name) hold ``{"status", "json", "text"}``; ``without_file`` is the first
    request, made while the model file was emptied; ``expected`` is the saved model's own
    predictions; ``openapi`` the app's schema; ``error`` why there are none of these, if so.
    """
    files = read_files(nb, ["app.py", "model.joblib"])
    missing = [name for name, data in files.items() if data is None]
    if missing:
        return {"error": " and ".join(missing) + " missing: run the cells that write them"}
    backend = backend or notebook_backend(nb)
    deadline = time.monotonic() + PROBE_TIMEOUT
    with _host_copies(files) as folder:
        try:
            expected = _predictions(backend, folder / "model.joblib", rows, deadline)
            return {"error": None, "expected": expected, **_served(backend, folder, rows, bad, deadline)}
        except ProbeError as exc:
            return {"error": str(exc)}


def saved_predictions(nb, rows: list[list[float]], backend: Backend | None = None) -> list[int] | None:
    """The saved model's own predictions for ``rows`` (computed as :func:`probe_app` does), or
    None if it is missing or does not predict."""
    model = read_files(nb, ["model.joblib"])
    if model["model.joblib"] is None:
        return None
    with _host_copies(model) as folder:
        try:
            return _predictions(backend or notebook_backend(nb), folder / "model.joblib", rows,
                                time.monotonic() + PROBE_TIMEOUT)
        except ProbeError:
            return None


def notebook_backend(nb) -> Backend:
    """The backend the notebook's kernel runs in, so that its app runs in the same kind of
    sandbox. Tests run by ``check()`` in the student's own kernel have no grader's kernel:
    the default backend then, or none where it cannot run, as ``grade check`` does."""
    backend = getattr(nb, "backend", None)  # grader.testing.notebook.Notebook's; not the live notebook's
    if backend is not None:
        return backend
    try:
        return get_backend("bwrap")
    except SandboxUnavailable:
        return get_backend("none")


@contextlib.contextmanager
def _host_copies(files: dict[str, bytes]) -> Iterator[Path]:
    """A folder of the grader's holding ``files``, readable by any sandbox's user; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="grader-app-"))
    try:
        for name, data in files.items():
            (folder / name).write_bytes(data)
            (folder / name).chmod(0o644)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _sandboxed(backend: Backend, files: list[Path], script: str, *args: str) -> Iterator[tuple]:
    """``python -I -c script SHARED *args`` started in a fresh sandbox that holds only ``files``;
    SHARED is its read-write folder, at the same path inside and here. Yields the sandbox, the
    process and SHARED. Whatever happens, the process is killed, the sandbox closed (which ends
    everything in it) and the folder removed."""
    with contextlib.ExitStack() as stack:
        shared = Path(tempfile.mkdtemp(prefix="grader-probe-"))
        stack.callback(shutil.rmtree, shared, ignore_errors=True)
        sandbox = backend.open(files, shared, PROBE_LIMITS)
        stack.callback(sandbox.close)
        process = subprocess.Popen(sandbox.command([sys.executable, "-I", "-c", script, str(shared), *args]),
                                   cwd=sandbox.launch_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        stack.callback(_kill, process)
        yield sandbox, process, shared


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def _finished(process: subprocess.Popen, deadline: float) -> bool:
    """Whether the process ends before ``deadline`` (time.monotonic), waiting for it until then."""
    try:
        process.wait(max(0.0, deadline - time.monotonic()))
        return True
    except subprocess.TimeoutExpired:
        return False


def _predictions(backend: Backend, model: Path, rows: list[list[float]], deadline: float) -> list[int]:
    """The saved model's predictions for ``rows``, made in a fresh sandbox of their own."""
    with _sandboxed(backend, [model], _PREDICT, json.dumps(rows)) as (_, process, shared):
        if not _finished(process, deadline):
            raise ProbeError(f"the saved model did not predict within {PROBE_TIMEOUT:.0f} s")
        answer = _shared_json(shared / "predictions.json", PREDICTIONS_LIMIT)
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        raise ProbeError(f"the saved model did not load and predict:\n{answer['error'][-LOG_TAIL:]}")
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(rows) or \
            not all(type(p) is int for p in predictions):
        raise ProbeError("the saved model gave no predictions")
    return predictions


def _served(backend: Backend, folder: Path, rows: list[list[float]], bad: dict[str, object],
            deadline: float) -> dict:
    """The app's answers, asked over its socket from here while it runs in a fresh sandbox."""
    files = [folder / "app.py", folder / "model.joblib"]
    with _sandboxed(backend, files, _SERVE) as (sandbox, process, shared):
        address = _wait_ready(process, shared, folder, deadline)
        transport = httpx.HTTPTransport(uds=str(address))
        with httpx.Client(transport=transport, base_url="http://app", trust_env=False) as client:
            def ask(method: str, path: str, body: object = None) -> dict:
                return _observation(_request(client, method, path, body, deadline))

            with _emptied(_seen(sandbox, files[1])):
                without_file = ask("POST", "/predict", {"features": rows[0]})
            return {"without_file": without_file, "health": ask("GET", "/health"),
                    "predict": [ask("POST", "/predict", {"features": row}) for row in rows],
                    "bad": {name: ask("POST", "/predict", body) for name, body in bad.items()},
                    "openapi": ask("GET", "/openapi.json")["json"]}


def _seen(sandbox, path: Path) -> Path:
    """The file the sandboxed app opens for ``path``: that very file where the backend binds it,
    the backend's own copy where it copies files instead (no sandbox)."""
    return path if sandbox.sandboxed else Path(sandbox.launch_dir) / path.name


def _wait_ready(process: subprocess.Popen, shared: Path, private: Path, deadline: float) -> Path:
    """The app's socket, once the app accepts connections on it. It is first moved from the
    shared folder into the grader's own: the sandbox can put anything in its folder (a link to
    some other socket of the host), but cannot reach a socket the grader has taken away."""
    address = private / "app.sock"
    while time.monotonic() < deadline:
        if not os.path.lexists(address):
            with contextlib.suppress(FileNotFoundError):
                os.rename(shared / "app.sock", address)
        if _is_socket(address) and _accepts(address):
            return address
        if _finished(process, min(deadline, time.monotonic() + READY_POLL)):
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


def _request(client, method: str, path: str, body: object, deadline: float) -> dict:
    """One request, as data: its status and at most BODY_LIMIT bytes of its body as sent (no
    decompression, so no bomb), ``cut`` if it was longer or came too slowly; or, with status
    None, why it got no answer. Never later than ``deadline`` (time.monotonic) by more than one
    read. The live probe runs this same function inside its container."""
    left = min(REQUEST_TIMEOUT, deadline - time.monotonic())
    if left <= 0:
        return {"status": None, "error": "no answer: the probe's time was up"}
    try:
        headers = {"accept-encoding": "identity", "connection": "close"}  # one connection per request
        with client.stream(method, path, json=body, timeout=left, headers=headers) as response:
            data, cut = b"", False
            for chunk in response.iter_raw():
                data += chunk
                if len(data) > BODY_LIMIT or time.monotonic() > deadline:
                    cut = True
                    break
            return {"status": response.status_code, "body": data[:BODY_LIMIT].decode("utf-8", "replace"), "cut": cut}
    except httpx.HTTPError as exc:
        return {"status": None, "error": f"no answer: {type(exc).__name__}"}


def _observation(raw: object) -> dict:
    """``{"status", "json", "text"}`` of one answer from :func:`_request`: the body parsed here,
    within bounds, when it came whole."""
    raw = raw if isinstance(raw, dict) else {}
    status = raw.get("status") if type(raw.get("status")) is int else None
    body = raw.get("body") if isinstance(raw.get("body"), str) else ""
    parsed = None
    if status is not None and raw.get("cut") is False:
        with contextlib.suppress(ValueError):
            parsed = bounded.loads(body, BODY_LIMIT, "a response body")
    text = body if status is not None else str(raw.get("error", "no answer"))
    return {"status": status, "json": parsed, "text": text[:TEXT_LIMIT]}


def _shared_file(path: Path, limit: int, tail: bool = False) -> bytes:
    """At most ``limit`` bytes (the head, or the tail) of a file a sandbox wrote in its shared
    folder. The sandbox chose what is there: the file is opened without following a link and
    read only if it is a regular file. Empty if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        if tail:
            f.seek(max(0, info.st_size - limit))
        return f.read(limit)


def _shared_json(path: Path, limit: int) -> object:
    """The JSON document a sandbox wrote at ``path``, or None if there is none within ``limit``."""
    try:
        return bounded.loads(_shared_file(path, limit + 1), limit, path.name)
    except ValueError:
        return None


def _app_log(shared: Path) -> str:
    return _shared_file(shared / "app.log", LOG_TAIL, tail=True).decode("utf-8", "replace").strip()


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


# Runs in a container of the grader's image that shares only the app's network namespace,
# after the source of _request. It prints one line: the answers, as _request gives them.
_LIVE_PROBE = r'''
port, rows, bad, wait = json.loads(sys.argv[1])
client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False)
report = {"ready_at": None, "health": None, "predict": [], "bad": {}}
ready_by = time.monotonic() + wait
while time.monotonic() < ready_by:
    health = _request(client, "GET", "/health", None, time.monotonic() + 2)
    if health["status"] == 200:
        report["ready_at"], report["health"] = time.time(), health
        break
    time.sleep(0.1)
if report["ready_at"] is not None:
    deadline = time.monotonic() + 60
    report["predict"] = [_request(client, "POST", "/predict", {"features": r}, deadline) for r in rows]
    report["bad"] = {k: _request(client, "POST", "/predict", b, deadline) for k, b in bad.items()}
print(json.dumps(report))
'''


def _live_probe_script() -> str:
    """The live probe: the grader's own request function, then the loop above that uses it."""
    return (f"import httpx, json, sys, time\nBODY_LIMIT = {BODY_LIMIT}\nREQUEST_TIMEOUT = {REQUEST_TIMEOUT}\n\n"
            + inspect.getsource(_request) + _LIVE_PROBE)


def engine():
    """A Docker client and the grader's kernel image to build on; NotRun if either is missing."""
    import docker

    from grader.engine.sandbox import image
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

    NotRun where no engine runs; BuildRefused for a Dockerfile that reaches out or that the
    grader cannot rebase with certainty; RuntimeError (with the build log's end) when the
    build fails.
    """
    import docker
    import requests
    import urllib3

    client, base = engine()
    df = dockerfile(files)
    reason = refusal(df)
    if reason:
        raise BuildRefused(reason)
    build = secrets.token_hex(16)
    text = rebased(df, base, build_labels(build))
    try:
        return _run(client, base, files, text, build, df.port(), rows, bad)
    except (docker.errors.DockerException, requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise RuntimeError(f"the container did not run: {str(exc)[:LOG_TAIL]}") from None
    finally:
        remove_build(client, build)


def _run(client, base: str, files: dict[str, bytes | None], text: str, build: str, port: int,
         rows: list[list[float]], bad: dict[str, object]) -> Live:
    """Build, start as the image's own user (never root), probe, and collect what happened."""
    built = _build(client, files, text, f"grader-deployment:{build[:12]}")
    user = built.attrs["Config"].get("User") or ""
    run_as = user if user and user.split(":")[0] not in _ROOT_USERS else "65534:65534"
    started = time.time()
    app = client.containers.run(built.id, detach=True, user=run_as, **_confined(build))
    report = _probe(client, base, app, port, rows, bad, build)
    ready = report["ready_at"]
    return Live(user, run_as, built.attrs["Size"] - client.images.get(base).attrs["Size"],
                None if ready is None else max(0.0, ready - started), report["health"], report["predict"],
                report["bad"], _healthcheck(client, app, built, run_as) if ready is not None else None,
                app.logs(tail=20).decode(errors="replace")[-LOG_TAIL:])


def _build(client, files: dict[str, bytes | None], text: str, tag: str):
    """The built image; RuntimeError with the log's end if it does not build in time. Only a
    bounded tail of the log is kept while it streams."""
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
        error = f"the image does not build: {exc.explanation}"
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):  # before or while streaming
        error = f"the image did not build within {BUILD_TIMEOUT} s"
    if error is not None:
        raise RuntimeError(f"{str(error)[:LOG_TAIL]}\n{tail}".strip())
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


def _probe(client, base: str, app, port: int, rows: list[list[float]], bad: dict[str, object], build: str) -> dict:
    """Run the grader's probe in a container that shares only the app's network namespace,
    so it reaches the app on 127.0.0.1 and nothing else does; its answers are read here."""
    argument = json.dumps([port, rows, bad, READY_WITHIN])
    probe = client.containers.run(base, ["python", "-I", "-c", _live_probe_script(), argument], detach=True,
                                  user="65534:65534", **{**_confined(build), "network_mode": f"container:{app.id}"})
    probe.wait(timeout=READY_WITHIN + 60)
    lines = probe.logs(stdout=True, stderr=False).decode(errors="replace").strip().splitlines()
    try:
        report = bounded.loads(lines[-1], LIVE_REPORT_LIMIT, "the live probe's report")
    except (IndexError, ValueError):
        raise RuntimeError(f"the probe failed: {probe.logs(tail=20).decode(errors='replace')[-800:]}") from None
    return {"ready_at": report["ready_at"], "health": report["health"] and _observation(report["health"]),
            "predict": [_observation(r) for r in report["predict"]],
            "bad": {name: _observation(r) for name, r in report["bad"].items()}}


def _healthcheck(client, app, built, run_as: str) -> tuple[int, str] | None:
    """The image's own HEALTHCHECK command, run once in the running container; the end of its output."""
    test = (built.attrs["Config"].get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    command = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    exec_id = client.api.exec_create(app.id, ["timeout", "10", *command], user=run_as)["Id"]
    tail = b""
    for chunk in client.api.exec_start(exec_id, stream=True):
        tail = (tail + chunk)[-500:]
    return client.api.exec_inspect(exec_id).get("ExitCode"), tail.decode(errors="replace")


def remove_build(client, build: str) -> None:
    """Every container and image of one build: the steps of a build cut short, its other
    stages, the image and the containers run from it. Found by the build's label alone,
    which nothing the grader did not make can carry (its value is random, and a Dockerfile
    may not set a grader label)."""
    label = {"label": f"{BUILD_LABEL}={build}"}
    for container in client.api.containers(all=True, filters=label):
        _quietly(client.api.remove_container, container["Id"], force=True)
    _remove_images(client, client.api.images(all=True, filters=label))


def remove_orphans(client) -> None:
    """Containers and images of graders that were killed before they cleaned up: only what
    carries the grader's labels and names an owner process that is gone."""
    ours = {"label": [LIVE_LABEL, OWNER_LABEL]}
    for container in client.api.containers(all=True, filters=ours):
        if orphaned(container.get("Labels")):
            _quietly(client.api.remove_container, container["Id"], force=True)
    _remove_images(client, [i for i in client.api.images(all=True, filters=ours) if orphaned(i.get("Labels"))])


def _remove_images(client, images: list[dict]) -> None:
    """Remove ``images`` (as the engine lists them) by their ids, children before parents,
    each alone: noprune, so that no untagged parent outside the list goes with it."""
    parent_of = {image["Id"]: image.get("ParentId") or "" for image in images}
    while parent_of:
        leaves = [i for i in parent_of if i not in set(parent_of.values())] or list(parent_of)
        for image_id in leaves:
            _quietly(client.api.remove_image, image_id, force=True, noprune=True)
            del parent_of[image_id]


def _quietly(fn, *args, **kwargs) -> None:
    import docker

    try:
        fn(*args, **kwargs)
    except docker.errors.APIError:
        pass
