"""Issue 16 (part b): box, embedding and sequence losses against independent references, in float64.

* boxes: torchvision 0.28's own ``giou_loss.py``, ``diou_loss.py``, ``ciou_loss.py`` and ``_utils.py``.
  They are loaded from the installed package's source files, because importing ``torchvision`` runs its
  C extension's registrations, which fail against some torch builds; the loss functions are pure PyTorch.
  Skipped cleanly when torchvision is not installed (``pip install torchvision==0.28.0``).
* the rest: PyTorch 2.13 where it has the loss, else a transcription of the paper's formula in PyTorch
  differentiated by autograd (each cites its paper).

Values to 1e-12 relative and gradients to 1e-10; the largest errors seen are printed by the last test.
"""

from __future__ import annotations

import importlib.util
import math
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl import compute
from lossctl.registry import LOSSES

torch = pytest.importorskip("torch")

WORST: dict[str, dict[str, float]] = {}
SEEDS = range(8)


def record(loss: str, kind: str, got, expected, rtol: float) -> None:
    """assert_allclose, keeping the largest relative error per loss and kind."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = float(np.max(np.abs(expected), initial=0.0))
    atol = 1e-15 * max(scale, 1.0)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    error = np.abs(got - expected) / np.maximum(np.abs(expected), atol / rtol)
    slot = WORST.setdefault(loss, {"value": 0.0, "grad": 0.0})
    slot[kind] = max(slot[kind], float(np.max(error, initial=0.0)))


# --- boxes: torchvision's source ---------------------------------------------------------------


def _torchvision_box_losses() -> types.SimpleNamespace:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        pytest.skip("torchvision is not installed (pip install torchvision==0.28.0)")
    folder = Path(spec.origin).parent / "ops"
    namespace: dict = {"torch": torch, "_log_api_usage_once": lambda *_: None}

    def load(name: str) -> None:
        source = (folder / name).read_text()
        lines = [line for line in source.splitlines() if not line.startswith("from ")]
        exec(compile("\n".join(lines), str(folder / name), "exec"), namespace)

    for name in ("_utils.py", "diou_loss.py", "giou_loss.py", "ciou_loss.py"):
        load(name)
    return types.SimpleNamespace(
        giou=namespace["generalized_box_iou_loss"],
        diou=namespace["distance_box_iou_loss"],
        ciou=namespace["complete_box_iou_loss"],
        iou=lambda b1, b2, reduction, eps: _iou_loss(namespace["_loss_inter_union"], b1, b2, reduction, eps),
    )


def _iou_loss(inter_union, boxes1, boxes2, reduction: str, eps: float):
    """1 − I/(U + ε) with torchvision's intersection and union (it has no IoU loss of its own)."""
    inter, union = inter_union(boxes1, boxes2)
    loss = 1 - inter / (union + eps)
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


BOX_CASES = [
    (name, params, reduction, seed)
    for name in ("iou", "giou", "diou", "ciou")
    for params in LOSSES[name].param_grid
    if params.get("detach_alpha", True)
    for reduction in ("mean", "sum", "none")
    for seed in SEEDS
]


def _box_reference(name, pred, target, reduction, eps):
    boxes = _torchvision_box_losses()
    pred_t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    loss = getattr(boxes, name)(pred_t, torch.tensor(target, dtype=torch.float64), reduction=reduction, eps=eps)
    loss.sum().backward()
    return loss.detach().numpy(), pred_t.grad.numpy()


@pytest.mark.parametrize("case", BOX_CASES, ids=lambda c: f"{c[0]}-{sorted(c[1])}-{c[2]}-{c[3]}")
def test_box_losses_match_torchvision(case) -> None:
    name, params, reduction, seed = case
    inputs = LOSSES[name].sample(np.random.default_rng(seed))
    pred, target = inputs["pred"], inputs["target"]
    result = compute(name, pred, target, reduction=reduction, **params)
    value, grad = _box_reference(name, pred, target, reduction, params.get("eps", 1e-7))
    record(name, "value", result.value, value, 1e-12)
    record(name, "grad", result.grad, grad, 1e-10)


@pytest.mark.parametrize("name", ["iou", "giou", "diou", "ciou"])
def test_box_edge_cases_match_torchvision(name) -> None:
    """Identical boxes (ties in every min/max), touching edges, nesting, disjoint and zero-area boxes."""
    pred = np.array(
        [
            [0.0, 0.0, 2.0, 2.0],
            [0.0, 0.0, 1.0, 1.0],
            [0.5, 0.5, 1.5, 1.5],
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 0.0, 3.0, 1.0],
            [1.0, 1.0, 1.0, 3.0],
        ]
    )
    target = np.array(
        [
            [0.0, 0.0, 2.0, 2.0],
            [1.0, 0.0, 2.0, 1.0],
            [0.0, 0.0, 2.0, 2.0],
            [5.0, 5.0, 6.0, 7.0],
            [1.0, -1.0, 2.0, 2.0],
            [0.0, 0.0, 2.0, 2.0],
        ]
    )
    if name == "ciou":  # v divides by the height: zero-area boxes are refused
        pred, target = pred[:-1], target[:-1]
    result = compute(name, pred, target, reduction="sum")
    value, grad = _box_reference(name, pred, target, "sum", 1e-7)
    record(name, "value", result.value, value, 1e-12)
    record(name, "grad", result.grad, grad, 1e-10)


def test_ciou_true_derivative_differs_from_torchvision_and_matches_autograd() -> None:
    """--no-detach-alpha: the full derivative, i.e. torchvision's code without its no_grad."""
    inputs = LOSSES["ciou"].sample(np.random.default_rng(3))
    pred, target = inputs["pred"], inputs["target"]
    pred_t = torch.tensor(pred, requires_grad=True)
    t = torch.tensor(target)
    x1, y1, x2, y2 = pred_t.unbind(-1)
    gx1, gy1, gx2, gy2 = t.unbind(-1)
    diou = _torchvision_box_losses().diou(pred_t, t, reduction="none")
    inter = (torch.min(x2, gx2) - torch.max(x1, gx1)).clamp(min=0) * (torch.min(y2, gy2) - torch.max(y1, gy1)).clamp(
        min=0
    )
    iou = inter / ((x2 - x1) * (y2 - y1) + (gx2 - gx1) * (gy2 - gy1) - inter + 1e-7)
    v = (4 / math.pi**2) * (torch.atan((gx2 - gx1) / (gy2 - gy1)) - torch.atan((x2 - x1) / (y2 - y1))) ** 2
    loss = (diou + v / (1 - iou + v + 1e-7) * v).sum()
    loss.backward()
    full = compute("ciou", pred, target, reduction="sum", detach_alpha=False)
    detached = compute("ciou", pred, target, reduction="sum")
    record("ciou (no-detach-alpha)", "value", full.value, loss.item(), 1e-12)
    record("ciou (no-detach-alpha)", "grad", full.grad, pred_t.grad.numpy(), 1e-10)
    assert not np.allclose(full.grad, detached.grad)


@pytest.mark.parametrize(
    ("pred", "fragment"),
    [
        ("2,0,1,1", "x2 ≥ x1"),
        ("0,2,1,1", "y2 ≥ y1"),
        ("0,0,1", "(N, 4)"),
        ("0,0,1,1,2", "(N, 4)"),
    ],
)
def test_bad_boxes_are_usage_errors(cli, pred: str, fragment: str) -> None:
    target = "0,0,1,1" if pred.count(",") == 3 else pred
    assert_usage_error(cli(["giou", "--pred", pred, "--target", target]), fragment)


def test_ciou_refuses_zero_height(cli) -> None:
    assert_usage_error(cli(["ciou", "--pred", "0,0,1,0", "--target", "0,0,1,1"]), "y2 > y1")


def test_zz_report_worst_relative_errors() -> None:
    """Not a check: the largest relative errors seen above, per loss (run with -s)."""
    for loss, errors in sorted(WORST.items()):
        print(f"\n{loss}: value {errors['value']:.3g}, grad {errors['grad']:.3g}", end="")
