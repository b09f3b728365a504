"""The Docker backend's kernel image, built without any registry.

The base is a Debian root file system made with ``debootstrap`` and imported
with ``docker import`` (or, where a registry is reachable, any image given
with ``--base``, such as ``python:3.11-slim``). The kernel's Python packages
are downloaded on the host and installed in a build container that has no
network, which is then committed: the wheels never land in a layer. The
packages are pinned to the versions the grader itself runs, so both backends
execute student code with the same libraries.

The image is tagged with a hash of everything that went into it (base image
id, pinned packages, this recipe) and reused while that hash holds. Nothing of
the course (tests, solutions) goes into it.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from grader.errors import ImageError

REPOSITORY = "grader-kernel"
BASE_REPOSITORY = "grader-base"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The base system's packages: git is a tool the kernel runs (00-python-git's notebook, and the git
# kit's fresh sandboxes that read the repository it made).
BASE_PACKAGES = ("python3", "python3-venv", "git")
# Named after its packages, so that a base made before one was added is never reused.
BASE_TAG = (f"{BASE_REPOSITORY}:{DEBIAN_SUITE}-"
            f"{hashlib.sha256(','.join(BASE_PACKAGES).encode()).hexdigest()[:8]}")
# pytest: the mutation kit runs a student's own tests in a fresh sandbox of the kernel's backend.
# faiss-cpu: the vector index of 05-rag-chatbot; pypdf: the text layer 07-resume-extractor reads;
# mlflow, prometheus-client: 10-mlops's tracking store and its service's metrics.
KERNEL_PACKAGES = ("ipykernel", "numpy", "pandas", "scikit-learn", "joblib", "matplotlib", "torch", "openai",
                   "pydantic", "tenacity", "fastapi", "uvicorn", "httpx", "pytest", "faiss-cpu", "pypdf",
                   "mlflow", "prometheus-client")
VENV = "/opt/venv"
RECIPE = "5"  # bump when the build steps below change
BUILD_TIMEOUT = 1800  # seconds for one Docker API call: committing the image writes gigabytes




def requirements() -> list[str]:
    """The kernel's packages, pinned to the versions installed beside the grader; those not
    installed here (a core install without the labs' extras) are left out of the image too."""
    pinned = []
    for name in KERNEL_PACKAGES:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pinned


def image_tag(client, base: str) -> str:
    """``grader-kernel:<hash>`` of the base image's id, the requirements and the recipe."""
    base_id = client.images.get(base).id
    digest = hashlib.sha256("\n".join([RECIPE, base_id, *requirements()]).encode()).hexdigest()[:16]
    return f"{REPOSITORY}:{digest}"


def current_image(client) -> str | None:
    """The tag the Docker backend should use, if that image exists already."""
    import docker.errors

    try:
        tag = image_tag(client, BASE_TAG)
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        return None


def build(client, base: str | None = None, log=print) -> str:
    """Build (or reuse) the kernel image on ``base``; return its tag."""
    import docker.errors

    if base is None:
        base = ensure_debian_base(client, log)
    else:
        try:
            client.images.get(base)
        except docker.errors.ImageNotFound:
            log(f"pulling {base}")
            client.images.pull(base)
    tag = image_tag(client, base)
    try:
        client.images.get(tag)
        log(f"reusing {tag}")
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="grader-wheels-") as wheels:
        log("downloading wheels on the host")
        _pip_download(Path(wheels))
        log(f"installing them offline into {tag}")
        _install_and_commit(client, base, Path(wheels), tag)
    _remove_superseded(client, REPOSITORY, tag, log)
    _remove_superseded(client, BASE_REPOSITORY, BASE_TAG, log)  # once no kernel image is built on them
    return tag


def _remove_superseded(client, repository: str, keep: str, log) -> None:
    """Older images of ``repository`` (the grader's own: gigabytes each) that nothing uses any more."""
    import docker.errors

    for old in client.images.list(repository):
        if keep not in old.tags:
            try:
                client.images.remove(old.id, force=False)
                log(f"removed superseded {', '.join(old.tags)}")
            except docker.errors.APIError:
                pass  # still used by a container


def ensure_debian_base(client, log=print) -> str:
    """:data:`BASE_TAG` from debootstrap, made once and kept (older bases go after the kernel's build)."""
    import docker.errors

    try:
        client.images.get(BASE_TAG)
        return BASE_TAG
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="grader-rootfs-") as tmp:
        rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        log(f"debootstrap {DEBIAN_SUITE} (a few minutes)")
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", DEBIAN_SUITE,
              str(rootfs), DEBIAN_MIRROR])
        _run(["tar", "-C", str(rootfs), "-cf", str(archive), "."])
        log(f"docker import -> {BASE_TAG}")
        repository, tag = BASE_TAG.split(":")
        client.api.import_image(src=str(archive), repository=repository, tag=tag)
    return BASE_TAG


def _pip_download(dest: Path) -> None:
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(dest),
          *requirements()])


def _install_and_commit(client, base: str, wheels: Path, tag: str) -> None:
    container = client.containers.create(base, ["sleep", "infinity"], network_mode="none")
    try:
        container.start()
        container.put_archive("/tmp", _tar_folder(wheels, "wheels"))
        _exec(container, ["git", "--version"], "the base image has no git, which the kernel needs: "
              "build on the grader's own base (no --base), or on one with git installed")
        _exec(container, ["python3", "-m", "venv", VENV])
        _exec(container, [f"{VENV}/bin/pip", "install", "--quiet", "--no-index", "--find-links", "/tmp/wheels",
                          *requirements()])
        _exec(container, ["rm", "-rf", "/tmp/wheels", "/root/.cache"])
        container.stop(timeout=1)
        repository, version_tag = tag.split(":")
        container.commit(repository=repository, tag=version_tag, changes=[
            # the PATH python images have, the venv first
            f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CMD []",
        ])
    finally:
        container.remove(force=True)


def _tar_folder(folder: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=name)
    return buffer.getvalue()


def _exec(container, cmd: list[str], why: str = "") -> None:
    """``cmd`` in the build container; ImageError with ``why`` (or the command's output) if it fails."""
    code, output = container.exec_run(cmd)
    if code != 0:
        raise ImageError(why or f"{' '.join(cmd)} failed ({code}):\n{output.decode(errors='replace')[-3000:]}")


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ImageError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
