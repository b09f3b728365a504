"""The git kit: a student's repository read by the real git CLI, from outside the student's kernel.

A lab's tests call :func:`.inspect.inspect_repository` and judge the plain data it returns
(branches, commits with their files and messages, what HEAD holds, what is ignored, which
commits hold a secret). The kernel only packs the folder into a tar (:mod:`.inside.pack`); a
fresh sandbox of the kernel's own backend unpacks it and runs git on it with the student's
configuration set aside (:mod:`.inside.read`); :mod:`.inspect` reads that answer within
bounds. Nothing the student's kernel runs decides what is reported.

The kit has no service and no plugin: declaring it in ``lab.toml`` (``kits = ["git"]``) makes
the results' fingerprints cover it. It needs no package beyond the grader's own, and ``git``
on the PATH of the sandbox (both backends have it). This ``__init__`` runs in the sandbox with
:mod:`.inside`, so it imports nothing but the registry's :class:`Kit`.
"""

from grader.kits import Kit

KIT = Kit("git", extra=None,
          summary="the student's repository read by git in a fresh sandbox: commits, branches, ignores, secrets")
