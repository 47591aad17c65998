"""Issue 16 (part b): box, embedding and sequence losses against independent references, in float64.

* boxes: torchvision 0.28's own ``giou_loss.py``, ``diou_loss.py``, ``ciou_loss.py`` and ``_utils.py``,
  copied into ``tests/reference/torchvision_box_losses.py`` (BSD-3): importing ``torchvision`` runs its
  C extension's registrations, which fail against the CPU torch build; the loss functions are pure PyTorch.
* the rest: PyTorch 2.13 where it has the loss, else a transcription of the paper's formula in PyTorch
  differentiated by autograd (each cites its paper).

Values to 1e-12 relative and gradients to 1e-10; the largest errors seen are printed by the last test.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from conftest import assert_usage_error, record_relative_error

from lossctl import compute
from lossctl.losses.registry import LOSSES

torch = pytest.importorskip("torch")
from reference import torchvision_box_losses  # noqa: E402  (imports torch)

SEEDS = range(8)


def record(loss: str, kind: str, got, expected, rtol: float) -> None:
    """assert_allclose, keeping the largest relative error per loss and kind."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = float(np.max(np.abs(expected), initial=0.0))
    atol = 1e-15 * max(scale, 1.0)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    error = np.abs(got - expected) / np.maximum(np.abs(expected), atol / rtol)
    record_relative_error(loss, kind, float(np.max(error, initial=0.0)))


# --- boxes: torchvision's source ---------------------------------------------------------------


def _torchvision_box_losses() -> types.SimpleNamespace:
    namespace = vars(torchvision_box_losses)
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
    for params in LOSSES[name].testing.param_grid
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
    inputs = LOSSES[name].testing.sample(np.random.default_rng(seed))
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
    inputs = LOSSES["ciou"].testing.sample(np.random.default_rng(3))
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


# --- embedding losses: transcriptions of the papers / libraries, differentiated by autograd -------------

F = torch.nn.functional


def ref_nt_xent(t, temperature=0.1):
    """SimCLR (Chen et al. 2020) eq. (1): cross-entropy over cosine similarities / τ, self excluded."""
    z = t["pred"] if "pred2" not in t else torch.cat([t["pred"], t["pred2"]])
    z = F.normalize(z, dim=1)
    rows = z.shape[0]
    logits = (z @ z.T / temperature).masked_fill(torch.eye(rows, dtype=torch.bool), float("-inf"))
    partner = (torch.arange(rows) + rows // 2) % rows
    losses = F.cross_entropy(logits, partner, reduction="none")
    return losses, losses.numel()


def ref_mnrl(t, scale=20.0):
    """sentence-transformers MultipleNegativesRankingLoss.forward with util.cos_sim, line for line."""
    embeddings_b = torch.cat([t["positive"], *([t["negative"]] if "negative" in t else [])])
    scores = F.normalize(t["pred"], p=2, dim=1) @ F.normalize(embeddings_b, p=2, dim=1).T * scale
    labels = torch.arange(len(scores))
    losses = F.cross_entropy(scores, labels, reduction="none")
    return losses, losses.numel()


def ref_contrastive(t, margin=1.0):
    """Hadsell, Chopra & LeCun 2006 eq. (4) without the ½ factors, with Y = 1 for similar pairs."""
    d = torch.linalg.vector_norm(t["pred"] - t["pred2"], dim=-1)
    y = t["target"]
    losses = y * d**2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2
    return losses, losses.numel()


def _hinge_t(z, soft):
    return F.softplus(z) if soft else torch.clamp(z, min=0)


def ref_batch_hard(t, margin=1.0, soft=False):
    """Hermans et al. 2017 eq. (5): per anchor, the hardest positive and the hardest negative."""
    x, y = t["pred"], t["target"]
    losses = []
    for a in range(len(x)):
        distances = [torch.linalg.vector_norm(x[a] - x[j]) for j in range(len(x))]
        positives = [j for j in range(len(x)) if j != a and y[j] == y[a]]
        negatives = [j for j in range(len(x)) if y[j] != y[a]]
        if not positives or not negatives:
            losses.append(torch.zeros((), dtype=torch.float64))
            continue
        hardest_p = max(positives, key=lambda j: distances[j].item())
        hardest_n = min(negatives, key=lambda j: distances[j].item())
        losses.append(_hinge_t(margin + distances[hardest_p] - distances[hardest_n], soft))
    return torch.stack(losses), len(x)


def ref_batch_all(t, margin=1.0, soft=False):
    """Hermans et al. 2017 'batch all' / FaceNet eq. (1): every valid triplet; the mean over the triplets."""
    x, y = t["pred"], t["target"]
    losses, triplets = [], 0
    for a in range(len(x)):
        total = torch.zeros((), dtype=torch.float64)
        for p in range(len(x)):
            for n in range(len(x)):
                if p != a and y[p] == y[a] and y[n] != y[a]:
                    d_ap = torch.linalg.vector_norm(x[a] - x[p])
                    d_an = torch.linalg.vector_norm(x[a] - x[n])
                    total = total + _hinge_t(margin + d_ap - d_an, soft)
                    triplets += 1
        losses.append(total)
    return torch.stack(losses), triplets


def ref_semi_hard(t, margin=1.0, soft=False):
    """TensorFlow Addons' triplet_semihard_loss / FaceNet section 3.2, written out pair by pair.

    For each positive pair (a, p): the nearest negative farther than p, else the farthest negative;
    the mean divides by the number of positive pairs.
    """
    x, y = t["pred"], t["target"]
    losses, pairs = [], 0
    for a in range(len(x)):
        total = torch.zeros((), dtype=torch.float64)
        distances = [torch.linalg.vector_norm(x[a] - x[j]) for j in range(len(x))]
        negatives = [n for n in range(len(x)) if y[n] != y[a]]
        for p in range(len(x)):
            if p == a or y[p] != y[a]:
                continue
            pairs += 1
            farther = [n for n in negatives if distances[n].item() > distances[p].item()]
            if farther:
                chosen = min(farther, key=lambda n: distances[n].item())
            else:
                chosen = max(negatives, key=lambda n: distances[n].item())
            total = total + _hinge_t(margin + distances[p] - distances[chosen], soft)
        losses.append(total)
    return torch.stack(losses), pairs


def _keras_l2_normalize(x):
    return x * torch.rsqrt(torch.clamp(torch.sum(x * x, dim=-1, keepdim=True), min=1e-12))


def ref_cosine_similarity(t):
    """keras.losses.cosine_similarity: −sum(l2_normalize(y_true) · l2_normalize(y_pred), axis=−1)."""
    losses = -torch.sum(_keras_l2_normalize(t["target"]) * _keras_l2_normalize(t["pred"]), dim=-1)
    return losses, max(1, losses.numel())


def ref_cosine_distance(t):
    """optax.cosine_distance: 1 − cosine similarity (Keras' floor on the squared norm)."""
    losses, count = ref_cosine_similarity(t)
    return 1 + losses, count


EMBEDDING_REFERENCES = {
    "nt_xent": ref_nt_xent,
    "multiple_negatives_ranking": ref_mnrl,
    "contrastive": ref_contrastive,
    "batch_hard_triplet": ref_batch_hard,
    "batch_all_triplet": ref_batch_all,
    "semi_hard_triplet": ref_semi_hard,
    "cosine_similarity": ref_cosine_similarity,
    "cosine_distance": ref_cosine_distance,
}
NOT_DIFFERENTIABLE = {"target"}
EMBEDDING_CASES = [
    (name, params, reduction, seed)
    for name in EMBEDDING_REFERENCES
    for params in LOSSES[name].testing.param_grid
    for reduction in ("mean", "sum", "none")
    for seed in SEEDS
]


def reference_result(name, inputs, params, reduction):
    tensors = {
        key: torch.tensor(value, dtype=torch.float64, requires_grad=key not in NOT_DIFFERENTIABLE)
        for key, value in inputs.items()
    }
    losses, count = EMBEDDING_REFERENCES[name](tensors, **params)
    value = {"none": losses, "sum": losses.sum(), "mean": losses.sum() / count}[reduction]
    value.sum().backward()
    grads = {key: t.grad.numpy() for key, t in tensors.items() if t.requires_grad}
    return value.detach().numpy(), grads


@pytest.mark.slow
@pytest.mark.parametrize("case", EMBEDDING_CASES, ids=lambda c: f"{c[0]}-{sorted(c[1].items())}-{c[2]}-{c[3]}")
def test_embedding_losses_match_their_reference_transcriptions(case) -> None:
    name, params, reduction, seed = case
    inputs = LOSSES[name].testing.sample(np.random.default_rng(seed))
    arguments = {k: v for k, v in inputs.items() if k not in ("pred", "target")}
    result = compute(name, inputs["pred"], inputs.get("target"), reduction=reduction, **params, **arguments)
    value, grads = reference_result(name, inputs, params, reduction)
    record(name, "value", result.value, value, 1e-12)
    record(name, "grad", result.grad, grads.pop("pred"), 1e-10)
    for key, grad in grads.items():
        record(name, "grad", result.extra_grads[key], grad, 1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_triplet_with_distance_matches_torch_when_every_swap_is_a_tie(seed) -> None:
    """Positive equal to the negative (every swap a tie) and a cosine distance: F.triplet_margin_with_distance_loss."""
    rng = np.random.default_rng(seed)
    anchor, other = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    for distance in ("euclidean", "cosine"):
        result = compute(
            "triplet_margin_with_distance",
            anchor,
            positive=other,
            negative=other.copy(),
            swap=True,
            distance=distance,
            reduction="sum",
        )
        tensors = [torch.tensor(a, requires_grad=True) for a in (anchor, other, other.copy())]
        function = (lambda x, y: 1 - F.cosine_similarity(x, y)) if distance == "cosine" else None
        loss = F.triplet_margin_with_distance_loss(*tensors, distance_function=function, swap=True, reduction="sum")
        loss.backward()
        record("triplet_margin_with_distance", "value", result.value, loss.item(), 1e-12)
        for got, t in zip(
            (result.grad, result.extra_grads["positive"], result.extra_grads["negative"]), tensors, strict=True
        ):
            record("triplet_margin_with_distance", "grad", got, t.grad.numpy(), 1e-10)


def test_mnrl_elements_at_another_scale_match_sentence_transformers() -> None:
    """Per-anchor losses (reduction none) at scale 2 against the sentence-transformers formula."""
    rng = np.random.default_rng(0)
    a, p = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    mnrl = compute("mnrl", a, positive=p, scale=2.0, reduction="none").elements
    expected, _ = ref_mnrl({"pred": torch.tensor(a), "positive": torch.tensor(p)}, scale=2.0)
    np.testing.assert_allclose(mnrl, expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["nt_xent", "--pred", "1,0;0,1;1,1"], "2N rows"),
        (["nt_xent", "--pred", "1,0;0,1", "--pred2", "1,0"], "--pred2 has shape"),
        (["mnrl", "--pred", "1,0;0,1", "--positive", "1,0"], "--positive has shape"),
        (["mnrl", "--pred", "1,0;0,1", "--positive", "1,0;0,1", "--negative", "1,0,0;0,0,1"], "--negative rows"),
        (["mnrl", "--pred", "1,0;0,1", "--positive", "1,0;0,1", "--scale", "0"], "--scale"),
        (["contrastive", "--pred", "1,0;0,1", "--pred2", "1,0;0,1", "--target", "1,-1"], "1 (similar"),
        (["contrastive", "--pred", "1,0;0,1", "--pred2", "1,0;0,1", "--target", "1,0,1"], "one label per row"),
        (["batch_hard_triplet", "--pred", "1,0;0,1;2,2", "--target", "0,1,2"], "no valid triplet"),
        (["batch_all_triplet", "--pred", "1,0;0,1", "--target", "0,0"], "no valid triplet"),
        (["batch_all_triplet", "--pred", "1,0,0", "--target", "0"], "(N, D) rows"),
        (
            [
                "triplet_margin_with_distance",
                "--pred",
                "1,0",
                "--positive",
                "0,0",
                "--negative",
                "1,1",
                "--distance",
                "cosine",
            ],
            "must exceed 1e-8",
        ),
        (
            [
                "triplet_margin_with_distance",
                "--pred",
                "1,0",
                "--positive",
                "0,1",
                "--negative",
                "1,1",
                "--margin",
                "0",
            ],
            "--margin",
        ),
        (
            [
                "triplet_margin_with_distance",
                "--pred",
                "1,0",
                "--positive",
                "0,1",
                "--negative",
                "1,1",
                "--distance",
                "manhattan",
            ],
            "--distance",
        ),
        (["cosine_similarity", "--pred", "1,0;0,1", "--target", "1,0"], "--target"),
    ],
)
def test_embedding_input_errors_are_usage_errors(cli, argv, fragment) -> None:
    assert_usage_error(cli(argv), fragment)


def test_embedding_cli_reports_gradients_of_every_embedding_tensor(cli) -> None:
    got = cli(["mnrl", "--pred", "1,0;0,1", "--positive", "1,0;0,1", "--negative", "1,1", "-f", "json"]).json()
    assert {"grad", "grad_positive", "grad_negative"} <= set(got)
    got = cli(["nt_xent", "--pred", "1,0;0,1", "--pred2", "1,0.1;0,1", "-f", "json"]).json()
    assert np.shape(got["grad_pred2"]) == (2, 2) and len(got["elements"]) == 4


# --- CTC: PyTorch 2.13's ctc_loss ----------------------------------------------------------------------


def _ctc_torch_arguments(inputs):
    """ctc_loss's arguments: int64 targets, and the lengths lossctl reads off −1 padding when not given."""
    pred, target = inputs["pred"], inputs["target"]
    batched = pred.ndim == 3
    rows = target if batched else target.reshape(1, -1)
    lengths = inputs.get("target_lengths")
    if lengths is None:
        negative = rows < 0
        lengths = np.where(negative.any(axis=1), np.argmax(negative, axis=1), rows.shape[1])
    times = inputs.get("input_lengths", np.full(rows.shape[0], pred.shape[0]))
    shape = (lambda a: a) if batched else (lambda a: a.reshape(()))
    return (
        torch.tensor(np.where(rows < 0, 0, rows).reshape(target.shape), dtype=torch.int64),
        shape(torch.tensor(np.asarray(times), dtype=torch.int64)),
        shape(torch.tensor(np.asarray(lengths), dtype=torch.int64)),
    )


def _ctc_compare(inputs, params, reduction):
    """Value against ctc_loss; gradient through log_softmax of logits (where both conventions agree)."""
    pred = inputs["pred"]
    tensors = {k: v for k, v in inputs.items() if k not in ("pred", "target")}
    targets, times, lengths = _ctc_torch_arguments(inputs)
    logits = torch.tensor(pred, dtype=torch.float64, requires_grad=True)  # log-softmax outputs: their own logits
    log_probs = torch.log_softmax(logits, dim=-1)
    log_probs.retain_grad()
    loss = F.ctc_loss(log_probs, targets, times, lengths, reduction=reduction, **params)
    loss.sum().backward()
    result = compute("ctc", pred, inputs["target"], reduction=reduction, **params, **tensors)
    record("ctc", "value", result.value, loss.detach().numpy(), 1e-12)
    softmax = np.exp(pred - np.log(np.sum(np.exp(pred), axis=-1, keepdims=True)))
    through_log_softmax = result.grad - softmax * np.sum(result.grad, axis=-1, keepdims=True)
    record("ctc", "grad", through_log_softmax, logits.grad.numpy(), 1e-10)
    return result, log_probs.grad.numpy(), times


CTC_CASES = [
    (params, reduction, seed)
    for params in LOSSES["ctc"].testing.param_grid
    for reduction in ("mean", "sum", "none")
    for seed in range(12)
]


@pytest.mark.parametrize("case", CTC_CASES, ids=lambda c: f"{sorted(c[0])}-{c[1]}-{c[2]}")
def test_ctc_matches_pytorch(case) -> None:
    params, reduction, seed = case
    inputs = LOSSES["ctc"].testing.sample(np.random.default_rng(seed))
    result, torch_grad, times = _ctc_compare(inputs, params, reduction)
    # PyTorch's own gradient w.r.t. log_probs is exp(log_probs)·(reduction scale) − γ: ours plus that term.
    scale = {"sum": 1.0, "none": 1.0}.get(reduction)
    pred = inputs["pred"]
    batch = pred if pred.ndim == 3 else pred[:, None, :]
    weights = (
        np.broadcast_to(
            LOSSES["ctc"].reductions.mean_weights(
                pred, inputs["target"], **{k: v for k, v in inputs.items() if k == "target_lengths"}
            ),
            (batch.shape[1],),
        )
        / batch.shape[1]
        if scale is None
        else np.ones(batch.shape[1])
    )
    live = np.arange(batch.shape[0])[:, None] < np.asarray(times).reshape(1, -1)
    expected = result.grad.reshape(batch.shape) + np.exp(batch) * (weights[None, :] * live)[..., None]
    record("ctc (PyTorch's log_probs gradient)", "grad", expected.reshape(pred.shape), torch_grad, 1e-10)


@pytest.mark.parametrize("blank", [0, 2, 4])
def test_ctc_other_blanks_repeats_and_short_inputs(blank) -> None:
    rng = np.random.default_rng(blank)
    logits = rng.normal(size=(7, 3, 5))
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    labels = [c for c in range(5) if c != blank]
    target = np.array([[labels[0], labels[0], labels[1]], [labels[2], labels[2], labels[2]], [labels[3], 0, 0]], float)
    inputs = {
        "pred": log_probs,
        "target": target,
        "target_lengths": np.array([3.0, 3.0, 1.0]),
        "input_lengths": np.array([7.0, 5.0, 2.0]),
    }
    for reduction in ("mean", "sum", "none"):
        _ctc_compare(inputs, {"blank": blank}, reduction)


def test_ctc_zero_infinity_matches_pytorch_and_is_refused_without_it(cli) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 2, 4))
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    target = np.array([[1.0, 1.0, 2.0], [3.0, -1.0, -1.0]])  # 'aab' needs 4 steps (a blank between the a's)
    for reduction in ("mean", "sum", "none"):
        result, _, _ = _ctc_compare({"pred": log_probs, "target": target}, {"zero_infinity": True}, reduction)
    assert result.elements[0] == 0.0 and not result.grad[:, 0].any()
    path = "[" + ",".join(str(row.tolist()) for row in log_probs) + "]"
    assert_usage_error(cli(["ctc", "--pred", path, "--target", "1,1,2;3,-1,-1"]), "--zero-infinity")


def test_ctc_gradient_of_unnormalised_log_probabilities_is_the_derivative() -> None:
    """Not log_softmax outputs: lossctl's gradient is still ∂loss/∂input (PyTorch's is not)."""
    from gradcheck import numeric_gradient

    rng = np.random.default_rng(5)
    pred = rng.normal(size=(6, 2, 4)) - 1.0
    target = np.array([[1.0, 2.0], [3.0, -1.0]])
    for reduction in ("mean", "sum"):
        result = compute("ctc", pred, target, reduction=reduction)

        def value(candidate: np.ndarray, reduction: str = reduction) -> float:
            return compute("ctc", candidate, target, reduction=reduction).value

        np.testing.assert_allclose(result.grad, numeric_gradient(value, pred), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--pred", "-1,-1;-1,-1", "--target", "0"], "other than the blank"),
        (["--pred", "-1,-1;-1,-1", "--target", "2"], "other than the blank"),
        (["--pred", "-1,-1;-1,-1", "--target", "1.5"], "whole numbers"),
        (["--pred", "-1,-1;-1,-1", "--target", "1", "--blank", "2"], "--blank"),
        (["--pred", "-1,-1;-1,-1", "--target", "1", "--input-lengths", "3"], "between 1 and T"),
        (["--pred", "-1,-1;-1,-1", "--target", "1,1", "--target-lengths", "3"], "between 0 and S"),
        (["--pred", "[[[-1,-1]],[[-1,-1]]]", "--target", "1"], "(1, S)"),
        (["--pred", "-1,-1,-1", "--target", "1"], "(T, N, C)"),
    ],
)
def test_ctc_input_errors_are_usage_errors(cli, argv, fragment) -> None:
    assert_usage_error(cli(["ctc", *argv]), fragment)


def test_ctc_explain_shows_the_per_length_mean(cli) -> None:
    u = str(np.log(0.5))
    frame = f"[[{u},{u}],[{u},{u}]]"
    run = cli(["ctc", "--pred", f"[{frame},{frame},{frame}]", "--target", "1,-1;1,1", "--explain"])
    assert run.code == 0, run.stderr
    assert "L = (1/n) Σᵢ wᵢ ℓᵢ" in run.stdout and "with w = [1, 0.5]" in run.stdout
    expected = (-np.log(0.75) + np.log(8.0) / 2) / 2
    assert float(run.stdout.split("\n\ngradient:")[0].splitlines()[-1].split("=")[-1]) == pytest.approx(expected)
