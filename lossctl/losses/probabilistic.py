"""Probabilistic extras: Jensen–Shannon divergence, perplexity, softmax focal loss, poly-1 cross-entropy.

Class-axis conventions are PyTorch's, shared with :mod:`lossctl.losses.classification`:
axis 1 when the prediction has two or more dimensions, axis 0 for a single 1-D sample;
class-index targets have the prediction's shape without the class axis.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from lossctl.errors import ComputationError, InputError, LossctlWarning
from lossctl.losses._numerics import along, log_softmax
from lossctl.losses.checks import position, require
from lossctl.losses.classification import (
    IGNORE_INDEX,
    ROW_SUM_TOLERANCE,
    as_indices,
    check_class_targets,
    class_axis,
    cross_entropy,
    cross_entropy_denominator,
    cross_entropy_grad,
    is_index_target,
    nll,
    nll_grad,
    one_hot,
    sample_classes,
    sample_log_probabilities,
)
from lossctl.losses.spec import Array, Example, LossSpec, Param, Reductions, Testing, Transform

LOG2 = math.log(2.0)


def target_distribution(pred: Array, target: Array, ignore_index: int = -100) -> tuple[Array, Array]:
    """(t, keep): class-index targets as one-hot rows (zero rows where ignored), probability rows as given."""
    axis = class_axis(pred)
    if not is_index_target(pred, target):
        return target, np.ones(target.sum(axis=axis).shape, dtype=bool)
    indices = as_indices(pred, target)
    keep = indices != ignore_index
    hot = one_hot(np.where(keep, indices, 0), pred.shape[axis], axis, pred.dtype)
    return hot * np.expand_dims(keep, axis), keep


def warn_unless_rows_sum_to_one(values: Array, axis: int, option: str) -> None:
    sums = values.sum(axis=axis)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if np.any(off):
        first = int(np.flatnonzero(off.ravel())[0])
        row = f" row {position(sums, first)}" if sums.ndim else ""
        warnings.warn(
            f"{option}{row} sums to {sums.ravel()[first]:.9g}, not 1; computed as given",
            LossctlWarning,
            stacklevel=3,
        )


# --- Jensen–Shannon divergence ---------------------------------------------------------------


def _half_kl_to_mixture(p: Array, q: Array) -> Array:
    """½ p log(2p / (p + q)) element-wise, with 0 log 0 = 0."""
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, 0.5 * p * np.log(2.0 * safe / (safe + q)), 0.0)


def js_divergence(pred: Array, target: Array) -> Array:
    """½ KL(P ‖ M) + ½ KL(Q ‖ M), M = (P + Q)/2, summed over the class axis: one value per distribution."""
    terms = _half_kl_to_mixture(pred, target) + _half_kl_to_mixture(target, pred)
    return np.sum(terms, axis=class_axis(pred))


def js_divergence_grad(pred: Array, target: Array) -> Array:
    """½ log(2 p_c / (p_c + q_c)); at p_c = q_c = 0 the one-sided limit ½ log 2."""
    both = pred + target
    ratio = np.where(both > 0, 2.0 * pred / np.where(both > 0, both, 1.0), 2.0)
    return 0.5 * np.log(ratio)


def check_js(pred: Array, target: Array, **_: object) -> None:
    if target.shape != pred.shape:
        shapes = f"--target has shape {tuple(target.shape)} but --pred has {tuple(pred.shape)}"
        raise InputError(f"{shapes}; they must match")
    require(pred >= 0, pred, "--pred", "must hold probabilities ≥ 0 (for logits add --activation softmax)")
    require(target >= 0, target, "--target", "must hold probabilities ≥ 0")
    require(
        (pred > 0) | (target == 0),
        pred,
        "--pred",
        "must be > 0 wherever --target is positive (the gradient ½ log(2p/(p + q)) is −∞ at p = 0)",
    )
    axis = class_axis(pred)
    warn_unless_rows_sum_to_one(pred, axis, "--pred")
    warn_unless_rows_sum_to_one(target, axis, "--target")


def sample_two_distributions(rng: np.random.Generator) -> dict[str, Array]:
    """Probability rows (N, 4), or a single 1-D distribution, each entry ≥ 0.025.

    (log's curvature 1/p makes finite differences meaningless next to p = 0.)
    """
    size = None if rng.random() < 0.25 else int(rng.integers(2, 5))
    pred, target = rng.dirichlet(np.ones(4), size=size), rng.dirichlet(np.ones(4), size=size)
    return {"pred": 0.9 * pred + 0.025, "target": 0.9 * target + 0.025}


JS_DIVERGENCE = LossSpec(
    name="js_divergence",
    aliases=("jensen_shannon", "jsd", "js_div"),
    family="probabilistic",
    summary="Jensen–Shannon divergence: symmetric, bounded (≤ log 2) KL to the average distribution.",
    formula="ℓₙ = ½ Σ_c p_c log(2p_c/(p_c + q_c)) + ½ Σ_c q_c log(2q_c/(p_c + q_c)),  p = --pred, q = --target",
    gradient="∂ℓₙ/∂p_c = ½ log(2 p_c / (p_c + q_c))",
    when="Comparing two distributions when neither is the 'true' one, or when kl_div's infinity at "
    "p = 0 < q is unwanted: JS is symmetric and lies in [0, log 2] (natural log, nats). --pred and --target "
    "are probability rows along the class axis (PyTorch's: axis 1, or axis 0 for one 1-D row), as scipy's "
    "and torchmetrics' definitions take them; for logits add --activation softmax (the gradient is then "
    "w.r.t. the logits). scipy.spatial.distance.jensenshannon returns the square root of this (a metric). "
    "'mean' averages over the distributions (rows), not over classes.",
    elements=js_divergence,
    grad=js_divergence_grad,
    target="class",
    target_help="probability rows, same shape as --pred",
    check=check_js,
    class_axis=class_axis,
    references=(
        "Lin, Divergence measures based on the Shannon entropy, IEEE Trans. Inf. Theory 1991",
        "scipy.spatial.distance.jensenshannon (its square is this value, base e)",
    ),
    examples=(
        Example(
            [0.5, 0.5],
            [1.0, 0.0],
            value=0.75 * math.log(4.0 / 3.0),
            grad=[0.5 * math.log(2.0 / 3.0), 0.5 * LOG2],
            source="by hand: M = (3/4, 1/4); ½(½ log(2/3) + ½ log 2) + ½ log(4/3) = ¾ log(4/3); "
            "gradient ½ log(2p/(p + q)) = ½ log(2/3), ½ log 2",
        ),
        Example(
            [[0.5, 0.5], [0.25, 0.75]],
            [[0.5, 0.5], [0.75, 0.25]],
            value=0.5 * (0.25 * math.log(0.5) + 0.75 * math.log(1.5)),
            source="by hand: row 1 is 0; row 2 has M = (½, ½) and equal halves, "
            "so ℓ = 0.25 log 0.5 + 0.75 log 1.5; the mean over 2 rows is half that",
        ),
    ),
    see_also=("kl_div", "cross_entropy"),
    testing=Testing(
        zero_at_target=True,
        sample=sample_two_distributions,
    ),
)


# --- perplexity ------------------------------------------------------------------------------

EXP_LIMIT = 709.0  # exp overflows float64 a little above 709.78


def _exp_of_mean_nll(value: float) -> float:
    if value > EXP_LIMIT:
        raise ComputationError(
            f"perplexity overflows: the mean −log p is {value:g}, and exp of more than {EXP_LIMIT:g} is not finite; "
            "report the mean −log p instead (cross_entropy or nll)"
        )
    return math.exp(value)


EXPONENTIAL = Transform(name="exp", forward=_exp_of_mean_nll, derivative=_exp_of_mean_nll)


def token_nll(pred: Array, target: Array, *, log_probs: bool = False, ignore_index: int = -100) -> Array:
    """−log p(token): log_softmax of logits, or the given log-probabilities; 0 for ignored tokens."""
    if log_probs:
        return nll(pred, target, ignore_index=ignore_index)
    return cross_entropy(pred, target, ignore_index=ignore_index)


def token_nll_grad(pred: Array, target: Array, *, log_probs: bool = False, ignore_index: int = -100) -> Array:
    """softmax(x) − onehot(y) for logits, −onehot(y) for log-probabilities (the core chains exp's derivative)."""
    if log_probs:
        return nll_grad(pred, target, ignore_index=ignore_index)
    return cross_entropy_grad(pred, target, ignore_index=ignore_index)


def check_perplexity(pred: Array, target: Array, *, log_probs: bool = False, ignore_index: int = -100) -> None:
    check_class_targets(pred, target, ignore_index=ignore_index, allow_probabilities=False, name="perplexity")
    if log_probs:
        require(pred <= 0, pred, "--pred", "must hold log-probabilities ≤ 0 with --log-probs (logits: drop it)")


def sample_perplexity(rng: np.random.Generator) -> dict[str, Array]:
    """Log-probabilities (valid logits too) close to uniform, so that exp of even the summed −log p stays finite."""
    drawn = sample_log_probabilities(rng)
    pred = drawn["pred"]
    return {"pred": log_softmax(0.2 * pred, class_axis(pred)), "target": drawn["target"]}


PERPLEXITY = LossSpec(
    name="perplexity",
    aliases=("ppl",),
    family="probabilistic",
    summary="Perplexity: exp of the mean −log probability of the target tokens (≥ 1; higher is worse).",
    formula="value = exp((1/n) Σᵢ ℓᵢ),  ℓᵢ = −log softmax(xᵢ)_{yᵢ}  (--log-probs: ℓᵢ = −xᵢ,yᵢ)",
    gradient="∂value/∂xᵢ = value · (softmax(xᵢ) − onehot(yᵢ)) / n  (--log-probs: −value/n at the target class)",
    when="Evaluating language models: the effective number of equally likely choices per token, "
    "exp of cross_entropy's mean (torchmetrics Perplexity: logits (N, C) or (N, C, T)-style with PyTorch's "
    "class axis here, ignore_index). Higher is worse; 1 is a perfect model, C a uniform guess over C classes. "
    "The elements are the per-token −log p; 'mean' gives exp of their mean over non-ignored tokens, "
    "'sum' gives exp of their sum (1 / the sequence's likelihood), 'none' the per-token −log p.",
    elements=token_nll,
    grad=token_nll_grad,
    params=(
        Param("log_probs", "bool", False, "--pred holds log-probabilities (after log_softmax), not logits"),
        IGNORE_INDEX,
    ),
    target="class",
    target_help="token class indices (shape of --pred without the class axis)",
    check=check_perplexity,
    class_axis=class_axis,
    references=(
        "Jelinek et al., Perplexity — a measure of the difficulty of speech recognition tasks, JASA 1977",
        "torchmetrics.text.Perplexity",
    ),
    examples=(
        Example(
            [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
            [1, 3],
            value=4.0,
            source="by hand: uniform over 4 classes, −log p = log 4, exp(log 4) = 4",
        ),
        Example(
            [[math.log(0.5), math.log(0.5)], [math.log(0.25), math.log(0.75)]],
            [0, 1],
            params={"log_probs": True},
            value=math.exp(-(math.log(0.5) + math.log(0.75)) / 2),
            source="by hand: exp((log 2 + log 4/3) / 2) = sqrt(8/3)",
        ),
    ),
    see_also=("cross_entropy", "nll"),
    reductions=Reductions(
        denominator=cross_entropy_denominator,
        transform=EXPONENTIAL,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_perplexity,
        param_grid=({}, {"log_probs": True}, {"ignore_index": 1}),
    ),
)


# --- softmax focal loss ----------------------------------------------------------------------


def _focal_parts(pred: Array, target: Array, gamma: float, alpha: Array | None, ignore_index: int):
    """a = α_c t_c, log p, q = 1 − p (exact near p = 1) along the class axis."""
    axis = class_axis(pred)
    t, _ = target_distribution(pred, target, ignore_index)
    a = t if alpha is None else t * along(alpha, axis, pred.ndim)
    log_p = log_softmax(pred, axis)
    q = -np.expm1(log_p)
    return axis, a, log_p, q


def softmax_focal(
    pred: Array, target: Array, *, gamma: float = 2.0, alpha: Array | None = None, ignore_index: int = -100
) -> Array:
    """−Σ_c α_c t_c (1 − p_c)^γ log p_c per sample (with a class index: −α_y (1 − p_y)^γ log p_y)."""
    axis, a, log_p, q = _focal_parts(pred, target, gamma, alpha, ignore_index)
    return -np.sum(np.where(a != 0, a * q**gamma * log_p, 0.0), axis=axis)


def softmax_focal_grad(
    pred: Array, target: Array, *, gamma: float = 2.0, alpha: Array | None = None, ignore_index: int = -100
) -> Array:
    """gⱼ = a_j [(1 − p_j)^γ − γ (1 − p_j)^(γ−1) p_j log p_j];  ∂ℓ/∂xⱼ = p_j Σ_c g_c − gⱼ."""
    axis, a, log_p, q = _focal_parts(pred, target, gamma, alpha, ignore_index)
    p = np.exp(log_p)
    if gamma == 0:
        pull = np.zeros_like(p)
    else:
        q_power = np.where(q > 0, q ** (gamma - 1.0), 0.0)  # γ < 1 at q = 0: the term p log p · q^(γ−1) → 0
        pull = gamma * q_power * p * log_p
    g = np.where(a != 0, a * (q**gamma - pull), 0.0)
    return p * np.sum(g, axis=axis, keepdims=True) - g


def check_softmax_focal(pred: Array, target: Array, *, alpha=None, ignore_index=-100, **_: object) -> None:
    check_class_targets(pred, target, weight=alpha, ignore_index=ignore_index, name="softmax_focal")
    if alpha is not None:
        require(alpha >= 0, alpha, "--alpha", "must be ≥ 0")
    if ignore_index != IGNORE_INDEX.default and not is_index_target(pred, target):
        raise InputError("--ignore-index applies to class-index targets only, not to probability targets")


CLASS_ALPHA = Param("alpha", "tensor", None, "a weight α_c per class (Lin et al.'s α-balancing); default 1")
_ALPHAS = np.array([0.25, 1.0, 0.5])

SOFTMAX_FOCAL = LossSpec(
    name="softmax_focal",
    aliases=("categorical_focal", "focal_softmax", "multiclass_focal"),
    family="probabilistic",
    summary="Multi-class focal loss on logits: cross-entropy scaled down by (1 − p_y)^γ for easy examples.",
    formula="ℓₙ = −Σ_c α_c t_c (1 − p_c)^γ log p_c,  p = softmax(xₙ)  (class index y: −α_y (1 − p_y)^γ log p_y)",
    gradient="∂ℓₙ/∂xⱼ = p_j Σ_c g_c − g_j,  g_c = α_c t_c [(1 − p_c)^γ − γ (1 − p_c)^(γ−1) p_c log p_c]",
    when="Multi-class detection/classification with many easy examples (Lin et al. 2017's softmax form; "
    "Keras CategoricalFocalCrossentropy and kornia focal_loss). γ = 0 with no α is cross_entropy; focal is "
    "the sigmoid (binary) form. α here is an optional weight per class (default 1 for all, whereas Keras "
    "defaults to 0.25 everywhere); 'mean' divides by the number of non-ignored samples, not by Σ α.",
    elements=softmax_focal,
    grad=softmax_focal_grad,
    params=(
        Param("gamma", "float", 2.0, "focusing parameter γ (0 gives cross-entropy)", low=0.0),
        CLASS_ALPHA,
        IGNORE_INDEX,
    ),
    target="class",
    target_help="class indices (shape of --pred without the class axis) or class probabilities (shape of --pred)",
    check=check_softmax_focal,
    class_axis=class_axis,
    references=(
        "Lin et al., Focal Loss for Dense Object Detection, ICCV 2017",
        "Keras keras.losses.CategoricalFocalCrossentropy",
    ),
    examples=(
        Example(
            [0.0, 0.0],
            [0],
            value=0.25 * LOG2,
            source="by hand: p_y = 0.5, (1 − 0.5)²·(−log 0.5) = 0.25 log 2",
        ),
        Example(
            [[0.0, math.log(3.0)]],
            [1],
            params={"gamma": 2.0, "alpha": [1.0, 0.5]},
            value=0.5 * 0.0625 * math.log(4.0 / 3.0),
            source="by hand: p_y = 3/4, 0.5·(1/4)²·(−log 3/4)",
        ),
    ),
    see_also=("cross_entropy", "focal", "poly1_cross_entropy"),
    reductions=Reductions(
        denominator=cross_entropy_denominator,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_classes,
        param_grid=({}, {"gamma": 0.0}, {"gamma": 0.5, "alpha": _ALPHAS}, {"ignore_index": 1}),
    ),
)


# --- poly-1 cross-entropy --------------------------------------------------------------------


def _true_class_probability(pred: Array, target: Array, ignore_index: int) -> tuple[Array, Array, Array, int]:
    axis = class_axis(pred)
    t, _ = target_distribution(pred, target, ignore_index)
    p = np.exp(log_softmax(pred, axis))
    return p, t, np.sum(p * t, axis=axis), axis


def poly1_cross_entropy(pred: Array, target: Array, *, epsilon: float = 1.0, ignore_index: int = -100) -> Array:
    """CE + ε (1 − p_t), p_t = Σ_c t_c softmax(x)_c (0 for ignored samples)."""
    _, t, p_t, axis = _true_class_probability(pred, target, ignore_index)
    kept = np.sum(t, axis=axis)  # 1 for kept rows (of a distribution), 0 for ignored ones
    return cross_entropy(pred, target, ignore_index=ignore_index) + epsilon * (kept - p_t)


def poly1_cross_entropy_grad(pred: Array, target: Array, *, epsilon: float = 1.0, ignore_index: int = -100) -> Array:
    """softmax − t (Σ t) for the CE part, − ε p_j (t_j − p_t) for the poly term."""
    p, t, p_t, axis = _true_class_probability(pred, target, ignore_index)
    poly = -epsilon * p * (t - np.expand_dims(p_t, axis))
    return cross_entropy_grad(pred, target, ignore_index=ignore_index) + poly


def check_poly1(pred: Array, target: Array, *, ignore_index=-100, **_: object) -> None:
    check_class_targets(pred, target, ignore_index=ignore_index, name="poly1_cross_entropy")
    if ignore_index != IGNORE_INDEX.default and not is_index_target(pred, target):
        raise InputError("--ignore-index applies to class-index targets only, not to probability targets")


POLY1 = LossSpec(
    name="poly1_cross_entropy",
    aliases=("poly1", "poly_loss"),
    family="probabilistic",
    summary="Poly-1 loss: cross-entropy plus ε (1 − p_t), the first term of its Taylor expansion reweighted.",
    formula="ℓₙ = −log p_t + ε (1 − p_t),  p_t = Σ_c t_c softmax(xₙ)_c  (class index y: p_t = softmax(xₙ)_y)",
    gradient="∂ℓₙ/∂xⱼ = p_j − t_j − ε p_j (t_j − p_t)  (p_j Σ t − t_j for non-normalised t)",
    when="A drop-in for cross_entropy with one extra knob (Leng et al. 2022): ε > 0 keeps pushing on "
    "examples already classified right (ImageNet: ε = 1 or 2), ε < 0 (down to −1) relaxes that. ε = 0 is "
    "cross_entropy exactly. As in the paper's code, p_t is the softmax probability of the target (its dot "
    "product with a probability target); label smoothing and class weights are not applied here.",
    elements=poly1_cross_entropy,
    grad=poly1_cross_entropy_grad,
    params=(
        Param("epsilon", "float", 1.0, "weight ε of the (1 − p_t) term", low=-1.0),
        IGNORE_INDEX,
    ),
    target="class",
    target_help="class indices (shape of --pred without the class axis) or class probabilities (shape of --pred)",
    check=check_poly1,
    class_axis=class_axis,
    references=(
        "Leng et al., PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions, ICLR 2022",
    ),
    examples=(
        Example(
            [0.0, 0.0],
            [1],
            value=LOG2 + 0.5,
            source="by hand: p_t = 0.5, −log 0.5 + 1·(1 − 0.5)",
        ),
        Example(
            [[0.0, math.log(3.0)], [0.0, 0.0]],
            [1, 0],
            params={"epsilon": 2.0},
            value=(math.log(4.0 / 3.0) + 2 * 0.25 + LOG2 + 2 * 0.5) / 2,
            source="by hand: p_t = 3/4 and 1/2: (log 4/3 + 2·1/4 + log 2 + 2·1/2) / 2",
        ),
    ),
    see_also=("cross_entropy", "softmax_focal"),
    reductions=Reductions(
        denominator=cross_entropy_denominator,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_classes,
        param_grid=({}, {"epsilon": 0.0}, {"epsilon": -1.0}, {"epsilon": 2.0, "ignore_index": 1}),
    ),
)

LOSSES = (JS_DIVERGENCE, PERPLEXITY, SOFTMAX_FOCAL, POLY1)
