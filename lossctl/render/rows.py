"""One row per unreduced loss element, with the pred/target/grad values behind it.

For element-wise losses each row holds scalars; for losses with a class axis
(cross-entropy …) the pred, probability-target and grad cells are that
sample's row of class values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossctl.evaluation.result import LossResult

Array = np.ndarray


@dataclass(frozen=True)
class Column:
    """A named column: ``values`` has one row per element, ``width`` values per row."""

    name: str
    values: Array  # shape (n_elements, width)

    @property
    def width(self) -> int:
        return int(self.values.shape[1])


def per_element(result: LossResult, array: Array) -> Array | None:
    """``array`` reshaped to (n_elements, k), or None when it does not line up with the elements."""
    n = result.arrays().elements.size
    if array.shape == result.arrays().elements.shape:
        return array.reshape(n, 1)
    moved = array
    if result.class_axis is not None and array.ndim == result.arrays().pred.ndim:
        moved = np.moveaxis(array, result.class_axis, -1)
    if moved.shape[: result.arrays().elements.ndim] == result.arrays().elements.shape:
        return moved.reshape(n, -1)
    return None


def element_columns(result: LossResult) -> list[Column]:
    """pred, target, other tensors, details, loss and grad columns, in display order."""
    columns: list[Column] = []

    def add(name: str, array: Array | None) -> None:
        if array is None:
            return
        rows = per_element(result, np.asarray(array))
        if rows is not None:
            columns.append(Column(name, rows))

    if result.pre_activation is not None:
        add("z", result.pre_activation)
        add(f"{result.activation}(z)", result.pred)
        add("a′(z)", result.activation_derivative)
    else:
        add("pred", result.pred)
    add("target", result.target)
    for name, tensor in result.tensors.items():
        if tensor.shape == result.arrays().pred.shape:
            add(name, tensor)
    for name, detail in result.details().items():
        add(name, detail)
    add("loss", result.elements)
    add("grad", result.grad)
    for name, grad in result.extra_grads.items():
        add(f"grad_{name}", grad)
    return columns


def element_index(result: LossResult, flat: int) -> str:
    """``3`` for vectors, ``(1, 0)`` for higher ranks."""
    if result.arrays().elements.ndim <= 1:
        return str(flat)
    return "(" + ", ".join(str(int(i)) for i in np.unravel_index(flat, result.arrays().elements.shape)) + ")"
