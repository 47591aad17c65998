"""Registry-wide: every analytic gradient against central finite differences.

Every loss, several seeded random points, each parameter setting its
declaration lists, all reductions.  A new declaration is covered without
writing a test.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import mean_numerator, refused_combination, surrogate_gradient
from gradcheck import numeric_gradient

from lossctl import compute
from lossctl.losses.registry import LOSSES

SEEDS = range(4)
CASES = [
    (spec, params, reduction, seed)
    for spec in LOSSES.values()
    for params in spec.param_grid
    for reduction in ("mean", "sum", "none", *spec.extra_reductions)
    for seed in SEEDS
]


def _id(case) -> str:
    spec, params, reduction, seed = case
    settings = ",".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, np.ndarray)) or "defaults"
    return f"{spec.name}[{settings}]-{reduction}-{seed}"


def _scalar(value) -> float:
    return float(np.sum(value))


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_gradient_matches_finite_differences(case) -> None:
    spec, params, reduction, seed = case
    inputs = spec.sample(np.random.default_rng(seed))
    pred = inputs.pop("pred")
    target = inputs.pop("target", None)
    reason = refused_combination(spec, params, pred, target)
    if reason:
        pytest.skip(reason)
    if surrogate_gradient(spec, params):
        pytest.skip("the declared gradient is the library's convention, not the derivative of the value")
    arguments = {**params, **inputs}
    result = compute(spec, pred, target, reduction=reduction, **arguments)
    assert result.grad.shape == pred.shape

    def loss_of(candidate: np.ndarray) -> float:
        return _scalar(compute(spec, candidate, target, reduction=reduction, **arguments).value)

    expected = numeric_gradient(loss_of, pred)
    np.testing.assert_allclose(result.grad, expected, rtol=1e-5, atol=1e-7)

    for name, grad in result.extra_grads.items():

        def loss_of_tensor(candidate: np.ndarray, name: str = name) -> float:
            changed = {**arguments, name: candidate}
            return _scalar(compute(spec, pred, target, reduction=reduction, **changed).value)

        np.testing.assert_allclose(grad, numeric_gradient(loss_of_tensor, arguments[name]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("spec", list(LOSSES.values()), ids=lambda s: s.name)
def test_reductions_are_consistent(spec) -> None:
    inputs = spec.sample(np.random.default_rng(99))
    pred, target = inputs.pop("pred"), inputs.pop("target", None)
    none = compute(spec, pred, target, reduction="none", **inputs)
    total = compute(spec, pred, target, reduction="sum", **inputs)
    mean = compute(spec, pred, target, reduction="mean", **inputs)
    np.testing.assert_allclose(none.elements.sum(), total.sum, rtol=1e-12)
    np.testing.assert_allclose(mean_numerator(spec, total), mean.mean * mean.count, rtol=1e-12)
    if spec.transform is None and spec.mean_weights is None:
        assert total.value == total.sum and mean.value == mean.mean
        np.testing.assert_allclose(mean.grad * mean.count, total.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "spec", [s for s in LOSSES.values() if s.zero_at_target and s.target == "same"], ids=lambda s: s.name
)
def test_zero_loss_and_gradient_at_the_target(spec) -> None:
    inputs = spec.sample(np.random.default_rng(7))
    target = inputs.pop("target")
    inputs.pop("pred")
    result = compute(spec, target.copy(), target, **inputs)
    assert result.value == 0.0
    assert not np.any(result.grad)


@pytest.mark.parametrize("spec", list(LOSSES.values()), ids=lambda s: s.name)
def test_float32_agrees_with_float64(spec) -> None:
    inputs = spec.sample(np.random.default_rng(3))
    pred, target = inputs.pop("pred"), inputs.pop("target", None)
    wide = compute(spec, pred, target, **inputs)
    narrow = compute(spec, pred, target, dtype="float32", **inputs)
    assert narrow.elements.dtype == np.float32 and narrow.grad.dtype == np.float32
    np.testing.assert_allclose(narrow.value, wide.value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(narrow.grad, wide.grad, rtol=1e-4, atol=1e-6)
