"""hadolint, run on a Dockerfile's text in the grader's process: it reads, never builds."""

from __future__ import annotations

import functools
import subprocess
import sysconfig
import tempfile
from pathlib import Path

from grader import bounded
from grader.errors import KitError

LINT_TIMEOUT = 30
LINT_OUTPUT_LIMIT = 2**20  # bytes of hadolint's JSON kept


def lint(text: str) -> list[dict]:
    """hadolint's findings for ``text``: its JSON, each with code, level, line and message.
    Its ``# hadolint ignore=`` comments are not honoured: the rules are the grader's. Every
    Dockerfile test parses the same text: hadolint runs once for it, and each caller gets
    copies. KitError if hadolint cannot be run at all."""
    return [dict(finding) for finding in _lint(text)]


@functools.lru_cache(maxsize=4)
def _lint(text: str) -> tuple[dict, ...]:
    """hadolint's JSON, read from a file and cut at LINT_OUTPUT_LIMIT: never all of it in memory.
    A report it cannot give for this text (too long, too slow) is a finding of its own."""
    binary = Path(sysconfig.get_path("scripts")) / "hadolint"
    try:
        with tempfile.TemporaryFile() as out:
            subprocess.run([str(binary), "--no-fail", "--disable-ignore-pragma", "--format", "json", "-"],
                           input=text.encode(), stdout=out, stderr=subprocess.DEVNULL, timeout=LINT_TIMEOUT,
                           check=False)
            out.seek(0)
            report = bounded.loads(out.read(LINT_OUTPUT_LIMIT + 1) or b"[]", LINT_OUTPUT_LIMIT, "hadolint's report")
        return tuple(f for f in report if isinstance(f, dict)) if isinstance(report, list) else ()
    except (ValueError, subprocess.TimeoutExpired) as exc:
        return ({"code": "DL1000", "level": "error", "line": 0, "message": f"hadolint could not read it: {exc}"},)
    except OSError as exc:  # no hadolint here, or it cannot be started: the grader's, not the Dockerfile's
        raise KitError(f"hadolint could not be run ({binary}): {exc}") from None
