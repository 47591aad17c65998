"""pyarrow columns as NumPy arrays: numeric and list columns to float64, rows that are finite.

A plain numeric (or boolean, or dictionary-encoded numeric) column becomes (N,); a list column whose rows
all have C values becomes (N, C); anything else is an error naming the column and what it holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.io.arrow_numpy import numbers

Array = np.ndarray


def finite_rows(values: Array | None) -> Array | np.bool_:
    """Per row: every value finite (rows of several values reduced); no values → True for every row."""
    if values is None:
        return np.True_
    finite = np.asarray(np.isfinite(values))  # an array: the ufunc is typed as maybe returning a scalar
    if finite.ndim == 1:
        return finite
    return finite.reshape(len(finite), -1).all(axis=1)


def numeric_column(column: Any, option: str, name: str, source: str, first_row: int = 0) -> Array:
    """A numeric column as float64 (N,), or a list column as (N, C) when every row has C values."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        lengths = numbers(array.value_lengths()).astype(np.int64)
        if lengths.size and (lengths != lengths[0]).any():
            row = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InputError(
                f"{option}: list column {name!r} of {source} has {lengths[row]} values at row "
                f"{first_row + row + 1} but {lengths[0]} at row {first_row + 1}; every row needs as many"
            )
        values = numeric_column(array.flatten(), option, name, source)
        return values.reshape(len(array), int(lengths[0]) if lengths.size else 0)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise InputError(f"{option}: column {name!r} of {source} holds {kind}, not numbers; choose a numeric column")
    return numbers(column.cast(pa.float64()) if kind != pa.float64() else column)
