"""Learning-to-rank losses over per-query score rows: ListNet, ListMLE, RankNet.

``--pred`` holds the model's scores, one row per query (the last axis is the list of
documents; a 1-D input is one query); ``--target`` holds the graded relevances, same
shape.  Each query is one element of the loss, so rows are independent samples.
"""

from __future__ import annotations

import math

import numpy as np

from lossctl.errors import InputError
from lossctl.losses._numerics import log_sigmoid, log_softmax, sigmoid
from lossctl.losses.spec import Array, Example, LossSpec, Param, Reductions, Testing


def list_axis(pred: Array) -> int:
    """The documents of a query lie along the last axis."""
    return pred.ndim - 1


def check_lists(pred: Array, target: Array, **_: object) -> None:
    """A ranking needs at least two documents per query (the last axis)."""
    if pred.shape[-1] < 2:
        raise InputError(f"--pred has {pred.shape[-1]} document per query (its last axis); a ranking needs at least 2")


def sample_queries(rng: np.random.Generator) -> dict[str, Array]:
    """Scores of a few queries (or one 1-D query) with graded relevances 0 … 3."""
    length = int(rng.integers(2, 6))
    shape = (length,) if rng.random() < 0.25 else (int(rng.integers(2, 5)), length)
    target = rng.integers(0, 4, size=shape).astype(float)
    target[..., 0], target[..., 1] = 0.0, 3.0  # every query has a pair of different relevance
    return {"pred": rng.normal(size=shape) * 2.0, "target": target}


QUERY_ROWS = "relevance grades, same shape as --pred (one row per query)"
ALLRANK = "allRank (Pobrotyn et al. 2020), allrank/models/losses"


# --- ListNet ---------------------------------------------------------------------------------


def listnet(pred: Array, target: Array) -> Array:
    """−Σᵢ softmax(y)ᵢ log softmax(s)ᵢ per query (the top-one probabilities' cross-entropy)."""
    axis = list_axis(pred)
    return -np.sum(np.exp(log_softmax(target, axis)) * log_softmax(pred, axis), axis=axis)


def listnet_grad(pred: Array, target: Array) -> Array:
    """softmax(s) − softmax(y)."""
    axis = list_axis(pred)
    return np.exp(log_softmax(pred, axis)) - np.exp(log_softmax(target, axis))


LISTNET = LossSpec(
    name="listnet",
    aliases=("listnet_loss",),
    family="ranking",
    summary="ListNet: cross-entropy between the top-one probabilities of the scores and of the relevances.",
    formula="ℓ_q = −Σᵢ softmax(y_q)ᵢ log softmax(s_q)ᵢ  (over the documents i of query q)",
    gradient="∂ℓ_q/∂s_qi = softmax(s_q)ᵢ − softmax(y_q)ᵢ",
    when="Listwise learning to rank with graded relevance: one softmax per query, cheap (O(n)) and "
    "smooth. It matches whole distributions, so unlike listmle it also cares how far apart the scores are; "
    "ranknet looks at pairs only. Its minimum is the entropy of softmax(y), not 0. allRank adds 1e-10 inside "
    "the log and masks padded documents; here there is no ε and no padding (one row per query).",
    elements=listnet,
    grad=listnet_grad,
    target_help=QUERY_ROWS,
    check=check_lists,
    class_axis=list_axis,
    references=("Cao et al., Learning to Rank: From Pairwise Approach to Listwise Approach, ICML 2007", ALLRANK),
    examples=(
        Example(
            [0.0, 0.0],
            [0.0, math.log(3.0)],
            value=math.log(2.0),
            source="by hand: softmax(y) = (1/4, 3/4), softmax(s) = (1/2, 1/2): −(¼ + ¾) log ½ = log 2",
        ),
    ),
    see_also=("listmle", "ranknet", "cross_entropy"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_queries,
    ),
)


# --- ListMLE ---------------------------------------------------------------------------------


def _by_relevance(pred: Array, target: Array) -> tuple[Array, Array]:
    """The order π sorting each query's documents by relevance, highest first (ties: input order), and s[π]."""
    order = np.argsort(-target, axis=-1, kind="stable")
    return order, np.take_along_axis(pred, order, axis=-1)


def _suffix_logsumexp(scores: Array) -> Array:
    """Lᵢ = log Σ_{j ≥ i} e^{s_j} along the last axis, shifted by the row maximum."""
    top = np.max(scores, axis=-1, keepdims=True)
    suffix = np.cumsum(np.exp(scores - top)[..., ::-1], axis=-1)[..., ::-1]
    return np.log(suffix) + top


def listmle(pred: Array, target: Array) -> Array:
    """Σᵢ (log Σ_{j ≥ i} e^{s_π(j)} − s_π(i)): −log of the Plackett–Luce probability of the target order."""
    _, ordered = _by_relevance(pred, target)
    return np.sum(_suffix_logsumexp(ordered) - ordered, axis=-1)


def listmle_grad(pred: Array, target: Array) -> Array:
    """∂ℓ/∂s_π(k) = Σ_{i ≤ k} e^{s_π(k) − Lᵢ} − 1, summed by cₖ = 1 + e^{Lₖ − Lₖ₋₁} cₖ₋₁ (every exponent ≤ 0)."""
    order, ordered = _by_relevance(pred, target)
    suffix = _suffix_logsumexp(ordered)
    running = np.ones(ordered.shape[:-1], dtype=pred.dtype)
    sums = np.empty_like(ordered)
    for k in range(ordered.shape[-1]):
        if k:
            running = 1.0 + np.exp(suffix[..., k] - suffix[..., k - 1]) * running
        sums[..., k] = running
    ordered_grad = np.exp(ordered - suffix) * sums - 1.0
    grad = np.empty_like(ordered_grad)
    np.put_along_axis(grad, order, ordered_grad, axis=-1)
    return grad


LISTMLE = LossSpec(
    name="listmle",
    aliases=("listmle_loss",),
    family="ranking",
    summary="ListMLE: −log Plackett–Luce likelihood of the order the relevances give.",
    formula="ℓ_q = Σᵢ (log Σ_{j ≥ i} exp s_π(j) − s_π(i)),  π sorts query q's documents by relevance, highest first",
    gradient="∂ℓ_q/∂s_π(k) = Σ_{i ≤ k} softmax over {π(i), …, π(n)} at π(k) − 1",
    when="Listwise ranking when only the order of the documents matters (Xia et al. 2008): the relevance "
    "values enter only through π. Compared with listnet it ignores how much more relevant a document is; "
    "ranknet is its pairwise cousin. Ties in the relevance are broken by position (a stable sort), so the "
    "loss is deterministic; allRank breaks ties at random and adds 1e-10 inside the log.",
    elements=listmle,
    grad=listmle_grad,
    target_help=QUERY_ROWS,
    check=check_lists,
    class_axis=list_axis,
    references=("Xia et al., Listwise Approach to Learning to Rank: Theory and Algorithm, ICML 2008", ALLRANK),
    examples=(
        Example(
            [0.0, 0.0, 0.0],
            [1.0, 3.0, 2.0],
            value=math.log(6.0),
            source="by hand: equal scores, every order has probability 1/3!: log 3 + log 2 + log 1 = log 6",
        ),
        Example(
            [1.0, 2.0],
            [0.0, 1.0],
            value=math.log1p(math.exp(-1.0)),
            grad=[1.0 / (1.0 + math.e), -1.0 / (1.0 + math.e)],
            source="by hand: π = (1, 0): log(e² + e) − 2 = log(1 + e^−1); gradient ±σ(−1)",
        ),
    ),
    see_also=("listnet", "ranknet"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_queries,
    ),
)


# --- RankNet ---------------------------------------------------------------------------------


def _pairs(pred: Array, target: Array, sigma: float) -> tuple[Array, Array]:
    """(mask of pairs i, j with yᵢ > yⱼ, σ (sᵢ − sⱼ)) over each query's documents."""
    better = target[..., :, None] > target[..., None, :]
    return better, sigma * (pred[..., :, None] - pred[..., None, :])


def ranknet(pred: Array, target: Array, *, sigma: float = 1.0) -> Array:
    """Σ over pairs yᵢ > yⱼ of log(1 + exp(−σ (sᵢ − sⱼ))) per query."""
    better, margin = _pairs(pred, target, sigma)
    return np.sum(np.where(better, -log_sigmoid(margin), 0.0), axis=(-2, -1))


def ranknet_grad(pred: Array, target: Array, *, sigma: float = 1.0) -> Array:
    """−σ Σⱼ [yᵢ > yⱼ] σ(−σ(sᵢ − sⱼ)) + σ Σⱼ [yⱼ > yᵢ] σ(−σ(sⱼ − sᵢ))."""
    better, margin = _pairs(pred, target, sigma)
    push = np.where(better, sigma * sigmoid(-margin), 0.0)
    return np.sum(push, axis=-2) - np.sum(push, axis=-1)


def ranknet_pairs(pred: Array, target: Array, **_: object) -> float:
    """'mean' divides by the number of ordered pairs (allRank's mean over valid pairs)."""
    return float(np.sum(target[..., :, None] > target[..., None, :]))


RANKNET = LossSpec(
    name="ranknet",
    aliases=("ranknet_loss", "pairwise_logistic"),
    family="ranking",
    summary="RankNet: logistic loss on the score difference of every pair with different relevance.",
    formula="ℓ_q = Σ_{i, j: yᵢ > yⱼ} log(1 + exp(−σ (sᵢ − sⱼ)));  mean = Σ_q ℓ_q / number of such pairs",
    gradient="∂ℓ_q/∂sₖ = −σ Σ_{j: yₖ > yⱼ} σ(−σ(sₖ − sⱼ)) + σ Σ_{i: yᵢ > yₖ} σ(−σ(sᵢ − sₖ))",
    when="Pairwise learning to rank (Burges et al. 2005): each pair of documents of a query whose "
    "relevance differs is a binary classification 'i above j' on sᵢ − sⱼ. Pairs of equal relevance "
    "contribute nothing (Burges' P̄ = ½ variant is not used). Quadratic in the list length, unlike listnet and "
    "listmle. The elements are per-query sums; 'mean' divides by the number of pairs, as allRank's rankNet "
    "(BCE with logits over the valid pairs) does; a batch without any such pair has no mean.",
    elements=ranknet,
    grad=ranknet_grad,
    params=(Param("sigma", "float", 1.0, "σ, the slope of the logistic on sᵢ − sⱼ", low=0.0, low_open=True),),
    target_help=QUERY_ROWS,
    check=check_lists,
    class_axis=list_axis,
    references=("Burges et al., Learning to Rank using Gradient Descent, ICML 2005", ALLRANK),
    examples=(
        Example(
            [0.0, 1.0, 3.0],
            [2.0, 1.0, 0.0],
            value=(math.log1p(math.e) + math.log1p(math.exp(3.0)) + math.log1p(math.exp(2.0))) / 3,
            source="by hand: pairs (0>1), (0>2), (1>2) with sᵢ − sⱼ = −1, −3, −2: Σ log(1 + e^−d) / 3 pairs",
        ),
    ),
    see_also=("listnet", "listmle", "margin_ranking"),
    reductions=Reductions(
        denominator=ranknet_pairs,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_queries,
        param_grid=({}, {"sigma": 0.5}, {"sigma": 3.0}),
    ),
)

LOSSES = (LISTNET, LISTMLE, RANKNET)
