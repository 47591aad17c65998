"""Numerically stable building blocks shared by the classification losses."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x) without overflow: the exponent is always ≤ 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(x: Array) -> Array:
    """log σ(x) = min(x, 0) − log1p(e^−|x|): exact for logits of any size (PyTorch's form)."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def softplus(x: Array) -> Array:
    """log(1 + e^x) = max(x, 0) + log1p(e^−|x|)."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def log_softmax(x: Array, axis: int) -> Array:
    """x − logsumexp(x): shifting by the maximum keeps every exponent ≤ 0."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


FEW_COLUMNS = 32  # below this many columns NumPy's row reductions cost more per row than a loop over columns


def row_max(x: Array) -> Array:
    """max over the last axis of a 2-D array, shape (N, 1): exact, and a loop over few columns is several
    times faster than ``np.max(x, axis=1)``, whose per-row overhead dominates short rows."""
    if x.shape[1] > FEW_COLUMNS or x.shape[1] == 0:
        return np.max(x, axis=1, keepdims=True)
    out = x[:, 0].copy()
    for column in range(1, x.shape[1]):
        np.maximum(out, x[:, column], out=out)
    return out[:, None]


def row_sum(x: Array) -> Array:
    """Σ over the last axis of a 2-D array, shape (N, 1), left to right over few columns (see row_max)."""
    if x.shape[1] > FEW_COLUMNS or x.shape[1] == 0:
        return np.sum(x, axis=1, keepdims=True)
    out = x[:, 0].copy()
    for column in range(1, x.shape[1]):
        np.add(out, x[:, column], out=out)
    return out[:, None]


def along(vector: Array, axis: int, ndim: int) -> Array:
    """A per-class vector shaped to broadcast along ``axis`` of an ``ndim`` array."""
    shape = [1] * ndim
    shape[axis] = vector.shape[0]
    return vector.reshape(shape)
