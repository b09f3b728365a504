"""Code of the deployment kit that runs inside a sandbox or a container, never in the grader.

Each module is started by the kit as ``python -s -P -m grader.kits.deployment.inside.<name>``:
in the probe's fresh sandboxes (:mod:`.predict`, :mod:`.serve`), where the sandbox mounts
the grader package read-only and puts it on ``PYTHONPATH`` as it does for the kernel, and in
the live probe's container (:mod:`.live_probe`), which mounts it the same way. ``-P`` keeps
the working folder (the student's files) off ``sys.path``; only :mod:`.serve` adds it, to
import the app.

They import only the standard library at module level, and :mod:`.ask` (httpx): what runs
with them is the package's ``__init__`` files, which stay light for the same reason
(``grader.testing.check`` runs in the kernel too).
"""
