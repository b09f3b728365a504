"""What the tests ``grade import`` writes call, beside ``nb``: a doctest's output compared in the
grader, and a case that could not be converted run in the kernel as its own tool ran it.

See :mod:`grader.course.imports.convert` for which case becomes which.
"""

from __future__ import annotations

import doctest

_CHECKER = doctest.OutputChecker()
# The kernel-side run of a doctest: doctest's own runner on the notebook's namespace, as otter
# runs it; its report is printed, and a failed example raises.
_IN_KERNEL = """\
import doctest as __grader_doctest__
__grader_runner__ = __grader_doctest__.DocTestRunner(verbose=False)
__grader_runner__.run(__grader_doctest__.DocTestParser().get_doctest({text!r}, globals(), "case", None, 0),
                      clear_globs=False)
if __grader_runner__.failures:
    del __grader_runner__
    raise AssertionError("the doctest's output did not match")
del __grader_runner__
"""


def output_matches(value: object, want: str) -> bool:
    """Whether a doctest expecting ``want`` would accept ``value``, a decoded plain value whose
    repr is made here, in the grader (as the interpreter prints it: nothing for None)."""
    got = "" if value is None else repr(value) + "\n"
    return _CHECKER.check_output(want, got, 0)


def run_doctest(nb, text: str) -> None:
    """Run a doctest case in the kernel (a kernel-side test); NotebookError if it failed."""
    nb.run(_IN_KERNEL.format(text=text))
