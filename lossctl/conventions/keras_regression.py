"""Keras 3 regression and margin losses: element-wise terms averaged over the last axis, ε = 1e-7.

Source: keras 3.15.1 ``keras/src/losses/losses.py`` (line numbers in each declaration).
"""

from __future__ import annotations

import numpy as np

from lossctl.conventions.base import Array, clip, elementwise
from lossctl.conventions.keras_common import LAST, check_categorical, check_same, declare, eps
from lossctl.losses._numerics import softplus
from lossctl.losses.spec import Param


def _mape_denominator(target: Array) -> Array:
    return np.maximum(np.abs(target), eps(target))


def _msle_logs(pred: Array, target: Array) -> tuple[Array, Array]:
    return np.log(np.maximum(pred, eps(pred)) + 1), np.log(np.maximum(target, eps(target)) + 1)


def _msle_term(pred: Array, target: Array) -> Array:
    first, second = _msle_logs(pred, target)
    return np.square(first - second)


def _msle_derivative(pred: Array, target: Array) -> Array:
    first, second = _msle_logs(pred, target)
    return 2 * (first - second) / (np.maximum(pred, eps(pred)) + 1) * (pred >= eps(pred))


def _huber_term(pred: Array, target: Array, delta: float = 1.0) -> Array:
    error = pred - target
    delta_ = pred.dtype.type(delta)
    half = pred.dtype.type(0.5)
    return np.where(np.abs(error) <= delta_, half * np.square(error), delta_ * np.abs(error) - half * delta_**2)


def _huber_derivative(pred: Array, target: Array, delta: float = 1.0) -> Array:
    error = pred - target
    return np.where(np.abs(error) <= delta, error, pred.dtype.type(delta) * np.sign(error))


def _log_cosh_term(pred: Array, target: Array) -> Array:
    x = pred - target
    return x + softplus(-2 * x) - pred.dtype.type(np.log(2.0))


def hinge_labels(target: Array) -> Array:
    """losses.py:1616 convert_binary_labels_to_hinge: {0, 1} labels become −1/+1; other labels stay."""
    if np.all((target == 0) | (target == 1)):
        return 2 * target - 1
    return target


def _hinge_margin(pred: Array, target: Array) -> Array:
    return np.maximum(1 - hinge_labels(target) * pred, 0)


mse_elements, mse_vjp = elementwise(lambda p, t: np.square(t - p), lambda p, t: 2 * (p - t), LAST)
mae_elements, mae_vjp = elementwise(lambda p, t: np.abs(t - p), lambda p, t: np.sign(p - t), LAST)
mape_elements, mape_vjp = elementwise(
    lambda p, t: 100 * np.abs((t - p) / _mape_denominator(t)),
    lambda p, t: 100 * np.sign(p - t) / _mape_denominator(t),
    LAST,
)
msle_elements, msle_vjp = elementwise(_msle_term, _msle_derivative, LAST)
huber_elements, huber_vjp = elementwise(_huber_term, _huber_derivative, LAST)
log_cosh_elements, log_cosh_vjp = elementwise(_log_cosh_term, lambda p, t: np.tanh(p - t), LAST)
poisson_elements, poisson_vjp = elementwise(
    lambda p, t: p - t * np.log(p + eps(p)), lambda p, t: 1 - t / (p + eps(p)), LAST
)
hinge_elements, hinge_vjp = elementwise(_hinge_margin, lambda p, t: -hinge_labels(t) * (_hinge_margin(p, t) > 0), LAST)
squared_hinge_elements, squared_hinge_vjp = elementwise(
    lambda p, t: np.square(_hinge_margin(p, t)), lambda p, t: -2 * hinge_labels(t) * _hinge_margin(p, t), LAST
)


def _kl_clipped(pred: Array, target: Array) -> tuple[Array, Array, Array]:
    t, _ = clip(target, eps(target), 1)
    p, inside = clip(pred, eps(pred), 1)
    return t, p, inside


def kl_elements(pred: Array, target: Array) -> Array:
    """losses.py:2104-2106: both clipped to [ε, 1], Σ t log(t/p) over the last axis; pred is a probability."""
    t, p, _ = _kl_clipped(pred, target)
    return np.sum(t * np.log(t / p), axis=LAST)


def kl_vjp(pred: Array, target: Array, cot: Array) -> Array:
    t, p, inside = _kl_clipped(pred, target)
    return np.expand_dims(cot, LAST) * (-t / p) * inside


# --- categorical hinge -------------------------------------------------------------------


def _hinge_parts(pred: Array, target: Array) -> tuple[Array, Array]:
    pos = np.sum(target * pred, axis=LAST)
    others = (1 - target) * pred  # the true class contributes 0 to the max, not −inf
    return others, np.maximum(np.max(others, axis=LAST) - pos + 1, 0)


def categorical_hinge_elements(pred: Array, target: Array) -> Array:
    """losses.py:1746-1749: max(max((1 − y) ŷ) − Σ y ŷ + 1, 0)."""
    return _hinge_parts(pred, target)[1]


def categorical_hinge_vjp(pred: Array, target: Array, cot: Array) -> Array:
    others, loss = _hinge_parts(pred, target)
    top = others == np.max(others, axis=LAST, keepdims=True)
    share = top / np.sum(top, axis=LAST, keepdims=True)  # ops.max's gradient is shared among ties
    active = np.expand_dims(cot * (loss > 0), LAST)
    return active * (share * (1 - target) - target)


CONVENTIONS = (
    declare(
        "mse",
        ("MeanSquaredError", "mean_squared_error", "MSE"),
        (mse_elements, mse_vjp),
        "averages the last axis first, then divides by the number of rows; float32",
        "1788",
        check=check_same,
    ),
    declare(
        "l1",
        ("MeanAbsoluteError", "mean_absolute_error", "MAE"),
        (mae_elements, mae_vjp),
        "averages the last axis first; float32",
        "1825",
        check=check_same,
    ),
    declare(
        "mape",
        ("MeanAbsolutePercentageError", "mean_absolute_percentage_error", "MAPE"),
        (mape_elements, mape_vjp),
        "a percentage (×100) with |y| floored at ε = 1e-7",
        "1868-1871",
        check=check_same,
    ),
    declare(
        "msle",
        ("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "MSLE"),
        (msle_elements, msle_vjp),
        "clips pred and target to ≥ 1e-7 before log(x + 1) (negatives count as 0)",
        "1912-1918",
        check=check_same,
    ),
    declare(
        "huber",
        ("Huber", "huber"),
        (huber_elements, huber_vjp),
        "same formula as torch's huber, averaged over the last axis; float32",
        "1995-2007",
        params=(Param("delta", "float", 1.0, "where the quadratic part ends", low=0.0, low_open=True),),
        check=check_same,
    ),
    declare(
        "log_cosh",
        ("LogCosh", "log_cosh", "logcosh"),
        (log_cosh_elements, log_cosh_vjp),
        "x + softplus(−2x) − log 2, averaged over the last axis; float32",
        "2050-2055",
        check=check_same,
    ),
    declare(
        "hinge",
        ("Hinge", "hinge"),
        (hinge_elements, hinge_vjp),
        "maps {0, 1} labels to −1/+1 first; averages the last axis",
        "1669-1670, 1616-1633",
        check=check_same,
    ),
    declare(
        "squared_hinge",
        ("SquaredHinge", "squared_hinge"),
        (squared_hinge_elements, squared_hinge_vjp),
        "maps {0, 1} labels to −1/+1 first; averages the last axis",
        "1705-1708",
        check=check_same,
    ),
    declare(
        "categorical_hinge",
        ("CategoricalHinge", "categorical_hinge"),
        (categorical_hinge_elements, categorical_hinge_vjp),
        "puts 0 for the true class inside the max, so a true score below 0 still costs (−2,−3,−0.5 / y=2 → 1.5)",
        "1746-1749",
        check=check_categorical,
    ),
    declare(
        "kl_div",
        ("KLDivergence", "kl_divergence", "kld", "KLD"),
        (kl_elements, kl_vjp),
        "pred is a probability (torch: a log-probability), both clipped to [1e-7, 1], summed over the last axis",
        "2104-2106",
        check=check_same,
    ),
    declare(
        "poisson_nll",
        ("Poisson", "poisson"),
        (poisson_elements, poisson_vjp),
        "pred is the rate (torch's default: its log), p − y log(p + 1e-7) with ε 1e-7 (torch 1e-8)",
        "2144-2145",
        check=check_same,
    ),
)
