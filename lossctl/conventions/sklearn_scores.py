"""scikit-learn's scores against a baseline: R², explained variance and the D² scores (higher is better).

Whole-column metrics, declared with ``contributions=True``.  ``force_finite`` follows
``sklearn/metrics/_regression.py:946-977``.  Sources are scikit-learn 1.9.1 ``_regression.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array
from lossctl.conventions.sklearn_common import (
    ALPHA,
    MULTIOUTPUT,
    POWER,
    REGRESSION,
    SCORE_MULTIOUTPUT,
    WHOLE,
    check,
    check_one_output,
    check_two_samples,
    declare,
    output_weights,
    sample_weights,
    shape_back,
)
from lossctl.errors import InputError
from lossctl.losses import metrics

# --- R² and explained variance: _regression.py:946-1320 ------------------------------------------------


def _fraction(terms: Array, slopes: Array, numerator: Array, denominator: Array, w: Array, v: Array):
    """Contributions of Σⱼ vⱼ (1 − numⱼ/denⱼ) with numⱼ = Σᵢ termsᵢⱼ, and its gradient given ∂num/∂ŷ = slopes.

    force_finite (_regression.py:958-977): a zero denominator scores 1 with a zero numerator, else 0.
    """
    valid = (denominator != 0) & (numerator != 0)
    safe = np.where(denominator != 0, denominator, 1.0)
    share = (w / w.sum())[:, None]
    fixed = np.where(numerator == 0, 1.0, 0.0)
    contributions = np.where(valid, share - terms / safe, share * fixed) * v
    gradient = np.where(valid, -slopes / safe, 0.0) * v
    return contributions, gradient


def _r2(pred: Array, target: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    y, e = metrics.columns(target), metrics.columns(pred - target)
    w = sample_weights(y.shape[0], sample_weight, pred.dtype)
    mean = np.sum(w[:, None] * y, axis=0) / w.sum()
    terms = w[:, None] * e * e
    denominator = np.sum(w[:, None] * (y - mean) ** 2, axis=0)
    v = output_weights(y.shape[1], multioutput, pred.dtype, variances=denominator)
    parts = _fraction(terms, 2 * w[:, None] * e, np.sum(terms, axis=0), denominator, w, v)
    return shape_back(parts[0], pred), shape_back(parts[1], pred)


def r2_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _r2(pred, target, sample_weight, multioutput)[0]


def r2_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _r2(pred, target, sample_weight, multioutput)[1]


def _explained(pred: Array, target: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    y, d = metrics.columns(target), metrics.columns(pred - target)
    w = sample_weights(y.shape[0], sample_weight, pred.dtype)
    total = w.sum()
    centred = d - np.sum(w[:, None] * d, axis=0) / total
    terms = w[:, None] * centred * centred
    denominator = np.sum(w[:, None] * (y - np.sum(w[:, None] * y, axis=0) / total) ** 2, axis=0)
    v = output_weights(y.shape[1], multioutput, pred.dtype, variances=denominator)
    # scikit-learn compares averages (Σ/Σw), lossctl sums: the same ratio, the same zero tests
    parts = _fraction(terms, 2 * w[:, None] * centred, np.sum(terms, axis=0), denominator, w, v)
    return shape_back(parts[0], pred), shape_back(parts[1], pred)


def explained_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _explained(pred, target, sample_weight, multioutput)[0]


def explained_vjp(pred: Array, target: Array, cot: Array, *, sample_weight=None, multioutput: Any = None):
    return _explained(pred, target, sample_weight, multioutput)[1]


# --- D² pinball / absolute error: _regression.py:1711-1879; D² Tweedie: 1594-1708 ------------------------


def _pinball(pred: Array, target: Array, alpha: float) -> Array:
    diff = target - pred
    return np.maximum(alpha * diff, (alpha - 1) * diff)


def _pinball_slope(pred: Array, target: Array, alpha: float) -> Array:
    """_regression.py:391-395: sign = (y − ŷ ≥ 0), so the slope at ŷ = y is −α (scikit-learn's side)."""
    return np.where(target - pred >= 0, -alpha, 1 - alpha)


def _d2_pinball(pred: Array, target: Array, alpha: float, sample_weight: Array | None, multioutput: Any):
    """The denominator is Σ w ρ_α(y − q) at the weighted α-percentile q, which minimises that sum over constants;
    the minimum of a convex piecewise-linear sum is attained at a data point, so it is taken over those."""
    y, p = metrics.columns(target), metrics.columns(pred)
    w = sample_weights(y.shape[0], sample_weight, pred.dtype)
    v = output_weights(y.shape[1], multioutput, pred.dtype)
    terms = w[:, None] * _pinball(p, y, alpha)
    candidates = _pinball(y[None, :, :], y[:, None, :], alpha)  # [i, k, j]: ρ(y_i − y_k) in column j
    denominator = np.min(np.sum(w[:, None, None] * candidates, axis=0), axis=0)
    slopes = w[:, None] * _pinball_slope(p, y, alpha)
    parts = _fraction(terms, slopes, np.sum(terms, axis=0), denominator, w, v)
    return shape_back(parts[0], pred), shape_back(parts[1], pred)


def d2_pinball_elements(pred, target, *, alpha: float = 0.5, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, alpha, sample_weight, multioutput)[0]


def d2_pinball_vjp(pred, target, cot, *, alpha: float = 0.5, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, alpha, sample_weight, multioutput)[1]


def d2_absolute_elements(pred, target, *, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, 0.5, sample_weight, multioutput)[0]


def d2_absolute_vjp(pred, target, cot, *, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, 0.5, sample_weight, multioutput)[1]


def _d2_tweedie(pred: Array, target: Array, power: float, sample_weight: Array | None) -> tuple[Array, Array]:
    """1 − mean_w d(y, ŷ) / mean_w d(y, ȳ_w): no force_finite here, so a zero denominator is refused."""
    y, p = target.ravel(), pred.ravel()
    w = sample_weights(y.size, sample_weight, pred.dtype)
    baseline = np.full_like(y, np.sum(w * y) / w.sum())
    denominator = np.sum(w * metrics.tweedie(baseline, y, power=power))
    if denominator == 0:
        raise InputError("scikit-learn's d2_tweedie_score divides by 0 here (every target is equal): it gives nan")
    contributions = w / w.sum() - w * metrics.tweedie(p, y, power=power) / denominator
    gradient = -w * metrics.tweedie_grad(p, y, power=power) / denominator
    return contributions.reshape(pred.shape), gradient.reshape(pred.shape)


def d2_tweedie_elements(pred, target, *, power: float = 0.0, sample_weight=None):
    return _d2_tweedie(pred, target, power, sample_weight)[0]


def d2_tweedie_vjp(pred, target, cot, *, power: float = 0.0, sample_weight=None):
    return _d2_tweedie(pred, target, power, sample_weight)[1]


def _check_d2_tweedie(pred: Array, target: Array, *, power: float = 0.0, **_: Any) -> None:
    check_two_samples(pred, target)
    check_one_output(pred, target)
    metrics.check_tweedie(pred, target, power=power)


CONVENTIONS = (
    declare(
        "r2",
        ("r2_score",),
        (r2_elements, r2_vjp),
        WHOLE + "force_finite: a constant target scores 1 if predicted exactly, else 0; nan below 2 samples",
        f"{REGRESSION}:1157, 1290-1320, 946-977",
        params=(SCORE_MULTIOUTPUT,),
        check=check_two_samples,
        contributions=True,
    ),
    declare(
        "explained_variance",
        ("explained_variance_score",),
        (explained_elements, explained_vjp),
        WHOLE + "weighted variances; force_finite as r2_score",
        f"{REGRESSION}:1009, 1113-1137",
        params=(SCORE_MULTIOUTPUT,),
        check=check,
        contributions=True,
    ),
    declare(
        "d2_absolute_error",
        ("d2_absolute_error_score",),
        (d2_absolute_elements, d2_absolute_vjp),
        WHOLE + "baseline: the weighted median of y_true; force_finite",
        f"{REGRESSION}:1882-1990",
        params=(MULTIOUTPUT,),
        check=check_two_samples,
        contributions=True,
    ),
    declare(
        "d2_pinball",
        ("d2_pinball_score",),
        (d2_pinball_elements, d2_pinball_vjp),
        WHOLE + "baseline: the weighted α-percentile of y_true; the slope at ŷ = y is −α (its sign = (y − ŷ ≥ 0))",
        f"{REGRESSION}:1711, 1826-1879",
        params=(ALPHA, MULTIOUTPUT),
        check=check_two_samples,
        contributions=True,
    ),
    declare(
        "d2_tweedie",
        ("d2_tweedie_score",),
        (d2_tweedie_elements, d2_tweedie_vjp),
        WHOLE + "baseline: the weighted mean of y_true; one output; no force_finite",
        f"{REGRESSION}:1594, 1654-1708",
        params=(POWER,),
        check=_check_d2_tweedie,
        contributions=True,
    ),
)
