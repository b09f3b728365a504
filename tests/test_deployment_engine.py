"""The deployment kit decides once per batch whether its live layer runs (container.decide, the
kit's ``prepare``), and every submission of the batch is graded under that decision: an engine
that starts mid-batch is not used, and one that stops mid-batch is the grader's error on the
rows it fails, never a smaller maximum for them. (tests/test_batch_fast.py checks that the
batch makes one decision and hands it to every job; the lab's own test grades real batches.)
"""

from __future__ import annotations

import pickle

import pytest

from grader import kits
from grader.engine.sandbox import image
from grader.errors import KitError, SandboxUnavailable
from grader.kits.deployment import container
from grader.kits.deployment.answers import Contract
from grader.kits.deployment.container import Engine, NotRun
from grader.kits.deployment.fixture import DeploymentFixtures

CONTRACT = Contract(health="/health", predict="/predict", request=lambda row: {"features": row})
FILES = {"Dockerfile": b"FROM python:3.11-slim\n", "app.py": b"", "model.joblib": b""}


@pytest.fixture
def no_engine(monkeypatch, tmp_path):
    """Nothing answers where the Docker client looks."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")


def live(decided: Engine | None):
    return container.run_live(FILES, [[1.0]], {}, contract=CONTRACT, decided=decided)


def test_with_no_engine_the_decision_is_not_run_and_says_why(no_engine):
    decided = container.decide()
    assert (decided.base, decided.failed) == (None, "") and decided.not_run.startswith("no Docker engine")
    with pytest.raises(NotRun, match="no Docker engine"):
        live(None)  # no batch decided: decided now, the same way


def never_asked(*args, **kwargs):
    raise AssertionError("the engine was asked again after the batch's decision")


@pytest.mark.parametrize("decided, raised, message", [
    (Engine(not_run="no Docker engine runs on the grading machine"), NotRun, "no Docker engine runs"),
    (Engine(not_run="the grader's image is not built here"), NotRun, "image is not built"),
    (Engine(failed="the live layer failed: APIError: 500"), KitError, "APIError: 500"),
])
def test_a_submission_is_graded_as_the_batch_decided_without_asking_again(monkeypatch, decided, raised, message):
    """A batch that began with no engine keeps its live tests not run, even once an engine answers."""
    monkeypatch.setattr(container, "engine_client", never_asked)
    with pytest.raises(raised, match=message):
        live(decided)


def test_an_engine_gone_since_the_batch_began_is_the_kits_error(no_engine):
    with pytest.raises(KitError, match="no longer answers"):
        live(Engine(base="grader-kernel:0123456789abcdef"))


def test_an_engine_failing_at_the_decision_is_carried_not_raised(monkeypatch):
    """The batch's process must not stop: the failure becomes each row's grader error."""
    def broken(client):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(container, "engine_client", lambda timeout=None: object())
    monkeypatch.setattr(image, "current_image", broken)
    decided = container.decide()
    assert decided.base is None and "the engine broke" in decided.failed
    with pytest.raises(KitError, match="the engine broke"):
        container.engine(decided)


@pytest.mark.parametrize("decided", [Engine(base="grader-kernel:0123456789abcdef"), Engine(not_run="no engine"),
                                     Engine(failed="broke")])
def test_the_decision_is_small_and_travels_to_a_worker(decided):
    sent = pickle.dumps(decided)
    assert pickle.loads(sent) == decided and len(sent) < 500


def test_the_kit_prepares_once_and_its_fixture_gives_the_decision(no_engine):
    prepared = dict(kits.prepare(["deployment", "llm", "deployment"]))
    assert list(prepared) == ["deployment"] and prepared["deployment"].not_run.startswith("no Docker engine")
    with kits.started(("deployment",), prepared) as running:
        plugin, = running.plugins
    assert isinstance(plugin, DeploymentFixtures)
    assert DeploymentFixtures.docker_engine.__wrapped__(plugin) is prepared["deployment"]


def test_tests_only_listed_have_no_decision():
    plugin, = kits.idle_plugins(("deployment",))
    with pytest.raises(pytest.fail.Exception, match="not run"):
        DeploymentFixtures.docker_engine.__wrapped__(plugin)


def engine_here():
    try:
        return container.engine_client()
    except SandboxUnavailable:
        return None


@pytest.mark.docker
def test_with_an_engine_the_decision_names_the_graders_image():
    decided = container.decide()
    assert decided == Engine(base=image.current_image(engine_here())) and decided.base
    client, base = container.engine(decided)
    assert base == decided.base and client.images.get(base)


@pytest.mark.docker
def test_an_image_gone_since_the_batch_began_is_the_kits_error():
    with pytest.raises(KitError, match="ImageNotFound"):
        live(Engine(base="grader-kernel:no-such-image-0000"))
