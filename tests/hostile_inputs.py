"""Generated families of hostile submissions: malformed notebooks and hand-built zip archives.

Each family is a dict from a name (safe as a student name) to the file's bytes, so that a
test can check every member alike and a batch can hold them all. The zip builder writes
the format by hand because zipfile cannot write what an attacker writes: entries that
share bytes, sizes that lie, methods and flags it does not support.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import nbformat

from grader.course import archive, notebook_file
DEEP = "@@deep@@"  # a placeholder replaced by nesting too deep for json.dumps to write
BIG_INT = "@@bigint@@"


# --- notebooks -------------------------------------------------------------------------


def honest_doc(lab: str) -> dict[str, Any]:
    """A valid notebook with one of every part a mutation below reaches into."""
    nb = nbformat.v4.new_notebook(metadata={"grader": {"lab": lab}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
                nbformat.v4.new_markdown_cell("some text")]
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"  # fixed, so that every family is the same bytes on every run
    return json.loads(nbformat.writes(nb))


def to_bytes(doc: Any) -> bytes:
    """JSON as an attacker may write it: NaN allowed, lone surrogates as escapes, and the
    placeholders replaced by nesting or digits no serializer would produce."""
    text = json.dumps(doc, ensure_ascii=True)
    text = re.sub(f'"{DEEP}(\\d+)"', lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)
    return text.replace(json.dumps(BIG_INT), "9" * 5000).encode("utf-8")


def deep(depth: int) -> str:
    return f"{DEEP}{depth}"


def mutated(lab: str, change: Callable[[dict], Any]) -> bytes:
    doc = honest_doc(lab)
    change(doc)
    return to_bytes(doc)


def setter(*path: Any, value: Any = None, delete: bool = False) -> Callable[[dict], None]:
    """A change that sets (or deletes) the item at ``path`` of a notebook document."""
    def change(doc: dict) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return change


def more_cells(count: int) -> Callable[[dict], None]:
    """A change that adds ``count`` markdown cells, each with an id of its own."""
    def change(doc: dict) -> None:
        doc["cells"] += [{**doc["cells"][1], "id": f"more-{i}"} for i in range(count)]
    return change


WRONG_VALUES: dict[tuple, list[Any]] = {
    ("nbformat",): [4.0, "4", None, 3, 5, True, [4], BIG_INT],
    ("nbformat_minor",): ["5", 5.0, -1, 6, 99, None, True],
    ("metadata",): [[], "x", None],
    ("cells",): [{}, "x", None, [1], ["x"], [None], [[]]],
    ("cells", 0, "cell_type"): ["foo", None, ["code"], 1],
    ("cells", 0, "source"): [1, None, [1], [["x"]], {}, deep(5000)],
    ("cells", 0, "metadata"): [[], None, "x", {"tags": "q1"}, {"x": deep(600)}],
    ("cells", 0, "outputs"): [{}, None, [1], [{"output_type": "foo"}],
                              [{"output_type": "stream", "name": "stdout", "text": [1]}],
                              [{"output_type": "display_data", "data": [], "metadata": {}}],
                              [{"output_type": "display_data", "metadata": {},
                                "data": {"application/json": deep(1000)}}]],
    ("cells", 0, "id"): [1, None, "", "not a valid id!"],
    ("cells", 0, "execution_count"): ["1", 1.5, []],
    ("cells", 0, "attachments"): [[], {"a": 1}],
    ("cells", 0, "bogus"): [1],
    ("cells", 1, "outputs"): [[]],
    ("metadata", "grader"): [{"lab": "x" * (notebook_file.MAX_LAB_ID + 1)}],
}


def _wrong_value_family(lab: str) -> dict[str, bytes]:
    family = {}
    for path, values in WRONG_VALUES.items():
        for i, value in enumerate(values):
            family[f"wrong-{_label(path)}-{i}"] = mutated(lab, setter(*path, value=value))
    for path in [("nbformat",), ("nbformat_minor",), ("metadata",), ("cells",), ("cells", 0, "source"),
                 ("cells", 0, "metadata"), ("cells", 0, "outputs"), ("cells", 0, "cell_type")]:
        family[f"missing-{_label(path)}"] = mutated(lab, setter(*path, delete=True))
    return family


def _label(path: tuple) -> str:
    return "-".join(str(p) for p in path).replace("_", "")


def _nesting_family(lab: str) -> dict[str, bytes]:
    family = {f"deep-metadata-{d}": mutated(lab, setter("metadata", "x", value=deep(d)))
              for d in (150, 600, 5000, 100_000)}
    family["deep-top-level"] = to_bytes(deep(100_000))
    family["deep-in-output"] = mutated(lab, setter("cells", 0, "outputs", 0, "text", value=deep(100_000)))
    return family


def _size_family(lab: str) -> dict[str, bytes]:
    big = "x" * (notebook_file.MAX_CELL_SOURCE + 1)
    return {
        "huge-source": mutated(lab, setter("cells", 0, "source", value=big)),
        "huge-source-lines": mutated(lab, setter("cells", 0, "source", value=[big[:1000]] * 1050)),
        "too-many-cells": mutated(lab, more_cells(notebook_file.MAX_CELLS - 1)),
    }


def _text_family(lab: str) -> dict[str, bytes]:
    honest = to_bytes(honest_doc(lab))
    middle = honest.index(b"x = 1")
    family = {f"truncated-{k}": honest[:k] for k in (1, 10, len(honest) // 3, len(honest) // 2, len(honest) - 2)}
    family.update({
        "empty": b"",
        "whitespace": b" \n\t ",
        "nul-inside": honest[:middle] + b"\x00" + honest[middle:],
        "nul-only": b"\x00" * 64,
        "invalid-utf8": honest[:middle] + b"\xff\xfe" + honest[middle:],
        "encoded-surrogate": honest[:middle] + b"\xed\xa0\x80" + honest[middle:],
        "surrogate-in-source": mutated(lab, setter("cells", 0, "source", value="x = '\ud800'")),
        "surrogate-in-metadata-key": mutated(lab, setter("metadata", "\udfff", value=1)),
        "not-json": b"this is not a notebook",
        "top-level-list": b"[]",
        "top-level-number": b"1",
        "top-level-null": b"null",
        "top-level-string": b'"notebook"',
        "top-level-true": b"true",
        "nbformat-3": to_bytes({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}),
        "no-code-cells": mutated(lab, setter("cells", value=honest_doc(lab)["cells"][1:])),
    })
    return family


def malformed_notebooks(lab: str) -> dict[str, bytes]:
    """About 120 files that are not notebooks the grader can take, each for its own reason."""
    return {**_wrong_value_family(lab), **_nesting_family(lab), **_size_family(lab), **_text_family(lab)}


def accepted_notebooks(lab: str) -> dict[str, bytes]:
    """Files that look odd but are notebooks: they must be read, not refused."""
    honest = to_bytes(honest_doc(lab))
    return {
        "plain": honest,
        "utf8-bom": b"\xef\xbb\xbf" + honest,
        "utf16": honest.decode("utf-8").encode("utf-16"),
        "escaped-emoji": mutated(lab, setter("cells", 0, "source", value="x = '\U0001F600'")),
        "nested-50": mutated(lab, setter("metadata", "x", value=deep(50))),
        "nan-in-metadata": mutated(lab, setter("metadata", "x", value=float("nan"))),
        "source-as-lines": mutated(lab, setter("cells", 0, "source", value=["x = 1\n", "y = 2"])),
        "at-the-cell-limit": mutated(lab, more_cells(notebook_file.MAX_CELLS - 2)),
    }


# --- zip archives ----------------------------------------------------------------------

STORED, DEFLATED = 0, 8
UNSUPPORTED_METHODS = (1, 6, 9, 12, 14, 93, 95, 98, 99)


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@dataclass(frozen=True)
class Member:
    """One entry as the archive states it; every field an attacker chooses can be set."""

    name: str
    data: bytes = b""  # what the member holds
    method: int = DEFLATED
    flags: int = 0
    raw: bytes | None = None  # the bytes written as its compressed data (default: data, compressed)
    file_size: int | None = None  # declared sizes and CRC (default: the true ones)
    compress_size: int | None = None
    crc: int | None = None
    external_attr: int = 0o644 << 16
    name_bytes: bytes | None = None  # the name as written (default: UTF-8, flagged as such)

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return deflate(self.data) if self.method == DEFLATED else self.data

    def fields(self) -> tuple[int, int, int, int, bytes]:
        """(flags, crc, compressed size, size, name) as declared."""
        body = self.body()
        crc = zlib.crc32(self.data) if self.crc is None else self.crc
        csize = len(body) if self.compress_size is None else self.compress_size
        size = len(self.data) if self.file_size is None else self.file_size
        name = self.name.encode("utf-8") if self.name_bytes is None else self.name_bytes
        return self.flags | 0x800, crc, csize, size, name


def local_entry(m: Member) -> bytes:
    """A member's local header and data, as they lie in the archive."""
    flags, crc, csize, size, name = m.fields()
    return struct.pack("<4sHHHHHLLLHH", b"PK\x03\x04", 20, flags, m.method, 0, 0x21,
                       crc, min(csize, 0xFFFFFFFF), min(size, 0xFFFFFFFF), len(name), 0) + name + m.body()


def build_zip(members: list[Member], listing: list[tuple[Member, int]] | None = None) -> bytes:
    """An archive of ``members`` one after the other, and a central directory of ``listing``:
    (entry, offset of its local header) pairs, by default each member at its own offset. A
    listing can name one member's bytes many times, or an entry that lies inside another."""
    out, offsets = bytearray(), []
    for m in members:
        offsets.append(len(out))
        out += local_entry(m)
    start = len(out)
    entries = listing if listing is not None else list(zip(members, offsets))
    for m, offset in entries:
        out += _central_entry(m, offset)
    count = len(entries) % 65536
    out += struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, count, count, len(out) - start, start, 0)
    return bytes(out)


def _central_entry(m: Member, offset: int) -> bytes:
    flags, crc, csize, size, name = m.fields()
    extra = struct.pack("<HHQ", 1, 8, size) if size >= 0xFFFFFFFF else b""  # zip64: the true size
    return struct.pack("<4sHHHHHHLLLHHHHHLL", b"PK\x01\x02", 20 | (3 << 8), 20, flags, m.method, 0, 0x21,
                       crc, min(csize, 0xFFFFFFFF), min(size, 0xFFFFFFFF), len(name), len(extra), 0, 0, 0,
                       m.external_attr, offset) + name + extra


def notebook_member(lab: str, name: str = "lab.ipynb", **fields: Any) -> Member:
    return Member(name, to_bytes(honest_doc(lab)), **fields)


def _corrupt_streams(lab: str) -> dict[str, bytes]:
    member = notebook_member(lab)
    body = member.body()
    family = {}
    for at in (0, 1, len(body) // 4, len(body) // 2, 3 * len(body) // 4, len(body) - 3):  # not the padding
        flipped = body[:at] + bytes([body[at] ^ 0x5A]) + body[at + 1:]
        family[f"zip-corrupt-at-{at}"] = build_zip([Member(member.name, member.data, raw=flipped)])
    for keep in (0, 3, len(body) // 2):
        family[f"zip-stream-cut-at-{keep}"] = build_zip([Member(member.name, member.data, raw=body[:keep])])
    family["zip-wrong-crc"] = build_zip([notebook_member(lab, crc=1234)])
    return family


def _overlapping(lab: str) -> dict[str, bytes]:
    member = notebook_member(lab)
    family = {}
    for count in (2, 3, 10, 300):
        family[f"zip-same-entry-{count}-times"] = build_zip([member], [(member, 0)] * count)
        renamed = [(replace(member, name=f"n{i}.ipynb"), 0) for i in range(count)]
        family[f"zip-same-bytes-{count}-names"] = build_zip([member], renamed)
    outer = Member("outer.ipynb", local_entry(member), method=STORED)  # a whole entry inside another's data
    family["zip-entry-inside-another"] = build_zip([outer], [(outer, 0), (member, 30 + len(outer.name))])
    return family


def hostile_zips(lab: str) -> dict[str, bytes]:
    """About 50 archives, each refused or holding only notebooks that are refused."""
    honest = build_zip([notebook_member(lab)])
    family = {
        "zip-encrypted": build_zip([notebook_member(lab, flags=0x1)]),
        "zip-strongly-encrypted": build_zip([notebook_member(lab, flags=0x41)]),
        **{f"zip-method-{m}": build_zip([notebook_member(lab, method=m, raw=b"\x00" * 64)])
           for m in UNSUPPORTED_METHODS},
        **_corrupt_streams(lab),
        **_overlapping(lab),
        "zip-many-entries": build_zip([notebook_member(lab)] + [Member(f"f{i}", method=STORED)
                                                                  for i in range(archive.MAX_ZIP_ENTRIES)]),
        "zip-many-notebooks": build_zip([notebook_member(lab, f"n{i}.ipynb")
                                         for i in range(archive.MAX_ZIP_NOTEBOOKS + 1)]),
        "zip-huge-listing": build_zip([notebook_member(lab)] + [Member(f"{i:05}" + "d" * 400, method=STORED)
                                                                  for i in range(2700)]),
        "zip-deep-path": build_zip([notebook_member(lab, "a/" * 600 + "lab.ipynb")]),
        "zip-control-character-name": build_zip([notebook_member(lab, "lab\n.ipynb")]),
        "zip-invalid-utf8-name": build_zip([notebook_member(lab, name_bytes=b"lab\xff.ipynb")]),
        "zip-symlink-member": build_zip([notebook_member(lab, external_attr=0o120777 << 16)]),
        "zip-declared-4gib": build_zip([notebook_member(lab, file_size=0xFFFFFFFE)]),
        "zip-declared-1tib": build_zip([notebook_member(lab, file_size=2**40)]),
        "zip-compressed-size-past-end": build_zip([notebook_member(lab, compress_size=2**31)]),
        "zip-ratio-bomb": build_zip([Member("lab.ipynb", b" " * (8 * 2**20), file_size=40 * 2**20)]),
        "zip-too-much-in-all": build_zip([Member(f"n{i}.ipynb", raw=bytes(220 * 1024), file_size=40 * 2**20)
                                          for i in range(3)]),
        "zip-listing-size-lies": honest[:-10] + struct.pack("<L", 0xFFFFFFF0) + honest[-6:],
        "zip-not-a-zip": b"PK\x03\x04 this is not really a zip",
        "zip-empty-file": b"",
        **{f"zip-cut-at-{k}": honest[:k] for k in (4, len(honest) // 2, len(honest) - 10)},
        "zip-no-notebook": build_zip([Member("readme.txt", b"hi")]),
        "zip-bad-notebook": build_zip([Member("lab.ipynb", b"{ not json")]),
    }
    return family
