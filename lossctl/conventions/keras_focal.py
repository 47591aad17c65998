"""Keras 3 focal cross-entropies: BinaryFocalCrossentropy and CategoricalFocalCrossentropy.

Source: keras 3.15.1 ``keras/src/losses/losses.py`` (binary_focal_crossentropy :2426-2522,
categorical_focal_crossentropy :2217-2304) and the torch backend's ``nn.py`` for the clipped BCE.
Both take probabilities by default and clip them to [ε, 1 − ε] only inside the log, not in the focal
factor; Keras' binary form leaves α out unless ``apply_class_balancing``, its categorical form
multiplies every class by α = 0.25.
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
from lossctl.conventions.keras_crossentropy import probabilities, renormalise_vjp, smoothed_categorical
from lossctl.errors import InputError
from lossctl.losses._numerics import log_softmax, sigmoid
from lossctl.losses.spec import Param

GAMMA = Param("gamma", "float", 2.0, "the focusing exponent γ", low=0.0)


def _power_slope(base: Array, gamma: float) -> Array:
    """γ base^(γ−1), taken as 0 where base = 0 (the factor it multiplies vanishes there)."""
    if gamma == 0:
        return np.zeros_like(base)
    safe = np.where(base > 0, base, 1)
    return np.where(base > 0, gamma * safe ** (gamma - 1), 0).astype(base.dtype)


# --- binary: losses.py:2426-2522 --------------------------------------------------------------


def _binary_parts(pred: Array, target: Array, params: dict[str, Any]) -> tuple[Array, ...]:
    """(output o, smoothed t, clipped o, clip mask, 1 − p_t, α weight) as losses.py:2501-2520 builds them."""
    ls = params.get("label_smoothing", 0.0)
    t = target * (1 - target.dtype.type(ls)) + target.dtype.type(0.5 * ls) if ls else target  # :2501
    o = sigmoid(pred) if params.get("from_logits") else pred  # :2504
    c, inside = clip(o, eps(o), 1 - eps(o))  # torch backend nn.py:955
    miss = 1 - (t * o + (1 - t) * (1 - o))  # :2513
    alpha = o.dtype.type(params.get("alpha", 0.25))
    weight = t * alpha + (1 - t) * (1 - alpha) if params.get("apply_class_balancing") else np.ones_like(o)  # :2519
    return o, t, c, inside, miss, weight


def _binary_terms(pred: Array, target: Array, params: dict[str, Any]) -> Array:
    _, t, c, _, miss, weight = _binary_parts(pred, target, params)
    bce = -(t * np.log(c) + (1 - t) * np.log(1 - c))
    return weight * miss ** params.get("gamma", 2.0) * bce


def _binary_derivative(pred: Array, target: Array, params: dict[str, Any]) -> Array:
    """∂/∂o [w (1 − p_t)^γ bce] = w [γ (1 − p_t)^(γ−1) (1 − 2t) bce + (1 − p_t)^γ ∂bce/∂c · 1(c unclipped)]."""
    o, t, c, inside, miss, weight = _binary_parts(pred, target, params)
    gamma = params.get("gamma", 2.0)
    bce = -(t * np.log(c) + (1 - t) * np.log(1 - c))
    d_bce = (-t / c + (1 - t) / (1 - c)) * inside
    local = weight * (_power_slope(miss, gamma) * (1 - 2 * t) * bce + miss**gamma * d_bce)
    return local * o * (1 - o) if params.get("from_logits") else local


def binary_focal_elements(pred: Array, target: Array, **params: Any) -> Array:
    """losses.py:2522: the mean over ``axis`` of w (1 − p_t)^γ BCE(clip(o), t)."""
    return mean_over(_binary_terms(pred, target, params), params.get("axis", LAST))


def binary_focal_vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
    spread = mean_over_vjp(cot, pred.shape, params.get("axis", LAST), pred.dtype)
    return spread * _binary_derivative(pred, target, params)


# --- categorical: losses.py:2217-2304 -----------------------------------------------------------


def _alpha(alpha: Any, pred: Array) -> Array:
    """α: a number, or one weight per class along the last axis (Keras multiplies them elementwise)."""
    if isinstance(alpha, str):
        try:
            alpha = [float(a) for a in alpha.split(",")]
        except ValueError as exc:
            raise InputError(f"--set alpha must be a number or comma-separated numbers, got {alpha!r}") from exc
    values = np.asarray(alpha, dtype=pred.dtype)
    return values.reshape(()) if values.size == 1 else values


def _categorical_parts(pred: Array, target: Array, params: dict[str, Any]) -> tuple[Any, ...]:
    axis = int(params.get("axis", LAST))
    t = smoothed_categorical(target, params.get("label_smoothing", 0.0))  # :2279-2282
    o = np.exp(log_softmax(pred, axis)) if params.get("from_logits") else pred  # :2285
    total, q, c, inside = probabilities(o, axis)  # :2291-2292
    return axis, t, o, total, q, c, inside, _alpha(params.get("alpha", 0.25), pred)


def categorical_focal_elements(pred: Array, target: Array, **params: Any) -> Array:
    """losses.py:2295-2303: Σ over ``axis`` of α (1 − c)^γ (−t log c), c = clip(renormalised o)."""
    axis, t, _, _, _, c, _, alpha = _categorical_parts(pred, target, params)
    return np.sum(alpha * (1 - c) ** params.get("gamma", 2.0) * (-t * np.log(c)), axis=axis)


def categorical_focal_vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
    """g = ∂/∂c = α [γ (1 − c)^(γ−1) t log c − (1 − c)^γ t / c]; back through the clip, the renormalisation
    and (from logits) the softmax: ∂/∂x = s ⊙ (h − Σ h s)."""
    axis, t, o, total, q, c, inside, alpha = _categorical_parts(pred, target, params)
    gamma = params.get("gamma", 2.0)
    g = alpha * (_power_slope(1 - c, gamma) * t * np.log(c) - (1 - c) ** gamma * t / c) * inside
    h = np.expand_dims(cot, axis) * renormalise_vjp(g, q, total, axis)
    if params.get("from_logits"):
        return o * (h - np.sum(h * o, axis=axis, keepdims=True))
    return h


def check_categorical_focal(pred: Array, target: Array, *, alpha: Any = 0.25, **params: Any) -> None:
    check_categorical(pred, target)
    check_axis(pred, target, **params)
    values = _alpha(alpha, pred)
    if values.ndim and values.size != pred.shape[LAST]:
        raise InputError(f"--set alpha has {values.size} weights but --pred has {pred.shape[LAST]} classes (last axis)")


CONVENTIONS = (
    declare(
        "focal",
        ("BinaryFocalCrossentropy", "binary_focal_crossentropy"),
        (binary_focal_elements, binary_focal_vjp),
        "probabilities by default, clipped to [1e-7, 1 − 1e-7] inside the log; no α unless apply_class_balancing "
        "(torchvision: α = 0.25); the mean over the last axis",
        "2426-2522; backend/torch/nn.py:955",
        params=(
            Param("apply_class_balancing", "bool", False, "weigh class 1 by α and class 0 by 1 − α"),
            Param("alpha", "float", 0.25, "the weight of class 1 when apply_class_balancing", low=0.0, high=1.0),
            GAMMA,
            FROM_LOGITS,
            LABEL_SMOOTHING,
            MEAN_AXIS,
        ),
        check=check_same_and_axis,
    ),
    declare(
        "softmax_focal",
        ("CategoricalFocalCrossentropy", "categorical_focal_crossentropy"),
        (categorical_focal_elements, categorical_focal_vjp),
        "probabilities by default (renormalised, clipped to [1e-7, 1 − 1e-7]); α = 0.25 on every class; "
        "the focal factor on every class the (smoothed) label touches",
        "2217-2304",
        params=(
            Param("alpha", "choice", 0.25, "α: a number, or one weight per class (comma-separated)"),
            GAMMA,
            FROM_LOGITS,
            LABEL_SMOOTHING,
            CLASS_AXIS,
        ),
        check=check_categorical_focal,
    ),
)
