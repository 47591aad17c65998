"""Segmentation overlap losses: Jaccard, generalized Dice, focal Tversky, Dice + CE, Lovász hinge and softmax.

Layout (PyTorch's, MONAI's and segmentation-models-pytorch's): ``--pred`` is (N, C, *spatial) — N
images, C class channels (C = 1: a binary foreground channel); ``--target`` holds class indices of shape
(N, *spatial) or masks / one-hot rows of ``--pred``'s shape.  The overlap sums I = Σ p t, P = Σ p and
T = Σ t run over the pixels of each image and class (``--no-per-sample``: over the whole batch), a loss
is formed per class and the classes are averaged (weighted by ``--weight`` when given), giving one
element per image.  ``--from-logits`` applies a sigmoid (C = 1) or a softmax over C first, and the
gradient is then with respect to the logits.  ``--ignore-index`` masks pixels out of every sum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypedDict

import numpy as np

from lossctl.errors import InputError
from lossctl.losses._numerics import log_softmax, sigmoid
from lossctl.losses.checks import count, require
from lossctl.losses.spec import (
    Array,
    EngineHooks,
    Example,
    Family,
    Images,
    LossSpec,
    Param,
    ParamGrid,
    TargetKind,
    Testing,
    Variant,
)

Terms = tuple[Array, Array, Array]  # loss, ∂loss/∂I, ∂loss/∂P — each (groups, classes)
EMPTY_MASKS = (
    "Empty masks: with --smooth s > 0 a class absent from both the target and the prediction scores "
    "(0 + s)/(0 + s), a loss of 0; a class absent from the target but predicted is penalised fully; "
    "--smooth 0 with P + T = 0 is refused as 0/0. Classes absent from the target are averaged in like the "
    "others (smp zeroes their Dice/Jaccard terms instead; MONAI keeps them, as here)."
)


# --- layout: probabilities, one-hot targets, the ignore mask, and the chain rule back to logits --------


def class_axis(pred: Array) -> int:
    return 1


def is_index_target(pred: Array, target: Array) -> bool:
    return target.shape == pred.shape[:1] + pred.shape[2:] and target.shape != pred.shape


def probabilities(pred: Array, from_logits: bool) -> Array:
    """p as given, or sigmoid (one channel) / softmax over the channels of logits."""
    if not from_logits:
        return pred
    if pred.shape[1] == 1:
        return sigmoid(pred)
    return np.exp(log_softmax(pred, 1))


def chain_from_logits(p: Array, grad_p: Array) -> Array:
    """∂/∂z from ∂/∂p: p (1 − p) for a sigmoid channel, p ⊙ (g − Σ_c g p) for a softmax."""
    if p.shape[1] == 1:
        return grad_p * p * (1.0 - p)
    return p * (grad_p - np.sum(grad_p * p, axis=1, keepdims=True))


def one_hot_target(pred: Array, target: Array, ignore_index: int) -> tuple[Array, Array]:
    """(t of pred's shape, mask (N, 1, *spatial) of the pixels that count)."""
    if not is_index_target(pred, target):
        return target, np.ones((pred.shape[0], 1, *pred.shape[2:]), dtype=pred.dtype)
    keep = target != ignore_index
    labels = np.where(keep, target, 0).astype(np.int64)
    classes = pred.shape[1]
    if classes == 1:  # binary: the index is the foreground flag
        hot = labels[:, None].astype(pred.dtype)
    else:
        hot = np.moveaxis(np.eye(classes, dtype=pred.dtype)[labels], -1, 1)
    mask = keep[:, None].astype(pred.dtype)
    return hot * mask, mask


def groups(x: Array, per_sample: bool) -> Array:
    """(G, C, pixels): per image, or the batch pooled into one group."""
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    return flat if per_sample else np.moveaxis(flat, 1, 0).reshape(1, c, -1)


def ungroup(g: Array, shape: tuple[int, ...], per_sample: bool) -> Array:
    """The inverse of :func:`groups` for a (G, C, pixels) gradient."""
    n, c = shape[:2]
    if per_sample:
        return g.reshape(shape)
    return np.moveaxis(g.reshape(c, n, -1), 0, 1).reshape(shape)


def class_mean(terms: Terms, weight: Array | None) -> Terms:
    """Per-group loss Σ_c w_c ℓ_c / Σ_c w_c (plain class mean without weights) and its partials."""
    loss, d_inter, d_total = terms
    w = np.ones(loss.shape[1], dtype=loss.dtype) if weight is None else weight.astype(loss.dtype)
    w = w / np.sum(w)
    return loss @ w, d_inter * w, d_total * w


def overlap_loss(score: Callable[..., Terms], pred: Array, target: Array, params: dict) -> tuple[Array, Array]:
    """Elements (one per group) and ∂(Σ elements)/∂pred for a loss of the per-class sums I, P, T."""
    from_logits, per_sample = params.pop("from_logits"), params.pop("per_sample")
    ignore_index, weight = params.pop("ignore_index", -100), params.pop("weight", None)
    p = probabilities(pred, from_logits)
    t, mask = one_hot_target(pred, target, ignore_index)
    pg, tg = groups(p * mask, per_sample), groups(t, per_sample)
    inter, total_p, total_t = np.sum(pg * tg, axis=2), np.sum(pg, axis=2), np.sum(tg, axis=2)
    loss, d_inter, d_total = score(inter, total_p, total_t, weight=weight, **params)
    grad_p = ungroup(d_inter[..., None] * tg + d_total[..., None], p.shape, per_sample) * mask
    return loss, chain_from_logits(p, grad_p) if from_logits else grad_p


def check_segmentation(pred: Array, target: Array, *, from_logits: bool = False, **params: Any) -> None:
    """Layout, probability range, indices or masks, class weights, and 0/0 without smoothing."""
    if pred.ndim < 2:
        raise InputError(f"--pred must be (N, C, *spatial) with classes on axis 1, got shape {tuple(pred.shape)}")
    classes = pred.shape[1]
    ignore_index = params.get("ignore_index", -100)
    if not from_logits:
        require((pred >= 0) & (pred <= 1), pred, "--pred", "must hold probabilities in [0, 1] (or pass --from-logits)")
    if is_index_target(pred, target):
        valid = (target == np.round(target)) & (target >= 0) & (target < max(classes, 2))
        require(
            valid | (target == ignore_index), target, "--target", f"must hold class indices 0 … {max(classes, 2) - 1}"
        )
    elif target.shape == pred.shape:
        require((target >= 0) & (target <= 1), target, "--target", "must be a mask with values in [0, 1]")
        if ignore_index != -100:
            raise InputError("--ignore-index applies to class-index targets (shape (N, *spatial)), not to masks")
    else:
        spatial = pred.shape[:1] + pred.shape[2:]
        raise InputError(
            f"--target has shape {tuple(target.shape)}; with --pred of shape {tuple(pred.shape)} it needs class "
            f"indices of shape {spatial} or masks of shape {tuple(pred.shape)}"
        )
    weight = params.get("weight")
    if weight is not None:
        if weight.shape != (classes,):
            raise InputError(f"--weight has {count(weight.size)} but --pred has {classes} classes; give one per class")
        require(weight >= 0, weight, "--weight", "must be ≥ 0")
        if not np.any(weight):
            raise InputError("--weight is 0 for every class: the class average would be 0/0")


def check_smoothing(pred: Array, target: Array, params: Mapping[str, Any]) -> None:
    """With smooth = 0, a (group, class) with P + T = 0 is 0/0."""
    if params.get("smooth", 1.0) != 0:
        return
    p = probabilities(pred, params.get("from_logits", False))
    t, mask = one_hot_target(pred, target, params.get("ignore_index", -100))
    per_sample = params.get("per_sample", True)
    sizes = np.sum(groups(p * mask, per_sample) + groups(t, per_sample), axis=2)
    if np.any(sizes == 0):
        raise InputError("a class is empty in both --pred and --target, so its overlap is 0/0; use --smooth > 0")


def check_overlap_loss(pred: Array, target: Array, **params: Any) -> None:
    check_segmentation(pred, target, **params)
    check_smoothing(pred, target, params)


def sample_weighted_segmentation(rng: np.random.Generator) -> dict[str, Array]:
    """As :func:`sample_segmentation`, and a positive weight per class in about half the draws."""
    inputs = sample_segmentation(rng)
    if rng.random() < 0.5:
        inputs["weight"] = rng.uniform(0.2, 2.0, size=(inputs["pred"].shape[1],))
    return inputs


def sample_segmentation(rng: np.random.Generator) -> dict[str, Array]:
    """Probabilities (N, C, H, W) over 2–3 classes (or one sigmoid channel), index or mask targets."""
    n, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 4)), int(rng.integers(2, 4))
    classes = int(rng.choice([1, 2, 3]))
    if classes == 1:
        pred = rng.uniform(0.05, 0.95, size=(n, 1, h, w))
    else:
        pred = np.ascontiguousarray(np.moveaxis(rng.dirichlet(np.ones(classes) * 2, size=(n, h, w)), -1, 1))
    labels = rng.integers(0, max(classes, 2), size=(n, h, w)).astype(float)
    labels[:, 0, 0] = 1.0  # so that --ignore-index 0 never empties an image
    if rng.random() < 0.3:
        target = labels[:, None] if classes == 1 else np.moveaxis(np.eye(classes)[labels.astype(int)], -1, 1)
        return {"pred": pred, "target": np.ascontiguousarray(target)}
    return {"pred": pred, "target": labels}


def per_sample_rows(pred: Array, per_sample: bool = True, **_: object) -> bool:
    """Images are independent rows when each is scored on its own."""
    return per_sample and pred.ndim >= 2


FROM_LOGITS = Param("from_logits", "bool", False, "--pred holds logits: sigmoid (1 channel) or softmax over C first")
PER_SAMPLE = Param(
    "per_sample", "bool", True, "one score per image, then the mean; --no-per-sample pools the batch per class"
)
SEG_IGNORE = Param("ignore_index", "int", -100, "pixels whose target index is this count in no sum")
SEG_WEIGHT = Param("weight", "tensor", None, "a weight per class for the class average (default: equal)")
SMOOTH = Param("smooth", "float", 1e-5, "added to numerator and denominator (MONAI's smooth_nr = smooth_dr)", low=0.0)
SEG_PARAMS = (SMOOTH, FROM_LOGITS, PER_SAMPLE, SEG_IGNORE, SEG_WEIGHT)
SEG_GRID: ParamGrid = (
    {},
    {"per_sample": False},
    {"from_logits": True, "smooth": 1.0},
    {"ignore_index": 0},
)
TARGET_HELP = "class indices (N, *spatial) or masks / one-hot of --pred's shape (N, C, *spatial)"


class SegmentationFields(TypedDict):
    """The :class:`LossSpec` fields the segmentation losses share (``LossSpec(..., **COMMON)``)."""

    family: Family
    target: TargetKind
    target_help: str
    check: Callable[..., None]
    class_axis: Callable[[Array], int | None]
    images: Images
    engine: EngineHooks


COMMON_TESTING = Testing(
    zero_at_target=False,
    sample=sample_weighted_segmentation,
)

COMMON: SegmentationFields = {
    "family": "segmentation",
    "target": "class",
    "target_help": TARGET_HELP,
    "check": check_overlap_loss,
    "class_axis": class_axis,
    "engine": EngineHooks(
        separable=per_sample_rows,
    ),
    "images": Images(),
}


# --- Jaccard / soft IoU ---------------------------------------------------------------------


def jaccard_terms(inter: Array, total_p: Array, total_t: Array, *, smooth: float, weight=None) -> Terms:
    """ℓ = 1 − (I + s)/(U + s), U = P + T − I."""
    union = total_p + total_t - inter + smooth
    ratio = (inter + smooth) / union
    d_inter = -(union + inter + smooth) / union**2
    d_total = (inter + smooth) / union**2
    return class_mean((1.0 - ratio, d_inter, d_total), weight)


def jaccard(pred: Array, target: Array, **params) -> Array:
    """1 − (Σ p t + s)/(Σ p + Σ t − Σ p t + s) per class, averaged over classes, per image."""
    return overlap_loss(jaccard_terms, pred, target, dict(params))[0]


def jaccard_grad(pred: Array, target: Array, **params) -> Array:
    """∂ℓ/∂p_k = −(t_k (U + s) − (I + s)(1 − t_k)) / (U + s)² per class (times the class weight)."""
    return overlap_loss(jaccard_terms, pred, target, dict(params))[1]


JACCARD = LossSpec(
    name="jaccard",
    aliases=("soft_iou", "jaccard_loss"),
    summary="Soft Jaccard (IoU) loss: one minus intersection over union of probabilities and masks.",
    formula="ℓₙ = mean_c [1 − (I_c + s)/(P_c + T_c − I_c + s)],  I = Σ p t, P = Σ p, T = Σ t over image n",
    gradient="∂ℓ/∂p_ck = −(t_ck (U_c + s) − (I_c + s)(1 − t_ck)) / (C (U_c + s)²),  U = P + T − I",
    when="Segmentation scored by IoU (the soft relaxation of the metric, Rahman & Wang 2016; smp JaccardLoss, "
    "MONAI DiceLoss(jaccard=True)). Jaccard = D/(2 − D) in terms of dice's D, so it ranks the same but "
    "penalises poor overlap harder; lovasz_softmax optimises IoU more directly. " + EMPTY_MASKS,
    elements=jaccard,
    grad=jaccard_grad,
    params=SEG_PARAMS,
    references=(
        "Rahman & Wang, Optimizing Intersection-Over-Union in Deep Neural Networks, ISVC 2016",
        "segmentation_models_pytorch JaccardLoss; MONAI DiceLoss(jaccard=True)",
    ),
    examples=(
        Example(
            [[[[0.9, 0.1], [0.8, 0.3]]]],
            [[[[1.0, 0.0], [1.0, 0.0]]]],
            params={"smooth": 0.0},
            value=1.0 - 1.7 / 2.4,
            source="by hand: I = 0.9 + 0.8 = 1.7, P = 2.1, T = 2, U = 2.1 + 2 − 1.7 = 2.4",
        ),
    ),
    see_also=("dice", "lovasz_softmax", "generalized_dice"),
    **COMMON,
    testing=replace(
        COMMON_TESTING,
        param_grid=SEG_GRID,
    ),
)


# --- generalized Dice -----------------------------------------------------------------------


def class_balance(total_t: Array, w_type: str) -> Array:
    """w_c = 1/T_c² (square), 1/T_c (simple) or 1; classes absent from the target get the group's largest finite w."""
    if w_type == "uniform":
        return np.ones_like(total_t)
    power = 2.0 if w_type == "square" else 1.0
    safe = np.where(total_t > 0, total_t, 1.0)
    w = np.where(total_t > 0, 1.0 / safe**power, 0.0)
    return np.where(total_t > 0, w, np.max(w, axis=1, keepdims=True))


def generalized_dice_terms(
    inter: Array, total_p: Array, total_t: Array, *, smooth: float, w_type: str, weight=None
) -> Terms:
    """ℓ = 1 − (2 Σ_c w_c I_c + s)/(Σ_c w_c (P_c + T_c) + s), w_c from the target only."""
    w = class_balance(total_t, w_type)
    numerator = 2.0 * np.sum(w * inter, axis=1, keepdims=True) + smooth
    denominator = np.sum(w * (total_p + total_t), axis=1, keepdims=True) + smooth
    loss = 1.0 - numerator / denominator
    return loss[:, 0], -2.0 * w / denominator, numerator * w / denominator**2


def generalized_dice(pred: Array, target: Array, **params) -> Array:
    """1 − (2 Σ_c w_c Σ p t + s)/(Σ_c w_c Σ (p + t) + s), w_c = 1/(Σ t_c)², per image."""
    return overlap_loss(generalized_dice_terms, pred, target, dict(params))[0]


def generalized_dice_grad(pred: Array, target: Array, **params) -> Array:
    """∂ℓ/∂p_ck = −(2 w_c t_ck D − N w_c)/D²,  N, D the numerator and denominator."""
    return overlap_loss(generalized_dice_terms, pred, target, dict(params))[1]


def check_generalized_dice(pred: Array, target: Array, **params: Any) -> None:
    """With smooth = 0, an image whose target is empty in every class has no weights: 0/0."""
    check_segmentation(pred, target, **params)
    if params.get("smooth") != 0 or params.get("w_type") == "uniform":
        check_smoothing(pred, target, params)
        return
    t, _ = one_hot_target(pred, target, params.get("ignore_index", -100))
    totals = np.sum(groups(t, params.get("per_sample", True)), axis=2)
    if np.any(np.all(totals == 0, axis=1)):
        raise InputError("--target is empty in every class of an image, so every weight is 0 (0/0); use --smooth > 0")


GENERALIZED_DICE_FIELDS: SegmentationFields = {**COMMON, "check": check_generalized_dice}

GENERALIZED_DICE = LossSpec(
    name="generalized_dice",
    aliases=("gdl", "generalised_dice", "generalized_dice_loss"),
    summary="Generalized Dice: one Dice over all classes, each weighted by 1/(its target volume)².",
    formula="ℓₙ = 1 − (2 Σ_c w_c I_c + s)/(Σ_c w_c (P_c + T_c) + s),  w_c = 1/T_c²  (I = Σ p t, P = Σ p, T = Σ t)",
    gradient="∂ℓ/∂p_ck = −(2 w_c t_ck D − N w_c)/D²  (w from the target: constant)",
    when="Highly unbalanced multi-class segmentation (Sudre et al. 2017): small structures count as much "
    "as large ones, without the instability of averaging per-class Dice of tiny classes. As MONAI's "
    "GeneralizedDiceLoss: a class absent from an image's target gets that image's largest finite weight "
    "(absent from all: every weight is 0 and the image scores 1 − s/s = 0, refused as 0/0 with --smooth 0). "
    "--w-type simple uses 1/T_c, uniform is "
    "plain pooled Dice. No extra class weights: the weights are the point.",
    elements=generalized_dice,
    grad=generalized_dice_grad,
    **GENERALIZED_DICE_FIELDS,
    params=(
        SMOOTH,
        Param(
            "w_type",
            "choice",
            "square",
            "class weights 1/T² (square), 1/T (simple) or 1",
            choices=("square", "simple", "uniform"),
        ),
        FROM_LOGITS,
        PER_SAMPLE,
        SEG_IGNORE,
    ),
    references=(
        "Sudre et al., Generalised Dice overlap as a deep learning loss function for highly unbalanced "
        "segmentations, DLMIA 2017",
        "MONAI monai.losses.GeneralizedDiceLoss",
    ),
    examples=(
        Example(
            [[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]],
            [[0, 1], [0, 0]],
            params={"smooth": 0.0},
            value=0.5,
            elements=[0.5, 0.5],
            source="by hand, 2 images of 2 pixels, p = ½ everywhere: image 0 has T = (1, 1), w = (1, 1): "
            "1 − 2·(½ + ½)/(2 + 2) = ½; image 1 has T = (2, 0), w = (¼, ¼ for the absent class): "
            "1 − 2·¼·1/(¼·3 + ¼·1) = ½",
        ),
    ),
    see_also=("dice", "jaccard", "focal_tversky"),
    testing=replace(
        COMMON_TESTING,
        sample=sample_segmentation,
        param_grid=({}, {"per_sample": False}, {"from_logits": True, "w_type": "simple"}, {"ignore_index": 0}),
    ),
)


# --- focal Tversky --------------------------------------------------------------------------


def focal_tversky_terms(
    inter: Array, total_p: Array, total_t: Array, *, smooth: float, alpha: float, beta: float, gamma: float, weight=None
) -> Terms:
    """ℓ = (1 − TI)^γ, TI = (I + s)/(I + α (P − I) + β (T − I) + s); at TI = 1 the gradient is taken as 0."""
    denominator = inter + alpha * (total_p - inter) + beta * (total_t - inter) + smooth
    index = (inter + smooth) / denominator
    gap = np.maximum(1.0 - index, 0.0)
    d_index_d_inter = (denominator - (inter + smooth) * (1.0 - alpha - beta)) / denominator**2
    d_index_d_total = -(inter + smooth) * alpha / denominator**2
    slope = np.where(gap > 0, gamma * np.where(gap > 0, gap, 1.0) ** (gamma - 1.0), 0.0)
    return class_mean((gap**gamma, -slope * d_index_d_inter, -slope * d_index_d_total), weight)


def focal_tversky(pred: Array, target: Array, **params) -> Array:
    """(1 − TI_c)^γ averaged over classes, TI = (TP + s)/(TP + α FP + β FN + s), per image."""
    return overlap_loss(focal_tversky_terms, pred, target, dict(params))[0]


def focal_tversky_grad(pred: Array, target: Array, **params) -> Array:
    """−γ (1 − TI)^(γ−1) ∂TI/∂p_k,  ∂TI/∂p_k = (t_k D − (TP + s)(t_k + α (1 − t_k) − β t_k))/D²."""
    return overlap_loss(focal_tversky_terms, pred, target, dict(params))[1]


FOCAL_TVERSKY = LossSpec(
    name="focal_tversky",
    aliases=("focal_tversky_loss", "ftl"),
    summary="Focal Tversky: (1 − Tversky index)^γ, focusing on classes that are still segmented badly.",
    formula="ℓₙ = mean_c (1 − TI_c)^γ,  TI = (TP + s)/(TP + α FP + β FN + s),  "
    "TP = Σ p t, FP = Σ p(1 − t), FN = Σ (1 − p) t",
    gradient="∂ℓ/∂p_ck = −γ (1 − TI_c)^(γ−1) (t_ck D − (TP + s)(t_ck + α(1 − t_ck) − β t_ck)) / (C D²)  "
    "(0 where TI = 1)",
    when="Small lesions (Abraham & Khan 2019): Tversky's β > α trades false positives for recall, and γ < 1 "
    "keeps a useful gradient on classes that are already nearly right. The paper writes the exponent "
    "as 1/γ with γ = 4/3 while its "
    "code uses pow(1 − TI, 0.75): here --gamma is the exponent itself, default 0.75 (the same number). "
    "α weights false positives and β false negatives, as lossctl's tversky and smp's TverskyLoss name them "
    "(the paper's α is on FN): the defaults α = 0.3, β = 0.7 are the paper's. γ = 1 is tversky per class. "
    "For γ < 1 the derivative is infinite at a perfect score; it is reported as 0 there (as rmse's √ at 0). "
    + EMPTY_MASKS,
    elements=focal_tversky,
    grad=focal_tversky_grad,
    params=(
        Param("alpha", "float", 0.3, "weight of false positives", low=0.0),
        Param("beta", "float", 0.7, "weight of false negatives", low=0.0),
        Param("gamma", "float", 0.75, "exponent γ on 1 − TI (the paper's 1/γ)", low=0.0, low_open=True),
        *SEG_PARAMS,
    ),
    references=(
        "Abraham & Khan, A Novel Focal Tversky Loss Function with Improved Attention U-Net for Lesion "
        "Segmentation, ISBI 2019",
        "segmentation_models_pytorch TverskyLoss(gamma=…)",
    ),
    examples=(
        Example(
            [[[[0.9, 0.1], [0.8, 0.3]]]],
            [[[[1.0, 0.0], [1.0, 0.0]]]],
            params={"smooth": 0.0, "gamma": 1.0, "alpha": 0.3, "beta": 0.7},
            value=1.0 - 1.7 / 2.03,
            source="by hand: TP = 1.7, FP = 0.4, FN = 0.3: 1 − 1.7/(1.7 + 0.12 + 0.21)",
        ),
        Example(
            [[[[0.9, 0.1], [0.8, 0.3]]]],
            [[[[1.0, 0.0], [1.0, 0.0]]]],
            params={"smooth": 0.0},
            value=(1.0 - 1.7 / 2.03) ** 0.75,
            source="by hand: the same Tversky index, (1 − 1.7/2.03)^0.75",
        ),
    ),
    see_also=("tversky", "dice", "generalized_dice"),
    **COMMON,
    testing=replace(
        COMMON_TESTING,
        param_grid=(*SEG_GRID, {"gamma": 1.5, "alpha": 0.5, "beta": 0.5}),
    ),
)


# --- Dice + cross-entropy (MONAI DiceCELoss) ------------------------------------------------


def dice_terms(inter: Array, total_p: Array, total_t: Array, *, smooth: float, weight=None) -> Terms:
    """ℓ = 1 − (2I + s)/(P + T + s), averaged over classes."""
    denominator = total_p + total_t + smooth
    numerator = 2.0 * inter + smooth
    return class_mean((1.0 - numerator / denominator, -2.0 / denominator, numerator / denominator**2), weight)


def _pixel_cross_entropy(pred: Array, target: Array, per_sample: bool) -> tuple[Array, Array]:
    """Mean −log softmax(x)_y over the pixels of each image (or of the batch) and its gradient."""
    log_p = log_softmax(pred, 1)
    hot, _ = one_hot_target(pred, target, -100)
    per_pixel = -np.sum(hot * log_p, axis=1).reshape(pred.shape[0], -1)
    pixels = per_pixel.shape[1] if per_sample else per_pixel.size
    loss = per_pixel.sum(axis=1) / pixels if per_sample else np.array([per_pixel.sum() / pixels])
    return loss, (np.exp(log_p) - hot) / pixels


def dice_ce_parts(pred: Array, target: Array, *, lambda_dice: float, lambda_ce: float, smooth: float, per_sample: bool):
    dice_loss, dice_grad_ = overlap_loss(
        dice_terms, pred, target, {"smooth": smooth, "from_logits": True, "per_sample": per_sample}
    )
    ce_loss, ce_grad = _pixel_cross_entropy(pred, target, per_sample)
    return lambda_dice * dice_loss + lambda_ce * ce_loss, lambda_dice * dice_grad_ + lambda_ce * ce_grad


def dice_ce(pred: Array, target: Array, **params) -> Array:
    """λ_dice · mean_c [1 − (2I + s)/(P + T + s)] on softmax(x) + λ_ce · mean over pixels of −log softmax(x)_y."""
    return dice_ce_parts(pred, target, **params)[0]


def dice_ce_grad(pred: Array, target: Array, **params) -> Array:
    """λ_dice · (Dice's ∂/∂p through the softmax Jacobian) + λ_ce · (softmax(x) − onehot(y)) / pixels."""
    return dice_ce_parts(pred, target, **params)[1]


def check_dice_ce(pred: Array, target: Array, **params: Any) -> None:
    check_segmentation(pred, target, from_logits=True)
    if pred.shape[1] < 2 or not is_index_target(pred, target):
        raise InputError(
            "dice_ce needs logits (N, C, *spatial) with C ≥ 2 classes and class indices of shape (N, *spatial)"
        )


def sample_dice_ce(rng: np.random.Generator) -> dict[str, Array]:
    n, h, w, classes = (int(v) for v in rng.integers([1, 2, 2, 2], [4, 4, 4, 4]))
    return {
        "pred": rng.normal(size=(n, classes, h, w)) * 2.0,
        "target": rng.integers(0, classes, size=(n, h, w)).astype(float),
    }


DICE_CE_FIELDS: SegmentationFields = {**COMMON, "check": check_dice_ce}

DICE_CE = LossSpec(
    name="dice_ce",
    aliases=("dice_cross_entropy", "dicece"),
    summary="Dice + cross-entropy (MONAI DiceCELoss): region overlap and per-pixel likelihood in one loss.",
    formula="ℓₙ = λ_dice · mean_c [1 − (2 I_c + s)/(P_c + T_c + s)] + λ_ce · mean_pixels (−log softmax(x)_y),  "
    "p = softmax(x)",
    gradient="∂ℓ/∂x = λ_dice · p ⊙ (g − Σ_c g p) with g = ∂Dice/∂p,  + λ_ce (softmax(x) − onehot(y)) / pixels",
    when="The default compound loss of medical segmentation (nnU-Net, MONAI): Dice handles class imbalance, "
    "cross-entropy gives smooth, well-scaled per-pixel gradients early in training. Semantics of MONAI "
    "DiceCELoss(softmax=True, to_onehot_y=True): logits (N, C, *spatial), index targets, Dice per image and "
    "class with smooth_nr = smooth_dr = s (1e-5), background included, averaged over classes; cross_entropy "
    "averaged over all pixels. --no-per-sample is MONAI's batch=True (Dice pooled per class over the batch). "
    "Not here: MONAI's class weight, ignore_index and sigmoid/BCE variants. " + EMPTY_MASKS,
    elements=dice_ce,
    grad=dice_ce_grad,
    params=(
        Param("lambda_dice", "float", 1.0, "weight of the Dice term", low=0.0),
        Param("lambda_ce", "float", 1.0, "weight of the cross-entropy term", low=0.0),
        SMOOTH,
        PER_SAMPLE,
    ),
    references=(
        "Isensee et al., nnU-Net, Nature Methods 2021 (Dice + CE)",
        "MONAI monai.losses.DiceCELoss",
    ),
    examples=(
        Example(
            [[[[0.0, 0.0]], [[0.0, 0.0]]]],
            [[[0, 1]]],
            params={"smooth": 0.0},
            value=0.5 + math.log(2.0),
            source="by hand: p = ½ everywhere; each class has I = ½, P = 1, T = 1, Dice loss 1 − 1/2 = ½; "
            "CE = log 2 at both pixels",
        ),
    ),
    see_also=("dice", "cross_entropy", "generalized_dice"),
    **DICE_CE_FIELDS,
    testing=replace(
        COMMON_TESTING,
        sample=sample_dice_ce,
        param_grid=({}, {"per_sample": False}, {"lambda_dice": 0.3, "lambda_ce": 2.0, "smooth": 1.0}),
    ),
)


# --- Lovász hinge and Lovász-softmax --------------------------------------------------------


def lovasz_weights(truth_sorted: Array) -> Array:
    """The Lovász extension's gradient w.r.t. errors sorted in decreasing order (Berman et al., Alg. 1), per row."""
    positives = np.sum(truth_sorted, axis=-1, keepdims=True)
    intersection = positives - np.cumsum(truth_sorted, axis=-1)
    union = positives + np.cumsum(1.0 - truth_sorted, axis=-1)
    jaccard = 1.0 - intersection / union
    return np.diff(jaccard, axis=-1, prepend=0.0)


def sorted_lovasz(errors: Array, truth: Array, keep: Array) -> tuple[Array, Array]:
    """Per row: the Lovász weights g at each error's rank (0 for ignored pixels), ignored pixels sorted last."""
    ranked = np.where(keep, errors, -np.inf)
    order = np.argsort(-ranked, axis=-1, kind="stable")
    weights_sorted = lovasz_weights(np.take_along_axis(truth * keep, order, axis=-1))
    weights = np.empty_like(weights_sorted)
    np.put_along_axis(weights, order, weights_sorted, axis=-1)
    return weights * keep, order


def _hinge_rows(pred: Array, target: Array, per_sample: bool, ignore_index: int):
    rows = pred.shape[0] if per_sample and pred.ndim >= 2 else 1  # a 1-D input is one image
    x, t = pred.reshape(rows, -1), target.reshape(rows, -1)
    keep = t != ignore_index
    labels = np.where(keep, t, 0.0)
    signs = 2.0 * labels - 1.0
    errors = 1.0 - x * signs
    weights, _ = sorted_lovasz(errors, labels, keep)
    return errors, signs, weights


def lovasz_hinge(pred: Array, target: Array, *, per_sample: bool = True, ignore_index: int = -100) -> Array:
    """Σ_k relu(e_(k)) g_k: the Lovász extension of the Jaccard loss at the hinge errors e = 1 − x (2t − 1)."""
    errors, _, weights = _hinge_rows(pred, target, per_sample, ignore_index)
    return np.sum(np.maximum(errors, 0.0) * weights, axis=1)


def lovasz_hinge_grad(pred: Array, target: Array, *, per_sample: bool = True, ignore_index: int = -100) -> Array:
    """−(2tₖ − 1) gₖ [eₖ > 0]: piecewise linear, exact except at ties between errors (measure zero)."""
    errors, signs, weights = _hinge_rows(pred, target, per_sample, ignore_index)
    return (-(signs * weights) * (errors > 0)).reshape(pred.shape)


def check_lovasz_hinge(pred: Array, target: Array, *, ignore_index: int = -100, **_: object) -> None:
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {tuple(target.shape)}; it must match --pred {tuple(pred.shape)}")
    require((target == 0) | (target == 1) | (target == ignore_index), target, "--target", "must be 0 or 1")


def sample_binary_logits(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(1, 4)), 1, int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    target = (rng.random(shape) < 0.5).astype(float)
    target[:, 0, 0, 0] = 1.0
    return {"pred": rng.normal(size=shape) * 2.0, "target": target}


BERMAN = "Berman, Rannen Triki & Blaschko, The Lovász-Softmax loss, CVPR 2018"
SMP_LOVASZ = "segmentation_models_pytorch LovaszLoss (Berman's reference code)"

LOVASZ_HINGE = LossSpec(
    name="lovasz_hinge",
    aliases=("lovasz_hinge_loss",),
    family="segmentation",
    summary="Lovász hinge: a convex surrogate that optimises the binary Jaccard index (IoU) directly.",
    formula="ℓₙ = Σ_k relu(e_(k)) g_k,  e = 1 − x (2t − 1) sorted decreasingly, g = Δ of 1 − I/U along the order",
    gradient="∂ℓ/∂xₖ = −(2tₖ − 1) g_rank(k) 𝟙(eₖ > 0)  (the Lovász extension is piecewise linear)",
    when="Binary segmentation judged by IoU (Berman et al. 2018): --pred are logits, --target 0/1 masks of "
    "the same shape. Unlike jaccard (a soft ratio of probabilities) it is the tight convex extension of "
    "the IoU loss on the hinge errors. --per-sample (Berman's per_image=True, the default here) scores "
    "each image; smp's LovaszLoss defaults to per_image=False (--no-per-sample). --ignore-index pixels "
    "are dropped. An image with an empty mask scores relu(largest error) (its IoU is 0 or 1); an image "
    "with only ignored pixels scores 0, as in the reference code.",
    elements=lovasz_hinge,
    grad=lovasz_hinge_grad,
    params=(PER_SAMPLE, SEG_IGNORE),
    target="same",
    target_help="0/1 masks of --pred's shape (or --ignore-index)",
    check=check_lovasz_hinge,
    references=(BERMAN, SMP_LOVASZ),
    examples=(
        Example(
            [[2.0, -1.0, 0.5]],
            [[1.0, 0.0, 0.0]],
            value=1.5 * 0.5 + 0.0 * 0.0 + 0.0,
            source="by hand: e = (−1, 0, 1.5); sorted 1.5 (t = 0), 0 (t = 0), −1 (t = 1): "
            "1 − I/U = 1 − 1/2, 1 − 1/3, 1 − 0/3 → g = (½, 1/6, 1/3); loss = 1.5·½",
        ),
    ),
    see_also=("lovasz_softmax", "jaccard", "hinge_embedding"),
    testing=Testing(
        zero_at_target=False,
        sample=sample_binary_logits,
        param_grid=({}, {"per_sample": False}),
    ),
    engine=EngineHooks(
        separable=per_sample_rows,
    ),
)


def _softmax_rows(pred: Array, target: Array, from_logits: bool, per_sample: bool, ignore_index: int):
    p = probabilities(pred, from_logits)
    hot, mask = one_hot_target(pred, target, ignore_index)
    keep = groups(np.broadcast_to(mask, p.shape), per_sample) > 0
    pg, fg = groups(p, per_sample), groups(hot, per_sample)
    errors = np.abs(fg - pg)
    weights, _ = sorted_lovasz(errors, fg, keep)
    return p, pg, fg, keep, errors, weights


def _class_coefficients(fg: Array, keep: Array, classes: str, weight: Array | None) -> Array:
    """w_c / Σ w over the classes averaged in each group ('present': those in its target); 0 if none."""
    w = np.ones(fg.shape[1], dtype=fg.dtype) if weight is None else weight.astype(fg.dtype)
    included = np.any(fg * keep > 0, axis=2) if classes == "present" else np.any(keep, axis=2)
    active = included * w
    total = np.sum(active, axis=1, keepdims=True)
    return np.where(total > 0, active / np.where(total > 0, total, 1.0), 0.0)


def lovasz_softmax(
    pred: Array,
    target: Array,
    *,
    classes: str = "present",
    from_logits: bool = False,
    per_sample: bool = False,
    ignore_index: int = -100,
    weight: Array | None = None,
) -> Array:
    """Σ_c ω_c Σ_k |fg − p_c|_(k) g_ck: the Lovász extension of each class's Jaccard loss, averaged over classes."""
    _, _, fg, keep, errors, weights = _softmax_rows(pred, target, from_logits, per_sample, ignore_index)
    per_class = np.sum(np.where(keep, errors, 0.0) * weights, axis=2)
    return np.sum(per_class * _class_coefficients(fg, keep, classes, weight), axis=1)


def lovasz_softmax_grad(
    pred: Array,
    target: Array,
    *,
    classes: str = "present",
    from_logits: bool = False,
    per_sample: bool = False,
    ignore_index: int = -100,
    weight: Array | None = None,
) -> Array:
    """ω_c g_ck sign(p_ck − fg_ck) (then through the softmax with --from-logits)."""
    p, pg, fg, keep, _, weights = _softmax_rows(pred, target, from_logits, per_sample, ignore_index)
    coefficients = _class_coefficients(fg, keep, classes, weight)[..., None]
    grad_p = ungroup(coefficients * weights * np.sign(pg - fg), p.shape, per_sample)
    return chain_from_logits(p, grad_p) if from_logits else grad_p


def check_lovasz_softmax(pred: Array, target: Array, **params: Any) -> None:
    check_segmentation(pred, target, **params)
    if pred.ndim < 2 or pred.shape[1] < 2 or not is_index_target(pred, target):
        raise InputError(
            "lovasz_softmax needs --pred (N, C, *spatial) with C ≥ 2 and class indices of shape (N, *spatial); "
            "for one foreground channel use lovasz_hinge"
        )


def sample_lovasz_softmax(rng: np.random.Generator) -> dict[str, Array]:
    n, h, w, classes = (int(v) for v in rng.integers([1, 2, 2, 2], [4, 4, 4, 4]))
    pred = np.ascontiguousarray(np.moveaxis(rng.dirichlet(np.ones(classes) * 2, size=(n, h, w)), -1, 1))
    labels = rng.integers(0, classes, size=(n, h, w)).astype(float)
    labels[:, 0, 0] = 1.0
    inputs = {"pred": pred, "target": labels}
    if rng.random() < 0.5:
        inputs["weight"] = rng.uniform(0.2, 2.0, size=classes)
    return inputs


LOVASZ_SOFTMAX_FIELDS: SegmentationFields = {**COMMON, "check": check_lovasz_softmax}

LOVASZ_SOFTMAX = LossSpec(
    name="lovasz_softmax",
    aliases=("lovasz_softmax_loss", "lovasz"),
    summary="Lovász-softmax: the convex Lovász extension of each class's Jaccard loss on softmax errors.",
    formula="ℓ = mean_c Σ_k m_c(k) g_c(k),  m_c = |𝟙(y = c) − p_c| sorted decreasingly, g_c = Δ of 1 − I/U",
    gradient="∂ℓ/∂p_ck = ω_c g_c,rank(k) sign(p_ck − 𝟙(yₖ = c)),  ω_c = w_c / Σ w over the averaged "
    "classes  (then through the softmax with --from-logits)",
    when="Multi-class segmentation judged by mean IoU (Berman et al. 2018), often fine-tuning after "
    "cross-entropy. --pred are probabilities (N, C, *spatial) (--from-logits: softmax first; smp's "
    "LovaszLoss always applies the softmax), --target class indices. --classes present (the reference "
    "default) averages only the classes that occur in the group's target, all averages every class; "
    "--weight makes it a weighted average. Defaults follow Berman's code: per_image=False "
    "(--no-per-sample, the whole batch is one element), ignored pixels dropped, and a group with no "
    "pixel (or no present class) scores 0.",
    elements=lovasz_softmax,
    grad=lovasz_softmax_grad,
    params=(
        Param(
            "classes",
            "choice",
            "present",
            "average over the classes present in the target, or all",
            choices=("present", "all"),
        ),
        FROM_LOGITS,
        Param("per_sample", "bool", False, "one score per image (Berman's per_image=True); default: the batch pooled"),
        SEG_IGNORE,
        SEG_WEIGHT,
    ),
    references=(BERMAN, SMP_LOVASZ),
    examples=(
        Example(
            [[[[0.8, 0.4]], [[0.2, 0.6]]]],
            [[[0, 0]]],
            value=0.6 * 0.5 + 0.2 * 0.5,
            source="by hand: only class 0 is present; errors |1 − p₀| = (0.2, 0.6), sorted 0.6, 0.2 with fg 1, 1: "
            "1 − I/U = 1 − 1/2, 1 − 0/2 → g = (½, ½); loss = 0.6·½ + 0.2·½",
        ),
    ),
    see_also=("lovasz_hinge", "jaccard", "cross_entropy"),
    **LOVASZ_SOFTMAX_FIELDS,
    testing=replace(
        COMMON_TESTING,
        sample=sample_lovasz_softmax,
        param_grid=({}, {"per_sample": True}, {"classes": "all", "from_logits": True}, {"ignore_index": 0}),
    ),
)

POOLED = "(--no-per-sample: the sums run over the whole batch, one score)"
PER_IMAGE = "(--per-sample: one score per image n, then the mean over the images)"


def with_batch_variant(spec: LossSpec) -> LossSpec:
    """The declaration plus the formula of its other --per-sample setting (the sums' range changes)."""
    default = spec.param("per_sample").default
    note = POOLED if default else PER_IMAGE
    variant = Variant({"per_sample": not default}, f"{spec.formula}  {note}", f"{spec.gradient}  {note}")
    return replace(spec, variants=(*spec.variants, variant))


LOSSES = tuple(
    with_batch_variant(spec)
    for spec in (JACCARD, GENERALIZED_DICE, FOCAL_TVERSKY, DICE_CE, LOVASZ_HINGE, LOVASZ_SOFTMAX)
)
