"""The Dockerfile practices a deployment lab teaches, one rule each, and hadolint's other findings.

Each rule reads a parsed :class:`.dockerfile.Dockerfile` and returns what it finds wrong (an
empty list: the practice is followed). Where hadolint has a finding for the same practice, the
rule reports it too (:data:`MAPPED_CODES`); :func:`other_findings` reports the rest. Which
rule is worth how many points is the lab's, in its tests; a refused Dockerfile should get
none of them (see :func:`.dockerfile.refusal`).
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re

from grader.kits.deployment.dockerfile import ROOT_USERS, Dockerfile, Instruction

_SECRET_WORDS = {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIALS", "APIKEY"}
_SECRET_ENDINGS = ("API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "SECRET_KEY")
_SECRET_FILE = re.compile(r"(^|/)(\.env|id_rsa|id_ed25519|\.ssh|\.aws|\.netrc|.*\.pem)$")
_SMALL_BASE = re.compile(r"slim|alpine|distroless|minimal")
_WHOLE_CONTEXT = {".", "/", "*", "/*"}  # sources (normalised) that take the whole build folder


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


def copies_what_it_needs(df: Dockerfile) -> list[str]:
    """No COPY or ADD of the whole build folder (``COPY . .``, ``ADD . /app``, ``COPY * ./``): it
    takes whatever lies beside the Dockerfile into the image (notebooks, data, .env, .git). A
    .dockerignore does not excuse it: the files are named, or the folder's next file goes in too."""
    return [f"line {i.line}: {i.keyword} {i.value[:80]} copies the whole folder: name the files the service needs"
            for i in df.instructions if i.keyword in ("COPY", "ADD") and "--from=" not in i.value
            and any(posixpath.normpath(source) in _WHOLE_CONTEXT for source in _copy_sources(i))]


def non_root(df: Dockerfile) -> list[str]:
    user = df.last("USER")
    if user is None or user.value.split(":")[0].strip() in ROOT_USERS:
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
        with contextlib.suppress(ValueError):
            words = json.loads(i.value[i.value.index("["):]) if i.value.rstrip().endswith("]") else words
    return [str(w).strip('"') for w in words[:-1]]
