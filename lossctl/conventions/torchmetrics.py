"""torchmetrics (``torchmetrics.functional``): plain means over every element, its own ε, no clipping.

Sources are torchmetrics 1.9.0, ``src/torchmetrics/functional/regression/``.  The
functionals take no sample weights; they compute in the inputs' dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions import (
    torchmetrics_hinge,
    torchmetrics_kl,
    torchmetrics_metrics,
    torchmetrics_scores,
    torchmetrics_tasks,
)
from lossctl.conventions.base import Array, Convention, Library, elementwise, plain_reduce, require_same_shape
from lossctl.errors import InputError
from lossctl.losses.spec import Param

MAPE_EPSILON = 1.17e-06  # functional/regression/mape.py:25
SOURCE = "torchmetrics 1.9.0 src/torchmetrics/functional/regression"


def _check(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "torchmetrics")


def _check_one_output(pred: Array, target: Array, **_: Any) -> None:
    _check(pred, target)
    if pred.ndim > 1 and pred.shape[1] != 1:
        raise InputError(
            "torchmetrics' log_cosh_error returns one value per output column; give one column "
            f"(--pred has shape {pred.shape})"
        )


def _mape_denominator(target: Array) -> Array:
    return np.maximum(np.abs(target), target.dtype.type(MAPE_EPSILON))


def _log_cosh(pred: Array, target: Array) -> Array:
    """log_cosh.py:47: log((e^d + e^−d)/2), which overflows to inf for |d| > ~710 (float64)."""
    diff = pred - target
    return np.log((np.exp(diff) + np.exp(-diff)) / 2)


mape = elementwise(
    lambda p, t: np.abs(p - t) / _mape_denominator(t), lambda p, t: np.sign(p - t) / _mape_denominator(t)
)
msle = elementwise(
    lambda p, t: np.square(np.log1p(p) - np.log1p(t)), lambda p, t: 2 * (np.log1p(p) - np.log1p(t)) / (1 + p)
)
log_cosh = elementwise(_log_cosh, lambda p, t: np.tanh(p - t))


def _declare(
    loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, line: str, **more: Any
) -> Convention:
    return Convention("torchmetrics", loss, names, pair[0], pair[1], reason, f"{SOURCE}/{line}", **more)


CONVENTIONS = (
    *torchmetrics_scores.CONVENTIONS[:2],  # mean_squared_error (squared, num_outputs), mean_absolute_error
    _declare(
        "mape",
        ("mean_absolute_percentage_error",),
        mape,
        "a fraction with |y| floored at ε = 1.17e-6",
        "mape.py:25, 41-47",
        check=_check,
    ),
    _declare(
        "msle",
        ("mean_squared_log_error",),
        msle,
        "log1p without clipping or checks (nan below −1)",
        "log_mse.py:31",
        check=_check,
    ),
    _declare(
        "log_cosh",
        ("log_cosh_error",),
        log_cosh,
        "log((e^d + e^−d)/2): overflows to inf for |error| > ~710 where lossctl stays finite",
        "log_cosh.py:47-60",
        check=_check_one_output,
    ),
    *torchmetrics_metrics.CONVENTIONS,
    *torchmetrics_scores.CONVENTIONS[2:],  # r2_score, explained_variance
    *torchmetrics_hinge.CONVENTIONS,
    *torchmetrics_tasks.CONVENTIONS,  # after binary_hinge_loss: --convention torchmetrics on hinge stays binary
    *torchmetrics_kl.CONVENTIONS,
)

LIBRARY = Library(
    name="torchmetrics",
    title="torchmetrics",
    reductions=("mean", "sum", "none"),
    reduce=plain_reduce,
    conventions=CONVENTIONS,
    source=f"{SOURCE} (the functionals return the metric itself)",
)

__all__ = ["LIBRARY", "Param"]
