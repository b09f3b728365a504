"""The deployment kit: a model served over HTTP from a container image, graded in three layers.

A lab with ``kits = ["deployment"]`` has its notebook write an app (``app.py``, a FastAPI
app named ``app``), a saved model (``model.joblib``), its requirements and a Dockerfile; its
tests call the layers below and judge the plain data they return. What is the lab's alone
stays in the lab's tests: which files the notebook writes, which rule is worth how many
points, and its service's contract (:class:`.answers.Contract`: the health and predict
paths, the request body for one row; the bad requests sent; the fields expected back).

- **Static**, in the grader's process, reading text only: :mod:`.dockerfile` splits the
  Dockerfile into instructions exactly as Docker does, refuses what tools could read in more
  than one way or what reaches for the network, the host or another image at build time
  (:func:`.dockerfile.refusal`), and rewrites every FROM onto the grader's image
  (:func:`.dockerfile.rebased`); :mod:`.lint` runs hadolint; :mod:`.rules` holds one check
  per Dockerfile practice. :mod:`.files` reads the notebook's files out of the kernel as bytes
  (with :func:`grader.kits.sandboxed.read_files`, which every kit shares).
- **In-process** (:mod:`.probe`): the app is served by uvicorn in a fresh sandbox of the
  kernel's own backend that holds only its files (:mod:`grader.kits.sandboxed`), on a Unix socket the
  grader moves out of the sandbox's reach; the grader's process sends every request itself,
  so nothing the notebook or the app did to a process can change what is observed. The saved
  model's own predictions come from a second fresh sandbox.
- **Live** (:mod:`.container`), where a Docker engine runs: the image is built offline on the
  grader's kernel image, started read-only with limits and no network, probed over loopback
  by a second container that shares only its network namespace, measured, and removed by its
  labels (:mod:`.cleanup`). Whether an engine runs is decided once per batch, before its first
  submission (the kit's ``prepare``: :func:`.container.decide`), and reaches the tests as the
  ``docker_engine`` fixture (:mod:`.fixture`). Where no engine runs, :class:`.container.NotRun`
  says so and the tests skip: their points are left out of the maximum.

Both probes send their requests with :func:`.inside.ask.request` and read the answers with
:mod:`.answers`. The code that runs inside a sandbox or a container is in :mod:`.inside`,
run as modules (``python -m grader.kits.deployment.inside.serve``) from the grader package
mounted read-only: this ``__init__`` runs there with them, so it imports nothing but the
registry's :class:`Kit` (its hooks import what they call when they are called).

Modules import downwards only, in this order (each imports only modules above it):
``inside`` (none of the kit's but its own ``ask``); ``lint``; ``dockerfile``; ``rules``,
``files``, ``cleanup`` (on ``dockerfile``); ``answers`` (on ``inside.ask``);
``probe`` (on ``answers``, ``inside``, and the shared :mod:`grader.kits.sandboxed`); ``container`` (on
``answers``, ``cleanup``, ``dockerfile``, ``files``, ``inside.live_probe``); ``fixture`` (on
``container``). A failure
that is the student's (a refused Dockerfile, an image that does not build, an app that does
not start) is an observation or an exception the lab's tests turn into a failed test; the
kit's own failure is a :class:`grader.errors.KitError`, the grader's error.
"""

from grader.kits import Kit


def _decide() -> object:
    """Once per batch: whether the live layer runs (see :func:`.container.decide`)."""
    from grader.kits.deployment.container import decide

    return decide()


def _fixtures(handle: None, decided: object) -> object:
    """The plugin for one submission, graded under what its batch ``decided``."""
    from grader.kits.deployment.fixture import DeploymentFixtures

    return DeploymentFixtures(decided)


KIT = Kit("deployment", plugin=_fixtures, prepare=_decide, extra="deploy",
          summary="Dockerfile rules and lint, the app probed in fresh sandboxes, a live build and probe")
