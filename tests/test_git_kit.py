"""grader.kits.git: a repository read by the real git CLI in a fresh sandbox, and hostile ones.

Every field is checked against what the host's own git says of the same repository (the test
made it, so the host may read it), over a generated family of histories. Hostile repositories
and hostile tars each give a RepositoryError or a correct answer, in bounded time, touching
nothing outside the sandbox; they run on the unsandboxed backend too, where only the kit's
own defences (the data filter, the configuration set aside) stand between them and the host.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BACKENDS, leftover_processes

from grader.engine.execute import execute
from grader.engine.kernel import Kernel
from grader.engine.sandbox import Limits, get_backend
from grader.errors import KitError
from grader.kits.git import inspect as kit
from grader.kits.git.inside import read
from grader.kits.git.inspect import Repository, RepositoryError, inspect_repository
from grader.kits.sandboxed import host_copies
from grader.testing.live import LiveNotebook
from grader.testing.notebook import Notebook

SECRET = "sk-test-7f3a9c1e55d04b2f"
IGNORED = (".env", "data/raw.csv", "app.py", "notes/todo.txt")
HOST_GIT = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "Ann Lee",
            "GIT_AUTHOR_EMAIL": "ann@example.org", "GIT_COMMITTER_NAME": "Ann Lee",
            "GIT_COMMITTER_EMAIL": "ann@example.org", "FILTER_BRANCH_SQUELCH_WARNING": "1",
            "GIT_NO_REPLACE_OBJECTS": "1"}  # the kit reads past replace refs: so does the truth
# Where the reader runs: bubblewrap (the host's Python, with tarfile's data filter), unsandboxed
# (only the kit's own defences), Docker (the image's Python 3.11.2, without the data filter).
READERS = ["bwrap", "none", pytest.param("docker", marks=pytest.mark.docker)]
SLOW = 20.0  # seconds: no inspection here may take longer (a small repository takes under one)


def git(repo: Path, *args: str, check: bool = True) -> str:
    """The host's git on a repository this test made."""
    done = subprocess.run(["git", "-C", str(repo), *args], env={**os.environ, **HOST_GIT}, capture_output=True,
                          text=True, check=check)
    return done.stdout


def write(repo: Path, name: str, text: str) -> None:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty folder ``project`` beside the notebook (the test's working folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "project").mkdir()
    return tmp_path / "project"


@pytest.fixture(params=BACKENDS)
def backend(request):
    return get_backend(request.param)


def inspected(backend=None, needles=(SECRET,), ignored=IGNORED) -> Repository:
    started = time.monotonic()
    repo = inspect_repository(LiveNotebook({}), "project", needles=needles, ignored=ignored,
                              backend=backend or get_backend("bwrap"))
    assert time.monotonic() - started < SLOW
    return repo


# --- what the host's git says -------------------------------------------------------------------

def truth(repo: Path, needles=(SECRET,), ignored=IGNORED) -> dict:
    """Every field of a Repository, as the host's git reports it, one plain command at a time."""
    head_sha = git(repo, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).strip() or None
    branches = dict(line.split(" ") for line in git(repo, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)",
                                                    "refs/heads/").splitlines())
    shas = git(repo, "rev-list", "--all", *([head_sha] if head_sha else [])).split()
    tips = {*branches.values(), *([head_sha] if head_sha else [])}
    tracked = git(repo, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")[:-1] if head_sha else []
    return {
        "head": git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or None,
        "head_commit": head_sha, "branches": branches,
        "commits": {sha: commit_truth(repo, sha) for sha in shas},
        "order": shas,
        "histories": {tip: tuple(git(repo, "rev-list", tip).split()) for tip in tips},
        "tracked": tuple(tracked),
        "head_files": {p: blob for p in tracked if git(repo, "ls-tree", "HEAD", p).split(" ")[0] in ("100644", "100755")
                       and len(blob := git_blob(repo, p)) <= read.HEAD_FILE_LIMIT},
        "ignored": frozenset(p for p in ignored if succeeds(repo, "check-ignore", "--no-index", "-q", p)),
        "found": {n: tuple(s for s in shas if succeeds(repo, "grep", "-q", "-F", n, s)) for n in needles},
        "dirty": bool(git(repo, "status", "--porcelain", "--untracked-files=no")),
    }


def succeeds(repo: Path, *args: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), *args], env={**os.environ, **HOST_GIT},
                          capture_output=True).returncode == 0


def git_blob(repo: Path, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), "cat-file", "blob", f"HEAD:{path}"], capture_output=True,
                          check=True).stdout


def commit_truth(repo: Path, sha: str) -> kit.Commit:
    parents, author, email, subject, message = git(repo, "log", "-1", "--format=%P%x00%an%x00%ae%x00%s%x00%B",
                                                   sha).split("\0")
    files = git(repo, "ls-tree", "-r", "--name-only", "-z", sha).split("\0")[:-1]
    against = [parents.split()[0], sha] if parents else ["--root", sha]
    changed = git(repo, "diff-tree", "-r", "--no-commit-id", "--name-only", "-z", "--no-renames", *against)
    return kit.Commit(sha=sha, parents=tuple(parents.split()), subject=subject, message=message[:-1], author=author,
                      email=email, files=tuple(files), changed=tuple(sorted(changed.split("\0")[:-1])))


def assert_matches(found: Repository, expected: dict) -> None:
    assert (found.head, found.head_commit, found.branches) == (expected["head"], expected["head_commit"],
                                                               expected["branches"])
    assert found.commits == expected["commits"] and list(found.commits) == expected["order"]
    assert found.histories == expected["histories"]
    assert (found.tracked, found.head_files) == (expected["tracked"], expected["head_files"])
    assert (found.ignored, found.found, found.dirty) == (expected["ignored"], expected["found"], expected["dirty"])
    assert [c.sha for c in found.history()] == list(expected["histories"].get(expected["head_commit"], ()))
    for name, tip in found.branches.items():
        assert [c.sha for c in found.history(name)] == list(expected["histories"][tip])


# --- the lab's story, and a generated family of histories ------------------------------------------

def lab_story(repo: Path) -> None:
    """What the lab asks for: commits, a secret committed by mistake, .gitignore, a branch, a merge
    with a conflict resolved, a bad commit reverted."""
    git(repo, "init", "-q", "-b", "main")
    write(repo, "app.py", "def greet(name):\n    return 'hello ' + name\n")
    write(repo, ".env", f"API_KEY={SECRET}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Add the greeting app\n\nIt says hello.")
    write(repo, ".gitignore", ".env\ndata/\n")
    git(repo, "rm", "-q", "--cached", ".env")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "Keep secrets and data out of the repository")
    git(repo, "switch", "-q", "-c", "feature")
    write(repo, "app.py", "def greet(name):\n    return 'hello, ' + name.title()\n")
    git(repo, "commit", "-q", "-am", "Greet by title-cased name")
    git(repo, "switch", "-q", "main")
    write(repo, "app.py", "def greet(name):\n    return 'HELLO ' + name\n")
    git(repo, "commit", "-q", "-am", "Greet loudly")
    git(repo, "merge", "-q", "feature", check=False)  # a conflict
    write(repo, "app.py", "def greet(name):\n    return 'HELLO, ' + name.title()\n")
    git(repo, "commit", "-q", "-am", "Merge feature: loud and title-cased")
    write(repo, "data/raw.csv", "a,b\n1,2\n")
    write(repo, "broken.py", "raise SystemExit\n")
    git(repo, "add", "broken.py")
    git(repo, "commit", "-q", "-m", "Add a broken module")
    git(repo, "revert", "--no-edit", "HEAD")


def test_the_labs_story_every_field(project, backend):
    lab_story(project)
    repo = inspected(backend)
    assert_matches(repo, truth(project))
    assert repo.head == "main" and set(repo.branches) == {"main", "feature"}
    merge = next(c for c in repo.commits.values() if c.subject.startswith("Merge feature"))
    assert len(merge.parents) == 2 and merge.changed == ("app.py",)
    assert repo.history()[0].subject == 'Revert "Add a broken module"' and "broken.py" not in repo.tracked
    assert repo.history()[-1].message == "Add the greeting app\n\nIt says hello.\n"
    assert repo.ignored == {".env", "data/raw.csv"} and ".env" not in repo.tracked
    assert [repo.commits[s].subject for s in repo.found[SECRET]] == ["Add the greeting app"]
    assert repo.head_files[".gitignore"] == b".env\ndata/\n" and not repo.dirty


def test_a_secret_removed_from_history_is_found_in_no_reachable_commit(project):
    lab_story(project)
    git(project, "filter-branch", "-f", "--index-filter", "git rm -q --cached --ignore-unmatch .env", "--", "--all")
    backup = git(project, "rev-parse", "refs/original/refs/heads/main").strip()
    repo = inspected()
    assert len(repo.found[SECRET]) == 1  # filter-branch's backup still reaches it
    assert_matches(repo, truth(project))
    for ref in git(project, "for-each-ref", "--format=%(refname)", "refs/original/").split():
        git(project, "update-ref", "-d", ref)
    repo = inspected()
    assert repo.found == {SECRET: ()} and backup not in repo.commits
    assert_matches(repo, truth(project))
    git(project, "tag", "old", backup)
    assert len(inspected().found[SECRET]) == 1  # a tag reaches it again


def test_what_is_dirty(project):
    lab_story(project)
    write(project, "untracked.txt", "new\n")
    assert not inspected().dirty
    write(project, "app.py", "changed\n")
    assert inspected().dirty
    git(project, "add", "app.py")
    assert inspected().dirty
    git(project, "commit", "-q", "-m", "Change")
    assert not inspected().dirty


def random_history(repo: Path, seed: int) -> None:
    """A generated history: files with odd names in folders, commits, branches, merges, tags,
    reverts and a detached HEAD, chosen by ``seed``."""
    rng = random.Random(seed)
    names = ["a.txt", "dir/b.py", "dir/sub/c d.md", "ünï.txt", ".env", "data/raw.csv", "x-1", "notes/todo.txt"]
    git(repo, "init", "-q", "-b", rng.choice(["main", "master", "trunk"]))
    if rng.random() < 0.5:
        write(repo, ".gitignore", rng.choice([".env\n", "data/\n*.txt\n", "!a.txt\n*.txt\n"]))
    for step in range(rng.randint(3, 14)):
        for name in rng.sample(names, rng.randint(1, 3)):
            write(repo, name, rng.choice([f"{step} {SECRET}\n", f"line {step}\n" * rng.randint(1, 50), ""]))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"Step {step}\n\n{'body ' * rng.randint(0, 5)}")
        roll = rng.random()
        if roll < 0.2:
            git(repo, "switch", "-q", "-c", f"topic/{step}")
        elif roll < 0.35:
            other = rng.choice(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split())
            git(repo, "merge", "-q", "--no-edit", "-X", "theirs", other, check=False)
            git(repo, "commit", "-q", "-am", "merge", check=False)
        elif roll < 0.45:
            git(repo, "tag", f"v{step}")
        elif roll < 0.55:
            git(repo, "revert", "--no-edit", "HEAD", check=False)
    if rng.random() < 0.3:
        git(repo, "checkout", "-q", "--detach", "HEAD~1", check=False)
    if rng.random() < 0.3:
        write(repo, rng.choice(names), "edited\n")


@pytest.mark.parametrize("seed", range(8))
def test_generated_histories_read_as_git_reads_them(project, seed):
    random_history(project, seed)
    assert_matches(inspected(), truth(project))


def test_a_fresh_repository_and_a_sha256_one(project):
    git(project, "init", "-q", "-b", "main")
    repo = inspected()
    assert (repo.head, repo.head_commit, repo.commits, repo.tracked, repo.history()) == ("main", None, {}, (), [])
    assert repo.found == {SECRET: ()} and not repo.dirty
    with pytest.raises(RepositoryError, match="no branch named 'feature'"):
        repo.history("feature")
    (project / ".git").rename(project.parent / "old")
    git(project, "init", "-q", "-b", "main", "--object-format=sha256")
    write(project, "a.txt", SECRET)
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "one")
    repo = inspected()
    assert_matches(repo, truth(project))
    assert len(repo.head_commit) == 64


@pytest.mark.parametrize("make, message", [
    (lambda p: p.rmdir(), "project/ is not a folder"),
    (lambda p: None, "project/ is not a git repository"),
    (lambda p: (p / ".git").write_text("gitdir: /etc\n"), "project/.git points to another place"),
    (lambda p: (p.parent / "elsewhere").mkdir() or (p / ".git").symlink_to("../elsewhere"), "links outside project/"),
    (lambda p: (git(p, "init", "-q", "inner"), (p / ".git").symlink_to("inner/.git")), "points to another place"),
])
def test_what_is_not_a_repository_says_so(project, make, message):
    make(project)
    with pytest.raises(RepositoryError, match=message):
        inspected()


def test_inside_a_real_sandboxed_kernel_made_by_the_notebook(backend):
    """The notebook runs git in its own kernel (git is on the kernel's PATH in both backends);
    the kit packs the folder there and reads it in a sandbox of that kernel's backend."""
    from conftest import notebook

    kernel = Kernel(backend, [], Limits())
    kernel.start()
    try:
        script = ("import subprocess\nrun = lambda *a: subprocess.run(['git', '-C', 'project', *a], check=True)\n"
                  "import os; os.mkdir('project'); run('init', '-q', '-b', 'main')\n"
                  "run('config', 'user.name', 'Kim'); run('config', 'user.email', 'kim@example.org')\n"
                  "open('project/a.txt', 'w').write('one'); run('add', '.'); run('commit', '-q', '-m', 'First')")
        executed = execute(kernel, notebook(script), cell_timeout=30, timeout=60)
        assert executed.status == "graded"
        repo = inspect_repository(Notebook(kernel, executed.notebook, timeout=30), "project")
    finally:
        kernel.close()
    assert [(c.subject, c.author, c.email, c.files) for c in repo.history()] == [
        ("First", "Kim", "kim@example.org", ("a.txt",))]
    assert repo.head_files == {"a.txt": b"one"}


# --- hostile repositories ---------------------------------------------------------------------------

def commit_one(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    write(repo, "a.txt", "one\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")


def runs_commands(marker: Path) -> Callable[[Path], None]:
    """Config, attributes and hooks that would run a command writing ``marker`` if git obeyed them."""
    def make(repo: Path) -> None:
        commit_one(repo)
        touch = f"sh -c 'touch {marker}'"
        for key, value in [("core.fsmonitor", touch), ("core.pager", touch), ("pager.log", touch),
                           ("filter.evil.clean", f"sh -c 'touch {marker}; cat'"), ("filter.evil.required", "true"),
                           ("diff.evil.textconv", touch), ("log.showSignature", "true"), ("gpg.program", touch),
                           ("core.hooksPath", str(repo / "hooks")), ("core.worktree", "/"),
                           ("include.path", str(repo / "more.cfg"))]:
            git(repo, "config", key, value)
        write(repo, "more.cfg", f"[core]\n\tfsmonitor = {touch}\n")
        write(repo, ".gitattributes", "* filter=evil diff=evil\n")
        for hook in ("post-checkout", "pre-commit", "reference-transaction", "fsmonitor-watchman"):
            write(repo, f".git/hooks/{hook}", f"#!/bin/sh\ntouch {marker}\n")
            (repo / ".git" / "hooks" / hook).chmod(0o755)
    return make


def many_branches(repo: Path) -> None:
    commit_one(repo)
    sha = git(repo, "rev-parse", "HEAD").strip()
    (repo / ".git" / "packed-refs").write_text("".join(f"{sha} refs/heads/b{i:04d}\n" for i in range(150)))


def absurd_refs(repo: Path) -> None:
    commit_one(repo)
    sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-ref", "refs/heads/" + "/".join(["x" * 200] * 8), sha)


def ref_to_a_blob(repo: Path) -> None:
    commit_one(repo)
    blob = git(repo, "rev-parse", "HEAD:a.txt").strip()
    (repo / ".git" / "refs" / "heads" / "odd").write_text(blob + "\n")


def replaced(repo: Path) -> None:
    """A replace ref that would hide the commit holding the secret: the kit reads past it."""
    git(repo, "init", "-q", "-b", "main")
    write(repo, "a.txt", SECRET)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "secret")
    write(repo, "a.txt", "clean")
    git(repo, "commit", "-q", "-am", "clean")
    decoy = git(repo, "commit-tree", "HEAD^{tree}", "-m", "secret").strip()  # the clean files, no parent
    git(repo, "replace", "HEAD~1", decoy)


def deep(repo: Path) -> None:
    commit_one(repo)
    write(repo, "/".join(["d"] * 150) + "/deep.txt", SECRET)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "deep")


def link_out(repo: Path) -> None:
    commit_one(repo)
    (repo / "passwd").symlink_to("/etc/passwd")


def huge(repo: Path) -> None:
    commit_one(repo)
    with open(repo / "big.bin", "wb") as f:
        f.truncate(read.SIZE_LIMIT + 1)


def many_files(repo: Path) -> None:
    commit_one(repo)
    for i in range(read.MEMBER_LIMIT):
        (repo / f"f{i}").touch()


def garbage_objects(repo: Path) -> None:
    commit_one(repo)
    for obj in (repo / ".git" / "objects").rglob("*"):
        if obj.is_file() and obj.parent.name != "info":
            obj.chmod(0o644)
            obj.write_bytes(b"not zlib at all")


def missing_object(repo: Path) -> None:
    commit_one(repo)
    blob = git(repo, "rev-parse", "HEAD:a.txt").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()


def unpacks_large(repo: Path) -> None:
    """Ten commits of a 7 MiB file that compresses to almost nothing: small packed, 70 MiB unpacked."""
    commit_one(repo)
    for i in range(10):
        (repo / "zeros.bin").write_bytes(bytes([i]) + bytes(7 * 2**20))
        git(repo, "add", "zeros.bin")
        git(repo, "commit", "-q", "-m", f"zeros {i}")
    git(repo, "rm", "-q", "zeros.bin")
    git(repo, "commit", "-q", "-m", "no zeros")


HOSTILE = {
    "a history too large unpacked": (unpacks_large, "over 64 MiB unpacked"),
    "a missing object": (missing_object, "is missing from the repository"),
    "many branches": (many_branches, "more than 100 branches"),
    "absurd refs": (absurd_refs, None),
    "a ref to a blob": (ref_to_a_blob, None),  # git lists it, with no history
    "replace refs": (replaced, None),
    "deep folders": (deep, None),
    "a link out of the folder": (link_out, "links outside project/"),
    "a huge file": (huge, "over 8 MiB"),
    "many files": (many_files, "more than 4000 files"),
    "garbage objects": (garbage_objects, "git could not read it"),
}


@pytest.mark.parametrize("backend_name", READERS)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_repository_is_refused_or_read_right(project, backend_name, case, tmp_path, monkeypatch):
    make, refused = HOSTILE[case]
    make(project)
    _no_leftovers_after(lambda: _refused_or_right(project, get_backend(backend_name), refused), tmp_path, monkeypatch)
    if case == "replace refs":
        assert len(inspected().found[SECRET]) == 1


@pytest.mark.parametrize("backend_name", READERS)
def test_config_hooks_and_attributes_of_the_student_run_nothing(project, backend_name, tmp_path):
    marker = tmp_path / "ran"
    runs_commands(marker)(project)
    (project / "a.txt").write_text("one\n")  # the same content, a new stat: status rereads it
    repo = inspected(get_backend(backend_name))
    assert not marker.exists()
    assert [c.subject for c in repo.history()] == ["one"] and not repo.dirty and repo.head_files["a.txt"] == b"one\n"


def _refused_or_right(project: Path, backend, refused: str | None) -> None:
    if refused is not None:
        with pytest.raises(RepositoryError, match=refused):
            inspected(backend)
    else:
        assert_matches(inspected(backend), truth(project))


def _no_leftovers_after(action: Callable[[], None], tmp_path: Path, monkeypatch) -> None:
    """``action``, then: every folder the kit made is gone and no process is left."""
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    action()
    assert list(scratch.iterdir()) == [] and leftover_processes(scratch) == []


# --- hostile tars: what a patched kernel could answer ---------------------------------------------

class Answering:
    """A notebook whose kernel answers every question with ``answer`` (raises it, if an exception)."""

    def __init__(self, answer: object):
        self.answer = answer

    def ref(self, expr: str) -> object:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode = kind, len(data) if kind == tarfile.REGTYPE else 0, link, 0o755
    return info, data


def tar_of(*members: tuple, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def hostile_tars(outside: Path) -> dict[str, tuple[bytes, str]]:
    """Tars no honest kernel makes, each with what its refusal says. ``outside`` is a host path
    that nothing may create."""
    repo = member("repo", tarfile.DIRTYPE)
    sparse = member("repo/s", tarfile.GNUTYPE_SPARSE)
    return {
        "not a tar": (b"\x00junk" * 300, "could not be unpacked"),
        "nothing": (b"", "could not be unpacked"),
        "a name up and out": (tar_of(repo, member(f"repo/../../../../{outside}", data=b"x")), "not inside project/"),
        "an absolute name": (tar_of(repo, member(str(outside), data=b"x")), "not inside project/"),
        "a name beside the folder": (tar_of(repo, member("other/x", data=b"x")), "not inside project/"),
        "a link to the host": (tar_of(repo, member("repo/l", tarfile.SYMTYPE, link=str(outside.parent)),
                                      member("repo/l/" + outside.name, data=b"x")), "links outside project/"),
        "a link up": (tar_of(repo, member("repo/up", tarfile.SYMTYPE, link="../../../.."),
                             member("repo/up" + str(outside), data=b"x")), "links outside project/"),
        "a hard link to the host": (tar_of(repo, member("repo/h", tarfile.LNKTYPE, link="/etc/passwd")),
                                    "links outside project/"),
        "a hard link up": (tar_of(repo, member("repo/h", tarfile.LNKTYPE, link="repo/../../x")),
                           "links outside project/"),
        "a device": (tar_of(repo, member("repo/null", tarfile.CHRTYPE)), "not a file, a folder or a link"),
        "a pipe": (tar_of(repo, member("repo/fifo", tarfile.FIFOTYPE)), "not a file, a folder or a link"),
        "a sparse file": (tar_of(repo, sparse, fmt=tarfile.GNU_FORMAT), "not a file, a folder or a link"),
        "too many members": (tar_of(repo, *(member(f"repo/d{i}", tarfile.DIRTYPE) for i in range(4001))),
                             "more than 4000 files"),
        "too many bytes": (tar_of(repo, member("repo/big", data=b"0" * (read.SIZE_LIMIT + 1))), "over 8 MiB"),
        "a file for a folder": (tar_of(member("repo", data=b"x")), "project/ is not a folder"),
        "no repository": (tar_of(repo, member("repo/a.txt", data=b"x")), "project/ is not a git repository"),
    }


@pytest.mark.parametrize("backend_name", READERS)
@pytest.mark.parametrize("case", sorted(hostile_tars(Path("/x/escaped"))))
def test_a_hostile_tar_is_refused_and_writes_nothing_outside(case, backend_name, tmp_path, monkeypatch):
    outside = tmp_path / "escaped"
    data, message = hostile_tars(outside)[case]
    assert len(data) <= kit.TAR_LIMIT

    def inspect_it() -> None:
        started = time.monotonic()
        with pytest.raises(RepositoryError, match=message):
            inspect_repository(Answering(data), "project", backend=get_backend(backend_name))
        assert time.monotonic() - started < SLOW

    _no_leftovers_after(inspect_it, tmp_path, monkeypatch)
    assert not outside.exists() and not Path("/x").exists()


@pytest.mark.parametrize("answer, message", [
    ("a string", "could not be packed"), ({"x": 1}, "could not be packed"), (None, "could not be packed"),
    (12, "could not be packed"), (["what"], "could not be packed"), ([], "could not be packed"),
    (b"\0" * (kit.TAR_LIMIT + 1), "could not be packed"),
    (["size"], "over 8 MiB"), (["members"], "more than 4000"), (["missing"], "project/ is not a folder"),
    (NameError("name 'os' is not defined"), "could not be packed in the notebook's kernel: NameError"),
])
def test_what_the_kernel_answers_is_checked_again(answer, message):
    from grader.testing.notebook import NotebookError

    if isinstance(answer, Exception):
        answer = NotebookError(type(answer).__name__, str(answer))
    with pytest.raises(RepositoryError, match=message):
        inspect_repository(Answering(answer), "project", backend=get_backend("none"))


def test_the_kernel_packs_only_files_folders_and_links(project):
    """Run in this process as the kernel would: a pipe is left out, a link stays a link."""
    commit_one(project)
    os.mkfifo(project / "pipe")
    (project / "link").symlink_to("a.txt")
    packed = kit._packed(LiveNotebook({}), "project")
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        names = {m.name: m for m in tar}
    assert "repo/pipe" not in names and names["repo/link"].issym() and names["repo/link"].linkname == "a.txt"
    assert names["repo/a.txt"].isreg() and "repo/.git/HEAD" in names


# --- the sandbox's answer, checked field by field ---------------------------------------------------

WRONG = [None, 1, 1.5, True, "x", [], ["x"], {}, {"x": "y"}]


def shape_mutations(answer: dict) -> list[tuple[tuple, object]]:
    """(where, value): every field of the answer, and every field of its first commit, given each
    value of another type than it has."""
    optional = {("head",), ("head_commit",)}
    places = [((k,), v) for k, v in answer.items()] + [(("commits", 0, k), v) for k, v in answer["commits"][0].items()]
    return [(where, bad) for where, value in places for bad in WRONG
            if type(bad) is not type(value) and not (bad is None and where in optional)]


def mutated(answer: dict, where: tuple, value: object) -> dict:
    copy = json.loads(json.dumps(answer))
    target = copy
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return copy


@pytest.fixture(scope="module")
def real_answer(tmp_path_factory) -> tuple[dict, dict]:
    """A real answer of the sandbox (the lab's story), and the settings it was asked with."""
    from grader.kits.git.inside.pack import pack

    project = tmp_path_factory.mktemp("answer") / "project"
    project.mkdir()
    lab_story(project)
    settings = kit._settings("project", [SECRET], list(IGNORED))
    data = pack(str(project), read.SIZE_LIMIT, read.MEMBER_LIMIT, kit.TAR_LIMIT)
    with host_copies({kit.TAR: data}) as copies:
        return kit._read(get_backend("bwrap"), copies / kit.TAR, settings), settings


def test_the_real_answer_reads(real_answer):
    answer, settings = real_answer
    assert kit._repository(answer, settings).head == "main"


def test_an_answer_of_any_other_shape_is_the_students_error(real_answer):
    answer, settings = real_answer
    mutations = shape_mutations(answer)
    assert len(mutations) > 100
    for where, value in mutations:
        with pytest.raises(RepositoryError, match="could not be read"):
            kit._repository(mutated(answer, where, value), settings)
    tip = answer["head_commit"]
    for where, value in [(("histories", tip), ["0" * 40]), (("histories",), {}), (("found", SECRET), ["f" * 40]),
                         (("head_files", ".gitignore"), "not base64!"), (("found",), {})]:
        with pytest.raises(RepositoryError, match="could not be read"):
            kit._repository(mutated(answer, where, value), settings)


# --- the kit's own failures -------------------------------------------------------------------------

class Unopenable:
    name = identity = "unopenable"
    sandboxed = True

    def open(self, files, socket_dir, limits, services=()):
        raise OSError("no sandbox here today")


def test_a_sandbox_that_does_not_open_is_the_kits_error(project):
    commit_one(project)
    with pytest.raises(KitError, match="no sandbox here today"):
        inspect_repository(LiveNotebook({}), "project", backend=Unopenable())


def test_no_git_where_the_repository_is_read_is_the_kits_error(project, monkeypatch):
    commit_one(project)
    monkeypatch.setenv("PATH", "/nonexistent")  # the unsandboxed reader runs with the grader's own environment
    with pytest.raises(KitError, match="git is not installed"):
        inspect_repository(LiveNotebook({}), "project", backend=get_backend("none"))


@pytest.mark.parametrize("kwargs", [{"needles": [""]}, {"needles": ["x"] * 17}, {"ignored": ["../out"]},
                                    {"ignored": ["/etc/passwd"]}, {"folder": "../elsewhere"}])
def test_the_labs_own_mistakes_are_value_errors_not_the_students(kwargs):
    arguments = {"folder": "project", **kwargs}
    with pytest.raises(ValueError) as caught:
        inspect_repository(Answering(b""), arguments.pop("folder"), **arguments)
    assert not isinstance(caught.value, RepositoryError)


def test_a_lab_declaring_the_kits_needs_no_extra(tmp_path):
    """grade assign's requirements for a lab with kits = ["git", "mutation"]: no package, a note each."""
    from conftest import notebook, write_notebook

    from grader.course.assign import requirements
    from grader.course.layout import Course

    solution = tmp_path / "solutions" / "lab1"
    write_notebook(solution / "solution.ipynb", notebook("x = 1", lab="lab1"))
    (solution / "tests").mkdir()
    (solution / "lab.toml").write_text('kits = ["git", "mutation"]\n')
    lines = requirements(Course(tmp_path).lab("lab1")).splitlines()
    assert [line for line in lines if not line.startswith("#")] == []
    assert {"# the git kit: nothing beyond the grader", "# the mutation kit: nothing beyond the grader"} <= set(lines)
