"""scikit-learn's row-wise metrics: the Tweedie/Poisson/Gamma deviances, the Brier score and hinge_loss.

Each gives per-sample losses that the library's weighted average reduces.  Sources are scikit-learn 1.9.1
``sklearn/metrics/_regression.py`` and ``_classification.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array
from lossctl.conventions.sklearn_common import (
    CLASSIFICATION,
    LABELS,
    POWER,
    REGRESSION,
    check_one_output,
    declare,
    sorted_labels,
)
from lossctl.errors import InputError
from lossctl.losses import metrics
from lossctl.losses.spec import Param

# --- deviances (row-wise): _regression.py:1365-1591 ------------------------------------------------------


def _tweedie_pair(power_of: Any) -> tuple[Any, Any]:
    def elements(pred: Array, target: Array, **params: Any) -> Array:
        return metrics.tweedie(pred, target, power=power_of(params))

    def vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
        return cot * metrics.tweedie_grad(pred, target, power=power_of(params))

    return elements, vjp


def _tweedie_check(power_of: Any) -> Any:
    def check(pred: Array, target: Array, **params: Any) -> None:
        check_one_output(pred, target)
        metrics.check_tweedie(pred, target, power=power_of(params))

    return check


def _given_power(params: dict) -> float:
    return float(params.get("power", 0.0))


# --- Brier score: _classification.py:3713-3863 ------------------------------------------------------------


def _positive_label(target: Array, pos_label: Any) -> float:
    """_classification.py _check_pos_label_consistency: 1 for {0, 1} or {−1, 1}, else the larger label."""
    if pos_label is not None and pos_label != "":
        return float(pos_label)
    classes = np.unique(target)
    if classes.size > 2:
        raise InputError("--target holds more than two labels: give (n, classes) probabilities for multiclass")
    if np.all(np.isin(classes, [0.0, 1.0])) or np.all(np.isin(classes, [-1.0, 1.0])):
        return 1.0
    if classes.size < 2:
        raise InputError("--target holds one label that is not 0, 1 or −1: give --set pos_label=…")
    return float(classes[-1])


def _brier_truth(pred: Array, target: Array, pos_label: Any, labels: Any) -> tuple[Array, Array, float]:
    """(outcomes in pred's layout, probabilities, the factor scale_by_half gives) before it is chosen."""
    if pred.ndim == 1 or pred.shape[1] == 1:
        outcome = (target.ravel() == _positive_label(target.ravel(), pos_label)).astype(pred.dtype)
        return outcome.reshape(pred.shape), pred, 2.0  # the two columns [1 − p, p] count the error twice
    classes = sorted_labels(target.ravel(), labels)
    if classes.size != pred.shape[1]:
        raise InputError(
            f"--pred has {pred.shape[1]} class columns but --target holds {classes.size} labels; "
            "give every label with --set labels=…"
        )
    if not np.all(np.isin(target, classes)):
        raise InputError("--target holds labels outside --set labels")
    return (target.reshape(-1, 1) == classes[None, :]).astype(pred.dtype), pred, 1.0


def _brier_factor(pred: Array, scale_by_half: Any, base: float) -> float:
    if scale_by_half in (None, "auto"):
        halve = pred.ndim == 1 or pred.shape[1] < 3
    else:
        halve = str(scale_by_half).lower() in ("true", "1", "yes")
    return base * (0.5 if halve else 1.0)


def brier_elements(pred: Array, target: Array, *, pos_label: Any = None, labels: Any = None, scale_by_half="auto"):
    truth, p, base = _brier_truth(pred, target, pos_label, labels)
    squared = (p - truth) ** 2
    per_sample = squared if squared.ndim == 1 else squared.sum(axis=1)
    return _brier_factor(pred, scale_by_half, base) * per_sample


def brier_vjp(pred, target, cot, *, pos_label: Any = None, labels: Any = None, scale_by_half="auto"):
    truth, p, base = _brier_truth(pred, target, pos_label, labels)
    local = 2.0 * _brier_factor(pred, scale_by_half, base) * (p - truth)
    return local * (cot if local.ndim == 1 else cot[:, None])


def _check_brier(pred: Array, target: Array, **_: Any) -> None:
    """_classification.py:272-275: probabilities in [0, 1]; one label per sample."""
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; brier_score_loss takes (n_samples,) or (n, classes)")
    if target.size != pred.shape[0]:
        raise InputError(f"--target must hold one label per sample ({pred.shape[0]} labels), got {target.size}")
    if np.any(pred < 0) or np.any(pred > 1):
        raise InputError("--pred must hold probabilities in [0, 1] (scikit-learn's brier_score_loss raises otherwise)")


# --- hinge_loss: _classification.py:3470-3600 --------------------------------------------------------------


def _hinge_margins(pred: Array, target: Array, labels: Any) -> tuple[Array, Array]:
    """(margins, ∂margin/∂pred) — binary: y·d with y = ±1 from the sorted labels of y_true; multiclass:
    d_true − max over the other classes (Crammer–Singer, _classification.py:3557-3563)."""
    y = target.ravel()
    classes = sorted_labels(y, labels)
    if classes.size > 2:
        if pred.ndim != 2 or pred.shape[1] != classes.size:
            raise InputError(
                f"--pred must have one column per label ({classes.size}) for scikit-learn's multiclass hinge_loss"
            )
        index = np.searchsorted(classes, y)
        rows = np.arange(y.size)
        others = pred.copy()
        others[rows, index] = -np.inf
        rival = np.argmax(others, axis=1)
        slope = np.zeros_like(pred)
        slope[rows, index] = 1.0
        slope[rows, rival] -= 1.0
        return pred[rows, index] - others[rows, rival], slope
    if pred.ndim == 2 and pred.shape[1] != 1:
        raise InputError("--pred must be one decision value per sample for a binary target (scikit-learn)")
    seen = np.unique(y)
    if seen.size < 2:
        raise InputError("--target holds one label: scikit-learn's binary hinge_loss needs both (its LabelBinarizer)")
    signs = np.where(y == seen[-1], 1.0, -1.0).reshape(pred.shape)
    return signs * pred, signs


def hinge_elements(pred: Array, target: Array, *, labels: Any = None) -> Array:
    margins, _ = _hinge_margins(pred, target, labels)
    return np.maximum(1.0 - margins, 0.0).ravel()


def hinge_vjp(pred: Array, target: Array, cot: Array, *, labels: Any = None) -> Array:
    """−∂margin/∂pred where 1 − margin > 0 (np.clip's backward passes nothing at 0 from above)."""
    margins, slope = _hinge_margins(pred, target, labels)
    active = (1.0 - margins > 0).astype(pred.dtype).ravel() * cot.ravel()
    return -slope * active.reshape(-1, *([1] * (slope.ndim - 1)))


def _check_hinge(pred: Array, target: Array, **_: Any) -> None:
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; hinge_loss takes (n_samples,) or (n_samples, n_classes)")
    if target.size != pred.shape[0]:
        raise InputError(f"--target must hold one label per sample ({pred.shape[0]} labels), got {target.size}")


CONVENTIONS = (
    declare(
        "brier_score",
        ("brier_score_loss",),
        (brier_elements, brier_vjp),
        "labels read off y_true (pos_label 1 or the larger label); halves the sum over classes only for 2 classes",
        f"{CLASSIFICATION}:3713, 3843-3862",
        params=(
            Param("pos_label", "choice", None, "the positive label for a 1-D --pred"),
            LABELS,
            Param("scale_by_half", "choice", "auto", "auto | true | false"),
        ),
        check=_check_brier,
    ),
    declare(
        "hinge",
        ("hinge_loss",),
        (hinge_elements, hinge_vjp),
        "labels mapped to ±1 by LabelBinarizer (the larger is +1); 2-D decisions: Crammer–Singer, margin 1",
        f"{CLASSIFICATION}:3470, 3531-3581",
        params=(LABELS,),
        check=_check_hinge,
    ),
    declare(
        "categorical_hinge",
        ("hinge_loss",),
        (hinge_elements, hinge_vjp),
        "labels encoded by their sorted order (LabelEncoder); margin = d_true − max of the others, loss 1 − margin",
        f"{CLASSIFICATION}:3470, 3531-3563",
        params=(LABELS,),
        check=_check_hinge,
    ),
    declare(
        "tweedie_deviance",
        ("mean_tweedie_deviance",),
        _tweedie_pair(_given_power),
        "power 0 by default (the squared error); refuses several outputs",
        f"{REGRESSION}:1365-1500",
        params=(POWER,),
        check=_tweedie_check(_given_power),
    ),
    declare(
        "poisson_deviance",
        ("mean_poisson_deviance",),
        _tweedie_pair(lambda _: 1.0),
        "mean_tweedie_deviance with power 1",
        f"{REGRESSION}:1503-1543",
        check=_tweedie_check(lambda _: 1.0),
    ),
    declare(
        "gamma_deviance",
        ("mean_gamma_deviance",),
        _tweedie_pair(lambda _: 2.0),
        "mean_tweedie_deviance with power 2",
        f"{REGRESSION}:1546-1591",
        check=_tweedie_check(lambda _: 2.0),
    ),
)
