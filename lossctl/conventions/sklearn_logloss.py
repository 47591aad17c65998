"""scikit-learn's log loss and the D² scores of probabilistic classifiers (d2_log_loss_score, d2_brier_score).

Sources are scikit-learn 1.9.1 ``sklearn/metrics/_classification.py``: log_loss (:3321-3458), its label
handling (:272-290), d2_log_loss_score (:3869-3979) and d2_brier_score (:3993-4110).  The D² scores compare
the weighted loss of --pred with that of predicting the weighted class frequencies of y_true; they are
whole-batch ratios, declared with ``contributions=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, clip
from lossctl.conventions.sklearn_common import CLASSIFICATION, LABELS, declare, sample_weights
from lossctl.conventions.sklearn_rows import _brier_truth
from lossctl.errors import InputError
from lossctl.losses.spec import Param

# --- log_loss ------------------------------------------------------------------------------


def _labels(target: Array, labels: Any) -> Array:
    """_classification.py _one_hot_encoding_multiclass_target: the sorted labels of y_true (or labels=)."""
    if isinstance(labels, str):
        try:
            labels = [float(label) for label in labels.split(",")]
        except ValueError as exc:
            raise InputError(f"--set labels must be comma-separated numbers, got {labels!r}") from exc
    classes = np.unique(target) if labels is None else np.unique(np.asarray(labels, dtype=float))
    if classes.size == 1:
        if labels is None:
            raise InputError(
                f"--target contains only one label ({classes[0]:g}); scikit-learn's log_loss needs every class: "
                "give them with --set labels=0,1"
            )
        raise InputError("--set labels needs at least two labels")
    if not np.all(np.isin(target, classes)):
        raise InputError(f"--target holds labels outside --set labels ({', '.join(f'{c:g}' for c in classes)})")
    return classes


def _log_loss_parts(pred: Array, target: Array, labels: Any) -> tuple[Array, Array, Array]:
    """(one-hot labels, probabilities as columns, clip mask); a 1-D pred is P(the larger label)."""
    classes = _labels(target.ravel(), labels)
    hot = (target.reshape(-1, 1) == classes[None, :]).astype(pred.dtype)
    columns = np.stack([1 - pred, pred], axis=1) if pred.ndim == 1 else pred
    if columns.shape[1] != classes.size:
        raise InputError(
            f"--pred has {columns.shape[1]} class columns but --target holds {classes.size} labels; "
            "give every label with --set labels=…"
        )
    return hot, columns, classes


def log_loss_elements(pred: Array, target: Array, *, labels: Any = None) -> Array:
    """_classification.py:3454-3457: clip to [eps, 1 − eps] of the dtype, −Σ y log p per sample."""
    hot, columns, _ = _log_loss_parts(pred, target, labels)
    eps = np.finfo(pred.dtype).eps
    clipped, _ = clip(columns, eps, 1 - eps)
    return -np.sum(hot * np.log(clipped), axis=1)


def log_loss_vjp(pred: Array, target: Array, cot: Array, *, labels: Any = None) -> Array:
    hot, columns, _ = _log_loss_parts(pred, target, labels)
    eps = np.finfo(pred.dtype).eps
    clipped, inside = clip(columns, eps, 1 - eps)
    g = cot[:, None] * (-hot / clipped) * inside
    return g[:, 1] - g[:, 0] if pred.ndim == 1 else g


def check_log_loss(pred: Array, target: Array, **_: Any) -> None:
    """_classification.py:272-275: probabilities must lie in [0, 1]; y_true is one label per sample."""
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; scikit-learn's log_loss takes (n_samples,) or (n, classes)")
    if target.ndim != 1 or target.shape[0] != pred.shape[0]:
        raise InputError(f"--target must hold one label per sample ({pred.shape[0]} labels), got shape {target.shape}")
    if np.any(pred < 0) or np.any(pred > 1):
        raise InputError("--pred must hold probabilities in [0, 1] (scikit-learn's log_loss raises otherwise)")


# --- D² of the log loss and of the Brier score ------------------------------------------------------------


def _brier_columns(pred: Array, target: Array, pos_label: Any, labels: Any) -> tuple[Array, Array]:
    """_classification.py:4085-4092: a 1-D pred is P(pos_label), as the columns [1 − p, p]."""
    outcome, p, _ = _brier_truth(pred, target, pos_label, labels)
    if p.ndim == 1 or p.shape[1] == 1:
        o, q = outcome.ravel(), p.ravel()
        return np.stack([1 - o, o], axis=1), np.stack([1 - q, q], axis=1)
    return outcome, p


def _d2(hot: Array, columns: Array, pred: Array, sample_weight: Array | None, kind: str) -> tuple[Array, Array]:
    """Contributions wᵢ/Σw − wᵢ ℓᵢ / D and the gradient −wᵢ ∂ℓᵢ/∂p / D, D = Σ wᵢ ℓ(yᵢ, weighted class frequencies)."""
    w = sample_weights(hot.shape[0], sample_weight, pred.dtype)
    frequencies = np.broadcast_to(np.sum(w[:, None] * hot, axis=0) / w.sum(), hot.shape)  # :3963, :4094
    if kind == "log":  # _log_loss, :3454-3457
        eps = np.finfo(pred.dtype).eps
        clipped, inside = clip(columns, eps, 1 - eps)
        losses = -np.sum(hot * np.log(clipped), axis=1)
        baseline = -np.sum(hot * np.log(np.clip(frequencies, eps, 1 - eps)), axis=1)
        slope = -hot / clipped * inside
    else:  # :4098-4105
        losses, baseline = np.sum((hot - columns) ** 2, axis=1), np.sum((hot - frequencies) ** 2, axis=1)
        slope = 2 * (columns - hot)
    total = np.sum(w * baseline)
    gradient = -w[:, None] * slope / total
    return w / w.sum() - w * losses / total, (gradient[:, 1] - gradient[:, 0] if pred.ndim == 1 else gradient)


def d2_log_loss_elements(pred, target, *, labels: Any = None, sample_weight=None) -> Array:
    hot, columns, _ = _log_loss_parts(pred, target, labels)
    return _d2(hot, columns, pred, sample_weight, "log")[0]


def d2_log_loss_vjp(pred, target, cot, *, labels: Any = None, sample_weight=None) -> Array:
    hot, columns, _ = _log_loss_parts(pred, target, labels)
    return _d2(hot, columns, pred, sample_weight, "log")[1]


def d2_brier_elements(pred, target, *, pos_label: Any = None, labels: Any = None, sample_weight=None) -> Array:
    return _d2(*_brier_columns(pred, target, pos_label, labels), pred, sample_weight, "brier")[0]


def d2_brier_vjp(pred, target, cot, *, pos_label: Any = None, labels: Any = None, sample_weight=None) -> Array:
    return _d2(*_brier_columns(pred, target, pos_label, labels), pred, sample_weight, "brier")[1]


def check_d2(pred: Array, target: Array, **params: Any) -> None:
    """:3949-3952, :4071-4074: fewer than two samples give nan (lossctl refuses); else log_loss's rules."""
    check_log_loss(pred, target)
    if pred.shape[0] < 2:
        raise InputError("scikit-learn's D² score is not well-defined with less than two samples (it returns nan)")


CONVENTIONS = (
    declare(
        "bce",
        ("log_loss",),
        (log_loss_elements, log_loss_vjp),
        "clips p to [eps, 1 − eps] with eps = 2.2e-16 (torch clamps log at −100); 1-D pred is P(larger label)",
        f"{CLASSIFICATION}:3321, 3454-3458, 272-290",
        params=(Param("labels", "choice", None, "the class labels, when y_true lacks some (comma-separated)"),),
        reductions=("mean", "sum", "none"),
        check=check_log_loss,
    ),
    declare(
        "d2_log_loss",
        ("d2_log_loss_score",),
        (d2_log_loss_elements, d2_log_loss_vjp),
        "baseline: the weighted class frequencies of y_true; log loss clipped to [eps, 1 − eps]; sample weights",
        f"{CLASSIFICATION}:3869-3979",
        params=(LABELS,),
        check=check_d2,
        contributions=True,
    ),
    declare(
        "d2_brier",
        ("d2_brier_score",),
        (d2_brier_elements, d2_brier_vjp),
        "baseline: the weighted class frequencies; a 1-D pred is P(pos_label), compared as two columns",
        f"{CLASSIFICATION}:3993-4110",
        params=(Param("pos_label", "choice", None, "the positive label for a 1-D --pred"), LABELS),
        check=check_d2,
        contributions=True,
    ),
)
