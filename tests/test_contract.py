"""The contract every declared loss keeps, checked over the whole registry: a new declaration is covered.

Four properties, each tested once:

1. the analytic gradient equals central finite differences — every loss × each parameter setting its
   declaration lists × every reduction × several seeds (plus the gradients of extra tensors), and again
   at hypothesis-drawn points;
2. the reductions agree: the elements sum to ``sum``, ``mean × count`` is the sum (Σ wᵢℓᵢ for a loss
   with a weighted mean), and the gradient of the mean times the count is the gradient of the sum;
3. an element-wise loss that declares it is 0, with a zero gradient, where the prediction is the target;
4. float32 agrees with float64 to float32 precision.

Inputs come from each loss's own sampler (valid shapes and domains); the property tests rescale the
prediction by hypothesis-chosen factors so that tiny, ordinary and large magnitudes are all visited.
A rescaled prediction may leave the loss's domain: that refusal must be an input error about an input
the loss accepts unscaled, and a loss that refuses every drawn input fails.

The quick loop (``-m "not slow"``) checks properties 2-4 at one fixed draw per loss and property 1 at the
first seed, first parameter setting and the mean (see ``_in_quick_loop``); the hypothesis-drawn points,
the other seeds, settings and reductions run in the full suite.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from conftest import mean_numerator, refused_combination, surrogate_gradient
from gradcheck import numeric_gradient
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lossctl import compute
from lossctl.errors import InputError
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import LossSpec

SPECS = list(LOSSES.values())
ELEMENT_WISE_ZERO = [s for s in SPECS if s.testing.zero_at_target and s.target == "same"]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCALES = [1e-6, 0.01, 0.5, 1.0, 3.0, 50.0]


def draw_inputs(spec: LossSpec, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """The loss's own sample for ``seed``, the prediction multiplied by ``scale``."""
    inputs = spec.testing.sample(np.random.default_rng(seed))
    pred = inputs.pop("pred")
    target = inputs.pop("target", None)
    return pred * scale, target, inputs


def _scalar(value: Any) -> float:
    return float(np.sum(value))


# --- 1. gradients against finite differences ------------------------------------------------------------

SEEDS = range(4)
GRID = [
    (spec, params, reduction, seed)
    for spec in SPECS
    for params in spec.testing.param_grid
    for reduction in ("mean", "sum", "none", *spec.reductions.extra)
    for seed in SEEDS
]


def _grid_id(case: tuple) -> str:
    spec, params, reduction, seed = case
    settings = ",".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, np.ndarray)) or "defaults"
    return f"{spec.name}[{settings}]-{reduction}-{seed}"


def _in_quick_loop(case: tuple) -> bool:
    """Seed 0, the first parameter setting the loss declares, the mean and the loss's own reductions.  The other
    settings and seeds run in the full suite, and so do the gradients of sum and none: for a loss without a
    transform or a weighted mean they are the mean's times the count, which the quick loop's reductions test
    checks; a loss with either keeps its sum here."""
    spec, params, reduction, seed = case
    untied = spec.reductions.transform is not None or spec.reductions.mean_weights is not None
    first_setting = params is spec.testing.param_grid[0]
    return seed == 0 and first_setting and (reduction not in ("sum", "none") or (reduction == "sum" and untied))


GRID_CASES = [
    pytest.param(case, id=_grid_id(case), marks=[] if _in_quick_loop(case) else [pytest.mark.slow]) for case in GRID
]


@pytest.mark.parametrize("case", GRID_CASES)
def test_gradient_matches_finite_differences(case: tuple) -> None:
    spec, params, reduction, seed = case
    inputs = spec.testing.sample(np.random.default_rng(seed))
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

    np.testing.assert_allclose(result.grad, numeric_gradient(loss_of, pred), rtol=1e-5, atol=1e-7)

    for name, grad in result.extra_grads.items():

        def loss_of_tensor(candidate: np.ndarray, name: str = name) -> float:
            changed = {**arguments, name: candidate}
            return _scalar(compute(spec, pred, target, reduction=reduction, **changed).value)

        np.testing.assert_allclose(grad, numeric_gradient(loss_of_tensor, arguments[name]), rtol=1e-5, atol=1e-7)


# a default gradient that is a library's convention (CIoU) is tested against that library instead
DERIVATIVES = [s for s in SPECS if not surrogate_gradient(s, {})]


@pytest.mark.slow
@pytest.mark.parametrize("spec", DERIVATIVES, ids=lambda s: s.name)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_gradient_matches_finite_differences_at_random_points(spec: LossSpec, seed: int, reduction: str) -> None:
    pred, target, tensors = draw_inputs(spec, seed)
    result = compute(spec, pred, target, reduction=reduction, **tensors)

    def value(candidate: np.ndarray) -> float:
        return _scalar(compute(spec, candidate, target, reduction=reduction, **tensors).value)

    numeric = numeric_gradient(value, pred)
    # A random point can sit within one step of a kink (hinge, |x|, Huber's δ); there the
    # finite difference is not a derivative. Skip those points rather than loosen the tolerance.
    mismatch = ~np.isclose(result.grad, numeric, rtol=1e-5, atol=1e-7)
    if mismatch.any():
        shifted = numeric_gradient(value, pred, step=1e-7)
        assume(np.allclose(numeric, shifted, rtol=1e-4, atol=1e-6))
    np.testing.assert_allclose(result.grad, numeric, rtol=1e-5, atol=1e-7)


# --- 2. reductions agree (and nothing crashes) ---------------------------------------------------------


def _assert_expected_refusal(spec: LossSpec, seed: int, scale: float, error: Exception) -> None:
    """A refusal is allowed only as an input error caused by the rescaling: the unscaled draw is accepted."""
    assert isinstance(error, InputError), f"{spec.name} raised {type(error).__name__}: {error}"
    assert scale != 1.0, f"{spec.name} refuses its own sampler's input (seed {seed}): {error}"
    pred, target, tensors = draw_inputs(spec, seed)
    compute(spec, pred, target, **tensors)  # raises if the loss refuses the unscaled draw too


def _check_reductions(spec: LossSpec, seed: int, scale: float) -> str:
    """'checked' after asserting every reduction identity, or 'refused' for an expected refusal."""
    pred, target, tensors = draw_inputs(spec, seed, scale)
    try:
        mean = compute(spec, pred, target, **tensors)
    except InputError as error:
        _assert_expected_refusal(spec, seed, scale, error)
        return "refused"
    total = compute(spec, pred, target, reduction="sum", **tensors)
    none = compute(spec, pred, target, reduction="none", **tensors)
    assert np.isfinite(mean.value) and np.isfinite(mean.grad).all()
    assert none.elements.shape == np.shape(none.value) and mean.grad.shape == pred.shape
    # np.sum rounds as it goes: its error is bounded by ε·Σ|ℓᵢ|, which matters when elements of both signs
    # cancel (the contributions of R² and the D² scores)
    cancellation = 1e-13 * float(np.sum(np.abs(none.elements)))
    np.testing.assert_allclose(np.sum(none.value), total.sum, rtol=1e-12, atol=max(cancellation, 1e-300))
    np.testing.assert_allclose(none.elements.sum(), total.sum, rtol=1e-12, atol=max(cancellation, 1e-300))
    np.testing.assert_allclose(mean_numerator(spec, total), mean.mean * mean.count, rtol=1e-12, atol=1e-300)
    if spec.reductions.transform is None and spec.reductions.mean_weights is None:
        assert total.value == total.sum and mean.value == mean.mean
        grad_scale = float(np.max(np.abs(total.grad), initial=0.0))
        np.testing.assert_allclose(mean.grad * mean.count, total.grad, rtol=1e-12, atol=1e-15 * max(grad_scale, 1.0))
    return "checked"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_reductions_agree_at_one_draw_and_every_scale(spec: LossSpec) -> None:
    """The quick loop's member of the property below: one fixed draw, every scale."""
    outcomes = Counter(_check_reductions(spec, 99, scale) for scale in SCALES)
    assert outcomes["checked"] > 0, f"{spec.name} refused the draw at every scale ({outcomes['refused']})"


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_reductions_agree_and_refusals_are_expected(spec: LossSpec) -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @example(seed=99, scale=1.0)
    @given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from(SCALES))
    def check(seed: int, scale: float) -> None:
        outcomes[_check_reductions(spec, seed, scale)] += 1

    check()
    assert outcomes["checked"] > 0, f"{spec.name} refused every generated input ({outcomes['refused']})"


# --- 3. zero at the target -----------------------------------------------------------------------------


ZERO_SCALES = [1e-3, 1.0, 1e3]


@pytest.mark.parametrize("scale", ZERO_SCALES)
@pytest.mark.parametrize("spec", ELEMENT_WISE_ZERO, ids=lambda s: s.name)
def test_zero_loss_and_gradient_at_one_draw(spec: LossSpec, scale: float) -> None:
    """The quick loop's member of the property below: one fixed draw."""
    _check_zero_at_target(spec, 7, scale)


@pytest.mark.slow
@pytest.mark.parametrize("spec", ELEMENT_WISE_ZERO, ids=lambda s: s.name)
@PROPERTY
@example(seed=7, scale=1.0)
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from(ZERO_SCALES))
def test_zero_loss_and_gradient_where_pred_equals_target(spec: LossSpec, seed: int, scale: float) -> None:
    _check_zero_at_target(spec, seed, scale)


def _check_zero_at_target(spec: LossSpec, seed: int, scale: float) -> None:
    _, target, tensors = draw_inputs(spec, seed)
    assert target is not None
    target = target * scale if spec.check is None else target  # a domain check may refuse a rescaled target
    result = compute(spec, target.copy(), target, **tensors)
    assert result.value == 0.0 and not result.grad.any()


# --- 4. float32 against float64 ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_float32_agrees_with_float64_at_one_draw(spec: LossSpec, reduction: str) -> None:
    """The quick loop's member of the property below: one fixed draw."""
    _check_float32(spec, 3, reduction)


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@PROPERTY
@example(seed=3, reduction="mean")
@given(seed=st.integers(0, 2**32 - 1), reduction=st.sampled_from(["mean", "sum"]))
def test_float32_agrees_with_float64_to_float32_precision(spec: LossSpec, seed: int, reduction: str) -> None:
    _check_float32(spec, seed, reduction)


def _check_float32(spec: LossSpec, seed: int, reduction: str) -> None:
    pred, target, tensors = draw_inputs(spec, seed)
    wide = compute(spec, pred, target, reduction=reduction, **tensors)
    narrow = compute(spec, pred, target, reduction=reduction, dtype="float32", **tensors)
    assert narrow.elements.dtype == np.float32 and narrow.grad.dtype == np.float32
    # the value's own size counts too: a transform such as perplexity's exp magnifies the sum's rounding
    scale = max(1.0, float(np.sum(np.abs(wide.elements))), abs(float(wide.value)))
    # and the problem's own conditioning: float32 cannot be closer than the effect of rounding the inputs
    # to float32 (a score whose denominator cancels, such as D² on nearly constant targets, magnifies both)
    single = {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}
    target32 = None if target is None else np.asarray(target, dtype=np.float32)
    rounded = compute(spec, np.asarray(pred, dtype=np.float32), target32, reduction=reduction, **single)
    sensitivity = abs(float(rounded.value) - float(wide.value))
    assert abs(narrow.value - wide.value) <= 1e-5 * scale + 10.0 * sensitivity
    grad_scale = max(1.0, float(np.max(np.abs(wide.grad))))
    np.testing.assert_allclose(narrow.grad, wide.grad, rtol=1e-3, atol=1e-4 * grad_scale)
