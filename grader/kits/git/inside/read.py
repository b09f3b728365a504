"""What a repository holds, as the real ``git`` CLI reads it, in a fresh sandbox that holds only its
tar: ``python -s -P -m grader.kits.git.inside.read SHARED TAR SETTINGS``.

SETTINGS (JSON) name the folder (for messages), the needles to look for in every reachable
commit's files and the paths to ask ``git check-ignore`` about. The answer, one JSON document
in SHARED (:data:`ANSWER`), is what :mod:`grader.kits.git.inspect` reads: the repository's
facts (:func:`facts`), or ``{"error": why}`` when the repository cannot be read (the student's:
a message meant for them), or ``{"crash": traceback}`` when this module failed (the kit's).
The answer's file is opened before anything of the student's is unpacked. An error that data
can cause (a ValueError parsing what git printed, a full disk) is the student's; any other is
this module's mistake, the kit's.

Everything here reads student data, so everything is bounded: the tar (members, bytes, no
sparse files, tarfile's "data" filter: nothing outside the folder, no devices), every git
call (time, bytes printed), and what is counted (commits, branches, files per tree, bytes of
every file of every commit). git runs with the student's configuration set aside: the
repository's own config file is replaced by one that keeps only its object format, no system
or global config is read, and hooks, fsmonitor, commit-graph files, replace refs and grafts
are all off, so that nothing in the repository runs a command or changes what git reports.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from pathlib import PurePosixPath

ANSWER = "repository.json"
ANSWER_LIMIT = 16 * 2**20  # bytes of the answer; the grader reads no more
MEMBER_LIMIT = 4000  # files, folders and links in the tar
SIZE_LIMIT = 8 * 2**20  # bytes of the repository's files, as the tar holds them
COMMIT_LIMIT = 500  # commits reachable from a ref or HEAD
BRANCH_LIMIT = 100
TREE_LIMIT = 2000  # files in one commit
ENTRY_LIMIT = 100_000  # files over all commits
HISTORY_LIMIT = 64 * 2**20  # bytes of every distinct file of every commit, unpacked
MESSAGE_LIMIT = 8192  # characters kept of a commit message
HEAD_FILE_LIMIT = 64 * 2**10  # bytes of one file of HEAD's whose content is reported
HEAD_FILES_LIMIT = 2**20  # bytes of all of them
OUTPUT_LIMIT = 16 * 2**20  # bytes one git call may print (besides files' contents)
CALL_TIMEOUT = 10.0  # seconds for one git call
ERROR_TAIL = 400  # characters of git's complaint kept
REGULAR = (b"100644", b"100755")  # modes of regular files in a tree


class Refused(Exception):
    """The repository cannot be read; the message is for the student."""


class GitMissing(Exception):
    """No git where the repository is read: the grader's own failure."""


def main(shared: str, tar: str, settings_text: str) -> None:
    fd = os.open(os.path.join(shared, ANSWER), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    settings = json.loads(settings_text)
    try:
        answer = facts(tar, settings)
    except Refused as exc:
        answer = {"error": str(exc)}
    except (ValueError, LookupError, OSError, MemoryError) as exc:  # what data git printed can cause: the data's
        answer = {"error": f"git could not read it: {type(exc).__name__}: {str(exc)[:ERROR_TAIL]}"}
    except Exception:  # what only a mistake of this module's causes (GitMissing among them): the kit's
        answer = {"crash": traceback.format_exc(limit=-4)[-2000:]}
    text = json.dumps(answer)
    if len(text) > ANSWER_LIMIT:
        text = json.dumps({"error": f"{settings['folder']}/ holds too much to report (over {ANSWER_LIMIT >> 20} MiB)"})
    with os.fdopen(fd, "w") as out:
        out.write(text)


def facts(tar: str, settings: dict) -> dict:
    """Everything the grader reports of the repository packed in ``tar``."""
    folder = settings["folder"]
    dest = os.path.abspath("unpacked")
    os.mkdir(dest)
    unpack(tar, dest, folder)
    work = os.path.join(dest, "repo")
    git = Git(work, _git_dir(work, folder), dest)
    git.neutralise_config()
    head_sha = git("rev-parse", "-q", "--verify", "HEAD^{commit}", ok=(0, 1)).decode().strip() or None
    branches = _branches(git)
    commits, trees = _commits(git, head_sha)
    blobs = _blob_contents(git, trees)
    head_tree = trees[commits[head_sha]["tree"]] if head_sha else {}
    return {
        "head": _head(git), "head_commit": head_sha, "branches": branches,
        "commits": [_commit_answer(c, trees, commits) for c in commits.values()],
        "histories": {sha: _rev_list(git, sha) for sha in {*branches.values(), *([head_sha] if head_sha else [])}},
        "tracked": [_text(path) for path in head_tree],
        "head_files": _head_files(head_tree, blobs),
        "ignored": _ignored(git, settings["ignored"]),
        "found": {needle: _found(needle.encode(), commits, trees, blobs) for needle in settings["needles"]},
        "dirty": bool(git("status", "--porcelain", "-z", "--untracked-files=no", "--ignore-submodules=all")),
    }


def unpack(tar: str, dest: str, folder: str) -> None:
    """The tar unpacked into ``dest``, within bounds: only files, folders and links, all under
    ``repo/``, no name or link that points up or out (:func:`_plain`), then tarfile's "data"
    filter where this Python has it (3.11.4 and later: not the Debian image's 3.11.2, which the
    first rule alone keeps safe: with no link pointing up or out, nothing lands outside)."""
    def checked(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError:
            raise Refused(f"{_named(member, folder)} is not a file, a folder or a link inside {folder}/") from None

    try:
        with tarfile.open(tar, mode="r:") as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(dest, members=_members(archive, folder), filter=checked)
            else:
                archive.extractall(dest, members=_members(archive, folder))
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise Refused(f"{folder}/ could not be unpacked: {str(exc)[:ERROR_TAIL]}") from None


def _members(archive: tarfile.TarFile, folder: str):
    """The tar's members, each plain (:func:`_plain`), refused past the bounds before any
    beyond them is unpacked."""
    total = 0
    for count, member in enumerate(archive, 1):
        total += member.size if member.isreg() else 0
        if count > MEMBER_LIMIT + 1:
            raise Refused(f"{folder}/ holds more than {MEMBER_LIMIT} files and folders")
        if total > SIZE_LIMIT:
            raise Refused(f"the repository is over {SIZE_LIMIT >> 20} MiB")
        yield _plain(member, folder)


def _plain(member: tarfile.TarInfo, folder: str) -> tarfile.TarInfo:
    """``member`` if it is a file, a folder or a link (not sparse), named under ``repo/`` with no
    ``..``, and, for a link, pointing down from where it is (a symbolic link) or at a member under
    ``repo/`` (a hard link): a link that points up or out of the folder is not followed."""
    if member.issparse() or not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise Refused(f"{_named(member, folder)} is not a file, a folder or a link")
    parts = PurePosixPath(member.name).parts
    if member.name.startswith("/") or ".." in parts or parts[:1] != ("repo",):
        raise Refused(f"{_named(member, folder)} is not inside {folder}/")
    target = PurePosixPath(member.linkname).parts
    if (member.issym() or member.islnk()) and (member.linkname.startswith("/") or ".." in target or not target
                                               or (member.islnk() and target[:1] != ("repo",))):
        raise Refused(f"{_named(member, folder)} links outside {folder}/: the grader does not follow it")
    return member


def _named(member: tarfile.TarInfo, folder: str) -> str:
    return f"{folder}/{member.name.removeprefix('repo/')}"[:200]


def _git_dir(work: str, folder: str) -> str:
    """``work``'s own .git folder: a repository kept elsewhere (a .git file or link) is not read."""
    if os.path.islink(work) or not os.path.isdir(work):
        raise Refused(f"{folder}/ is not a folder")
    git_dir = os.path.join(work, ".git")
    if os.path.islink(git_dir) or os.path.isfile(git_dir):
        raise Refused(f"{folder}/.git points to another place: the grader reads only a repository kept in {folder}/")
    if not os.path.isfile(os.path.join(git_dir, "HEAD")):
        raise Refused(f"{folder}/ is not a git repository (no {folder}/.git folder: run git init there)")
    return git_dir


class Git:
    """The git CLI on one repository, with the student's configuration set aside; every call
    bounded in time and in what it prints."""

    def __init__(self, work: str, git_dir: str, ceiling: str):
        executable = shutil.which("git")
        if executable is None:
            raise GitMissing("git is not installed where the repository is read")
        self.git_dir = git_dir
        self.argv = [executable, "-c", "core.fsmonitor=", "-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*",
                     "-c", "core.commitGraph=false", "-c", "core.multiPackIndex=false", "--no-pager",
                     "--no-replace-objects", f"--git-dir={git_dir}", f"--work-tree={work}"]
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": ceiling, "LANG": "C.UTF-8", "TZ": "UTC",
                    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_ATTR_NOSYSTEM": "1",
                    "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "GIT_CEILING_DIRECTORIES": ceiling,
                    "GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": os.devnull}
        self.work = work

    def neutralise_config(self) -> None:
        """Replace the repository's config file with one that keeps only its object format: no
        fsmonitor, filter, textconv, pager, include or alias of the student's is left to run."""
        config = os.path.join(self.git_dir, "config")
        found = self("config", f"--file={config}", "--get", "extensions.objectformat", ok=(0, 1)).strip()
        if found not in (b"", b"sha1", b"sha256"):
            raise Refused("git could not read it: its object format is unknown")
        text = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
        if found:
            text = text.replace("= 0", "= 1") + f"[extensions]\n\tobjectformat = {found.decode()}\n"
        with tempfile.NamedTemporaryFile("w", dir=self.git_dir, delete=False) as new:
            new.write(text)
        os.replace(new.name, config)

    def __call__(self, *args: str, stdin: bytes = b"", limit: int = OUTPUT_LIMIT, ok: tuple = (0,)) -> bytes:
        """What ``git *args`` prints; Refused if it fails (an exit status not in ``ok``), takes
        longer than CALL_TIMEOUT or prints more than ``limit`` bytes."""
        with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as errors:
            given.write(stdin)
            given.seek(0)
            process = subprocess.Popen([*self.argv, *args], stdin=given, stdout=subprocess.PIPE, stderr=errors,
                                       env=self.env, cwd=self.work)
            try:
                out = _read(process, limit, time.monotonic() + CALL_TIMEOUT, args[0])
                status = process.wait(CALL_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise Refused(f"git {args[0]} took longer than {CALL_TIMEOUT:.0f} s") from None
            finally:
                process.kill()
                process.wait()
            if status not in ok:
                errors.seek(max(0, errors.seek(0, os.SEEK_END) - ERROR_TAIL))
                raise Refused(f"git could not read it: {errors.read().decode('utf-8', 'replace').strip()}")
        return out


def _read(process: subprocess.Popen, limit: int, deadline: float, what: str) -> bytes:
    """Everything ``process`` prints until it closes its output, refused past ``limit`` bytes
    or ``deadline``."""
    chunks, size = [], 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Refused(f"git {what} took longer than {CALL_TIMEOUT:.0f} s")
            if not selector.select(left):
                continue
            chunk = os.read(process.stdout.fileno(), 2**16)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise Refused(f"the repository is too large to read: git {what} printed over {limit >> 20} MiB")
            chunks.append(chunk)


def _head(git: Git) -> str | None:
    """The branch HEAD names (even one with no commit yet); None when HEAD is detached."""
    name = git("symbolic-ref", "-q", "HEAD", ok=(0, 1)).decode("utf-8", "replace").strip()
    return name.removeprefix("refs/heads/") or None


def _branches(git: Git) -> dict[str, str]:
    lines = git("for-each-ref", "--format=%(refname)%00%(objectname)", "refs/heads/").splitlines()
    if len(lines) > BRANCH_LIMIT:
        raise Refused(f"it has more than {BRANCH_LIMIT} branches")
    pairs = (line.split(b"\0") for line in lines)
    return {_text(ref).removeprefix("refs/heads/"): sha.decode() for ref, sha in pairs}


def _rev_list(git: Git, *revisions: str) -> list[str]:
    """The commits reachable from ``revisions``, newest first as git log lists them."""
    shas = git("rev-list", f"--max-count={COMMIT_LIMIT + 1}", *revisions).decode().split()
    if len(shas) > COMMIT_LIMIT:
        raise Refused(f"it has more than {COMMIT_LIMIT} commits")
    return shas


def _commits(git: Git, head_sha: str | None) -> tuple[dict[str, dict], dict[str, dict[bytes, tuple]]]:
    """Every commit reachable from a ref or HEAD, by sha in git log's order, and the files of each
    of their trees (path -> (mode, type, sha)), by tree. Every ref, not only branches and tags:
    the backups ``filter-branch`` leaves under ``refs/original/`` (or a stash) keep what they
    reach in the repository, and a secret they reach has not left its history."""
    shas = _rev_list(git, "--all", *([head_sha] if head_sha else []))
    if not shas:
        return {}, {}
    fields = git("log", "--no-walk=unsorted", "--stdin", "-z", "--encoding=UTF-8",
                 "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%s%x00%B", stdin="\n".join(shas).encode()).split(b"\0")
    if len(fields) != 7 * len(shas) + 1:  # each commit's seven fields, each ended by a NUL
        raise Refused("git could not read it: a commit message holds a NUL byte")
    commits, trees, entries = {}, {}, 0
    for i in range(len(shas)):
        sha, tree, parents, author, email, subject, message = (_text(f) for f in fields[7 * i:7 * i + 7])
        commits[sha] = {"sha": sha, "tree": tree, "parents": parents.split(), "author": author, "email": email,
                        "subject": subject, "message": message[:MESSAGE_LIMIT]}
        if tree not in trees:
            trees[tree] = _tree(git, tree)
        entries += len(trees[tree])
        if entries > ENTRY_LIMIT:
            raise Refused(f"its commits hold more than {ENTRY_LIMIT} files in all")
    return commits, trees


def _tree(git: Git, tree: str) -> dict[bytes, tuple]:
    """Every file of a tree, folders flattened: path -> (mode, type, sha)."""
    files = {}
    for entry in git("ls-tree", "-r", "-z", "--full-tree", tree).split(b"\0")[:-1]:
        info, _, path = entry.partition(b"\t")
        mode, kind, sha = info.split(b" ")
        files[path] = (mode, kind, sha.decode())
        if len(files) > TREE_LIMIT:
            raise Refused(f"a commit holds more than {TREE_LIMIT} files")
    return files


def _commit_answer(commit: dict, trees: dict, commits: dict) -> dict:
    """A commit as the grader reads it: its files, and those it changed against its first parent."""
    files = trees[commit["tree"]]
    parent = commits.get(commit["parents"][0]) if commit["parents"] else None
    before = trees[parent["tree"]] if parent else {}
    changed = [path for path in sorted({*files, *before}) if files.get(path) != before.get(path)]
    return {**{k: v for k, v in commit.items() if k != "tree"},
            "files": [_text(p) for p in files], "changed": [_text(p) for p in changed]}


def _blob_contents(git: Git, trees: dict) -> dict[str, bytes]:
    """The content of every distinct file of every commit, by sha: refused, before any is read,
    when they hold more than HISTORY_LIMIT bytes in all."""
    shas = sorted({sha for files in trees.values() for _, kind, sha in files.values() if kind == b"blob"})
    if not shas:
        return {}
    listing = "\n".join(shas).encode()
    sizes = git("cat-file", "--batch-check=%(objectsize)", stdin=listing).splitlines()
    if any(size.endswith(b" missing") for size in sizes):
        raise Refused("git could not read it: a file of one of its commits is missing from the repository")
    total = sum(map(int, sizes))
    if total > HISTORY_LIMIT:
        raise Refused(f"the repository's files, over all its commits, are over {HISTORY_LIMIT >> 20} MiB unpacked")
    out, contents, at = git("cat-file", "--batch", stdin=listing, limit=total + 200 * len(shas)), {}, 0
    for sha in shas:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split(b" ")[2])
        contents[sha] = out[header_end + 1:header_end + 1 + size]
        at = header_end + 2 + size
    return contents


def _head_files(head_tree: dict, blobs: dict[str, bytes]) -> dict[str, str]:
    """HEAD's regular files of at most HEAD_FILE_LIMIT bytes, in path order until HEAD_FILES_LIMIT
    bytes are reached, base64."""
    kept, total = {}, 0
    for path, (mode, _, sha) in head_tree.items():
        data = blobs.get(sha)
        if mode in REGULAR and data is not None and len(data) <= HEAD_FILE_LIMIT:
            total += len(data)
            if total > HEAD_FILES_LIMIT:
                break
            kept[_text(path)] = base64.b64encode(data).decode()
    return kept


def _ignored(git: Git, paths: list[str]) -> list[str]:
    """Which of ``paths`` the repository's ignore patterns match, tracked or not."""
    if not paths:
        return []
    given = b"".join(p.encode() + b"\0" for p in paths)
    out = git("check-ignore", "--no-index", "--stdin", "-z", stdin=given, ok=(0, 1))
    return [_text(p) for p in out.split(b"\0")[:-1]]


def _found(needle: bytes, commits: dict, trees: dict, blobs: dict[str, bytes]) -> list[str]:
    """The commits (in git log's order) whose files hold ``needle`` anywhere."""
    holding = {sha for sha, data in blobs.items() if needle in data}
    return [sha for sha, c in commits.items() if any(entry[2] in holding for entry in trees[c["tree"]].values())]


def _text(path: bytes) -> str:
    return path.decode("utf-8", "replace")


if __name__ == "__main__":
    main(*sys.argv[1:4])
