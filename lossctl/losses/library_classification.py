"""Classification losses that come from the libraries: the Brier score (scikit-learn), generalized CE (Keras).

Elements are per sample; the gradient is with respect to the predicted probabilities.
"""

from __future__ import annotations

import numpy as np

from lossctl.errors import InputError
from lossctl.losses.checks import require
from lossctl.losses.classification import as_indices, class_axis, gather, index_shape, one_hot
from lossctl.losses.metrics import WHOLE_COLUMN
from lossctl.losses.spec import Array, Example, LossSpec, Param, Testing

SKLEARN = "scikit-learn 1.9.1 sklearn/metrics/_classification.py"
BY_HAND = "by hand"
KERAS_GCE_DOCSTRING = (
    2 * (1 - 0.7**0.5) + 2 * (1 - 0.8**0.5) + 2 * (1 - 0.6**0.5) + 2 * (1 - 0.6**0.5)
) / 4  # (1 − p_y^½)/½ for p_y = 0.7, 0.8, 0.6, 0.6


def _binary(pred: Array) -> bool:
    return pred.ndim == 1


def _truth(pred: Array, target: Array) -> Array:
    """The outcome in pred's layout: labels 0/1 for a 1-D pred, one-hot rows (or given probabilities) for (N, C)."""
    if _binary(pred) or target.shape == pred.shape:
        return target
    return one_hot(target.astype(np.int64), pred.shape[1], 1, pred.dtype)


def _halved(pred: Array, scale_by_half: str) -> bool:
    """scikit-learn's scale_by_half='auto' halves binary scores (a 1-D pred or two columns), _classification.py:3860."""
    if scale_by_half == "auto":
        return _binary(pred) or pred.shape[1] < 3
    return scale_by_half == "true"


def _factor(pred: Array, scale_by_half: str) -> float:
    """1-D: (p − y)² is already the halved two-column sum 2 (p − y)², so 'false' doubles it."""
    if _binary(pred):
        return 1.0 if _halved(pred, scale_by_half) else 2.0
    return 0.5 if _halved(pred, scale_by_half) else 1.0


def brier(pred: Array, target: Array, *, scale_by_half: str = "auto") -> Array:
    """Per sample: (pᵢ − yᵢ)² (1-D) or Σ_c (p_ic − y_ic)² (rows), times ½ or 2 as scale_by_half says."""
    squared = (pred - _truth(pred, target)) ** 2
    per_sample = squared if _binary(pred) else squared.sum(axis=1)
    return _factor(pred, scale_by_half) * per_sample


def brier_grad(pred: Array, target: Array, *, scale_by_half: str = "auto") -> Array:
    """2 (p − y) times the same factor."""
    return 2.0 * _factor(pred, scale_by_half) * (pred - _truth(pred, target))


def check_brier(pred: Array, target: Array, **_: object) -> None:
    require((pred >= 0) & (pred <= 1), pred, "--pred", "must hold probabilities in [0, 1]")
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; the Brier score takes (n,) or (n, classes) probabilities")
    if _binary(pred):
        if target.shape != pred.shape:
            raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
        require((target == 0) | (target == 1), target, "--target", "must be outcomes 0 or 1 with a 1-D --pred")
        return
    if target.shape == pred.shape:
        require((target >= 0) & (target <= 1), target, "--target", "must hold one-hot or probability rows")
        return
    if target.shape != pred.shape[:1]:
        raise InputError(
            f"--target has shape {target.shape}; with --pred of shape {pred.shape} give one class index per row "
            f"({pred.shape[0]} values) or rows of {pred.shape[1]} one-hot values"
        )
    valid = (target == np.round(target)) & (target >= 0) & (target < pred.shape[1])
    require(valid, target, "--target", f"must hold class indices 0…{pred.shape[1] - 1}")


def sample_brier(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(1, 6))
    if rng.random() < 0.5:
        return {"pred": rng.uniform(0, 1, size=n), "target": rng.integers(0, 2, size=n).astype(float)}
    classes = int(rng.integers(2, 5))
    p = rng.dirichlet(np.ones(classes), size=n)
    return {"pred": p, "target": rng.integers(0, classes, size=n).astype(float)}


BRIER = LossSpec(
    name="brier_score",
    aliases=("brier",),
    family="classification",
    summary="Brier score: squared error of predicted probabilities against the outcome (a proper scoring rule).",
    formula="binary (1-D p): ℓᵢ = (pᵢ − yᵢ)²;  rows (N, C): ℓᵢ = s Σ_c (p_ic − 1[yᵢ = c])², "
    "s = ½ for C = 2 and 1 for C ≥ 3 (scale_by_half auto)",
    gradient="∂ℓᵢ/∂pᵢ = 2 (pᵢ − yᵢ) (binary);  ∂ℓᵢ/∂p_ic = 2 s (p_ic − 1[yᵢ = c])",
    when="Judging calibrated probabilities: unlike log loss it is bounded (0 to 1 binary, 0 to 2 multiclass) and "
    "does not explode on a confident mistake. scale_by_half (scikit-learn 1.7+): auto halves the two-class sum so "
    "binary scores lie in [0, 1] and keeps [0, 2] for three or more classes; true / false force it. --target: "
    "0/1 outcomes with a 1-D --pred (P(positive)), class indices or one-hot rows with (N, C).",
    elements=brier,
    grad=brier_grad,
    params=(Param("scale_by_half", "choice", "auto", "halve the sum over classes", choices=("auto", "true", "false")),),
    target="class",
    target_help="0/1 outcomes (same shape as a 1-D --pred), or class indices / one-hot rows for (N, C)",
    check=check_brier,
    class_axis=lambda pred: 1 if pred.ndim == 2 else None,
    references=(f"{SKLEARN}:3713 brier_score_loss", "Brier, Monthly Weather Review 78(1), 1950"),
    examples=(
        Example(
            [0.1, 0.9, 0.8, 0.3],
            [0.0, 1.0, 1.0, 0.0],
            value=0.0375,
            source="scikit-learn 1.9.1 brier_score_loss docstring",
        ),
        Example(
            [0.1, 0.9, 0.8, 0.3],
            [0.0, 1.0, 1.0, 0.0],
            params={"scale_by_half": "false"},
            value=0.075,
            source="scikit-learn 1.9.1 brier_score_loss docstring (scale_by_half=False)",
        ),
        Example(
            [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.2, 0.2, 0.6]],
            [0.0, 1.0, 2.0],
            value=0.1466666666666667,
            source="scikit-learn 1.9.1 brier_score_loss docstring, 0.146… (labels eggs, ham, spam → 0, 1, 2)",
        ),
    ),
    see_also=("bce", "mse"),
    testing=Testing(
        sample=sample_brier,
        zero_at_target=False,
        param_grid=({}, {"scale_by_half": "true"}, {"scale_by_half": "false"}),
    ),
)


# --- generalized cross-entropy (Zhang & Sabuncu 2018; Keras CategoricalGeneralizedCrossEntropy) ---------------


def _true_probability(pred: Array, target: Array) -> tuple[Array, Array, int]:
    axis = class_axis(pred)
    indices = as_indices(pred, target)
    return gather(pred, indices, axis), indices, axis


def generalized_ce(pred: Array, target: Array, *, q: float = 0.7) -> Array:
    """(1 − p_y^q) / q per sample: cross-entropy as q → 0, MAE-like (1 − p_y) at q = 1."""
    p, _, _ = _true_probability(pred, target)
    return (1.0 - p**q) / q


def generalized_ce_grad(pred: Array, target: Array, *, q: float = 0.7) -> Array:
    """−p_y^(q−1) at the true class, 0 at the others."""
    p, indices, axis = _true_probability(pred, target)
    hot = one_hot(indices, pred.shape[axis], axis, pred.dtype)
    return -hot * np.expand_dims(p ** (q - 1.0), axis)


def check_generalized_ce(pred: Array, target: Array, **_: object) -> None:
    require((pred >= 0) & (pred <= 1), pred, "--pred", "must hold probabilities in [0, 1]")
    if target.shape != index_shape(pred) and not (pred.ndim == 1 and target.size == 1):
        raise InputError(
            f"--target has shape {target.shape}; give one class index per sample, shape {index_shape(pred)}"
        )
    classes = pred.shape[class_axis(pred)]
    valid = (target == np.round(target)) & (target >= 0) & (target < classes)
    require(valid, target, "--target", f"must hold class indices 0…{classes - 1}")
    p = _true_probability(pred, target)[0]
    require(p > 0, p, "the true class's probability", "must be > 0 (the gradient p^(q−1) is infinite at 0)")


def sample_generalized_ce(rng: np.random.Generator) -> dict[str, Array]:
    n, classes = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    p = rng.dirichlet(np.ones(classes), size=n) * 0.9 + 0.1 / classes  # every probability ≥ 0.1/C
    return {"pred": p, "target": rng.integers(0, classes, size=n).astype(float)}


GCE = LossSpec(
    name="generalized_cross_entropy",
    aliases=("gce",),
    family="classification",
    summary="Generalized cross-entropy (1 − p_y^q)/q: between cross-entropy and MAE, robust to noisy labels.",
    formula="ℓₙ = (1 − p_{n,y}^q) / q,  p: class probabilities, y: the true class",
    gradient="∂ℓₙ/∂p_{n,c} = −p_{n,y}^(q−1) for c = y, 0 otherwise",
    when="Training with noisy labels (Zhang & Sabuncu, 2018): q → 0 recovers cross-entropy, q = 1 gives 1 − p_y "
    "(MAE on probabilities), which ignores confidently wrong labels. Takes probabilities (apply softmax first or "
    "use --activation softmax). q = 0.7 is the paper's choice; Keras' CategoricalGeneralizedCrossEntropy "
    "defaults to 0.5.",
    elements=generalized_ce,
    grad=generalized_ce_grad,
    params=(Param("q", "float", 0.7, "the noise parameter q", low=0.0, high=1.0, low_open=True),),
    target="class",
    target_help="class indices, one per sample (the shape of --pred without its class axis)",
    check=check_generalized_ce,
    class_axis=class_axis,
    references=(
        "Zhang & Sabuncu, Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels, "
        "NeurIPS 2018",
        "Keras 3.15.1 keras/src/losses/losses.py:1537 CategoricalGeneralizedCrossEntropy",
    ),
    examples=(
        Example(
            [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]],
            [0.0, 1.0, 0.0, 1.0],
            params={"q": 0.5},
            value=KERAS_GCE_DOCSTRING,
            source="Keras 3.15.1 CategoricalGeneralizedCrossEntropy docstring inputs, q = 0.5: mean of 2 (1 − √p_y)",
        ),
        Example([0.25, 0.75], 1.0, params={"q": 1.0}, value=0.25, source="q = 1: 1 − 0.75; " + BY_HAND),
    ),
    see_also=("cross_entropy", "nll"),
    testing=Testing(
        sample=sample_generalized_ce,
        zero_at_target=False,
        param_grid=({}, {"q": 0.5}, {"q": 1.0}, {"q": 0.1}),
    ),
)

# --- D² scores of probabilistic classifiers (scikit-learn d2_log_loss_score, d2_brier_score) --------------


def _d2_columns(pred: Array, target: Array) -> tuple[Array, Array]:
    """Probabilities and one-hot outcomes as (n, C) columns; a 1-D pred is P(class 1), so the columns [1 − p, p]."""
    if _binary(pred):
        return np.stack([1.0 - pred, pred], axis=1), np.stack([1.0 - target, target], axis=1)
    return pred, _truth(pred, target)


def _d2_score(pred: Array, target: Array, kind: str) -> tuple[Array, Array]:
    """Contributions 1/n − ℓᵢ/D (they sum to 1 − Σℓ/D) and the gradient −∂ℓᵢ/∂p / D, D = Σ ℓ(y, class frequencies).

    ℓ is the log loss with p clipped to [eps, 1 − eps] (_classification.py:3454-3457) or the Brier sum Σ_c (y − p)².
    """
    p, y = _d2_columns(pred, target)
    frequencies = np.broadcast_to(y.mean(axis=0), y.shape)
    if kind == "log":
        eps = np.finfo(pred.dtype).eps
        clipped = np.clip(p, eps, 1 - eps)
        losses = -np.sum(y * np.log(clipped), axis=1)
        baseline = -np.sum(y * np.log(np.clip(frequencies, eps, 1 - eps)), axis=1)
        slope = -y / clipped * ((p >= eps) & (p <= 1 - eps))
    else:
        losses, baseline, slope = np.sum((y - p) ** 2, axis=1), np.sum((y - frequencies) ** 2, axis=1), 2 * (p - y)
    total = np.sum(baseline)
    gradient = -slope / total
    if _binary(pred):
        gradient = gradient[:, 1] - gradient[:, 0]
    return 1.0 / pred.shape[0] - losses / total, gradient


def d2_log_loss(pred: Array, target: Array) -> Array:
    """Contributions 1/n − ℓᵢ/D, ℓᵢ = −Σ_c y_ic log clip(p_ic), D = Σᵢ ℓᵢ at the class frequencies: sum = D²."""
    return _d2_score(pred, target, "log")[0]


def d2_log_loss_grad(pred: Array, target: Array) -> Array:
    """y_ic / (clip(p_ic) D) where p_ic is not clipped (1-D pred: the difference of the two columns)."""
    return _d2_score(pred, target, "log")[1]


def d2_brier(pred: Array, target: Array) -> Array:
    """Contributions 1/n − Σ_c (y_ic − p_ic)² / D, D = Σᵢ Σ_c (y_ic − ȳ_c)²: sum = D²."""
    return _d2_score(pred, target, "brier")[0]


def d2_brier_grad(pred: Array, target: Array) -> Array:
    """−2 (p_ic − y_ic) / D (1-D pred: the difference of the two columns)."""
    return _d2_score(pred, target, "brier")[1]


def check_d2(pred: Array, target: Array, **_: object) -> None:
    """Brier's input rules, two samples or more (scikit-learn returns nan below) and two outcomes at least."""
    check_brier(pred, target)
    if pred.shape[0] < 2:
        raise InputError("a D² score needs at least two samples (scikit-learn returns nan below two)")
    outcomes = _d2_columns(pred, target)[1]
    if np.count_nonzero(outcomes.sum(axis=0)) < 2:
        raise InputError("--target holds a single class: the baseline predicts it perfectly and D² divides by 0")


def _sample_d2(rng: np.random.Generator) -> dict[str, Array]:
    """Brier's samples with two rows at least, both classes 0 and 1 present, probabilities away from 0 and 1."""
    drawn = sample_brier(rng)
    n = max(drawn["pred"].shape[0], 2)
    pred = np.clip(np.resize(drawn["pred"], (n, *drawn["pred"].shape[1:])), 0.02, 0.98)
    target = np.resize(drawn["target"], n)
    target[:2] = [0.0, 1.0]
    if pred.ndim == 2:
        pred = pred / pred.sum(axis=1, keepdims=True)
    return {"pred": pred, "target": target}


D2_SCORE_WHEN = (
    " A score, not a loss: 1 is perfect, 0 is what predicting the class frequencies of --target scores, and it "
    "has no lower bound. The elements are each sample's contribution (value = their sum). --target: 0/1 outcomes "
    "with a 1-D --pred (P(class 1)), class indices or one-hot rows with (N, C)."
)

D2_LOG_LOSS = LossSpec(
    name="d2_log_loss",
    aliases=("d2_log_loss_score",),
    family="classification",
    summary="D² of the log loss: the fraction of the log loss explained against predicting the class frequencies.",
    formula="D² = 1 − Σᵢ ℓᵢ / Σᵢ ℓ⁰ᵢ,  ℓᵢ = −Σ_c y_ic log clip(p_ic),  ℓ⁰ the same with p = the class frequencies",
    gradient="∂D²/∂p_ic = y_ic / (clip(p_ic) Σⱼ ℓ⁰ⱼ) where p_ic is not clipped, 0 where it is",
    when="Comparing probabilistic classifiers across data sets (a pseudo-R² for classification)." + D2_SCORE_WHEN,
    elements=d2_log_loss,
    grad=d2_log_loss_grad,
    target="class",
    target_help="0/1 outcomes (same shape as a 1-D --pred), or class indices / one-hot rows for (N, C)",
    check=check_d2,
    class_axis=lambda pred: 1 if pred.ndim == 2 else None,
    testing=Testing(sample=_sample_d2, zero_at_target=False),
    **WHOLE_COLUMN,
    references=(f"{SKLEARN}:3869-3979 d2_log_loss_score",),
    examples=(
        Example(
            [0.9, 0.2],
            [1.0, 0.0],
            value=1 - (-np.log(0.9) - np.log(0.8)) / (2 * np.log(2)),
            source="by hand: class frequencies ½, ½ give 2 log 2; 1 − (−log 0.9 − log 0.8) / (2 log 2)",
        ),
        Example([0.5, 0.5], [1.0, 0.0], value=0.0, source="by hand: predicting the frequencies scores 0"),
    ),
    see_also=("bce", "brier_score", "d2_brier"),
)

D2_BRIER = LossSpec(
    name="d2_brier",
    aliases=("d2_brier_score",),
    family="classification",
    summary="D² of the Brier score (the Brier skill score) against predicting the class frequencies.",
    formula="D² = 1 − Σᵢ Σ_c (y_ic − p_ic)² / Σᵢ Σ_c (y_ic − ȳ_c)²,  ȳ the class frequencies",
    gradient="∂D²/∂p_ic = −2 (p_ic − y_ic) / Σⱼ Σ_c (y_jc − ȳ_c)²",
    when="Judging calibrated probabilities relative to a climatology baseline (meteorology's Brier skill score)."
    + D2_SCORE_WHEN,
    elements=d2_brier,
    grad=d2_brier_grad,
    target="class",
    target_help="0/1 outcomes (same shape as a 1-D --pred), or class indices / one-hot rows for (N, C)",
    check=check_d2,
    class_axis=lambda pred: 1 if pred.ndim == 2 else None,
    testing=Testing(sample=_sample_d2, zero_at_target=False),
    **WHOLE_COLUMN,
    references=(f"{SKLEARN}:3993-4110 d2_brier_score", "Wikipedia, Brier score: Brier skill score"),
    examples=(
        Example(
            [0.9, 0.2],
            [1.0, 0.0],
            value=0.9,
            source="by hand: Σ (y − p)² over both columns = 0.02 + 0.08, baseline 0.5 + 0.5: 1 − 0.1",
        ),
    ),
    see_also=("brier_score", "d2_log_loss"),
)

# --- sparsemax loss (Martins & Astudillo 2016; optax multiclass_sparsemax_loss and sparsemax_loss) -------------


def sparsemax_projection(scores: Array) -> Array:
    """The Euclidean projection of each row onto the simplex (Martins & Astudillo 2016, Algorithm 1)."""
    ordered = -np.sort(-scores, axis=1)
    ranks = np.arange(1, scores.shape[1] + 1, dtype=scores.dtype)
    cumulative = np.cumsum(ordered, axis=1)
    support = 1 + ranks * ordered > cumulative
    k = np.sum(support, axis=1, keepdims=True)
    tau = (np.take_along_axis(cumulative, k - 1, axis=1) - 1) / k
    return np.maximum(scores - tau, 0)


def _sparsemax_rows(pred: Array, target: Array) -> tuple[Array, Array]:
    """Scores as rows and one-hot labels; a 1-D pred is the binary form, scores (0, x) with label 0 or 1."""
    if pred.ndim == 1:
        scores = np.stack([np.zeros_like(pred), pred], axis=1)
        return scores, np.stack([1 - target, target], axis=1)
    return pred, one_hot(target.astype(np.int64), pred.shape[1], 1, pred.dtype)


def sparsemax_loss(pred: Array, target: Array) -> Array:
    """ℓ = Σ_c p_c (θ_c − θ_y) + ½ (1 − ‖p‖²), p = sparsemax(θ) (optax _classification.py:930-940)."""
    scores, hot = _sparsemax_rows(pred, target)
    p = sparsemax_projection(scores)
    true_score = np.sum(scores * hot, axis=1, keepdims=True)
    return np.sum(p * (scores - true_score), axis=1) + 0.5 * (1 - np.sum(p * p, axis=1))


def sparsemax_loss_grad(pred: Array, target: Array) -> Array:
    """∂ℓ/∂θ = sparsemax(θ) − e_y (a Fenchel–Young loss); the binary form keeps the score x's column."""
    scores, hot = _sparsemax_rows(pred, target)
    grad = sparsemax_projection(scores) - hot
    return grad[:, 1] if pred.ndim == 1 else grad


def check_sparsemax(pred: Array, target: Array, **_: object) -> None:
    if pred.ndim == 1:
        if target.shape != pred.shape:
            raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
        require((target == 0) | (target == 1), target, "--target", "must be labels 0 or 1 with a 1-D --pred")
        return
    if pred.ndim != 2 or target.shape != pred.shape[:1]:
        raise InputError(
            f"--pred must be scores (N, C) with --target one class index per row; got {pred.shape} and {target.shape}"
        )
    valid = (target == np.round(target)) & (target >= 0) & (target < pred.shape[1])
    require(valid, target, "--target", f"must hold class indices 0…{pred.shape[1] - 1}")


def _sample_sparsemax(rng: np.random.Generator) -> dict[str, Array]:
    n = int(rng.integers(1, 6))
    if rng.random() < 0.5:
        return {"pred": rng.normal(size=n) * 2, "target": rng.integers(0, 2, size=n).astype(float)}
    classes = int(rng.integers(2, 5))
    return {"pred": rng.normal(size=(n, classes)) * 2, "target": rng.integers(0, classes, size=n).astype(float)}


SPARSEMAX = LossSpec(
    name="sparsemax",
    aliases=("sparsemax_fenchel_young",),
    family="classification",
    summary="Sparsemax loss: the Fenchel–Young loss of sparsemax, a softmax-like loss whose probabilities can be 0.",
    formula="ℓ = Σ_c p_c (θ_c − θ_y) + ½ (1 − ‖p‖²),  p = sparsemax(θ) = argmin over the simplex of ‖p − θ‖;  "
    "1-D --pred: scores (0, x)",
    gradient="∂ℓ/∂θ = sparsemax(θ) − e_y  (1-D: sparse_sigmoid(x) − y)",
    when="Classification with sparse probability outputs (attention, multi-label with abstention): the loss is 0 "
    "once the true class's score beats the others by 1, and the predicted distribution puts exact zeros on "
    "hopeless classes. --pred: scores (N, C) with class indices, or 1-D scores with 0/1 labels (optax's binary "
    "sparsemax_loss, which equals sparse_plus(∓x)).",
    elements=sparsemax_loss,
    grad=sparsemax_loss_grad,
    target="class",
    target_help="class indices (N,) for (N, C) scores; 0/1 labels for 1-D scores",
    check=check_sparsemax,
    class_axis=lambda pred: 1 if pred.ndim == 2 else None,
    testing=Testing(sample=_sample_sparsemax, zero_at_target=False),
    references=(
        "Martins & Astudillo, From Softmax to Sparsemax, ICML 2016, eq. (17)",
        "Blondel, Martins & Niculae, Learning with Fenchel-Young Losses, JMLR 2020, sec. 4.4",
        "optax 0.2.8 optax/losses/_classification.py:127-150, 930-962",
    ),
    examples=(
        Example([[0.0, 0.0]], [0.0], value=0.25, source="by hand: p = (½, ½), ½ (1 − ½)"),
        Example([[0.0, 2.0, 0.0]], [0.0], value=2.0, source="by hand: p = e₁, 1·(2 − 0) + ½ (1 − 1)"),
        Example([[2.0, 0.0, 0.0]], [0.0], value=0.0, source="by hand: the true class wins by 2, p = e_y"),
        Example(
            [0.0, 3.0], [1.0, 0.0], value=(0.25 + 3.0) / 2, source="by hand: sparse_plus(0) = ¼, sparse_plus(3) = 3"
        ),
    ),
    see_also=("cross_entropy", "categorical_hinge"),
)

LOSSES = (BRIER, GCE, D2_LOG_LOSS, D2_BRIER, SPARSEMAX)
