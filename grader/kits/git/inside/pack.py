"""The repository's folder as an uncompressed tar, made in the notebook's kernel.

The grader sends this module's source into the kernel and calls :func:`pack` there: the folder
is where the notebook made it, and only the kernel can read it. Regular files, folders and
symbolic links (as links, never followed) go into the tar under ``repo/``; anything else (a
pipe, a device) is left out. The walk stops, and the answer is a short reason instead of a tar,
as soon as a bound is passed, so that a folder of a million files costs the kernel little.

The answer is the student's (the kernel may have been patched): the grader checks it again.
Standard library only.
"""

import io
import os
import stat
import tarfile


def pack(folder: str, size_limit: int, member_limit: int, tar_limit: int) -> "bytes | list":
    """The tar's bytes, or ``[reason]``: "missing" (no folder there), "members" (more than
    ``member_limit`` entries), "size" (regular files over ``size_limit`` bytes in all, or a tar
    over ``tar_limit``), "unreadable" (an entry changed or vanished while it was read)."""
    root = os.path.abspath(folder)
    if os.path.islink(root) or not os.path.isdir(root):
        return ["missing"]
    buffer = io.BytesIO()
    try:
        entries = _entries(root, size_limit, member_limit)
        if isinstance(entries, list):
            return entries
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, name in entries:
                _add(tar, path, name)
                if buffer.tell() > tar_limit:
                    return ["size"]
    except OSError:
        return ["unreadable"]
    data = buffer.getvalue()
    return data if len(data) <= tar_limit else ["size"]


def _entries(root: str, size_limit: int, member_limit: int) -> "tuple | list":
    """(path, name in the tar) of every entry under ``root``, in a stable order; or ``[reason]``."""
    found, total = [(root, "repo")], 0
    for top, folders, files in os.walk(root):  # never into a link to a folder
        folders.sort()
        for name in folders + sorted(files):
            path = os.path.join(top, name)
            found.append((path, "repo/" + os.path.relpath(path, root)))
            if len(found) > member_limit:
                return ["members"]
            info = os.lstat(path)
            total += info.st_size if stat.S_ISREG(info.st_mode) else 0
            if total > size_limit:
                return ["size"]
    return tuple(found)


def _add(tar: tarfile.TarFile, path: str, name: str) -> None:
    """One entry: a folder, a link (its target as written) or a regular file's bytes."""
    info = tar.gettarinfo(path, name)
    if info.isreg():
        with open(path, "rb") as data:
            tar.addfile(info, data)
    elif info.isdir() or info.issym() or info.islnk():
        tar.addfile(info)
