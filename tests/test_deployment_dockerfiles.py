"""A student's Dockerfile builds only from the grader's own image: a generated family of
Dockerfiles that try to build FROM (or COPY --from) another image.

Each member mixes line breaks, control characters, continuations, comments, directives and
stage names around a FROM of a decoy image. Each must be refused, or be rewritten so that
every FROM names the grader's image or an earlier stage: checked here by reading the
rewritten text three ways (the grader's Docker-faithful parser, dockerfile-parse, and every
line Python's ``splitlines`` sees), and, where an engine runs, by building it for real on top
of a local decoy image that holds a secret, which must never show up in anything the grader
reports.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import secrets

import pytest
from dockerfile_parse import DockerfileParser

from grader.kits.deployment import container as live_layer
from grader.kits.deployment import dockerfile
from grader.kits.deployment.answers import Contract
from grader.kits.deployment.dockerfile import Dockerfile

BASE = "grader-kernel:0123456789abcdef"
DECOY = "decoy-image:1"
LABELS = dockerfile.build_labels("family")
CONTRACT = Contract(health="/health", predict="/predict", request=lambda row: {"features": row})

# Characters that some tool reads as a line break or a blank and another does not.
ODD = ["\f", "\v", "\r", "\x00", "\x1b", "\x7f", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0",
       "\u2028", "\u2029", "\u200b", "\u202e", "\u3000", "\ufeff", "\ufffd"]
# Where they go: in a comment, a continuation, a FROM line, between lines, at the start.
ODD_PLACES = [
    "# build it{c}FROM {decoy}\nFROM python:3.11-slim\n",
    "# a comment{c}\nFROM {decoy}\n",
    "FROM python:3.11-slim\nRUN echo start \\{c}\nFROM {decoy}\n",
    "FROM python:3.11-slim{c}AS {decoy}\n",
    "FROM{c}{decoy}\n",
    "FROM python:3.11-slim\n{c}FROM {decoy}\n",
    "{c}FROM {decoy}\n",
    "FROM python:3.11-slim\nRUN echo {c} \\\nFROM {decoy}\n",
]

# Tricks with plain characters only, written with {nl} for the line end. Each either must be
# refused (True) or must be accepted and rebased (False): a rule that refused everything would fail.
TRICKS: dict[str, tuple[str, bool]] = {
    "continuation swallows a FROM": ("FROM python:3.11-slim{nl}RUN echo \\{nl}FROM {decoy}{nl}", True),
    "comment inside a continuation": ("FROM python:3.11-slim{nl}RUN echo \\{nl}# note{nl}FROM {decoy}{nl}", True),
    "blank line inside a continuation": ("FROM python:3.11-slim{nl}RUN echo \\{nl}{nl}FROM {decoy}{nl}", True),
    "backslash then blanks": ("FROM python:3.11-slim{nl}RUN echo \\ \t{nl}FROM {decoy}{nl}", True),
    "a line of one backslash": ("\\{nl}FROM {decoy}{nl}", True),
    "continued FROM": ("FROM {decoy} \\{nl}  AS base{nl}", True),
    "FROM from a variable": ("ARG IMAGE={decoy}{nl}FROM $IMAGE{nl}", True),
    "FROM from a braced variable": ("ARG IMAGE={decoy}{nl}FROM ${{IMAGE}}{nl}", True),
    "escape directive": ("# escape=`{nl}FROM python:3.11-slim{nl}RUN echo `{nl}FROM {decoy}{nl}", True),
    "syntax directive": ("# syntax=docker/dockerfile:1{nl}FROM {decoy}{nl}", True),
    "COPY --from an image": ("FROM python:3.11-slim{nl}COPY --from={decoy} /secret /secret{nl}", True),
    "COPY --from a later stage": ("FROM python:3.11-slim{nl}COPY --from=later / /x{nl}FROM {decoy} AS later{nl}", True),
    "COPY --from its own stage": ("FROM {decoy} AS here{nl}COPY --from=here / /x{nl}", True),
    "ONBUILD": ("FROM python:3.11-slim{nl}ONBUILD COPY --from={decoy} / /x{nl}", True),
    "the grader's labels": ("FROM python:3.11-slim{nl}LABEL grader.build=other{nl}", True),
    "heredoc": ("FROM python:3.11-slim{nl}RUN <<EOF{nl}FROM {decoy}{nl}EOF{nl}", True),
    "three words": ("FROM {decoy} extra{nl}", True),
    "two AS": ("FROM {decoy} AS a AS b{nl}", True),
    "bad stage name": ("FROM {decoy} AS 9lives{nl}", True),
    "empty FROM": ("FROM{nl}", True),
    "comment ending in a backslash": ("# note \\{nl}FROM {decoy}{nl}", False),
    "plain decoy": ("FROM {decoy}{nl}", False),
    "lower-case keyword, upper-case alias": ("from {decoy} AS Base{nl}FROM BASE{nl}", False),
    "an earlier stage named like the decoy": ("FROM python:3.11-slim AS decoy-image{nl}FROM decoy-image{nl}", False),
    "a later stage's name": ("FROM later{nl}FROM python:3.11-slim AS later{nl}", False),
    "indented FROM with a flag": ("   FROM --platform=linux/amd64 {decoy} AS stage{nl}", False),
    "tab between words": ("FROM\t{decoy}\tAS\tstage{nl}", False),
    "digest": ("FROM {decoy}@sha256:" + "a" * 64 + "{nl}", False),
    "COPY --from an earlier stage": ("FROM {decoy} AS one{nl}FROM python:3.11-slim{nl}COPY --from=one /etc/hostname /x{nl}"
                                     "COPY --from=0 /etc/hostname /y{nl}", False),
    "no line end at the end": ("FROM {decoy}", False),
}
LINE_ENDS = ["\n", "\r\n"]


def family() -> list[tuple[str, str, bool | None]]:
    """(name, Dockerfile, must be refused: True, must be accepted: False, either: None)."""
    members = [(f"odd U+{ord(c):04X} at {n}", place.format(c=c, decoy=DECOY),
                None if c == "\r" and "{c}\n" in place else True)  # \r then \n is a line end
               for c, (n, place) in itertools.product(ODD, enumerate(ODD_PLACES))]
    members += [(f"{name} ({'CRLF' if nl == chr(13) + chr(10) else 'LF'})", text.format(nl=nl, decoy=DECOY), refused)
                for (name, (text, refused)), nl in itertools.product(TRICKS.items(), LINE_ENDS)]
    mixed = "FROM python:3.11-slim\r\nRUN echo \\\nFROM {decoy}\r\n# c \\\r\nFROM {decoy}\n"
    members.append(("mixed line ends", mixed.format(decoy=DECOY), True))
    return members


FAMILY = family()


def parsed(text: str) -> Dockerfile:
    """The Dockerfile as the grader reads it (without hadolint: these are about reading only)."""
    problem = dockerfile.unreadable(text)
    return Dockerfile(text, [] if problem else dockerfile.instructions(text), [], problem)


def from_images_three_ways(text: str) -> list[list[str]]:
    """The image (first word) of every FROM of ``text``, as three different readers see it."""
    own = [i.value.split()[0] for i in dockerfile.instructions(text) if i.keyword == "FROM"]
    other = [s["value"].split()[0] for s in DockerfileParser(fileobj=io.BytesIO(text.encode())).structure
             if s["instruction"] == "FROM"]
    lines = [line.split()[1] for line in text.splitlines() if line.strip().upper().startswith("FROM ")]
    return [own, other, lines]


def only_the_grader_base(text: str) -> bool:
    """Every FROM, however it is read, names BASE or a stage an earlier FROM named with AS."""
    aliases = {line.split()[3] for line in text.splitlines()
               if line.startswith("FROM ") and len(line.split()) == 4}
    return all(images and all(image == BASE or image in aliases for image in images)
               for images in from_images_three_ways(text))


@pytest.mark.parametrize("name, text, must_refuse", FAMILY, ids=[m[0] for m in FAMILY])
def test_each_dockerfile_is_refused_or_rebased_onto_the_grader_image(name, text, must_refuse):
    df = parsed(text)
    reason = dockerfile.refusal(df)
    if must_refuse is not None:
        assert (reason is not None) == must_refuse, reason
    if reason is None:
        rebased = dockerfile.rebased(df, BASE, LABELS)
        assert only_the_grader_base(rebased), rebased
        assert len(from_images_three_ways(rebased)[0]) == len(df.all("FROM"))


def test_the_family_covers_every_odd_character_in_every_place():
    assert {m[1] for m in FAMILY if m[0].startswith("odd")} == {p.format(c=c, decoy=DECOY)
                                                              for c in ODD for p in ODD_PLACES}
    assert sum(m[2] is False for m in FAMILY) >= 10 and sum(m[2] is True for m in FAMILY) >= 100


def test_a_refused_dockerfile_costs_the_points_and_says_why():
    """The rules the tests apply see no instructions of a text they cannot read with certainty."""
    df = Dockerfile.parse("FROM python:3.11-slim\f\nUSER 10001\n")
    assert "U+000C" in dockerfile.refusal(df) and df.instructions == [] and df.findings == []


def test_verification_catches_a_rewrite_that_left_another_image():
    """The rewritten text is read again: a FROM the rewriting missed is refused, not built."""
    df = parsed(f"FROM python:3.11-slim\nRUN true\nFROM {DECOY}\n")
    missed = Dockerfile(df.text, df.instructions[:2], [])  # as if the last FROM went unseen
    with pytest.raises(dockerfile.BuildRefused, match=DECOY):
        dockerfile.rebased(missed, BASE, LABELS)


def test_large_dockerfiles_are_refused_unread():
    text = "FROM python:3.11-slim\n" + "# padding\n" * (dockerfile.DOCKERFILE_LIMIT // 10)
    assert "larger than" in dockerfile.refusal(Dockerfile.parse(text))


# --- built for real, on a decoy image holding a secret ----------------------------------------

DECOY_RUN = "RUN cat /decoy-secret /copied 2>&1; echo built-on-something; exit 3\n"


@pytest.fixture(scope="module")
def decoy():
    """A local image that holds a secret, and a container made from it: (tag, secret, container id)."""
    import docker

    client, base = live_layer.engine()
    secret = f"SECRET-{secrets.token_hex(12)}"
    maker = client.containers.run(base, ["sh", "-c", f"echo {secret} > /decoy-secret"], detach=True)
    maker.wait(timeout=60)
    tag = f"grader-test-decoy:{secrets.token_hex(6)}"
    image = maker.commit(repository=tag.split(":")[0], tag=tag.split(":")[1])
    maker.remove(force=True)
    container = client.containers.create(image.id, ["true"])
    try:
        yield tag, secret, image.id, container.id
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image.id, force=True)


BUILT = [(name, text) for name, text, must_refuse in FAMILY if not name.startswith("odd") or "U+000C" in name]


@pytest.mark.docker
@pytest.mark.parametrize("name, text", BUILT, ids=[m[0] for m in BUILT])
def test_a_build_never_sees_the_decoy_image(name, text, decoy, tmp_path):
    """Refused, or built on the grader's image: the decoy's secret never reaches the grader's output."""
    import docker

    tag, secret, image_id, container_id = decoy
    files = {"app.py": b"", "model.joblib": b"", "requirements.txt": b"",
             "Dockerfile": (text.replace(DECOY, tag).rstrip("\r\n") + "\n" + DECOY_RUN).encode()}
    with pytest.raises((dockerfile.BuildRefused, RuntimeError)) as raised:
        live_layer.run_live(files, [[0.0]], {}, contract=CONTRACT)
    assert secret not in str(raised.value)
    if raised.type is RuntimeError and "built-on-something" in str(raised.value):
        assert "No such file" in str(raised.value)  # it ran, on an image without the secret
    client = docker.from_env()
    assert client.images.get(image_id) and client.containers.get(container_id)
