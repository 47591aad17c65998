"""Array file formats of ``--save-elements`` / ``--save-grad``: .npy, .csv and .png heat maps.

These functions only fill an open binary stream; where the bytes go (a staged
temporary file, renamed into place with the run's other outputs) is
:mod:`lossctl.outputs`' business.  CSV is written a block of rows at a time,
from memory or from a memory-mapped working file, so saving 10⁸ values as text
needs no more memory than one block.
"""

from __future__ import annotations

import math
from typing import IO, Any

import numpy as np

from lossctl.numbers import full

CSV_BLOCK_VALUES = 1 << 16  # values formatted per write


def write_array(stream: IO[bytes], array: Any, suffix: str, option: str, *, signed: bool = False) -> None:
    """``array`` as .npy, .csv or a .png heat map (``signed``: centred on 0) into ``stream``."""
    if suffix == ".npy":
        np.save(stream, np.asarray(array), allow_pickle=False)
    elif suffix == ".png":
        from lossctl.io.heatmap import write_heatmap

        write_heatmap(stream, np.asarray(array), option, signed=signed)
    else:
        write_csv(stream, array)


def write_csv(stream: IO[bytes], array: Any) -> None:
    """One line per leading-axis row (one per value for 1-D), comma-separated, full precision.

    ``array`` may be a memory map: it is read a block of rows at a time with a plain
    file read, so neither the array nor its text is ever whole in memory.
    """
    shape = np.shape(array)
    rows = shape[0] if len(shape) > 1 else max(1, math.prod(shape))
    width = math.prod(shape[1:]) if len(shape) > 1 else 1
    per_block = max(1, CSV_BLOCK_VALUES // max(1, width))
    for start in range(0, rows, per_block):
        block = _rows(array, start, min(rows, start + per_block)).reshape(-1, width)
        stream.write(csv_lines(block).encode("ascii"))


def csv_lines(matrix: np.ndarray) -> str:
    """Rows of a 2-D array as CSV text, each number in its shortest round-trip form (see ``numbers.full``)."""
    values = np.asarray(matrix, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0, as ``full`` does
    if np.isfinite(values).all():
        return "".join(",".join(map(repr, row)) + "\n" for row in values.tolist())
    return "".join(",".join(full(v) for v in row) + "\n" for row in values.tolist())


def _rows(array: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``array`` (a 0-D array is one row); from a memory map, a plain file read."""
    if np.ndim(array) == 0:
        return np.asarray(array).reshape(1)
    from lossctl.evaluation.engine import read_rows

    return np.asarray(read_rows(array, slice(start, stop)))
