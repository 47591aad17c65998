"""Keras 3.15.1 losses mapped onto lossctl's cosine_similarity, dice and tversky.

Sources are ``keras/src/losses/losses.py``.  ``cosine_similarity`` is per sample (reduced over the
last axis) and follows the library's reduction.  ``dice`` and ``tversky`` with their default
``axis=None`` pool every value of the batch into one ratio, so they are declared as whole-tensor
metrics (``contributions=True``: the value is the sum of each value's contribution; no sample weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention, require_same_shape
from lossctl.errors import InputError
from lossctl.losses.embedding import check_circle, circle, cosine_similarity, cosine_similarity_grad
from lossctl.losses.embedding import circle_vjp as circle_vjp_rows
from lossctl.losses.spec import Param

EPSILON = 1e-7  # keras/src/backend/config.py _EPSILON
LOSSES_PY = "keras 3.15.1 keras/src/losses/losses.py"


def _check(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "Keras")


def cosine_elements(pred: Array, target: Array) -> Array:
    """losses.py:1953-1958: −Σ normalize(y) · normalize(ŷ) over the last axis (lossctl's cosine_similarity)."""
    return cosine_similarity(pred, target)


def cosine_vjp(pred: Array, target: Array, cot: Array) -> Array:
    return np.expand_dims(np.asarray(cot, dtype=pred.dtype), -1) * cosine_similarity_grad(pred, target)


def _no_weights(sample_weight: Array | None, name: str) -> None:
    if sample_weight is not None:
        raise InputError(
            f"--sample-weight: Keras' {name} with axis=None pools the whole batch into one ratio; lossctl does not "
            "weight it (Keras would multiply that single value by the weights)"
        )


def _eps(pred: Array) -> Any:
    return pred.dtype.type(EPSILON)


def dice_elements(pred: Array, target: Array, *, sample_weight: Array | None = None) -> Array:
    """losses.py:2596-2607: 1 − 2 Σ t p / (Σ t + Σ p + ε) pooled; contributions 1/N − 2 t_k p_k / D."""
    _no_weights(sample_weight, "Dice")
    denominator = np.sum(target) + np.sum(pred) + _eps(pred)
    return pred.dtype.type(1.0 / pred.size) - 2 * target * pred / denominator


def dice_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None) -> Array:
    """∂/∂p_k [1 − 2I/D] = −2 t_k / D + 2 I / D²."""
    denominator = np.sum(target) + np.sum(pred) + _eps(pred)
    intersection = np.sum(target * pred)
    return -2 * target / denominator + 2 * intersection / denominator**2


def _tversky_parts(pred: Array, target: Array, alpha: float, beta: float) -> tuple[Array, Array]:
    """losses.py:2645-2654: inputs = y_true, targets = y_pred, so 'fp' = Σ (1 − p) t is weighted by α."""
    intersection = np.sum(target * pred)
    missed = np.sum((1 - pred) * target)  # the paper's FN, Keras' fp
    spurious = np.sum(pred * (1 - target))  # the paper's FP, Keras' fn
    denominator = intersection + alpha * missed + beta * spurious + _eps(pred)
    return intersection, denominator


def tversky_elements(pred, target, *, alpha: float = 0.5, beta: float = 0.5, sample_weight=None) -> Array:
    """1 − I / (I + α Σ(1 − p)t + β Σ p(1 − t) + ε) pooled; contributions 1/N − t_k p_k / D."""
    _no_weights(sample_weight, "Tversky")
    _, denominator = _tversky_parts(pred, target, alpha, beta)
    return pred.dtype.type(1.0 / pred.size) - target * pred / denominator


def tversky_vjp(pred, target, cot, *, alpha: float = 0.5, beta: float = 0.5, sample_weight=None) -> Array:
    """−(t_k D − I (t_k − α t_k + β (1 − t_k))) / D²."""
    intersection, denominator = _tversky_parts(pred, target, alpha, beta)
    slope = target - alpha * target + beta * (1 - target)
    return -(target * denominator - intersection * slope) / denominator**2


CONVENTIONS: tuple[Convention, ...] = (
    Convention(
        "keras",
        "cosine_similarity",
        ("CosineSimilarity",),
        cosine_elements,
        cosine_vjp,
        "−cos per sample over the last axis (norms floored at 1e-12), then sum_over_batch_size; float32",
        f"{LOSSES_PY}:1925-1958",
        check=_check,
    ),
    Convention(
        "keras",
        "dice",
        ("Dice",),
        dice_elements,
        dice_vjp,
        "axis=None pools the whole batch into one ratio; ε = 1e-7 in the denominator only, none in the numerator",
        f"{LOSSES_PY}:2564-2607",
        check=_check,
        contributions=True,
    ),
    Convention(
        "keras",
        "tversky",
        ("Tversky",),
        tversky_elements,
        tversky_vjp,
        "α weighs Σ(1 − p)t (the paper's FN) and β Σ p(1 − t): swapped against the paper; pooled over the batch",
        f"{LOSSES_PY}:2616-2654",
        params=(
            Param("alpha", "float", 0.5, "Keras' α (on Σ(1 − p)·t)"),
            Param("beta", "float", 0.5, "Keras' β (on Σ p·(1 − t))"),
        ),
        check=_check,
        contributions=True,
    ),
)


def gce_elements(pred: Array, target: Array, *, q: float = 0.5) -> Array:
    """losses.py:2746-2770: one_hot(int(y_true)); p = Σ y_pred·onehot over the last axis; (1 − p^q)/q."""
    hot = np.eye(pred.shape[-1], dtype=pred.dtype)[target.astype(np.int64)]
    return (1 - np.sum(pred * hot, axis=-1) ** q) / q


def gce_vjp(pred: Array, target: Array, cot: Array, *, q: float = 0.5) -> Array:
    hot = np.eye(pred.shape[-1], dtype=pred.dtype)[target.astype(np.int64)]
    p = np.sum(pred * hot, axis=-1)
    return -hot * np.expand_dims(np.asarray(cot, dtype=pred.dtype) * p ** (q - 1), -1)


def _check_gce(pred: Array, target: Array, *, q: float = 0.5, **_: Any) -> None:
    """losses.py:1595-1596: q in (0, 1); integer labels, the class axis last."""
    if not 0 < q < 1:
        raise InputError(f"--set q must be in (0, 1) (Keras raises ValueError), got {q:g}")
    if target.shape != pred.shape[:-1]:
        raise InputError(f"--target must hold one integer label per row of --pred (shape {pred.shape[:-1]})")
    if np.any(target != np.round(target)) or np.any((target < 0) | (target >= pred.shape[-1])):
        raise InputError(f"--target must hold class indices from 0 to {pred.shape[-1] - 1}")


GCE = Convention(
    "keras",
    "generalized_cross_entropy",
    ("CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy"),
    gce_elements,
    gce_vjp,
    "q = 0.5 by default (the paper uses 0.7); integer labels, probabilities as given (no clipping); float32",
    f"{LOSSES_PY}:1537-1600, 2746-2770",
    params=(Param("q", "float", 0.5, "the noise parameter q in (0, 1)"),),
    check=_check_gce,
)
CONVENTIONS = (*CONVENTIONS, GCE)


def _circle_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in ("gamma", "margin", "remove_diagonal") if k in params}


def circle_elements(pred: Array, target: Array, **params: Any) -> Array:
    """losses.py def circle: softplus(LSE positives + LSE negatives) per row (lossctl's circle declaration)."""
    return circle(pred, target, **_circle_params(params))


def circle_vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
    """Σ cotᵢ ∂ℓᵢ/∂X through lossctl's circle gradient (the rows interact, so cot weighs each row's loss)."""
    return circle_vjp_rows(pred, target, cot, **_circle_params(params))


def circle_mask(pred: Array, target: Array, **params: Any) -> Array:
    """losses.py: backend.set_keras_mask(circle_loss, circle_loss > 0): the mean divides by the positive rows."""
    return circle(pred, target, **_circle_params(params)) > 0


CIRCLE = Convention(
    "keras",
    "circle",
    ("Circle",),
    circle_elements,
    circle_vjp,
    "PyTorch has no circle loss (torch uses lossctl's declaration, plain mean); Keras masks rows whose loss is 0, "
    "so sum_over_batch_size divides by the rows with a positive loss; float32",
    f"{LOSSES_PY} class Circle, def circle; keras/src/losses/loss.py:197-226 apply_mask",
    params=(
        Param("gamma", "float", 80.0, "scale γ"),
        Param("margin", "float", 0.4, "relaxation m"),
        Param("remove_diagonal", "bool", True, "drop self-similarities from the positives"),
    ),
    check=check_circle,
    mask=circle_mask,
)
CONVENTIONS = (*CONVENTIONS, CIRCLE)
