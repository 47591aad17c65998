"""Machine-readable output: JSON, CSV and the bare value (no Rich imported)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from lossctl.evaluation.result import LossResult
from lossctl.numbers import full, jsonable
from lossctl.render.rows import element_columns


def json_line(data: Any) -> str:
    """One line of JSON; non-ASCII text is kept as it is, or escaped when stdout cannot encode it."""
    import json

    from lossctl.io.process import unicode_stdout

    return json.dumps(data, allow_nan=False, ensure_ascii=not unicode_stdout()) + "\n"


def to_json(result: LossResult, extra: dict[str, Any] | None = None) -> str:
    """One JSON object with the keys of docs/architecture.md §4 (plus ``extra``); floats round-trip exactly.

    A result whose arrays were not kept says where they went, or how to get them.
    """
    out = result.to_dict()
    if "elements" not in out and "grad" not in out:
        out["arrays"] = "not printed above 1,000,000 values; write them with --save-elements / --save-grad FILE"
    return json_line(jsonable({**out, **(extra or {})}))


def to_csv(result: LossResult) -> str:
    """One row per element: index, then pred, target, loss, grad (class rows spread over columns)."""
    import csv

    columns = element_columns(result)
    header = ["index"]
    if result.arrays().elements.ndim > 1:
        header += [f"i{axis}" for axis in range(result.arrays().elements.ndim)]
    for column in columns:
        header += [column.name] if column.width == 1 else [f"{column.name}_{k}" for k in range(column.width)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    table = np.hstack([column.values for column in columns])
    for flat, row in enumerate(table.tolist()):
        index = [flat]
        if result.arrays().elements.ndim > 1:
            index += [int(i) for i in np.unravel_index(flat, result.arrays().elements.shape)]
        writer.writerow(index + [full(v) for v in row])
    return buffer.getvalue()


def to_value(result: LossResult) -> str:
    """The reduced value at full precision; for ``--reduction none`` one row of elements per line."""
    value = result.value
    if not isinstance(value, np.ndarray):
        return full(value) + "\n"
    matrix = value.reshape(value.shape[0], -1) if value.ndim > 1 else value.reshape(-1, 1)
    return "".join(" ".join(full(v) for v in row) + "\n" for row in matrix.tolist())
