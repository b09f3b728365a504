"""``grade --dask``: the Dask executor grades as the local one does, checks its workers first, sends
each lab once per worker, survives a worker that dies, and leaves nothing running."""

from __future__ import annotations

import csv
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import dask
import pytest
from conftest import copy_course, leftover_processes, notebook, solution_cells, wait_for, write_notebook
from distributed import Client, LocalCluster
from fakes import FAKE_TASK
from test_interrupt import ctrl_c_when, descendants, group

from grader.batch import dask_worker
from grader.batch.cluster import DaskExecutor, LabTask, job_spec, lab_bundle, parse_address
from grader.batch.dask_worker import DIED_TWICE, carried, extracted_bundles
from grader.course.discover import discover
from grader.course.layout import Course
from grader.errors import ClusterError, UsageError
from grader.results.model import Status
from grader.runner import Job, Steps, limits

LAB = "00-warmup"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "course"


@pytest.mark.parametrize("address,expected", [
    ("local:1", (None, 1)), ("local:4", (None, 4)), ("local:16", (None, 16)),
    ("tcp://127.0.0.1:8786", ("tcp://127.0.0.1:8786", 0)), ("tls://scheduler:8786", ("tls://scheduler:8786", 0)),
])
def test_addresses(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["", "local:0", "local:x", "local:", "local:-2", "localhost", "127.0.0.1:8786",
                                     "tcp:/x", "http://host:8786", "local:2 ", "tcp://"])
def test_bad_addresses_are_usage_errors(address):
    with pytest.raises(UsageError, match="--dask"):
        parse_address(address)


def test_dask_and_jobs_together_are_refused(tmp_path):
    course = copy_course(tmp_path / "course")
    write_notebook(course / "submissions" / "s.ipynb", notebook(*solution_cells()))
    proc = subprocess.run([sys.executable, "-m", "grader", "submissions", "--dask", "local:1", "-j", "2"],
                          cwd=course, capture_output=True, text=True)
    assert proc.returncode == 2 and "-j does not apply with --dask" in proc.stderr


def test_a_bundle_depends_on_the_lab_files_only(tmp_path):
    first, second = copy_course(tmp_path / "a"), copy_course(tmp_path / "b")
    os.utime(second / "solutions" / LAB / "tests" / "test_hidden.py", (0, 0))
    (second / "solutions" / LAB / "tests" / "__pycache__").mkdir()
    (second / "solutions" / LAB / "tests" / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    (second / "labs" / "other").mkdir()
    (second / "labs" / "other" / "lab.ipynb").write_text("{}")
    assert lab_bundle(Course(first), LAB) == lab_bundle(Course(second), LAB)
    (second / "solutions" / "conftest.py").write_text("# read by pytest above every lab's tests\n")
    assert lab_bundle(Course(first), LAB) != lab_bundle(Course(second), LAB)
    (second / "solutions" / "conftest.py").unlink()
    test = second / "solutions" / LAB / "tests" / "test_hidden.py"
    test.write_text(test.read_text() + "\n# changed\n")
    assert lab_bundle(Course(first), LAB) != lab_bundle(Course(second), LAB)


def test_a_job_spec_is_small_and_immutable(tmp_path):
    course = copy_course(tmp_path / "course")
    path = write_notebook(course / "submissions" / "s.ipynb", notebook(*solution_cells()))
    sub = discover([path], Course(course).lab_ids())[0]
    lab = LabTask("abc", None, limits(Course(course).lab(LAB)))
    spec = job_spec(Job(sub, course, out=tmp_path / "out"), lab, "me")
    assert spec.notebook == path.read_bytes() and spec.bundle == "abc" and spec.identity == "me"
    assert spec.limits == limits(Course(course).lab(LAB))
    assert len(pickle.dumps(spec)) < len(spec.notebook) + 4096
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.bundle = "other"


def rows(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return sorted(({k: v for k, v in row.items() if k != "execution_time"} for row in csv.DictReader(f)),
                      key=lambda row: row["student"])


def test_local_cluster_gives_the_gradebook_of_the_local_executor(tmp_path):
    """The sandbox and the hidden tests, on two Dask workers and on this machine's processes."""
    course = copy_course(tmp_path / "course")
    subs = course / "submissions"
    subs.mkdir()
    for name in ("alice", "bob", "dave"):
        (subs / f"{name}.ipynb").write_bytes((EXAMPLE / "submissions" / f"{name}.ipynb").read_bytes())
    (subs / "broken.ipynb").write_text("{not json")
    write_notebook(subs / "stranger.ipynb", notebook("x = 1", lab="no-such-lab"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200"}
    for out, extra in (("local", []), ("dask", ["--dask", "local:2"])):
        proc = subprocess.run([sys.executable, "-m", "grader", "submissions", "--out", out, *extra], cwd=course,
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows(course / "dask") == rows(course / "local")
    assert {r["status"] for r in rows(course / "dask")} == {"graded", "invalid"}
    for name in ("alice", "bob", "dave"):
        assert (course / "dask" / name / f"{LAB}.html").is_file()
        assert (course / "dask" / name / f"{LAB}.ipynb").is_file()
    wait_for(lambda: not leftover_processes(scratch), 30)


def kills_its_worker(job: Job, steps: Steps) -> None:
    """Grades as the fake does, but for student ``killer``: kills the Dask worker above it (the
    parent of the fork server that forked this grading process), once per attempt it is given."""
    if job.submission.student == "killer" and job.stop is None:
        with open(os.environ["ATTEMPTS"], "a") as f:
            f.write(f"attempt {os.getpid()}\n")
        server = int(Path(f"/proc/{os.getppid()}/stat").read_text().rsplit(")", 1)[1].split()[1])
        os.kill(server, signal.SIGKILL)
        signal.pause()
    FAKE_TASK(job, steps)


@pytest.fixture
def fake_course(tmp_path: Path) -> tuple[Path, list[Job]]:
    course = copy_course(tmp_path / "course")
    names = ["killer", *(f"s{i}" for i in range(5))]
    for name in names:
        write_notebook(course / "submissions" / f"{name}.ipynb", notebook(*solution_cells()))
    subs = discover([course / "submissions"], Course(course).lab_ids())
    return course, [Job(sub, course, out=tmp_path / "out") for sub in subs]


def test_a_submission_that_kills_its_worker_costs_its_row_only(fake_course, tmp_path, monkeypatch):
    course, jobs = fake_course
    attempts = tmp_path / "attempts"
    monkeypatch.setenv("ATTEMPTS", str(attempts))  # the workers are spawned with this environment
    with DaskExecutor("local:2", task=kills_its_worker) as executor:
        found = {job.submission.student: result for job, result in executor.run(jobs)}
        bundles = executor.client.run(extracted_bundles)
    assert found["killer"].status == Status.CRASHED and DIED_TWICE in found["killer"].message
    assert 1 <= len(attempts.read_text().splitlines()) <= 2
    assert all(found[f"s{i}"].status == Status.GRADED and found[f"s{i}"].score > 0 for i in range(5))
    assert all(len(hashes) == len(set(hashes)) <= 1 for hashes in bundles.values()), bundles
    assert not executor.errors
    killers = [int(line.split()[1]) for line in attempts.read_text().splitlines()]
    wait_for(lambda: not any(Path("/proc", str(pid)).exists() for pid in killers), 30)  # died with their workers
def test_each_lab_goes_to_a_worker_once(fake_course):
    course, jobs = fake_course
    jobs = [job for job in jobs if job.submission.student != "killer"] * 3
    with DaskExecutor("local:2", task=FAKE_TASK) as executor:
        found = list(executor.run(jobs))
        bundles = executor.client.run(extracted_bundles)
    assert len(found) == len(jobs) and all(result.status == Status.GRADED for _, result in found)
    assert sum(len(hashes) for hashes in bundles.values()) <= len(bundles)
    assert all(len(set(hashes)) == len(hashes) for hashes in bundles.values())


def _pretend_another_grader() -> None:
    dask_worker._version = lambda: "0.0.0-other"
    dask_worker.worker_identity.cache_clear()


BAD_WORKERS = {
    "another grader": ({"resources": {"sandbox": 1}}, False, "differ from this client's"),
    "no sandbox resource": ({}, False, "--resources sandbox=N"),
    "daemonic": ({"resources": {"sandbox": 1}}, True, "DASK_DISTRIBUTED__WORKER__DAEMON=False"),
}


@pytest.mark.parametrize("kind", list(BAD_WORKERS))
def test_workers_unlike_the_client_are_refused_before_any_job(kind, fake_course):
    options, daemon, reason = BAD_WORKERS[kind]
    with dask.config.set({"distributed.worker.daemon": daemon}), \
            LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                         **options) as cluster, Client(cluster) as client:
        if kind == "another grader":
            client.run(_pretend_another_grader)
        with pytest.raises(ClusterError) as refused:
            DaskExecutor(cluster.scheduler_address, task=FAKE_TASK).__enter__()
        assert reason in str(refused.value) and list(cluster.workers.values())[0].worker_address in str(refused.value)
        assert client.run(extracted_bundles) == {a: [] for a in client.scheduler_info()["workers"]}


def test_no_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError, match="no Dask scheduler answers"):
        DaskExecutor("tcp://127.0.0.1:9").__enter__()


SLOW = "import time\ntime.sleep(60)"


def start_grade(course: Path, scratch: Path, *extra: str) -> subprocess.Popen:
    """``grade --dask local:2`` in a session of its own, as a terminal runs it."""
    command = [sys.executable, "-m", "grader", "submissions", "--dask", "local:2", "--skip-solution-check", *extra]
    return subprocess.Popen(command, cwd=course, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(scratch)})


@pytest.fixture
def slow_batch(tmp_path: Path) -> tuple[Path, Path]:
    course = copy_course(tmp_path / "course")
    for i in range(3):
        write_notebook(course / "submissions" / f"slow{i}.ipynb", notebook(SLOW, *solution_cells()))
    write_notebook(course / "submissions" / "quick.ipynb", notebook(*solution_cells()))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return course, scratch


def test_ctrl_c_ends_the_grading_on_every_worker(slow_batch):
    course, scratch = slow_batch
    proc = start_grade(course, scratch)
    stderr = ctrl_c_when(proc, lambda: sum("bwrap" in cmd for _, cmd in descendants(proc.pid)) >= 2, 180)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == (
        "grade: interrupted; finished results are kept in grades (rerun to grade the rest)"), stderr
    wait_for(lambda: not group(proc.pid) and not leftover_processes(scratch), 30)


def test_kill_9_of_the_client_then_a_rerun_keeps_what_was_done(slow_batch):
    course, scratch = slow_batch
    proc = start_grade(course, scratch)
    try:
        done = course / "grades" / "quick" / f"{LAB}.json"
        wait_for(done.is_file, 180)
        kept = done.read_text()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    wait_for(lambda: not group(proc.pid) and not leftover_processes(scratch), 60)
    for i in range(3):  # now quick to grade: the rest is graded, what was done is reused
        write_notebook(course / "submissions" / f"slow{i}.ipynb", notebook(*solution_cells()))
    again = start_grade(course, scratch)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, out + err
    assert done.read_text() == kept
    assert {r["student"]: (r["status"], r["reused"]) for r in rows(course / "grades")} == {
        "quick": ("graded", "yes"), **{f"slow{i}": ("graded", "no") for i in range(3)}}
    wait_for(lambda: not group(again.pid) and not leftover_processes(scratch), 30)


def test_only_a_window_of_jobs_is_submitted_at_once(fake_course):
    """The notebooks held by the client and the scheduler are a window's, however large the batch."""
    course, jobs = fake_course
    jobs = [job for job in jobs if job.submission.student != "killer"] * 4
    counts = {"submitted": 0, "yielded": 0, "most": 0}
    with DaskExecutor("local:1", task=FAKE_TASK) as executor:
        executor.window = 3
        submit = executor.client.submit

        def counted(function, *args, **kwargs):
            if function is not carried:
                counts["submitted"] += 1
                counts["most"] = max(counts["most"], counts["submitted"] - counts["yielded"])
            return submit(function, *args, **kwargs)

        executor.client.submit = counted
        for _ in executor.run(jobs):
            counts["yielded"] += 1
    assert counts["submitted"] == counts["yielded"] == len(jobs)
    assert counts["most"] <= executor.window + 1  # a job is submitted as the one before it is handed over
