"""A student's git repository, inspected from outside the student's kernel.

:func:`inspect_repository` asks the kernel for one thing only: the repository's folder packed
into an uncompressed tar (:mod:`.inside.pack`), bounded there and checked again here (its type
and length: the kernel's answer is the student's). The tar is never unpacked on the host: a
fresh sandbox of the kernel's own backend, holding only the tar, unpacks it and runs the real
``git`` CLI on it with the student's configuration set aside (:mod:`.inside.read`). Its answer
is read here within bounds and checked field by field, since it was written by a process that
read student data: an answer of the wrong shape is the student's :class:`RepositoryError`,
never a crash.

:class:`RepositoryError` (a ValueError whose message a student understands) is the student's:
no repository, one too large, one git cannot read. A lab's test lets it fail the test. The
kit's own failure (no sandbox, no git where the sandbox runs) is a :class:`grader.errors.KitError`.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from grader.engine.sandbox import Backend, Limits
from grader.errors import KitError
from grader.kits.git.inside import pack, read
from grader.kits.sandboxed import finished, host_copies, kit_failures, notebook_backend, sandboxed, shared_json
from grader.testing.codec import CodecError
from grader.testing.notebook import NotebookError

TAR = "repository.tar"
TAR_LIMIT = 11 * 2**20  # bytes of the tar: the repository's 8 MiB and the members' headers
READ_TIMEOUT = 30.0  # seconds for the sandbox that reads the repository, start to answer
READ_LIMITS = Limits(memory=512, cpu_seconds=int(READ_TIMEOUT), processes=32, file_size=16, scratch=48, tmp=48)
NEEDLE_LIMIT, PROBE_LIMIT = 16, 64  # needles to look for, paths to ask check-ignore about
PACK_REASONS = {
    "missing": "{folder}/ is not a folder: run the cells that create the repository",
    "members": f"{{folder}}/ holds more than {read.MEMBER_LIMIT} files and folders",
    "size": f"the repository is over {read.SIZE_LIMIT >> 20} MiB",
    "unreadable": "{folder}/ could not be read in the notebook's kernel: a file changed or is unreadable",
}


class RepositoryError(ValueError):
    """The repository cannot be read, for a reason of the student's; the message says which."""


@dataclass(frozen=True)
class Commit:
    """One commit: ``files`` are the paths in its tree, ``changed`` those added, modified or
    deleted against its first parent (all of its files for a root commit)."""

    sha: str
    parents: tuple[str, ...]
    subject: str
    message: str
    author: str
    email: str
    files: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Repository:
    """What git reports of a repository. ``commits``: every commit reachable from a ref (a branch,
    a tag, filter-branch's backups, a stash) or HEAD. ``ignored``: which probed paths its ignore
    patterns match (tracked or not). ``found``: per needle, the reachable commits whose files
    hold it. ``head_files``: HEAD's committed files of at most 64 KiB (1 MiB in all). ``dirty``:
    tracked files differ from HEAD or the index (untracked files do not count)."""

    folder: str
    head: str | None
    head_commit: str | None
    branches: dict[str, str]
    commits: dict[str, Commit]
    histories: dict[str, tuple[str, ...]]
    tracked: tuple[str, ...]
    head_files: dict[str, bytes]
    ignored: frozenset[str]
    found: dict[str, tuple[str, ...]]
    dirty: bool

    def history(self, ref: str = "HEAD") -> list[Commit]:
        """The commits reachable from ``ref`` ("HEAD" or a branch's name), newest first as
        ``git log`` lists them; RepositoryError if there is no such branch."""
        tip = self.head_commit if ref == "HEAD" else self.branches.get(ref)
        if ref != "HEAD" and tip is None:
            raise RepositoryError(f"{self.folder}/ has no branch named {ref!r}")
        return [self.commits[sha] for sha in self.histories.get(tip, ())] if tip else []


def inspect_repository(nb, folder: str, needles: tuple[str, ...] | list[str] = (),
                       ignored: tuple[str, ...] | list[str] = (), backend: Backend | None = None) -> Repository:
    """The git repository the notebook made in ``folder`` (relative to the notebook's own), read
    by git in a fresh sandbox of ``backend`` (by default the kernel's own). ``needles`` are
    strings to look for in every reachable commit's files (a secret); ``ignored`` are paths,
    relative to the repository, to ask ``git check-ignore`` about."""
    settings = _settings(folder, needles, ignored)
    data = _packed(nb, folder)
    with kit_failures("reading the repository", RepositoryError), host_copies({TAR: data}) as copies:
        answer = _read(backend or notebook_backend(nb), copies / TAR, settings)
    return _repository(answer, settings)


def _settings(folder: str, needles, ignored) -> dict:
    """What the sandbox is told: the lab's own choices, checked (a mistake here is the lab's)."""
    needles, ignored = list(needles), list(ignored)
    if not all(isinstance(n, str) and 0 < len(n) <= 256 for n in needles) or len(needles) > NEEDLE_LIMIT:
        raise ValueError(f"needles: at most {NEEDLE_LIMIT} non-empty strings of at most 256 characters")
    if not all(_relative(p) for p in ignored) or len(ignored) > PROBE_LIMIT:
        raise ValueError(f"ignored: at most {PROBE_LIMIT} relative paths inside the repository")
    if not _relative(folder):
        raise ValueError(f"not a folder relative to the notebook's: {folder!r}")
    return {"folder": str(PurePosixPath(folder)), "needles": needles, "ignored": ignored}


def _relative(path: object) -> bool:
    return isinstance(path, str) and 0 < len(path) <= 256 and "\0" not in path and not path.startswith("/") \
        and ".." not in PurePosixPath(path).parts


def _packed(nb, folder: str) -> bytes:
    """The tar the kernel made of ``folder``, checked here again: bytes, within TAR_LIMIT."""
    source = inspect.getsource(pack)
    call = f"pack({folder!r}, {read.SIZE_LIMIT}, {read.MEMBER_LIMIT}, {TAR_LIMIT})"
    try:
        answer = nb.ref(f"(lambda ns: (exec({source!r}, ns), eval({call!r}, ns))[1])({{}})")
    except (NotebookError, CodecError) as exc:
        raise RepositoryError(f"{folder}/ could not be packed in the notebook's kernel: {str(exc)[:300]}") from None
    if isinstance(answer, bytes) and len(answer) <= TAR_LIMIT:
        return answer
    reason = answer[0] if isinstance(answer, list) and answer and answer[0] in PACK_REASONS else None
    if reason is None:
        raise RepositoryError(f"{folder}/ could not be packed in the notebook's kernel")
    raise RepositoryError(PACK_REASONS[reason].format(folder=folder))


def _read(backend: Backend, tar, settings: dict) -> object:
    """The sandbox's answer (see :mod:`.inside.read`), or RepositoryError if it gave none in time."""
    deadline = time.monotonic() + READ_TIMEOUT
    with sandboxed(backend, [tar], READ_LIMITS, read, tar.name, json.dumps(settings)) as (_, process, shared):
        if not finished(process, deadline):
            raise RepositoryError(f"git took longer than {READ_TIMEOUT:.0f} s to read {settings['folder']}/")
        answer = shared_json(shared / read.ANSWER, read.ANSWER_LIMIT)
    if answer is None:
        raise RepositoryError(f"git could not read {settings['folder']}/ within the grader's limits")
    if isinstance(answer, dict) and isinstance(answer.get("crash"), str):
        raise KitError(f"reading the repository failed:\n{answer['crash']}")
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        raise RepositoryError(answer["error"][:1000])
    return answer


class _Shape(Exception):
    """The sandbox's answer is not of the expected shape."""


def _repository(answer: object, settings: dict) -> Repository:
    """The answer checked field by field: RepositoryError if any is not what the reader writes."""
    try:
        return _checked(answer, settings)
    except (_Shape, binascii.Error):
        raise RepositoryError(f"git's report on {settings['folder']}/ could not be read") from None


def _checked(answer: object, settings: dict) -> Repository:
    a = _of(answer, dict)
    commits = {c.sha: c for c in map(_commit, _of(a.get("commits"), list))}
    histories = {sha: _shas(h, commits) for sha, h in _of(a.get("histories"), dict).items()}
    head_commit = _optional(a.get("head_commit"), str)
    branches = {_of(k, str): _of(v, str) for k, v in _of(a.get("branches"), dict).items()}
    if any(sha not in histories for sha in [*branches.values(), *([head_commit] if head_commit else [])]):
        raise _Shape("a branch without its history")
    found = _of(a.get("found"), dict)
    return Repository(
        folder=settings["folder"], head=_optional(a.get("head"), str), head_commit=head_commit,
        branches=branches, commits=commits, histories=histories, tracked=_strings(a.get("tracked")),
        head_files={_of(k, str): base64.b64decode(_of(v, str), validate=True)
                    for k, v in _of(a.get("head_files"), dict).items()},
        ignored=frozenset(_strings(a.get("ignored"))),
        found={needle: _shas(found.get(needle), commits) for needle in settings["needles"]},
        dirty=_of(a.get("dirty"), bool))


def _commit(raw: object) -> Commit:
    c = _of(raw, dict)
    return Commit(sha=_of(c.get("sha"), str), parents=_strings(c.get("parents")), subject=_of(c.get("subject"), str),
                  message=_of(c.get("message"), str), author=_of(c.get("author"), str),
                  email=_of(c.get("email"), str), files=_strings(c.get("files")), changed=_strings(c.get("changed")))


def _shas(raw: object, commits: dict[str, Commit]) -> tuple[str, ...]:
    """Shas of commits the answer lists."""
    shas = _strings(raw)
    if not set(shas) <= commits.keys():
        raise _Shape("an unknown commit")
    return shas


def _strings(raw: object) -> tuple[str, ...]:
    return tuple(_of(s, str) for s in _of(raw, list))


def _optional(raw: object, kind: type):
    return None if raw is None else _of(raw, kind)


def _of(raw: object, kind: type):
    if type(raw) is not kind:
        raise _Shape(f"expected {kind.__name__}")
    return raw
