"""Classification and probabilistic losses: cross-entropy family, BCE, focal, KL, Poisson, Gaussian NLL.

Conventions follow ``torch.nn.functional``: logits and log-probabilities as
PyTorch takes them, the class axis is axis 1 when the prediction has two or
more dimensions (axis 0 for a single 1-D sample), weighted means divide by
the summed weights of the non-ignored targets, BCE clamps its logs at −100.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import DTypeLike

from lossctl.errors import InputError, LossctlWarning
from lossctl.losses._numerics import along, log_sigmoid, log_softmax, row_max, row_sum, sigmoid, softplus
from lossctl.losses._views import positive_label, true_class_margin
from lossctl.losses.checks import count, position, require
from lossctl.losses.spec import (
    REQUIRED,
    Array,
    Buffers,
    EngineHooks,
    Example,
    LossSpec,
    Param,
    Reductions,
    Teaching,
    Testing,
    Variant,
    fresh_buffers,
)
from lossctl.losses.wording import Numbers, elide, join

ARTICLE = "−log softmax by hand; the article printed {} (wrong)"
ROW_SUM_TOLERANCE = 1e-6
BCE_LOG_FLOOR = -100.0  # PyTorch clamps log(p) and log(1 − p) here, so p = 0 or 1 gives 100, not inf
# PyTorch's floor for p(1 − p) in the BCE gradient: the float32 constant 1e-12, i.e. 9.999999960041972e-13
BCE_GRAD_EPSILON = float(np.float32(1e-12))


# --- class-axis helpers --------------------------------------------------------


def class_axis(pred: Array) -> int:
    """PyTorch's class axis: 1 for (N, C, d1, …), 0 for a single sample of C logits."""
    return 1 if pred.ndim >= 2 else 0


def index_shape(pred: Array) -> tuple[int, ...]:
    """Shape of class-index targets: pred's shape without the class axis."""
    axis = class_axis(pred)
    return pred.shape[:axis] + pred.shape[axis + 1 :]


def is_index_target(pred: Array, target: Array) -> bool:
    """Class indices or class probabilities? Told apart by shape, as PyTorch does."""
    if target.shape == pred.shape:
        return False
    return target.shape == index_shape(pred) or (pred.ndim == 1 and target.size == 1)


def as_indices(pred: Array, target: Array) -> Array:
    return target.reshape(index_shape(pred)).astype(np.int64)


def class_weights(pred: Array, weight: Array | None) -> Array:
    classes = pred.shape[class_axis(pred)]
    return np.ones(classes, dtype=pred.dtype) if weight is None else weight.astype(pred.dtype, copy=False)


def gather(values: Array, indices: Array, axis: int) -> Array:
    """values[..., indices, ...] along the class axis."""
    return np.take_along_axis(values, np.expand_dims(indices, axis), axis=axis).squeeze(axis)


def one_hot(indices: Array, classes: int, axis: int, dtype: DTypeLike) -> Array:
    """1 at each index along ``axis``, 0 elsewhere: memory of the output only (no C × C identity)."""
    shape = (*indices.shape[:axis], classes, *indices.shape[axis:])
    hot = np.zeros(shape, dtype=dtype)
    np.put_along_axis(hot, np.expand_dims(indices.astype(np.intp, copy=False), axis), 1, axis=axis)
    return hot


def check_class_targets(
    pred: Array,
    target: Array,
    *,
    weight: Array | None = None,
    ignore_index: int | None = None,
    allow_probabilities: bool = True,
    name: str = "cross_entropy",
) -> None:
    """Shapes, integer class indices in range, probability rows, weight length."""
    axis = class_axis(pred)
    classes = pred.shape[axis]
    if weight is not None and weight.shape != (classes,):
        raise InputError(
            f"--weight has {count(weight.size)} but there are {classes} classes (axis {axis} of --pred); "
            "give one weight per class"
        )
    if is_index_target(pred, target):
        indices = target.reshape(index_shape(pred))
        require(indices == np.round(indices), indices, "--target", "must hold whole-number class indices")
        valid = (indices >= 0) & (indices < classes)
        if ignore_index is not None:
            valid |= indices == ignore_index
        require(valid, indices, "--target", f"must be class indices from 0 to {classes - 1}")
        return
    if target.shape != pred.shape or not allow_probabilities:
        forms = f"class indices of shape {index_shape(pred)}"
        if allow_probabilities:
            forms += f" or class probabilities of shape {pred.shape}"
        raise InputError(f"--target has shape {target.shape}; {name} needs {forms}")
    require((target >= 0) & (target <= 1), target, "--target", "must be probabilities in [0, 1]")
    sums = target.sum(axis=axis)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if np.any(off):
        first = int(np.flatnonzero(off.ravel())[0])
        row = f" row {position(sums, first)}" if sums.ndim else ""
        warnings.warn(
            f"--target{row} sums to {sums.ravel()[first]:g}, not 1; computed as given (PyTorch does the same)",
            LossctlWarning,
            stacklevel=2,
        )


# --- cross-entropy -------------------------------------------------------------


def cross_entropy(
    pred: Array, target: Array, *, weight: Array | None = None, ignore_index: int = -100, label_smoothing: float = 0.0
) -> Array:
    """−Σ_c w_c t_c log softmax(x)_c per sample; with indices, −w_y log softmax(x)_y.

    Label smoothing ε mixes the target with the uniform distribution:
    (1 − ε) × the above + (ε/C) Σ_c w_c (−log softmax(x)_c), as PyTorch does.
    """
    axis = class_axis(pred)
    classes = pred.shape[axis]
    log_p = log_softmax(pred, axis)
    w = class_weights(pred, weight)
    if not is_index_target(pred, target):
        smoothed = target * (1.0 - label_smoothing) + label_smoothing / classes if label_smoothing else target
        return -np.sum(log_p * smoothed * along(w, axis, pred.ndim), axis=axis)
    indices = as_indices(pred, target)
    keep = indices != ignore_index
    safe = np.where(keep, indices, 0)
    loss = -gather(log_p, safe, axis) * w[safe]
    if label_smoothing:
        uniform = -np.sum(log_p * along(w, axis, pred.ndim), axis=axis)
        loss = (1.0 - label_smoothing) * loss + uniform * (label_smoothing / classes)
    return np.where(keep, loss, 0.0)


def cross_entropy_grad(
    pred: Array, target: Array, *, weight: Array | None = None, ignore_index: int = -100, label_smoothing: float = 0.0
) -> Array:
    """Per sample: (Σ_c w_c t_c) softmax(x) − w ⊙ t, with t the (smoothed) target distribution.

    With indices and no weights this is the familiar softmax − one-hot.
    """
    axis = class_axis(pred)
    classes = pred.shape[axis]
    p = np.exp(log_softmax(pred, axis))
    w = along(class_weights(pred, weight), axis, pred.ndim)
    if is_index_target(pred, target):
        indices = as_indices(pred, target)
        keep = indices != ignore_index
        hot = one_hot(np.where(keep, indices, 0), classes, axis, pred.dtype)
        dist = (1.0 - label_smoothing) * hot + label_smoothing / classes if label_smoothing else hot
        dist = dist * np.expand_dims(keep, axis)
    else:
        dist = target * (1.0 - label_smoothing) + label_smoothing / classes if label_smoothing else target
    weighted = dist * w
    return p * np.sum(weighted, axis=axis, keepdims=True) - weighted


def cross_entropy_fused(
    pred: Array,
    target: Array,
    *,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    buffers: Buffers | None = None,
) -> tuple[Array, Array] | None:
    """The common case in one pass — (N, C) logits, class indices, no weights, no smoothing:
    ℓ = logsumexp(x) − x_y and ∂ℓ/∂x = softmax(x) − one-hot(y), sharing exp(x − max)."""
    if pred.ndim != 2 or weight is not None or label_smoothing or not is_index_target(pred, target):
        return None
    take = buffers or fresh_buffers(pred)
    indices = as_indices(pred, target)
    keep = indices != ignore_index
    every = bool(keep.all())
    flat = np.arange(pred.shape[0]) * pred.shape[1] + (indices if every else np.where(keep, indices, 0))
    shifted = np.subtract(pred, row_max(pred), out=take(0, pred.shape))
    grad = np.exp(shifted, out=take(1, pred.shape))  # becomes softmax(x) − one-hot(y) in place
    totals = row_sum(grad)
    elements = np.log(totals[:, 0]) - shifted.ravel()[flat]  # flat indices: cheaper than [rows, columns]
    grad /= totals
    grad.ravel()[flat] -= 1.0
    if not every:
        elements = np.where(keep, elements, 0.0)
        grad *= keep[:, None]
    return elements, grad


def cross_entropy_denominator(
    pred: Array, target: Array, *, weight: Array | None = None, ignore_index: int = -100, **_: object
) -> float | Array:
    """PyTorch's mean divides by Σ w_y over non-ignored index targets (the terms are returned, and the
    caller sums them exactly) and by the number of samples for probabilities."""
    if not is_index_target(pred, target):
        return float(np.prod(index_shape(pred)))
    indices = as_indices(pred, target)
    keep = indices != ignore_index
    weights = class_weights(pred, weight)
    # indices out of range are refused by the check of the same rows; here they must not raise first
    return weights[np.clip(np.where(keep, indices, 0), 0, weights.size - 1)] * keep


def cross_entropy_details(pred: Array, target: Array, *, ignore_index: int = -100, **_: object) -> dict[str, Array]:
    """What a student checks: the target class, its softmax probability, all probabilities."""
    axis = class_axis(pred)
    p = np.exp(log_softmax(pred, axis))
    details: dict[str, Array] = {}
    if is_index_target(pred, target):
        indices = as_indices(pred, target)
        keep = indices != ignore_index
        details["p(class)"] = np.where(keep, gather(p, np.where(keep, indices, 0), axis), np.nan)
    if pred.shape[axis] <= 6:
        details["softmax"] = p
    return details


def explain_cross_entropy(result, fmt: Numbers) -> list[str]:
    """Per sample: the softmax of the target class, its −log, and any weight, ignore or smoothing step."""
    pred, target = result.pred, result.target
    axis = class_axis(pred)
    classes = pred.shape[axis]
    rows = np.moveaxis(pred, axis, -1).reshape(-1, classes)
    weight = result.tensors.get("weight")
    smoothing, ignore = result.params["label_smoothing"], result.params["ignore_index"]
    by_index = is_index_target(pred, target)
    # one class index per sample, or one row of class probabilities per sample
    targets = as_indices(pred, target).ravel() if by_index else np.moveaxis(target, axis, -1).reshape(-1, classes)
    elements = result.elements.ravel()
    lines: list[str] = []
    if smoothing:
        lines.append(f"label smoothing ε = {fmt(smoothing)}: target = (1 − ε)·target + ε/{classes} on every class")
    for k in elide(list(range(rows.shape[0]))):
        if k == "…":
            lines.append("…")
            continue
        x = rows[k]
        p = np.exp(log_softmax(x, 0))
        exps = join([f"e^{fmt.inner(v)}" for v in x])
        total = fmt(float(np.sum(np.exp(x))))
        if not by_index:
            t = targets[k]
            lines.append(f"sample {k}: logits {fmt.vector(x)}, target probabilities {fmt.vector(t)}")
            lines.append(f"  softmax = e^x / ({exps}) = {fmt.vector(p)}")
            logs = join([f"{fmt.inner(tc)}·log {fmt(pc)}" for tc, pc in zip(t, p, strict=False)])
            lines.append(f"  ℓ_{k} = −({logs}) = {fmt(elements[k])}")
            continue
        y = int(targets[k])
        if y == ignore:
            lines.append(f"sample {k}: target {y} = --ignore-index → ℓ_{k} = 0, not counted in the mean")
            continue
        lines.append(f"sample {k}: logits {fmt.vector(x)}, target class {y}")
        lines.append(
            f"  softmax_{y} = e^{fmt.inner(x[y])} / ({exps}) = {fmt(float(np.exp(x[y])))} / {total} = {fmt(p[y])}"
        )
        nll_term = f"−log {fmt(p[y])} = {fmt(-np.log(p[y]))}"
        if weight is not None:
            nll_term = f"w_{y}·(−log {fmt(p[y])}) = {fmt(weight[y])} · {fmt(-np.log(p[y]))}"
        if smoothing:
            lines.append(
                f"  ℓ_{k} = (1 − {fmt(smoothing)})·{nll_term.split(' = ')[0]} + ({fmt(smoothing)}/{classes})"
                f"·Σ_c w_c (−log softmax_c) = {fmt(elements[k])}"
            )
        else:
            lines.append(
                f"  ℓ_{k} = {nll_term} = {fmt(elements[k])}" if weight is not None else f"  ℓ_{k} = {nll_term}"
            )
    if weight is not None and by_index:
        kept = [fmt(weight[int(y)]) for y in targets if y != ignore]
        lines.append(f"weighted mean divides by the weights of the kept targets: {join(kept)} = {fmt(result.count)}")
    return lines


def check_cross_entropy(pred: Array, target: Array, *, weight=None, ignore_index=-100, **_: object) -> None:
    check_class_targets(pred, target, weight=weight, ignore_index=ignore_index)
    if ignore_index != IGNORE_INDEX.default and not is_index_target(pred, target):
        raise InputError("--ignore-index applies to class-index targets only, not to probability targets (as PyTorch)")


def sample_classes(rng: np.random.Generator) -> dict[str, Array]:
    """Logits with 3 classes in one of the layouts PyTorch accepts, index or probability targets."""
    layout = int(rng.integers(0, 4))
    n = int(rng.integers(4, 7))
    if layout == 0:
        pred = rng.normal(size=(n, 3)) * 2
    elif layout == 1:
        pred = rng.normal(size=(2, 3, 2, 2)) * 2
    elif layout == 2:
        pred = rng.normal(size=3) * 2
        return {"pred": pred, "target": np.array([0.0])}  # class 0 is never an ignore_index of the grid
    else:
        pred = rng.normal(size=(n, 3)) * 2
        target = rng.dirichlet(np.ones(3), size=n)
        return {"pred": pred, "target": target}
    target = rng.integers(0, 3, size=index_shape(pred)).astype(float)
    target.flat[0] = 0.0  # so that ignore_index=1 never ignores everything
    return {"pred": pred, "target": target}


def _logsumexp(*logits: float) -> float:
    """log Σ e^x in plain Python floats: the hand computation behind the worked examples."""
    return math.log(math.fsum(math.exp(x) for x in logits))


CLASS_WEIGHT = Param("weight", "tensor", None, "a weight per class (rescales each class's loss)")
IGNORE_INDEX = Param("ignore_index", "int", -100, "targets with this class index contribute nothing")
_WEIGHTS = np.array([0.2, 1.0, 3.0])

CROSS_ENTROPY = LossSpec(
    name="cross_entropy",
    aliases=("ce", "categorical_crossentropy", "softmax_cross_entropy", "cross_entropy_loss"),
    family="classification",
    summary="Softmax cross-entropy on logits: −log of the probability given to the right class.",
    formula="ℓₙ = −Σ_c w_c t_nc log softmax(xₙ)_c;  class indices: ℓₙ = −w_y log softmax(xₙ)_y",
    gradient="∂ℓₙ/∂xₙ = (Σ_c w_c t_nc) softmax(xₙ) − w ⊙ tₙ  (softmax − one-hot without weights)",
    when="Single-label multi-class classification. --pred holds raw logits (not probabilities: "
    "use nll for log-probabilities). --weight for class imbalance, --label-smoothing against over-confidence.",
    elements=cross_entropy,
    grad=cross_entropy_grad,
    params=(
        CLASS_WEIGHT,
        IGNORE_INDEX,
        Param("label_smoothing", "float", 0.0, "mix the target with the uniform distribution", low=0.0, high=1.0),
    ),
    target="class",
    target_help="class indices (shape of --pred without the class axis) or class probabilities (shape of --pred)",
    torch="cross_entropy",
    check=check_cross_entropy,
    class_axis=class_axis,
    references=(
        "PyTorch torch.nn.CrossEntropyLoss",
        "Szegedy et al., Rethinking the Inception Architecture (label smoothing), CVPR 2016",
    ),
    examples=(
        Example(
            [[0.1, 0.9], [0.3, 0.7]],
            [1, 0],
            value=(math.log1p(math.exp(-0.8)) + math.log1p(math.exp(0.4))) / 2,
            sum=math.log1p(math.exp(-0.8)) + math.log1p(math.exp(0.4)),
            source=ARTICLE.format("0.7136") + ": (log(1 + e^−0.8) + log(1 + e^0.4)) / 2 = 0.6420580",
        ),
        Example(
            [[0.1, 0.2, 0.7], [0.3, 0.4, 0.3]],
            [2, 1],
            value=(_logsumexp(0.1, 0.2, 0.7) - 0.7 + _logsumexp(0.3, 0.4, 0.3) - 0.4) / 2,
            source=ARTICLE.format("1.4076") + " = 0.9005092",
        ),
        Example(
            [1.0, 2.0, 3.0], 2, value=_logsumexp(1.0, 2.0, 3.0) - 3.0, source="log(e + e² + e³) − 3, one 1-D sample"
        ),
        Example(
            [[0.1, 0.9], [0.3, 0.7]],
            [[0.0, 1.0], [1.0, 0.0]],
            value=(math.log1p(math.exp(-0.8)) + math.log1p(math.exp(0.4))) / 2,
            source="one-hot rows give the same as indices",
        ),
        Example(
            [[0.0, 0.0], [0.0, 0.0]],
            [1, 0],
            params={"weight": [1.0, 3.0]},
            value=math.log(2.0),
            source="equal logits: every sample costs log 2, weighted mean (3 + 1) log 2 / (3 + 1)",
        ),
    ),
    see_also=("nll", "bce_with_logits", "kl_div", "multiclass_hinge"),
    reductions=Reductions(
        denominator=cross_entropy_denominator,
    ),
    engine=EngineHooks(
        fused=cross_entropy_fused,
    ),
    teaching=Teaching(
        details=cross_entropy_details,
        explain=explain_cross_entropy,
        plot=true_class_margin,
        plot_axis="logit of the true class minus the other (2 classes)",
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_classes,
        param_grid=(
            {},
            {"weight": _WEIGHTS},
            {"ignore_index": 1},
            {"label_smoothing": 0.2},
            {"weight": _WEIGHTS, "ignore_index": 2, "label_smoothing": 0.1},
        ),
    ),
)


# --- negative log-likelihood ---------------------------------------------------


def nll(pred: Array, target: Array, *, weight: Array | None = None, ignore_index: int = -100) -> Array:
    """−w_y x_y: the log-probability of the target class, negated and weighted."""
    axis = class_axis(pred)
    indices = as_indices(pred, target)
    keep = indices != ignore_index
    safe = np.where(keep, indices, 0)
    return np.where(keep, -gather(pred, safe, axis) * class_weights(pred, weight)[safe], 0.0)


def nll_grad(pred: Array, target: Array, *, weight: Array | None = None, ignore_index: int = -100) -> Array:
    """−w_y at the target class, 0 elsewhere."""
    axis = class_axis(pred)
    indices = as_indices(pred, target)
    keep = indices != ignore_index
    safe = np.where(keep, indices, 0)
    scale = np.where(keep, -class_weights(pred, weight)[safe], 0.0)
    return one_hot(safe, pred.shape[axis], axis, pred.dtype) * np.expand_dims(scale, axis)


def check_nll(pred: Array, target: Array, *, weight=None, ignore_index=-100, **_: object) -> None:
    check_class_targets(pred, target, weight=weight, ignore_index=ignore_index, allow_probabilities=False, name="nll")


def sample_log_probabilities(rng: np.random.Generator) -> dict[str, Array]:
    drawn = sample_classes(rng)
    pred = drawn["pred"]
    target = drawn["target"]
    if target.shape == pred.shape:
        target = rng.integers(0, 3, size=index_shape(pred)).astype(float)
        target.flat[0] = 0.0
    return {"pred": log_softmax(pred, class_axis(pred)), "target": target}


NLL = LossSpec(
    name="nll",
    aliases=("nll_loss", "negative_log_likelihood"),
    family="classification",
    summary="Negative log-likelihood of the target class, given log-probabilities.",
    formula="ℓₙ = −w_y x_{n,y}  (x = log-probabilities, y = target class)",
    gradient="∂ℓₙ/∂x_{n,c} = −w_y if c = y else 0",
    when="After a log_softmax layer. On raw logits use cross_entropy instead (= log_softmax + nll).",
    elements=nll,
    grad=nll_grad,
    params=(CLASS_WEIGHT, IGNORE_INDEX),
    target="class",
    target_help="class indices (shape of --pred without the class axis)",
    torch="nll_loss",
    check=check_nll,
    class_axis=class_axis,
    references=("PyTorch torch.nn.NLLLoss",),
    examples=(Example([[-0.5, -1.2], [-2.0, -0.1]], [0, 1], value=0.3, sum=0.6, source="(0.5 + 0.1) / 2; by hand"),),
    see_also=("cross_entropy",),
    reductions=Reductions(
        denominator=cross_entropy_denominator,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_log_probabilities,
        param_grid=({}, {"weight": _WEIGHTS}, {"ignore_index": 1}),
    ),
)


# --- binary cross-entropy on probabilities ----------------------------------


def _broadcast_weight(pred: Array, weight: Array | None) -> Array | float:
    return 1.0 if weight is None else np.broadcast_to(weight, pred.shape)


def bce(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """−w [t log p + (1 − t) log(1 − p)], each log clamped at −100 (PyTorch)."""
    log_p = np.maximum(np.log(pred), BCE_LOG_FLOOR)
    log_q = np.maximum(np.log1p(-pred), BCE_LOG_FLOOR)
    return ((target - 1.0) * log_q - target * log_p) * _broadcast_weight(pred, weight)


def bce_grad(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """w (p − t) / max(p (1 − p), 1e-12), as PyTorch's backward (finite at p = 0 and 1)."""
    return (pred - target) / np.maximum((1.0 - pred) * pred, BCE_GRAD_EPSILON) * _broadcast_weight(pred, weight)


def check_broadcast_weight(pred: Array, weight: Array | None, option: str = "--weight") -> None:
    if weight is None:
        return
    try:
        np.broadcast_to(weight, pred.shape)
    except ValueError as exc:
        raise InputError(
            f"{option} has shape {weight.shape}, which does not broadcast to --pred's {pred.shape}"
        ) from exc


def check_bce(pred: Array, target: Array, *, weight: Array | None = None) -> None:
    require(
        (pred >= 0) & (pred <= 1), pred, "--pred", "must be probabilities in [0, 1] (for logits use bce_with_logits)"
    )
    require((target >= 0) & (target <= 1), target, "--target", "must be in [0, 1]")
    check_broadcast_weight(pred, weight)


def bce_details(pred: Array, target: Array, **_: object) -> dict[str, Array]:
    return {"log p": np.maximum(np.log(pred), BCE_LOG_FLOOR), "log(1−p)": np.maximum(np.log1p(-pred), BCE_LOG_FLOOR)}


def sample_probabilities(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 5)), 3)
    return {"pred": rng.uniform(0.05, 0.95, size=shape), "target": rng.uniform(0, 1, size=shape)}


ELEMENT_WEIGHT = Param("weight", "tensor", None, "rescales each element's loss (broadcast to --pred)")

BCE = LossSpec(
    name="bce",
    aliases=("binary_crossentropy", "log_loss", "binary_cross_entropy"),
    family="classification",
    summary="Binary cross-entropy on probabilities.",
    formula="ℓᵢ = −wᵢ [yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)],  logs clamped at −100",
    gradient="∂ℓᵢ/∂pᵢ = wᵢ (pᵢ − yᵢ) / max(pᵢ(1 − pᵢ), 1e-12)",
    when="Binary or multi-label targets when --pred already holds probabilities (after a sigmoid). "
    "On logits prefer bce_with_logits: it is exact where sigmoid saturates.",
    elements=bce,
    grad=bce_grad,
    params=(ELEMENT_WEIGHT,),
    target_help="targets in [0, 1], same shape as --pred",
    torch="binary_cross_entropy",
    check=check_bce,
    references=("PyTorch torch.nn.BCELoss", "Keras keras.losses.BinaryCrossentropy"),
    examples=(
        Example([0.8, 0.3], [1.0, 0.0], value=-(math.log(0.8) + math.log(0.7)) / 2, source="−(log 0.8 + log 0.7)/2"),
        Example([1.0, 0.0], [0.0, 1.0], value=100.0, source="log 0 clamped at −100 (PyTorch)"),
    ),
    see_also=("bce_with_logits", "cross_entropy", "focal"),
    teaching=Teaching(
        details=bce_details,
        plot=lambda x: (1.0 / (1.0 + np.exp(-x)), np.ones_like(x), {}),
        plot_axis="σ⁻¹(p): the logit of the predicted probability (label 1)",
        term=lambda p, t, e: f"−({t}·log {p} + (1 − {t})·log(1 − {p}))",
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_probabilities,
        param_grid=({}, {"weight": np.array([0.5, 1.0, 2.0])}),
    ),
)


# --- binary cross-entropy on logits -----------------------------------------


def bce_with_logits(
    pred: Array, target: Array, *, weight: Array | None = None, pos_weight: Array | None = None
) -> Array:
    """w [(1 − t) x − (1 + (pw − 1) t) log σ(x)]: no exp of a large logit, exact for |x| ≫ 1."""
    log_weight = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * target
    return ((1.0 - target) * pred - log_weight * log_sigmoid(pred)) * _broadcast_weight(pred, weight)


def bce_with_logits_grad(
    pred: Array, target: Array, *, weight: Array | None = None, pos_weight: Array | None = None
) -> Array:
    """w [(1 − t) − (1 + (pw − 1) t) σ(−x)]  (σ(x) − t without pos_weight)."""
    log_weight = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * target
    return ((1.0 - target) - log_weight * sigmoid(-pred)) * _broadcast_weight(pred, weight)


def check_bce_with_logits(pred: Array, target: Array, *, weight=None, pos_weight=None) -> None:
    require((target >= 0) & (target <= 1), target, "--target", "must be in [0, 1]")
    check_broadcast_weight(pred, weight)
    check_broadcast_weight(pred, pos_weight, "--pos-weight")


def sample_logits(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 5)), 3)
    return {"pred": rng.normal(size=shape) * 3, "target": rng.uniform(0, 1, size=shape)}


BCE_WITH_LOGITS = LossSpec(
    name="bce_with_logits",
    aliases=("binary_cross_entropy_with_logits", "sigmoid_cross_entropy", "sigmoid_binary_cross_entropy"),
    family="classification",
    summary="Binary cross-entropy on logits: sigmoid and BCE fused, stable for any logit.",
    formula="ℓᵢ = −wᵢ [pwᵢ yᵢ log σ(xᵢ) + (1 − yᵢ) log(1 − σ(xᵢ))]",
    gradient="∂ℓᵢ/∂xᵢ = wᵢ [(1 + (pwᵢ − 1) yᵢ) σ(xᵢ) − pwᵢ yᵢ]  (σ(xᵢ) − yᵢ without weights)",
    when="Binary and multi-label classification on raw logits. --pos-weight (per class) > 1 raises "
    "recall on rare positives.",
    elements=bce_with_logits,
    grad=bce_with_logits_grad,
    params=(ELEMENT_WEIGHT, Param("pos_weight", "tensor", None, "weight of positive examples, per class (last axis)")),
    target_help="targets in [0, 1], same shape as --pred",
    torch="binary_cross_entropy_with_logits",
    check=check_bce_with_logits,
    references=("PyTorch torch.nn.BCEWithLogitsLoss", "optax.losses.sigmoid_binary_cross_entropy"),
    examples=(
        Example([0.0], [1.0], value=math.log(2.0), source="σ(0) = 1/2, −log(1/2)"),
        Example([10000.0, -10000.0], [0.0, 1.0], value=10000.0, source="log(1 + e^10000) = 10000 exactly in float64"),
    ),
    see_also=("bce", "focal", "soft_margin"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_logits,
        param_grid=({}, {"pos_weight": np.array([1.0, 3.0, 0.5])}, {"weight": np.array([2.0, 1.0, 0.1])}),
    ),
    teaching=Teaching(
        plot=positive_label,
        plot_axis="logit x (label 1)",
        term=lambda p, t, e: f"−({t}·log σ({p}) + (1 − {t})·log(1 − σ({p})))",
    ),
)


# --- sigmoid focal loss ----------------------------------------------------------


def focal(pred: Array, target: Array, *, alpha: float = 0.25, gamma: float = 2.0) -> Array:
    """α_t (1 − p_t)^γ BCE(x, t), p_t = p t + (1 − p)(1 − t), p = σ(x) (torchvision's definition)."""
    p = sigmoid(pred)
    p_t = p * target + (1.0 - p) * (1.0 - target)
    loss = ((1.0 - target) * pred - log_sigmoid(pred)) * (1.0 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1.0 - alpha) * (1.0 - target)) * loss
    return loss


def focal_grad(pred: Array, target: Array, *, alpha: float = 0.25, gamma: float = 2.0) -> Array:
    """α_t [(p − t)(1 − p_t)^γ − γ (1 − p_t)^(γ−1) (2t − 1) p(1 − p) BCE]."""
    p = sigmoid(pred)
    p_t = p * target + (1.0 - p) * (1.0 - target)
    ce = (1.0 - target) * pred - log_sigmoid(pred)
    miss = 1.0 - p_t
    modulating = miss**gamma
    if gamma == 0.0:
        d_modulating = np.zeros_like(p)
    else:
        # (1 − p_t)^(γ−1) p (1 − p) → 0 as p_t → 1, even for γ < 1 where the power alone blows up
        power = np.where(miss > 0, miss ** (gamma - 1.0), 0.0)
        d_modulating = -gamma * power * (2.0 * target - 1.0) * p * (1.0 - p)
    grad = (p - target) * modulating + ce * d_modulating
    if alpha >= 0:
        grad = (alpha * target + (1.0 - alpha) * (1.0 - target)) * grad
    return grad


def check_focal(pred: Array, target: Array, **_: object) -> None:
    require((target >= 0) & (target <= 1), target, "--target", "must be in [0, 1]")


FOCAL = LossSpec(
    name="focal",
    aliases=("sigmoid_focal", "focal_loss", "sigmoid_focal_loss"),
    family="classification",
    summary="Sigmoid focal loss: BCE on logits that down-weights easy, well-classified examples.",
    formula="ℓᵢ = α_t (1 − p_t)^γ BCE(xᵢ, yᵢ),  p = σ(x), p_t = p y + (1 − p)(1 − y), α_t = α y + (1 − α)(1 − y)",
    gradient="∂ℓᵢ/∂xᵢ = α_t [(p − y)(1 − p_t)^γ − γ (1 − p_t)^(γ−1) (2y − 1) p (1 − p) BCE]",
    when="Dense detection and other heavily imbalanced binary problems (RetinaNet). γ = 0 and α < 0 "
    "give bce_with_logits. α < 0 disables the class balance term, as in torchvision.",
    elements=focal,
    grad=focal_grad,
    params=(
        Param("alpha", "float", 0.25, "weight of positives (1 − α for negatives); negative disables", high=1.0),
        Param("gamma", "float", 2.0, "focusing exponent; 0 gives (α-balanced) BCE", low=0.0),
    ),
    target_help="targets in [0, 1], same shape as --pred",
    check=check_focal,
    references=(
        "Lin et al., Focal Loss for Dense Object Detection, ICCV 2017",
        "torchvision.ops.sigmoid_focal_loss",
    ),
    examples=(
        Example(
            [0.0],
            [1.0],
            value=0.25 * 0.25 * math.log(2.0),
            source="p_t = 1/2: 0.25 · (1/2)² · log 2; by hand",
        ),
    ),
    see_also=("bce_with_logits",),
    testing=Testing(
        zero_at_target=False,
        sample=sample_logits,
        param_grid=({}, {"gamma": 0.0, "alpha": -1.0}, {"gamma": 0.5, "alpha": 0.7}, {"gamma": 3.0}),
    ),
    teaching=Teaching(
        plot=positive_label,
        plot_axis="logit x (label 1)",
        term=lambda p, t, e, alpha, gamma: f"α_t·(1 − p_t)^{gamma:g}·BCE(σ({p}), {t})",
    ),
)


# --- KL divergence ------------------------------------------------------------------


def kl_div(pred: Array, target: Array, *, log_target: bool = False) -> Array:
    """t (log t − x) with x = log-probabilities (0 where t = 0); e^t (t − x) with --log-target."""
    if log_target:
        return np.exp(target) * (target - pred)
    safe = np.where(target > 0, target, 1.0)
    return np.where(target > 0, target * np.log(safe), 0.0) - target * pred


def kl_div_grad(pred: Array, target: Array, *, log_target: bool = False) -> Array:
    """−t (or −e^t with --log-target)."""
    return -(np.exp(target) if log_target else target)


def check_kl_div(pred: Array, target: Array, *, log_target: bool = False) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
    if not log_target:
        require(target >= 0, target, "--target", "must be probabilities ≥ 0 (or pass --log-target)")


def _batch_size(pred: Array, *_: object, **__: object) -> float:
    return float(pred.shape[0]) if pred.ndim else 1.0


def sample_distributions(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(2, 5))
    pred = np.log(rng.dirichlet(np.ones(4), size=n))
    return {"pred": pred, "target": rng.dirichlet(np.ones(4), size=n)}


KL_DIV = LossSpec(
    name="kl_div",
    aliases=("kl", "kl_divergence", "kld", "kullback_leibler"),
    family="probabilistic",
    summary="Kullback–Leibler divergence KL(t ‖ p), with --pred as log-probabilities log p.",
    formula="ℓᵢ = tᵢ (log tᵢ − xᵢ)  (0 where tᵢ = 0);  --log-target: ℓᵢ = e^tᵢ (tᵢ − xᵢ)",
    gradient="∂ℓᵢ/∂xᵢ = −tᵢ  (−e^tᵢ with --log-target)",
    when="Distillation and matching distributions. PyTorch's 'mean' averages over every element; "
    "the true KL per sample is --reduction batchmean.",
    elements=kl_div,
    grad=kl_div_grad,
    params=(Param("log_target", "bool", False, "--target holds log-probabilities"),),
    target="class",
    target_help="probabilities (log-probabilities with --log-target), same shape as --pred",
    torch="kl_div",
    check=check_kl_div,
    variants=(
        Variant(
            {"log_target": True},
            "ℓᵢ = e^tᵢ (tᵢ − xᵢ)  (--log-target: tᵢ is log qᵢ)",
            "∂ℓᵢ/∂xᵢ = −e^tᵢ",
        ),
    ),
    references=("PyTorch torch.nn.KLDivLoss", "Kullback & Leibler, On Information and Sufficiency, 1951"),
    examples=(
        Example(
            [[math.log(0.5), math.log(0.5)]],
            [[0.25, 0.75]],
            value=(0.25 * math.log(0.5) + 0.75 * math.log(1.5)),
            reduction="batchmean",
            source="KL((¼, ¾) ‖ (½, ½)) = ¼ log ½ + ¾ log 1.5",
        ),
    ),
    see_also=("cross_entropy",),
    reductions=Reductions(
        extra={"batchmean": _batch_size},
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_distributions,
        param_grid=({}, {"log_target": True}),
    ),
    teaching=Teaching(
        term=lambda p, t, e, log_target: f"e^{t}·({t} − {p})" if log_target else f"{t}·(log {t} − {p})",
    ),
)


# --- Poisson NLL --------------------------------------------------------------------


def poisson_nll(pred: Array, target: Array, *, log_input: bool = True, full: bool = False, eps: float = 1e-8) -> Array:
    """e^x − t x (--log-input) or x − t log(x + ε); --full adds Stirling's t log t − t + ½ log(2π t) where t > 1."""
    loss = np.exp(pred) - target * pred if log_input else pred - target * np.log(pred + eps)
    if full:
        safe = np.where(target > 1, target, 2.0)
        stirling = safe * np.log(safe) - safe + 0.5 * np.log(2.0 * math.pi * safe)
        loss = loss + np.where(target > 1, stirling, 0.0)
    return loss


def poisson_nll_grad(
    pred: Array, target: Array, *, log_input: bool = True, full: bool = False, eps: float = 1e-8
) -> Array:
    """e^x − t (--log-input) or 1 − t / (x + ε); the Stirling term does not depend on the prediction."""
    return np.exp(pred) - target if log_input else 1.0 - target / (pred + eps)


def check_poisson(pred: Array, target: Array, *, log_input: bool = True, eps: float = 1e-8, **_: object) -> None:
    require(target >= 0, target, "--target", "must be counts ≥ 0 for poisson_nll")
    if not log_input:
        require(pred + eps > 0, pred, "--pred", "must be a rate ≥ 0 with --no-log-input (or pass log-rates)")


def sample_counts(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 7)),)
    return {"pred": rng.uniform(0.2, 3.0, size=shape), "target": rng.poisson(2.0, size=shape).astype(float)}


STIRLING = "(yᵢ log yᵢ − yᵢ + ½ log(2π yᵢ) where yᵢ > 1)"

POISSON_NLL = LossSpec(
    name="poisson_nll",
    aliases=("poisson", "poisson_nll_loss"),
    family="probabilistic",
    summary="Negative log-likelihood of counts under a Poisson distribution.",
    formula="ℓᵢ = e^xᵢ − yᵢ xᵢ  (--log-input);  xᵢ − yᵢ log(xᵢ + ε)  (--no-log-input);  "
    "--full adds yᵢ log yᵢ − yᵢ + ½ log(2π yᵢ) where yᵢ > 1",
    gradient="∂ℓᵢ/∂xᵢ = e^xᵢ − yᵢ  or  1 − yᵢ/(xᵢ + ε)",
    when="Count targets (events, photons, clicks). With --log-input (default) --pred is the log-rate, "
    "which keeps the rate positive without a constraint.",
    elements=poisson_nll,
    grad=poisson_nll_grad,
    params=(
        Param("log_input", "bool", True, "--pred holds log-rates (else rates)"),
        Param("full", "bool", False, "add the Stirling approximation of log(y!)"),
        Param("eps", "float", 1e-8, "avoids log(0) when --no-log-input", low=0.0, low_open=True),
    ),
    target_help="counts ≥ 0, same shape as --pred",
    torch="poisson_nll_loss",
    check=check_poisson,
    variants=(
        Variant(
            {"log_input": False, "full": True},
            f"ℓᵢ = xᵢ − yᵢ log(xᵢ + ε) + {STIRLING}  (--no-log-input --full)",
            "∂ℓᵢ/∂xᵢ = 1 − yᵢ/(xᵢ + ε)  (the Stirling term does not depend on xᵢ)",
        ),
        Variant({"log_input": False}, "ℓᵢ = xᵢ − yᵢ log(xᵢ + ε)  (--no-log-input)", "∂ℓᵢ/∂xᵢ = 1 − yᵢ/(xᵢ + ε)"),
        Variant(
            {"full": True},
            f"ℓᵢ = e^xᵢ − yᵢ xᵢ + {STIRLING}  (--full)",
            "∂ℓᵢ/∂xᵢ = e^xᵢ − yᵢ  (the Stirling term does not depend on xᵢ)",
        ),
    ),
    references=("PyTorch torch.nn.PoissonNLLLoss",),
    examples=(Example([0.0, 1.0], [1.0, 2.0], value=(1.0 + math.e - 2.0) / 2, source="e⁰ − 0 and e¹ − 2; by hand"),),
    see_also=("gaussian_nll", "mse"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_counts,
        param_grid=({}, {"log_input": False}, {"full": True}, {"log_input": False, "full": True}),
    ),
    teaching=Teaching(
        plot=lambda x: (x, np.full_like(x, 2.0), {}),
        plot_axis="log-rate x (count 2)",
        term=lambda p, t, e, log_input, full, eps: (
            (f"e^{p} − {t}·{p}" if log_input else f"{p} − {t}·log({p} + {eps:g})") + (" + stirling" if full else "")
        ),
    ),
)


# --- Gaussian NLL --------------------------------------------------------------------


def _variance(pred: Array, var: Array, eps: float) -> Array:
    """var broadcast to pred (PyTorch accepts one fewer trailing dim) and clamped at ε."""
    if var.shape == pred.shape[:-1] and pred.ndim > 0:
        var = var[..., None]
    return np.maximum(np.broadcast_to(var, pred.shape), eps)


def gaussian_nll(pred: Array, target: Array, *, var: Array, full: bool = False, eps: float = 1e-6) -> Array:
    """½ (log max(σ², ε) + (x − y)² / max(σ², ε)), plus ½ log 2π with --full."""
    variance = _variance(pred, var, eps)
    error = pred - target
    loss = 0.5 * (np.log(variance) + error * error / variance)
    return loss + 0.5 * math.log(2.0 * math.pi) if full else loss


def gaussian_nll_grad(
    pred: Array, target: Array, *, var: Array, full: bool = False, eps: float = 1e-6
) -> dict[str, Array]:
    """∂/∂x = (x − y)/σ²;  ∂/∂σ² = ½ (1/σ² − (x − y)²/σ⁴), summed over broadcast axes."""
    variance = _variance(pred, var, eps)
    error = pred - target
    grad_var = 0.5 * (1.0 / variance - error * error / (variance * variance))
    return {"pred": error / variance, "var": _unbroadcast(grad_var, var.shape)}


def _unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum a gradient back down to the shape of a broadcast operand."""
    if grad.shape == shape:
        return grad
    if grad.shape[:-1] == shape:
        return grad.sum(axis=-1)
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def check_gaussian_nll(pred: Array, target: Array, *, var: Array, **_: object) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
    shapes_ok = var.shape == pred.shape or (pred.ndim > 0 and var.shape in (pred.shape[:-1], (*pred.shape[:-1], 1)))
    if not shapes_ok:
        raise InputError(
            f"--var has shape {var.shape}; it must match --pred {pred.shape} "
            "or drop its last axis (one variance per row)"
        )
    require(var >= 0, var, "--var", "must be variances ≥ 0")


def sample_gaussian(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(2, 5))
    shared = bool(rng.integers(0, 2))
    var_shape = (n, 1) if shared else (n, 3)
    return {
        "pred": rng.normal(size=(n, 3)),
        "target": rng.normal(size=(n, 3)),
        "var": rng.uniform(0.2, 2.0, size=var_shape),
    }


GAUSSIAN_NLL = LossSpec(
    name="gaussian_nll",
    aliases=("gaussian_nll_loss", "gaussian"),
    family="probabilistic",
    summary="Negative log-likelihood of targets under a Gaussian with predicted mean and variance.",
    formula="ℓᵢ = ½ (log max(σᵢ², ε) + (xᵢ − yᵢ)² / max(σᵢ², ε))  (+ ½ log 2π with --full)",
    gradient="∂ℓᵢ/∂xᵢ = (xᵢ − yᵢ)/σᵢ²;  ∂ℓᵢ/∂σᵢ² = ½ (1/σᵢ² − (xᵢ − yᵢ)²/σᵢ⁴)  (reported as grad_var)",
    when="Regression that also predicts its own uncertainty (heteroscedastic noise). --var is the "
    "variance, not the standard deviation.",
    elements=gaussian_nll,
    grad=gaussian_nll_grad,
    params=(
        Param("var", "tensor", REQUIRED, "predicted variances (shape of --pred, or one per row)", per_row=True),
        Param("full", "bool", False, "add the constant ½ log 2π"),
        Param("eps", "float", 1e-6, "variances are clamped at ε for stability", low=0.0, low_open=True),
    ),
    torch="gaussian_nll_loss",
    check=check_gaussian_nll,
    target="checked",  # check_gaussian_nll checks --target and --var against --pred
    target_help="targets, same shape as --pred",
    variants=(
        Variant(
            {"full": True},
            "ℓᵢ = ½ (log max(σᵢ², ε) + (xᵢ − yᵢ)² / max(σᵢ², ε)) + ½ log 2π  (--full)",
            "∂ℓᵢ/∂xᵢ = (xᵢ − yᵢ)/σᵢ²;  ∂ℓᵢ/∂σᵢ² = ½ (1/σᵢ² − (xᵢ − yᵢ)²/σᵢ⁴)  (reported as grad_var; "
            "the constant ½ log 2π has no gradient)",
        ),
    ),
    references=(
        "PyTorch torch.nn.GaussianNLLLoss",
        "Nix & Weigend, Estimating the mean and variance of the target probability distribution, ICNN 1994",
    ),
    examples=(
        Example(
            [1.0, 2.0],
            [1.0, 4.0],
            params={"var": [1.0, 2.0]},
            value=(0.0 + 0.5 * (math.log(2.0) + 2.0)) / 2,
            source="½(log 1 + 0) and ½(log 2 + 4/2); by hand",
        ),
    ),
    see_also=("mse", "poisson_nll"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_gaussian,
        param_grid=({}, {"full": True}),
    ),
    teaching=Teaching(
        plot=lambda x: (x, np.zeros_like(x), {"var": np.ones_like(x)}),
    ),
)


# --- soft margin --------------------------------------------------------------------


def soft_margin(pred: Array, target: Array) -> Array:
    """log(1 + e^(−y x)) as a softplus, finite for any margin."""
    return softplus(-target * pred)


def soft_margin_grad(pred: Array, target: Array) -> Array:
    """−y σ(−y x)."""
    return -target * sigmoid(-target * pred)


def check_pm_one_labels(pred: Array, target: Array, **_: object) -> None:
    require((target == 1) | (target == -1), target, "--target", "must be labels −1 or 1")


def sample_pm_one(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 7)),)
    return {"pred": rng.normal(size=shape) * 2, "target": rng.choice([-1.0, 1.0], size=shape)}


SOFT_MARGIN = LossSpec(
    name="soft_margin",
    aliases=("soft_margin_loss",),
    family="classification",
    summary="Logistic loss for labels ±1: a smooth hinge.",
    formula="ℓᵢ = log(1 + exp(−yᵢ xᵢ)),  yᵢ ∈ {−1, 1}",
    gradient="∂ℓᵢ/∂xᵢ = −yᵢ σ(−yᵢ xᵢ)",
    when="Binary classification with ±1 labels (logistic regression); equals bce_with_logits with y → (y + 1)/2.",
    elements=soft_margin,
    grad=soft_margin_grad,
    target_help="labels −1 or 1, same shape as --pred",
    torch="soft_margin_loss",
    check=check_pm_one_labels,
    references=("PyTorch torch.nn.SoftMarginLoss",),
    examples=(
        Example(
            [0.0, 2.0],
            [1.0, -1.0],
            value=(math.log(2.0) + math.log1p(math.exp(2.0))) / 2,
            source="log 2 and log(1 + e²); by hand",
        ),
    ),
    see_also=("bce_with_logits", "hinge"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_pm_one,
    ),
    teaching=Teaching(
        plot=positive_label,
        plot_axis="logit x (label 1)",
        term=lambda p, t, e: f"log(1 + e^(−{t}·{p}))",
    ),
)


# --- multi-label soft margin ----------------------------------------------------


def _last_axis_weight(pred: Array, weight: Array | None) -> Array | float:
    return 1.0 if weight is None else weight


def multilabel_soft_margin(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """−(1/C) Σ_c w_c [y_c log σ(x_c) + (1 − y_c) log σ(−x_c)] per sample."""
    per_class = -(target * log_sigmoid(pred) + (1.0 - target) * log_sigmoid(-pred)) * _last_axis_weight(pred, weight)
    return per_class.sum(axis=-1) / pred.shape[-1]


def multilabel_soft_margin_grad(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """w_c (σ(x_c) − y_c) / C."""
    return (sigmoid(pred) - target) * _last_axis_weight(pred, weight) / pred.shape[-1]


def check_multilabel(pred: Array, target: Array, *, weight: Array | None = None) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
    require((target >= 0) & (target <= 1), target, "--target", "must be labels 0 or 1 (or in [0, 1])")
    classes = pred.shape[-1]
    if weight is not None and weight.shape != (classes,):
        raise InputError(f"--weight has {count(weight.size)} but there are {classes} classes (last axis of --pred)")


def sample_multilabel(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 5)), 3)
    return {"pred": rng.normal(size=shape) * 2, "target": rng.integers(0, 2, size=shape).astype(float)}


MULTILABEL_SOFT_MARGIN = LossSpec(
    name="multilabel_soft_margin",
    aliases=("multilabel_soft_margin_loss",),
    family="classification",
    summary="Per-class logistic loss averaged over the classes of each sample.",
    formula="ℓₙ = −(1/C) Σ_c w_c [y_nc log σ(x_nc) + (1 − y_nc) log σ(−x_nc)]",
    gradient="∂ℓₙ/∂x_nc = w_c (σ(x_nc) − y_nc) / C",
    when="Multi-label classification with 0/1 targets per class; bce_with_logits averaged per sample.",
    elements=multilabel_soft_margin,
    grad=multilabel_soft_margin_grad,
    params=(Param("weight", "tensor", None, "a weight per class (last axis)"),),
    target="class",
    target_help="labels 0 or 1 per class, same shape as --pred",
    torch="multilabel_soft_margin_loss",
    check=check_multilabel,
    class_axis=lambda pred: pred.ndim - 1,
    references=("PyTorch torch.nn.MultiLabelSoftMarginLoss",),
    examples=(Example([[0.0, 0.0]], [[1.0, 0.0]], value=math.log(2.0), source="both classes at σ = ½: log 2"),),
    see_also=("bce_with_logits", "multilabel_margin"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_multilabel,
        param_grid=({}, {"weight": np.array([0.5, 1.0, 2.0])}),
    ),
)

LOSSES = (
    CROSS_ENTROPY,
    NLL,
    BCE,
    BCE_WITH_LOGITS,
    FOCAL,
    KL_DIV,
    POISSON_NLL,
    GAUSSIAN_NLL,
    SOFT_MARGIN,
    MULTILABEL_SOFT_MARGIN,
)
