"""Margin, ranking and embedding losses: the SVM hinge family, margin ranking, cosine and triplet.

Subgradients follow PyTorch: a hinge max(0, z) has derivative 0 at z = 0.
Scores for the multiclass forms are laid out as for cross-entropy: (N, C),
or a single 1-D sample of C scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypedDict

import numpy as np

from lossctl.errors import InputError
from lossctl.losses._views import positive_label, true_class_margin
from lossctl.losses.checks import count, require
from lossctl.losses.classification import as_indices, check_class_targets, class_axis, gather, is_index_target, one_hot
from lossctl.losses.spec import (
    REQUIRED,
    Array,
    Example,
    LossSpec,
    Param,
    TargetKind,
    Teaching,
    Testing,
    Variant,
)
from lossctl.losses.wording import Numbers, elide, join

CS231N = "Stanford CS231n notes, linear classification (cat/frog scores); by hand"


def _active(z: Array) -> Array:
    """1 where a hinge is strictly positive (relu'(0) = 0, as PyTorch)."""
    return (z > 0).astype(z.dtype)


# --- binary hinge --------------------------------------------------------------


def signed_labels(target: Array) -> Array:
    """Labels as ±1: {0, 1} is mapped to {−1, 1} only when every label is 0 or 1 (as Keras)."""
    if np.all((target == 0) | (target == 1)):
        return 2.0 * target - 1.0
    return target


def hinge(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """max(0, m − y s) with y ∈ {−1, 1}."""
    return np.maximum(0.0, margin - signed_labels(target) * pred)


def hinge_grad(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """−y where the margin is violated (m − y s > 0), else 0."""
    y = signed_labels(target)
    return -y * _active(margin - y * pred)


def squared_hinge(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """max(0, m − y s)²."""
    violation = np.maximum(0.0, margin - signed_labels(target) * pred)
    return violation * violation


def squared_hinge_grad(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """−2 y max(0, m − y s)."""
    y = signed_labels(target)
    return -2.0 * y * np.maximum(0.0, margin - y * pred)


def check_binary_labels(pred: Array, target: Array, **_: object) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
    y = signed_labels(target)
    require((y == 1) | (y == -1), target, "--target", "must be labels −1 or 1 (or all 0/1)")


def hinge_details(pred: Array, target: Array, *, margin: float = 1.0) -> dict[str, Array]:
    return {"m − y·s": margin - signed_labels(target) * pred}


def sample_binary(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 7)),)
    labels = rng.choice([-1.0, 1.0], size=shape) if rng.integers(0, 2) else rng.choice([0.0, 1.0], size=shape)
    return {"pred": rng.normal(size=shape) * 2, "target": labels}


MARGIN = Param("margin", "float", 1.0, "the margin m a score must clear")

HINGE = LossSpec(
    name="hinge",
    aliases=("binary_hinge", "svm_hinge"),
    family="margin",
    summary="Binary SVM hinge loss on scores with labels ±1.",
    formula="ℓᵢ = max(0, m − yᵢ sᵢ),  yᵢ ∈ {−1, 1}  (labels all in {0, 1} are mapped to ±1)",
    gradient="∂ℓᵢ/∂sᵢ = −yᵢ if m − yᵢ sᵢ > 0 else 0",
    when="Linear SVMs and max-margin classifiers: only examples inside the margin contribute. "
    "Labels {0, 1} are mapped to {−1, 1} only when every label is 0 or 1 (as Keras does).",
    elements=hinge,
    grad=hinge_grad,
    params=(MARGIN,),
    target_help="labels −1 or 1 (or all 0/1), same shape as --pred",
    check=check_binary_labels,
    references=("Cortes & Vapnik, Support-Vector Networks, 1995", "Keras keras.losses.Hinge"),
    examples=(
        Example(
            [0.3, -2.0, 1.5], [1.0, -1.0, -1.0], value=(0.7 + 0.0 + 2.5) / 3, source="1 − 0.3, 0, 1 + 1.5; by hand"
        ),
        Example([0.3, -2.0], [1.0, 0.0], value=0.35, source="{0,1} labels mapped to ±1: (0.7 + 0) / 2"),
    ),
    see_also=("squared_hinge", "soft_margin", "multiclass_hinge"),
    teaching=Teaching(
        details=hinge_details,
        plot=positive_label,
        plot_axis="score s (label 1): margin y·s",
        term=lambda p, t, e, margin: f"max(0, {margin:g} − {t}·{p})",
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_binary,
        param_grid=({}, {"margin": 0.5}, {"margin": 2.0}),
    ),
)

SQUARED_HINGE = LossSpec(
    name="squared_hinge",
    aliases=("l2_svm",),
    family="margin",
    summary="Squared hinge: smooth at the margin, punishes large violations more.",
    formula="ℓᵢ = max(0, m − yᵢ sᵢ)²",
    gradient="∂ℓᵢ/∂sᵢ = −2 yᵢ max(0, m − yᵢ sᵢ)",
    when="L2-SVMs; differentiable everywhere, unlike the hinge.",
    elements=squared_hinge,
    grad=squared_hinge_grad,
    params=(MARGIN,),
    target_help="labels −1 or 1 (or all 0/1), same shape as --pred",
    check=check_binary_labels,
    references=("Keras keras.losses.SquaredHinge",),
    examples=(Example([0.3, -2.0], [1.0, -1.0], value=0.245, source="0.7² / 2; by hand"),),
    see_also=("hinge",),
    teaching=Teaching(
        details=hinge_details,
        plot=positive_label,
        plot_axis="score s (label 1): margin y·s",
        term=lambda p, t, e, margin: f"max(0, {margin:g} − {t}·{p})²",
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_binary,
        param_grid=({}, {"margin": 2.0}),
    ),
)


# --- multiclass hinges ----------------------------------------------------------


def _scores_and_true(pred: Array, target: Array) -> tuple[Array, Array, int]:
    """Scores, the true class's score (broadcastable), and the class axis."""
    axis = class_axis(pred)
    indices = _class_indices(pred, target)
    true = np.expand_dims(gather(pred, indices, axis), axis)
    return indices, true, axis


def _class_indices(pred: Array, target: Array) -> Array:
    """Class indices from indices or one-hot rows."""
    if is_index_target(pred, target):
        return as_indices(pred, target)
    return np.argmax(target, axis=class_axis(pred))


def multiclass_hinge(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """Σ_{j≠y} max(0, s_j − s_y + Δ) per sample (Weston–Watkins)."""
    indices, true, axis = _scores_and_true(pred, target)
    terms = np.maximum(0.0, pred - true + margin)
    terms = np.where(one_hot(indices, pred.shape[axis], axis, bool), 0.0, terms)
    return terms.sum(axis=axis)


def multiclass_hinge_grad(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """1 for each active wrong class j, −(number of active classes) for the true class."""
    indices, true, axis = _scores_and_true(pred, target)
    hot = one_hot(indices, pred.shape[axis], axis, pred.dtype)
    active = _active(pred - true + margin) * (1.0 - hot)
    return active - hot * active.sum(axis=axis, keepdims=True)


def multiclass_details(pred: Array, target: Array, *, margin: float = 1.0, **_: object) -> dict[str, Array]:
    """Which classes violate the margin: the terms a student adds by hand."""
    indices, true, axis = _scores_and_true(pred, target)
    terms = np.where(one_hot(indices, pred.shape[axis], axis, bool), 0.0, pred - true + margin)
    return {"s_j − s_y + Δ": terms}


def check_multiclass(pred: Array, target: Array, **_: object) -> None:
    if pred.ndim > 2:
        raise InputError(f"--pred has shape {pred.shape}; give scores as (N, C) rows or one row of C")
    if target.shape == pred.shape:
        one_hot_rows = np.all((target == 0) | (target == 1)) and np.all(target.sum(axis=class_axis(pred)) == 1)
        if not one_hot_rows:
            raise InputError("--target rows must be one-hot (a single 1 per row) or give class indices")
        return
    check_class_targets(pred, target, allow_probabilities=False, name="this loss")


def sample_scores(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(2, 6))
    pred = rng.normal(size=(n, 4)) * 2
    target = rng.integers(0, 4, size=n).astype(float)
    if rng.integers(0, 3) == 0:
        target = np.eye(4)[target.astype(int)]
    elif rng.integers(0, 3) == 0:
        return {"pred": pred[0], "target": target[:1]}
    return {"pred": pred, "target": target}


def _sample_rows(result) -> tuple[np.ndarray, np.ndarray]:
    scores = np.atleast_2d(result.pred)
    return scores, np.atleast_1d(_class_indices(result.pred, result.target)).ravel()


def explain_weston_watkins(result, fmt: Numbers) -> list[str]:
    """Per sample, every wrong class's margin term; multi_margin divides by C (and squares with p = 2)."""
    scores, indices = _sample_rows(result)
    margin = result.params["margin"]
    power = "²" if result.params.get("p", 1) == 2 else ""
    divide = f" / {scores.shape[1]}" if result.loss == "multi_margin" else ""
    weight = result.tensors.get("weight")
    elements = np.atleast_1d(result.elements).ravel()
    lines = []
    for n in elide(list(range(scores.shape[0]))):
        if n == "…":
            lines.append("…")
            continue
        s, y = scores[n], int(indices[n])
        terms = [
            f"max(0, {fmt.inner(s[j])} − {fmt.inner(s[y])} + {fmt(margin)}){power}" for j in range(len(s)) if j != y
        ]
        values = [fmt(max(0.0, s[j] - s[y] + margin) ** (2 if power else 1)) for j in range(len(s)) if j != y]
        scale = f"{fmt(weight[y])}·" if weight is not None else ""
        lines.append(f"sample {n} (class {y}): ℓ = {scale}({join(terms)}){divide}")
        lines.append(f"  = {scale}({join(values)}){divide} = {fmt(elements[n])}")
    return lines


def explain_crammer_singer(result, fmt: Numbers) -> list[str]:
    """Per sample: the strongest wrong class against the true one."""
    scores, indices = _sample_rows(result)
    margin = result.params["margin"]
    elements = np.atleast_1d(result.elements).ravel()
    lines = []
    for n in elide(list(range(scores.shape[0]))):
        if n == "…":
            lines.append("…")
            continue
        s, y = scores[n], int(indices[n])
        others = [s[j] for j in range(len(s)) if j != y]
        lines.append(
            f"sample {n} (class {y}): ℓ = max(0, {fmt(margin)} + max({join([fmt(v) for v in others], ', ')})"
            f" − {fmt.inner(s[y])})"
        )
        lines.append(f"  = max(0, {fmt(margin)} + {fmt.inner(max(others))} − {fmt.inner(s[y])}) = {fmt(elements[n])}")
    return lines


DELTA = Param("margin", "float", 1.0, "the margin Δ")


# What the three multiclass hinges share: scores laid out as for cross-entropy, index or one-hot targets.
class MulticlassLayout(TypedDict):
    """The :class:`LossSpec` fields the three multiclass hinges share (``LossSpec(..., **MULTICLASS_LAYOUT)``)."""

    target: TargetKind
    target_help: str
    check: Callable[..., None]
    class_axis: Callable[[Array], int | None]


MULTICLASS_LAYOUT_TESTING = Testing(
    zero_at_target=False,
    sample=sample_scores,
)

MULTICLASS_LAYOUT_TEACHING = Teaching(
    details=multiclass_details,
)

MULTICLASS_LAYOUT: MulticlassLayout = {
    "target": "class",
    "target_help": "class indices (one per sample) or one-hot rows",
    "check": check_multiclass,
    "class_axis": class_axis,
}

CAT = [3.2, 5.1, -1.7]
FROG = [2.2, 2.5, -3.1]

MULTICLASS_HINGE = LossSpec(
    name="multiclass_hinge",
    aliases=("svm", "multiclass_svm", "weston_watkins"),
    family="margin",
    summary="Multiclass SVM loss (Weston–Watkins): every wrong class within Δ of the right one costs.",
    formula="ℓₙ = Σ_{j≠y} max(0, s_j − s_y + Δ)",
    gradient="∂ℓₙ/∂s_j = 1[s_j − s_y + Δ > 0] (j ≠ y);  ∂ℓₙ/∂s_y = −Σ_{j≠y} 1[s_j − s_y + Δ > 0]",
    when="The multiclass SVM of the classic course notes (CS231n). multi_margin is the same divided by C "
    "(PyTorch's MultiMarginLoss); categorical_hinge keeps only the worst wrong class (Crammer–Singer).",
    elements=multiclass_hinge,
    grad=multiclass_hinge_grad,
    params=(DELTA,),
    **MULTICLASS_LAYOUT,
    references=(
        "Weston & Watkins, Support Vector Machines for Multi-Class Pattern Recognition, ESANN 1999",
        "Stanford CS231n, Linear classification notes",
    ),
    examples=(
        Example(CAT, 0, value=2.9, source=CS231N + ": max(0, 5.1 − 3.2 + 1) + max(0, −1.7 − 3.2 + 1)"),
        Example(FROG, 2, value=12.9, source=CS231N + ": 6.3 + 6.6"),
        Example([CAT, FROG], [0, 2], value=7.9, sum=15.8, source="both rows: (2.9 + 12.9) / 2"),
    ),
    see_also=("multi_margin", "categorical_hinge", "cross_entropy"),
    teaching=replace(
        MULTICLASS_LAYOUT_TEACHING,
        explain=explain_weston_watkins,
        plot=true_class_margin,
        plot_axis="score margin s_y − s_j (2 classes)",
    ),
    testing=replace(
        MULTICLASS_LAYOUT_TESTING,
        param_grid=({}, {"margin": 0.5}, {"margin": 3.0}),
    ),
)


def multi_margin(pred: Array, target: Array, *, p: int = 1, margin: float = 1.0, weight: Array | None = None) -> Array:
    """(1/C) Σ_{j≠y} w_y max(0, Δ − s_y + s_j)^p (PyTorch's MultiMarginLoss)."""
    indices, true, axis = _scores_and_true(pred, target)
    z = np.maximum(0.0, margin - true + pred)
    terms = z if p == 1 else z * z
    terms = np.where(one_hot(indices, pred.shape[axis], axis, bool), 0.0, terms)
    loss = terms.sum(axis=axis) / pred.shape[axis]
    return loss if weight is None else loss * weight[indices]


def multi_margin_grad(
    pred: Array, target: Array, *, p: int = 1, margin: float = 1.0, weight: Array | None = None
) -> Array:
    """(w_y/C) p z_j^(p−1) for active j ≠ y, and minus their sum for y."""
    indices, true, axis = _scores_and_true(pred, target)
    classes = pred.shape[axis]
    hot = one_hot(indices, classes, axis, pred.dtype)
    z = np.maximum(0.0, margin - true + pred)
    slope = _active(z) if p == 1 else 2.0 * z
    slope = slope * (1.0 - hot)
    grad = (slope - hot * slope.sum(axis=axis, keepdims=True)) / classes
    return grad if weight is None else grad * np.expand_dims(weight[indices], axis)


def check_multi_margin(pred: Array, target: Array, *, weight=None, **_: object) -> None:
    check_multiclass(pred, target)
    classes = pred.shape[class_axis(pred)]
    if weight is not None and weight.shape != (classes,):
        raise InputError(f"--weight has {count(weight.size)} but there are {classes} classes; give one per class")


MULTI_MARGIN_LAYOUT: MulticlassLayout = {**MULTICLASS_LAYOUT, "check": check_multi_margin}

MULTI_MARGIN = LossSpec(
    name="multi_margin",
    aliases=("multi_margin_loss", "multimargin"),
    family="margin",
    summary="PyTorch's MultiMarginLoss: the Weston–Watkins sum divided by the number of classes.",
    formula="ℓₙ = (1/C) Σ_{j≠y} w_y max(0, Δ − s_y + s_j)^p,  p ∈ {1, 2}",
    gradient="∂ℓₙ/∂s_j = (w_y/C) p z_j^(p−1) 1[z_j > 0] (j ≠ y), ∂ℓₙ/∂s_y = −Σ_{j≠y} of those;  z_j = Δ − s_y + s_j",
    when="Multiclass SVM training in PyTorch; p = 2 squares the violations. Equals multiclass_hinge / C for p = 1.",
    elements=multi_margin,
    grad=multi_margin_grad,
    params=(
        Param("p", "int", 1, "1 for hinge terms, 2 for squared ones", choices=("1", "2")),
        Param("margin", "float", 1.0, "the margin Δ"),
        Param("weight", "tensor", None, "a weight per class (scales the sample's loss by w_y)"),
    ),
    torch="multi_margin_loss",
    **MULTI_MARGIN_LAYOUT,
    variants=(
        Variant(
            {"p": 2},
            "ℓₙ = (1/C) Σ_{j≠y} w_y max(0, Δ − s_y + s_j)²  (p = 2: squared violations)",
            "∂ℓₙ/∂s_j = (w_y/C) 2 z_j 1[z_j > 0] (j ≠ y), ∂ℓₙ/∂s_y = −Σ_{j≠y} of those;  z_j = Δ − s_y + s_j",
        ),
        Variant(
            {"p": 1},
            "ℓₙ = (1/C) Σ_{j≠y} w_y max(0, Δ − s_y + s_j)  (p = 1: hinge terms)",
            "∂ℓₙ/∂s_j = (w_y/C) 1[z_j > 0] (j ≠ y), ∂ℓₙ/∂s_y = −Σ_{j≠y} of those;  z_j = Δ − s_y + s_j",
        ),
    ),
    references=("PyTorch torch.nn.MultiMarginLoss",),
    examples=(
        Example(CAT, 0, value=2.9 / 3, source="2.9 / 3 classes = 0.9667"),
        Example(FROG, 2, value=4.3, source="12.9 / 3 classes"),
    ),
    see_also=("multiclass_hinge", "categorical_hinge"),
    teaching=replace(
        MULTICLASS_LAYOUT_TEACHING,
        explain=explain_weston_watkins,
        plot=true_class_margin,
        plot_axis="score margin s_y − s_j (2 classes)",
    ),
    testing=replace(
        MULTICLASS_LAYOUT_TESTING,
        param_grid=({}, {"p": 2}, {"margin": 0.5, "weight": np.array([0.5, 1.0, 2.0, 3.0])}),
    ),
)


def categorical_hinge(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """max(0, Δ + max_{j≠y} s_j − s_y) per sample (Crammer–Singer)."""
    indices, true, axis = _scores_and_true(pred, target)
    others = np.where(one_hot(indices, pred.shape[axis], axis, bool), -np.inf, pred)
    return np.maximum(0.0, margin + others.max(axis=axis) - true.squeeze(axis))


def categorical_hinge_grad(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """+1 at the highest-scoring wrong class and −1 at the true class, where the margin is violated."""
    indices, true, axis = _scores_and_true(pred, target)
    classes = pred.shape[axis]
    hot = one_hot(indices, classes, axis, bool)
    others = np.where(hot, -np.inf, pred)
    rival = np.argmax(others, axis=axis)
    active = _active(margin + others.max(axis=axis) - true.squeeze(axis))
    step = one_hot(rival, classes, axis, pred.dtype) - hot.astype(pred.dtype)
    return step * np.expand_dims(active, axis)


CATEGORICAL_HINGE = LossSpec(
    name="categorical_hinge",
    aliases=("crammer_singer",),
    family="margin",
    summary="Crammer–Singer multiclass hinge: only the strongest wrong class must stay Δ below the right one.",
    formula="ℓₙ = max(0, Δ + max_{j≠y} s_j − s_y)",
    gradient="∂ℓₙ/∂s_k = 1 for k = argmax_{j≠y} s_j, −1 for k = y, where the hinge is active; else 0",
    when="Multiclass max-margin training that looks only at the hardest competitor. Keras' "
    "categorical_hinge takes max over (1 − onehot)·s, which is 0 when every wrong score is negative; "
    "lossctl uses the true max over j ≠ y.",
    elements=categorical_hinge,
    grad=categorical_hinge_grad,
    params=(DELTA,),
    **MULTICLASS_LAYOUT,
    references=(
        "Crammer & Singer, On the Algorithmic Implementation of Multiclass Kernel-based Vector Machines, JMLR 2001",
        "Keras keras.losses.CategoricalHinge",
    ),
    examples=(
        Example(CAT, 0, value=2.9, source="1 + 5.1 − 3.2; by hand"),
        Example(FROG, 2, value=6.6, source="1 + 2.5 + 3.1; by hand"),
        Example([CAT, FROG], [[1, 0, 0], [0, 0, 1]], value=4.75, source="one-hot targets: (2.9 + 6.6) / 2"),
    ),
    see_also=("multiclass_hinge", "multi_margin"),
    teaching=replace(
        MULTICLASS_LAYOUT_TEACHING,
        explain=explain_crammer_singer,
        plot=true_class_margin,
        plot_axis="score margin s_y − s_j (2 classes)",
    ),
    testing=replace(
        MULTICLASS_LAYOUT_TESTING,
        param_grid=({}, {"margin": 2.0}),
    ),
)


# --- PyTorch's multilabel margin ------------------------------------------------


def _label_mask(target: Array) -> Array:
    """True for the classes listed in each row's target, up to the first −1."""
    rows = np.atleast_2d(target).astype(np.int64)
    listed = np.cumsum(rows < 0, axis=-1) == 0  # entries before the row's first −1
    mask = np.zeros(rows.shape, dtype=bool)
    row_of = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)
    mask[row_of[listed], rows[listed]] = True
    return mask.reshape(target.shape)


def _pair_counts(scores: Array, labels: Array) -> tuple[Array, Array, Array]:
    """For one row: per label j, the active non-labels i (1 − (x_j − x_i) > 0) counted and their score
    sum; per non-label i, the labels j it is active against.  Sorting makes this O(C log C), not O(C²)."""
    others = np.sort(scores[~labels])
    positives = scores[labels]
    cumulative = np.concatenate(([0.0], np.cumsum(others)))
    first_active = np.searchsorted(others, positives - 1.0, side="right")  # x_i > x_j − 1
    active = others.size - first_active
    active_sum = cumulative[-1] - cumulative[first_active]
    sorted_labels = np.sort(positives)
    against = np.searchsorted(sorted_labels, scores[~labels] + 1.0, side="left")  # x_j < x_i + 1
    return active.astype(scores.dtype), active_sum, against.astype(scores.dtype)


def multilabel_margin(pred: Array, target: Array) -> Array:
    """(1/C) Σ_{j ∈ labels} Σ_{i ∉ labels} max(0, 1 − (x_j − x_i)) per sample."""
    scores = np.atleast_2d(pred)
    mask = np.atleast_2d(_label_mask(target))
    loss = np.zeros(scores.shape[0], dtype=scores.dtype)
    for n, (row, labels) in enumerate(zip(scores, mask, strict=True)):
        active, active_sum, _ = _pair_counts(row, labels)
        loss[n] = np.sum(active * (1.0 - row[labels]) + active_sum)
    return (loss / scores.shape[-1]).reshape(pred.shape[:-1])


def multilabel_margin_grad(pred: Array, target: Array) -> Array:
    """−1/C per active pair at its label j, +1/C at its non-label i."""
    scores = np.atleast_2d(pred)
    mask = np.atleast_2d(_label_mask(target))
    grad = np.zeros_like(scores)
    for n, (row, labels) in enumerate(zip(scores, mask, strict=True)):
        active, _, against = _pair_counts(row, labels)
        grad[n, labels] = -active
        grad[n, ~labels] = against
    return (grad / scores.shape[-1]).reshape(pred.shape)


def check_multilabel_margin(pred: Array, target: Array, **_: object) -> None:
    if pred.ndim > 2 or target.shape != pred.shape:
        raise InputError(
            f"--target has shape {target.shape}; multilabel_margin needs the shape of --pred ({pred.shape}), "
            "each row listing its classes, padded with −1"
        )
    classes = pred.shape[-1]
    require(target == np.round(target), target, "--target", "must hold whole-number class indices")
    require((target >= -1) & (target < classes), target, "--target", f"must be class indices 0 to {classes - 1} or −1")


def sample_multilabel_indices(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(2, 5))
    target = -np.ones((n, 4))
    for row in target:
        k = int(rng.integers(1, 4))
        row[:k] = rng.permutation(4)[:k]
    return {"pred": rng.normal(size=(n, 4)) * 2, "target": target}


MULTILABEL_MARGIN = LossSpec(
    name="multilabel_margin",
    aliases=("multilabel_margin_loss",),
    family="margin",
    summary="Multi-label hinge (PyTorch): every label class must outscore every other class by 1.",
    formula="ℓₙ = (1/C) Σ_{j ∈ Yₙ} Σ_{i ∉ Yₙ} max(0, 1 − (x_j − x_i)),  Yₙ = classes before the first −1",
    gradient="∂ℓₙ/∂x_j = −(1/C) #active pairs (j, ·);  ∂ℓₙ/∂x_i = (1/C) #active pairs (·, i)",
    when="Multi-label ranking: labels must score above non-labels. Targets list class indices, padded "
    "with −1 (PyTorch's format), not 0/1 masks (for those use multilabel_soft_margin).",
    elements=multilabel_margin,
    grad=multilabel_margin_grad,
    target="class",
    target_help="class indices per row, padded with −1, same shape as --pred",
    torch="multilabel_margin_loss",
    check=check_multilabel_margin,
    class_axis=lambda pred: pred.ndim - 1,
    references=("PyTorch torch.nn.MultiLabelMarginLoss",),
    examples=(
        Example(
            [0.1, 0.2, 0.4, 0.8],
            [3, 0, -1, 1],
            value=0.85,
            source="PyTorch docs example: (1−(0.1−0.2) + 1−(0.1−0.4) + 1−(0.8−0.2) + 1−(0.8−0.4)) / 4",
        ),
    ),
    see_also=("multilabel_soft_margin",),
    testing=Testing(
        zero_at_target=False,
        sample=sample_multilabel_indices,
    ),
)


# --- hinge embedding -------------------------------------------------------------


def hinge_embedding(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """x where y = 1; max(0, Δ − x) where y = −1 (x is usually a distance)."""
    return np.where(target == 1, pred, np.maximum(0.0, margin - pred))


def hinge_embedding_grad(pred: Array, target: Array, *, margin: float = 1.0) -> Array:
    """1 where y = 1; −1 where y = −1 and Δ − x > 0."""
    return np.where(target == 1, 1.0, -_active(margin - pred)).astype(pred.dtype, copy=False)


def check_pm_one(pred: Array, target: Array, **_: object) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
    require((target == 1) | (target == -1), target, "--target", "must be labels −1 or 1")


def sample_distances(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 7)),)
    return {"pred": rng.uniform(0.0, 3.0, size=shape), "target": rng.choice([-1.0, 1.0], size=shape)}


HINGE_EMBEDDING = LossSpec(
    name="hinge_embedding",
    aliases=("hinge_embedding_loss",),
    family="margin",
    summary="Pulls similar pairs' distances down and pushes dissimilar ones beyond a margin.",
    formula="ℓᵢ = xᵢ if yᵢ = 1;  max(0, Δ − xᵢ) if yᵢ = −1",
    gradient="∂ℓᵢ/∂xᵢ = 1 if yᵢ = 1;  −1[Δ − xᵢ > 0] if yᵢ = −1",
    when="Metric learning on pair distances (--pred is typically an L1 distance), semi-supervised embeddings.",
    elements=hinge_embedding,
    grad=hinge_embedding_grad,
    params=(MARGIN,),
    target_help="labels −1 (dissimilar) or 1 (similar), same shape as --pred",
    torch="hinge_embedding_loss",
    check=check_pm_one,
    references=("PyTorch torch.nn.HingeEmbeddingLoss",),
    examples=(Example([0.3, 0.4, 2.0], [1.0, -1.0, -1.0], value=0.3, source="(0.3 + 0.6 + 0) / 3; by hand"),),
    see_also=("cosine_embedding", "triplet_margin"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_distances,
        param_grid=({}, {"margin": 2.0}),
    ),
    teaching=Teaching(
        plot=lambda x: (x, -np.ones_like(x), {}),
        plot_axis="distance x of a dissimilar pair (y = −1)",
        term=lambda p, t, e, margin: p if t == "1" else f"max(0, {margin:g} − {p})",
    ),
)


# --- margin ranking --------------------------------------------------------------


def margin_ranking(pred: Array, target: Array, *, pred2: Array, margin: float = 0.0) -> Array:
    """max(0, −y (x₁ − x₂) + Δ): y = 1 wants x₁ ranked above x₂."""
    return np.maximum(0.0, -target * (pred - pred2) + margin)


def margin_ranking_grad(pred: Array, target: Array, *, pred2: Array, margin: float = 0.0) -> dict[str, Array]:
    """∂/∂x₁ = −y, ∂/∂x₂ = y, where the margin is violated."""
    active = _active(-target * (pred - pred2) + margin)
    return {"pred": -target * active, "pred2": target * active}


def check_margin_ranking(pred: Array, target: Array, *, pred2: Array, **_: object) -> None:
    if pred2.shape != pred.shape:
        raise InputError(f"--pred2 has shape {pred2.shape} but --pred has {pred.shape}; they must match")
    check_pm_one(pred, target)


def sample_ranking(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 7)),)
    return {
        "pred": rng.normal(size=shape),
        "pred2": rng.normal(size=shape),
        "target": rng.choice([-1.0, 1.0], size=shape),
    }


MARGIN_RANKING = LossSpec(
    name="margin_ranking",
    aliases=("margin_ranking_loss", "ranking_hinge"),
    family="margin",
    summary="Pairwise ranking hinge: x₁ should beat x₂ by Δ when y = 1 (and lose when y = −1).",
    formula="ℓᵢ = max(0, −yᵢ (x₁ᵢ − x₂ᵢ) + Δ)",
    gradient="∂ℓᵢ/∂x₁ᵢ = −yᵢ, ∂ℓᵢ/∂x₂ᵢ = yᵢ where the hinge is active (grad_pred2)",
    when="Learning to rank from pairwise preferences; --pred and --pred2 are the two scores of each pair.",
    elements=margin_ranking,
    grad=margin_ranking_grad,
    params=(
        Param("pred2", "tensor", REQUIRED, "the second score of each pair (x₂)"),
        Param("margin", "float", 0.0, "the margin Δ"),
    ),
    target_help="1 if --pred should rank higher, −1 if --pred2 should",
    torch="margin_ranking_loss",
    check=check_margin_ranking,
    references=("PyTorch torch.nn.MarginRankingLoss",),
    examples=(
        Example(
            [1.0, 0.2],
            [1.0, 1.0],
            params={"pred2": [0.5, 0.6], "margin": 0.1},
            value=0.25,
            source="max(0, −0.5 + 0.1) = 0 and max(0, 0.4 + 0.1) = 0.5; by hand",
        ),
    ),
    see_also=("triplet_margin", "hinge"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_ranking,
        param_grid=({}, {"margin": 0.5}),
    ),
    teaching=Teaching(
        plot=lambda x: (x, np.ones_like(x), {"pred2": np.zeros_like(x)}),
        plot_axis="x₁ − x₂ (y = 1)",
    ),
)


# --- cosine embedding --------------------------------------------------------------

# PyTorch adds ε to each squared norm; its ε is the C++ `constexpr float EPSILON = 1e-12` of
# aten/src/ATen/native/Loss.cpp, a float32 constant, so in float64 it is 1e-12 rounded to float32.
COSINE_EPSILON = float(np.float32(1e-12))  # 9.999999960041972e-13


def _cosine(pred: Array, pred2: Array) -> tuple[Array, Array, Array, Array]:
    """cos = Σx₁x₂ / √((Σx₁² + ε)(Σx₂² + ε)), with the denominator and both ε-padded squared norms."""
    dot = np.sum(pred * pred2, axis=-1)
    norm1 = np.sum(pred * pred, axis=-1) + COSINE_EPSILON
    norm2 = np.sum(pred2 * pred2, axis=-1) + COSINE_EPSILON
    denominator = np.sqrt(norm1 * norm2)
    return dot / denominator, denominator, norm1, norm2


def cosine_embedding(pred: Array, target: Array, *, pred2: Array, margin: float = 0.0) -> Array:
    """1 − cos(x₁, x₂) for y = 1; max(0, cos(x₁, x₂) − Δ) for y = −1, per row."""
    cos, *_ = _cosine(pred, pred2)
    return np.where(target == 1, 1.0 - cos, np.maximum(0.0, cos - margin))


def cosine_embedding_grad(pred: Array, target: Array, *, pred2: Array, margin: float = 0.0) -> dict[str, Array]:
    """∂cos/∂x₁ = x₂/D − cos · x₁ · (Σx₂² + ε)/D², D = √((Σx₁² + ε)(Σx₂² + ε)), times −1 (y = 1) or
    1[cos > Δ] (y = −1); evaluated in the order PyTorch's autograd takes through the forward formula
    (the division, the square root, then each squared norm), so tiny vectors agree to rounding."""
    cos, denominator, norm1, norm2 = _cosine(pred, pred2)
    d_cos = np.where(target == 1, -1.0, _active(cos - margin))
    d_dot = d_cos / denominator
    d_denominator = -d_cos * (cos / denominator)
    d_product = d_denominator / (2.0 * denominator)  # through the square root of norm1 · norm2
    d_norm1, d_norm2 = (d_product * norm2)[..., None], (d_product * norm1)[..., None]
    d_pred = pred2 * d_dot[..., None] + (pred * d_norm1 + pred * d_norm1)
    d_pred2 = pred * d_dot[..., None] + (pred2 * d_norm2 + pred2 * d_norm2)
    return {"pred": d_pred, "pred2": d_pred2}


def check_cosine_embedding(pred: Array, target: Array, *, pred2: Array, **_: object) -> None:
    if pred2.shape != pred.shape:
        raise InputError(f"--pred2 has shape {pred2.shape} but --pred has {pred.shape}; they must match")
    if pred.ndim > 2:
        raise InputError(f"--pred has shape {pred.shape}; give embeddings as (N, D) rows or one row of D")
    expected = pred.shape[:-1]
    if target.shape != expected and not (expected == () and target.size == 1):
        raise InputError(
            f"--target has shape {target.shape}; cosine_embedding needs one label per row, shape {expected}"
        )
    require((target == 1) | (target == -1), target, "--target", "must be labels −1 or 1")


def sample_embeddings(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(2, 5))
    return {
        "pred": rng.normal(size=(n, 3)),
        "pred2": rng.normal(size=(n, 3)),
        "target": rng.choice([-1.0, 1.0], size=n),
    }


def _row_axis(pred: Array) -> int:
    return pred.ndim - 1


COSINE_EMBEDDING = LossSpec(
    name="cosine_embedding",
    aliases=("cosine_embedding_loss",),
    family="margin",
    summary="Makes similar pairs' embeddings point the same way and dissimilar ones apart.",
    formula="ℓₙ = 1 − cos(x₁ₙ, x₂ₙ) if yₙ = 1;  max(0, cos(x₁ₙ, x₂ₙ) − Δ) if yₙ = −1",
    gradient="∂cos/∂x₁ = x₂/(|x₁||x₂|) − cos · x₁/|x₁|²  (grad_pred2 symmetrically)",
    when="Siamese networks and embedding learning from similar/dissimilar pairs.",
    elements=cosine_embedding,
    grad=cosine_embedding_grad,
    params=(
        Param("pred2", "tensor", REQUIRED, "the second embedding of each pair (x₂), same shape as --pred"),
        Param("margin", "float", 0.0, "cosine below which dissimilar pairs cost nothing", low=-1.0, high=1.0),
    ),
    target="class",
    target_help="one label per row: 1 (similar) or −1 (dissimilar)",
    torch="cosine_embedding_loss",
    check=check_cosine_embedding,
    class_axis=_row_axis,
    references=("PyTorch torch.nn.CosineEmbeddingLoss",),
    examples=(
        Example(
            [[1.0, 0.0], [1.0, 1.0]],
            [1.0, -1.0],
            params={"pred2": [[0.0, 1.0], [1.0, 1.0]]},
            value=1.0,
            source="orthogonal similar pair costs 1, parallel dissimilar pair costs cos = 1: (1 + 1) / 2",
        ),
    ),
    see_also=("hinge_embedding", "triplet_margin"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_embeddings,
        param_grid=({}, {"margin": 0.2}, {"margin": -0.3}),
    ),
)


# --- triplet margin -------------------------------------------------------------------


def _distance(a: Array, b: Array, p: float, eps: float) -> tuple[Array, Array]:
    """PyTorch's pairwise_distance: ‖a − b + ε‖_p over the last axis, and the difference used."""
    diff = a - b + eps
    return np.sum(np.abs(diff) ** p, axis=-1) ** (1.0 / p), diff


def _distance_grad(diff: Array, distance: Array, p: float) -> Array:
    """∂‖v‖_p/∂v = sign(v) |v|^(p−1) / ‖v‖_p^(p−1)  (0 where ‖v‖ = 0)."""
    safe = np.where(distance > 0, distance, 1.0)[..., None]
    grad = np.sign(diff) * np.abs(diff) ** (p - 1.0) / safe ** (p - 1.0)
    return np.where(distance[..., None] > 0, grad, 0.0)


def _triplet_parts(pred, positive, negative, margin, p, eps, swap):
    d_ap, v_ap = _distance(pred, positive, p, eps)
    d_an, v_an = _distance(pred, negative, p, eps)
    use_pn = np.zeros(d_an.shape, dtype=bool)
    d_pn = v_pn = None
    if swap:
        d_pn, v_pn = _distance(positive, negative, p, eps)
        use_pn = d_pn < d_an
    d_neg = np.where(use_pn, d_pn, d_an) if swap else d_an
    return d_ap, v_ap, d_an, v_an, d_pn, v_pn, use_pn, np.maximum(0.0, margin + d_ap - d_neg)


def triplet_margin(
    pred: Array,
    target: None = None,
    *,
    positive: Array,
    negative: Array,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
) -> Array:
    """max(0, d(a, p) − d(a, n) + Δ), d(x, y) = ‖x − y + ε‖_p; with --swap, min(d(a, n), d(p, n))."""
    return _triplet_parts(pred, positive, negative, margin, p, eps, swap)[-1]


def triplet_margin_grad(
    pred: Array,
    target: None = None,
    *,
    positive: Array,
    negative: Array,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
) -> dict[str, Array]:
    """Chain rule through each distance: ∂d(x, y)/∂x = −∂d(x, y)/∂y = sign(v)|v|^(p−1)/d^(p−1)."""
    d_ap, v_ap, d_an, v_an, d_pn, v_pn, use_pn, loss = _triplet_parts(pred, positive, negative, margin, p, eps, swap)
    active = _active(loss)[..., None]
    g_ap = _distance_grad(v_ap, d_ap, p) * active
    g_an = _distance_grad(v_an, d_an, p) * active * ~use_pn[..., None]
    grads = {"pred": g_ap - g_an, "positive": -g_ap, "negative": g_an}
    if swap:
        g_pn = _distance_grad(v_pn, d_pn, p) * active * use_pn[..., None]
        grads["positive"] = grads["positive"] - g_pn
        grads["negative"] = grads["negative"] + g_pn
    return grads


def check_triplet(
    pred: Array, target: None = None, *, positive: Array, negative: Array, p: float = 2.0, **_: object
) -> None:
    for option, tensor in (("--positive", positive), ("--negative", negative)):
        if tensor.shape != pred.shape:
            raise InputError(f"{option} has shape {tensor.shape} but --pred (the anchor) has {pred.shape}")


def sample_triplets(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(2, 5))
    anchor = rng.normal(size=(n, 3))
    return {"pred": anchor, "positive": anchor + 0.5 * rng.normal(size=(n, 3)), "negative": rng.normal(size=(n, 3))}


TRIPLET_MARGIN = LossSpec(
    name="triplet_margin",
    aliases=("triplet", "triplet_margin_loss"),
    family="margin",
    summary="Anchor closer to the positive than to the negative by a margin.",
    formula="ℓₙ = max(0, d(aₙ, pₙ) − d(aₙ, nₙ) + Δ),  d(x, y) = ‖x − y + ε‖_p  (--swap: min(d(a, n), d(p, n)))",
    gradient="∂ℓ/∂a = ∂d(a,p)/∂a − ∂d(a,n)/∂a where active;  ∂‖v‖_p/∂v = sign(v)|v|^(p−1)/‖v‖_p^(p−1)",
    when="Metric learning (FaceNet): --pred is the anchor embedding, --positive and --negative the others. "
    "No --target. Gradients for the positive and negative are reported as grad_positive, grad_negative.",
    elements=triplet_margin,
    grad=triplet_margin_grad,
    params=(
        Param("positive", "tensor", REQUIRED, "embeddings of the same identity as the anchor"),
        Param("negative", "tensor", REQUIRED, "embeddings of another identity"),
        Param("margin", "float", 1.0, "the margin Δ", low=0.0),
        Param("p", "float", 2.0, "the norm degree of the distance", low=0.0, low_open=True),
        Param("eps", "float", 1e-6, "added to differences, as PyTorch's pairwise_distance", low=0.0),
        Param("swap", "bool", False, "use the positive–negative distance when it is smaller (Balntas et al.)"),
    ),
    target="none",
    torch="triplet_margin_loss",
    check=check_triplet,
    class_axis=_row_axis,
    variants=(
        Variant(
            {"swap": True},
            "ℓₙ = max(0, d(aₙ, pₙ) − min(d(aₙ, nₙ), d(pₙ, nₙ)) + Δ),  d(x, y) = ‖x − y + ε‖_p  (--swap)",
            "∂ℓ/∂a = ∂d(a,p)/∂a − ∂d(a,n)/∂a where active (the last only when d(a, n) is the smaller);  "
            "∂‖v‖_p/∂v = sign(v)|v|^(p−1)/‖v‖_p^(p−1)",
        ),
        Variant(
            {"p": 1},
            "ℓₙ = max(0, ‖aₙ − pₙ + ε‖₁ − ‖aₙ − nₙ + ε‖₁ + Δ)  (p = 1: Manhattan distances)",
            "∂ℓ/∂a = sign(a − p + ε) − sign(a − n + ε) where active",
        ),
        Variant(
            {"p": 2},
            "ℓₙ = max(0, ‖aₙ − pₙ + ε‖₂ − ‖aₙ − nₙ + ε‖₂ + Δ)  (p = 2: Euclidean distances)",
            "∂ℓ/∂a = (a − p + ε)/‖a − p + ε‖₂ − (a − n + ε)/‖a − n + ε‖₂ where active",
        ),
    ),
    references=(
        "Schroff et al., FaceNet, CVPR 2015",
        "Balntas et al., Learning local feature descriptors with "
        "triplets and shallow convolutional neural networks, BMVC 2016",
        "PyTorch torch.nn.TripletMarginLoss",
    ),
    examples=(
        Example(
            [[0.0, 0.0]],
            None,
            params={"positive": [[3.0, 4.0]], "negative": [[0.0, 1.0]], "eps": 0.0},
            value=5.0,
            source="d(a, p) = 5, d(a, n) = 1: 5 − 1 + 1",
        ),
    ),
    see_also=("margin_ranking", "cosine_embedding"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_triplets,
        param_grid=({}, {"swap": True}, {"p": 1.0, "margin": 0.5}, {"p": 3.0}),
    ),
)

LOSSES = (
    HINGE,
    SQUARED_HINGE,
    MULTICLASS_HINGE,
    MULTI_MARGIN,
    CATEGORICAL_HINGE,
    MULTILABEL_MARGIN,
    HINGE_EMBEDDING,
    MARGIN_RANKING,
    COSINE_EMBEDDING,
    TRIPLET_MARGIN,
)
