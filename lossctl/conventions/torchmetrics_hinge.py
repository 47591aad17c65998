"""torchmetrics' binary_hinge_loss and multiclass_hinge_loss (Crammer–Singer or one-vs-all).

Source: torchmetrics 1.9.0 ``src/torchmetrics/functional/classification/hinge.py`` with
``confusion_matrix.py`` (the input formats) and ``utilities/compute.py:201-235``
(normalize_logits_if_needed).  Predictions are probabilities, unless one of them lies outside
[0, 1]: then every prediction is read as a logit (sigmoid, or softmax over the classes).  The value
is the sum of the hinge terms over the samples kept (``ignore_index`` drops samples) divided by their
number, so these are whole-tensor metrics (``contributions=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention, require_same_shape
from lossctl.errors import InputError
from lossctl.losses._numerics import log_softmax, sigmoid
from lossctl.losses.spec import Param

SOURCE = "torchmetrics 1.9.0 src/torchmetrics/functional/classification/hinge.py"


def _kept(target: Array, ignore_index: int | None) -> Array:
    return np.ones(target.shape, dtype=bool) if ignore_index is None else target != ignore_index


def _outside_unit(values: Array) -> bool:
    """utilities/compute.py:233: any value outside [0, 1] means logits."""
    return bool(np.any((values < 0) | (values > 1)))


def _hinge(margin: Array, squared: bool) -> tuple[Array, Array]:
    """(clamp(1 − m, 0) (squared), its derivative in m); clamp's gradient passes at 0 (hinge.py:61-65)."""
    measure = np.maximum(1 - margin, 0)
    active = (1 - margin >= 0).astype(margin.dtype)
    if squared:
        return measure**2, -2 * measure * active
    return measure, -active


# --- binary: hinge.py:51-123 -------------------------------------------------------------------------------


def _binary(pred: Array, target: Array, squared: bool, ignore_index: int | None) -> tuple[Array, Array]:
    keep = _kept(target, ignore_index)
    logits = _outside_unit(pred[keep])
    p = sigmoid(pred) if logits else pred
    sign = np.where(target != 0, 1.0, -1.0)  # target.bool(): the margin is p for positives, −p for negatives
    measure, slope = _hinge(sign * p, squared)
    count = max(int(keep.sum()), 1)
    gradient = slope * sign * (p * (1 - p) if logits else 1.0)
    return np.where(keep, measure, 0) / count, np.where(keep, gradient, 0) / count


def binary_elements(pred, target, *, squared: bool = False, ignore_index: int | None = None, sample_weight=None):
    return _binary(pred, target, squared, ignore_index)[0]


def binary_vjp(pred, target, cot, *, squared: bool = False, ignore_index: int | None = None, sample_weight=None):
    return _binary(pred, target, squared, ignore_index)[1]


def _check_binary(pred: Array, target: Array, *, ignore_index: int | None = None, **_: Any) -> None:
    require_same_shape(pred, target, "torchmetrics' binary_hinge_loss")
    kept = target[_kept(target, ignore_index)]
    if kept.size == 0:
        raise InputError("every target is --set ignore_index: torchmetrics divides 0 by 0 (nan)")
    if np.any((kept != 0) & (kept != 1)):
        raise InputError("--target must hold 0 or 1 (or the ignore_index) for torchmetrics' binary_hinge_loss")


# --- multiclass: hinge.py:151-242 ----------------------------------------------------------------------------


def _multiclass(pred: Array, target: Array, params: dict[str, Any]) -> tuple[Array, Array]:
    """Crammer–Singer: m = s_y − max_{i≠y} s_i per sample; one-vs-all: m = ±s_c per class (hinge.py:159-166)."""
    keep = _kept(target, params.get("ignore_index"))
    logits = _outside_unit(pred[keep])
    s = np.exp(log_softmax(pred, 1)) if logits else pred
    labels = np.where(keep, target, 0).astype(np.int64)
    hot = np.eye(pred.shape[1], dtype=bool)[labels]
    squared = params.get("squared", False)
    count = max(int(keep.sum()), 1)
    if params.get("multiclass_mode", "crammer-singer") == "one-vs-all":
        sign = np.where(hot, 1.0, -1.0)
        measure, slope = _hinge(sign * s, squared)
        local = slope * sign
        values = np.where(keep[:, None], measure, 0) / count
    else:
        others = np.where(hot, -np.inf, s)
        rival = np.argmax(others, axis=1)  # torch.max's index: the first of equal maxima
        rows = np.arange(s.shape[0])
        measure, slope = _hinge(s[rows, labels] - others[rows, rival], squared)
        local = np.zeros_like(s)
        local[rows, labels] = slope
        local[rows, rival] -= slope
        values = np.where(keep, measure, 0) / count
    local = np.where(keep[:, None], local, 0) / count
    if logits:  # through the softmax over the classes
        local = s * (local - np.sum(local * s, axis=1, keepdims=True))
    return values, local


def multiclass_elements(pred: Array, target: Array, **params: Any) -> Array:
    return _multiclass(pred, target, params)[0]


def multiclass_vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
    return _multiclass(pred, target, params)[1]


def _check_multiclass(pred: Array, target: Array, **params: Any) -> None:
    """confusion_matrix.py:297-321 and hinge.py:126-149: (N, C) scores, N labels in [0, C)."""
    if pred.ndim != 2 or pred.shape[1] < 2:
        raise InputError(f"--pred must be (N, C) scores with C ≥ 2 for multiclass_hinge_loss, got shape {pred.shape}")
    if target.shape != (pred.shape[0],):
        raise InputError(f"--target must hold one class index per row of --pred ({pred.shape[0]}), got {target.shape}")
    num_classes = params.get("num_classes")
    if num_classes is not None and num_classes != pred.shape[1]:
        raise InputError(
            f"--num-classes {num_classes} (--set num_classes) but --pred has {pred.shape[1]} class columns; "
            "torchmetrics needs preds.shape[1] == num_classes"
        )
    if params.get("multiclass_mode", "crammer-singer") not in ("crammer-singer", "one-vs-all"):
        raise InputError("--set multiclass_mode must be crammer-singer or one-vs-all")
    kept = target[_kept(target, params.get("ignore_index"))]
    if kept.size == 0:
        raise InputError("every target is --set ignore_index: torchmetrics divides 0 by 0 (nan)")
    if np.any(kept != np.round(kept)) or np.any((kept < 0) | (kept >= pred.shape[1])):
        raise InputError(f"--target must hold class indices from 0 to {pred.shape[1] - 1}")


def _one_vs_all(multiclass_mode: str = "crammer-singer", **_: Any) -> bool:
    return multiclass_mode == "one-vs-all"


SQUARED = Param("squared", "bool", False, "square each hinge term")
IGNORE_INDEX = Param("ignore_index", "int", None, "a target value whose samples leave the metric")

CONVENTIONS = (
    Convention(
        "torchmetrics",
        "hinge",
        ("binary_hinge_loss",),
        binary_elements,
        binary_vjp,
        "labels 0/1 become −1/+1; predictions are probabilities unless one is outside [0, 1] (then all get a sigmoid)",
        f"{SOURCE}:51-123; src/torchmetrics/utilities/compute.py:201-235",
        params=(SQUARED, IGNORE_INDEX),
        reductions=("mean", "none"),
        check=_check_binary,
        contributions=True,
    ),
    Convention(
        "torchmetrics",
        "categorical_hinge",
        ("multiclass_hinge_loss",),
        multiclass_elements,
        multiclass_vjp,
        "scores are probabilities unless one is outside [0, 1] (then a softmax); Crammer–Singer margin "
        "s_y − max of the others, or one-vs-all with one value per class",
        f"{SOURCE}:151-242; src/torchmetrics/utilities/compute.py:201-235",
        params=(
            Param("num_classes", "int", None, "the number of classes (checked against --pred's columns)"),
            SQUARED,
            Param("multiclass_mode", "choice", "crammer-singer", "crammer-singer or one-vs-all (one value per class)"),
            IGNORE_INDEX,
        ),
        reductions=("mean", "none"),
        check=_check_multiclass,
        contributions=True,
        vector_value=_one_vs_all,
    ),
)
