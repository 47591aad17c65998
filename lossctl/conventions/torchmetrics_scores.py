"""torchmetrics' own R², explained variance, and MSE/MAE with ``squared`` and ``num_outputs``.

Sources are torchmetrics 1.9.0, ``src/torchmetrics/functional/regression/`` (r2.py, explained_variance.py,
mse.py, mae.py).  All are whole-tensor metrics, declared with ``contributions=True``: each element gives
its share of the value, the value is their sum (per output column when the library returns one value per
output: ``multioutput=raw_values`` or ``num_outputs > 1``), and no sample weights exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention, require_same_shape
from lossctl.errors import InputError
from lossctl.losses import metrics
from lossctl.losses.spec import Param

SOURCE = "torchmetrics 1.9.0 src/torchmetrics/functional/regression"
ZERO_TOLERANCE = 1e-4  # r2.py:84-85 torch.isclose(…, 0, atol=1e-4): smaller sums count as 0


def _output_weights(multioutput: Any, variances: Array) -> Array:
    """r2.py:91-101: uniform_average, raw_values (1 each), variance_weighted (tss / Σ tss)."""
    outputs = variances.size
    if multioutput is None:
        return np.full(outputs, 1.0 / outputs)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return np.ones(outputs)
    if isinstance(multioutput, str):  # variance_weighted
        return variances / np.sum(variances)
    raise InputError("--set multioutput must be uniform_average, raw_values or variance_weighted for torchmetrics")


def _check_columns(pred: Array, target: Array, **_: Any) -> None:
    """r2.py:31-36: same shape, (N,) or (N, M), at least two samples (r2.py:77)."""
    require_same_shape(pred, target, "torchmetrics")
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; torchmetrics takes (N,) or (N, M) here")
    if pred.shape[0] < 2:
        raise InputError("torchmetrics needs at least two samples here (it raises ValueError)")


# --- r2_score: r2.py:23-119 ------------------------------------------------------------------------------


def _adjustment(adjusted: int, samples: int) -> float:
    """r2.py:105-117: 1 − (1 − R²)(n − 1)/(n − k − 1) = a R² + 1 − a; k ≥ n − 1 falls back to R² (a = 1)."""
    if adjusted == 0 or adjusted >= samples - 1:
        return 1.0
    return (samples - 1) / (samples - adjusted - 1)


def _r2(pred: Array, target: Array, adjusted: int, multioutput: Any) -> tuple[Array, Array]:
    y, e = metrics.columns(target), metrics.columns(target - pred)
    n = y.shape[0]
    total = np.sum(y, axis=0)
    tss = np.sum(y * y, axis=0) - total * (total / n)  # r2.py:80-81
    rss = np.sum(e * e, axis=0)
    some_rss, some_tss = np.abs(rss) > ZERO_TOLERANCE, np.abs(tss) > ZERO_TOLERANCE
    valid = some_rss & some_tss
    safe = np.where(valid, tss, 1.0)
    score_one = ~some_rss  # r2.py:88: a residual sum within 1e-4 of 0 scores 1 (0 when only tss is ~0)
    v = _output_weights(multioutput, tss)
    a = _adjustment(adjusted, n)
    contributions = (np.where(valid, 1.0 / n - e * e / safe, np.where(score_one, 1.0 / n, 0.0)) * a + (1 - a) / n) * v
    gradient = np.where(valid, 2 * e / safe, 0.0) * v * a
    return contributions.reshape(pred.shape), gradient.reshape(pred.shape)


def r2_elements(pred, target, *, adjusted: int = 0, multioutput: Any = None, sample_weight=None) -> Array:
    return _r2(pred, target, adjusted, multioutput)[0]


def r2_vjp(pred, target, cot, *, adjusted: int = 0, multioutput: Any = None, sample_weight=None) -> Array:
    return _r2(pred, target, adjusted, multioutput)[1]


def _check_r2(pred: Array, target: Array, *, adjusted: int = 0, **_: Any) -> None:
    _check_columns(pred, target)
    if adjusted < 0:
        raise InputError(f"--set adjusted must be a whole number ≥ 0 (torchmetrics raises), got {adjusted}")


# --- explained_variance: explained_variance.py:26-100 ------------------------------------------------------


def _explained(pred: Array, target: Array, multioutput: Any) -> tuple[Array, Array]:
    """numerator = mean(d²) − mean(d)², denominator = mean(y²) − mean(y)² (d = y − ŷ), exact zero tests."""
    y, d = metrics.columns(target), metrics.columns(target - pred)
    n = y.shape[0]
    mean_d = np.sum(d, axis=0) / n
    numerator = np.sum(d * d, axis=0) / n - mean_d * mean_d
    mean_y = np.sum(y, axis=0) / n
    denominator = np.sum(y * y, axis=0) / n - mean_y * mean_y
    valid = (numerator != 0) & (denominator != 0)
    safe = np.where(valid, denominator, 1.0)
    v = _output_weights(multioutput, denominator)
    fixed = np.where(numerator == 0, 1.0 / n, 0.0)  # :88-90: a zero numerator scores 1, else a zero denominator 0
    contributions = np.where(valid, 1.0 / n - (d * d - d * mean_d) / (n * safe), fixed) * v
    gradient = np.where(valid, 2 * (d - mean_d) / (n * safe), 0.0) * v
    return contributions.reshape(pred.shape), gradient.reshape(pred.shape)


def explained_elements(pred, target, *, multioutput: Any = None, sample_weight=None) -> Array:
    return _explained(pred, target, multioutput)[0]


def explained_vjp(pred, target, cot, *, multioutput: Any = None, sample_weight=None) -> Array:
    return _explained(pred, target, multioutput)[1]


# --- mean_squared_error / mean_absolute_error: mse.py:22-82, mae.py:22-82 -----------------------------------


def _per_output(pred: Array, target: Array, num_outputs: int) -> tuple[Array, int]:
    """mse.py:34-39: flattened when num_outputs = 1, else summed over the first axis (one value per output)."""
    e = (pred - target).reshape(-1) if num_outputs == 1 else metrics.columns(pred - target)
    return (e if e.ndim > 1 else e[:, None]), e.shape[0]


def _mse(pred: Array, target: Array, squared: bool, num_outputs: int) -> tuple[Array, Array]:
    """Σ e²/n per output, its square root when squared=False (mse.py:58; the root's gradient 0 where it is 0)."""
    e, n = _per_output(pred, target, num_outputs)
    if squared:
        return (e * e / n).reshape(pred.shape), (2 * e / n).reshape(pred.shape)
    root = np.sqrt(np.sum(e * e, axis=0) / n)
    scale = np.where(root > 0, 1.0 / (n * np.where(root > 0, root, 1.0)), 0.0)
    return (e * e * scale).reshape(pred.shape), (e * scale).reshape(pred.shape)


def mse_elements(pred, target, *, squared: bool = True, num_outputs: int = 1, sample_weight=None) -> Array:
    return _mse(pred, target, squared, num_outputs)[0]


def mse_vjp(pred, target, cot, *, squared: bool = True, num_outputs: int = 1, sample_weight=None) -> Array:
    return _mse(pred, target, squared, num_outputs)[1]


def mae_elements(pred, target, *, num_outputs: int = 1, sample_weight=None) -> Array:
    e, n = _per_output(pred, target, num_outputs)
    return (np.abs(e) / n).reshape(pred.shape)


def mae_vjp(pred, target, cot, *, num_outputs: int = 1, sample_weight=None) -> Array:
    e, n = _per_output(pred, target, num_outputs)
    return (np.sign(e) / n).reshape(pred.shape)


def _check_outputs(pred: Array, target: Array, *, num_outputs: int = 1, **_: Any) -> None:
    require_same_shape(pred, target, "torchmetrics")
    if num_outputs < 1:
        raise InputError(f"--set num_outputs must be ≥ 1, got {num_outputs}")
    if num_outputs > 1 and pred.ndim != 2:
        raise InputError(f"--set num_outputs={num_outputs} needs --pred of shape (N, {num_outputs})")


def _several_outputs(num_outputs: int = 1, **_: Any) -> bool:
    return num_outputs > 1


MULTIOUTPUT = Param("multioutput", "choice", "uniform_average", "uniform_average, raw_values or variance_weighted")
NUM_OUTPUTS = Param("num_outputs", "int", 1, "1: one value over every element; more: one value per output column")


def _declare(loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, line: str, **more: Any):
    return Convention(
        "torchmetrics", loss, names, pair[0], pair[1], reason, f"{SOURCE}/{line}", contributions=True, **more
    )


CONVENTIONS = (
    _declare(
        "mse",
        ("mean_squared_error",),
        (mse_elements, mse_vjp),
        "the mean over every element; squared=False gives its root (RMSE); num_outputs > 1: one value per column",
        "mse.py:22-82",
        params=(Param("squared", "bool", True, "False: the root mean squared error"), NUM_OUTPUTS),
        reductions=("mean", "none"),
        check=_check_outputs,
        vector_value=_several_outputs,
    ),
    _declare(
        "l1",
        ("mean_absolute_error",),
        (mae_elements, mae_vjp),
        "the mean over every element; num_outputs > 1: one value per column",
        "mae.py:22-82",
        params=(NUM_OUTPUTS,),
        reductions=("mean", "none"),
        check=_check_outputs,
        vector_value=_several_outputs,
    ),
    _declare(
        "r2",
        ("r2_score",),
        (r2_elements, r2_vjp),
        "sums within 1e-4 of 0 count as 0 (scikit-learn: exactly 0); adjusted R² with k regressors; no weights",
        "r2.py:23-119",
        params=(Param("adjusted", "int", 0, "the number k of independent regressors (adjusted R²)"), MULTIOUTPUT),
        reductions=("mean", "none"),
        check=_check_r2,
    ),
    _declare(
        "explained_variance",
        ("explained_variance",),
        (explained_elements, explained_vjp),
        "variances as mean(x²) − mean(x)² with exact zero tests; no sample weights",
        "explained_variance.py:26-100",
        params=(MULTIOUTPUT,),
        reductions=("mean", "none"),
        check=_check_columns,
    ),
)
