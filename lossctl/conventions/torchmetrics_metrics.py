"""torchmetrics' regression metrics that lossctl took over: Minkowski, RSE, SMAPE, WMAPE, Tweedie deviance.

Sources are torchmetrics 1.9.0, ``src/torchmetrics/functional/regression/``.  Minkowski, RSE and
WMAPE are whole-tensor ratios or norms, declared with ``contributions=True`` (value = the sum of
the elements); SMAPE and the Tweedie deviance are plain means over every element.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention, elementwise, require_same_shape
from lossctl.errors import InputError
from lossctl.losses import metrics
from lossctl.losses.spec import Param

SOURCE = "torchmetrics 1.9.0 src/torchmetrics/functional/regression"


def _check(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "torchmetrics")


def _check_columns(pred: Array, target: Array, **_: Any) -> None:
    """r2.py:34-38 (RSE shares R²'s update): (N,) or (N, M) only."""
    _check(pred, target)
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; torchmetrics' relative_squared_error takes (N,) or (N, M)")


def _check_minkowski(pred: Array, target: Array, *, p: float = 2.0, **_: Any) -> None:
    """minkowski.py:34-35: p must be ≥ 1."""
    _check(pred, target)
    if p < 1:
        raise InputError(f"--set p must be ≥ 1 (torchmetrics raises TorchMetricsUserError), got {p:g}")


def minkowski_elements(pred: Array, target: Array, *, p: float = 2.0, sample_weight: Array | None = None) -> Array:
    return metrics.minkowski(pred, target, p=p)


def minkowski_vjp(pred: Array, target: Array, cot: Array, *, p: float = 2.0, sample_weight: Array | None = None):
    return metrics.minkowski_grad(pred, target, p=p)


def _rse(pred: Array, target: Array, squared: bool) -> tuple[Array, Array]:
    """rse.py:47-51: per column SSE / max(SS_tot, eps), its square root unless squared, then the mean."""
    e, y = metrics.columns(pred - target), metrics.columns(target)
    total = np.maximum(np.sum((y - y.mean(axis=0)) ** 2, axis=0), np.finfo(pred.dtype).eps)
    outputs = e.shape[1]
    ratio = np.sum(e * e, axis=0) / total
    if squared:
        scale = 1.0 / (total * outputs)
    else:
        root = np.sqrt(ratio)
        scale = np.where(root > 0, 1.0 / (2.0 * np.where(root > 0, root, 1.0) * total * outputs), 0.0)
        contributions = np.where(root > 0, e * e / (total * np.where(root > 0, root, 1.0) * outputs), 0.0)
        return contributions.reshape(pred.shape), (2.0 * e * scale).reshape(pred.shape)
    return (e * e * scale).reshape(pred.shape), (2.0 * e * scale).reshape(pred.shape)


def rse_elements(pred: Array, target: Array, *, squared: bool = True, sample_weight: Array | None = None) -> Array:
    return _rse(pred, target, squared)[0]


def rse_vjp(pred: Array, target: Array, cot: Array, *, squared: bool = True, sample_weight: Array | None = None):
    return _rse(pred, target, squared)[1]


def wmape_elements(pred: Array, target: Array, *, sample_weight: Array | None = None) -> Array:
    return metrics.wmape(pred, target)


def wmape_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None) -> Array:
    return metrics.wmape_grad(pred, target)


smape = elementwise(metrics.smape, metrics.smape_grad)


def _tweedie_elements(pred: Array, target: Array, *, power: float = 0.0) -> Array:
    return metrics.tweedie(pred, target, power=power)


def _tweedie_derivative(pred: Array, target: Array, *, power: float = 0.0) -> Array:
    return metrics.tweedie_grad(pred, target, power=power)


def _check_tweedie(pred: Array, target: Array, *, power: float = 0.0, **_: Any) -> None:
    """tweedie_deviance.py:39-73: the same domains as scikit-learn; 0 < power < 1 raises."""
    _check(pred, target)
    metrics.check_tweedie(pred, target, power=power)


def _declare(loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, line: str, **more: Any):
    return Convention("torchmetrics", loss, names, pair[0], pair[1], reason, f"{SOURCE}/{line}", **more)


CONVENTIONS = (
    _declare(
        "minkowski",
        ("minkowski_distance",),
        (minkowski_elements, minkowski_vjp),
        "a norm over every element, not a mean: (Σ|e|^p)^(1/p)",
        "minkowski.py:21-84",
        params=(Param("p", "float", 2.0, "the order p ≥ 1"),),
        check=_check_minkowski,
        contributions=True,
    ),
    _declare(
        "relative_squared_error",
        ("relative_squared_error",),
        (rse_elements, rse_vjp),
        "per column SSE / max(SS_tot, machine eps), then the mean over columns; squared=False takes roots first",
        "rse.py:22-80",
        params=(Param("squared", "bool", True, "False: the root relative squared error"),),
        check=_check_columns,
        contributions=True,
    ),
    _declare(
        "wmape",
        ("weighted_mean_absolute_percentage_error",),
        (wmape_elements, wmape_vjp),
        "one ratio Σ|e| / max(Σ|y|, 1.17e-6) over every element",
        "wmape.py:21-84",
        check=_check,
        contributions=True,
    ),
    _declare(
        "smape",
        ("symmetric_mean_absolute_percentage_error",),
        smape,
        "2|e| / max(|y| + |ŷ|, 1.17e-6), averaged over every element",
        "symmetric_mape.py:22-65",
        check=_check,
    ),
    _declare(
        "tweedie_deviance",
        ("tweedie_deviance_score",),
        elementwise(_tweedie_elements, _tweedie_derivative),
        "the deviance averaged over every element (any shape); power 0 by default",
        "tweedie_deviance.py:22-141",
        params=(Param("power", "float", 0.0, "Tweedie power: ≤ 0 or ≥ 1"),),
        check=_check_tweedie,
    ),
)
