"""What a grader or a Dask worker killed outright leaves behind is removed by the next batch, and
only that: known by the pid the grader wrote, never by a folder's look."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from grader.batch import processes


def dead_pid() -> int:
    """A pid whose process has ended (a child, waited for)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


OWNERS = {  # what a folder's owner file says -> whether the folder is reclaimed
    "a dead executor": (lambda: str(dead_pid()), True),
    "this process": (lambda: str(os.getpid()), False),
    "the init process": (lambda: "1", False),
    "no pid": (lambda: "not a pid", False),
    "empty": (lambda: "", False),
    "a huge number": (lambda: "9" * 40, False),
}


@pytest.mark.parametrize("owner", list(OWNERS))
def test_a_scratch_folder_goes_only_when_its_owner_is_gone(owner, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = processes.scratch_folder()
    (folder / "k-sockets").mkdir()
    text, reclaimed = OWNERS[owner]
    (folder / processes.OWNER).write_text(text())
    ownerless = tmp_path / f"{processes.SCRATCH}someone-else"
    ownerless.mkdir()
    processes.reclaim_dead_workers()
    assert folder.exists() is not reclaimed
    assert ownerless.exists()


def test_a_new_scratch_folder_is_this_process_s(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = processes.scratch_folder()
    assert folder.parent == tmp_path and folder.name.startswith(processes.SCRATCH)
    assert (folder / processes.OWNER).read_text() == str(os.getpid())
    assert len(str(folder)) <= len(str(Path(tempfile.mkdtemp(prefix=processes.SCRATCH))))
