"""pytest on the student's tests, in a fresh sandbox that holds only them and one implementation:
``python -s -P -m grader.kits.mutation.inside.pytest_run SHARED``.

Its output goes to :data:`LOG` in SHARED, the sandbox's read-write folder, before pytest
starts; then this process becomes pytest (``exec``), so that the exit status the grader sees
from outside is pytest's own: no process of this module's is left for a test to talk to.
No third-party plugin is loaded, no cache or bytecode is written, and no configuration file
is read (``-c /dev/null``): only the files in the sandbox's working folder decide.
"""

from __future__ import annotations

import os
import sys

LOG = "pytest.log"
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", ".", "--color=no",
          "--tb=short", "-o", "console_output_style=classic"]


def main(shared: str) -> None:
    log = os.open(os.path.join(shared, LOG), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.update(PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    os.execv(sys.executable, [sys.executable, "-s", *PYTEST, *sorted(n for n in os.listdir(".") if _is_test(n))])


def _is_test(name: str) -> bool:
    return name.startswith("test_") and name.endswith(".py")


if __name__ == "__main__":
    main(sys.argv[1])
