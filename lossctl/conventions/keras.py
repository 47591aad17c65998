"""Keras 3 (``keras.losses``): last-axis means, ε = 1e-7 clipping, float32, its own reductions.

Sources are keras 3.15.1, ``keras/src/losses/losses.py`` (L) and ``loss.py``
(reductions), and the torch/numpy backends' ``nn.py`` for the cross-entropies.
Keras computes in ``floatx()`` = float32: ``Loss.__call__`` converts y_pred and
y_true to the loss dtype (loss.py:56-64), so this convention defaults to float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions import keras_more
from lossctl.conventions.base import (
    Array,
    Convention,
    Library,
    clip,
    elementwise,
    mean_over,
    mean_over_vjp,
    require_same_shape,
)
from lossctl.errors import InputError
from lossctl.losses._numerics import log_softmax, sigmoid, softplus
from lossctl.losses.spec import Param

EPSILON = 1e-7  # keras/src/backend/config.py:10 _EPSILON
LOSSES_PY = "keras/src/losses/losses.py"
LAST = -1  # Keras reduces over the last axis first


def _eps(x: Array) -> Any:
    return x.dtype.type(EPSILON)


# --- reductions (keras/src/losses/loss.py) -------------------------------------------


def squeeze_or_expand(values: Array, weight: Array) -> tuple[Array, Array]:
    """loss.py:119 squeeze_or_expand_to_same_rank: fix a rank difference of one trailing axis of size 1."""
    if values.ndim == weight.ndim + 1 and values.shape[-1] == 1:
        if weight.ndim == 1:
            weight = weight[..., None]
        else:
            values = values[..., 0]
    if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
        if values.ndim == 1:
            values = values[..., None]
        else:
            weight = weight[..., 0]
    return values, weight


def apply_mask(weight: Array | None, mask: Array | None, reduction: str, dtype: np.dtype) -> Array | None:
    """loss.py:197 apply_mask: masked entries weigh 0, kept ones total/valid under the mean reductions."""
    if mask is None:
        return weight
    if reduction in ("mean", "sum_over_batch_size"):
        valid = float(np.sum(mask))
        scale = mask.size / valid if valid else 0.0
        float_mask = np.where(mask, dtype.type(scale), dtype.type(0))
    else:
        float_mask = mask.astype(dtype)
    if weight is None:
        return float_mask
    float_mask, weight = squeeze_or_expand(float_mask, weight.astype(dtype))
    return weight * float_mask


def reduce(elements: Array, sample_weight: Array | None, mask: Array | None, reduction: str) -> tuple[Any, Array]:
    """loss.py:139 reduce_values and :164 reduce_weighted_values, with ∂value/∂elements.

    sum_over_batch_size (and mean) divide the weighted sum by the number of losses, whatever the weights;
    mean_with_sample_weight divides by Σ sample_weight; a 0-d loss is returned as it is.
    """
    dtype = elements.dtype
    weight = apply_mask(sample_weight, mask, reduction, dtype)
    values, factor = elements, None
    if weight is not None:
        values, factor = squeeze_or_expand(elements, weight.astype(dtype))
        try:
            values = values * factor
        except ValueError as exc:
            raise InputError(
                f"--sample-weight has shape {factor.shape} and the Keras losses shape {elements.shape}: "
                "they do not broadcast; give one weight per sample"
            ) from exc
    ones = np.ones(values.shape, dtype=dtype)
    if reduction == "none" or values.ndim == 0 or values.size == 0:
        return values, _back(ones, factor, elements.shape)
    total = np.sum(values, dtype=dtype)
    if reduction == "sum":
        return dtype.type(total), _back(ones, factor, elements.shape)
    if reduction == "mean_with_sample_weight" and factor is not None:
        divisor = dtype.type(np.sum(factor, dtype=dtype))
    else:
        divisor = dtype.type(values.size)
    if divisor == 0:  # ops.divide_no_nan
        return dtype.type(0), np.zeros(elements.shape, dtype=dtype)
    return dtype.type(total / divisor), _back(ones / divisor, factor, elements.shape)


def _back(cot: Array, factor: Array | None, shape: tuple[int, ...]) -> Array:
    """∂value/∂elements from ∂value/∂(weighted values): times the weights, summed back to the elements' shape."""
    from lossctl.conventions.base import unbroadcast

    if factor is not None:
        cot = cot * factor
    return unbroadcast(np.asarray(cot), shape).reshape(shape)


# --- regression ------------------------------------------------------------------------


def _mape_denominator(target: Array) -> Array:
    return np.maximum(np.abs(target), _eps(target))


def _msle_logs(pred: Array, target: Array) -> tuple[Array, Array]:
    return np.log(np.maximum(pred, _eps(pred)) + 1), np.log(np.maximum(target, _eps(target)) + 1)


def _msle_term(pred: Array, target: Array) -> Array:
    first, second = _msle_logs(pred, target)
    return np.square(first - second)


def _msle_derivative(pred: Array, target: Array) -> Array:
    first, second = _msle_logs(pred, target)
    return 2 * (first - second) / (np.maximum(pred, _eps(pred)) + 1) * (pred >= _eps(pred))


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
    lambda p, t: p - t * np.log(p + _eps(p)), lambda p, t: 1 - t / (p + _eps(p)), LAST
)
hinge_elements, hinge_vjp = elementwise(_hinge_margin, lambda p, t: -hinge_labels(t) * (_hinge_margin(p, t) > 0), LAST)
squared_hinge_elements, squared_hinge_vjp = elementwise(
    lambda p, t: np.square(_hinge_margin(p, t)), lambda p, t: -2 * hinge_labels(t) * _hinge_margin(p, t), LAST
)


def _kl_clipped(pred: Array, target: Array) -> tuple[Array, Array, Array]:
    t, _ = clip(target, _eps(target), 1)
    p, inside = clip(pred, _eps(pred), 1)
    return t, p, inside


def kl_elements(pred: Array, target: Array) -> Array:
    """losses.py:2104-2106: both clipped to [ε, 1], Σ t log(t/p) over the last axis; pred is a probability."""
    t, p, _ = _kl_clipped(pred, target)
    return np.sum(t * np.log(t / p), axis=LAST)


def kl_vjp(pred: Array, target: Array, cot: Array) -> Array:
    t, p, inside = _kl_clipped(pred, target)
    return np.expand_dims(cot, LAST) * (-t / p) * inside


# --- binary cross-entropy --------------------------------------------------------------


def _smoothed_binary(target: Array, label_smoothing: float) -> Array:
    """losses.py:2412: labels squeezed towards ½."""
    if not label_smoothing:
        return target
    ls = target.dtype.type(label_smoothing)
    return target * (1 - ls) + ls / 2


def _bce_term(pred: Array, target: Array, from_logits: bool, label_smoothing: float) -> Array:
    t = _smoothed_binary(target, label_smoothing)
    if from_logits:  # torch backend nn.py:952 binary_cross_entropy_with_logits
        return np.maximum(pred, 0) - pred * t + np.log1p(np.exp(-np.abs(pred)))
    o, _ = clip(pred, _eps(pred), 1 - _eps(pred))  # torch backend nn.py:955, numpy backend nn.py:926
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def _bce_derivative(pred: Array, target: Array, from_logits: bool, label_smoothing: float) -> Array:
    t = _smoothed_binary(target, label_smoothing)
    if from_logits:
        return sigmoid(pred) - t
    o, inside = clip(pred, _eps(pred), 1 - _eps(pred))
    return (-t / o + (1 - t) / (1 - o)) * inside


def bce_elements(
    pred: Array, target: Array, *, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Array:
    return mean_over(_bce_term(pred, target, from_logits, label_smoothing), axis)


def bce_vjp(
    pred: Array,
    target: Array,
    cot: Array,
    *,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    local = _bce_derivative(pred, target, from_logits, label_smoothing)
    return mean_over_vjp(cot, pred.shape, axis, pred.dtype) * local


def check_axis(pred: Array, target: Array, *, axis: int = -1, **_: Any) -> None:
    if not -pred.ndim <= axis < pred.ndim:
        raise InputError(f"--set axis={axis} is out of range for --pred with {pred.ndim} axes")


def _check_same_and_axis(pred: Array, target: Array, **params: Any) -> None:
    _check_same(pred, target)
    check_axis(pred, target, **params)


# --- categorical cross-entropy (probabilities renormalised, then clipped) ----------------


def _probabilities(pred: Array) -> tuple[Array, Array, Array, Array]:
    """numpy backend nn.py:878-880: output / Σ output over the class axis, then clip to [ε, 1 − ε]."""
    total = np.sum(pred, axis=LAST, keepdims=True)
    q = pred / total
    o, inside = clip(q, _eps(pred), 1 - _eps(pred))
    return total, q, o, inside


def _categorical(pred: Array, t: Array, from_logits: bool) -> Array:
    if from_logits:
        return -np.sum(t * log_softmax(pred, LAST), axis=LAST)
    _, _, o, _ = _probabilities(pred)
    return -np.sum(t * np.log(o), axis=LAST)


def _categorical_vjp(pred: Array, t: Array, cot: Array, from_logits: bool) -> Array:
    cot = np.expand_dims(cot, LAST)
    if from_logits:
        probabilities = np.exp(log_softmax(pred, LAST))
        return cot * (probabilities * np.sum(t, axis=LAST, keepdims=True) - t)
    total, q, o, inside = _probabilities(pred)
    g = -t / o * inside  # ∂loss/∂q
    return cot * (g - np.sum(g * q, axis=LAST, keepdims=True)) / total


def _smoothed_categorical(target: Array, label_smoothing: float) -> Array:
    """losses.py:2202: (1 − ε) t + ε / C."""
    if not label_smoothing:
        return target
    ls = target.dtype.type(label_smoothing)
    return target * (1 - ls) + ls / target.shape[LAST]


def cce_elements(pred: Array, target: Array, *, from_logits: bool = False, label_smoothing: float = 0.0) -> Array:
    return _categorical(pred, _smoothed_categorical(target, label_smoothing), from_logits)


def cce_vjp(
    pred: Array, target: Array, cot: Array, *, from_logits: bool = False, label_smoothing: float = 0.0
) -> Array:
    return _categorical_vjp(pred, _smoothed_categorical(target, label_smoothing), cot, from_logits)


def check_categorical(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "Keras categorical_crossentropy (one-hot or probability targets)")


def _sparse_indices(pred: Array, target: Array) -> Array:
    if target.ndim == pred.ndim and target.shape[-1] == 1:
        target = target[..., 0]
    return target


def check_sparse(pred: Array, target: Array, *, ignore_class: int | None = None, **_: Any) -> None:
    """numpy backend nn.py:896: integer targets of pred's shape without the last axis."""
    target = _sparse_indices(pred, target)
    if target.shape != pred.shape[:-1]:
        raise InputError(
            f"--target has shape {target.shape}; Keras sparse_categorical_crossentropy needs class indices "
            f"of shape {pred.shape[:-1]} (--pred without its last axis)"
        )
    valid = target if ignore_class is None else target[target != ignore_class]
    if np.any(valid != np.round(valid)) or np.any((valid < 0) | (valid >= pred.shape[-1])):
        raise InputError(f"--target must hold class indices from 0 to {pred.shape[-1] - 1}")


def _sparse_one_hot(pred: Array, target: Array, ignore_class: int | None) -> tuple[Array, Array]:
    """losses.py:2355-2366: ignored rows get class 0 and a zero prediction row, then a zero loss."""
    target = _sparse_indices(pred, target)
    keep = np.ones(target.shape, dtype=bool) if ignore_class is None else target != ignore_class
    indices = np.where(keep, target, 0).astype(np.int64)
    return np.eye(pred.shape[-1], dtype=pred.dtype)[indices], keep


def sparse_elements(pred: Array, target: Array, *, from_logits: bool = False, ignore_class: int | None = None) -> Array:
    hot, keep = _sparse_one_hot(pred, target, ignore_class)
    safe = np.where(keep[..., None], pred, 1)  # any row: its loss is replaced by 0 below
    return np.where(keep, _categorical(safe, hot, from_logits), 0).astype(pred.dtype)


def sparse_vjp(
    pred: Array, target: Array, cot: Array, *, from_logits: bool = False, ignore_class: int | None = None
) -> Array:
    hot, keep = _sparse_one_hot(pred, target, ignore_class)
    safe = np.where(keep[..., None], pred, 1)
    return _categorical_vjp(safe, hot, np.where(keep, cot, 0), from_logits)


def sparse_mask(pred: Array, target: Array, *, ignore_class: int | None = None, **_: Any) -> Array | None:
    """losses.py:2369 set_keras_mask: ignored entries leave the mean (loss.py:197 apply_mask)."""
    if ignore_class is None:
        return None
    return _sparse_indices(pred, target) != ignore_class


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


# --- declarations ------------------------------------------------------------------------

FROM_LOGITS = Param("from_logits", "bool", False, "y_pred holds logits, not probabilities")
LABEL_SMOOTHING = Param("label_smoothing", "float", 0.0, "squeeze the labels towards uniform", low=0.0, high=1.0)


def _declare(
    loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, line: str, **more: Any
) -> Convention:
    return Convention("keras", loss, names, pair[0], pair[1], reason, f"keras 3.15.1 {LOSSES_PY}:{line}", **more)


def _check_same(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "Keras")


CONVENTIONS = (
    _declare(
        "bce",
        ("BinaryCrossentropy", "binary_crossentropy"),
        (bce_elements, bce_vjp),
        "clips p to [1e-7, 1 − 1e-7] (torch clamps log at −100), averages the last axis, float32",
        "2380-2417; backend/torch/nn.py:955",
        params=(
            FROM_LOGITS,
            LABEL_SMOOTHING,
            Param("axis", "int", -1, "the axis averaged before the reduction"),
        ),
        check=_check_same_and_axis,
    ),
    _declare(
        "cross_entropy",
        ("CategoricalCrossentropy", "categorical_crossentropy"),
        (cce_elements, cce_vjp),
        "takes probabilities by default: renormalises each row, clips to [1e-7, 1 − 1e-7]; class axis last",
        "2154-2214; backend/numpy/nn.py:875-881",
        params=(FROM_LOGITS, LABEL_SMOOTHING),
        check=check_categorical,
    ),
    _declare(
        "nll",
        ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
        (sparse_elements, sparse_vjp),
        "class indices with probabilities (renormalised, clipped) by default; ignore_class leaves the mean",
        "2313-2376; backend/numpy/nn.py:902-909",
        params=(FROM_LOGITS, Param("ignore_class", "int", None, "a class index to leave out")),
        check=check_sparse,
        mask=sparse_mask,
    ),
    _declare(
        "mse",
        ("MeanSquaredError", "mean_squared_error", "MSE"),
        (mse_elements, mse_vjp),
        "averages the last axis first, then divides by the number of rows; float32",
        "1788",
        check=_check_same,
    ),
    _declare(
        "l1",
        ("MeanAbsoluteError", "mean_absolute_error", "MAE"),
        (mae_elements, mae_vjp),
        "averages the last axis first; float32",
        "1825",
        check=_check_same,
    ),
    _declare(
        "mape",
        ("MeanAbsolutePercentageError", "mean_absolute_percentage_error", "MAPE"),
        (mape_elements, mape_vjp),
        "a percentage (×100) with |y| floored at ε = 1e-7",
        "1868-1871",
        check=_check_same,
    ),
    _declare(
        "msle",
        ("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "MSLE"),
        (msle_elements, msle_vjp),
        "clips pred and target to ≥ 1e-7 before log(x + 1) (negatives count as 0)",
        "1912-1918",
        check=_check_same,
    ),
    _declare(
        "huber",
        ("Huber", "huber"),
        (huber_elements, huber_vjp),
        "same formula as torch's huber, averaged over the last axis; float32",
        "1995-2007",
        params=(Param("delta", "float", 1.0, "where the quadratic part ends", low=0.0, low_open=True),),
        check=_check_same,
    ),
    _declare(
        "log_cosh",
        ("LogCosh", "log_cosh", "logcosh"),
        (log_cosh_elements, log_cosh_vjp),
        "x + softplus(−2x) − log 2, averaged over the last axis; float32",
        "2050-2055",
        check=_check_same,
    ),
    _declare(
        "hinge",
        ("Hinge", "hinge"),
        (hinge_elements, hinge_vjp),
        "maps {0, 1} labels to −1/+1 first; averages the last axis",
        "1669-1670, 1616-1633",
        check=_check_same,
    ),
    _declare(
        "squared_hinge",
        ("SquaredHinge", "squared_hinge"),
        (squared_hinge_elements, squared_hinge_vjp),
        "maps {0, 1} labels to −1/+1 first; averages the last axis",
        "1705-1708",
        check=_check_same,
    ),
    _declare(
        "categorical_hinge",
        ("CategoricalHinge", "categorical_hinge"),
        (categorical_hinge_elements, categorical_hinge_vjp),
        "puts 0 for the true class inside the max, so a true score below 0 still costs (−2,−3,−0.5 / y=2 → 1.5)",
        "1746-1749",
        check=check_categorical,
    ),
    _declare(
        "kl_div",
        ("KLDivergence", "kl_divergence", "kld", "KLD"),
        (kl_elements, kl_vjp),
        "pred is a probability (torch: a log-probability), both clipped to [1e-7, 1], summed over the last axis",
        "2104-2106",
        check=_check_same,
    ),
    _declare(
        "poisson_nll",
        ("Poisson", "poisson"),
        (poisson_elements, poisson_vjp),
        "pred is the rate (torch's default: its log), p − y log(p + 1e-7) with ε 1e-7 (torch 1e-8)",
        "2144-2145",
        check=_check_same,
    ),
)

LIBRARY = Library(
    name="keras",
    title="Keras",
    reductions=("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none"),
    reduce=reduce,
    dtype="float32",
    sample_weight=True,
    conventions=(*CONVENTIONS, *keras_more.CONVENTIONS),
    missing={
        "BinaryFocalCrossentropy": "focal in Keras' form (apply_class_balancing=False, from probabilities)",
        "CategoricalFocalCrossentropy": "categorical focal",
        "CTC": "connectionist temporal classification",
        "Circle": "circle loss",
    },
    source="keras 3.15.1 keras/src/losses/loss.py:101-194",
)
