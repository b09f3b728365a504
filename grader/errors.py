"""Every error the grader raises on purpose, and the exit status each one means.

Two kinds of failure must never be confused, so they have two roots:

    GraderError
     ├── UsageError          the user's mistake: exit 2, a one-line message, no traceback
     │    ├── CourseError    the course folder or a lab.toml is not as the grader expects
     │    │    └── SolutionFails  a lab's own solution does not get full marks from its tests
     │    ├── AssignError    a solution notebook cannot become a student notebook
     │    ├── HistoryError   grades/history.sqlite cannot be read
     │    └── SandboxUnavailable   no sandbox here (and --no-sandbox was not given)
     └── InternalError       the grader's own failure: exit 1, the rows are still written
          ├── TestsBroken    a lab's tests do not load (the instructor must fix them)
          ├── KitError       a kit failed doing its own work (its bug, not the student's)
          └── ImageError     the Docker backend's image did not build

A problem of one submission is neither: it becomes that submission's status
and reason (grader.results.model.Status), and the batch goes on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``grade`` exits with; scripts and CI depend on these."""

    OK = 0  # every submission got a row, whatever the scores
    GRADER_ERROR = 1  # the grader failed on something (the rows are still written)
    USAGE_ERROR = 2
    BELOW_THRESHOLD = 3  # --fail-under SCORE and a result scored below it
    INTERRUPTED = 130  # Ctrl-C: what was graded is kept


class GraderError(Exception):
    """Raised by the grader on purpose; ``exit_code`` says what ``grade`` exits with."""

    exit_code: ExitCode = ExitCode.GRADER_ERROR


class UsageError(GraderError):
    """Something the user must change: how they called ``grade``, or their course."""

    exit_code = ExitCode.USAGE_ERROR


class CourseError(UsageError):
    """The course folder or a lab's settings are not laid out as the grader expects."""


class SolutionFails(CourseError):
    """A lab's reference solution loses points to the lab's own tests: grading students against
    those tests would charge them for the lab's mistake."""


class AssignError(UsageError, ValueError):
    """A solution notebook cannot be turned into a student notebook."""


class HistoryError(UsageError):
    """The history database cannot be read or written."""


class ClusterError(UsageError):
    """The Dask cluster cannot grade for this grader: no worker joined, or its workers differ from it."""


class SandboxUnavailable(UsageError, RuntimeError):
    """The chosen sandbox cannot run on this machine."""


class InternalError(GraderError):
    """The grader's own failure: never charged to a student."""


class TestsBroken(InternalError):
    """The lab's tests themselves do not load: the instructor must fix them."""

    __test__ = False  # a pytest collector must not take this for a test class


class KitError(InternalError):
    """A kit failed at its own work (building, probing, serving): its bug, never a failed test."""


class ImageError(InternalError, RuntimeError):
    """The Docker image could not be built; the message says which step failed."""
