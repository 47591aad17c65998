"""Numerical accuracy of the regression losses at extreme and tiny residuals.

References are computed independently of the implementation: log-cosh with
50-digit decimal arithmetic, everything else from its textbook formula.
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np
import pytest

from lossctl import compute

getcontext().prec = 50


def log_cosh_reference(x: float) -> float:
    """log((e^x + e^-x) / 2) in 50-digit decimals: no overflow, no cancellation."""
    d = Decimal(x)
    return float(((d.exp() + (-d).exp()) / 2).ln())


@pytest.mark.parametrize(
    "residual", [1e-300, 1e-12, 1e-8, 1e-4, 0.3, 1.0, 7.5, 19.99, 20.0, 20.01, 35.0, 500.0, 709.0, 711.0, 1e4, 1e6]
)
def test_log_cosh_is_accurate_everywhere(residual: float) -> None:
    for sign in (1.0, -1.0):
        got = compute("log_cosh", [sign * residual], [0.0]).value
        np.testing.assert_allclose(got, log_cosh_reference(residual), rtol=4e-16, atol=0)
        assert compute("log_cosh", [sign * residual], [0.0]).grad[0] == pytest.approx(
            sign * np.tanh(residual), rel=1e-15
        )


def test_smooth_l1_with_beta_zero_is_l1() -> None:
    pred, target = np.array([0.0, -2.0, 3.5]), np.array([0.0, 1.0, 1.0])
    smooth = compute("smooth_l1", pred, target, beta=0.0)
    l1 = compute("l1", pred, target)
    assert smooth.value == l1.value
    np.testing.assert_array_equal(smooth.grad, l1.grad)


def test_huber_is_beta_times_smooth_l1() -> None:
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=50) * 3, rng.normal(size=50)
    for delta in (0.3, 1.0, 2.5):
        huber = compute("huber", pred, target, delta=delta, reduction="none").elements
        smooth = compute("smooth_l1", pred, target, beta=delta, reduction="none").elements
        np.testing.assert_allclose(huber, delta * smooth, rtol=1e-14)


def test_quantile_at_one_half_is_half_l1() -> None:
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=20), rng.normal(size=20)
    assert compute("quantile", pred, target, q=0.5).value == pytest.approx(compute("l1", pred, target).value / 2)


def test_rmse_gradient_at_zero_error_is_zero() -> None:
    result = compute("rmse", [1.0, 2.0], [1.0, 2.0])
    assert result.value == 0.0 and not result.grad.any()


def test_mape_guards_zero_targets_like_keras() -> None:
    result = compute("mape", [1.0], [0.0])
    assert result.value == pytest.approx(100.0 / 1e-7)
