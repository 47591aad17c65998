"""Keras 3 cross-entropies: binary (clipped, last-axis mean), categorical (renormalised, then clipped), sparse.

Sources are keras 3.15.1 ``keras/src/losses/losses.py`` and the torch/numpy backends' ``nn.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, clip, mean_over, mean_over_vjp
from lossctl.conventions.keras_common import (
    CLASS_AXIS,
    FROM_LOGITS,
    LABEL_SMOOTHING,
    LAST,
    MEAN_AXIS,
    check_axis,
    check_categorical,
    check_same_and_axis,
    declare,
    eps,
)
from lossctl.errors import InputError
from lossctl.losses._numerics import log_softmax, sigmoid
from lossctl.losses.spec import Param

# --- binary cross-entropy --------------------------------------------------------------


def _smoothed_binary(target: Array, label_smoothing: float) -> Array:
    """losses.py:2412: labels squeezed towards ½."""
    if not label_smoothing:
        return target
    ls = target.dtype.type(label_smoothing)
    return target * (1 - ls) + ls / 2


def _bce_term(pred: Array, target: Array, from_logits: bool, label_smoothing: float) -> Array:
    t = _smoothed_binary(target, label_smoothing)
    if from_logits:  # torch backend nn.py:952 binary_cross_entropy_with_logits
        return np.maximum(pred, 0) - pred * t + np.log1p(np.exp(-np.abs(pred)))
    o, _ = clip(pred, eps(pred), 1 - eps(pred))  # torch backend nn.py:955, numpy backend nn.py:926
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def _bce_derivative(pred: Array, target: Array, from_logits: bool, label_smoothing: float) -> Array:
    t = _smoothed_binary(target, label_smoothing)
    if from_logits:
        return sigmoid(pred) - t
    o, inside = clip(pred, eps(pred), 1 - eps(pred))
    return (-t / o + (1 - t) / (1 - o)) * inside


def bce_terms(
    pred: Array, target: Array, *, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> list[tuple[str, Array]]:
    """--explain's working: the smoothed labels, the clipped p (or the logits' form), the per-value terms."""
    steps = []
    if label_smoothing:
        steps.append(
            (
                f"y′ = y (1 − {label_smoothing:g}) + {label_smoothing:g}/2 (label smoothing)",
                _smoothed_binary(target, label_smoothing),
            )
        )
    y = "y′" if label_smoothing else "y"
    term = _bce_term(pred, target, from_logits, label_smoothing)
    if from_logits:
        return [*steps, (f"tⱼ = max(zⱼ, 0) − zⱼ {y}ⱼ + log(1 + e^−|zⱼ|) (z = --pred, logits)", term)]
    o, _ = clip(pred, eps(pred), 1 - eps(pred))
    return [
        *steps,
        (f"clip(pⱼ) to [ε, 1 − ε], ε = {float(eps(pred)):g} (1 − ε = {float(1 - eps(pred)):.9g})", o),
        (f"tⱼ = −({y}ⱼ log clip(pⱼ) + (1 − {y}ⱼ) log(1 − clip(pⱼ)))", term),
    ]


def bce_elements(
    pred: Array, target: Array, *, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Array:
    return mean_over(_bce_term(pred, target, from_logits, label_smoothing), axis)


def bce_vjp(
    pred: Array,
    target: Array,
    cot: Array,
    *,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    local = _bce_derivative(pred, target, from_logits, label_smoothing)
    return mean_over_vjp(cot, pred.shape, axis, pred.dtype) * local


# --- categorical cross-entropy (probabilities renormalised, then clipped) ----------------


def probabilities(pred: Array, axis: int = LAST) -> tuple[Array, Array, Array, Array]:
    """torch backend nn.py:869-870: output / Σ output over the class axis, then clip to [ε, 1 − ε]."""
    total = np.sum(pred, axis=axis, keepdims=True)
    q = pred / total
    o, inside = clip(q, eps(pred), 1 - eps(pred))
    return total, q, o, inside


def renormalise_vjp(g: Array, q: Array, total: Array, axis: int) -> Array:
    """∂/∂y of a function of q = y / Σ y, given g = ∂/∂q."""
    return (g - np.sum(g * q, axis=axis, keepdims=True)) / total


def _categorical(pred: Array, t: Array, from_logits: bool, axis: int = LAST) -> Array:
    if from_logits:
        return -np.sum(t * log_softmax(pred, axis), axis=axis)
    _, _, o, _ = probabilities(pred, axis)
    return -np.sum(t * np.log(o), axis=axis)


def _categorical_vjp(pred: Array, t: Array, cot: Array, from_logits: bool, axis: int = LAST) -> Array:
    cot = np.expand_dims(cot, axis)
    if from_logits:
        p = np.exp(log_softmax(pred, axis))
        return cot * (p * np.sum(t, axis=axis, keepdims=True) - t)
    total, q, o, inside = probabilities(pred, axis)
    return cot * renormalise_vjp(-t / o * inside, q, total, axis)


def smoothed_categorical(target: Array, label_smoothing: float) -> Array:
    """losses.py:2201-2203: (1 − ε) t + ε / C, with C the size of the LAST axis whatever ``axis`` is."""
    if not label_smoothing:
        return target
    ls = target.dtype.type(label_smoothing)
    return target * (1 - ls) + ls / target.shape[LAST]


def cce_elements(
    pred: Array, target: Array, *, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = LAST
) -> Array:
    return _categorical(pred, smoothed_categorical(target, label_smoothing), from_logits, axis)


def cce_vjp(
    pred: Array,
    target: Array,
    cot: Array,
    *,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = LAST,
) -> Array:
    return _categorical_vjp(pred, smoothed_categorical(target, label_smoothing), cot, from_logits, axis)


def check_categorical_axis(pred: Array, target: Array, **params: Any) -> None:
    check_categorical(pred, target)
    check_axis(pred, target, **params)


def _sparse_indices(pred: Array, target: Array) -> Array:
    if target.ndim == pred.ndim and target.shape[-1] == 1:
        target = target[..., 0]
    return target


def check_sparse(pred: Array, target: Array, *, ignore_class: int | None = None, **_: Any) -> None:
    """numpy backend nn.py:896: integer targets of pred's shape without the last axis."""
    target = _sparse_indices(pred, target)
    if target.shape != pred.shape[:-1]:
        raise InputError(
            f"--target has shape {target.shape}; Keras sparse_categorical_crossentropy needs class indices "
            f"of shape {pred.shape[:-1]} (--pred without its last axis)"
        )
    valid = target if ignore_class is None else target[target != ignore_class]
    if np.any(valid != np.round(valid)) or np.any((valid < 0) | (valid >= pred.shape[-1])):
        raise InputError(f"--target must hold class indices from 0 to {pred.shape[-1] - 1}")


def _sparse_one_hot(pred: Array, target: Array, ignore_class: int | None) -> tuple[Array, Array]:
    """losses.py:2355-2366: ignored rows get class 0 and a zero prediction row, then a zero loss."""
    target = _sparse_indices(pred, target)
    keep = np.ones(target.shape, dtype=bool) if ignore_class is None else target != ignore_class
    indices = np.where(keep, target, 0).astype(np.int64)
    return np.eye(pred.shape[-1], dtype=pred.dtype)[indices], keep


def sparse_elements(pred: Array, target: Array, *, from_logits: bool = False, ignore_class: int | None = None) -> Array:
    hot, keep = _sparse_one_hot(pred, target, ignore_class)
    safe = np.where(keep[..., None], pred, 1)  # any row: its loss is replaced by 0 below
    return np.where(keep, _categorical(safe, hot, from_logits), 0).astype(pred.dtype)


def sparse_vjp(
    pred: Array, target: Array, cot: Array, *, from_logits: bool = False, ignore_class: int | None = None
) -> Array:
    hot, keep = _sparse_one_hot(pred, target, ignore_class)
    safe = np.where(keep[..., None], pred, 1)
    return _categorical_vjp(safe, hot, np.where(keep, cot, 0), from_logits)


def sparse_mask(pred: Array, target: Array, *, ignore_class: int | None = None, **_: Any) -> Array | None:
    """losses.py:2369 set_keras_mask: ignored entries leave the mean (loss.py:197 apply_mask)."""
    if ignore_class is None:
        return None
    return _sparse_indices(pred, target) != ignore_class


CONVENTIONS = (
    declare(
        "bce",
        ("BinaryCrossentropy", "binary_crossentropy"),
        (bce_elements, bce_vjp),
        "clips p to [1e-7, 1 − 1e-7] (torch clamps log at −100), averages the last axis, float32",
        "2380-2417; backend/torch/nn.py:955",
        params=(
            FROM_LOGITS,
            LABEL_SMOOTHING,
            MEAN_AXIS,
        ),
        check=check_same_and_axis,
        terms=bce_terms,
    ),
    declare(
        "cross_entropy",
        ("CategoricalCrossentropy", "categorical_crossentropy"),
        (cce_elements, cce_vjp),
        "takes probabilities by default: renormalises each row, clips to [1e-7, 1 − 1e-7]; class axis last (axis=)",
        "2154-2209; backend/torch/nn.py:849-872",
        params=(FROM_LOGITS, LABEL_SMOOTHING, CLASS_AXIS),
        check=check_categorical_axis,
    ),
    declare(
        "nll",
        ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
        (sparse_elements, sparse_vjp),
        "class indices with probabilities (renormalised, clipped) by default; ignore_class leaves the mean",
        "2313-2376; backend/numpy/nn.py:902-909",
        params=(FROM_LOGITS, Param("ignore_class", "int", None, "a class index to leave out")),
        check=check_sparse,
        mask=sparse_mask,
    ),
)
