"""What a grader or a Dask worker killed outright leaves behind is removed by the next batch, and
only that: known by the pid (and start time) the grader wrote, never by a folder's look."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from conftest import ended_process

from grader import owner
from grader.batch import processes

OWNERS = {  # what a folder's owner file says -> whether the folder is reclaimed
    "a dead executor": (lambda: ended_process().split(".")[0], True),
    "a dead executor, with its start time": (ended_process, True),
    "this process": (lambda: str(os.getpid()), False),
    "this process, with its start time": (owner.current, False),
    "an earlier process with this process's pid": (lambda: f"{os.getpid()}.{owner.started(os.getpid()) - 1}", True),
    "the init process": (lambda: "1", False),
    "no pid": (lambda: "not a pid", False),
    "empty": (lambda: "", False),
    "a huge number": (lambda: "9" * 40, False),
}


@pytest.mark.parametrize("maker", list(OWNERS))
def test_a_scratch_folder_goes_only_when_its_owner_is_gone(maker, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = processes.scratch_folder()
    (folder / "k-sockets").mkdir()
    text, reclaimed = OWNERS[maker]
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
    assert (folder / processes.OWNER).read_text() == owner.current()
    assert len(str(folder)) <= len(str(Path(tempfile.mkdtemp(prefix=processes.SCRATCH))))
