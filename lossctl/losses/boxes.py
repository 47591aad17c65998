"""Bounding-box regression losses: IoU, GIoU, DIoU and CIoU, with torchvision.ops semantics.

Boxes are rows ``x1, y1, x2, y2`` (corners, x2 ≥ x1, y2 ≥ y1): ``--pred`` holds the
predicted boxes, ``--target`` the ground truth, both (N, 4) or a single (4,) box.
Every step follows torchvision 0.28 (``torchvision/ops/_utils.py::_loss_inter_union``,
``giou_loss.py``, ``diou_loss.py``, ``ciou_loss.py``), including where ``eps`` enters:

* intersection I = (min x2 − max x1)(min y2 − max y1) only where both sides are > 0;
  union U = A_pred + A_target − I;  IoU = I / (U + ε);
* the gradient of min/max at a tie is split in half between the two arguments, and
  the intersection has zero gradient where the boxes only touch — PyTorch's autograd.

The gradient is analytic, written as a hand-rolled reverse pass through those steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TypedDict

import numpy as np

from lossctl.errors import InputError
from lossctl.losses.checks import require
from lossctl.losses.spec import Array, Example, Family, LossSpec, Param, Teaching, Testing, Variant

EPS = 1e-7  # torchvision's default
CIOU_ASPECT = 4.0 / math.pi**2
TORCHVISION = "torchvision 0.28, torchvision.ops"


def _larger(a: Array, b: Array) -> Array:
    """∂max(a, b)/∂a: 1 where a > b, ½ at a tie (PyTorch splits the gradient), else 0."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def _smaller(a: Array, b: Array) -> Array:
    """∂min(a, b)/∂a."""
    return np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0))


def _box_loss(pred: Array, target: Array, kind: str, eps: float, detach_alpha: bool = True) -> tuple[Array, Array]:
    """(loss per box, ∂loss/∂pred) for kind ∈ {iou, giou, diou, ciou}."""
    x1, y1, x2, y2 = np.moveaxis(pred, -1, 0)
    gx1, gy1, gx2, gy2 = np.moveaxis(target, -1, 0)
    # intersection and union (torchvision _loss_inter_union)
    ix1, iy1, ix2, iy2 = np.maximum(x1, gx1), np.maximum(y1, gy1), np.minimum(x2, gx2), np.minimum(y2, gy2)
    overlap = (iy2 > iy1) & (ix2 > ix1)
    iw, ih = np.where(overlap, ix2 - ix1, 0.0), np.where(overlap, iy2 - iy1, 0.0)
    inter = iw * ih
    w, h = x2 - x1, y2 - y1
    union = w * h + (gx2 - gx1) * (gy2 - gy1) - inter
    # The inner IoU of CIoU's DIoU part always uses torchvision's default ε (it is called without eps).
    iou_eps = EPS if kind == "ciou" else eps
    iou = inter / (union + iou_eps)
    loss = 1.0 - iou
    g_inter = -1.0 / (union + iou_eps)  # ∂loss/∂I holding U fixed
    g_union = inter / (union + iou_eps) ** 2
    g_cx1 = g_cy1 = g_cx2 = g_cy2 = 0.0
    g_w = g_h = 0.0
    g_x1 = g_x2 = g_y1 = g_y2 = 0.0
    cx1, cy1, cx2, cy2 = np.minimum(x1, gx1), np.minimum(y1, gy1), np.maximum(x2, gx2), np.maximum(y2, gy2)
    if kind == "giou":
        area_c = (cx2 - cx1) * (cy2 - cy1)
        loss = loss + (area_c - union) / (area_c + eps)
        g_union = g_union - 1.0 / (area_c + eps)
        g_area_c = (union + eps) / (area_c + eps) ** 2
        g_cx2, g_cx1 = g_area_c * (cy2 - cy1), -g_area_c * (cy2 - cy1)
        g_cy2, g_cy1 = g_area_c * (cx2 - cx1), -g_area_c * (cx2 - cx1)
    if kind in ("diou", "ciou"):
        diagonal = (cx2 - cx1) ** 2 + (cy2 - cy1) ** 2 + iou_eps
        dx = (x2 + x1) / 2 - (gx1 + gx2) / 2
        dy = (y2 + y1) / 2 - (gy1 + gy2) / 2
        centres = dx**2 + dy**2
        loss = loss + centres / diagonal
        g_diagonal = -centres / diagonal**2
        g_cx2, g_cx1 = 2 * g_diagonal * (cx2 - cx1), -2 * g_diagonal * (cx2 - cx1)
        g_cy2, g_cy1 = 2 * g_diagonal * (cy2 - cy1), -2 * g_diagonal * (cy2 - cy1)
        g_x1 = g_x2 = dx / diagonal  # ∂(dx²)/∂x1 = dx
        g_y1 = g_y2 = dy / diagonal
    if kind == "ciou":
        gw, gh = gx2 - gx1, gy2 - gy1
        gap = np.arctan(gw / gh) - np.arctan(w / h)
        v = CIOU_ASPECT * gap**2
        alpha = v / (1.0 - iou + v + eps)
        loss = loss + alpha * v
        g_v = alpha  # torchvision: α under no_grad
        if not detach_alpha:  # the true derivative also differentiates α = v / (1 − IoU + v + ε)
            denominator = 1.0 - iou + v + eps
            g_v = g_v + v * (1.0 - iou + eps) / denominator**2
            g_iou = v * v / denominator**2  # ∂(α v)/∂IoU
            g_inter = g_inter + g_iou / (union + iou_eps)
            g_union = g_union - g_iou * inter / (union + iou_eps) ** 2
        g_atan = -2.0 * CIOU_ASPECT * gap * g_v  # ∂/∂ atan(w/h)
        g_w = g_atan * h / (w * w + h * h)
        g_h = -g_atan * w / (w * w + h * h)
    # I = iw·ih over the overlap; U = w·h + A_target − I
    g_inter_total = g_inter - g_union
    g_ix2, g_ix1 = g_inter_total * ih, -g_inter_total * ih
    g_iy2, g_iy1 = g_inter_total * iw, -g_inter_total * iw
    g_w = g_w + g_union * h
    g_h = g_h + g_union * w
    grad_x1 = g_x1 - g_w + g_ix1 * _larger(x1, gx1) + g_cx1 * _smaller(x1, gx1)
    grad_y1 = g_y1 - g_h + g_iy1 * _larger(y1, gy1) + g_cy1 * _smaller(y1, gy1)
    grad_x2 = g_x2 + g_w + g_ix2 * _smaller(x2, gx2) + g_cx2 * _larger(x2, gx2)
    grad_y2 = g_y2 + g_h + g_iy2 * _smaller(y2, gy2) + g_cy2 * _larger(y2, gy2)
    grad = np.stack(np.broadcast_arrays(grad_x1, grad_y1, grad_x2, grad_y2), axis=-1)
    return loss, grad


def _declare_functions(kind: str):
    def elements(pred: Array, target: Array, *, eps: float = EPS, detach_alpha: bool = True) -> Array:
        return _box_loss(pred, target, kind, eps, detach_alpha)[0]

    def grad(pred: Array, target: Array, *, eps: float = EPS, detach_alpha: bool = True) -> Array:
        return _box_loss(pred, target, kind, eps, detach_alpha)[1]

    elements.__doc__ = f"{kind.upper()} loss per box (torchvision semantics)."
    grad.__doc__ = f"Analytic ∂({kind.upper()} loss)/∂pred box corners."
    return elements, grad


def check_boxes(pred: Array, target: Array, *, positive_size: bool = False, **_: object) -> None:
    """Rows of four corners, x2 ≥ x1 and y2 ≥ y1 (CIoU: strictly, its aspect term divides by h)."""
    if pred.ndim not in (1, 2) or pred.shape[-1] != 4:
        raise InputError(f"--pred has shape {pred.shape}; give boxes as (N, 4) rows x1,y1,x2,y2 or one box of 4")
    for option, boxes in (("--pred", pred), ("--target", target)):
        x1, y1, x2, y2 = np.moveaxis(boxes, -1, 0)
        if positive_size:
            require(x2 > x1, x2, option, "must have x2 > x1 in every box (CIoU needs a positive width)")
            require(y2 > y1, y2, option, "must have y2 > y1 in every box (CIoU's aspect term divides by h)")
        else:
            require(x2 >= x1, x2, option, "must have x2 ≥ x1 in every box (corners x1,y1,x2,y2)")
            require(y2 >= y1, y2, option, "must have y2 ≥ y1 in every box (corners x1,y1,x2,y2)")


def check_ciou(pred: Array, target: Array, **_: object) -> None:
    check_boxes(pred, target, positive_size=True)


def sample_boxes(rng: np.random.Generator) -> dict[str, Array]:
    """Random boxes, mostly overlapping their targets, sometimes disjoint."""
    n = int(rng.integers(2, 6))

    def boxes(centre: Array) -> Array:
        size = rng.uniform(0.5, 3.0, size=(n, 2))
        return np.concatenate([centre - size / 2, centre + size / 2], axis=1)

    centre = rng.uniform(-2.0, 2.0, size=(n, 2))
    pred = boxes(centre + rng.normal(scale=0.6, size=(n, 2)))
    if rng.integers(0, 4) == 0:
        return {"pred": pred[0], "target": boxes(centre)[0]}
    return {"pred": pred, "target": boxes(centre)}


def _box_axis(pred: Array) -> int:
    return pred.ndim - 1


EPS_PARAM = Param("eps", "float", EPS, "added to the union and hull denominators, as torchvision", low=0.0)


class BoxFields(TypedDict):
    """The :class:`LossSpec` fields the four box losses share (``LossSpec(..., **SHARED)``)."""

    family: Family
    target_help: str
    check: Callable[..., None]
    class_axis: Callable[[Array], int | None]
    teaching: Teaching


SHARED_TESTING = Testing(
    zero_at_target=False,  # ε keeps 1 − I/(U + ε) just above 0
    sample=sample_boxes,
)

SHARED: BoxFields = {
    "family": "box",
    "target_help": "ground-truth boxes x1,y1,x2,y2, same shape as --pred",
    "check": check_boxes,
    "class_axis": _box_axis,
    "teaching": Teaching(
        plot=None,
    ),
}
# Two boxes of the torchvision test-suite style: [0,0,2,2] against [1,1,3,3], I = 1, U = 7.
TWO = ([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0])

IOU_ELEMENTS, IOU_GRAD = _declare_functions("iou")
GIOU_ELEMENTS, GIOU_GRAD = _declare_functions("giou")
DIOU_ELEMENTS, DIOU_GRAD = _declare_functions("diou")
CIOU_ELEMENTS, CIOU_GRAD = _declare_functions("ciou")

IOU = LossSpec(
    name="iou",
    aliases=("iou_loss", "box_iou_loss"),
    summary="1 − intersection over union of predicted and ground-truth boxes.",
    formula="ℓ = 1 − I / (U + ε),  I = overlap area, U = A_pred + A_gt − I",
    gradient="∂ℓ/∂I = −1/(U+ε) and ∂ℓ/∂U = I/(U+ε)², through I = (min x2 − max x1)(min y2 − max y1) and "
    "A_pred = (x2 − x1)(y2 − y1)",
    when="Scale-invariant box regression, but flat (gradient 0) once boxes stop overlapping; GIoU, DIoU and CIoU "
    "add terms that keep pulling disjoint boxes together. Same intersection/union code as torchvision's "
    "box losses (torchvision has no separate IoU loss).",
    elements=IOU_ELEMENTS,
    grad=IOU_GRAD,
    params=(EPS_PARAM,),
    **SHARED,
    references=("Yu et al., UnitBox: An Advanced Object Detection Network, ACM MM 2016", TORCHVISION),
    examples=(
        Example(TWO[0], TWO[1], value=1.0 - 1.0 / (7.0 + EPS), params={}, source="by hand: I = 1, U = 4 + 4 − 1"),
        Example(
            [[0.0, 0.0, 1.0, 1.0]],
            [[0.0, 0.0, 1.0, 1.0]],
            value=0.0,
            params={"eps": 0.0},
            source="by hand: identical boxes, IoU = 1",
        ),
    ),
    see_also=("giou", "diou", "ciou"),
    testing=replace(
        SHARED_TESTING,
        param_grid=({}, {"eps": 0.0}),
    ),
)

GIOU = LossSpec(
    name="giou",
    aliases=("giou_loss", "generalized_box_iou_loss", "generalized_iou"),
    summary="Generalized IoU loss: IoU minus the empty share of the smallest enclosing box.",
    formula="ℓ = 1 − IoU + (C − U) / (C + ε),  C = area of the smallest box enclosing both",
    gradient="as IoU, plus ∂ℓ/∂U = −1/(C+ε) and ∂ℓ/∂C = (U+ε)/(C+ε)² through the hull corners (min x1 … max x2)",
    when="Detection (DETR, FCOS): keeps a gradient for disjoint boxes, ranges over [0, 2). DIoU converges faster "
    "by pulling centres directly; CIoU also matches aspect ratios.",
    elements=GIOU_ELEMENTS,
    grad=GIOU_GRAD,
    params=(EPS_PARAM,),
    **SHARED,
    references=(
        "Rezatofighi et al., Generalized Intersection over Union, CVPR 2019",
        TORCHVISION + ".generalized_box_iou_loss",
    ),
    examples=(
        Example(
            TWO[0],
            TWO[1],
            value=1.0 - 1.0 / (7.0 + EPS) + 2.0 / (9.0 + EPS),
            source="by hand: I = 1, U = 7, hull [0,0,3,3] C = 9",
        ),
        Example(
            [0.0, 0.0, 1.0, 1.0],
            [2.0, 0.0, 3.0, 1.0],
            value=1.0 + 1.0 / 3.0,
            params={"eps": 0.0},
            source="by hand: disjoint, U = 2, C = 3: 1 − 0 + 1/3",
        ),
    ),
    see_also=("iou", "diou", "ciou"),
    testing=replace(
        SHARED_TESTING,
        param_grid=({}, {"eps": 0.0}),
    ),
)

DIOU = LossSpec(
    name="diou",
    aliases=("diou_loss", "distance_box_iou_loss", "distance_iou"),
    summary="Distance IoU loss: IoU plus the squared centre distance over the hull's squared diagonal.",
    formula="ℓ = 1 − IoU + ρ² / (c² + ε),  ρ = distance between centres, c = diagonal of the enclosing box",
    gradient="as IoU, plus ∂/∂x1 = ∂/∂x2 = (x̄ − x̄_gt)/(c²+ε) and −ρ²/(c²+ε)² · ∂c²/∂(hull corners)",
    when="Faster convergence than GIoU when one box contains the other (GIoU's hull term is then 0). "
    "CIoU adds an aspect-ratio term.",
    elements=DIOU_ELEMENTS,
    grad=DIOU_GRAD,
    params=(EPS_PARAM,),
    **SHARED,
    references=(
        "Zheng et al., Distance-IoU Loss, AAAI 2020",
        TORCHVISION + ".distance_box_iou_loss",
    ),
    examples=(
        Example(
            TWO[0],
            TWO[1],
            value=1.0 - 1.0 / (7.0 + EPS) + 2.0 / (18.0 + EPS),
            source="by hand: centres (1,1) and (2,2): ρ² = 2, hull [0,0,3,3]: c² = 18",
        ),
    ),
    see_also=("giou", "ciou"),
    testing=replace(
        SHARED_TESTING,
        param_grid=({}, {"eps": 0.0}),
    ),
)

CIOU_SHARED: BoxFields = {**SHARED, "check": check_ciou}

CIOU = LossSpec(
    name="ciou",
    aliases=("ciou_loss", "complete_box_iou_loss", "complete_iou"),
    summary="Complete IoU loss: DIoU plus an aspect-ratio consistency term α·v.",
    formula="ℓ = 1 − IoU + ρ²/(c² + ε) + α v,  v = (4/π²)(atan(w_gt/h_gt) − atan(w/h))²,  α = v / (1 − IoU + v + ε)",
    gradient="DIoU's, plus α ∂v/∂(w, h) with ∂v/∂w = −(8/π²) Δ h/(w²+h²), ∂v/∂h = (8/π²) Δ w/(w²+h²); "
    "α is a constant in the gradient (torchvision computes it under no_grad, as the paper prescribes); "
    "--no-detach-alpha differentiates α too",
    when="YOLO-style box regression: overlap, centre distance and aspect ratio in one loss. The default gradient "
    "is torchvision's (α detached, so it is not the derivative of the value); --no-detach-alpha gives the true "
    "derivative. Boxes need positive width and height (v divides by h). As in torchvision, the IoU inside the "
    "DIoU part always uses ε = 1e-7; --eps only enters α.",
    elements=CIOU_ELEMENTS,
    grad=CIOU_GRAD,
    params=(
        EPS_PARAM,
        Param("detach_alpha", "bool", True, "treat α as a constant in the gradient (torchvision, the paper)"),
    ),
    **CIOU_SHARED,
    variants=(
        Variant(
            {"detach_alpha": False},
            "ℓ = 1 − IoU + ρ²/(c² + ε) + α v,  v = (4/π²)(atan(w_gt/h_gt) − atan(w/h))²,  α = v / (1 − IoU + v + ε)",
            "the true derivative (--no-detach-alpha): DIoU's, plus ∂(α v) = α ∂v + v ∂α, with α depending on "
            "IoU and v;  ∂v/∂w = −(8/π²) Δ h/(w²+h²), ∂v/∂h = (8/π²) Δ w/(w²+h²)",
        ),
    ),
    references=(
        "Zheng et al., Enhancing Geometric Factors in Model Learning and Inference for Object Detection and "
        "Instance Segmentation (CIoU), IEEE T-Cybernetics 2021",
        TORCHVISION + ".complete_box_iou_loss",
    ),
    examples=(
        Example(
            TWO[0],
            TWO[1],
            value=1.0 - 1.0 / (7.0 + EPS) + 2.0 / (18.0 + EPS),
            source="by hand: same aspect ratio (v = 0), so CIoU = DIoU",
        ),
        Example(
            [0.0, 0.0, 2.0, 1.0],
            [0.0, 0.0, 1.0, 2.0],
            value=1.0
            - 1.0 / (3.0 + EPS)
            + 0.5 / (8.0 + EPS)
            + (
                (CIOU_ASPECT * (math.atan(0.5) - math.atan(2.0)) ** 2) ** 2
                / (1.0 - 1.0 / (3.0 + EPS) + CIOU_ASPECT * (math.atan(0.5) - math.atan(2.0)) ** 2 + EPS)
            ),
            source="by hand: I = 1, U = 3, centres (1, .5)/(.5, 1): ρ² = .5, c² = 8; v = (4/π²)(atan .5 − atan 2)²",
        ),
    ),
    see_also=("diou", "giou"),
    testing=replace(
        SHARED_TESTING,
        gradient_is_derivative=lambda detach_alpha=True, **_: not detach_alpha,
        param_grid=({}, {"detach_alpha": False}, {"eps": 0.0, "detach_alpha": False}),
    ),
)

LOSSES = (IOU, GIOU, DIOU, CIOU)
