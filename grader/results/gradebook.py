"""When a batch rewrites ``gradebook.csv``: often enough to follow the batch, seldom enough to stay linear.

Rewriting the whole gradebook after every result costs the rows written so far, so a batch
of n results would write n²/2 rows. Instead a rewrite is offered after every result and
done only once the time since the last rewrite ended is at least ``patience`` times what
that rewrite took: rewriting then takes at most 1 / (1 + patience) of the batch's time,
whatever its size, and the gradebook is never more than ``patience`` rewrites' time behind.
While grading a result takes longer than that (seconds, against milliseconds for a rewrite),
every result is still rewritten at once; only a batch that outruns its gradebook skips some.

The file itself stays what users rely on: each rewrite is atomic (store.write_gradebook), the
batch always writes it once more at its end (even when stopped by Ctrl-C or an error), and a
rerun after ``kill -9`` resumes from each result's own JSON, written the moment it exists, not
from the gradebook.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from grader.results.model import Result
from grader.results.store import write_gradebook

PATIENCE = 10.0  # idle time owed after a rewrite, in multiples of its duration: rewrites ≤ 1/11 of a batch


class GradebookWriter:
    """Rewrites ``out_dir``'s gradebook when offered, if its turn has come (see the module's docstring).

    ``clock`` and ``write`` are seams for tests and benchmarks: a clock that counts a rewrite's
    rows as its duration turns the time bound into a bound on rows written."""

    def __init__(self, out_dir: Path, *, patience: float = PATIENCE, clock: Callable[[], float] = time.monotonic,
                 write: Callable[[Path, Sequence[Result]], object] = write_gradebook):
        self.out_dir, self.patience, self.clock, self._write = out_dir, patience, clock, write
        self.due = float("-inf")  # when the next offer is taken
        self._rows = -1  # in the last rewrite
        self.rewrites = 0
        self.rows_written = 0  # summed over rewrites: the work the policy keeps linear

    def offer(self, results: Sequence[Result]) -> bool:
        """Rewrite with ``results`` if its turn has come; whether it did."""
        if self.clock() < self.due:
            return False
        self.write(results)
        return True

    def finish(self, results: Sequence[Result]) -> None:
        """The batch's last rewrite, unless the last one already had every result (results only grow)."""
        if len(results) != self._rows:
            self.write(results)

    def write(self, results: Sequence[Result]) -> None:
        """Rewrite now (the batch's first rewrite), and set when the next offer is taken."""
        started = self.clock()
        self._write(self.out_dir, results)
        ended = self.clock()
        self.due = ended + self.patience * (ended - started)
        self._rows = len(results)
        self.rewrites += 1
        self.rows_written += len(results)
