"""Issue 16 (regression, probabilistic, ranking, segmentation extras) against independent references.

PyTorch 2.13 where it has the loss (the per-element ``weight`` of mse_loss, l1_loss and huber_loss);
otherwise a plain PyTorch transcription of the published formula (or of the de facto library's source,
cited at each function), differentiated by autograd.  Values to 1e-12 relative, gradients to 1e-10,
over every parameter setting each declaration lists and several seeded random inputs of every layout
its sampler draws.  The largest relative errors seen are printed by the last test (run with -s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import record_relative_error, refused_combination

from lossctl import compute
from lossctl.errors import LossctlError
from lossctl.losses.registry import LOSSES

torch = pytest.importorskip("torch")
F = torch.nn.functional

SEEDS = range(6)


def _relative(got, expected) -> float:
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    return float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-3 * scale), initial=0.0))


def record(name: str, value_error: float, grad_error: float) -> None:
    record_relative_error(name, "value", value_error)
    record_relative_error(name, "grad", grad_error)


def check_against(name: str, reference, pred, target, params, tensors, transform=None) -> None:
    """``reference(pred_t, target, **params, **tensors)`` returns (elements, divisor) as torch tensors."""
    for reduction in ("mean", "sum", "none"):
        result = compute(name, pred, target, reduction=reduction, **params, **tensors)
        pred_t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
        elements, divisor = reference(pred_t, target, **params, **tensors)
        if reduction == "none":
            value = elements
        else:
            value = elements.sum() / (divisor if reduction == "mean" else 1.0)
            if transform is not None:
                value = transform(value)
        value.sum().backward()
        expected_value = value.detach().numpy()
        expected_grad = pred_t.grad.numpy()
        np.testing.assert_allclose(
            result.value, expected_value, rtol=1e-12, atol=1e-15 * max(1, np.max(np.abs(expected_value)))
        )
        grad_scale = max(1.0, float(np.max(np.abs(expected_grad))))
        np.testing.assert_allclose(result.grad, expected_grad, rtol=1e-10, atol=1e-14 * grad_scale)
        record(name, _relative(result.value, expected_value), _relative(result.grad, expected_grad))


def cases(name: str):
    spec = LOSSES[name]
    return [(params, seed) for params in spec.testing.param_grid for seed in SEEDS]


def drawn(name: str, params: dict, seed: int):
    spec = LOSSES[name]
    inputs = spec.testing.sample(np.random.default_rng(seed))
    pred, target = inputs.pop("pred"), inputs.pop("target", None)
    reason = refused_combination(spec, params, pred, target)
    if reason:
        pytest.skip(reason)
    return pred, target, inputs


def t64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


# --- --weight for mse, l1 and huber: PyTorch 2.13 itself -------------------------------------


@pytest.mark.parametrize("name", ["mse", "l1", "huber"])
@pytest.mark.parametrize("seed", range(8))
def test_weighted_regression_matches_pytorch(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    pred, target = rng.normal(size=shape) * 2, rng.normal(size=shape) * 2
    weight = rng.uniform(0.0, 3.0, size=shape)
    weight.flat[0] = 0.0  # zero weights are allowed; they drop the element
    weight.flat[-1] = max(weight.flat[-1], 0.5)  # and Σ w > 0
    params = {"delta": [0.3, 1.0, 2.5][seed % 3]} if name == "huber" else {}
    function = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[name]
    for reduction in ("mean", "sum", "none"):
        result = compute(name, pred, target, reduction=reduction, weight=weight, **params)
        pred_t = torch.tensor(pred, requires_grad=True)
        value = function(pred_t, t64(target), reduction=reduction, weight=t64(weight), **params)
        value.sum().backward()
        np.testing.assert_allclose(result.value, value.detach().numpy(), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(result.grad, pred_t.grad.numpy(), rtol=1e-12, atol=1e-300)
        record(name + " --weight", _relative(result.value, value.detach().numpy()), _relative(result.grad, pred_t.grad))


def test_weighted_divisors_are_pytorchs() -> None:
    """mse and l1 divide by Σ w, huber by the element count: the torch 2.13 source, not a guess."""
    pred, target, weight = np.array([1.0, 2.0, 5.0]), np.zeros(3), np.array([1.0, 0.5, 2.0])
    assert compute("mse", pred, target, weight=weight).count == 3.5
    assert compute("l1", pred, target, weight=weight).count == 3.5
    assert compute("huber", pred, target, weight=weight).count == 3.0
    assert compute("huber", pred, target, weight=weight).value == pytest.approx((0.5 + 0.75 + 9.0) / 3, rel=1e-15)


def test_weight_of_another_shape_or_negative_is_refused(cli) -> None:
    from conftest import assert_usage_error

    assert_usage_error(cli(["mse", "--pred", "1,2,3", "--target", "0,0,0", "--weight", "1,2"]), "--weight", "shape")
    assert_usage_error(cli(["l1", "--pred", "1,2", "--target", "0,0", "--weight", "1,-2"]), "--weight", "≥ 0")
    assert_usage_error(cli(["huber", "--pred", "1,2", "--target", "0,0", "--weight", "[[1,2]]"]), "--weight")
    run = cli(["mse", "--pred", "1,2", "--target", "0,0", "--weight", "0,0"])
    assert run.code == 2 and "weight 0" in run.stderr and run.stdout == ""


def test_weighted_mean_in_blocks_agrees() -> None:
    from lossctl.evaluation.engine import evaluate

    rng = np.random.default_rng(4)
    pred, target, weight = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)), rng.uniform(size=(50, 3))
    for name in ("mse", "l1", "huber"):
        reference = compute(name, pred, target, weight=weight)
        summary, grad = evaluate(name, pred, target, weight=weight, block_rows=7)
        assert summary.blocks == 8
        np.testing.assert_allclose(summary.value, reference.value, rtol=1e-13)
        np.testing.assert_allclose(grad, reference.grad, rtol=1e-13)


# --- regression extras -----------------------------------------------------------------------


def torch_pseudo_huber(pred, target, *, delta=1.0):
    """δ² (sqrt(1 + (e/δ)²) − 1): Charbonnier et al. 1997 / Hartley & Zisserman, as written."""
    error = pred - t64(target)
    return delta**2 * (torch.sqrt(1 + (error / delta) ** 2) - 1), error.numel()


def torch_multi_quantile(pred, target, *, q):
    """pytorch-forecasting QuantileLoss.loss: errors = y − ŷ_k, max((q − 1) e, q e), mean over all."""
    errors = t64(target).reshape(*pred.shape[:-1], 1) - pred
    q = t64(q)
    losses = torch.maximum((q - 1) * errors, q * errors)
    return losses, losses.numel()


@pytest.mark.parametrize(("params", "seed"), cases("pseudo_huber"))
def test_pseudo_huber(params, seed) -> None:
    pred, target, tensors = drawn("pseudo_huber", params, seed)
    check_against("pseudo_huber", torch_pseudo_huber, pred, target, params, tensors)


@pytest.mark.parametrize(("params", "seed"), cases("multi_quantile"))
def test_multi_quantile(params, seed) -> None:
    pred, target, tensors = drawn("multi_quantile", params, seed)
    check_against("multi_quantile", torch_multi_quantile, pred, target, params, tensors)


def test_pseudo_huber_is_accurate_for_tiny_and_huge_errors() -> None:
    tiny = compute("pseudo_huber", [1e-9], [0.0], reduction="sum").value
    assert tiny == pytest.approx(0.5e-18, rel=1e-12)  # the naive sqrt(1 + x²) − 1 gives 0
    huge = compute("pseudo_huber", [1e200], [0.0], delta=2.0, reduction="sum")
    assert huge.value == pytest.approx(2.0 * 1e200, rel=1e-12) and huge.grad[0] == pytest.approx(2.0, rel=1e-12)


# --- probabilistic ---------------------------------------------------------------------------


def class_axis(x) -> int:
    return 1 if x.ndim >= 2 else 0


def torch_js(pred, target):
    """Lin 1991: JS = ½ KL(P‖M) + ½ KL(Q‖M), M = (P + Q)/2, natural log (inputs here are all > 0)."""
    q = t64(target)
    m = (pred + q) / 2
    axis = class_axis(pred)
    js = 0.5 * (pred * torch.log(pred / m)).sum(axis) + 0.5 * (q * torch.log(q / m)).sum(axis)
    return js, js.numel()


def torch_perplexity(pred, target, *, log_probs=False, ignore_index=-100):
    """torchmetrics Perplexity: exp of the mean −log p(target) over non-ignored tokens."""
    shape = () if pred.ndim == 1 else target.shape
    labels = torch.as_tensor(np.asarray(target).reshape(shape), dtype=torch.int64)
    function = F.nll_loss if log_probs else F.cross_entropy
    losses = function(pred, labels, ignore_index=ignore_index, reduction="none")
    return losses, (labels != ignore_index).sum()


def _targets(pred, target, ignore_index=-100):
    """One-hot rows (zero where ignored) and the kept mask, from index or probability targets."""
    axis = class_axis(pred)
    target = np.asarray(target)
    if target.shape == tuple(pred.shape):
        return t64(target), torch.ones(target.sum(axis=axis).shape, dtype=torch.bool)
    shape = () if pred.ndim == 1 else target.shape
    labels = torch.as_tensor(target.reshape(shape), dtype=torch.int64)
    keep = labels != ignore_index
    hot = F.one_hot(torch.where(keep, labels, 0), pred.shape[axis]).to(torch.float64)
    hot = torch.movedim(hot, -1, axis) * keep.unsqueeze(axis)
    return hot, keep


def torch_softmax_focal(pred, target, *, gamma=2.0, alpha=None, ignore_index=-100):
    """Lin et al. 2017, multi-class: −Σ_c α_c t_c (1 − p_c)^γ log p_c (kornia focal_loss's form)."""
    axis = class_axis(pred)
    t, keep = _targets(pred, target, ignore_index)
    log_p = F.log_softmax(pred, axis)
    a = t if alpha is None else t * t64(alpha).reshape([-1 if i == axis else 1 for i in range(pred.ndim)])
    loss = -(a * (1 - log_p.exp()) ** gamma * log_p).sum(axis)
    return loss, keep.sum()


def torch_poly1(pred, target, *, epsilon=1.0, ignore_index=-100):
    """Leng et al. 2022 (their code): CE + ε (1 − Σ onehot · softmax)."""
    axis = class_axis(pred)
    t, keep = _targets(pred, target, ignore_index)
    p = F.softmax(pred, axis)
    ce = -(t * F.log_softmax(pred, axis)).sum(axis)
    return ce + epsilon * (t.sum(axis) - (t * p).sum(axis)), keep.sum()


@pytest.mark.parametrize(("params", "seed"), cases("js_divergence"))
def test_js_divergence(params, seed) -> None:
    pred, target, tensors = drawn("js_divergence", params, seed)
    check_against("js_divergence", torch_js, pred, target, params, tensors)


@pytest.mark.parametrize(("params", "seed"), cases("perplexity"))
def test_perplexity(params, seed) -> None:
    pred, target, tensors = drawn("perplexity", params, seed)
    check_against("perplexity", torch_perplexity, pred, target, params, tensors, transform=torch.exp)


@pytest.mark.parametrize(("params", "seed"), cases("softmax_focal"))
def test_softmax_focal(params, seed) -> None:
    pred, target, tensors = drawn("softmax_focal", params, seed)
    check_against("softmax_focal", torch_softmax_focal, pred, target, params, tensors)


@pytest.mark.parametrize(("params", "seed"), cases("poly1_cross_entropy"))
def test_poly1(params, seed) -> None:
    pred, target, tensors = drawn("poly1_cross_entropy", params, seed)
    check_against("poly1_cross_entropy", torch_poly1, pred, target, params, tensors)


def test_relations_between_the_probabilistic_losses() -> None:
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5).astype(float)
    ce = compute("cross_entropy", logits, labels)
    assert compute("softmax_focal", logits, labels, gamma=0.0).value == pytest.approx(ce.value, rel=1e-14)
    assert compute("poly1_cross_entropy", logits, labels, epsilon=0.0).value == pytest.approx(ce.value, rel=1e-14)
    assert compute("perplexity", logits, labels).value == pytest.approx(math.exp(ce.value), rel=1e-14)
    p = rng.dirichlet(np.ones(4), size=3)
    assert compute("js_divergence", p, p).value == 0.0
    q = rng.dirichlet(np.ones(4), size=3)
    assert compute("js_divergence", p, q).value == pytest.approx(compute("js_divergence", q, p).value, rel=1e-14)
    assert compute("js_divergence", p, q).value <= math.log(2)


def test_perplexity_overflow_and_js_zero_are_reported(cli) -> None:
    from conftest import assert_usage_error

    run = cli(["perplexity", "--pred", "[[0,1000],[0,1000]]", "--target", "0,0"])
    assert run.code == 2 and "overflows" in run.stderr and run.stdout == ""
    assert_usage_error(cli(["js_divergence", "--pred", "1,0", "--target", "0,1"]), "--pred", "−∞")
    assert_usage_error(cli(["perplexity", "--pred", "[[-1,0.5]]", "--target", "0", "--log-probs"]), "--pred")


# --- ranking ---------------------------------------------------------------------------------


def torch_listnet(pred, target):
    """allRank listNet (Cao et al. 2007) without its 1e-10: −Σ softmax(y) log softmax(s) per query."""
    y = t64(target)
    return -(F.softmax(y, -1) * F.log_softmax(pred, -1)).sum(-1), pred.reshape(-1, pred.shape[-1]).shape[0]


def torch_listmle(pred, target):
    """allRank listMLE (Xia et al. 2008) without shuffling or 1e-10: ties kept in input order."""
    order = torch.as_tensor(np.argsort(-np.asarray(target), axis=-1, kind="stable"))
    scores = torch.gather(pred, -1, order)
    top = scores.max(dim=-1, keepdim=True).values
    cumsums = torch.cumsum((scores - top).exp().flip(dims=[-1]), dim=-1).flip(dims=[-1])
    losses = (torch.log(cumsums) + top - scores).sum(-1)
    return losses, losses.numel()


def torch_ranknet(pred, target, *, sigma=1.0):
    """Burges et al. 2005 as allRank's rankNet: BCE with logits σ(sᵢ − sⱼ), label 1, over pairs yᵢ > yⱼ."""
    y = t64(target)
    better = (y.unsqueeze(-1) > y.unsqueeze(-2)).to(torch.float64)
    margins = sigma * (pred.unsqueeze(-1) - pred.unsqueeze(-2))
    bce = F.binary_cross_entropy_with_logits(margins, torch.ones_like(margins), reduction="none")
    return (bce * better).sum((-2, -1)), better.sum()


@pytest.mark.parametrize(("name", "reference"), [("listnet", torch_listnet), ("listmle", torch_listmle)])
@pytest.mark.parametrize("seed", range(10))
def test_listwise(name, reference, seed) -> None:
    pred, target, tensors = drawn(name, {}, seed)
    check_against(name, reference, pred, target, {}, tensors)


@pytest.mark.parametrize(("params", "seed"), cases("ranknet"))
def test_ranknet(params, seed) -> None:
    pred, target, tensors = drawn("ranknet", params, seed)
    check_against("ranknet", torch_ranknet, pred, target, params, tensors)


def test_listmle_depends_only_on_the_order_of_the_relevances() -> None:
    scores = np.array([[0.3, -1.0, 2.0, 0.5]])
    a = compute("listmle", scores, [[3.0, 0.0, 2.0, 1.0]])
    b = compute("listmle", scores, [[30.0, -5.0, 7.0, 6.0]])
    assert a.value == b.value and np.array_equal(a.grad, b.grad)


# --- segmentation ----------------------------------------------------------------------------


def _seg_inputs(pred, target, from_logits=False, ignore_index=-100):
    """(p, one-hot t, mask) laid out (N, C, pixels), in torch."""
    p = pred if not from_logits else (torch.sigmoid(pred) if pred.shape[1] == 1 else F.softmax(pred, 1))
    n, c = pred.shape[:2]
    target = np.asarray(target)
    if target.shape == tuple(pred.shape):
        t, mask = t64(target), torch.ones((n, 1, *pred.shape[2:]), dtype=torch.float64)
    else:
        labels = torch.as_tensor(target, dtype=torch.int64)
        keep = labels != ignore_index
        safe = torch.where(keep, labels, 0)
        t = safe.unsqueeze(1).to(torch.float64) if c == 1 else torch.movedim(F.one_hot(safe, c), -1, 1).double()
        mask = keep.unsqueeze(1).double()
        t = t * mask
    return (p * mask).reshape(n, c, -1), t.reshape(n, c, -1)


def _sums(p, t, per_sample):
    if not per_sample:
        p, t = p.transpose(0, 1).reshape(1, p.shape[1], -1), t.transpose(0, 1).reshape(1, t.shape[1], -1)
    return (p * t).sum(-1), p.sum(-1), t.sum(-1)


def _class_average(per_class, weight):
    w = torch.ones(per_class.shape[1], dtype=torch.float64) if weight is None else t64(weight)
    return (per_class * w).sum(1) / w.sum()


def torch_jaccard(pred, target, *, smooth=1e-5, from_logits=False, per_sample=True, ignore_index=-100, weight=None):
    """Rahman & Wang 2016 soft IoU: 1 − (I + s)/(P + T − I + s) per class, class mean."""
    inter, total_p, total_t = _sums(*_seg_inputs(pred, target, from_logits, ignore_index), per_sample)
    loss = _class_average(1 - (inter + smooth) / (total_p + total_t - inter + smooth), weight)
    return loss, loss.numel()


def torch_generalized_dice(
    pred, target, *, smooth=1e-5, w_type="square", from_logits=False, per_sample=True, ignore_index=-100
):
    """MONAI GeneralizedDiceLoss.forward (Sudre et al. 2017), its weights and absent-class rule transcribed."""
    inter, total_p, total_t = _sums(*_seg_inputs(pred, target, from_logits, ignore_index), per_sample)
    if w_type == "simple":
        w = torch.reciprocal(total_t)
    elif w_type == "square":
        w = torch.reciprocal(total_t * total_t)
    else:
        w = torch.ones_like(total_t)
    infs = torch.isinf(w)
    w[infs] = 0.0
    w = w + infs * torch.max(w, dim=1)[0].unsqueeze(1)
    numer = 2.0 * (inter * w).sum(1) + smooth
    denom = ((total_p + total_t) * w).sum(1) + smooth
    loss = 1.0 - numer / denom
    return loss, loss.numel()


def torch_focal_tversky(
    pred,
    target,
    *,
    alpha=0.3,
    beta=0.7,
    gamma=0.75,
    smooth=1e-5,
    from_logits=False,
    per_sample=True,
    ignore_index=-100,
    weight=None,
):
    """Abraham & Khan 2019 (their code: pow(1 − TI, 0.75)), α on FP and β on FN as smp's TverskyLoss."""
    p, t = _seg_inputs(pred, target, from_logits, ignore_index)
    if not per_sample:
        p, t = p.transpose(0, 1).reshape(1, p.shape[1], -1), t.transpose(0, 1).reshape(1, t.shape[1], -1)
    tp, fp, fn = (p * t).sum(-1), (p * (1 - t)).sum(-1), ((1 - p) * t).sum(-1)
    index = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    loss = _class_average((1 - index) ** gamma, weight)
    return loss, loss.numel()


def torch_dice_ce(pred, target, *, lambda_dice=1.0, lambda_ce=1.0, smooth=1e-5, per_sample=True):
    """MONAI DiceCELoss(softmax=True, to_onehot_y=True): Dice per (image, class), mean; CE mean over pixels."""
    p, t = _seg_inputs(pred, target, from_logits=True)
    inter, total_p, total_t = _sums(p, t, per_sample)
    dice = 1.0 - (2.0 * inter + smooth) / (total_p + total_t + smooth)
    # MONAI takes one cross-entropy mean over all pixels; per image (equal pixel counts) its mean is the same
    per_pixel = F.cross_entropy(pred, torch.as_tensor(np.asarray(target), dtype=torch.int64), reduction="none")
    ce = per_pixel.reshape(pred.shape[0], -1).mean(1) if per_sample else per_pixel.mean().reshape(1)
    loss = lambda_dice * dice.mean(1) + lambda_ce * ce
    return loss, loss.numel()


def smp_lovasz_grad(gt_sorted):
    """segmentation_models_pytorch losses/lovasz.py _lovasz_grad (Berman et al. 2018, Alg. 1).

    smp casts the cumulative sums with .float() (float32 even for float64 inputs); .double() here.
    """
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.double().cumsum(0)
    union = gts + (1 - gt_sorted).double().cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def smp_lovasz_hinge_flat(logits, labels):
    """smp _lovasz_hinge_flat."""
    if len(labels) == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.double() - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    grad = smp_lovasz_grad(labels[perm].double())
    return torch.dot(F.relu(errors_sorted), grad)


def torch_lovasz_hinge(pred, target, *, per_sample=True, ignore_index=-100):
    """smp _lovasz_hinge: per image (or the whole batch), ignored pixels dropped."""
    labels = t64(target)
    if per_sample and pred.ndim >= 2:
        rows = [(pred[i].reshape(-1), labels[i].reshape(-1)) for i in range(pred.shape[0])]
    else:
        rows = [(pred.reshape(-1), labels.reshape(-1))]
    losses = [smp_lovasz_hinge_flat(x[y != ignore_index], y[y != ignore_index]) for x, y in rows]
    return torch.stack(losses), len(losses)


def smp_lovasz_softmax_flat(probas, labels, classes="present", weight=None):
    """smp _lovasz_softmax_flat, with a weighted class average when weights are given."""
    if probas.numel() == 0:
        return probas.sum() * 0.0
    losses, weights = [], []
    for c in range(probas.size(1)):
        fg = (labels == c).double()
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, smp_lovasz_grad(fg[perm])))
        weights.append(1.0 if weight is None else float(weight[c]))
    if not losses:
        return probas.sum() * 0.0
    return sum(w * loss for w, loss in zip(weights, losses, strict=True)) / sum(weights)


def torch_lovasz_softmax(
    pred, target, *, classes="present", from_logits=False, per_sample=False, ignore_index=-100, weight=None
):
    """smp _lovasz_softmax / _flatten_probas (softmax first only with --from-logits)."""
    probas = F.softmax(pred, 1) if from_logits else pred
    labels = torch.as_tensor(np.asarray(target), dtype=torch.int64)
    batches = (
        [(probas[i : i + 1], labels[i : i + 1]) for i in range(pred.shape[0])] if per_sample else [(probas, labels)]
    )
    losses = []
    for prob, lab in batches:
        flat = torch.movedim(prob, 1, -1).reshape(-1, prob.shape[1])
        lab = lab.reshape(-1)
        valid = lab != ignore_index
        losses.append(smp_lovasz_softmax_flat(flat[valid], lab[valid], classes, weight))
    return torch.stack(losses), len(losses)


SEGMENTATION = {
    "jaccard": torch_jaccard,
    "generalized_dice": torch_generalized_dice,
    "focal_tversky": torch_focal_tversky,
    "dice_ce": torch_dice_ce,
    "lovasz_hinge": torch_lovasz_hinge,
    "lovasz_softmax": torch_lovasz_softmax,
}
SEG_CASES = [(name, params, seed) for name in SEGMENTATION for params, seed in cases(name)]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "params", "seed"), SEG_CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in SEG_CASES])
def test_segmentation(name, params, seed) -> None:
    pred, target, tensors = drawn(name, params, seed)
    check_against(name, SEGMENTATION[name], pred, target, params, tensors)


def test_segmentation_relations() -> None:
    rng = np.random.default_rng(2)
    pred = rng.uniform(0.05, 0.95, size=(2, 1, 3, 3))
    mask = (rng.random((2, 1, 3, 3)) < 0.5).astype(float)
    dice = compute("dice", pred, mask, smooth=0.0, reduction="none").elements
    jaccard = compute("jaccard", pred, mask, smooth=0.0, reduction="none").elements
    np.testing.assert_allclose(1 - jaccard, (1 - dice) / (1 + dice), rtol=1e-13)  # J = D / (2 − D)
    tversky = compute("tversky", pred, mask, smooth=0.0, alpha=0.3, beta=0.7, reduction="none").elements
    focal = compute("focal_tversky", pred, mask, smooth=0.0, gamma=1.0, reduction="none").elements
    np.testing.assert_allclose(focal, tversky, rtol=1e-13)


def test_lovasz_gradient_is_the_slope_between_kinks() -> None:
    """Piecewise linear: a small step in the gradient's direction changes the loss by exactly ⟨g, step⟩."""
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(1, 1, 4, 4))
    mask = (rng.random((1, 1, 4, 4)) < 0.5).astype(float)
    base = compute("lovasz_hinge", logits, mask, reduction="sum")
    step = 1e-7 * rng.normal(size=logits.shape)
    moved = compute("lovasz_hinge", logits + step, mask, reduction="sum").value
    assert moved - base.value == pytest.approx(float(np.sum(base.grad * step)), rel=1e-6)


def test_segmentation_refusals(cli) -> None:
    from conftest import assert_usage_error

    assert_usage_error(cli(["jaccard", "--pred", "[[[1.5,0.2]]]", "--target", "[[0,1]]"]), "--pred", "--from-logits")
    assert_usage_error(cli(["jaccard", "--pred", "[[[0.5,0.2]]]", "--target", "[[0,7]]"]), "--target")
    assert_usage_error(cli(["jaccard", "--pred", "[[[0,0]]]", "--target", "[[0,0]]", "--smooth", "0"]), "0/0")
    assert_usage_error(cli(["lovasz_hinge", "--pred", "1,2", "--target", "0,2"]), "--target", "0 or 1")
    assert_usage_error(cli(["dice_ce", "--pred", "[[[0.5,0.2]]]", "--target", "[[0,1]]"]), "C ≥ 2")
    pred = "[[[0.5,0.2],[0.5,0.8]]]"
    assert_usage_error(cli(["jaccard", "--pred", pred, "--target", "[[0,1]]", "--weight", "1,2,3"]), "--weight")
    one_hot = "[[[1,0],[0,1]]]"
    assert_usage_error(cli(["jaccard", "--pred", pred, "--target", one_hot, "--ignore-index", "0"]), "--ignore-index")


def test_all_refusals_are_lossctl_errors() -> None:
    with pytest.raises(LossctlError):
        compute("multi_quantile", [[1.0, 2.0]], [0.0], q=[0.5])
    with pytest.raises(LossctlError):
        compute("listnet", [[1.0]], [[0.0]])
    with pytest.raises(LossctlError):
        compute("multi_quantile", [[1.0, 2.0]], [0.0], q=[0.5, 1.0])
