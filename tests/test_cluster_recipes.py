"""The README's cluster recipes (section "Grading on a cluster"), run offline.

Each code block the README says comes from a file under deploy/ is that file's
text; each command parses with the program it names; the SSH recipe starts a
real cluster over an sshd on loopback that the test starts, and grades on
it; the SLURM job script is rendered with no SLURM; the Kubernetes manifests
validate against the Kubernetes schema.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import importlib.util
import os
import re
import shlex
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import dask
import kubernetes_validate
import psutil
import pytest
import yaml
from conftest import EXAMPLE, LAB, run_grade, wait_for
from dask_jobqueue import SLURMCluster
from distributed import Client, SSHCluster
from distributed.deploy import ssh as dask_ssh

from grader.batch.cluster import RESOURCE, parse_address
from grader.batch.dask_worker import identity, worker_identity
from grader.cli.grade import grade_parser

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SECTION = "## Grading on a cluster"
K8S_VERSION = "1.33"  # a schema kubernetes-validate ships; user namespaces for pods are on by default from here
LOOPBACK = "127.0.0.1"
DAEMON_KEY = "distributed.worker.daemon"
README_VARIABLES = {  # each variable a README command may set: the config key it sets and the value it must give
    "DASK_DISTRIBUTED__WORKER__DAEMON": (DAEMON_KEY, False),
    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": ("distributed.scheduler.allowed-failures", 1),
}


def from_environment(env: dict[str, str], key: str) -> Any:
    """The value of Dask config ``key`` that these environment variables alone give, as Dask reads them."""
    return dask.config.get(key, config=dask.config.collect_env(env))


def recipe(name: str) -> ModuleType:
    """deploy/<name>.py, imported as the README runs it (deploy/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", DEPLOY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SSH = recipe("ssh_cluster")
SLURM = recipe("slurm_cluster")


# --- the README ------------------------------------------------------------------------------------


def section() -> str:
    text = (ROOT / "README.md").read_text()
    assert text.count(SECTION) == 1, f"the README needs exactly one {SECTION!r} section"
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:] if end < 0 else text[start:end]


def code_blocks(text: str) -> list[tuple[str, str, str]]:
    """(the last line of prose before it, language, body) of each fenced block."""
    found, prose, lines, i = [], "", text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = lines.index("```", i + 1)
            found.append((prose, line[3:].strip(), "\n".join(lines[i + 1:end])))
            i, prose = end + 1, ""
            continue
        prose = line if line.strip() else prose
        i += 1
    return found


def shown_files() -> list[tuple[Path, str]]:
    """Each block whose prose ends naming a file under deploy/ (``... `deploy/x.py`:``), with that file."""
    shown = []
    for prose, _, body in code_blocks(section()):
        if m := re.search(r"`(deploy/[^`]+)`:$", prose.strip()):
            shown.append((ROOT / m.group(1), body))
    return shown


def commands() -> list[list[str]]:
    """Every command line of the section's shell blocks, split as a shell would (comments and a
    trailing ``&`` dropped)."""
    lines = []
    for _, language, body in code_blocks(section()):
        if language == "sh":
            lines += [words[:-1] if words[-1] == "&" else words
                      for words in (shlex.split(line, comments=True) for line in body.splitlines()) if words]
    return lines


def test_each_block_the_readme_attributes_to_a_file_is_in_that_file():
    shown = shown_files()
    assert {path.relative_to(ROOT).as_posix() for path, _ in shown} == {
        "deploy/ssh_cluster.py", "deploy/slurm_cluster.py", "deploy/kubernetes/grader-worker.yaml"}
    for path, body in shown:
        assert body.strip() and body in path.read_text(), f"the README's block from {path.name} is not in it"


def test_the_kubernetes_worker_is_shown_whole():
    (body,) = [body for path, body in shown_files() if path.suffix == ".yaml"]
    assert body + "\n" == (KUBERNETES / "grader-worker.yaml").read_text()


def test_the_local_recipe_is_one_command_grade_reads_as_a_local_cluster():
    args = grade_parser([]).parse_args(["submissions/", "--dask", "local:2"])
    assert ["grade", "submissions/", "--dask", "local:2"] in commands()
    assert args.dask == "local:2" and parse_address(args.dask) == (None, 2)


def environment(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """A command's leading NAME=value assignments, and the command."""
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def parse_command(words: list[str]) -> None:
    """Parse one README command with the program it names, without running it."""
    program, args = words[0], words[1:]
    if program == "grade":
        parsed = grade_parser([]).parse_args(args)
        assert parsed.dask is not None, f"every grade command of the section uses --dask: {words}"
        parse_address(parsed.dask)
    elif program == "python":
        script = Path(args[0])
        assert script.parent.as_posix() == "deploy", words
        recipe(script.stem).parser().parse_args(args[1:])
    elif program == "dask":
        (command,) = [e for e in entry_points(group="dask_cli") if e.name == args[0]]
        command.load().make_context(f"dask {args[0]}", args[1:])
    elif program == "kubectl":
        files = [args[i + 1] for i, word in enumerate(args) if word == "-f"]
        assert all((ROOT / f).is_file() for f in files), words
    else:
        raise AssertionError(f"the README runs a command this test does not know: {words}")


def test_every_readme_command_parses_with_its_program():
    found = [environment(list(words)) for words in commands()]
    assert {command[0] for _, command in found} == {"grade", "python", "dask", "kubectl"}
    for env, command in found:
        for name, value in env.items():
            key, expected = README_VARIABLES[name]
            assert from_environment({name: value}, key) == expected, command
        parse_command(command)


def test_a_misspelt_command_would_fail_the_readme_test():
    """The parsers above do refuse: a wrong option in a README line would be caught."""
    for words in (["grade", "submissions/", "--dusk", "local:2"], ["python", "deploy/ssh_cluster.py", "head"],
                  ["dask", "worker", "tcp://head:8786", "--nthread", "8"]):
        with pytest.raises((SystemExit, click.UsageError)):
            parse_command(words)


# --- SSH: the options, without SSH -----------------------------------------------------------------


async def _specs(options: dict[str, Any]) -> tuple[dict, dict]:
    """SSHCluster's scheduler and worker specs: built inside a running loop, it connects to nothing."""
    cluster = SSHCluster(**options, asynchronous=True)
    try:
        return cluster.scheduler_spec, cluster.worker_spec
    finally:
        await cluster.close()


@pytest.mark.parametrize("hosts", [1, 3])
@pytest.mark.parametrize("threads", [1, 2, 16])
def test_ssh_recipe_gives_each_host_a_sandbox_per_thread(hosts, threads):
    workers = [f"node{i}" for i in range(hosts)]
    scheduler, specs = asyncio.run(_specs(SSH.cluster_options("head", workers, threads, username="grader")))
    assert scheduler["options"]["address"] == "head"
    assert scheduler["options"]["kwargs"]["allowed_failures"] == 1
    assert [spec["options"]["address"] for spec in specs.values()] == workers
    for spec in specs.values():
        assert spec["cls"] is dask_ssh.Worker and spec["options"]["worker_class"] == "distributed.Nanny"
        assert spec["options"]["kwargs"] == {"nthreads": threads, "resources": {RESOURCE: threads}}
        assert spec["options"]["connect_options"] == {"username": "grader"}


def test_ssh_recipe_sets_the_non_daemon_config_exactly_while_the_cluster_starts(monkeypatch):
    """What SSHCluster sends each remote process is ``dask.config.global_config`` as it is while
    the cluster starts: the recipe's config must be in it then, and gone afterwards."""
    sent = []

    def fake_cluster(**options):
        sent.append((dask.config.deserialize(dask.config.serialize(dask.config.global_config)), options))
        return "cluster"

    monkeypatch.setattr(SSH, "SSHCluster", fake_cluster)
    before = dask.config.get(DAEMON_KEY, default=None)
    options = SSH.cluster_options("head", ["node1"], 4)
    assert SSH.start(options) == "cluster"
    ((config, passed),) = sent
    assert config["distributed"]["worker"]["daemon"] is False and passed == options
    assert dask.config.get(DAEMON_KEY, default=None) == before


# --- SSH: a real cluster over the loopback sshd --------------------------------------------------


SSHD = Path("/usr/sbin/sshd")  # openssh-server: `make test` installs it, as it does bubblewrap


def _sshd_config(folder: Path, port: int) -> str:
    return "\n".join([f"ListenAddress {LOOPBACK}", f"Port {port}", f"HostKey {folder / 'host_key'}",
                      f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                      "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                      "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", ""])


@pytest.fixture(scope="module")
def loopback_ssh(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """asyncssh's options for root@127.0.0.1, against an sshd of the test's own: it listens on
    loopback only, accepts one key made here, keeps everything in one temporary folder and is
    stopped after the tests."""
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} is missing: install openssh-server (make test does, as root with apt-get)")
    folder = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "id_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    (folder / "authorized_keys").write_text((folder / "id_ed25519.pub").read_text())
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])
    (folder / "known_hosts").write_text(f"[{LOOPBACK}]:{port} {host_key}\n")
    (folder / "sshd_config").write_text(_sshd_config(folder, port))
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation folder
    subprocess.run([str(SSHD), "-f", str(folder / "sshd_config"), "-E", str(folder / "sshd.log")], check=True)
    pid = int(wait_for(lambda: (folder / "sshd.pid").is_file() and (folder / "sshd.pid").read_text().strip(), 30))
    try:
        yield {"port": port, "username": "root", "agent_path": None,
               "client_keys": [str(folder / "id_ed25519")], "known_hosts": str(folder / "known_hosts")}
    finally:
        os.kill(pid, signal.SIGTERM)


def on_loopback(options: dict[str, Any]) -> dict[str, Any]:
    """The recipe's options with every listener on 127.0.0.1 and any free port."""
    options = copy.deepcopy(options)
    options["scheduler_options"].update(host=LOOPBACK, port=0, dashboard_address=f"{LOOPBACK}:0")
    options["worker_options"].update(host=LOOPBACK, dashboard_address=f"{LOOPBACK}:0")
    return options


def gone(processes: list[psutil.Process], seconds: float = 30) -> list[psutil.Process]:
    """Those of ``processes`` still running after ``seconds``, waited for by psutil."""
    return psutil.wait_procs(processes, timeout=seconds)[1]


@contextmanager
def ssh_recipe_cluster(ssh: dict[str, Any], threads: int) -> Iterator[tuple[Client, list[psutil.Process]]]:
    """The recipe's cluster, scheduler and one worker over SSH on loopback; on exit, its processes gone."""
    options = on_loopback(SSH.cluster_options(LOOPBACK, [LOOPBACK], threads, **ssh))
    processes: list[psutil.Process] = []
    with SSH.start(options) as cluster, Client(cluster) as client:
        processes.append(psutil.Process(client.run_on_scheduler(os.getpid)))
        for pid, parent in client.run(lambda: (os.getpid(), os.getppid())).values():
            processes += [psutil.Process(pid), psutil.Process(parent)]
        yield client, processes
    assert not gone(processes), "the SSH cluster left processes running"


def test_ssh_recipe_starts_workers_over_ssh_that_can_grade(loopback_ssh):
    with ssh_recipe_cluster(loopback_ssh, threads=2) as (client, _):
        (info,) = client.scheduler_info(n_workers=-1)["workers"].values()
        assert info["nthreads"] == 2 and info["resources"] == {RESOURCE: 2}
        (ancestors,) = client.run(lambda: [p.name() for p in psutil.Process().parents()]).values()
        assert "sshd" in ancestors, f"the worker was not started over SSH: {ancestors}"
        # The executor's own check: a daemonic worker answers "refused: ..." instead.
        assert set(client.run(worker_identity, "bwrap").values()) == {identity("bwrap")}


def test_grade_runs_on_the_ssh_recipe_cluster(loopback_ssh, tmp_path):
    out = tmp_path / "grades"
    with ssh_recipe_cluster(loopback_ssh, threads=2) as (client, _):
        address = client.scheduler.address
        proc = run_grade("submissions/alice.ipynb", "submissions/bob.ipynb", "--dask", address,
                         "--out", str(out), cwd=EXAMPLE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: (row["lab"], row["status"], float(row["score"])) for row in csv.DictReader(f)}
    assert rows == {"alice": (LAB, "graded", 22), "bob": (LAB, "graded", 17)}


# --- SLURM -----------------------------------------------------------------------------------------


@contextmanager
def slurm_cluster(**options: Any) -> Iterator[SLURMCluster]:
    """The recipe's SLURMCluster, its scheduler on loopback: no SLURM is asked for anything."""
    scheduler = {**options.pop("scheduler_options"), "host": LOOPBACK, "port": 0,
                 "dashboard_address": f"{LOOPBACK}:0"}
    with SLURMCluster(**options, scheduler_options=scheduler) as cluster:
        yield cluster


def worker_command(script: str) -> list[str]:
    """The job script's `python -m distributed.cli.dask_worker ...` line, split."""
    (line,) = [line for line in script.splitlines() if "-m distributed.cli.dask_worker" in line]
    words = shlex.split(line)
    assert words[1:3] == ["-m", "distributed.cli.dask_worker"], line
    return words[3:]


@pytest.mark.parametrize("cores", [1, 2, 8, 48])
@pytest.mark.parametrize("walltime", ["00:30:00", "02:00:00"])
def test_slurm_job_script_runs_a_worker_with_a_sandbox_per_core(cores, walltime):
    from distributed.cli.dask_worker import main as dask_worker

    with slurm_cluster(**SLURM.cluster_options(cores, walltime, queue="grading", account="course")) as cluster:
        script, address = cluster.job_script(), cluster.scheduler_address
    lines = script.splitlines()
    assert lines[0].startswith("#!") and {
        "#SBATCH -n 1", f"#SBATCH --cpus-per-task={cores}", f"#SBATCH --mem={2 * cores}G",
        f"#SBATCH -t {walltime}", "#SBATCH -p grading", "#SBATCH -A course"} <= set(lines)
    export = "export DASK_DISTRIBUTED__WORKER__DAEMON=False"
    assert lines.index(export) < next(i for i, line in enumerate(lines) if "dask_worker" in line)
    params = dask_worker.make_context("dask worker", worker_command(script)).params
    assert params["scheduler"] == address and address.startswith(f"tcp://{LOOPBACK}:")
    assert params["nthreads"] == cores and params["resources"] == f"{RESOURCE}={cores}" and params["nanny"]


def test_slurm_prologue_makes_workers_non_daemonic():
    """Dask reads the exported variable as the boolean False (not the string)."""
    (line,) = SLURM.cluster_options(4, "01:00:00")["job_script_prologue"]
    name, value = shlex.split(line)[1].split("=", 1)
    assert from_environment({name: value}, DAEMON_KEY) is False


def test_slurm_scheduler_retries_a_killed_worker_once():
    with slurm_cluster(**SLURM.cluster_options(2, "01:00:00")) as cluster:
        assert cluster.scheduler.allowed_failures == 1


# --- Kubernetes ------------------------------------------------------------------------------------


def manifests() -> dict[tuple[str, str], dict]:
    """Every object of deploy/kubernetes/*.yaml, by (kind, name)."""
    found = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[doc["kind"], doc["metadata"]["name"]] = doc
    return found


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_kubernetes_manifests_validate_against_the_schema():
    found = manifests()
    assert set(found) == {("Deployment", "grader-worker"), ("Deployment", "grader-scheduler"),
                          ("Service", "grader-scheduler")}
    for doc in found.values():
        assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == K8S_VERSION


def _misspelt(c: dict) -> None:
    c["securityContext"]["privilegd"] = c["securityContext"].pop("privileged")


CORRUPTIONS = {
    "unknown field": _misspelt,
    "command as one string": lambda c: c.update(command=" ".join(c["command"])),
    "env value not a string": lambda c: c["env"][0].update(value=False),
    "no container name": lambda c: c.pop("name"),
    "cpu as a list": lambda c: c["resources"]["limits"].update(cpu=[2]),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_kubernetes_validation_would_catch_a_broken_worker(corruption):
    worker = copy.deepcopy(manifests()["Deployment", "grader-worker"])
    CORRUPTIONS[corruption](container(worker))
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, K8S_VERSION, strict=True)


def test_kubernetes_worker_is_a_grader_worker():
    from distributed.cli.dask_worker import main as dask_worker

    found = manifests()
    worker, pod = container(found["Deployment", "grader-worker"]), found["Deployment", "grader-worker"]
    assert worker["command"][:2] == ["dask", "worker"]
    params = dask_worker.make_context("dask worker", worker["command"][2:]).params
    threads = params["nthreads"]
    assert params["resources"] == f"{RESOURCE}={threads}" and params["nanny"]
    resources = worker["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == str(threads)
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert from_environment(env, DAEMON_KEY) is False
    assert worker["securityContext"] == {"privileged": True}
    spec = pod["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False


def test_kubernetes_worker_joins_the_scheduler_service():
    from distributed.cli.dask_scheduler import main as dask_scheduler
    from distributed.cli.dask_worker import main as dask_worker

    found = manifests()
    service, scheduler = found["Service", "grader-scheduler"], found["Deployment", "grader-scheduler"]
    (port,) = service["spec"]["ports"]
    address = dask_worker.make_context("dask worker", container(found["Deployment", "grader-worker"])
                                       ["command"][2:]).params["scheduler"]
    assert address == f"tcp://{service['metadata']['name']}:{port['port']}"
    labels = scheduler["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    command = container(scheduler)["command"]
    assert command[:2] == ["dask", "scheduler"]
    listens = int(dask_scheduler.make_context("dask scheduler", command[2:]).params["port"])
    assert listens == port["targetPort"] == container(scheduler)["ports"][0]["containerPort"]
    env = {e["name"]: e["value"] for e in container(scheduler)["env"]}
    assert from_environment(env, "distributed.scheduler.allowed-failures") == 1
