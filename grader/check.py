"""``from grader.check import check``: the line every lab's first cell has.

Kept at this name because student notebooks already carry it; the function
lives with the rest of the lab author's API in :mod:`grader.testing.check`.
"""

from grader.testing.check import check

__all__ = ["check"]
