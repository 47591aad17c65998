"""optax's sigmoid_focal_loss and ntxent, mapped onto lossctl's focal and nt_xent.

Sources are optax 0.2.8, ``optax/losses/_classification.py`` (sigmoid_focal_loss :842-927) and
``optax/losses/_self_supervised.py`` (ntxent :24-123) with ``_regression.py`` (cosine_similarity :136-183).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention, elementwise, require_same_shape
from lossctl.errors import InputError
from lossctl.losses.classification import focal, focal_grad
from lossctl.losses.library_classification import sparsemax_loss, sparsemax_loss_grad
from lossctl.losses.spec import Param

CLASSIFICATION = "optax 0.2.8 optax/losses/_classification.py"
SELF_SUPERVISED = "optax 0.2.8 optax/losses/_self_supervised.py"


# --- sigmoid_focal_loss: _classification.py:842-927 ---------------------------------------------


def _torchvision_alpha(alpha: float | None) -> float:
    """optax's α = None (no weighting) is lossctl's α < 0."""
    return -1.0 if alpha is None else alpha


focal_pair = elementwise(
    lambda x, y, alpha=None, gamma=2.0: focal(x, y, alpha=_torchvision_alpha(alpha), gamma=gamma),
    lambda x, y, alpha=None, gamma=2.0: focal_grad(x, y, alpha=_torchvision_alpha(alpha), gamma=gamma),
)


def _check_focal(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "optax")
    if np.any((target < 0) | (target > 1)):
        raise InputError("--target must hold labels in [0, 1] for optax's sigmoid_focal_loss")


# --- sparsemax losses: _classification.py:127-150 (binary), 930-962 (multiclass) -------------------------------


def _sparse_plus(z: Array) -> Array:
    """jax.nn.sparse_plus: 0 for z ≤ −1, (z + 1)²/4 inside, z for z ≥ 1."""
    return np.where(z <= -1, 0, np.where(z >= 1, z, (z + 1) ** 2 / 4))


def _sparse_sigmoid(z: Array) -> Array:
    """jax.nn.sparse_sigmoid, the derivative of sparse_plus: 0, (z + 1)/2, 1."""
    return np.clip((z + 1) / 2, 0, 1)


def _flipped(x: Array, labels: Array) -> tuple[Array, Array]:
    """_classification.py:148: z = −x where the label is true (non-zero), x elsewhere; and ∂z/∂x."""
    sign = np.where(labels != 0, -1.0, 1.0).astype(x.dtype)
    return sign * x, sign


binary_sparsemax = elementwise(
    lambda x, y: _sparse_plus(_flipped(x, y)[0]),
    lambda x, y: _sparse_sigmoid(_flipped(x, y)[0]) * _flipped(x, y)[1],
)


def multiclass_sparsemax_elements(pred: Array, target: Array) -> Array:
    """_classification.py:930-940: per row ⟨p, θ − θ_y⟩ + ½ (1 − ‖p‖²) with p = projection_simplex(θ)."""
    return sparsemax_loss(pred, target)


def multiclass_sparsemax_vjp(pred: Array, target: Array, cot: Array) -> Array:
    return np.asarray(cot)[:, None] * sparsemax_loss_grad(pred, target)


def _check_binary_labels(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "optax")


def _check_rows(pred: Array, target: Array, **_: Any) -> None:
    if pred.ndim != 2 or target.shape != pred.shape[:1]:
        raise InputError(
            f"optax's multiclass_sparsemax_loss takes scores (N, C) and N integer labels; got {pred.shape}"
        )
    if np.any(target != np.round(target)) or np.any((target < 0) | (target >= pred.shape[1])):
        raise InputError(f"--target must hold class indices from 0 to {pred.shape[1] - 1}")


# --- ntxent: _self_supervised.py:24-123 --------------------------------------------------------------


def paired_labels(pred: Array) -> Array:
    """Without --target: rows i and i + N are a positive pair (lossctl's nt_xent layout)."""
    return (np.arange(pred.shape[0]) % max(pred.shape[0] // 2, 1)).astype(pred.dtype)


def _ntxent_parts(pred: Array, labels: Array, temperature: float) -> tuple[Array, ...]:
    """Unit rows (norm floored at √eps, _regression.py:178-181), the scores, the positive pairs and the losses.

    For each positive pair (i, j): ℓᵢⱼ = −sᵢⱼ + log(Σ_{k: label differs} e^{sᵢₖ} + e^{sᵢⱼ})
    (_self_supervised.py:103-121); the other positives of row i are not in its denominator.
    """
    norm = np.sqrt(np.maximum(np.sum(pred * pred, axis=1, keepdims=True), np.finfo(pred.dtype).eps))
    unit = pred / norm
    scores = unit @ unit.T / pred.dtype.type(temperature)
    same = labels[:, None] == labels[None, :]
    positives = same & ~np.eye(len(labels), dtype=bool)
    negatives = ~same
    top = np.max(np.where(positives | negatives, scores, -np.inf), axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    shifted = np.exp(scores - top)
    negative_sum = np.sum(np.where(negatives, shifted, 0), axis=1, keepdims=True)
    denominator = negative_sum + shifted  # D_ij for every pair; used only where (i, j) is positive
    losses = np.where(positives, -(scores - top) + np.log(denominator), 0)
    return norm, unit, positives, negatives, shifted, denominator, losses


def ntxent_elements(pred: Array, target: Array, *, temperature: float = 0.07, sample_weight=None) -> Array:
    """Row i's share of the mean over all positive pairs: Σⱼ ℓᵢⱼ / (number of positive pairs)."""
    _, _, positives, _, _, _, losses = _ntxent_parts(pred, target, temperature)
    return np.sum(losses, axis=1) / positives.sum()


def ntxent_vjp(pred: Array, target: Array, cot: Array, *, temperature: float = 0.07, sample_weight=None) -> Array:
    """∂/∂sᵢⱼ = (e^{sᵢⱼ}/Dᵢⱼ − 1)/P on pairs, ∂/∂sᵢₖ = Σⱼ e^{sᵢₖ}/Dᵢⱼ / P on negatives; S = ÛÛᵀ/τ gives
    ∂/∂Û = (G + Gᵀ) Û / τ, and ∂/∂x = (I − ûûᵀ) ∂/∂û / ‖x‖ (1/√eps below the floor)."""
    norm, unit, positives, negatives, shifted, denominator, _ = _ntxent_parts(pred, target, temperature)
    count = positives.sum()
    on_pairs = np.where(positives, shifted / denominator - 1, 0)
    spread = np.sum(np.where(positives, 1 / denominator, 0), axis=1, keepdims=True)
    on_negatives = np.where(negatives, shifted * spread, 0)
    g = (on_pairs + on_negatives) / count
    g = g * np.asarray(cot, dtype=pred.dtype).reshape(-1, 1)
    g_unit = (g + g.T) @ unit / pred.dtype.type(temperature)
    floored = norm[:, 0] ** 2 <= np.finfo(pred.dtype).eps
    radial = np.where(floored[:, None], 0, unit * np.sum(unit * g_unit, axis=1, keepdims=True))
    return (g_unit - radial) / norm


def _check_ntxent(pred: Array, target: Array, **_: Any) -> None:
    """_self_supervised.py:86-91: embeddings [batch, features], one label per row; lossctl needs a positive pair."""
    if pred.ndim != 2:
        raise InputError(
            f"--pred must be a matrix of embeddings (batch, features) for optax's ntxent, got {pred.shape}"
        )
    if target.shape != (pred.shape[0],):
        raise InputError(f"--target must hold one group label per row of --pred ({pred.shape[0]}), got {target.shape}")
    if not np.any((target[:, None] == target[None, :]) & ~np.eye(target.size, dtype=bool)):
        raise InputError("--target has no two rows with the same label: optax's ntxent divides 0 by 0 (nan)")


CONVENTIONS = (
    Convention(
        "optax",
        "sparsemax",
        ("sparsemax_loss",),
        *binary_sparsemax,
        "the binary form, element-wise on any shape: sparse_plus(−x) for a true label, sparse_plus(x) otherwise",
        f"{CLASSIFICATION}:127-150",
        check=_check_binary_labels,
    ),
    Convention(
        "optax",
        "sparsemax",
        ("multiclass_sparsemax_loss",),
        multiclass_sparsemax_elements,
        multiclass_sparsemax_vjp,
        "scores (N, C) with integer labels, one loss per row, unreduced; float32",
        f"{CLASSIFICATION}:930-962",
        check=_check_rows,
    ),
    Convention(
        "optax",
        "focal",
        ("sigmoid_focal_loss",),
        *focal_pair,
        "α = None by default (no class weighting; torchvision's is 0.25); logits; unreduced; float32",
        f"{CLASSIFICATION}:842-927",
        params=(
            Param("alpha", "float", None, "the weight of positives (1 − α for negatives); none by default"),
            Param("gamma", "float", 2.0, "the focusing exponent γ", low=0.0),
        ),
        check=_check_focal,
    ),
    Convention(
        "optax",
        "nt_xent",
        ("ntxent",),
        ntxent_elements,
        ntxent_vjp,
        "positives are rows with the same --target label (default: i and i + N); only negatives and the pair in "
        "each denominator; mean over pairs; τ = 0.07; norms floored at √eps",
        f"{SELF_SUPERVISED}:24-123; optax 0.2.8 optax/losses/_regression.py:136-183",
        params=(Param("temperature", "float", 0.07, "the temperature τ", low=0.0, low_open=True),),
        check=_check_ntxent,
        contributions=True,
        default_target=paired_labels,
    ),
)
