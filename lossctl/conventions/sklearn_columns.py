"""scikit-learn's per-output roots and order statistics: RMSE, RMSLE, median absolute error, max error.

Whole-column metrics, declared with ``contributions=True``: their elements are each value's contribution
(computed with the sample weights) and the value is their sum.  Sources are scikit-learn 1.9.1
``sklearn/metrics/_regression.py`` and ``sklearn/utils/stats.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array
from lossctl.conventions.sklearn_common import (
    MULTIOUTPUT,
    REGRESSION,
    STATS,
    WHOLE,
    check,
    check_one_output,
    declare,
    no_weights,
    output_weights,
    sample_weights,
    shape_back,
)
from lossctl.errors import InputError
from lossctl.losses import metrics

# --- RMSE / RMSLE per output: _regression.py:616-698, 790-866 --------------------------------------------


def _root_mean(values: Array, slopes: Array, pred: Array, sample_weight: Array | None, multioutput: Any):
    """Contributions of Σⱼ vⱼ sqrt(Σᵢ wᵢ uᵢⱼ² / Σw) (u = values), and the gradient given ∂u/∂ŷ = slopes."""
    u = metrics.columns(values)
    w = sample_weights(u.shape[0], sample_weight, pred.dtype)
    w = (w / w.sum())[:, None]
    v = output_weights(u.shape[1], multioutput, pred.dtype)
    root = np.sqrt(np.sum(w * u * u, axis=0))
    scale = np.where(root > 0, v / np.where(root > 0, root, 1.0), 0.0)
    contributions = w * u * u * scale
    gradient = w * u * metrics.columns(slopes) * scale
    return shape_back(contributions, pred), shape_back(gradient, pred)


def rmse_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None) -> Array:
    return _root_mean(pred - target, np.ones_like(pred), pred, sample_weight, multioutput)[0]


def rmse_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _root_mean(pred - target, np.ones_like(pred), pred, sample_weight, multioutput)[1]


def _log_error(pred: Array, target: Array) -> tuple[Array, Array]:
    return np.log1p(pred) - np.log1p(target), 1.0 / (1.0 + pred)


def rmsle_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _root_mean(*_log_error(pred, target), pred, sample_weight, multioutput)[0]


def rmsle_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _root_mean(*_log_error(pred, target), pred, sample_weight, multioutput)[1]


def _check_rmsle(pred: Array, target: Array, **_: Any) -> None:
    check(pred, target)
    if np.any(target <= -1) or np.any(pred <= -1):
        raise InputError("scikit-learn's root_mean_squared_log_error raises for values ≤ −1")


# --- median absolute error: _regression.py:869-943 with utils/stats.py _weighted_percentile -------------


def weighted_median_weights(values: Array, w: Array) -> Array:
    """Which values _weighted_percentile(average=True) returns at rank 50: 1 on one, or ½ on two (stats.py:130-214)."""
    n = values.shape[0]
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(w[order])
    rank = 0.5 * cdf[-1]
    i = min(int(np.searchsorted(cdf, rank)), n - 1)
    picks = np.zeros(n, dtype=values.dtype)
    if cdf[i] - rank > np.finfo(values.dtype).eps:
        picks[order[i]] = 1.0
        return picks
    following = min(i + 1, n - 1)
    if w[order[following]] == 0:
        following = int(np.searchsorted(cdf, cdf[i], side="right"))
        following = i if following > n - 1 else following
    picks[order[i]] += 0.5
    picks[order[following]] += 0.5
    return picks


def _median_parts(pred: Array, target: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    e = metrics.columns(pred - target)
    w = sample_weights(e.shape[0], sample_weight, pred.dtype)
    v = output_weights(e.shape[1], multioutput, pred.dtype)
    picks = np.stack([weighted_median_weights(np.abs(e[:, j]), w) for j in range(e.shape[1])], axis=1) * v
    return picks * np.abs(e), picks * np.sign(e)


def median_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return shape_back(_median_parts(pred, target, sample_weight, multioutput)[0], pred)


def median_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return shape_back(_median_parts(pred, target, sample_weight, multioutput)[1], pred)


# --- max error: _regression.py:1328-1362 (no sample weights) -------------------------------------------


def max_error_elements(pred: Array, target: Array, *, sample_weight: Array | None = None) -> Array:
    no_weights(sample_weight, "max_error")
    return metrics.max_error(pred, target)


def max_error_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None) -> Array:
    return metrics.max_error_grad(pred, target)


CONVENTIONS = (
    declare(
        "rmse",
        ("root_mean_squared_error",),
        (rmse_elements, rmse_vjp),
        "the square root per output, then the average over outputs (not the root of the overall mean)",
        f"{REGRESSION}:616, 686-698",
        params=(MULTIOUTPUT,),
        check=check,
        contributions=True,
    ),
    declare(
        "rmsle",
        ("root_mean_squared_log_error",),
        (rmsle_elements, rmsle_vjp),
        "the square root per output, then the average; raises for values ≤ −1",
        f"{REGRESSION}:790, 848-866",
        params=(MULTIOUTPUT,),
        check=_check_rmsle,
        contributions=True,
    ),
    declare(
        "median_absolute_error",
        ("median_absolute_error",),
        (median_elements, median_vjp),
        WHOLE + "np.median per output; with weights the averaged weighted percentile",
        f"{REGRESSION}:869-943; {STATS}:130-214",
        params=(MULTIOUTPUT,),
        check=check,
        contributions=True,
    ),
    declare(
        "max_error",
        ("max_error",),
        (max_error_elements, max_error_vjp),
        WHOLE + "one output only, no sample weights",
        f"{REGRESSION}:1328-1362",
        check=check_one_output,
        contributions=True,
    ),
)
