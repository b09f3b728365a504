"""Grader code that runs in the student's kernel for the tests of 00-python-git.

The tests run it in the notebook's namespace; its names start with ``_t_`` so that they
cannot clash with the student's. It only turns what the notebook holds into plain data
(type hints, a raised exception, a file's bytes) and builds the repositories that the git
tests hand to the student's functions, so that q6 and q7 are each judged on their own code:
what those repositories then hold is read by the git kit, from outside this kernel.
"""

import inspect as _t_inspect
import subprocess as _t_subprocess
import types as _t_types
import typing as _t_typing
from pathlib import Path as _t_Path


def _t_shape(hint):
    """A type hint as plain data: a name, or [name, *arguments] for a generic or a union, spelled
    the same whichever way it was written (List[str] and list[str]; Optional[X] and X | None)."""
    if hint is None or hint is type(None):
        return "None"
    if hint is _t_typing.Any:
        return "Any"
    if isinstance(hint, str):
        return hint
    if _t_typing.is_typeddict(hint):
        return "TypedDict"
    origin = _t_typing.get_origin(hint)
    if origin is _t_typing.Union or origin is _t_types.UnionType:
        return ["Union", *sorted((_t_shape(a) for a in _t_typing.get_args(hint)), key=repr)]
    if origin is _t_typing.Literal:
        return ["Literal", *(repr(a) for a in _t_typing.get_args(hint))]
    if origin is not None:
        return [getattr(origin, "__name__", repr(origin)), *(_t_shape(a) for a in _t_typing.get_args(hint))]
    if hint is Ellipsis:
        return "..."
    return getattr(hint, "__name__", None) or getattr(hint, "_name", None) or repr(hint)[:80]


def _t_hints(function):
    """The hints of function as plain data: [[parameter, shape or None], ...] in order, and the
    return's shape (None where there is no hint); or the error reading them raised, as text."""
    try:
        hints = _t_typing.get_type_hints(function)
        parameters = _t_inspect.signature(function).parameters
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:300]
    shaped = [[name, _t_shape(hints[name]) if name in hints else None] for name in parameters]
    return [shaped, _t_shape(hints["return"]) if "return" in hints else None]


def _t_raised(function):
    """What calling function raised: [the names of the exception's classes, its message], or None."""
    try:
        function()
    except Exception as error:
        return [[cls.__name__ for cls in type(error).__mro__], str(error)[:500]]
    return None


def _t_plain(summary):
    """summarise_events' answer with its dict and set values as plain dicts and sets (a Counter, a
    defaultdict, a frozenset), so that it can cross to the grader; anything else as it is."""
    if not isinstance(summary, dict):
        return summary
    return {key: dict(value) if isinstance(value, dict) else set(value) if isinstance(value, (set, frozenset))
            else value for key, value in summary.items()}


def _t_read(path, limit):
    """The first limit + 1 bytes of the file at path (the grader refuses more than limit), or None."""
    try:
        with open(path, "rb") as file:
            return file.read(limit + 1)
    except OSError:
        return None


def _t_git(path, *args):
    """Run git in path as the grader's teammate would; its output (stripped)."""
    done = _t_subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"the grader's git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _t_new_repo(path, name, email):
    """A fresh repository on main at path, with a local author and one commit; that commit's sha."""
    _t_Path(path).mkdir(parents=True)
    _t_git(path, "init", "-b", "main")
    _t_git(path, "config", "user.name", name)
    _t_git(path, "config", "user.email", email)
    return _t_commit(path, {"README.md": f"# {name}'s project\n"}, "Add the README")


def _t_commit(path, files, message):
    """Write files (name -> text) and commit them; the new commit's sha."""
    for name, text in files.items():
        target = _t_Path(path, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _t_git(path, "add", "--force", *files)
    _t_git(path, "commit", "-m", message)
    return _t_git(path, "rev-parse", "HEAD")


def _t_branch(path, branch, start="main"):
    """Switch to a new branch made at start."""
    _t_git(path, "switch", "-c", branch, start)


def _t_switch(path, branch):
    _t_git(path, "switch", branch)
