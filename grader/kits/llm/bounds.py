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

    inputs: int = 2048  # texts in one embeddings request (OpenAI's own bound); more is refused with 400


def error_body(status: int, message: str) -> dict:
    """An error body in OpenAI's shape, which the SDK shows as the exception's message."""
    return {"error": {"message": message, "type": "invalid_request_error", "code": status}}
