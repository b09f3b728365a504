"""Live tests: your image, built and run by a Docker engine.

The grader builds your Dockerfile with no network, on its own Python image
(which has the pinned packages), starts the container read-only with no
network and tight limits, and talks to it over loopback from a second
container. Whether a Docker engine runs is decided once, when the grading of
a batch begins; where none does, these tests are reported as not run and their
points are left out of the maximum.
"""

import pytest
from sklearn.datasets import load_breast_cancer

from grader.kits.deployment.container import AppFailed, BuildFailed, Live, NotRun, run_live
from grader.kits.deployment.dockerfile import BuildRefused
from grader.kits.deployment.probe import saved_predictions

DATA = load_breast_cancer()
ROWS = DATA.data[::57].tolist()  # ten rows across the data set
ROW = DATA.data[0].tolist()
BAD = {"missing features": {}, "29 numbers": {"features": [1.0] * 29},
       "NaN": {"features": [float("nan"), *ROW[1:]]}, "1e308": {"features": [1e308] * 30}}
MAX_ADDED_MB = 50


@pytest.fixture(scope="module")
def live(nb, files, contract, docker_engine):
    """The running container's answers, or the reason there are none (the grader's own
    failures are not caught here: they are the grader's error, not a failed test).
    ``docker_engine``: whether an engine runs, as decided for the whole batch."""
    try:
        container = run_live(files, ROWS, BAD, contract=contract, decided=docker_engine)
        return container, saved_predictions(nb, ROWS, files=files)
    except (NotRun, BuildRefused, BuildFailed, AppFailed, ValueError) as exc:
        return exc, None


def running(live) -> tuple[Live, list[int] | None]:
    container, expected = live
    if isinstance(container, NotRun):
        pytest.skip(str(container))
    if isinstance(container, Exception):
        pytest.fail(f"{type(container).__name__}: {container}" if isinstance(container, BuildRefused)
                    else str(container), pytrace=False)
    return container, expected


@pytest.mark.points(3)
def test_live_image_builds(live, record_property):
    """live: the image builds offline from the grader's base image"""
    container, _ = running(live)
    record_property("added to the base image", f"{container.added_bytes / 2**20:.1f} MB")


@pytest.mark.points(2)
def test_live_health(live, record_property):
    """live: the container starts read-only, with no network, and answers /health"""
    container, _ = running(live)
    assert container.startup is not None, f"/health never answered 200:\n{container.logs}"
    assert container.health["json"] == {"status": "ok"}, container.health["text"]
    record_property("ready after", f"{container.startup:.1f} s")


@pytest.mark.points(2)
def test_live_predictions(live):
    """live: the container's /predict answers like the app in-process, and 422 for bad input and NaN"""
    container, expected = running(live)
    assert container.startup is not None, f"/health never answered 200:\n{container.logs}"
    answers = [r["json"]["prediction"] if r["status"] == 200 else r["status"] for r in container.predict]
    assert answers == expected, "the container's predictions differ from the saved model's"
    assert {name: r["status"] for name, r in container.bad.items()} == dict.fromkeys(BAD, 422)


@pytest.mark.points(1)
def test_live_healthcheck(live):
    """live: the image's HEALTHCHECK command passes in the running container"""
    container, _ = running(live)
    assert container.healthcheck is not None, "the image has no HEALTHCHECK"
    code, output = container.healthcheck
    assert code == 0, f"the HEALTHCHECK command failed ({code}): {output}"


@pytest.mark.points(1)
def test_live_image_is_small(live):
    """live: the image adds less than 50 MB to its base"""
    container, _ = running(live)
    added = container.added_bytes / 2**20
    assert added < MAX_ADDED_MB, f"the image adds {added:.0f} MB: copy only what the app needs"
