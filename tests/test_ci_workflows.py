"""The CI templates in ``ci/`` and ``grade init-ci``, run the way a CI runner runs them.

A workflow is read with PyYAML and its shell steps are run with bash, in
order, exactly as the file lists them, in a checkout of a temporary git
repository that a student or instructor pushed to. Steps that ``uses:`` an
action (checkout, setup-python, upload-artifact) are skipped, since they need
GitHub; the test does their job itself (it clones the pushed commit, and the
grader is already installed). The grader is found through this venv's bin on
PATH; ``pip``, ``sudo`` and ``apt-get`` are shims that fail the test if a step
calls them, so an install step must really be skipped where ``grade`` exists,
never run against the network.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import LAB, REPO, copy_course, notebook, run_grade, solution_cells, write_notebook

from grader.report.ci import FAIL_UNDER_STATUS
from grader.report.workflows import DESTINATIONS

TEMPLATES = [("github", "student"), ("github", "instructor"), ("gitlab", "student"), ("gitlab", "instructor")]
FORBIDDEN_TOOLS = ("pip", "pip3", "sudo", "apt-get")
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "student",
           "GIT_AUTHOR_EMAIL": "student@example.org", "GIT_COMMITTER_NAME": "student",
           "GIT_COMMITTER_EMAIL": "student@example.org"}


@dataclass
class Run:
    """What a CI run left: each step's exit status and output, in order."""

    statuses: list[int] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.statuses[-1] if self.statuses else 0

    def annotations(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::error ")]


# --- a CI runner, small ---------------------------------------------------------------------------

@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A bin folder: the venv's ``grade`` and ``python``, and shims that fail for network tools."""
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "grade").is_file(), "run the tests with the venv's python (make test)"
    shims = tmp_path / "shims"
    shims.mkdir()
    for tool in FORBIDDEN_TOOLS:
        (shims / tool).write_text(f"#!/bin/sh\necho 'a CI step ran {tool}' >&2\nexit 97\n")
        (shims / tool).chmod(0o755)
    return shims


def ci_env(tools: Path, extra: dict[str, str], installed: bool = True) -> dict[str, str]:
    """The environment of a step: this one, without any real CI's variables, plus ``extra``.
    ``installed``: the grader is on PATH (a prebuilt runner image); else only ``tools`` and the system."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_"))}
    venv_bin = str(Path(sys.executable).parent)
    system = [d for d in env.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != Path(venv_bin).resolve()]
    env["PATH"] = os.pathsep.join([str(tools), *([venv_bin] if installed else []), *system])
    env.update(GIT_ENV)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def literal(value: object) -> str:
    """An env value as the runner sets it; expressions (``${{ }}``) cannot be evaluated offline."""
    text = str(value)
    assert "${{" not in text, f"cannot evaluate {text!r} outside GitHub"
    return text


def run_github(workflow: dict, job: str, workspace: Path, tools: Path, installed: bool = True) -> Run:
    """Run ``job``'s steps as GitHub's runner does with ``shell: bash``: each step is
    ``bash --noprofile --norc -eo pipefail`` on a script file, and the job stops at the first
    failing step. Each step gets its own GITHUB_STEP_SUMMARY file, as on GitHub."""
    assert workflow["defaults"]["run"]["shell"] == "bash"
    spec = workflow["jobs"][job]
    run = Run()
    for index, step in enumerate(spec["steps"]):
        if "uses" in step:
            run.skipped.append(step["uses"])
            continue
        assert "${{" not in step["run"], "a run step must not need GitHub's expressions"
        script = workspace.parent / f"step-{index}.sh"
        script.write_text(step["run"])
        env = {k: literal(v) for k, v in {**workflow.get("env", {}), **spec.get("env", {}),
                                          **step.get("env", {})}.items()}
        env.update(GITHUB_ACTIONS="true", CI="true", GITHUB_WORKSPACE=str(workspace),
                   GITHUB_STEP_SUMMARY=str(workspace.parent / f"summary-{index}.md"),
                   RUNNER_TEMP=str(workspace.parent / "runner-temp"))
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                              env=ci_env(tools, env, installed), capture_output=True, text=True, timeout=600)
        run.statuses.append(proc.returncode)
        run.stdout += proc.stdout
        run.stderr += proc.stderr
        if proc.returncode != 0:
            break
    return run


def run_gitlab(pipeline: dict, job: str, workspace: Path, tools: Path, installed: bool = True) -> Run:
    """Run ``job`` as GitLab's runner does with bash: before_script and script lines in one shell,
    under ``set -eo pipefail``, with the pipeline's and the job's variables."""
    spec = pipeline[job]
    lines = spec.get("before_script", []) + spec["script"]
    script = workspace.parent / f"{job}.sh"
    script.write_text("set -eo pipefail\n" + "\n".join(lines) + "\n")
    env = {k: literal(v) for k, v in {**pipeline.get("variables", {}), **spec.get("variables", {})}.items()}
    env.update(GITLAB_CI="true", CI="true", CI_PROJECT_DIR=str(workspace), GITHUB_ACTIONS="", GITHUB_STEP_SUMMARY="",
               TMPDIR=str(workspace.parent / "tmp"))
    (workspace.parent / "tmp").mkdir(exist_ok=True)
    proc = subprocess.run(["bash", "--noprofile", "--norc", str(script)], cwd=workspace,
                          env=ci_env(tools, env, installed), capture_output=True, text=True, timeout=600)
    return Run([proc.returncode], proc.stdout, proc.stderr)


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def push(repo: Path, remote: Path, message: str) -> None:
    """Commit everything in ``repo`` and push it to the bare repository ``remote``."""
    if not remote.exists():
        git("init", "--bare", "-q", str(remote), cwd=repo.parent)
        git("init", "-q", cwd=repo)
        git("remote", "add", "origin", str(remote), cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=repo)


def checkout(remote: Path, workspace: Path) -> Path:
    """What actions/checkout (or GitLab's clone) does: the pushed commit, in a fresh folder."""
    shutil.rmtree(workspace, ignore_errors=True)
    git("clone", "-q", "--branch", "main", str(remote), str(workspace), cwd=remote.parent)
    return workspace


# --- repositories -------------------------------------------------------------------------------

def student_repo(tmp_path: Path, gitlab: bool) -> Path:
    """An assignment's template repository: the lab (public tests only) and the student workflow
    written by ``grade init-ci``."""
    course = copy_course(tmp_path / "course")
    repo = tmp_path / "student"
    shutil.copytree(course / "labs", repo / "labs")
    proc = run_grade("init-ci", "--student", *(["--gitlab"] if gitlab else []), str(repo), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return repo


def instructor_repo(tmp_path: Path, gitlab: bool) -> Path:
    """A private grading repository: the whole course, two collected submissions, the workflow."""
    repo = copy_course(tmp_path / "grading")
    write_notebook(repo / "submissions" / "amy" / "lab.ipynb", notebook(*solution_cells()))
    write_notebook(repo / "submissions" / "bob.ipynb", notebook(*solution_cells()[:2]))
    proc = run_grade("init-ci", "--instructor", *(["--gitlab"] if gitlab else []), str(repo), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return repo


def load(workspace: Path, platform: str) -> dict:
    return yaml.safe_load((workspace / DESTINATIONS[platform]).read_text())


def solve(repo: Path, cells: list[str]) -> None:
    """The student's work: their lab notebook, answered with ``cells``."""
    write_notebook(repo / "labs" / LAB / "lab.ipynb", notebook(*cells))


# --- the workflows, run -------------------------------------------------------------------------

def test_github_student_workflow_on_push(tmp_path, tools):
    repo, remote = student_repo(tmp_path, gitlab=False), tmp_path / "origin.git"
    solve(repo, solution_cells()[:2])  # q1 only: 1 of 4 public points
    push(repo, remote, "q1")
    workspace = checkout(remote, tmp_path / "runner" / "workspace")
    workflow = load(workspace, "github")
    run = run_github(workflow, "public-tests", workspace, tools)
    assert run.skipped == ["actions/checkout@v4", "actions/setup-python@v5"]
    assert run.statuses == [0, FAIL_UNDER_STATUS], run.stderr
    assert len(run.annotations()) == 3 and all(f"file=labs/{LAB}/lab.ipynb," in a for a in run.annotations())
    summaries = sorted((tmp_path / "runner").glob("summary-*.md"))
    assert len(summaries) == 1  # only the test step writes one
    summary = summaries[0].read_text()
    assert "00\\-warmup\\: 1 \\/ 4" in summary and "| q1\\: square\\(3\\) is 9 | 1 \\/ 1 | passed |" in summary


def test_github_student_workflow_passes_when_solved(tmp_path, tools):
    repo, remote = student_repo(tmp_path, gitlab=False), tmp_path / "origin.git"
    solve(repo, solution_cells())
    push(repo, remote, "all done")
    workspace = checkout(remote, tmp_path / "runner" / "workspace")
    run = run_github(load(workspace, "github"), "public-tests", workspace, tools)
    assert run.statuses == [0, 0], run.stderr
    assert run.annotations() == [] and "4 / 4" in run.stdout


def test_gitlab_student_pipeline_on_push(tmp_path, tools):
    repo, remote = student_repo(tmp_path, gitlab=True), tmp_path / "origin.git"
    solve(repo, solution_cells()[:3])  # q1, q2: 2 of 4
    push(repo, remote, "q1 and q2")
    workspace = checkout(remote, tmp_path / "runner" / "workspace")
    pipeline = load(workspace, "gitlab")
    run = run_gitlab(pipeline, "public-tests", workspace, tools)
    assert run.status == FAIL_UNDER_STATUS, run.stderr
    assert run.annotations() == []  # not on GitHub: no workflow commands
    report = pipeline["public-tests"]["artifacts"]["reports"]["junit"]
    reports = list(workspace.glob(report))
    assert [p.name for p in reports] == [f"{LAB}.xml"]
    root = ET.parse(reports[0]).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")


@pytest.mark.parametrize("gitlab", [False, True], ids=["github", "gitlab"])
def test_instructor_workflow_grades_submissions(tmp_path, tools, gitlab):
    repo, remote = instructor_repo(tmp_path, gitlab), tmp_path / "grading.git"
    push(repo, remote, "collected submissions")
    workspace = checkout(remote, tmp_path / "runner" / "workspace")
    if gitlab:
        pipeline = load(workspace, "gitlab")
        run = run_gitlab(pipeline, "grade", workspace, tools)
        kept = pipeline["grade"]["artifacts"]["paths"] + [pipeline["grade"]["artifacts"]["reports"]["junit"]]
    else:
        workflow = load(workspace, "github")
        run = run_github(workflow, "grade", workspace, tools)
        upload = next(s for s in workflow["jobs"]["grade"]["steps"] if s.get("uses", "").startswith("actions/upload"))
        kept = [upload["with"]["path"]]
        assert run.skipped[-1] == upload["uses"] and upload["if"] == "always()"
    assert set(run.statuses) == {0}, run.stderr  # low scores are not a failure of the grading job
    assert all((workspace / path).exists() for path in kept)
    with open(workspace / "grades" / "gradebook.csv", newline="") as f:
        book = {row["student"]: row for row in csv.DictReader(f)}
    assert {s: (r["score"], r["sandboxed"]) for s, r in book.items()} == {"amy": ("22", "yes"), "bob": ("9", "yes")}
    root = ET.parse(workspace / "grades" / "junit.xml").getroot()
    assert [s.get("name") for s in root.findall("testsuite")] == [f"amy / {LAB}", f"bob / {LAB}"]


FAKE_PYTHON = r"""#!/bin/sh
# `python -m venv DIR`, offline: an environment whose pip records what it was asked to install
# (and fails, as pip does, when the requirements file is not there) and whose grade is the
# grader under test.
[ "$1 $2" = "-m venv" ] || {{ echo "unexpected: python $*" >&2; exit 98; }}
mkdir -p "$3/bin"
echo "PATH=\"$3/bin:\$PATH\"; export PATH" > "$3/bin/activate"
cat > "$3/bin/pip" <<PIP
#!/bin/sh
echo "$3 \$*" >> {log}
for last; do :; done
test -f "\$last"
PIP
cat > "$3/bin/grade" <<GRADE
#!/bin/sh
exec {python} -m grader "\$@"
GRADE
chmod +x "$3/bin/pip" "$3/bin/grade"
"""


def fake_python(tools: Path, log: Path) -> None:
    """``python`` (and ``python3``) in ``tools``: the FAKE_PYTHON above."""
    for name in ("python", "python3"):
        (tools / name).write_text(FAKE_PYTHON.format(log=log, python=sys.executable))
        (tools / name).chmod(0o755)


def second_lab(repo: Path) -> str:
    """A second lab in the student's repository, with requirements of its own; solved, as the first."""
    lab = "01-second"
    shutil.copytree(repo / "labs" / LAB, repo / "labs" / lab)
    (repo / "labs" / lab / "requirements.txt").write_text("# the second lab's own\nrequests>=2\n")
    nb = notebook(*solution_cells(), lab=lab)
    write_notebook(repo / "labs" / lab / "lab.ipynb", nb)
    solve(repo, solution_cells())
    return lab


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_student_workflow_installs_each_lab_from_its_own_requirements(tmp_path, tools, platform):
    """Where no grader is installed, each lab gets an environment of its own, made with the grader
    and that lab's requirements.txt, and its public tests run in it."""
    repo, remote = student_repo(tmp_path, gitlab=platform == "gitlab"), tmp_path / "origin.git"
    other = second_lab(repo)
    push(repo, remote, "two labs")
    log = tmp_path / "pip.log"
    fake_python(tools, log)
    workspace = checkout(remote, tmp_path / "runner" / "workspace")
    spec = load(workspace, platform)
    if platform == "github":
        run = run_github(spec, "public-tests", workspace, tools, installed=False)
        assert run.statuses == [0, 0], run.stderr
        setup = next(s for s in spec["jobs"]["public-tests"]["steps"] if "setup-python" in s.get("uses", ""))
        assert (setup["with"]["cache"], setup["with"]["cache-dependency-path"]) == ("pip", "labs/*/requirements.txt")
    else:
        run = run_gitlab(spec, "public-tests", workspace, tools, installed=False)
        assert run.status == 0, run.stderr
        cache = spec["public-tests"]["cache"]
        assert cache["key"]["files"] == ["labs/*/requirements.txt"] and cache["paths"] == [".cache/pip"]
        assert spec["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    installs = [line.split() for line in log.read_text().splitlines()]
    grader = spec["env" if platform == "github" else "variables"]["GRADER"]
    assert [words[1:] for words in installs] == [["install", grader, "-r", f"labs/{lab}/requirements.txt"]
                                                 for lab in (LAB, other)]
    assert [Path(words[0]).parts[-2:] for words in installs] == [("labs", LAB), ("labs", other)]
    assert run.stdout.count("4 / 4") >= 2, run.stdout


def test_student_workflow_checks_every_lab_even_after_one_fails_to_install(tmp_path, tools):
    """A lab whose install fails marks the run red, and the next lab is still installed and checked."""
    repo, remote = student_repo(tmp_path, gitlab=False), tmp_path / "origin.git"
    other = second_lab(repo)
    (repo / "labs" / LAB / "requirements.txt").unlink()
    push(repo, remote, "two labs, the first without its requirements")
    fake_python(tools, tmp_path / "pip.log")
    workspace = checkout(remote, tmp_path / "runner" / "workspace")
    run = run_github(load(workspace, "github"), "public-tests", workspace, tools, installed=False)
    assert run.statuses == [0, 1], run.stderr
    assert f"labs/{other}/requirements.txt" in (tmp_path / "pip.log").read_text()
    assert run.stdout.count("4 / 4") == 1, run.stdout


# --- the templates --------------------------------------------------------------------------------

@pytest.mark.parametrize(("platform", "role"), TEMPLATES)
def test_packaged_templates_are_the_ci_folder(platform, role):
    """``grade init-ci`` writes package data; ``ci/`` is the same text for readers. Edit both."""
    packaged = REPO / "grader" / "ci_templates" / platform / f"{role}.yml"
    assert packaged.read_text() == (REPO / "ci" / platform / f"{role}.yml").read_text()


def test_github_triggers():
    student = yaml.safe_load((REPO / "ci" / "github" / "student.yml").read_text())
    instructor = yaml.safe_load((REPO / "ci" / "github" / "instructor.yml").read_text())
    on = lambda wf: wf.get("on", wf.get(True))  # noqa: E731  PyYAML (YAML 1.1) reads the key `on` as True
    assert {"push", "repository_dispatch"} <= set(on(student))
    assert student["jobs"]["public-tests"]["if"] == "github.actor != 'github-classroom[bot]'"
    assert {"push", "schedule", "workflow_dispatch"} <= set(on(instructor))


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_student_templates_run_only_public_tests(platform):
    """A student's workflow runs `grade check`, never the batch, and names no hidden tests."""
    text = (REPO / "ci" / platform / "student.yml").read_text()
    commands = [line.strip() for line in text.splitlines() if "grade " in line and not line.strip().startswith("#")]
    assert commands and all("grade check" in c or "command -v grade" in c for c in commands)
    assert "solutions/" not in text.replace("holds solutions/", "")


# --- grade init-ci --------------------------------------------------------------------------------

@pytest.mark.parametrize(("platform", "role"), TEMPLATES)
def test_init_ci_writes_the_template(tmp_path, platform, role):
    args = ["init-ci", f"--{role}"] + (["--gitlab"] if platform == "gitlab" else []) + [str(tmp_path)]
    proc = run_grade(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / DESTINATIONS[platform]
    assert written.read_text() == (REPO / "ci" / platform / f"{role}.yml").read_text()


def test_init_ci_never_overwrites_without_force(tmp_path):
    target = tmp_path / ".github" / "workflows" / "grade.yml"
    target.parent.mkdir(parents=True)
    target.write_text("mine\n")
    proc = run_grade("init-ci", "--student", cwd=tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr and target.read_text() == "mine\n"
    assert run_grade("init-ci", "--student", "--force", cwd=tmp_path).returncode == 0
    assert target.read_text() == (REPO / "ci" / "github" / "student.yml").read_text()


def test_init_ci_usage_errors(tmp_path):
    assert run_grade("init-ci", str(tmp_path), cwd=tmp_path).returncode == 2  # neither --student nor --instructor
    assert run_grade("init-ci", "--student", "--instructor", cwd=tmp_path).returncode == 2
    assert run_grade("init-ci", "--student", str(tmp_path / "missing"), cwd=tmp_path).returncode == 2
    assert not (tmp_path / ".github").exists()


def test_init_ci_warns_when_a_student_repo_holds_solutions(tmp_path):
    course = copy_course(tmp_path / "course")
    proc = run_grade("init-ci", "--student", str(course), cwd=tmp_path)
    assert proc.returncode == 0 and "must not contain solutions/" in proc.stderr
    assert "warning" not in run_grade("init-ci", "--instructor", "--gitlab", str(course), cwd=tmp_path).stderr
