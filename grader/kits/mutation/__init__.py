"""The mutation kit: a student's own pytest tests, run against implementations the lab chooses.

Testing skill is graded by what the student's tests do, not by how they read: a lab's tests
call :func:`.run.run_tests` with the student's test files and several implementations of the
module under test (the reference, a correct refactoring, faulty versions), and judge the
outcome of each (the tests must pass the correct ones and fail each faulty one they catch).
Each implementation runs in its own fresh sandbox of the kernel's backend, holding only the
test files and that implementation (:mod:`.inside.pytest_run` starts pytest there); the
outcome is read from outside, from the exit status of that sandbox's process.

The kit has no service and no plugin, and needs nothing beyond the grader's own dependencies
(pytest is one). This ``__init__`` runs in the sandbox with :mod:`.inside`, so it imports
nothing but the registry's :class:`Kit`.
"""

from grader.kits import Kit

KIT = Kit("mutation", extra=None,
          summary="the student's pytest tests run against the reference and faulty versions, each in a fresh sandbox")
