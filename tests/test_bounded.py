"""The one bounded JSON reader: size before parsing, depth after, every failure a ValueError."""

from __future__ import annotations

import json

import pytest

from grader import bounded

SHAPES = {  # an opening and closing of one level of nesting, as JSON text
    "list": ("[", "]"),
    "dict": ('{"k":', "}"),
    "list in dict": ('{"k":[', "]}"),
    "second item": ("[0,", "]"),
}


def nested(shape: str, levels: int) -> str:
    opening, closing = SHAPES[shape]
    per = 2 if shape == "list in dict" else 1
    count = -(-levels // per)  # at least ``levels``: a shape of two levels rounds up
    return opening * count + ("0" if shape != "list" else "") + closing * count


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("levels", [1, 63, 64, 65, 100, 1_000, 100_000, 1_000_000])
def test_depth_is_refused_past_the_bound_and_only_there(shape, levels):
    text = nested(shape, levels)
    if levels <= 64:
        assert bounded.loads(text, len(text), "doc", depth=64) is not None
    else:
        with pytest.raises(bounded.Unbounded, match="nested deeper than 64"):
            bounded.loads(text, len(text), "doc", depth=64)


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 10**6])
def test_size_is_checked_before_parsing(size):
    text = " " * size  # not JSON: a parse would say so, the size check comes first
    if size > 1024:
        with pytest.raises(bounded.Unbounded, match="larger than 1 KiB"):
            bounded.loads(text, 1024, "doc")
    else:
        with pytest.raises(ValueError, match="doc is not JSON"):
            bounded.loads(text, 1024, "doc")


@pytest.mark.parametrize("data", [b"\xff\xfe{", b'{"a": 1', b"NaNx", b"1" * 5000, "\ud800".encode("utf-8", "surrogatepass"),
                                  b'[1, 2] [3]', b"", b"\x00"])
def test_anything_that_is_not_json_is_a_value_error_naming_the_document(data):
    with pytest.raises(ValueError, match="^doc is not JSON"):
        bounded.loads(data, 10_000, "doc")


def test_a_wide_document_is_walked_with_memory_in_its_depth_only():
    wide = json.dumps([{"a": [1, {}]} for _ in range(100_000)])
    assert len(bounded.loads(wide, len(wide), "doc", depth=4)) == 100_000
