"""The Docker backend on its own: the container a kernel runs in, and the image."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest
from conftest import REPO, ended_process, kernel_containers, leftover_processes, run_grade, wait_for

from grader import owner
from grader.engine.kernel import Kernel
from grader.engine.sandbox import Limits, get_backend, image
from grader.engine.sandbox import docker as docker_backend
from grader.engine.sandbox.docker import LABEL, OWNER_LABEL

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def kernel():
    k = Kernel(get_backend("docker"), [REPO / "README.md"], Limits(memory=512))
    k.start()
    yield k
    k.close()


def test_container_is_locked_down(kernel):
    code = """
import os, socket
caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd'))]
nnp = [l.split()[1] for l in open('/proc/self/status') if l.startswith('NoNewPrivs')]
try:
    open('/usr/evil', 'w')
    root = 'writable'
except OSError:
    root = 'read-only'
print(os.getuid(), caps, nnp, root, sorted(n for _, n in socket.if_nameindex()), os.listdir('.'))
"""
    out = kernel.execute(code, 30).stdout.strip()
    assert out == "65534 ['0000000000000000', '0000000000000000'] ['1'] read-only ['lo'] ['.ipython', 'README.md']"


def test_lab_files_are_read_only_and_home_is_capped(kernel):
    code = """
import os
try:
    open('README.md', 'a')
    ro = 'writable'
except OSError:
    ro = 'read-only'
try:
    for i in range(20):
        with open(f'part{i}', 'wb') as f:
            for _ in range(32):
                f.write(b'x' * 2**20)
    cap = 'no cap'
except OSError as e:
    cap = e.strerror
print(ro, cap)
"""
    assert kernel.execute(code, 60).stdout.strip() == "read-only No space left on device"


# A grader that starts a kernel's launcher, whose container runs the code argv[3], and dies
# outright: at once, or at the engine's event argv[2] for the container (made, started). It never
# closes the sandbox, as a grader killed with -9 would not.
GRADER = """
import os, signal, subprocess, sys
from pathlib import Path
import docker
from grader.engine.sandbox import Limits, get_backend
sandbox = get_backend("docker").open([], Path(sys.argv[1]), Limits())
events = docker.from_env().events(decode=True, filters={"container": sandbox.name, "event": sys.argv[2]})
subprocess.Popen(sandbox.command(["python", "-c", sys.argv[3]]), start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(sandbox.name, flush=True)
if sys.argv[2] != "none":
    next(events)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("code", ["import signal; signal.pause()", "pass"], ids=["runs", "ends"])
@pytest.mark.parametrize("dies_at", ["none", "create", "start"])
def test_a_kernel_container_goes_with_the_grader_that_started_it(tmp_path, dies_at, code):
    """Whenever the grader dies, before its kernel's launcher made the container, once it is made,
    or once it runs (a kernel that runs on, or one that ends at once), the launcher (in a session
    of its own) removes the container, or makes none, and ends."""
    (tmp_path / "sockets").mkdir()
    grader = subprocess.run([sys.executable, "-c", GRADER, str(tmp_path / "sockets"), dies_at, code],
                            capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=120,
                            cwd=REPO)
    name = grader.stdout.strip()
    assert grader.returncode == -9 and name.startswith("grader-"), grader.stderr[-2000:]
    wait_for(lambda: not leftover_processes(tmp_path) and name not in kernel_containers(), 30)


def test_reclaiming_a_dead_workers_pid_spares_what_a_live_process_with_that_pid_made():
    """``reclaim(pid)`` after a worker ended: its containers go, by either form of its label; so do
    those of an earlier process with the pid; those of the live process holding the pid stay."""
    import docker

    client = docker.from_env()
    tag = image.current_image(client)
    dead, me = ended_process(), owner.current()
    earlier = f"{os.getpid()}.{owner.started(os.getpid()) - 1}"
    labels = {"dead": dead, "dead, pid alone": dead.split(".")[0], "earlier with my pid": earlier, "mine": me}
    made = {name: client.containers.create(tag, ["true"], labels={LABEL: "1", OWNER_LABEL: value}).id
            for name, value in labels.items()}
    try:
        docker_backend.reclaim(owner.pid_of(dead))
        docker_backend.reclaim(os.getpid())
        left = {c["Id"] for c in client.api.containers(all=True)}
        assert {name for name, cid in made.items() if cid in left} == {"mine"}
    finally:
        for cid in made.values():
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(cid, force=True)


def test_nothing_of_the_course_is_in_the_image():
    import docker

    client = docker.from_env()
    tag = image.current_image(client)
    out = client.containers.run(tag, ["sh", "-c", "ls /home /opt; env | cut -d= -f1 | sort | tr '\\n' ' '"],
                                remove=True, network_mode="none").decode()
    assert "solutions" not in out and "tests" not in out and "GRADER" not in out


def test_image_build_reuses_an_image_whose_inputs_hold(tmp_path):
    proc = run_grade("image", "build", cwd=tmp_path)
    assert proc.returncode == 0 and "reusing grader-kernel:" in proc.stdout


def test_image_tag_depends_on_the_base():
    class Images:
        def __init__(self, base_id):
            self.base_id = base_id

        def get(self, name):
            return type("Image", (), {"id": self.base_id})

    def tag(base_id):
        return image.image_tag(type("Client", (), {"images": Images(base_id)}), "any")

    assert tag("sha256:a") == tag("sha256:a") != tag("sha256:b")
    assert tag("sha256:a").startswith("grader-kernel:")
