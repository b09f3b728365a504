"""The lab author's API: the ``nb`` object tests use (notebook), the only way values cross
the sandbox boundary (codec), the pytest plugin that runs tests in the grader's process
and scores them (plugin), and ``check("q1")`` in a student's own notebook (check, live).

A lab's tests import from here (``from grader.testing.notebook import NotebookError``)
and from the kits their lab declares; nothing else of the grader is theirs to use."""
