"""The deployment kit: a Dockerised web service graded in three layers (see .core)."""

from grader.kits import Kit

KIT = Kit("deployment", summary="Dockerfile rules and lint, the app probed in fresh sandboxes, a live build and probe")
