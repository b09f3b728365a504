"""A Dockerfile read exactly as Docker reads it, refused when that is uncertain, and rebased.

The Dockerfile is split into instructions exactly as Docker's own parser splits them
(:func:`instructions`), and linted with hadolint (:mod:`.lint`), in the grader's process:
both only read text. Text that tools could read in more than one way (odd line breaks and
control characters, parser directives, a FROM that is continued or uses variables) is
refused: :func:`unreadable`.

A Dockerfile that reaches for the network or the host at build time (``ADD`` of a URL,
``RUN --mount``, a download in ``RUN``), or for any image but the grader's, is refused
before anything is built: :func:`refusal` names why, and the tests give it nothing. The
rewritten Dockerfile is parsed again and every FROM checked before it is built
(:func:`rebased`); every image and container of a build carries its labels
(:func:`build_labels`), by which its clean-up finds them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from grader import owner
from grader.engine.sandbox.docker import OWNER_LABEL
from grader.kits.deployment.lint import lint

DOCKERFILE_LIMIT = 64 * 2**10  # bytes: a real Dockerfile is a few KiB; hadolint reads no more
DEFAULT_PORT = 8000  # the port of a Dockerfile that EXPOSEs none
LIVE_LABEL = "grader.deployment"
BUILD_LABEL = "grader.build"  # a random id per build: what its clean-up may remove
ROOT_USERS = ("root", "0")  # a USER (its user part) that runs as root

# Build-time reaches for the network or the host; network none stops the rest.
_REFUSED_RUN = re.compile(r"--mount|--network|--security|://|\b(curl|wget|git\s+clone|apt-get|apk|nc|ncat|"
                          r"ssh|scp|rsync)\b|/dev/tcp")

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


class BuildRefused(Exception):
    """The Dockerfile reaches for the network, the host or another image at build time,
    or the grader cannot be certain how Docker would read it."""


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
        """The first port EXPOSEd, or DEFAULT_PORT."""
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
    return {LIVE_LABEL: "1", OWNER_LABEL: owner.current(), BUILD_LABEL: build}


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
