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


def along(vector: Array, axis: int, ndim: int) -> Array:
    """A per-class vector shaped to broadcast along ``axis`` of an ``ndim`` array."""
    shape = [1] * ndim
    shape[axis] = vector.shape[0]
    return vector.reshape(shape)
