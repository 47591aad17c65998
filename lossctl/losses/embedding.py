"""Embedding and metric-learning losses: contrastive (InfoNCE, MNRL, pairs), triplets from labels, cosine.

Inputs are rows of embeddings: ``--pred`` holds the anchors / queries (N, D); the other
embeddings come as ``--pred2``, ``--positive``, ``--negative``, or labels as ``--target``.
Gradients are analytic; those of the other embedding tensors are reported as
``grad_<option>``.  The in-batch losses (NT-Xent, MNRL, batch-hard and batch-all
triplets) compare every row with every other one, so their rows are not independent
samples and are always evaluated as one block.

Cosine similarities normalise as the library each loss comes from does:
``F.normalize`` (x / max(‖x‖, 1e-12)) for NT-Xent and MNRL, Keras' ``l2_normalize``
(x / max(‖x‖, 1e-6)) for the cosine-similarity loss, ``F.cosine_similarity``
(eps = 1e-8) for ``triplet_margin_with_distance --distance cosine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import numpy as np

from lossctl.errors import InputError
from lossctl.losses._numerics import sigmoid, softplus
from lossctl.losses.checks import require
from lossctl.losses.margin import _distance, _distance_grad
from lossctl.losses.spec import (
    REQUIRED,
    Array,
    EngineHooks,
    Example,
    Family,
    LossSpec,
    Param,
    Reductions,
    TargetKind,
    Testing,
    Variant,
)

NORMALIZE_EPS = 1e-12  # torch.nn.functional.normalize
KERAS_NORM_EPS = 1e-6  # keras l2_normalize: sqrt(max(Σx², 1e-12))
TORCH_COSINE_EPS = 1e-8  # torch.nn.functional.cosine_similarity


# --- shared pieces -----------------------------------------------------------------------------


def unit_rows(x: Array, eps: float) -> tuple[Array, Array, Array]:
    """(x / max(‖x‖, ε), max(‖x‖, ε), ‖x‖ > ε) over the last axis, norms kept as a trailing axis."""
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / np.maximum(norm, eps), np.maximum(norm, eps), norm > eps


def unit_rows_backward(g_unit: Array, unit: Array, norm: Array, above: Array) -> Array:
    """∂/∂x from ∂/∂u, u = x / max(‖x‖, ε): (g − u (u·g)) / ‖x‖ above ε; g / ε below (the clamp is flat)."""
    projected = g_unit - unit * np.sum(unit * g_unit, axis=-1, keepdims=True)
    return np.where(above, projected, g_unit) / norm


def softmax_rows(scores: Array) -> Array:
    """Row-wise softmax; −inf entries get probability 0."""
    shifted = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)


def logsumexp_rows(scores: Array) -> Array:
    top = np.max(scores, axis=-1)
    return top + np.log(np.sum(np.exp(scores - top[:, None]), axis=-1))


def _rows_axis(pred: Array) -> int:
    return pred.ndim - 1


def _never_separable(pred: Array, **_: object) -> bool:
    return False


def require_rows(array: Array, option: str, what: str = "embeddings") -> None:
    if array.ndim != 2:
        raise InputError(f"{option} has shape {array.shape}; give {what} as (N, D) rows")


def require_same_rows(pred: Array, other: Array, option: str) -> None:
    if other.shape != pred.shape:
        raise InputError(f"{option} has shape {other.shape} but --pred has {pred.shape}; they must match")


def one_label_per_row(pred: Array, target: Array, loss: str) -> Array:
    """Labels as a vector of one per row of --pred."""
    expected = pred.shape[:-1]
    if target.shape != expected and not (expected == () and target.size == 1):
        raise InputError(f"--target has shape {target.shape}; {loss} needs one label per row, shape {expected}")
    return target.reshape(expected)


# --- NT-Xent / InfoNCE (SimCLR) --------------------------------------------------------------


def _views(pred: Array, pred2: Array | None) -> Array:
    """All 2N views: --pred alone holds (2N, D) with pairs (i, i + N); with --pred2 they are stacked."""
    return pred if pred2 is None else np.concatenate([pred, pred2], axis=0)


def _nt_xent_parts(z: Array, temperature: float):
    unit, norm, above = unit_rows(z, NORMALIZE_EPS)
    rows = z.shape[0]
    half = rows // 2
    partner = (np.arange(rows) + half) % rows
    scores = unit @ unit.T / temperature
    np.fill_diagonal(scores, -np.inf)
    loss = logsumexp_rows(scores) - scores[np.arange(rows), partner]
    return unit, norm, above, partner, scores, loss


def nt_xent(pred: Array, target: None = None, *, pred2: Array | None = None, temperature: float = 0.1) -> Array:
    """ℓᵢ = −log(exp(sᵢ,ⱼ₍ᵢ₎/τ) / Σ_{k≠i} exp(sᵢₖ/τ)) for each of the 2N views, s the cosine similarity."""
    return _nt_xent_parts(_views(pred, pred2), temperature)[-1]


def nt_xent_grad(
    pred: Array, target: None = None, *, pred2: Array | None = None, temperature: float = 0.1
) -> dict[str, Array]:
    """∂Σℓ/∂S = softmax_{k≠i}(Sᵢ) − 1[k = j(i)];  ∂/∂U = (G + Gᵀ) U / τ;  then through the normalisation."""
    z = _views(pred, pred2)
    unit, norm, above, partner, scores, _ = _nt_xent_parts(z, temperature)
    g_scores = softmax_rows(scores)
    g_scores[np.arange(z.shape[0]), partner] -= 1.0
    g_unit = (g_scores + g_scores.T) @ unit / temperature
    g_z = unit_rows_backward(g_unit, unit, norm, above)
    if pred2 is None:
        return {"pred": g_z}
    return {"pred": g_z[: pred.shape[0]], "pred2": g_z[pred.shape[0] :]}


def check_nt_xent(pred: Array, target: None = None, *, pred2: Array | None = None, **_: object) -> None:
    require_rows(pred, "--pred")
    if pred2 is not None:
        require_same_rows(pred, pred2, "--pred2")
    elif pred.shape[0] % 2:
        raise InputError(
            f"--pred has {pred.shape[0]} rows; nt_xent needs 2N rows (view i pairs with view i + N), "
            "or give the second views as --pred2"
        )


def sample_views(rng: np.random.Generator) -> dict[str, Array]:
    n, d = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    first = rng.normal(size=(n, d))
    second = first + 0.7 * rng.normal(size=(n, d))
    if rng.integers(0, 2):
        return {"pred": first, "pred2": second}
    return {"pred": np.concatenate([first, second], axis=0)}


def _nt_xent_pair_value(temperature: float) -> float:
    """Two orthogonal unit pairs [e1, e2 | e1, e2]: each view sees its partner (cos 1) and two at cos 0."""
    return float(np.log(np.exp(1 / temperature) + 2.0) - 1 / temperature)


NT_XENT = LossSpec(
    name="nt_xent",
    aliases=("infonce", "info_nce", "simclr", "ntxent"),
    family="embedding",
    summary="SimCLR's normalised temperature-scaled cross-entropy over 2N augmented views (InfoNCE).",
    formula="ℓᵢ = −log( exp(cos(zᵢ, zⱼ₍ᵢ₎)/τ) / Σ_{k≠i} exp(cos(zᵢ, zₖ)/τ) ),  j(i) = i ± N,  i = 1 … 2N",
    gradient="∂Σℓ/∂Sᵢₖ = softmax_{k≠i}(Sᵢ)ₖ − 1[k = j(i)], S = Û Ûᵀ/τ;  ∂/∂Û = (G + Gᵀ) Û / τ;  "
    "∂/∂z = (I − û ûᵀ) ∂/∂û / ‖z‖",
    when="Self-supervised contrastive pre-training (SimCLR, MoCo-style InfoNCE): each view must pick its "
    "partner out of the other 2N − 2 views. --pred holds all 2N views with pairs (i, i + N), or give the "
    "first N views as --pred and the second as --pred2. The mean is over the 2N views, as SimCLR. "
    "multiple_negatives_ranking is the asymmetric version (anchors against positives, scale = 1/τ); "
    "contrastive and the triplet losses use distances and margins instead of a softmax.",
    elements=nt_xent,
    grad=nt_xent_grad,
    params=(
        Param("pred2", "tensor", None, "the second views (N, D), pair i of --pred; without it --pred holds 2N views"),
        Param(
            "temperature", "float", 0.1, "the temperature τ dividing the cosine similarities", low=0.0, low_open=True
        ),
    ),
    target="none",
    check=check_nt_xent,
    class_axis=_rows_axis,
    references=(
        "Chen, Kornblith, Norouzi & Hinton, A Simple Framework for Contrastive Learning of Visual "
        "Representations (SimCLR), ICML 2020, eq. (1)",
        "van den Oord, Li & Vinyals, Representation Learning with Contrastive Predictive Coding (InfoNCE), 2018",
    ),
    examples=(
        Example(
            [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
            None,
            params={"temperature": 0.5},
            value=_nt_xent_pair_value(0.5),
            source="by hand: every view has its partner at cos 1 and two views at cos 0: log(e² + 2) − 2",
        ),
        Example(
            [[3.0, 0.0], [0.0, 2.0]],
            None,
            params={"pred2": [[1.0, 0.0], [0.0, 5.0]], "temperature": 1.0},
            value=_nt_xent_pair_value(1.0),
            source="by hand: the same views, unnormalised, split over --pred/--pred2: log(e + 2) − 1",
        ),
    ),
    see_also=("multiple_negatives_ranking", "contrastive", "batch_hard_triplet"),
    engine=EngineHooks(
        separable=_never_separable,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_views,
        param_grid=({}, {"temperature": 0.5}, {"temperature": 2.0}),
    ),
)


# --- multiple-negatives ranking loss (sentence-transformers) --------------------------------------


def _candidates(positive: Array, negative: Array | None) -> Array:
    return positive if negative is None else np.concatenate([positive, np.atleast_2d(negative)], axis=0)


def _mnrl_parts(pred, positive, negative, scale):
    anchors, a_norm, a_above = unit_rows(pred, NORMALIZE_EPS)
    candidates, c_norm, c_above = unit_rows(_candidates(positive, negative), NORMALIZE_EPS)
    scores = scale * anchors @ candidates.T
    rows = np.arange(pred.shape[0])
    loss = logsumexp_rows(scores) - scores[rows, rows]
    return anchors, a_norm, a_above, candidates, c_norm, c_above, scores, loss


def multiple_negatives_ranking(
    pred: Array, target: None = None, *, positive: Array, negative: Array | None = None, scale: float = 20.0
) -> Array:
    """ℓᵢ = −log softmax_j(scale · cos(aᵢ, cⱼ))ᵢ over candidates c = [positives; hard negatives]."""
    return _mnrl_parts(pred, positive, negative, scale)[-1]


def multiple_negatives_ranking_grad(
    pred: Array, target: None = None, *, positive: Array, negative: Array | None = None, scale: float = 20.0
) -> dict[str, Array]:
    """G = softmax(S) − I;  ∂/∂Â = scale · G Ĉ,  ∂/∂Ĉ = scale · Gᵀ Â;  then through the normalisations."""
    anchors, a_norm, a_above, candidates, c_norm, c_above, scores, _ = _mnrl_parts(pred, positive, negative, scale)
    g_scores = softmax_rows(scores)
    rows = np.arange(pred.shape[0])
    g_scores[rows, rows] -= 1.0
    g_anchor = unit_rows_backward(scale * g_scores @ candidates, anchors, a_norm, a_above)
    g_candidates = unit_rows_backward(scale * g_scores.T @ anchors, candidates, c_norm, c_above)
    grads = {"pred": g_anchor, "positive": g_candidates[: positive.shape[0]]}
    if negative is not None:
        grads["negative"] = g_candidates[positive.shape[0] :].reshape(negative.shape)
    return grads


def check_mnrl(pred: Array, target: None = None, *, positive: Array, negative: Array | None = None, **_) -> None:
    require_rows(pred, "--pred", "anchors")
    require_same_rows(pred, positive, "--positive")
    if negative is not None:
        if negative.ndim > 2:
            raise InputError(f"--negative has shape {negative.shape}; give hard negatives as (M, D) rows")
        if negative.shape[-1] != pred.shape[1]:
            raise InputError(
                f"--negative rows have {negative.shape[-1]} values but --pred rows have {pred.shape[1]}; "
                "embeddings must have the same dimension"
            )


def sample_pairs(rng: np.random.Generator) -> dict[str, Array]:
    n, d = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    anchors = rng.normal(size=(n, d))
    inputs = {"pred": anchors, "positive": anchors + 0.8 * rng.normal(size=(n, d))}
    if rng.integers(0, 2):
        inputs["negative"] = rng.normal(size=(int(rng.integers(1, 2 * n + 1)), d))
    return inputs


MNRL = LossSpec(
    name="multiple_negatives_ranking",
    aliases=("mnrl", "multiple_negatives_ranking_loss", "mnr"),
    family="embedding",
    summary="Sentence-transformers' in-batch-negatives softmax loss over scaled cosine similarities.",
    formula="ℓᵢ = −log( exp(s·cos(aᵢ, pᵢ)) / Σⱼ exp(s·cos(aᵢ, cⱼ)) ),  c = [p₁ … p_N, hard negatives]",
    gradient="G = softmax(S) − I, S = s Â Ĉᵀ;  ∂/∂Â = s G Ĉ, ∂/∂Ĉ = s Gᵀ Â;  ∂/∂a = (I − â âᵀ) ∂/∂â / ‖a‖",
    when="Retrieval and sentence embeddings from (query, relevant document) pairs: every other positive in the "
    "batch is a negative for each anchor, and optional --negative rows (hard negatives) are appended to the "
    "candidates for every anchor. The mean is over the N anchors (CrossEntropyLoss). Same formula as "
    "sentence-transformers' MultipleNegativesRankingLoss with cos_sim and scale 20 (its source: "
    "cross_entropy(cos_sim(a, cat(p, n)) · scale, arange(N))): no difference except that lossctl takes the "
    "embeddings rather than a model. nt_xent is the symmetric, 2N-view version with scale = 1/τ.",
    elements=multiple_negatives_ranking,
    grad=multiple_negatives_ranking_grad,
    params=(
        Param("positive", "tensor", REQUIRED, "the positive (relevant) embedding of each anchor, (N, D)"),
        Param("negative", "tensor", None, "hard negatives, (M, D) rows added to every anchor's candidates"),
        Param(
            "scale",
            "float",
            20.0,
            "multiplies the cosine similarities (an inverse temperature)",
            low=0.0,
            low_open=True,
        ),
    ),
    target="none",
    check=check_mnrl,
    class_axis=_rows_axis,
    references=(
        "Henderson et al., Efficient Natural Language Response Suggestion for Smart Reply, 2017, section 4.4",
        "sentence-transformers, losses/MultipleNegativesRankingLoss.py",
    ),
    examples=(
        Example(
            [[1.0, 0.0], [0.0, 1.0]],
            None,
            params={"positive": [[2.0, 0.0], [0.0, 3.0]], "scale": 1.0},
            value=float(np.log(np.e + 1.0) - 1.0),
            source="by hand: each anchor has its positive at cos 1 and the other at cos 0: log(e + 1) − 1",
        ),
        Example(
            [[1.0, 0.0], [0.0, 1.0]],
            None,
            params={"positive": [[1.0, 0.0], [0.0, 1.0]], "negative": [[1.0, 1.0]], "scale": 20.0},
            value=float(np.log(np.exp(20.0) + 1.0 + np.exp(20.0 / np.sqrt(2.0))) - 20.0),
            source="by hand: a shared hard negative at 45° (cos 1/√2) adds exp(20/√2) to each denominator",
        ),
    ),
    see_also=("nt_xent", "triplet_margin", "cosine_embedding"),
    engine=EngineHooks(
        separable=_never_separable,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_pairs,
        param_grid=({}, {"scale": 1.0}, {"scale": 5.0}),
    ),
)


# --- contrastive pair loss (Hadsell, Chopra & LeCun) ------------------------------------------------


def _pair_distance(pred: Array, pred2: Array) -> tuple[Array, Array]:
    diff = pred - pred2
    return np.sqrt(np.sum(diff * diff, axis=-1)), diff


def contrastive(pred: Array, target: Array, *, pred2: Array, margin: float = 1.0) -> Array:
    """y d² + (1 − y) max(0, m − d)², d = ‖x₁ − x₂‖₂, y = 1 for a similar pair."""
    distance, _ = _pair_distance(pred, pred2)
    y = target.reshape(distance.shape)
    return y * distance**2 + (1.0 - y) * np.maximum(0.0, margin - distance) ** 2


def contrastive_grad(pred: Array, target: Array, *, pred2: Array, margin: float = 1.0) -> dict[str, Array]:
    """∂/∂x₁ = 2y (x₁ − x₂) − 2(1 − y) max(0, m − d)(x₁ − x₂)/d  (0 at d = 0);  ∂/∂x₂ = −∂/∂x₁."""
    distance, diff = _pair_distance(pred, pred2)
    y = target.reshape(distance.shape)
    safe = np.where(distance > 0, distance, 1.0)
    push = np.where(distance > 0, np.maximum(0.0, margin - distance) / safe, 0.0)
    g = 2.0 * (y - (1.0 - y) * push)[..., None] * diff
    return {"pred": g, "pred2": -g}


def check_contrastive(pred: Array, target: Array, *, pred2: Array, **_: object) -> None:
    require_same_rows(pred, pred2, "--pred2")
    if pred.ndim > 2:
        raise InputError(f"--pred has shape {pred.shape}; give embeddings as (N, D) rows or one row of D")
    labels = one_label_per_row(pred, target, "contrastive")
    require((labels == 0) | (labels == 1), labels, "--target", "must be 1 (similar pair) or 0 (dissimilar pair)")


def sample_labelled_pairs(rng: np.random.Generator) -> dict[str, Array]:
    n, d = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    first = rng.normal(size=(n, d))
    return {
        "pred": first,
        "pred2": first + 0.6 * rng.normal(size=(n, d)),
        "target": rng.choice([0.0, 1.0], size=n),
    }


CONTRASTIVE = LossSpec(
    name="contrastive",
    aliases=("contrastive_loss", "pair_contrastive", "siamese_contrastive"),
    family="embedding",
    summary="Siamese pair loss: similar pairs pulled together, dissimilar ones pushed beyond a margin.",
    formula="ℓₙ = yₙ dₙ² + (1 − yₙ) max(0, m − dₙ)²,  dₙ = ‖x₁ₙ − x₂ₙ‖₂,  y = 1 similar, 0 dissimilar",
    gradient="∂ℓ/∂x₁ = 2y (x₁ − x₂) − 2(1 − y) max(0, m − d) (x₁ − x₂)/d  (0 at d = 0);  ∂ℓ/∂x₂ = −∂ℓ/∂x₁",
    when="Siamese networks from labelled pairs (signature/face verification). Label convention: 1 = similar, "
    "0 = dissimilar (Hadsell et al. write Y = 0 for similar and halve both terms; lossctl follows the common "
    "modern form without the ½). cosine_embedding is the angular analogue with ±1 labels; hinge_embedding "
    "takes precomputed distances; triplet losses compare two pairs at once.",
    elements=contrastive,
    grad=contrastive_grad,
    params=(
        Param("pred2", "tensor", REQUIRED, "the second embedding of each pair (x₂), same shape as --pred"),
        Param("margin", "float", 1.0, "the distance m beyond which dissimilar pairs cost nothing", low=0.0),
    ),
    target="class",
    target_help="one label per row: 1 (similar) or 0 (dissimilar)",
    check=check_contrastive,
    class_axis=_rows_axis,
    references=(
        "Hadsell, Chopra & LeCun, Dimensionality Reduction by Learning an Invariant Mapping, CVPR 2006, eq. (4)",
    ),
    examples=(
        Example(
            [[0.0, 0.0], [0.0, 0.0]],
            [1.0, 0.0],
            params={"pred2": [[3.0, 4.0], [0.3, 0.4]], "margin": 1.0},
            value=(25.0 + 0.25) / 2,
            source="by hand: similar pair at d = 5 costs 25; dissimilar pair at d = 0.5 costs (1 − 0.5)²",
        ),
    ),
    see_also=("cosine_embedding", "hinge_embedding", "triplet_margin"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_labelled_pairs,
        param_grid=({}, {"margin": 2.0}, {"margin": 0.5}),
    ),
)


# --- triplets mined from labels (batch hard, batch all) ---------------------------------------


def _pairwise(pred: Array) -> tuple[Array, Array]:
    """Euclidean distances between all rows, and the differences xᵢ − xⱼ."""
    diff = pred[:, None, :] - pred[None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=-1)), diff


def _label_masks(labels: Array) -> tuple[Array, Array]:
    same = labels[:, None] == labels[None, :]
    positive = same & ~np.eye(len(labels), dtype=bool)
    return positive, ~same


def _hinge(z: Array, soft: bool) -> Array:
    return softplus(z) if soft else np.maximum(0.0, z)


def _hinge_slope(z: Array, soft: bool) -> Array:
    return sigmoid(z) if soft else (z > 0).astype(z.dtype)


def _distance_backward(g_distance: Array, distance: Array, diff: Array) -> Array:
    """∂/∂X from ∂/∂D, D = pairwise distances (0 where D = 0)."""
    safe = np.where(distance > 0, distance, 1.0)
    weight = np.where(distance > 0, g_distance / safe, 0.0)
    return np.sum(weight[..., None] * diff, axis=1) - np.sum(weight[..., None] * diff, axis=0)


def _batch_hard_parts(pred: Array, target: Array, margin: float, soft: bool):
    distance, diff = _pairwise(pred)
    positive, negative = _label_masks(target.reshape(-1))
    valid = positive.any(axis=1) & negative.any(axis=1)
    hardest_positive = np.argmax(np.where(positive, distance, -np.inf), axis=1)
    hardest_negative = np.argmin(np.where(negative, distance, np.inf), axis=1)
    rows = np.arange(pred.shape[0])
    z = margin + distance[rows, hardest_positive] - distance[rows, hardest_negative]
    z = np.where(valid, z, 0.0)
    loss = np.where(valid, _hinge(z, soft), 0.0)
    return distance, diff, valid, hardest_positive, hardest_negative, z, loss


def batch_hard_triplet(pred: Array, target: Array, *, margin: float = 1.0, soft: bool = False) -> Array:
    """ℓₐ = [m + max_{p: yₚ = yₐ} d(a, p) − min_{n: yₙ ≠ yₐ} d(a, n)]₊ (softplus with --soft)."""
    return _batch_hard_parts(pred, target, margin, soft)[-1]


def batch_hard_triplet_grad(pred: Array, target: Array, *, margin: float = 1.0, soft: bool = False) -> Array:
    """Slope of the hinge into the anchor's hardest positive (+) and hardest negative (−) distances."""
    distance, diff, valid, hardest_positive, hardest_negative, z, _ = _batch_hard_parts(pred, target, margin, soft)
    slope = np.where(valid, _hinge_slope(z, soft), 0.0)
    rows = np.arange(pred.shape[0])
    g_distance = np.zeros_like(distance)
    np.add.at(g_distance, (rows, hardest_positive), slope)
    np.add.at(g_distance, (rows, hardest_negative), -slope)
    return _distance_backward(g_distance, distance, diff)


def _batch_all_terms(distance: Array, positive: Array, negative: Array, anchor: int, margin: float) -> Array:
    """z[p, n] = m + d(a, p) − d(a, n) over the anchor's positives p and negatives n."""
    return margin + distance[anchor, positive[anchor]][:, None] - distance[anchor, negative[anchor]][None, :]


def batch_all_triplet(pred: Array, target: Array, *, margin: float = 1.0, soft: bool = False) -> Array:
    """ℓₐ = Σ_{p: yₚ = yₐ, p ≠ a} Σ_{n: yₙ ≠ yₐ} [m + d(a, p) − d(a, n)]₊ (the mean divides by the triplets)."""
    distance, _ = _pairwise(pred)
    positive, negative = _label_masks(target.reshape(-1))
    loss = np.zeros(pred.shape[0], dtype=pred.dtype)
    for anchor in range(pred.shape[0]):
        loss[anchor] = np.sum(_hinge(_batch_all_terms(distance, positive, negative, anchor, margin), soft))
    return loss


def batch_all_triplet_grad(pred: Array, target: Array, *, margin: float = 1.0, soft: bool = False) -> Array:
    """Each triplet's hinge slope s: +s into d(a, p), −s into d(a, n); then through the distances."""
    distance, diff = _pairwise(pred)
    positive, negative = _label_masks(target.reshape(-1))
    g_distance = np.zeros_like(distance)
    for anchor in range(pred.shape[0]):
        slope = _hinge_slope(_batch_all_terms(distance, positive, negative, anchor, margin), soft)
        g_distance[anchor, positive[anchor]] += slope.sum(axis=1)
        g_distance[anchor, negative[anchor]] -= slope.sum(axis=0)
    return _distance_backward(g_distance, distance, diff)


def count_triplets(pred: Array, target: Array, **_: object) -> float:
    """The number of valid triplets (a, p, n): what batch_all's mean divides by."""
    positive, negative = _label_masks(target.reshape(-1))
    return float(np.sum(positive.sum(axis=1) * negative.sum(axis=1)))


def check_labelled_embeddings(pred: Array, target: Array, **_: object) -> None:
    require_rows(pred, "--pred")
    labels = one_label_per_row(pred, target, "this loss")
    if count_triplets(pred, labels) == 0:
        raise InputError(
            "--target has no valid triplet: give at least two rows with one label and one row with another"
        )


def sample_labelled_embeddings(rng: np.random.Generator) -> dict[str, Array]:
    n, d = int(rng.integers(3, 8)), int(rng.integers(2, 4))
    labels = rng.integers(0, 3, size=n)
    labels[:3] = [0, 0, 1]  # at least one valid triplet
    centres = rng.normal(size=(3, d)) * 1.5
    return {"pred": centres[labels] + 0.8 * rng.normal(size=(n, d)), "target": labels.astype(float)}


TRIPLET_PARAMS = (
    Param("margin", "float", 1.0, "the margin m by which negatives must be farther than positives", low=0.0),
    Param("soft", "bool", False, "softplus(z) instead of max(0, z): Hermans et al.'s soft margin"),
)
LINE = [[0.0], [1.0], [3.0], [3.5]]  # four points on a line; labels 0, 0, 1, 1


class MinedTripletFields(TypedDict):
    """The :class:`LossSpec` fields of the triplet losses that mine their triplets from labels."""

    family: Family
    params: tuple[Param, ...]
    target: TargetKind
    target_help: str
    check: Callable[..., None]
    class_axis: Callable[[Array], int | None]
    testing: Testing
    engine: EngineHooks


MINED_TRIPLETS: MinedTripletFields = {
    "family": "embedding",
    "params": TRIPLET_PARAMS,
    "target": "class",
    "target_help": "one identity label per row of --pred",
    "check": check_labelled_embeddings,
    "class_axis": _rows_axis,
    "engine": EngineHooks(
        separable=_never_separable,
    ),
    "testing": Testing(
        zero_at_target=False,
        sample=sample_labelled_embeddings,
        param_grid=({}, {"margin": 0.2}, {"soft": True}),
    ),
}

BATCH_HARD = LossSpec(
    name="batch_hard_triplet",
    aliases=("batch_hard", "batch_hard_triplet_loss", "triplet_hard"),
    summary="Triplet loss with each anchor's hardest positive and hardest negative in the batch.",
    formula="ℓₐ = max(0, m + max_{p: yₚ=yₐ, p≠a} d(a, p) − min_{n: yₙ≠yₐ} d(a, n)),  d = ‖·‖₂",
    gradient="slope σ = 1[z > 0] (softplus: sigmoid(z)) into d(a, p*) and −σ into d(a, n*);  "
    "∂d(a, b)/∂a = (a − b)/d = −∂d(a, b)/∂b",
    when="Re-identification and face embeddings trained from labelled batches (P identities × K images). "
    "Mines the hardest pairs itself, unlike triplet_margin, which takes given triplets. batch_all_triplet "
    "averages over every valid triplet instead (more stable early in training). Euclidean, not squared, "
    "distances; the mean is over all N anchors, and an anchor without a positive or a negative costs 0. "
    "Ties pick the first row in order.",
    elements=batch_hard_triplet,
    grad=batch_hard_triplet_grad,
    **MINED_TRIPLETS,
    variants=(
        Variant(
            {"soft": True},
            "ℓₐ = softplus(m + max_{p: yₚ=yₐ, p≠a} d(a, p) − min_{n: yₙ≠yₐ} d(a, n)),  softplus(z) = log(1 + eᶻ),  "
            "d = ‖·‖₂  (--soft)",
            "slope σ = sigmoid(z) into d(a, p*) and −σ into d(a, n*);  ∂d(a, b)/∂a = (a − b)/d = −∂d(a, b)/∂b",
        ),
    ),
    references=(
        "Hermans, Beyer & Leibe, In Defense of the Triplet Loss for Person Re-Identification, 2017, eq. (5)",
        "Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015",
    ),
    examples=(
        Example(
            LINE,
            [0.0, 0.0, 1.0, 1.0],
            params={"margin": 1.0},
            value=0.0,
            source="by hand: m + d(a,p*) − d(a,n*) = 1+1−3, 1+1−2, 1+0.5−2, 1+0.5−2.5: all ≤ 0",
        ),
        Example(
            LINE,
            [0.0, 0.0, 1.0, 1.0],
            params={"margin": 2.0},
            value=(0.0 + 1.0 + 0.5 + 0.0) / 4,
            source="by hand: anchors 0…3: 2+1−3, 2+1−2, 2+0.5−2, 2+0.5−2.5 → 0, 1, 0.5, 0",
        ),
    ),
    see_also=("batch_all_triplet", "triplet_margin", "contrastive"),
)

BATCH_ALL = LossSpec(
    name="batch_all_triplet",
    aliases=("batch_all", "batch_all_triplet_loss", "triplet_all"),
    summary="Triplet loss over every valid (anchor, positive, negative) triplet of a labelled batch.",
    formula="ℓₐ = Σ_{p: yₚ=yₐ, p≠a} Σ_{n: yₙ≠yₐ} max(0, m + d(a, p) − d(a, n));  mean = Σₐ ℓₐ / #triplets",
    gradient="each triplet's slope σ = 1[z > 0] (softplus: sigmoid(z)) into d(a, p) and −σ into d(a, n);  "
    "∂d(a, b)/∂a = (a − b)/d",
    when="Metric learning from labelled batches when hard mining is too noisy (Hermans et al.'s 'batch all'; "
    "FaceNet's loss summed over all triplets). The elements are per-anchor sums; the mean divides by the "
    "number of valid triplets (not by the anchors, and not by the non-zero triplets as some "
    "implementations do, which is not differentiable). batch_hard_triplet keeps only the hardest pair.",
    elements=batch_all_triplet,
    grad=batch_all_triplet_grad,
    **MINED_TRIPLETS,
    variants=(
        Variant(
            {"soft": True},
            "ℓₐ = Σ_{p: yₚ=yₐ, p≠a} Σ_{n: yₙ≠yₐ} softplus(m + d(a, p) − d(a, n));  mean = Σₐ ℓₐ / #triplets  (--soft)",
            "each triplet's slope σ = sigmoid(z) into d(a, p) and −σ into d(a, n);  "
            "∂d(a, b)/∂a = (a − b)/d = −∂d(a, b)/∂b",
        ),
    ),
    references=(
        "Hermans, Beyer & Leibe, In Defense of the Triplet Loss for Person Re-Identification, 2017, section 2",
        "Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015, eq. (1)",
    ),
    examples=(
        Example(
            LINE,
            [0.0, 0.0, 1.0, 1.0],
            params={"margin": 2.0},
            value=2.0 / 8,
            source="by hand: 8 triplets, z = m + d(a,p) − d(a,n): anchor 0: 0, −0.5; anchor 1: 1, 0.5; "
            "anchor 2: −0.5, 0.5; anchor 3: −1, 0 → (1 + 0.5 + 0.5) / 8",
        ),
    ),
    see_also=("batch_hard_triplet", "triplet_margin"),
    reductions=Reductions(
        denominator=count_triplets,
    ),
)


def _semi_hard_parts(pred: Array, target: Array, margin: float, soft: bool):
    """Every positive pair (a, p) with its semi-hard negative: the nearest n farther than p, else the farthest n."""
    distance, diff = _pairwise(pred)
    positive, negative = _label_masks(target.reshape(-1))
    anchors, positives = np.nonzero(positive)
    d_ap = distance[anchors, positives]
    d_an = distance[anchors]
    negatives = negative[anchors]
    outside = negatives & (d_an > d_ap[:, None])
    nearest_outside = np.argmin(np.where(outside, d_an, np.inf), axis=1)
    farthest_inside = np.argmax(np.where(negatives, d_an, -np.inf), axis=1)
    chosen = np.where(outside.any(axis=1), nearest_outside, farthest_inside)
    z = margin + d_ap - d_an[np.arange(len(anchors)), chosen]
    return distance, diff, anchors, positives, chosen, z


def semi_hard_triplet(pred: Array, target: Array, *, margin: float = 1.0, soft: bool = False) -> Array:
    """ℓₐ = Σ_{p: yₚ = yₐ, p ≠ a} [m + d(a, p) − d(a, n*(a, p))]₊, n* the semi-hard negative (mean over pairs)."""
    _, _, anchors, _, _, z = _semi_hard_parts(pred, target, margin, soft)
    return np.bincount(anchors, weights=_hinge(z, soft), minlength=pred.shape[0]).astype(pred.dtype)


def semi_hard_triplet_grad(pred: Array, target: Array, *, margin: float = 1.0, soft: bool = False) -> Array:
    """Each pair's hinge slope s: +s into d(a, p), −s into d(a, n*); the selection itself is piecewise constant."""
    distance, diff, anchors, positives, chosen, z = _semi_hard_parts(pred, target, margin, soft)
    slope = _hinge_slope(z, soft)
    g_distance = np.zeros_like(distance)
    np.add.at(g_distance, (anchors, positives), slope)
    np.add.at(g_distance, (anchors, chosen), -slope)
    return _distance_backward(g_distance, distance, diff)


def count_positive_pairs(pred: Array, target: Array, **_: object) -> float:
    """The number of ordered positive pairs (a, p), a ≠ p: what semi_hard_triplet's mean divides by."""
    positive = _label_masks(target.reshape(-1))[0]
    return float(np.sum(positive))


SEMI_HARD = LossSpec(
    name="semi_hard_triplet",
    aliases=("semi_hard", "triplet_semihard", "triplet_semihard_loss", "semi_hard_triplet_loss"),
    summary="Triplet loss over every positive pair with its semi-hard negative (FaceNet's online mining).",
    formula="ℓₐ = Σ_{p: yₚ=yₐ, p≠a} max(0, m + d(a, p) − d(a, n*)),  n* = argmin_{n: yₙ≠yₐ, d(a, n) > d(a, p)} "
    "d(a, n), else argmax_{n: yₙ≠yₐ} d(a, n);  mean = Σₐ ℓₐ / #positive pairs",
    gradient="each pair's slope σ = 1[z > 0] (softplus: sigmoid(z)) into d(a, p) and −σ into d(a, n*);  "
    "∂d(a, b)/∂a = (a − b)/d = −∂d(a, b)/∂b",
    when="FaceNet-style training from labelled batches: each positive pair takes the nearest negative that is "
    "still farther than the positive (a 'semi-hard' one), which avoids the collapse hardest negatives can "
    "cause early on; when no negative is farther, the farthest negative is taken. This is the selection of "
    "TensorFlow Addons' triplet_semihard_loss (Euclidean distances, the mean over positive pairs); FaceNet "
    "also bounds n* by d(a, p) + m, which changes nothing in the value since such triplets cost 0. "
    "batch_hard_triplet takes the hardest pair per anchor, batch_all_triplet every triplet.",
    elements=semi_hard_triplet,
    grad=semi_hard_triplet_grad,
    **MINED_TRIPLETS,
    variants=(
        Variant(
            {"soft": True},
            "ℓₐ = Σ_{p: yₚ=yₐ, p≠a} softplus(m + d(a, p) − d(a, n*)),  n* the semi-hard negative;  "
            "mean = Σₐ ℓₐ / #positive pairs  (--soft)",
            "each pair's slope σ = sigmoid(z) into d(a, p) and −σ into d(a, n*);  "
            "∂d(a, b)/∂a = (a − b)/d = −∂d(a, b)/∂b",
        ),
    ),
    references=(
        "Schroff, Kalenichenko & Philbin, FaceNet: A Unified Embedding for Face Recognition and Clustering, "
        "CVPR 2015, section 3.2 (semi-hard negatives)",
        "TensorFlow Addons, tfa.losses.triplet_semihard_loss (the selection rule and the mean over positive pairs)",
    ),
    examples=(
        Example(
            LINE,
            [0.0, 0.0, 1.0, 1.0],
            params={"margin": 2.0},
            value=1.5 / 4,
            elements=[0.0, 1.0, 0.5, 0.0],
            source="by hand: pairs (0,1): n* = 2 at 3, z = 2+1−3 = 0; (1,0): n* = 2 at 2, z = 1; "
            "(2,3): n* = 1 at 2, z = 0.5; (3,2): n* = 1 at 2.5, z = 0 → 1.5 / 4 pairs",
        ),
        Example(
            [[0.0], [3.0], [1.0]],
            [0.0, 0.0, 1.0],
            params={"margin": 1.0},
            value=5.0 / 2,
            elements=[3.0, 2.0, 0.0],
            source="by hand: no negative is farther than the positive (d = 3), so the farthest one is taken: "
            "(0,1): 1+3−1 = 3; (1,0): 1+3−2 = 2 → 5 / 2 pairs",
        ),
    ),
    see_also=("batch_hard_triplet", "batch_all_triplet", "triplet_margin"),
    reductions=Reductions(
        denominator=count_positive_pairs,
    ),
)


# --- triplet_margin_with_distance (PyTorch) --------------------------------------------------------

DISTANCES = ("euclidean", "cosine")


def _cosine_distance(a: Array, b: Array) -> tuple[Array, Array, Array]:
    """1 − F.cosine_similarity(a, b) (eps 1e-8) and its gradients w.r.t. a and b (norms above eps)."""
    ua, na, _ = unit_rows(a, TORCH_COSINE_EPS)
    ub, nb, _ = unit_rows(b, TORCH_COSINE_EPS)
    cos = np.sum(ua * ub, axis=-1)
    g_a = -(ub - ua * cos[..., None]) / na
    g_b = -(ua - ub * cos[..., None]) / nb
    return 1.0 - cos, g_a, g_b


def _pair(a: Array, b: Array, distance: str) -> tuple[Array, Array, Array]:
    """(d(a, b), ∂d/∂a, ∂d/∂b) for the chosen distance."""
    if distance == "cosine":
        return _cosine_distance(a, b)
    d, diff = _distance(a, b, 2.0, 1e-6)  # pairwise_distance(p=2, eps=1e-6)
    g = _distance_grad(diff, d, 2.0)
    return d, g, -g


def _with_distance_parts(pred, positive, negative, distance, margin, swap):
    d_ap, ga_ap, gp_ap = _pair(pred, positive, distance)
    d_an, ga_an, gn_an = _pair(pred, negative, distance)
    d_neg = d_an
    parts = {"ap": (ga_ap, gp_ap), "an": (ga_an, gn_an)}
    share_an = np.ones_like(d_an)
    if swap:
        d_pn, gp_pn, gn_pn = _pair(positive, negative, distance)
        parts["pn"] = (gp_pn, gn_pn)
        d_neg = np.minimum(d_an, d_pn)
        share_an = np.where(d_an < d_pn, 1.0, np.where(d_an == d_pn, 0.5, 0.0))  # torch.minimum splits ties
    z = margin + d_ap - d_neg
    return z, share_an, parts


def triplet_margin_with_distance(
    pred: Array,
    target: None = None,
    *,
    positive: Array,
    negative: Array,
    distance: str = "euclidean",
    margin: float = 1.0,
    swap: bool = False,
) -> Array:
    """clamp_min(m + d(a, p) − d(a, n), 0); --swap: d(a, n) → min(d(a, n), d(p, n))."""
    z, _, _ = _with_distance_parts(pred, positive, negative, distance, margin, swap)
    return np.maximum(z, 0.0)


def triplet_margin_with_distance_grad(
    pred: Array,
    target: None = None,
    *,
    positive: Array,
    negative: Array,
    distance: str = "euclidean",
    margin: float = 1.0,
    swap: bool = False,
) -> dict[str, Array]:
    """Where z ≥ 0 (clamp_min passes the gradient at 0, as PyTorch): ∂d(a, p) − ∂d_neg, by the chain rule."""
    z, share_an, parts = _with_distance_parts(pred, positive, negative, distance, margin, swap)
    active = (z >= 0).astype(pred.dtype)[..., None]
    ga_ap, gp_ap = parts["ap"]
    ga_an, gn_an = parts["an"]
    an = active * share_an[..., None]
    grads = {"pred": active * ga_ap - an * ga_an, "positive": active * gp_ap, "negative": -an * gn_an}
    if swap:
        gp_pn, gn_pn = parts["pn"]
        pn = active * (1.0 - share_an)[..., None]
        grads["positive"] = grads["positive"] - pn * gp_pn
        grads["negative"] = grads["negative"] - pn * gn_pn
    return grads


def check_triplet_with_distance(
    pred: Array, target: None = None, *, positive: Array, negative: Array, distance: str = "euclidean", **_
) -> None:
    for option, tensor in (("--positive", positive), ("--negative", negative)):
        if tensor.shape != pred.shape:
            raise InputError(f"{option} has shape {tensor.shape} but --pred (the anchor) has {pred.shape}")
    if distance == "cosine":
        for option, tensor in (("--pred", pred), ("--positive", positive), ("--negative", negative)):
            norms = np.sqrt(np.sum(tensor * tensor, axis=-1))
            require(norms > TORCH_COSINE_EPS, norms, f"norm of each {option} row", "must exceed 1e-8 for cosine")


def sample_triplets(rng: np.random.Generator) -> dict[str, Array]:
    n, d = int(rng.integers(2, 5)), 3
    anchor = rng.normal(size=(n, d))
    return {"pred": anchor, "positive": anchor + 0.5 * rng.normal(size=(n, d)), "negative": rng.normal(size=(n, d))}


TRIPLET_WITH_DISTANCE = LossSpec(
    name="triplet_margin_with_distance",
    aliases=("triplet_margin_with_distance_loss", "triplet_with_distance"),
    family="embedding",
    summary="PyTorch's triplet loss with a chosen distance: Euclidean (pairwise_distance) or cosine.",
    formula="ℓₙ = max(0, m + d(aₙ, pₙ) − d(aₙ, nₙ)),  d = ‖x − y + 10⁻⁶‖₂ or 1 − cos(x, y)  "
    "(--swap: min(d(a, n), d(p, n)))",
    gradient="where z ≥ 0: ∂d(a,p) − ∂d(a,n);  ∂‖v‖/∂v = v/‖v‖;  ∂(1 − cos)/∂x = −(ŷ − cos x̂)/‖x‖",
    when="Triplets with a distance other than the p-norm of triplet_margin: cosine for normalised "
    "embeddings (retrieval), Euclidean as PyTorch's default (pairwise_distance with eps = 1e-6). "
    "PyTorch's clamp_min passes the gradient at z = 0 exactly; swap ties split it in half (torch.minimum). "
    "Cosine needs rows with norm above 1e-8 (PyTorch's eps).",
    elements=triplet_margin_with_distance,
    grad=triplet_margin_with_distance_grad,
    params=(
        Param("positive", "tensor", REQUIRED, "embeddings of the same identity as the anchor"),
        Param("negative", "tensor", REQUIRED, "embeddings of another identity"),
        Param("distance", "choice", "euclidean", "the distance function", choices=DISTANCES),
        Param("margin", "float", 1.0, "the margin m (PyTorch requires m > 0)", low=0.0, low_open=True),
        Param("swap", "bool", False, "use d(p, n) when it is smaller (Balntas et al.)"),
    ),
    target="none",
    torch="triplet_margin_with_distance_loss",
    check=check_triplet_with_distance,
    class_axis=_rows_axis,
    variants=(
        Variant(
            {"distance": "cosine", "swap": True},
            "ℓₙ = max(0, m + d(aₙ, pₙ) − min(d(aₙ, nₙ), d(pₙ, nₙ))),  d = 1 − cos(x, y)  (cosine, --swap)",
            "where z ≥ 0: ∂d(a,p) − ∂d(a,n) (or ∂d(p,n) when it is the smaller);  ∂(1 − cos)/∂x = −(ŷ − cos x̂)/‖x‖",
        ),
        Variant(
            {"distance": "cosine"},
            "ℓₙ = max(0, m + d(aₙ, pₙ) − d(aₙ, nₙ)),  d = 1 − cos(x, y)  (cosine)",
            "where z ≥ 0: ∂d(a,p) − ∂d(a,n);  ∂(1 − cos)/∂x = −(ŷ − cos x̂)/‖x‖",
        ),
        Variant(
            {"swap": True},
            "ℓₙ = max(0, m + d(aₙ, pₙ) − min(d(aₙ, nₙ), d(pₙ, nₙ))),  d = ‖x − y + 10⁻⁶‖₂  (--swap)",
            "where z ≥ 0: ∂d(a,p) − ∂d(a,n) (or ∂d(p,n) when it is the smaller);  ∂‖v‖/∂v = v/‖v‖",
        ),
        Variant(
            {"distance": "euclidean"},
            "ℓₙ = max(0, m + d(aₙ, pₙ) − d(aₙ, nₙ)),  d = ‖x − y + 10⁻⁶‖₂  (Euclidean)",
            "where z ≥ 0: ∂d(a,p) − ∂d(a,n);  ∂‖v‖/∂v = v/‖v‖",
        ),
    ),
    references=(
        "PyTorch torch.nn.functional.triplet_margin_with_distance_loss",
        "Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015",
    ),
    examples=(
        Example(
            [[1.0, 0.0]],
            None,
            params={"positive": [[1.0, 1.0]], "negative": [[0.0, 1.0]], "distance": "cosine", "margin": 1.0},
            value=1.0 + (1.0 - 1.0 / np.sqrt(2.0)) - 1.0,
            source="by hand: cosine distances 1 − 1/√2 (positive) and 1 (negative)",
        ),
    ),
    see_also=("triplet_margin", "batch_hard_triplet"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_triplets,
        param_grid=({}, {"distance": "cosine"}, {"swap": True}, {"distance": "cosine", "swap": True, "margin": 0.3}),
    ),
)


# --- cosine similarity loss (Keras) ---------------------------------------------------------------


def cosine_similarity(pred: Array, target: Array) -> Array:
    """−Σ x̂ ŷ over the last axis, x̂ = x / max(‖x‖, 10⁻⁶) (Keras' l2_normalize)."""
    return -np.sum(unit_rows(pred, KERAS_NORM_EPS)[0] * unit_rows(target, KERAS_NORM_EPS)[0], axis=-1)


def cosine_similarity_grad(pred: Array, target: Array) -> Array:
    """−(ŷ − x̂ (x̂·ŷ)) / ‖x‖ (below 10⁻⁶: −ŷ / 10⁻⁶, where the clamp is flat)."""
    unit, norm, above = unit_rows(pred, KERAS_NORM_EPS)
    return -unit_rows_backward(unit_rows(target, KERAS_NORM_EPS)[0], unit, norm, above)


def cosine_distance(pred: Array, target: Array) -> Array:
    """1 − Σ x̂ ŷ over the last axis."""
    return 1.0 + cosine_similarity(pred, target)


def cosine_distance_grad(pred: Array, target: Array) -> Array:
    """Same as the cosine-similarity loss: −(ŷ − x̂ (x̂·ŷ)) / ‖x‖."""
    return cosine_similarity_grad(pred, target)


def sample_vectors(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5))) if rng.integers(0, 3) else (4,)
    return {"pred": rng.normal(size=shape), "target": rng.normal(size=shape)}


class CosineFields(TypedDict):
    """The :class:`LossSpec` fields the two cosine losses share (``LossSpec(..., **COSINE_COMMON)``)."""

    family: Family
    target_help: str
    class_axis: Callable[[Array], int | None]
    testing: Testing


COSINE_COMMON: CosineFields = {
    "family": "embedding",
    "target_help": "target vectors, same shape as --pred (compared along the last axis)",
    "class_axis": _rows_axis,
    "testing": Testing(
        zero_at_target=False,
        sample=sample_vectors,
    ),
}

COSINE_SIMILARITY = LossSpec(
    name="cosine_similarity",
    aliases=("cosine_similarity_loss", "keras_cosine_similarity"),
    summary="Keras' CosineSimilarity loss: minus the cosine between prediction and target rows.",
    formula="ℓₙ = −Σᵢ x̂ₙᵢ ŷₙᵢ,  x̂ = x / √max(Σx², 10⁻¹²)  (along the last axis)",
    gradient="∂ℓ/∂x = −(ŷ − x̂ (x̂·ŷ)) / ‖x‖",
    when="Regression of directions (embeddings, normals) where length does not matter. Ranges over [−1, 1]: "
    "−1 is perfect alignment (Keras' sign convention, so that minimising it aligns). cosine_distance is the "
    "same plus 1 (0 at alignment); cosine_embedding uses labelled pairs with a margin.",
    elements=cosine_similarity,
    grad=cosine_similarity_grad,
    **COSINE_COMMON,
    references=("Keras 3 keras.losses.CosineSimilarity (axis = −1)",),
    examples=(
        Example(
            [[1.0, 0.0], [1.0, 1.0]],
            [[0.0, 1.0], [1.0, 1.0]],
            value=-0.5,
            source="Keras docs example (y_true [[0,1],[1,1]], y_pred [[1,0],[1,1]]): −((0 + 0) + (0.5 + 0.5)) / 2",
        ),
    ),
    see_also=("cosine_distance", "cosine_embedding"),
)

COSINE_DISTANCE = LossSpec(
    name="cosine_distance",
    aliases=("cosine_distance_loss",),
    summary="One minus the cosine between prediction and target rows (optax's cosine_distance).",
    formula="ℓₙ = 1 − Σᵢ x̂ₙᵢ ŷₙᵢ,  x̂ = x / √max(Σx², 10⁻¹²)",
    gradient="∂ℓ/∂x = −(ŷ − x̂ (x̂·ŷ)) / ‖x‖",
    when="As cosine_similarity, shifted to be 0 at perfect alignment and 2 at opposition (optax.cosine_distance; "
    "lossctl keeps Keras' 10⁻¹² floor on the squared norm, optax's default floor is 0, which only matters for "
    "zero vectors).",
    elements=cosine_distance,
    grad=cosine_distance_grad,
    **COSINE_COMMON,
    references=("optax.losses.cosine_distance", "Keras 3 keras.losses.CosineSimilarity"),
    examples=(
        Example(
            [[1.0, 0.0], [1.0, 1.0]],
            [[0.0, 1.0], [1.0, 1.0]],
            value=0.5,
            source="Keras docs example shifted by 1: rows at 90° and 0° cost 1 and 0",
        ),
    ),
    see_also=("cosine_similarity", "cosine_embedding"),
)


# --- Circle loss (Keras 3 keras.losses.Circle; Sun et al. 2020) ---------------------------------


def _circle_parts(pred: Array, target: Array, gamma: float, margin: float, remove_diagonal: bool):
    """Keras' circle(): distances D = max(1 − XXᵀ, 0), the weighted scores and the two log-sum-exps."""
    labels = target.reshape(-1)
    positive = labels[:, None] == labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~np.eye(len(labels), dtype=bool)
    similarity = pred @ pred.T
    distance = np.maximum(1.0 - similarity, 0.0)
    pos_weight = np.maximum((margin + distance) * positive, 0.0)
    neg_weight = np.maximum((1.0 + margin - distance) * negative, 0.0)
    pos_score = np.where(positive, -gamma * pos_weight * (margin - distance), -np.inf)
    neg_score = np.where(negative, gamma * neg_weight * (1.0 - margin - distance), -np.inf)
    return similarity, positive, negative, pos_weight, neg_weight, distance, pos_score, neg_score


def _masked_logsumexp(scores: Array) -> Array:
    """Row-wise log Σ exp over the finite entries; −inf for a row with none."""
    has_any = np.isfinite(scores).any(axis=1)
    safe = np.where(has_any[:, None], scores, 0.0)
    return np.where(has_any, logsumexp_rows(safe), -np.inf)


def circle(
    pred: Array, target: Array, *, gamma: float = 80.0, margin: float = 0.4, remove_diagonal: bool = True
) -> Array:
    """ℓᵢ = softplus(LSE_{p} −γ αₚ(Δₚ − dᵢₚ) + LSE_{n} γ αₙ(Δₙ − dᵢₙ)), d = max(1 − XXᵀ, 0) (Keras circle)."""
    *_, pos_score, neg_score = _circle_parts(pred, target, gamma, margin, remove_diagonal)
    return softplus(_masked_logsumexp(pos_score) + _masked_logsumexp(neg_score))


def _softmax_or_zero(scores: Array) -> Array:
    has_any = np.isfinite(scores).any(axis=1)
    return np.where(has_any[:, None], softmax_rows(np.where(has_any[:, None], scores, 0.0)), 0.0)


def circle_grad(
    pred: Array, target: Array, *, gamma: float = 80.0, margin: float = 0.4, remove_diagonal: bool = True
) -> Array:
    """σ(p + n) · softmax weights → ∂/∂d → ∂/∂S = −1[1 − S > 0] ∂/∂d → ∂/∂X = (G + Gᵀ) X."""
    return circle_vjp(pred, target, np.ones(pred.shape[0], dtype=pred.dtype), gamma, margin, remove_diagonal)


def circle_vjp(
    pred: Array, target: Array, cot: Array, gamma: float = 80.0, margin: float = 0.4, remove_diagonal: bool = True
) -> Array:
    """Σᵢ cotᵢ ∂ℓᵢ/∂X (the rows interact through the similarity matrix)."""
    similarity, positive, negative, pos_weight, neg_weight, distance, pos_score, neg_score = _circle_parts(
        pred, target, gamma, margin, remove_diagonal
    )
    total = _masked_logsumexp(pos_score) + _masked_logsumexp(neg_score)
    outer = np.where(np.isfinite(total), sigmoid(np.where(np.isfinite(total), total, 0.0)), 0.0)
    outer = (np.asarray(cot, dtype=pred.dtype).reshape(-1) * outer)[:, None]
    pos_slope = np.where(positive & (pos_weight > 0), 1.0, 0.0)
    neg_slope = np.where(negative & (neg_weight > 0), 1.0, 0.0)
    d_pos = -gamma * (pos_slope * (margin - distance) - pos_weight)
    d_neg = gamma * (-neg_slope * (1.0 - margin - distance) - neg_weight)
    g_distance = outer * (_softmax_or_zero(pos_score) * d_pos + _softmax_or_zero(neg_score) * d_neg)
    g_similarity = -np.where(1.0 - similarity > 0, g_distance, 0.0)
    return (g_similarity + g_similarity.T) @ pred


def check_circle(pred: Array, target: Array, **_: object) -> None:
    require_rows(pred, "--pred")
    labels = one_label_per_row(pred, target, "circle")
    if not np.all(labels == np.round(labels)):
        raise InputError("--target must hold integer labels (Keras casts them to int32); give whole numbers")


def sample_unit_embeddings(rng: np.random.Generator) -> dict[str, Array]:
    """Unit rows at least 10⁻³ apart in cosine distance: d = max(1 − S, 0) has a kink at S = 1."""
    n, d = int(rng.integers(2, 7)), int(rng.integers(2, 5))
    while True:
        rows = rng.normal(size=(n, d))
        unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        off_diagonal = ~np.eye(n, dtype=bool)
        if np.all(1.0 - (unit @ unit.T)[off_diagonal] > 1e-3):
            return {"pred": unit, "target": rng.integers(0, 3, size=n) * 1.0}


CIRCLE = LossSpec(
    name="circle",
    aliases=("circle_loss",),
    family="embedding",
    summary="Circle loss over a labelled batch of L2-normalised embeddings (Keras' Circle).",
    formula="ℓᵢ = softplus(log Σ_{p: yₚ=yᵢ, p≠i} e^{−γ αₚ(m − dᵢₚ)} + log Σ_{n: yₙ≠yᵢ} e^{γ αₙ(1 − m − dᵢₙ)}),  "
    "d = max(1 − XXᵀ, 0),  αₚ = [m + d]₊,  αₙ = [1 + m − d]₊",
    gradient="σ(pᵢ + nᵢ) · softmax weights of each log-sum-exp into ∂score/∂d (positives −γ(αₚ'(m − d) − αₚ), "
    "negatives −γ(αₙ'(1 − m − d) + αₙ));  ∂d/∂S = −1[1 − S > 0];  ∂S/∂X: (G + Gᵀ) X",
    when="Metric learning from integer labels with unit-norm embeddings (a UnitNormalization layer before the "
    "loss): it weights each similarity by how far it is from its optimum. Computed exactly as Keras 3's "
    "keras.losses.circle: the rows are used as given (not normalised), a row without a positive or a negative "
    "costs 0. PyTorch has no circle loss; under --convention torch this declaration is used with a plain mean.",
    params=(
        Param("gamma", "float", 80.0, "scale γ of the similarity scores", low=0.0),
        Param("margin", "float", 0.4, "relaxation m: optima 1 + m / −m, decision margins 1 − m / m", low=0.0),
        Param("remove_diagonal", "bool", True, "drop each row's similarity with itself from its positives"),
    ),
    target="class",
    target_help="one integer label per row of --pred",
    elements=circle,
    grad=circle_grad,
    check=check_circle,
    class_axis=_rows_axis,
    engine=EngineHooks(separable=_never_separable),
    testing=Testing(
        zero_at_target=False,
        sample=sample_unit_embeddings,
        param_grid=({}, {"gamma": 2.0, "margin": 0.25}, {"remove_diagonal": False, "gamma": 4.0}),
        # with the diagonal kept, dᵢᵢ = max(1 − ‖xᵢ‖², 0) sits on its kink for unit rows: one-sided there
        gradient_is_derivative=lambda remove_diagonal=True, **_: remove_diagonal,
    ),
    references=(
        "Sun et al., Circle Loss: A Unified Perspective of Pair Similarity Optimization, CVPR 2020",
        "Keras 3 keras/src/losses/losses.py, def circle (no docstring example)",
    ),
    examples=(
        Example(
            [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]],
            [0.0, 0.0, 1.0],
            params={"gamma": 1.0, "margin": 0.4},
            value=(np.log1p(np.exp(0.84)) + np.log1p(np.exp(0.68))) / 3,
            source="by hand: d01 = 1, d02 = 2, d12 = 1; row 0: −1·1.4·(0.4 − 1) = 0.84, negative weight "
            "[1.4 − 2]₊ = 0 → softplus(0.84); row 1: 0.84 + 1·0.4·(0.6 − 1) = 0.68; row 2 has no positive → 0",
        ),
    ),
    see_also=("batch_all_triplet", "nt_xent", "contrastive"),
)

LOSSES = (
    NT_XENT,
    MNRL,
    CONTRASTIVE,
    BATCH_HARD,
    BATCH_ALL,
    SEMI_HARD,
    TRIPLET_WITH_DISTANCE,
    COSINE_SIMILARITY,
    COSINE_DISTANCE,
    CIRCLE,
)
