"""Differential tests against PyTorch (float64): values and gradients, all reductions.

Skipped cleanly when torch is not installed (``pip install -e '.[reference]'``).
"""

from __future__ import annotations

import numpy as np
import pytest

from lossctl import compute
from lossctl.registry import LOSSES

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-12
SEEDS = range(6)
SPECS = [spec for spec in LOSSES.values() if spec.torch]
CASES = [
    (spec, params, reduction, seed)
    for spec in SPECS
    for params in spec.param_grid
    for reduction in ("mean", "sum", "none", *spec.extra_reductions)
    for seed in SEEDS
]


def torch_loss(spec, pred, target, reduction, params, tensors):
    """Call ``torch.nn.functional.<spec.torch>`` with PyTorch's own argument names."""
    function = getattr(F, spec.torch)
    extra = {name: torch.tensor(value) for name, value in tensors.items()}
    return function(pred, target, reduction=reduction, **params, **extra)


def torch_result(spec, pred, target, reduction, params, tensors):
    pred_t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    target_t = None if target is None else torch.tensor(target, dtype=torch.float64)
    loss = torch_loss(spec, pred_t, target_t, reduction, params, tensors)
    loss.sum().backward()
    return loss.detach().numpy(), pred_t.grad.numpy()


def _close(got, expected) -> None:
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-300)


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].name}-{c[1]}-{c[2]}-{c[3]}")
def test_matches_pytorch(case) -> None:
    spec, params, reduction, seed = case
    inputs = spec.sample(np.random.default_rng(seed))
    pred, target = inputs.pop("pred"), inputs.pop("target", None)
    result = compute(spec, pred, target, reduction=reduction, **params, **inputs)
    value, grad = torch_result(spec, pred, target, reduction, params, inputs)
    _close(result.value, value)
    _close(result.grad, grad)


@pytest.mark.torch
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_kinks_follow_pytorch(spec) -> None:
    """Residuals exactly 0, ±1 and at the parameter's edge: the subgradient PyTorch picks."""
    pred = np.array([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 3.0])
    target = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    for params in spec.param_grid:
        result = compute(spec, pred, target, reduction="sum", **params)
        value, grad = torch_result(spec, pred, target, "sum", params, {})
        _close(result.value, value)
        _close(result.grad, grad)
