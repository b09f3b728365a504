"""The only way values cross the sandbox boundary: tagged JSON, never pickle.

This module is deliberately self-contained (standard library only, numpy and
pandas imported lazily) because its source is also sent into the student's
kernel, which encodes values with it. The grader decodes with it too, and
decoding is the part that matters: it builds nothing but plain values of the
types listed below, with exact type checks, so an object that claims to equal
everything, a subclass with a patched ``__eq__`` or a pickle payload cannot
come out the other side.

Plain JSON carries None, bool, int, float, str and list. Everything else is an
object with a single ``$tag`` key.

Decoding is bounded by construction, whatever the payload: its size, its
depth, the number of values it decodes into, and the keys of every dict and
set, which are refused when too many share one hash (equal hashes make
building a dict quadratic, and ints, floats, tuples and frozensets can be
chosen to collide). Array shapes and dtypes are checked before numpy sees them.
"""

from __future__ import annotations

import base64
import json
import math
import sys

MAX_DEPTH = 64
MAX_PAYLOAD = 16 * 1024 * 1024  # characters: below the grader's bound on one kernel message
MAX_VALUES = 2_000_000  # values one payload decodes into; far beyond what a test compares
PANDAS_COST = 500  # values a Series or DataFrame counts for: pandas takes as long to build one
MAX_SAME_HASH = 32  # keys of one dict or set sharing a hash; honest keys rarely share one with another
MAX_NDIM = 64  # numpy's own limit on dimensions
MAX_DIM = 2**63 - 1  # numpy's largest size along one dimension
MAX_DTYPE = 32  # characters of a dtype's name, such as "<M8[ns]"
ARRAY_KINDS = "biufcUMm"  # numpy dtype kinds that are plain bytes: never "O"bject, "V"oid


class CodecError(ValueError):
    """A value that may not, or could not, cross the sandbox boundary."""


def dumps(value) -> str:
    """Encode ``value`` to a JSON string, or raise CodecError naming what is not allowed."""
    return json.dumps(_encode(value, 0), allow_nan=True, separators=(",", ":"))


def loads(text: str):
    """Decode a string made by :func:`dumps` into plain Python values."""
    if not isinstance(text, str) or len(text) > MAX_PAYLOAD:
        raise CodecError("payload is not a string or is too large")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also an int of more than 4300 digits
        raise CodecError(f"payload is not valid JSON: {exc}") from None
    try:
        return _decode(doc, 0, _Budget(MAX_VALUES))
    except CodecError:
        raise
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        # numpy or pandas refusing a malformed payload: still the codec's refusal
        raise CodecError(f"malformed payload: {exc}") from None


def _encode(value, depth: int):
    if depth > MAX_DEPTH:
        raise CodecError("value is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list:
        return [_encode(v, depth + 1) for v in value]
    if kind is tuple:
        return {"$tuple": [_encode(v, depth + 1) for v in value]}
    if kind in (set, frozenset):
        return {"$" + kind.__name__: [_encode(v, depth + 1) for v in value]}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is dict:
        return {"$dict": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()]}
    return _encode_library(value, depth)


def _encode_library(value, depth: int):
    """numpy and pandas values, checked by exact type so that subclasses are refused."""
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    kind = type(value)
    if np is not None and kind is np.ndarray:
        return {"$ndarray": _array_fields(np, value)}
    if np is not None and isinstance(value, np.generic) and kind.__module__ == "numpy":
        return {"$npscalar": _array_fields(np, np.asarray(value))}
    if pd is not None and kind is pd.Series:
        return {"$series": _series_fields(np, value, depth)}
    if pd is not None and kind is pd.DataFrame:
        return {"$dataframe": {
            "columns": _encode(list(value.columns), depth + 1),
            "index": _encode(_index_values(value.index), depth + 1),
            "index_name": _encode(value.index.name, depth + 1),
            "data": [_series_fields(np, value.iloc[:, i], depth) for i in range(value.shape[1])],
        }}
    name = f"{kind.__module__}.{kind.__qualname__}"
    raise CodecError(f"a value of type {name} cannot leave the notebook; "
                     "use plain types (numbers, strings, lists, dicts, numpy arrays, pandas)")


def _array_fields(np, array) -> dict:
    if array.dtype.kind not in ARRAY_KINDS:
        if array.dtype.kind == "O":
            return {"objects": _encode(array.ravel().tolist(), 1), "shape": list(array.shape)}
        raise CodecError(f"numpy arrays of dtype {array.dtype} cannot leave the notebook")
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")}


def _index_values(index) -> list:
    return [v.item() if hasattr(v, "item") and type(v).__module__ == "numpy" else v for v in index.tolist()]


def _series_fields(np, series, depth: int) -> dict:
    values = series.to_numpy()
    if values.dtype.kind in ARRAY_KINDS:
        encoded = {"$ndarray": _array_fields(np, values)}
    else:
        encoded = _encode([None if _is_missing(v) else v for v in values.tolist()], depth + 1)
    return {"name": _encode(series.name, depth + 1),
            "index": _encode(_index_values(series.index), depth + 1),
            "index_name": _encode(series.index.name, depth + 1),
            "values": encoded}


def _is_missing(v) -> bool:
    return v is None or (type(v) is float and math.isnan(v)) or type(v).__name__ in ("NAType", "NaTType")


class _Budget:
    """How many more values one payload may decode into, shared by every decoder of it."""

    def __init__(self, values: int):
        self.left = values

    def take(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise CodecError(f"payload holds more than {MAX_VALUES} values")


def _decode(doc, depth: int, budget: _Budget):
    if depth > MAX_DEPTH:
        raise CodecError("value is nested too deeply")
    budget.take()
    if doc is None or type(doc) in (bool, int, float, str):
        return doc
    if type(doc) is list:
        return [_decode(v, depth + 1, budget) for v in doc]
    if type(doc) is not dict or len(doc) != 1:
        raise CodecError("payload has an unknown shape")
    (tag, body), = doc.items()
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise CodecError(f"payload has an unknown tag {tag!r}")
    return decoder(body, depth + 1, budget)


def _decode_list(body, depth: int, budget: _Budget) -> list:
    if type(body) is not list:
        raise CodecError("payload has an unknown shape")
    return [_decode(v, depth, budget) for v in body]


def _decode_float(body, depth: int, budget: _Budget) -> float:
    if body not in ("nan", "inf", "-inf"):
        raise CodecError("bad float payload")
    return float(body)


def _decode_bytes(body, depth: int, budget: _Budget) -> bytes:
    if type(body) is not str:
        raise CodecError("bad bytes payload")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise CodecError(f"bad bytes payload: {exc}") from None


def _decode_dict(body, depth: int, budget: _Budget) -> dict:
    pairs = [_pair(p) for p in _decode_list(body, depth, budget)]
    _spread_keys([k for k, _ in pairs], "dict")
    return dict(pairs)


def _pair(p):
    if type(p) is not list or len(p) != 2:
        raise CodecError("bad dict payload")
    return p


def _decode_set(body, depth: int, budget: _Budget) -> set:
    return set(_spread_keys(_decode_list(body, depth, budget), "set"))


def _spread_keys(keys: list, what: str) -> list:
    """``keys``, refused before a dict or set is built of them if one is unhashable or more than
    MAX_SAME_HASH share a hash. The hashes are sorted, not counted in a dict: the hashes, being
    ints, could be made to collide there too."""
    try:
        hashes = sorted(map(hash, keys))
    except TypeError as exc:
        raise CodecError(f"bad {what} payload: {exc}") from None
    if any(hashes[i] == hashes[i - MAX_SAME_HASH] for i in range(MAX_SAME_HASH, len(hashes))):
        raise CodecError(f"bad {what} payload: more than {MAX_SAME_HASH} keys share a hash")
    return keys


def _decode_array(body, depth: int, budget: _Budget):
    import numpy as np
    if type(body) is not dict:
        raise CodecError("bad array payload")
    shape = _shape(body.get("shape"))
    if "objects" in body:
        flat = _decode(body["objects"], depth, budget)
        if type(flat) is not list or len(flat) != math.prod(shape):
            raise CodecError("array data does not match its shape")
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    dtype = _dtype(np, body.get("dtype"))
    size = math.prod(shape) * dtype.itemsize
    encoded = body.get("data")
    if type(encoded) is not str or len(encoded) != 4 * -(-size // 3):
        raise CodecError("array data does not match its shape")  # known before decoding any of it
    data = _decode_bytes(encoded, depth, budget)
    if len(data) != size:
        raise CodecError("array data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _shape(shape) -> list:
    """A shape numpy can take, checked first so that its size is a small product."""
    if (type(shape) is not list or len(shape) > MAX_NDIM
            or not all(type(n) is int and 0 <= n <= MAX_DIM for n in shape)):
        raise CodecError("bad array shape")
    return shape


def _dtype(np, name):
    """The dtype of plain bytes named ``name``; never a structure, an object or a void."""
    if type(name) is not str or len(name) > MAX_DTYPE:
        raise CodecError("bad array dtype")
    try:
        dtype = np.dtype(name)
    except TypeError as exc:
        raise CodecError(f"bad array dtype: {exc}") from None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None:
        raise CodecError(f"array dtype {dtype} is not allowed")
    return dtype


def _decode_scalar(body, depth: int, budget: _Budget):
    array = _decode_array(body, depth, budget)
    if array.shape != ():
        raise CodecError("bad numpy scalar payload")
    return array[()]


def _decode_series(body, depth: int, budget: _Budget):
    import pandas as pd
    if type(body) is not dict:
        raise CodecError("bad series payload")
    budget.take(PANDAS_COST)
    values = _decode(body.get("values"), depth, budget)
    index = _decode(body.get("index"), depth, budget)
    name = _decode(body.get("name"), depth, budget)
    if type(index) is not list or len(index) != len(values):
        raise CodecError("series index does not match its values")
    series = pd.Series(values, index=index, name=_hashable_name(name))
    series.index.name = _hashable_name(_decode(body.get("index_name"), depth, budget))
    return series


def _decode_dataframe(body, depth: int, budget: _Budget):
    import pandas as pd
    if type(body) is not dict or type(body.get("data")) is not list:
        raise CodecError("bad dataframe payload")
    budget.take(PANDAS_COST)
    columns = _decode(body.get("columns"), depth, budget)
    index = _decode(body.get("index"), depth, budget)
    series = [_decode_series(s, depth, budget) for s in body["data"]]
    if type(columns) is not list or len(columns) != len(series) or type(index) is not list:
        raise CodecError("dataframe columns do not match its data")
    frame = pd.DataFrame({i: s.to_numpy() for i, s in enumerate(series)}, index=index)
    frame.columns = [_hashable_name(c) for c in columns]
    frame.index.name = _hashable_name(_decode(body.get("index_name"), depth, budget))
    return frame


def _hashable_name(name):
    try:
        hash(name)
    except TypeError:
        raise CodecError("a pandas name must be hashable") from None
    return name


_DECODERS = {
    "$float": _decode_float,
    "$tuple": lambda body, depth, budget: tuple(_decode_list(body, depth, budget)),
    "$set": _decode_set,
    "$frozenset": lambda body, depth, budget: frozenset(_decode_set(body, depth, budget)),
    "$bytes": _decode_bytes,
    "$dict": _decode_dict,
    "$ndarray": _decode_array,
    "$npscalar": _decode_scalar,
    "$series": _decode_series,
    "$dataframe": _decode_dataframe,
}


MIME = "application/vnd.grader.value+json"


def quiet():
    """Kernel side: a context in which the code's stdout and stderr go nowhere. What student
    code prints while a test calls it is never shown (it would reveal the tests' inputs), so
    it is not even sent: a flood printed by the function under test cannot crowd out the
    value the test waits for."""
    import contextlib
    import os

    stack = contextlib.ExitStack()
    sink = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - the stack closes it
    stack.enter_context(contextlib.redirect_stdout(sink))
    stack.enter_context(contextlib.redirect_stderr(sink))
    return stack


def last_error_place() -> list:
    """Kernel side: where the last error was raised in the notebook's own cells, as
    ``[(label, line)]`` (IPython's name for the cell, ``Cell In[5]``, and the line), from the
    innermost frame whose file IPython knows as a cell; ``[]`` when none is. IPython keeps the
    last error in ``sys.last_traceback``."""
    import traceback

    from IPython import get_ipython

    names = get_ipython().compile.format_code_name
    places = [(name[1], line) for frame, line in traceback.walk_tb(sys.last_traceback)
              if (name := names(frame.f_code.co_filename))]
    return places[-1:]


def emit(value) -> None:
    """Kernel side: send ``value`` to the grader as a display bundle of its own type. A value
    too large to cross is refused here, with a reason, rather than lost on the way."""
    from IPython.display import display
    text = dumps(value)
    if len(text) > MAX_PAYLOAD:
        raise CodecError(f"the value is {len(text) // 2**20} MiB encoded; at most {MAX_PAYLOAD // 2**20} MiB "
                         "can leave the notebook")
    display({MIME: text}, raw=True)
