"""scikit-learn (``sklearn.metrics``): weighted averages per output, machine-ε clipping, labels read off y_true.

Sources are scikit-learn 1.9.1, ``sklearn/metrics/_classification.py`` and
``_regression.py``.  Metrics are averaged with ``np.average(…, weights=sample_weight)``
per output column, then over the columns (``multioutput='uniform_average'`` or
weights); ``log_loss(normalize=False)`` is the weighted sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions import sklearn_columns, sklearn_logloss, sklearn_rows, sklearn_scores
from lossctl.conventions.base import Array, Library, elementwise, require_same_shape
from lossctl.conventions.sklearn_common import (
    MULTIOUTPUT,
    REGRESSION,
    declare,
    output_weights,
    sample_weights,
)
from lossctl.errors import InputError
from lossctl.losses.spec import Param

MACHINE_EPSILON = float(np.finfo(np.float64).eps)  # _regression.py:494, _classification.py:3454


def _column_weights(elements: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    """Per-sample weights and per-output weights, normalised so that value = Σ cot · elements."""
    w = sample_weights(elements.shape[0] if elements.ndim else 1, sample_weight, elements.dtype)
    outputs = elements.shape[1] if elements.ndim == 2 else 1
    return w / w.sum(), output_weights(outputs, multioutput, elements.dtype)


def reduce(
    elements: Array, sample_weight: Array | None, mask: Array | None, reduction: str, multioutput: Any = None
) -> tuple[Any, Array]:
    """_regression.py:290-305: np.average over samples (weighted), then over outputs; 'sum' is Σ w·loss."""
    if reduction == "none":
        return elements, np.ones_like(elements)
    if reduction == "sum":  # log_loss(normalize=False): numpy.dot(loss, sample_weight)
        w = np.ones_like(elements) if sample_weight is None else np.asarray(sample_weight, dtype=elements.dtype)
        return elements.dtype.type(np.sum(elements * w)), w.astype(elements.dtype)
    w, v = _column_weights(elements, sample_weight, multioutput)
    cot = w[:, None] * v[None, :] if elements.ndim == 2 else w.reshape(elements.shape)
    return elements.dtype.type(np.sum(elements * cot)), cot


# --- regression ------------------------------------------------------------------------------


def _check_regression(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "scikit-learn")
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; scikit-learn takes (n_samples,) or (n_samples, n_outputs)")


def _check_msle(pred: Array, target: Array, **_: Any) -> None:
    """_regression.py:767-771: values ≤ −1 are refused."""
    _check_regression(pred, target)
    if np.any(target <= -1) or np.any(pred <= -1):
        raise InputError(
            "scikit-learn's mean_squared_log_error raises for values ≤ −1 "
            "(Mean Squared Logarithmic Error cannot be used when targets contain values less than or equal to -1)"
        )


def _pinball_term(pred: Array, target: Array, alpha: float = 0.5) -> Array:
    diff = target - pred
    sign = (diff >= 0).astype(pred.dtype)
    return alpha * sign * diff - (1 - alpha) * (1 - sign) * diff


def _pinball_derivative(pred: Array, target: Array, alpha: float = 0.5) -> Array:
    sign = (target - pred >= 0).astype(pred.dtype)
    return -alpha * sign + (1 - alpha) * (1 - sign)


def _mape_denominator(target: Array) -> Array:
    return np.maximum(np.abs(target), target.dtype.type(MACHINE_EPSILON))


mse = elementwise(lambda p, t: np.square(t - p), lambda p, t: 2 * (p - t))
mae = elementwise(lambda p, t: np.abs(t - p), lambda p, t: np.sign(p - t))
mape = elementwise(
    lambda p, t: np.abs(p - t) / _mape_denominator(t), lambda p, t: np.sign(p - t) / _mape_denominator(t)
)
msle = elementwise(
    lambda p, t: np.square(np.log1p(t) - np.log1p(p)), lambda p, t: 2 * (np.log1p(p) - np.log1p(t)) / (1 + p)
)
pinball = elementwise(_pinball_term, _pinball_derivative)


CONVENTIONS = (
    *sklearn_logloss.CONVENTIONS,
    declare(
        "mse",
        ("mean_squared_error",),
        mse,
        "per-output weighted average (np.average with sample_weight), then over outputs",
        f"{REGRESSION}:524, 586-602",
        params=(MULTIOUTPUT,),
        check=_check_regression,
    ),
    declare(
        "l1",
        ("mean_absolute_error",),
        mae,
        "per-output weighted average (np.average with sample_weight), then over outputs",
        f"{REGRESSION}:225, 290-305",
        params=(MULTIOUTPUT,),
        check=_check_regression,
    ),
    declare(
        "mape",
        ("mean_absolute_percentage_error",),
        mape,
        "a fraction (not ×100) with |y| floored at machine eps 2.2e-16",
        f"{REGRESSION}:419, 494-510",
        params=(MULTIOUTPUT,),
        check=_check_regression,
    ),
    declare(
        "msle",
        ("mean_squared_log_error",),
        msle,
        "log1p without clipping; raises for values ≤ −1",
        f"{REGRESSION}:701, 767-778",
        params=(MULTIOUTPUT,),
        check=_check_msle,
    ),
    declare(
        "quantile",
        ("mean_pinball_loss",),
        pinball,
        "alpha = 0.5 by default (the median); per-output weighted average",
        f"{REGRESSION}:320, 391-407",
        params=(Param("alpha", "float", 0.5, "the quantile", low=0.0, high=1.0), MULTIOUTPUT),
        check=_check_regression,
    ),
    *sklearn_rows.CONVENTIONS,
    *sklearn_columns.CONVENTIONS,
    *sklearn_scores.CONVENTIONS,
)

LIBRARY = Library(
    name="sklearn",
    title="scikit-learn",
    reductions=("mean", "none"),
    reduce=reduce,
    dtype="float64",
    sample_weight=True,
    conventions=CONVENTIONS,
    source=f"{REGRESSION}:290-305 (np.average per output, then over outputs)",
)
