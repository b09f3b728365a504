"""Removing what live builds left: by the labels the grader set and the ids the engine lists.

Everything of one build carries its random build id (:func:`.dockerfile.build_labels`), which
a Dockerfile may not set: :func:`remove_build` removes by that alone. Nothing is ever found
by a name, a tag or a build log, which a student's build could fill with other ids.
"""

from __future__ import annotations

import contextlib

from grader.engine.sandbox.docker import OWNER_LABEL, orphaned
from grader.kits.deployment.dockerfile import BUILD_LABEL, LIVE_LABEL


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
    """``fn(*args, **kwargs)``, where the engine may answer that it is gone already or in use."""
    import docker

    with contextlib.suppress(docker.errors.APIError):
        fn(*args, **kwargs)
