"""pyarrow arrays ↔ NumPy arrays through their buffers, without pyarrow's pandas detection.

``np.asarray(arrow_array)``, ``Array.to_numpy()`` and ``pa.array(numpy_array)`` each import pandas
when it is installed (pyarrow checks for pandas types first): 0.4 s, a third of reading a
million-row CSV.  Fixed-width numbers and booleans need none of it: their values are one buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def numbers(array: Any) -> Array:
    """The values of a pyarrow Array or ChunkedArray of integers, floats or booleans, as a NumPy array.

    Entries that are null hold whatever the buffer holds there: callers find nulls with
    ``array.is_null()`` (read with this function too) before they use the values.
    """
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        parts = [numbers(chunk) for chunk in array.chunks]
        return np.concatenate(parts) if parts else np.empty(0, dtype=_numpy_type(array.type))
    kind = array.type
    data = array.buffers()[1]
    if pa.types.is_boolean(kind):
        if data is None:
            return np.zeros(len(array), dtype=bool)
        packed = np.frombuffer(data, dtype=np.uint8)
        bits = np.unpackbits(packed, count=array.offset + len(array), bitorder="little")
        return bits[array.offset :].astype(bool)
    dtype = _numpy_type(kind)
    if data is None:
        return np.zeros(len(array), dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def mask(values: Array | np.bool_) -> Any:
    """A pyarrow BooleanArray of a NumPy boolean array (for ``RecordBatch.filter``)."""
    import pyarrow as pa

    flags = np.ascontiguousarray(values, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), flags.size, [None, pa.py_buffer(np.packbits(flags, bitorder="little"))])


def float_array(values: Array) -> Any:
    """A pyarrow float64 (or float32) Array of a 1-D NumPy array, sharing its memory when contiguous."""
    import pyarrow as pa

    data = np.ascontiguousarray(values)
    kind = pa.float32() if data.dtype == np.float32 else pa.float64()
    data = data.astype(np.float32 if data.dtype == np.float32 else np.float64, copy=False)
    return pa.Array.from_buffers(kind, data.size, [None, pa.py_buffer(data)])


def _numpy_type(kind: Any) -> np.dtype:
    import pyarrow as pa

    if pa.types.is_boolean(kind):
        return np.dtype(bool)
    for prefix, numeric in (("float", pa.types.is_floating), ("int", pa.types.is_signed_integer)):
        if numeric(kind):
            return np.dtype(f"{prefix}{kind.bit_width}")
    if pa.types.is_unsigned_integer(kind):
        return np.dtype(f"uint{kind.bit_width}")
    raise TypeError(f"not a fixed-width numeric type: {kind}")
