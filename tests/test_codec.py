"""Tests for grader.testing.codec: tagged JSON in both directions, exact types, hostile payloads refused."""

from __future__ import annotations

import json
import math
import pickle
import time

import numpy as np
import pandas as pd
import pytest

from grader.testing import codec
from grader.testing.codec import MAX_DEPTH, MAX_PAYLOAD, MAX_SAME_HASH, MAX_VALUES, CodecError, dumps, loads


def roundtrip(value):
    text = dumps(value)
    assert isinstance(text, str)
    return loads(text)


# --- plain Python values ---------------------------------------------------------------


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 10**100, -(10**80), "", "héllo ✓", "a\x00b"])
def test_scalars_roundtrip_with_exact_type(value):
    out = roundtrip(value)
    assert type(out) is type(value)
    assert out == value


def test_bool_is_not_confused_with_int():
    out = roundtrip([True, 1, False, 0])
    assert out == [True, 1, False, 0]
    assert [type(x) for x in out] == [bool, int, bool, int]


@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -2.25, 1e308, 5e-324, math.pi])
def test_finite_floats_roundtrip(value):
    out = roundtrip(value)
    assert type(out) is float
    assert out == value and math.copysign(1, out) == math.copysign(1, value)


def test_float_one_stays_float_not_int():
    out = roundtrip(1.0)
    assert type(out) is float and out == 1.0


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinities_roundtrip(value):
    out = roundtrip(value)
    assert type(out) is float and out == value


def test_nan_roundtrips():
    out = roundtrip(math.nan)
    assert type(out) is float and math.isnan(out)


def test_non_finite_floats_are_tagged_not_bare_json():
    """NaN/Infinity are not JSON; they travel as {"$float": ...}."""
    doc = json.loads(dumps([math.nan, math.inf, -math.inf]))
    assert doc == [{"$float": "nan"}, {"$float": "inf"}, {"$float": "-inf"}]


@pytest.mark.parametrize("value", [b"", b"\x00\xff\x10binary", bytes(range(256))])
def test_bytes_roundtrip(value):
    out = roundtrip(value)
    assert type(out) is bytes and out == value


def test_list_and_tuple_keep_their_types():
    out = roundtrip([1, (2, 3), [4, (5,)], ()])
    assert type(out) is list
    assert type(out[1]) is tuple and out[1] == (2, 3)
    assert type(out[2]) is list and type(out[2][1]) is tuple
    assert out[3] == () and type(out[3]) is tuple


def test_top_level_tuple_roundtrips():
    out = roundtrip((1, "a", None))
    assert type(out) is tuple and out == (1, "a", None)


def test_dict_with_str_keys():
    out = roundtrip({"a": 1, "b": [2]})
    assert type(out) is dict and out == {"a": 1, "b": [2]}


def test_dict_with_int_keys_stays_int_keyed():
    """Plain JSON would turn 1 into "1"; the codec must not."""
    out = roundtrip({1: "one", "1": "string one", -5: None})
    assert out == {1: "one", "1": "string one", -5: None}
    assert {type(k) for k in out} == {int, str}


def test_dict_with_tuple_and_mixed_keys():
    value = {(1, 2): "pair", (("a",), 3): [1], None: 0, 2.5: "f", True: "t", b"k": "bytes"}
    out = roundtrip(value)
    assert out == value
    assert type(next(k for k in out if k == (1, 2))) is tuple
    assert any(type(k) is bool for k in out)


def test_dict_preserves_insertion_order():
    value = {"z": 1, 3: 2, "a": 3}
    assert list(roundtrip(value)) == ["z", 3, "a"]


def test_set_and_frozenset_roundtrip():
    out = roundtrip({1, "a", (2, 3)})
    assert type(out) is set and out == {1, "a", (2, 3)}
    out = roundtrip(frozenset({1, 2}))
    assert type(out) is frozenset and out == frozenset({1, 2})


def test_set_of_frozensets_and_empty_sets():
    out = roundtrip([{frozenset({1}), frozenset()}, set(), frozenset()])
    assert out == [{frozenset({1}), frozenset()}, set(), frozenset()]
    assert type(out[1]) is set and type(out[2]) is frozenset
    assert all(type(x) is frozenset for x in out[0])


def test_nested_mix_roundtrips_with_exact_types():
    value = {
        "rows": [(1, 2.5, None), (True, "x", b"y")],
        (0, "k"): {frozenset({"a"}): {1, 2}},
        "deep": [[[[{"n": [math.inf]}]]]],
    }
    out = roundtrip(value)
    assert out == value
    assert type(out["rows"][0]) is tuple and type(out["rows"][1][0]) is bool
    assert type(out[(0, "k")]) is dict
    assert type(out[(0, "k")][frozenset({"a"})]) is set


def test_nesting_up_to_max_depth_is_allowed():
    value = 1
    for _ in range(MAX_DEPTH):
        value = [value]
    assert roundtrip(value) == value


def test_dumps_refuses_nesting_beyond_max_depth():
    value = 1
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(CodecError):
        dumps(value)


def test_dumps_refuses_self_referencing_list():
    a = []
    a.append(a)
    with pytest.raises(CodecError):
        dumps(a)


# --- numpy -----------------------------------------------------------------------------


def assert_same_array(out, expected):
    assert type(out) is np.ndarray
    assert out.dtype == expected.dtype
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("array", [
    np.array([1, 2, 3], dtype=np.int64),
    np.array([-1, 0, 127], dtype=np.int8),
    np.array([0, 2**32], dtype=np.uint64),
    np.array([1.5, -2.0, np.nan, np.inf]),
    np.array([1.0, 2.0], dtype=np.float32),
    np.array([True, False, True]),
    np.array([[1, 2, 3], [4, 5, 6]]),
    np.arange(24.0).reshape(2, 3, 4),
    np.array([], dtype=np.float64),
    np.zeros((0, 3), dtype=np.int32),
    np.array(["ab", "c", "héllo"]),
    np.array([1 + 2j, -3j]),
    np.array(["2024-01-01", "1999-12-31"], dtype="datetime64[D]"),
    np.array([1, 2], dtype=">i4"),
], ids=lambda a: f"{a.dtype.str}-{a.shape}")
def test_numpy_arrays_roundtrip(array):
    assert_same_array(roundtrip(array), array)


def test_bool_array_stays_bool():
    out = roundtrip(np.array([True, False]))
    assert out.dtype == np.bool_ and out.dtype.kind == "b"


def test_non_contiguous_array_roundtrips():
    array = np.arange(12).reshape(3, 4).T[::2]
    assert not array.flags.c_contiguous
    assert_same_array(roundtrip(array), array)


def test_decoded_array_is_writable_copy():
    out = roundtrip(np.array([1, 2, 3]))
    out[0] = 10
    assert out.flags.writeable and out[0] == 10


def test_object_array_of_plain_values_roundtrips():
    array = np.array([1, "x", None, 2.5, (1, 2)], dtype=object)
    out = roundtrip(array)
    assert type(out) is np.ndarray and out.dtype == object and out.shape == (5,)
    assert list(out) == [1, "x", None, 2.5, (1, 2)]
    assert type(out[4]) is tuple


def test_2d_object_array_keeps_shape():
    array = np.array([["a", 1], [None, "b"]], dtype=object)
    out = roundtrip(array)
    assert out.dtype == object and out.shape == (2, 2)
    assert out.tolist() == [["a", 1], [None, "b"]]


def test_zero_dimensional_array_keeps_its_shape():
    out = roundtrip(np.array(5))
    assert type(out) is np.ndarray
    assert out.shape == () and out == 5


@pytest.mark.parametrize("scalar", [np.int64(3), np.int32(-4), np.float64(1.5), np.float32(0.25),
                                    np.bool_(True), np.complex128(1 - 1j), np.uint8(255)],
                         ids=lambda s: type(s).__name__)
def test_numpy_scalars_roundtrip(scalar):
    out = roundtrip(scalar)
    assert type(out) is type(scalar)
    assert out == scalar


def test_numpy_float64_from_a_reduction_roundtrips():
    """np.mean returns np.float64 (a float subclass): the most common value a student returns."""
    value = np.mean(np.array([1.0, 2.0]))
    out = roundtrip(value)
    assert out == 1.5 and type(out) is np.float64


# --- pandas ----------------------------------------------------------------------------


def test_numeric_series_roundtrips():
    series = pd.Series([1, 2, 3], index=["a", "b", "c"], name="counts")
    out = roundtrip(series)
    assert type(out) is pd.Series
    pd.testing.assert_series_equal(out, series)


def test_float_series_with_nan_roundtrips():
    series = pd.Series([1.5, np.nan, -2.0])
    out = roundtrip(series)
    assert out.dtype == np.float64
    pd.testing.assert_series_equal(out, series)


def test_string_series_roundtrips_values_and_name():
    series = pd.Series(["x", "y", None], name="letters")
    out = roundtrip(series)
    assert type(out) is pd.Series and out.name == "letters"
    assert out.tolist()[:2] == ["x", "y"] and pd.isna(out.iloc[2])
    assert list(out.index) == [0, 1, 2]


def test_series_index_labels_roundtrip():
    series = pd.Series([10, 20], index=[(1, "a"), (2, "b")])
    out = roundtrip(series)
    assert list(out.index) == [(1, "a"), (2, "b")]
    assert out.tolist() == [10, 20]


def test_series_named_index_keeps_its_name():
    series = pd.Series([1, 2], index=pd.Index(["a", "b"], name="key"), name="value")
    out = roundtrip(series)
    assert list(out.index) == ["a", "b"]
    assert out.index.name == "key"


def test_dataframe_numeric_and_string_columns_roundtrip():
    frame = pd.DataFrame({"n": [1, 2, 3], "f": [0.5, np.nan, 2.5], "s": ["a", "b", "c"], "b": [True, False, True]})
    out = roundtrip(frame)
    assert type(out) is pd.DataFrame
    assert list(out.columns) == ["n", "f", "s", "b"]
    assert out.shape == (3, 4)
    assert out["n"].dtype == np.int64 and out["f"].dtype == np.float64 and out["b"].dtype == np.bool_
    assert out["n"].tolist() == [1, 2, 3]
    assert out["s"].tolist() == ["a", "b", "c"]
    assert out["f"].iloc[0] == 0.5 and math.isnan(out["f"].iloc[1])
    assert list(out.index) == [0, 1, 2]


def test_dataframe_index_labels_roundtrip():
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=["r1", "r2"])
    out = roundtrip(frame)
    assert list(out.index) == ["r1", "r2"]
    assert out.loc["r2", "x"] == 2.0


def test_dataframe_named_index_keeps_its_name():
    frame = pd.DataFrame({"x": [1, 2]}, index=pd.Index([10, 20], name="id"))
    out = roundtrip(frame)
    assert list(out.index) == [10, 20]
    assert out.index.name == "id"


def test_dataframe_with_int_column_labels():
    frame = pd.DataFrame([[1, 2], [3, 4]])
    out = roundtrip(frame)
    assert list(out.columns) == [0, 1]
    assert out.to_numpy().tolist() == [[1, 2], [3, 4]]


def test_empty_dataframe_roundtrips():
    out = roundtrip(pd.DataFrame())
    assert type(out) is pd.DataFrame and out.shape == (0, 0)


# --- refusals on the encoding side -----------------------------------------------------


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0


class IntSubclass(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class DictSubclass(dict):
    pass


class ListSubclass(list):
    pass


class StrSubclass(str):
    pass


class FloatSubclass(float):
    pass


class ArraySubclass(np.ndarray):
    pass


@pytest.mark.parametrize("value", [
    AlwaysEqual(),
    IntSubclass(3),
    DictSubclass(a=1),
    ListSubclass([1]),
    StrSubclass("x"),
    FloatSubclass(1.0),
    np.zeros(3).view(ArraySubclass),
    np.ma.masked_array([1, 2], mask=[0, 1]),
    object(),
    lambda: 1,
    print,
    range(3),
    bytearray(b"x"),
    1 + 2j,
], ids=lambda v: type(v).__name__)
def test_dumps_refuses_non_plain_values(value):
    with pytest.raises(CodecError):
        dumps(value)


@pytest.mark.parametrize("container", [
    lambda x: [1, x],
    lambda x: (x,),
    lambda x: {"k": x},
    lambda x: {x: 1},
    lambda x: {x},
    lambda x: [[[{"deep": (x,)}]]],
])
def test_dumps_refuses_always_equal_object_inside_containers(container):
    with pytest.raises(CodecError):
        dumps(container(AlwaysEqual()))


def test_refusal_names_the_offending_type():
    with pytest.raises(CodecError, match="AlwaysEqual"):
        dumps(AlwaysEqual())


def test_dumps_refuses_object_array_holding_custom_instance():
    array = np.array([1, AlwaysEqual()], dtype=object)
    with pytest.raises(CodecError):
        dumps(array)


def test_dumps_refuses_structured_arrays():
    with pytest.raises(CodecError):
        dumps(np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]))


def test_dumps_refuses_series_of_custom_objects():
    with pytest.raises(CodecError):
        dumps(pd.Series([AlwaysEqual()], dtype=object))


def test_codec_error_is_a_value_error():
    assert issubclass(CodecError, ValueError)


# --- hostile payloads given to loads ---------------------------------------------------


def _array_doc(**fields):
    body = {"dtype": "<i8", "shape": [1], "data": "AAAAAAAAAAA="}
    body.update(fields)
    return json.dumps({"$ndarray": body})


def _deep_list(depth):
    return "[" * depth + "]" * depth


HOSTILE = {
    "unknown tag": json.dumps({"$nope": 1}),
    "dict with two keys": json.dumps({"$tuple": [], "$set": []}),
    "empty object": json.dumps({}),
    "plain json object": json.dumps({"a": 1}),
    "pickle style py/object": json.dumps({"py/object": "os.system", "py/reduce": ["rm -rf /"]}),
    "pickle style py/object single key": json.dumps({"py/object": "builtins.eval"}),
    "pickle style __reduce__": json.dumps({"__reduce__": ["os.system", ["echo"]]}),
    "wrong array byte length": _array_doc(shape=[2]),
    "wrong array byte length, too long": _array_doc(data="AAAAAAAAAAAAAAAAAAAAAA==", shape=[1]),
    "object dtype O": _array_doc(dtype="O", shape=[0], data=""),
    "object dtype |O": _array_doc(dtype="|O", shape=[0], data=""),
    "void dtype": _array_doc(dtype="V8", data="AAAAAAAAAAA="),
    "structured dtype string": _array_doc(dtype="<i4,<i4", data="AAAAAAAAAAA="),
    "structured dtype dict": _array_doc(dtype={"names": ["a"], "formats": ["<i8"]}),
    "structured dtype list": _array_doc(dtype=[["a", "<i8"]]),
    "subarray dtype": _array_doc(dtype="(1,)<i8"),
    "unknown dtype": _array_doc(dtype="bogus"),
    "negative shape": _array_doc(shape=[-1], data=""),
    "float shape": _array_doc(shape=[1.0]),
    "bool shape": _array_doc(shape=[True]),
    "shape not a list": _array_doc(shape=1),
    "array body not a dict": json.dumps({"$ndarray": [1, 2]}),
    "non-string base64": _array_doc(data=12345),
    "invalid base64 characters": _array_doc(data="!!!!"),
    "bytes not a string": json.dumps({"$bytes": 12}),
    "bytes invalid base64": json.dumps({"$bytes": "a b c"}),
    "object array length mismatch": json.dumps({"$ndarray": {"objects": [1, 2], "shape": [3]}}),
    "object array holding unknown tag": json.dumps({"$ndarray": {"objects": [{"py/object": "x"}], "shape": [1]}}),
    "npscalar with non-scalar shape": json.dumps(
        {"$npscalar": {"dtype": "<i8", "shape": [2], "data": "AAAAAAAAAAAAAAAAAAAAAA=="}}),
    "nested list beyond MAX_DEPTH": _deep_list(MAX_DEPTH + 10),
    "nested tuples beyond MAX_DEPTH": '{"$tuple":[' * (MAX_DEPTH + 10) + "]}" * (MAX_DEPTH + 10),
    "nesting beyond the JSON parser's recursion limit": _deep_list(100_000),
    "invalid json": "{not json",
    "truncated json": '[1, 2',
    "NaN literal is fine but garbage is not": "NaNx",
    "dict key decodes to list": json.dumps({"$dict": [[[1, 2], "v"]]}),
    "dict key decodes to dict": json.dumps({"$dict": [[{"$dict": []}, "v"]]}),
    "dict key decodes to set": json.dumps({"$dict": [[{"$set": []}, "v"]]}),
    "dict pair of wrong length": json.dumps({"$dict": [[1]]}),
    "dict pair not a list": json.dumps({"$dict": [5]}),
    "dict body not a list": json.dumps({"$dict": {"a": 1}}),
    "set element unhashable": json.dumps({"$set": [[1]]}),
    "frozenset element unhashable": json.dumps({"$frozenset": [[1]]}),
    "tuple body not a list": json.dumps({"$tuple": "abc"}),
    "float tag with other text": json.dumps({"$float": "1e5"}),
    "float tag with list": json.dumps({"$float": ["nan"]}),
    "series body not a dict": json.dumps({"$series": [1]}),
    "series index length mismatch": json.dumps({"$series": {"values": [1], "index": [1, 2], "name": None}}),
    "series unhashable name": json.dumps({"$series": {"values": [1], "index": [0], "name": [1]}}),
    "dataframe columns mismatch": json.dumps({"$dataframe": {"columns": [1], "index": [0], "data": []}}),
    "dataframe body not a dict": json.dumps({"$dataframe": 3}),
    "dataframe data not a list": json.dumps({"$dataframe": {"columns": [], "index": [], "data": 3}}),
    "dataframe column not a series body": json.dumps({"$dataframe": {"columns": ["a"], "index": [0], "data": [5]}}),
    # the following go further than the basics: loads must still answer with CodecError
    "series values not a list": json.dumps({"$series": {"values": 5, "index": [0], "name": None}}),
    "series values a 2-D array": json.dumps({"$series": {
        "values": {"$ndarray": {"dtype": "<i8", "shape": [1, 1], "data": "AAAAAAAAAAA="}},
        "index": [0], "name": None}}),
    "zero-size dtype": _array_doc(dtype="<U0", shape=[3], data=""),
    "huge shape with zero size": _array_doc(shape=[2**62, 2**62, 0], data=""),
    "more dimensions than numpy allows": _array_doc(shape=[1] * 70),
}


@pytest.mark.parametrize("payload", list(HOSTILE.values()), ids=list(HOSTILE))
def test_loads_refuses_hostile_payload_with_codec_error(payload):
    with pytest.raises(CodecError):
        loads(payload)


def test_loads_refuses_payload_over_max_payload():
    text = '"' + "a" * MAX_PAYLOAD + '"'
    assert len(text) > MAX_PAYLOAD
    with pytest.raises(CodecError):
        loads(text)


@pytest.mark.parametrize("payload", [b"[1]", None, 12, ["[1]"]])
def test_loads_refuses_non_string_payloads(payload):
    with pytest.raises(CodecError):
        loads(payload)


def test_loads_accepts_depth_just_within_limit():
    text = _deep_list(MAX_DEPTH)
    assert loads(text) == json.loads(text)


def test_decoding_never_uses_pickle(monkeypatch):
    """A round trip of every kind of value works with pickle entirely disabled."""
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used while decoding")

    value = [
        {(1, 2): {1, 2}, "b": b"x", "f": frozenset({3})},
        np.array([[1.0, 2.0]]),
        np.array([1, "a"], dtype=object),
        pd.Series([1, 2], name="s"),
        pd.DataFrame({"a": [1], "b": ["x"]}),
    ]
    text = dumps(value)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    out = loads(text)
    assert out[0] == {(1, 2): {1, 2}, "b": b"x", "f": frozenset({3})}
    assert out[1].tolist() == [[1.0, 2.0]]
    assert out[2].tolist() == [1, "a"]
    assert out[3].tolist() == [1, 2] and out[4]["b"].tolist() == ["x"]


def test_pickle_bytes_are_just_bytes():
    """A pickle smuggled in as $bytes decodes to the bytes themselves, never to an object."""
    import base64
    blob = pickle.dumps(AlwaysEqual())
    out = loads(json.dumps({"$bytes": base64.b64encode(blob).decode("ascii")}))
    assert type(out) is bytes and out == blob


def test_decoded_values_are_only_plain_types():
    """Whatever the payload, a decoded object array holds only plain values."""
    out = loads(json.dumps({"$ndarray": {"objects": [1, "a", {"$tuple": [None]}], "shape": [3]}}))
    assert [type(x) for x in out] == [int, str, tuple]


def test_module_is_self_contained():
    """The codec's source is sent into the kernel: it must import only the standard library at top level."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(codec))
    top_imports = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_imports.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            top_imports.add((node.module or "").split(".")[0])
    assert top_imports <= {"__future__", "base64", "json", "math", "sys"}


# --- bounded decoding: generated families ---------------------------------------------

P = 2**61 - 1  # CPython's hash modulus: k * P hashes like 0 for every k


def colliding_ints(n: int) -> list[int]:
    return [k * P for k in range(1, n + 1)]


def colliding_floats_and_ints(n: int) -> list:
    """Floats 2**(61j + 5) all hash to 32, like the ints 32 + k*P that are not the same numbers."""
    floats = [2.0 ** (61 * j + 5) for j in range(17)]
    exact = {int(f) for f in floats}
    return floats + [i for i in (32 + k * P for k in range(1, n + 1)) if i not in exact][: max(n - 17, 0)]


KEY_FAMILIES = {
    "ints": lambda n: colliding_ints(n),
    "negative ints": lambda n: [-k for k in colliding_ints(n)],
    "tuples": lambda n: [{"$tuple": [k, "same"]} for k in colliding_ints(n)],
    "nested tuples": lambda n: [{"$tuple": [{"$tuple": [k]}, None]} for k in colliding_ints(n)],
    "frozensets": lambda n: [{"$frozenset": [k]} for k in colliding_ints(n)],
    "floats and ints": colliding_floats_and_ints,
}
COUNTS = [MAX_SAME_HASH + 1, 1_000, 50_000]


def as_dict(keys: list) -> str:
    return json.dumps({"$dict": [[k, 0] for k in keys]})


def as_set(keys: list, tag: str = "$set") -> str:
    return json.dumps({tag: keys})


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("family", list(KEY_FAMILIES))
@pytest.mark.parametrize("container", [as_dict, as_set, lambda keys: as_set(keys, "$frozenset")],
                         ids=["dict", "set", "frozenset"])
def test_keys_sharing_a_hash_are_refused_before_building(container, family, count):
    """The refusal names the check made before any dict or set is built: building one of
    50,000 colliding keys takes about half a minute, so the ceiling is generous and still fails."""
    payload = container(KEY_FAMILIES[family](count))
    started = time.monotonic()
    with pytest.raises(CodecError, match="share a hash"):
        loads(payload)
    assert time.monotonic() - started < 5


def test_the_attack_that_took_minutes_is_refused_in_seconds():
    payload = as_dict(colliding_ints(300_000))
    started = time.monotonic()
    with pytest.raises(CodecError):
        loads(payload)
    assert time.monotonic() - started < 30  # building that dict takes tens of minutes


def test_keys_sharing_a_hash_up_to_the_limit_are_fine():
    keys = colliding_ints(MAX_SAME_HASH)
    assert loads(as_dict(keys)) == dict.fromkeys(keys, 0)
    assert loads(as_set(keys)) == set(keys)


def test_many_distinct_keys_are_fine():
    assert len(loads(as_dict(list(range(200_000))))) == 200_000
    assert loads(as_set([-1, -2, 0, P, 1, 1.0, True])) == {-1, -2, 0, P, 1}  # honest hash ties


def test_a_payload_of_more_than_max_values_is_refused():
    assert len(loads(json.dumps([0] * (MAX_VALUES - 1)))) == MAX_VALUES - 1  # the list itself is one
    with pytest.raises(CodecError, match="more than"):
        loads(json.dumps([0] * MAX_VALUES))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 2, 500, 5_000, 100_000])  # MAX_DEPTH + 1 lists nest MAX_DEPTH deep
@pytest.mark.parametrize("wrap", [
    lambda d: "[" * d + "]" * d,
    lambda d: '{"$tuple":[' * d + "]}" * d,
    lambda d: '{"$set":[' * d + "]}" * d,
    lambda d: '{"$dict":[[0,' * d + "0]]}" * d,
    lambda d: '{"$series":{"values":' * d + "[]}}" * d,
], ids=["list", "tuple", "set", "dict", "series"])
def test_deep_nesting_of_every_kind_is_refused(wrap, depth):
    with pytest.raises(CodecError):
        loads(wrap(depth))


def test_a_huge_dimension_of_an_empty_array_is_just_an_empty_array():
    for body in ({"dtype": "<i8", "shape": [2**40, 0], "data": ""}, {"objects": [], "shape": [2**40, 0]}):
        out = loads(json.dumps({"$ndarray": body}))
        assert out.shape == (2**40, 0) and out.size == 0


@pytest.mark.parametrize("shape", [[2**62, 2**62, 0], [2**63, 0], [2**64], [10**100, 0],
                                   [1] * (codec.MAX_NDIM + 1), [0] * 100_000, [2**40] * 64, [-1], [True]])
def test_huge_or_odd_shapes_are_refused_without_big_arithmetic(shape):
    for body in ({"dtype": "<i8", "shape": shape, "data": ""}, {"objects": [], "shape": shape}):
        with pytest.raises(CodecError):
            loads(json.dumps({"$ndarray": body}))


@pytest.mark.parametrize("shape,data", [([10**6], ""), ([1], "A" * 10**6), ([3], "AAAA")])
def test_array_data_of_the_wrong_size_is_refused_before_base64_decoding(monkeypatch, shape, data):
    decoded = []
    monkeypatch.setattr(codec.base64, "b64decode", lambda *a, **k: decoded.append(a))
    with pytest.raises(CodecError, match="does not match"):
        loads(json.dumps({"$ndarray": {"dtype": "<i8", "shape": shape, "data": data}}))
    assert decoded == []


@pytest.mark.parametrize("dtype", ["<U" + "9" * 40, {"names": ["a"], "formats": ["<i8"]}, [["a", "<i8"]], 5, None,
                                   "i8," * 1000])
def test_dtypes_that_are_not_short_names_are_refused(dtype):
    with pytest.raises(CodecError):
        loads(json.dumps({"$ndarray": {"dtype": dtype, "shape": [0], "data": ""}}))


def test_a_very_wide_dataframe_is_refused_after_a_bounded_number_of_columns(monkeypatch):
    built = []
    real = codec._decode_series
    monkeypatch.setattr(codec, "_decode_series", lambda *a: built.append(1) or real(*a))
    columns = 100_000
    payload = json.dumps({"$dataframe": {"columns": list(range(columns)), "index": [],
                                         "data": [{"values": [], "index": []}] * columns}})
    with pytest.raises(CodecError, match="more than"):
        loads(payload)
    assert len(built) <= MAX_VALUES // codec.PANDAS_COST


def test_an_integer_over_the_digit_limit_is_a_codec_error():
    with pytest.raises(CodecError):
        loads("9" * 5000)
