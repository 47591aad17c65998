"""Differential tests against PyTorch (float64): values and gradients, all reductions.

Every loss whose declaration names a ``torch.nn.functional`` function is
compared, for each parameter setting it declares, on seeded random inputs in
every layout its sampler draws; gradients of the other tensors (``grad_var``)
too.  Skipped cleanly when torch is not installed (``pip install -e '.[reference]'``).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from conftest import record_relative_error, refused_combination, slow_after_first_seed

from lossctl import compute
from lossctl.losses.classification import is_index_target
from lossctl.losses.registry import LOSSES

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-12
SEEDS = range(6)
# ctc: PyTorch's backward presumes log_softmax inputs (it returns exp(log_probs) − γ, lossctl the true
# derivative −γ); tests/test_losses_extra_b.py compares both through log_softmax.
SPECS = [spec for spec in LOSSES.values() if spec.torch and spec.name != "ctc"]
CASES = [
    (spec, params, reduction, seed)
    for spec in SPECS
    for params in spec.testing.param_grid
    for reduction in ("mean", "sum", "none", *spec.reductions.extra)
    for seed in SEEDS
]


DIFFERENTIABLE = {"var", "pred2", "positive", "negative"}  # tensors whose gradients lossctl reports
INDEX_TARGETS = {"cross_entropy", "nll", "multi_margin"}


def to_torch(spec, pred, target):
    """Targets as PyTorch wants them: int64 class indices (a 0-d one for a single 1-D sample)."""
    if target is None:
        return None
    if spec.name == "multilabel_margin":
        return torch.tensor(target, dtype=torch.int64)
    if spec.name in INDEX_TARGETS and is_index_target(pred, target):
        shape = () if pred.ndim == 1 else target.shape
        return torch.tensor(target.reshape(shape), dtype=torch.int64)
    if spec.name == "multi_margin":  # one-hot rows: PyTorch takes indices only
        return torch.tensor(np.argmax(target, axis=-1), dtype=torch.int64)
    if spec.name == "cosine_embedding":
        return torch.tensor(target.reshape(pred.shape[:-1]), dtype=torch.float64)
    return torch.tensor(target, dtype=torch.float64)


def call_torch(spec, pred, target, reduction, params, tensors):
    """``torch.nn.functional.<spec.torch>`` with the argument order PyTorch uses for that loss."""
    function = getattr(F, spec.torch)
    if spec.name in ("margin_ranking", "cosine_embedding"):
        return function(pred, tensors.pop("pred2"), target, reduction=reduction, **params, **tensors)
    if spec.name == "triplet_margin":
        return function(pred, tensors.pop("positive"), tensors.pop("negative"), reduction=reduction, **params)
    if spec.name == "triplet_margin_with_distance":
        params = dict(params)
        cosine = params.pop("distance", "euclidean") == "cosine"
        distance = (lambda x, y: 1.0 - F.cosine_similarity(x, y)) if cosine else None
        positive, negative = tensors.pop("positive"), tensors.pop("negative")
        return function(pred, positive, negative, distance_function=distance, reduction=reduction, **params)
    return function(pred, target, reduction=reduction, **params, **tensors)


def torch_result(spec, pred, target, reduction, params, tensors):
    """Value and gradients from ``torch.nn.functional.<spec.torch>`` and ``backward()``."""
    pred_t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    extra = {
        name: torch.tensor(np.asarray(value), dtype=torch.float64, requires_grad=name in DIFFERENTIABLE)
        for name, value in tensors.items()
    }
    loss = call_torch(spec, pred_t, to_torch(spec, pred, target), reduction, params, dict(extra))
    loss.sum().backward()
    grads = {"pred": pred_t.grad.numpy()}
    grads.update({name: t.grad.numpy() for name, t in extra.items() if t.requires_grad})
    return loss.detach().numpy(), grads


def assert_close(kind: str, got, expected, scale: float | None = None) -> None:
    """rtol 1e-12; entries that cancel to ~0 are compared against the array's scale (1e-15 of it)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    magnitude = float(np.max(np.abs(expected))) if expected.size else 0.0
    atol = 1e-15 * (magnitude if scale is None else scale)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=atol)
    error = np.abs(got - expected) / np.maximum(np.abs(expected), atol / RTOL if atol else 1e-300)
    record_relative_error("registry vs torch.nn.functional", kind, float(np.max(error, initial=0.0)))


CASE_IDS = [f"{c[0].name}-{sorted(c[1])}-{c[2]}-{c[3]}" for c in CASES]


@pytest.mark.torch
@pytest.mark.parametrize("case", slow_after_first_seed(CASES, CASE_IDS))
def test_matches_pytorch(case) -> None:
    spec, params, reduction, seed = case
    inputs = spec.testing.sample(np.random.default_rng(seed))
    pred, target = inputs.pop("pred"), inputs.pop("target", None)
    reason = refused_combination(spec, params, pred, target)
    if reason:
        pytest.skip(reason)
    tensor_params = {k: v for k, v in params.items() if isinstance(v, np.ndarray)}
    hyper = {k: v for k, v in params.items() if k not in tensor_params}
    result = compute(spec, pred, target, reduction=reduction, **hyper, **tensor_params, **inputs)
    value, grads = torch_result(spec, pred, target, reduction, hyper, {**tensor_params, **inputs})
    assert_close("value", result.value, value)
    assert_close("grad", result.grad, grads.pop("pred"))
    for name, grad in grads.items():
        assert_close("grad", result.extra_grads[name], grad)


@pytest.mark.torch
@pytest.mark.parametrize("spec", [s for s in SPECS if s.family == "regression"], ids=lambda s: s.name)
def test_kinks_follow_pytorch(spec) -> None:
    """Residuals exactly 0, ±1 and at the parameter's edge: the subgradient PyTorch picks."""
    pred = np.array([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 3.0, 0.3, -2.5])
    target = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    for params in spec.testing.param_grid:
        result = compute(spec, pred, target, reduction="sum", **params)
        value, grads = torch_result(spec, pred, target, "sum", params, {})
        assert_close("value", result.value, value)
        assert_close("grad", result.grad, grads["pred"])


def _ce_case(pred, target, **params):
    result = compute("cross_entropy", pred, target, **params)
    tensors = {k: v for k, v in params.items() if k == "weight"}
    hyper = {k: v for k, v in params.items() if k != "weight"}
    value, grads = torch_result(
        LOSSES["cross_entropy"],
        np.asarray(pred, float),
        np.asarray(target, float),
        "mean",
        hyper,
        {k: np.asarray(v, float) for k, v in tensors.items()},
    )
    assert_close("value", result.value, value)
    assert_close("grad", result.grad, grads["pred"])


@pytest.mark.torch
@pytest.mark.parametrize("scale", [1e3, 1e4])
def test_cross_entropy_extreme_logits(scale: float) -> None:
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(6, 4)) * scale
    _ce_case(logits, rng.integers(0, 4, size=6).astype(float))
    _ce_case(logits, rng.dirichlet(np.ones(4), size=6), label_smoothing=0.1)


@pytest.mark.torch
def test_cross_entropy_4d_probabilities_weights_and_smoothing() -> None:
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(2, 4, 3, 3))
    probabilities = np.moveaxis(rng.dirichlet(np.ones(4), size=(2, 3, 3)), -1, 1)
    _ce_case(logits, probabilities, weight=[0.5, 1.0, 2.0, 0.1], label_smoothing=0.3)
    indices = rng.integers(0, 4, size=(2, 3, 3)).astype(float)
    indices[0, 0, 0] = 7
    _ce_case(logits, indices, weight=[0.5, 1.0, 2.0, 0.1], ignore_index=7, label_smoothing=0.25)


@pytest.mark.torch
@pytest.mark.parametrize("logit", [1e4, -1e4, 1e3, -1e3, 40.0, -40.0])
def test_bce_with_logits_is_stable_at_extreme_logits(logit: float) -> None:
    spec = LOSSES["bce_with_logits"]
    pred, target = np.array([logit, logit]), np.array([0.0, 1.0])
    for tensors in ({}, {"pos_weight": np.array([3.0, 3.0])}):
        result = compute(spec, pred, target, reduction="sum", **tensors)
        value, grads = torch_result(spec, pred, target, "sum", {}, tensors)
        assert np.isfinite(result.value)
        assert_close("value", result.value, value)
        assert_close("grad", result.grad, grads["pred"], scale=1.0)


@pytest.mark.torch
def test_bce_at_probabilities_exactly_zero_and_one() -> None:
    spec = LOSSES["bce"]
    pred = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    target = np.array([0.0, 1.0, 1.0, 0.0, 0.3])
    for reduction in ("mean", "sum", "none"):
        result = compute(spec, pred, target, reduction=reduction)
        value, grads = torch_result(spec, pred, target, reduction, {}, {})
        assert_close("value", result.value, value)
        assert_close("grad", result.grad, grads["pred"])


def torchvision_sigmoid_focal_loss(inputs, targets, alpha: float, gamma: float):
    """torchvision.ops.sigmoid_focal_loss, line for line (torchvision has no CPU wheel here)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss


@pytest.mark.torch
@pytest.mark.parametrize("params", LOSSES["focal"].testing.param_grid, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_focal_matches_torchvision_definition(params, seed) -> None:
    spec = LOSSES["focal"]
    inputs = spec.testing.sample(np.random.default_rng(seed))
    settings = {"alpha": 0.25, "gamma": 2.0, **params}
    result = compute(spec, inputs["pred"], inputs["target"], reduction="none", **params)
    pred_t = torch.tensor(inputs["pred"], requires_grad=True)
    loss = torchvision_sigmoid_focal_loss(pred_t, torch.tensor(inputs["target"]), **settings)
    loss.sum().backward()
    assert_close("value", result.elements, loss.detach().numpy())
    assert_close("grad", result.grad, pred_t.grad.numpy())


# --- vocabulary-sized class axes: memory proportional to the input ---------------------------------


@pytest.mark.parametrize("loss", ["cross_entropy", "nll", "multi_margin", "multiclass_hinge"])
def test_vocabulary_sized_class_axis_matches_pytorch(loss: str) -> None:
    classes = 200_000
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(2, classes)) * 3
    labels = np.array([17.0, classes - 1.0])
    spec = LOSSES[loss]
    if loss == "multiclass_hinge":  # no PyTorch function: Weston–Watkins by its definition
        result = compute(loss, logits, labels)
        true = logits[[0, 1], [17, classes - 1]][:, None]
        terms = np.maximum(0.0, logits - true + 1.0)
        terms[[0, 1], [17, classes - 1]] = 0.0
        np.testing.assert_allclose(result.value, terms.sum(axis=1).mean(), rtol=1e-12)
        return
    result = compute(spec, logits, labels, reduction="mean")
    x = torch.tensor(logits, requires_grad=True)
    expected = call_torch(spec, x, to_torch(spec, logits, labels), "mean", {}, {})
    expected.backward()
    assert_close("value", result.value, float(expected.detach()))
    # the true class's entry sums ~10⁵ terms: summation order alone moves it by ~1e-12
    np.testing.assert_allclose(result.grad, x.grad.numpy(), rtol=1e-11, atol=1e-300)


def test_multilabel_margin_with_many_classes_matches_pytorch() -> None:
    classes = 20_000
    rng = np.random.default_rng(8)
    scores = rng.normal(size=(3, classes)) * 0.5
    target = -np.ones((3, classes))
    target[0, :3] = [5, 17, 19_999]
    target[1, :1] = [0]
    target[2, :4] = [1, 2, 3, 4]
    result = compute("multilabel_margin", scores, target, reduction="sum")
    x = torch.tensor(scores, requires_grad=True)
    expected = F.multilabel_margin_loss(x, torch.tensor(target, dtype=torch.int64), reduction="sum")
    expected.backward()
    assert_close("value", result.value, float(expected.detach()))
    assert_close("grad", result.grad, x.grad.numpy())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_cross_entropy_gradient_with_200000_classes_needs_memory_of_the_input_only() -> None:
    import subprocess

    script = (
        "import numpy as np\n"
        "from lossctl import compute\n"
        "x = np.random.default_rng(0).normal(size=(2, 200_000))\n"
        "r = compute('cross_entropy', x, [3.0, 199_999.0])\n"
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
    )  # VmHWM (kB), the peak of this process's own memory: ru_maxrss would include pytest's, kept across exec
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    peak_mib = int(run.stdout.split()[-1]) // 1024
    assert peak_mib < 200, f"peak RSS {peak_mib} MiB for a 3.2 MB input"  # a C × C matrix would be 298 GiB


# --- every target ignored or weighted 0: sum and none are 0, as PyTorch; the mean is refused ----------


ALL_IGNORED = [
    ("cross_entropy", {"ignore_index": -100}, [-100.0, -100.0, -100.0]),
    ("cross_entropy", {"ignore_index": 2}, [2.0, 2.0, 2.0]),
    ("cross_entropy", {"weight": [0.0, 0.0, 0.0]}, [0.0, 1.0, 2.0]),
    ("cross_entropy", {"weight": [0.0, 1.0, 0.0], "ignore_index": 1}, [0.0, 1.0, 2.0]),
    ("nll", {"ignore_index": 0}, [0.0, 0.0, 0.0]),
    ("nll", {"weight": [0.0, 0.0, 0.0]}, [2.0, 1.0, 0.0]),
    ("nll", {"weight": [1.0, 0.0, 0.0], "ignore_index": 0}, [0.0, 1.0, 2.0]),
]


@pytest.mark.parametrize(("loss", "params", "labels"), ALL_IGNORED)
def test_all_ignored_targets_give_zero_for_sum_and_none_as_pytorch(loss: str, params: dict, labels) -> None:
    from lossctl.errors import ComputationError

    spec = LOSSES[loss]
    pred = np.random.default_rng(9).normal(size=(3, 3))
    target = np.array(labels)
    tensors = {"weight": np.array(params["weight"])} if "weight" in params else {}
    hyper = {k: v for k, v in params.items() if k != "weight"}
    for reduction in ("sum", "none"):
        result = compute(loss, pred, target, reduction=reduction, **params)
        x = torch.tensor(pred, requires_grad=True)
        torch_tensors = {k: torch.tensor(v) for k, v in tensors.items()}
        expected = call_torch(spec, x, to_torch(spec, pred, target), reduction, hyper, torch_tensors)
        expected.sum().backward()
        np.testing.assert_array_equal(np.asarray(result.value), expected.detach().numpy())
        np.testing.assert_array_equal(result.grad, x.grad.numpy())
        assert result.sum == 0.0 and np.isnan(result.mean)
    assert np.isnan(
        float(
            call_torch(
                spec,
                torch.tensor(pred),
                to_torch(spec, pred, target),
                "mean",
                hyper,
                {k: torch.tensor(v) for k, v in tensors.items()},
            )
        )
    )
    with pytest.raises(ComputationError, match=r"0/0; use --reduction sum or none"):
        compute(loss, pred, target, **params)


# --- cosine_embedding on tiny vectors: PyTorch's ε is a float32 constant --------------------------------


@pytest.mark.parametrize("norm", [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1.0])
@pytest.mark.parametrize("margin", [0.0, 0.2, -0.3])
def test_cosine_embedding_on_tiny_vectors_matches_pytorch(norm: float, margin: float) -> None:
    rng = np.random.default_rng(int(-np.log10(norm)) + 100)
    for _ in range(5):
        a = rng.normal(size=(4, 5)) * norm
        b = rng.normal(size=(4, 5)) * norm * rng.choice([1e-2, 1.0, 1e2])
        y = rng.choice([-1.0, 1.0], size=4)
        for reduction in ("mean", "sum", "none"):
            result = compute("cosine_embedding", a, y, pred2=b, margin=margin, reduction=reduction)
            ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
            out = F.cosine_embedding_loss(ta, tb, torch.tensor(y), margin=margin, reduction=reduction)
            out.sum().backward()
            np.testing.assert_allclose(result.value, out.detach().numpy(), rtol=1e-12, atol=0)
            np.testing.assert_allclose(result.grad, ta.grad.numpy(), rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(result.extra_grads["pred2"], tb.grad.numpy(), rtol=1e-12, atol=1e-300)


# --- float32: the numbers PyTorch reports in float32 ----------------------------------------------------


def test_float32_mean_is_rounded_as_in_float32() -> None:
    result = compute("mse", [1, 2, 3], [1, 2, 4], dtype="float32")
    expected = F.mse_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 4.0]))
    assert result.value == float(expected) == 0.3333333432674408
    assert result.mean == result.value and result.sum == 1.0


FLOAT32_LOSSES = ["mse", "l1", "huber", "smooth_l1", "bce_with_logits", "soft_margin", "cross_entropy", "nll"]


@pytest.mark.parametrize("loss", FLOAT32_LOSSES)
@pytest.mark.parametrize("seed", range(5))
def test_float32_results_agree_with_pytorch_float32_to_one_ulp(loss: str, seed: int) -> None:
    spec = LOSSES[loss]
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 5000))
    if loss in ("cross_entropy", "nll"):
        pred = rng.normal(size=(n, 7)).astype(np.float32)
        target = rng.integers(0, 7, size=n).astype(np.float64)
        torch_target = torch.tensor(target, dtype=torch.int64)
    else:
        pred = rng.normal(size=n).astype(np.float32)
        target = rng.normal(size=n).astype(np.float32)
        if loss in ("bce_with_logits",):
            target = (target > 0).astype(np.float32)
        if loss == "soft_margin":
            target = np.where(target > 0, 1.0, -1.0).astype(np.float32)
        torch_target = torch.tensor(target)
    function = getattr(F, spec.torch)
    torch_elements = function(torch.tensor(pred), torch_target, reduction="none").double().numpy()
    exact_sum = np.float32(math.fsum(torch_elements.ravel().tolist()))
    for reduction in ("mean", "sum"):
        result = compute(loss, pred, target, reduction=reduction, dtype="float32")
        got = np.float32(result.value)
        assert float(got) == result.value  # the reported value is a float32 number
        # the rule: the exact sum of the float32 elements, rounded once to float32 (then / N in float32)
        rule = exact_sum if reduction == "sum" else np.float32(float(exact_sum) / torch_elements.size)
        assert _ulps(got, rule) <= 1, (got, rule)
        # PyTorch accumulates in float32 (a cascade sum): a few ulps of Σ|ℓ| from the exact rounding
        expected = np.float32(function(torch.tensor(pred), torch_target, reduction=reduction))
        scale = np.float32(np.abs(torch_elements).sum() / (torch_elements.size if reduction == "mean" else 1))
        assert abs(float(got) - float(expected)) <= 4 * float(np.spacing(scale)), (got, expected)


def _ulps(a: np.float32, b: np.float32) -> int:
    """How many float32 numbers apart two finite float32 values of the same sign are."""
    return abs(int(np.float32(a).view(np.int32)) - int(np.float32(b).view(np.int32)))
