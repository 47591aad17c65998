"""Property-based tests over the whole registry, and fuzzing of the input parser.

Inputs come from each loss's own sampler (valid shapes and domains) with the
prediction rescaled by hypothesis-chosen factors, so that tiny, ordinary and
large magnitudes are all visited.  A loss added to the registry is covered.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import mean_numerator, surrogate_gradient
from gradcheck import numeric_gradient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lossctl import compute
from lossctl.errors import InputError, LossctlError
from lossctl.io.inputs import parse_literal, read_stdin
from lossctl.losses.registry import LOSSES

SPECS = list(LOSSES.values())
EXAMPLES = 60
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def draw_inputs(spec, seed: int, scale: float) -> tuple[np.ndarray, np.ndarray | None, dict]:
    inputs = spec.sample(np.random.default_rng(seed))
    pred = inputs.pop("pred")
    target = inputs.pop("target", None)
    return pred * scale, target, inputs


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-6, 0.01, 0.5, 1.0, 3.0, 50.0]))
def test_never_crashes_and_reductions_agree(spec, seed: int, scale: float) -> None:
    pred, target, tensors = draw_inputs(spec, seed, scale)
    try:
        mean = compute(spec, pred, target, **tensors)
    except LossctlError:
        return  # a clear, reported error is an allowed outcome (e.g. a rescaled prediction left its domain)
    total = compute(spec, pred, target, reduction="sum", **tensors)
    none = compute(spec, pred, target, reduction="none", **tensors)
    assert np.isfinite(mean.value) and np.isfinite(mean.grad).all()
    np.testing.assert_allclose(mean_numerator(spec, total), mean.mean * mean.count, rtol=1e-12, atol=1e-300)
    # np.sum rounds as it goes: its error is bounded by ε·Σ|ℓᵢ|, which matters when elements of both signs
    # cancel (the contributions of R² and the D² scores)
    cancellation = 1e-13 * float(np.sum(np.abs(none.elements)))
    np.testing.assert_allclose(np.sum(none.value), total.sum, rtol=1e-12, atol=max(cancellation, 1e-300))
    assert none.elements.shape == np.shape(none.value) and mean.grad.shape == pred.shape


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@PROPERTY
@given(seed=st.integers(0, 2**32 - 1))
def test_float32_agrees_with_float64_to_float32_precision(spec, seed: int) -> None:
    pred, target, tensors = draw_inputs(spec, seed, 1.0)
    wide = compute(spec, pred, target, reduction="sum", **tensors)
    narrow = compute(spec, pred, target, reduction="sum", dtype="float32", **tensors)
    # the value's own size counts too: a transform such as perplexity's exp magnifies the sum's rounding
    scale = max(1.0, float(np.sum(np.abs(wide.elements))), abs(float(wide.value)))
    assert abs(narrow.value - wide.value) <= 1e-5 * scale
    grad_scale = max(1.0, float(np.max(np.abs(wide.grad))))
    np.testing.assert_allclose(narrow.grad, wide.grad, rtol=1e-3, atol=1e-4 * grad_scale)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_gradient_agrees_with_finite_differences_at_random_points(spec, seed: int, reduction: str) -> None:
    if surrogate_gradient(spec, {}):
        return  # the default gradient is a library's convention (tested against that library instead)
    pred, target, tensors = draw_inputs(spec, seed, 1.0)
    result = compute(spec, pred, target, reduction=reduction, **tensors)

    def value(candidate: np.ndarray) -> float:
        return float(np.sum(compute(spec, candidate, target, reduction=reduction, **tensors).value))

    numeric = numeric_gradient(value, pred)
    # A random point can sit within one step of a kink (hinge, |x|, Huber's δ); there the
    # finite difference is not a derivative. Skip those points rather than loosen the tolerance.
    mismatch = ~np.isclose(result.grad, numeric, rtol=1e-5, atol=1e-7)
    if mismatch.any():
        shifted = numeric_gradient(value, pred, step=1e-7)
        assume(np.allclose(numeric, shifted, rtol=1e-4, atol=1e-6))
    np.testing.assert_allclose(result.grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.zero_at_target and s.target == "same"], ids=lambda s: s.name)
@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_zero_loss_where_pred_equals_target(spec, seed: int, scale: float) -> None:
    _, target, tensors = draw_inputs(spec, seed, 1.0)
    target = target * scale if spec.check is None else target
    result = compute(spec, target.copy(), target, **tensors)
    assert result.value == 0.0 and not result.grad.any()


# --- the parser never fails in any other way -------------------------------------------

LITERAL_ALPHABET = st.sampled_from(list("0123456789.,;-+eE []\n\t naifNAIF_x\"'{}:"))


@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet=LITERAL_ALPHABET, max_size=40)))
def test_literal_parser_returns_an_array_or_an_input_error(text: str) -> None:
    try:
        array = parse_literal(text, "--pred")
    except InputError as error:
        assert str(error).startswith("--pred")
        return
    assert isinstance(array, np.ndarray) and array.dtype == np.float64 and array.size >= 1


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=200))
def test_stdin_bytes_give_an_array_or_an_input_error(data: bytes) -> None:
    stream = io.TextIOWrapper(io.BytesIO(data))
    try:
        array = read_stdin("--pred", stream)
    except InputError:
        return
    assert isinstance(array, np.ndarray) and array.dtype == np.float64


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=2, max_size=2),
        min_size=2,
        max_size=6,
    )
)
def test_literal_rows_round_trip_exactly(rows: list[list[float]]) -> None:
    text = ";".join(",".join(repr(v) for v in row) for row in rows)
    np.testing.assert_array_equal(parse_literal(text, "--pred"), np.array(rows))
