"""Domain checks shared by loss declarations; each raises one clear InputError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from lossctl.errors import InputError

# (first row, number of rows) of the block being checked, when the engine checks a block of rows
_BLOCK: ContextVar[tuple[int, int] | None] = ContextVar("lossctl_block", default=None)


@contextmanager
def rows_counted_from(start: int, rows: int) -> Iterator[None]:
    """Within this context, positions in arrays of ``rows`` rows are counted from row ``start`` of the input."""
    token = _BLOCK.set((start, rows))
    try:
        yield
    finally:
        _BLOCK.reset(token)


def count(n: int, noun: str = "value") -> str:
    """``1 value``, ``3 values``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def position(array: np.ndarray, flat_index: int, row_offset: int = 0) -> str:
    """Human-readable index of ``flat_index`` in ``array``: ``[3]`` or ``[1, 2]``; nothing for a 0-d array
    (a single value has no index: ``--target is 5``).

    ``row_offset``: ``array`` is a block of rows starting there in the whole input.
    """
    if not array.ndim:
        return ""
    index = [int(i) for i in np.unravel_index(flat_index, array.shape)]
    block = _BLOCK.get()
    if not row_offset and block is not None and array.shape[0] == block[1]:
        row_offset = block[0]  # an array of the block's rows, checked inside the engine
    index[0] += row_offset
    return "[" + ", ".join(str(i) for i in index) + "]"


def require(mask: np.ndarray, array: np.ndarray, argument: str, requirement: str) -> None:
    """Raise unless ``mask`` holds everywhere, naming the first offending value.

    >>> require(np.array([True, False]), np.array([1.0, -2.0]), "--pred", "must be > -1")
    Traceback (most recent call last):
    lossctl.errors.InputError: --pred must be > -1, but --pred[1] is -2
    """
    mask = np.asarray(mask)
    if mask.all():
        return
    first = int(np.flatnonzero(~mask.ravel())[0])
    value = np.asarray(array).ravel()[first]
    raise InputError(f"{argument} {requirement}, but {argument}{position(mask, first)} is {value_text(value)}")


def value_text(value: np.generic | float) -> str:
    """A value as typed back, to the last digit of its dtype (``1.0000000000000002``, not ``1``; ``5``, not ``5.0``).

    >>> value_text(np.float64(1.0000000000000002)), value_text(np.float32(1.0000001)), value_text(np.float64(5))
    ('1.0000000000000002', '1.0000001', '5')
    """
    text = str(np.asarray(value)[()])
    return text[:-2] if text.endswith(".0") else text
