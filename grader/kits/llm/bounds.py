"""What one notebook can make the grader's LLM server read, parse, keep or wait for: the
shared bounds of :mod:`grader.kits.served`, and the one only an OpenAI API has (the texts
of one embeddings request). Errors, the bounds' own included, are in OpenAI's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.kits.served import KiB, MiB
from grader.kits.served import Limits as ServedLimits

__all__ = ["KiB", "Limits", "MiB", "error_body"]


@dataclass(frozen=True)
class Limits(ServedLimits):
    """The shared bounds, and the texts of one embeddings request."""

    # Texts in one embeddings request; more is refused with 400. OpenAI allows 2,048, but an answer
    # holds 384 numbers a text: 256 keeps one answer near 2 MB, and all a notebook's connections
    # that never read theirs near 64 MB of the grader's memory.
    inputs: int = 256


def error_body(status: int, message: str) -> dict:
    """An error body in OpenAI's shape, which the SDK shows as the exception's message."""
    return {"error": {"message": message, "type": "invalid_request_error", "code": status}}
