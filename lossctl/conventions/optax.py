"""optax (``optax.losses``): unreduced losses, the class axis last, JAX's default float32.

Sources are optax 0.2.8, ``optax/losses/_regression.py`` and ``_classification.py``.
optax returns the unreduced losses; ``mean`` here is ``jnp.mean`` of them, what
its users write.  JAX computes in float32 unless ``jax_enable_x64`` is set, so
this convention defaults to float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions import optax_more
from lossctl.conventions.base import Array, Convention, Library, elementwise, plain_reduce, require_same_shape
from lossctl.errors import InputError
from lossctl.losses._numerics import log_sigmoid, log_softmax, sigmoid
from lossctl.losses.spec import Param

REGRESSION = "optax 0.2.8 optax/losses/_regression.py"
CLASSIFICATION = "optax 0.2.8 optax/losses/_classification.py"
LAST = -1


def _check(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "optax")


def _huber(pred: Array, target: Array, delta: float = 1.0) -> Array:
    """_regression.py:99-106: ½ min(|e|, δ)² + δ (|e| − min(|e|, δ))."""
    abs_errors = np.abs(pred - target)
    quadratic = np.minimum(abs_errors, delta)
    return 0.5 * quadratic**2 + delta * (abs_errors - quadratic)


def _huber_derivative(pred: Array, target: Array, delta: float = 1.0) -> Array:
    error = pred - target
    return np.where(np.abs(error) <= delta, error, delta * np.sign(error))


l2 = elementwise(lambda p, t: 0.5 * np.square(p - t), lambda p, t: p - t)
squared = elementwise(lambda p, t: np.square(p - t), lambda p, t: 2 * (p - t))
huber = elementwise(_huber, _huber_derivative)
log_cosh = elementwise(lambda p, t: np.logaddexp(p - t, t - p) - p.dtype.type(np.log(2.0)), lambda p, t: np.tanh(p - t))
sigmoid_bce = elementwise(lambda x, y: -y * log_sigmoid(x) - (1 - y) * log_sigmoid(-x), lambda x, y: sigmoid(x) - y)
hinge = elementwise(lambda p, t: np.maximum(0, 1 - p * t), lambda p, t: -t * (1 - p * t > 0))


def softmax_ce_elements(pred: Array, target: Array) -> Array:
    """_classification.py:295-296: −Σ labels · log_softmax(logits) over the last axis."""
    if target.shape == pred.shape[:-1]:
        return -np.take_along_axis(log_softmax(pred, LAST), target[..., None].astype(np.int64), LAST)[..., 0]
    return -np.sum(target * log_softmax(pred, LAST), axis=LAST)


def softmax_ce_vjp(pred: Array, target: Array, cot: Array) -> Array:
    if target.shape == pred.shape[:-1]:
        target = np.eye(pred.shape[-1], dtype=pred.dtype)[target.astype(np.int64)]
    probabilities = np.exp(log_softmax(pred, LAST))
    return cot[..., None] * (probabilities * np.sum(target, axis=LAST, keepdims=True) - target)


def _check_classes(pred: Array, target: Array, **_: Any) -> None:
    if target.shape == pred.shape:
        return
    if target.shape != pred.shape[:-1]:
        raise InputError(
            f"--target has shape {target.shape}; optax needs labels of shape {pred.shape} or integer labels of "
            f"shape {pred.shape[:-1]} (the class axis is the last)"
        )
    if np.any(target != np.round(target)) or np.any((target < 0) | (target >= pred.shape[-1])):
        raise InputError(f"--target must hold class indices from 0 to {pred.shape[-1] - 1}")


def _one_hot(pred: Array, target: Array) -> Array:
    if target.shape == pred.shape:
        return target
    return np.eye(pred.shape[-1], dtype=pred.dtype)[target.astype(np.int64)]


def multiclass_hinge_elements(pred: Array, target: Array) -> Array:
    """_classification.py:440: max(scores + 1 − onehot) − score of the label (the label is in the max)."""
    hot = _one_hot(pred, target)
    return np.max(pred + 1 - hot, axis=LAST) - np.sum(pred * hot, axis=LAST)


def multiclass_hinge_vjp(pred: Array, target: Array, cot: Array) -> Array:
    hot = _one_hot(pred, target)
    shifted = pred + 1 - hot
    top = shifted == np.max(shifted, axis=LAST, keepdims=True)
    return cot[..., None] * (top / np.sum(top, axis=LAST, keepdims=True) - hot)


def kl_elements(pred: Array, target: Array) -> Array:
    """_classification.py:560-563: Σ t (log t − log_predictions) with 0 log 0 = 0; pred is a log-probability."""
    log_t = np.where(target == 0, 0, np.log(np.where(target == 0, 1, target)))
    return np.sum(target * (log_t - pred), axis=LAST)


def kl_vjp(pred: Array, target: Array, cot: Array) -> Array:
    return -cot[..., None] * target


def kl_log_targets_elements(pred: Array, target: Array) -> Array:
    """_classification.py:595-597: Σ exp(t) (t − log_predictions) over the last axis; both are log-probabilities."""
    return np.sum(np.exp(target) * (target - pred), axis=LAST)


def kl_log_targets_vjp(pred: Array, target: Array, cot: Array) -> Array:
    return -cot[..., None] * np.exp(target)


def generalized_kl_elements(pred: Array, target: Array) -> Array:
    """_classification.py:635-637: kl_divergence + Σ (exp(log p) − t), the Bregman divergence of x log x − x."""
    return kl_elements(pred, target) + np.sum(np.exp(pred) - target, axis=LAST)


def generalized_kl_vjp(pred: Array, target: Array, cot: Array) -> Array:
    return cot[..., None] * (np.exp(pred) - target)


def poly_elements(pred: Array, target: Array, *, epsilon: float = 2.0) -> Array:
    """_classification.py:520-527: softmax cross-entropy + ε Σ labels (1 − softmax)."""
    p = np.exp(log_softmax(pred, LAST))
    return softmax_ce_elements(pred, target) + epsilon * np.sum(target * (1 - p), axis=LAST)


def poly_vjp(pred: Array, target: Array, cot: Array, *, epsilon: float = 2.0) -> Array:
    """CE's gradient − ε p (t − Σ t p): the derivative of Σ t p through the softmax."""
    p = np.exp(log_softmax(pred, LAST))
    inner = p * (target - np.sum(target * p, axis=LAST, keepdims=True))
    return softmax_ce_vjp(pred, target, cot) - epsilon * cot[..., None] * inner


def _check_same_classes(pred: Array, target: Array, **_: Any) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape}; optax needs label rows of --pred's shape {pred.shape}")


perceptron = elementwise(lambda p, t: np.maximum(0, -p * t), lambda p, t: -t * (-p * t > 0))


def _declare(
    loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, line: str, **more: Any
) -> Convention:
    return Convention("optax", loss, names, pair[0], pair[1], reason, line, **more)


CONVENTIONS = (
    _declare(
        "mse",
        ("squared_error",),
        squared,
        "the same squared error, unreduced; float32",
        f"{REGRESSION}:49-50",
        check=_check,
    ),
    _declare(
        "huber",
        ("huber_loss",),
        huber,
        "torch's formula, unreduced; float32",
        f"{REGRESSION}:99-106",
        params=(Param("delta", "float", 1.0, "where the quadratic part ends", low=0.0, low_open=True),),
        check=_check,
    ),
    _declare(
        "log_cosh",
        ("log_cosh",),
        log_cosh,
        "logaddexp(e, −e) − log 2, unreduced; float32",
        f"{REGRESSION}:131-133",
        check=_check,
    ),
    _declare(
        "bce_with_logits",
        ("sigmoid_binary_cross_entropy",),
        sigmoid_bce,
        "logits, exact log-sigmoid, unreduced; float32",
        f"{CLASSIFICATION}:80-83",
        check=_check,
    ),
    _declare(
        "cross_entropy",
        ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels"),
        (softmax_ce_elements, softmax_ce_vjp),
        "class axis last (torch: axis 1), per-example losses; float32",
        f"{CLASSIFICATION}:295-296, 299-407",
        check=_check_classes,
    ),
    _declare(
        "hinge",
        ("hinge_loss",),
        hinge,
        "targets must already be ±1 (no {0,1} mapping, unlike Keras)",
        f"{CLASSIFICATION}:93-105",
        check=_check,
    ),
    _declare(
        "categorical_hinge",
        ("multiclass_hinge_loss",),
        (multiclass_hinge_elements, multiclass_hinge_vjp),
        "the true class is inside the max with margin 0, so the loss is ≥ 0 and 0 when it wins by 1",
        f"{CLASSIFICATION}:421-442",
        check=_check_classes,
    ),
    _declare(
        "kl_div",
        ("kl_divergence",),
        (kl_elements, kl_vjp),
        "log-probability predictions like torch, summed over the last axis, unreduced",
        f"{CLASSIFICATION}:528-563",
        check=_check,
    ),
)

MORE = (
    _declare(
        "kl_div",
        ("kl_divergence_with_log_targets",),
        (kl_log_targets_elements, kl_log_targets_vjp),
        "targets given as log-probabilities (torch's log_target=True), summed over the last axis, unreduced",
        f"{CLASSIFICATION}:566-597",
        check=_check,
    ),
    _declare(
        "kl_div",
        ("convex_kl_divergence", "generalized_kl_divergence"),
        (generalized_kl_elements, generalized_kl_vjp),
        "adds Σ (exp(log p) − t): the KL of unnormalised distributions (0 only when p = t)",
        f"{CLASSIFICATION}:600-660",
        check=_check,
    ),
    _declare(
        "poly1_cross_entropy",
        ("poly_loss_cross_entropy",),
        (poly_elements, poly_vjp),
        "ε = 2 by default (torch-style poly-1 implementations use 1); label rows, class axis last",
        f"{CLASSIFICATION}:468-527",
        params=(Param("epsilon", "float", 2.0, "the weight ε of the first polynomial term"),),
        check=_check_same_classes,
    ),
    _declare(
        "hinge",
        ("perceptron_loss",),
        perceptron,
        "the hinge with margin 0: max(0, −s·y), labels ±1 as given",
        f"{CLASSIFICATION}:108-124",
        check=_check,
    ),
)

L2_LOSS = Convention(
    "optax",
    "mse",
    ("l2_loss",),
    *l2,
    "½ e² (half torch's squared error), unreduced; float32",
    f"{REGRESSION}:53-72",
    check=_check,
)

LIBRARY = Library(
    name="optax",
    title="optax",
    reductions=("mean", "sum", "none"),
    reduce=plain_reduce,
    dtype="float32",
    conventions=(*CONVENTIONS, L2_LOSS, *MORE, *optax_more.CONVENTIONS),
    missing={
        "ctc_loss": "CTC (lossctl has ctc; optax pads sequences where lossctl takes lengths: not mapped yet)",
    },
    source=f"{REGRESSION} (losses are returned unreduced)",
)
