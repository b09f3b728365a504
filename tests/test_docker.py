"""The Docker backend on its own: the container a kernel runs in, and the image."""

from __future__ import annotations

import pytest

from conftest import run_grade, REPO
from grader.engine.sandbox import image
from grader.engine.kernel import Kernel
from grader.engine.sandbox import Limits, get_backend

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
