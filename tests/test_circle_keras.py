"""lossctl's circle declaration against Keras 3's keras.losses.circle (torch backend): elements and gradients."""

from __future__ import annotations

import numpy as np
import pytest

from lossctl import compute
from tests.conftest import keras_on_torch

SEEDS = (0, 1, 2, 3, 4)


def _keras():
    return keras_on_torch()


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    rows = rng.normal(size=(n, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _labels(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "all_same":
        return np.zeros(n)
    if kind == "all_different":
        return np.arange(n, dtype=float)
    return rng.integers(0, 3, size=n).astype(float)


PARAMS = [{}, {"gamma": 2.0, "margin": 0.25}, {"gamma": 4.0, "remove_diagonal": False}, {"gamma": 10.0}]


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
@pytest.mark.parametrize("labels", ["random", "all_same", "all_different"])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_circle_matches_keras_elements_and_gradient(params, labels, n):
    keras, torch = _keras()
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")  # some of Keras' ops.where fills still come out float32
    try:
        _compare(keras, torch, params, labels, n)
    finally:
        keras.config.set_floatx(floatx)


def _compare(keras, torch, params: dict, labels: str, n: int) -> None:
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        pred = _unit_rows(rng, n, 3)
        target = _labels(labels, rng, n)
        x = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
        out = keras.losses.circle(torch.tensor(target.astype(np.int32)), x, **params)
        out.sum().backward()
        got = compute("circle", pred, target, reduction="sum", **params)
        np.testing.assert_allclose(got.elements, out.detach().numpy(), rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(got.grad, x.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("labels", ["random", "all_same", "all_different"])
@pytest.mark.parametrize("n", [1, 3, 6])
def test_keras_circle_convention_matches_keras_class(reduction, labels, n):
    """The Circle class: float32, rows with a zero loss masked out of sum_over_batch_size's divisor."""
    from test_library_losses import run

    keras, torch = _keras()
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        pred = _unit_rows(rng, n, 4)
        target = _labels(labels, rng, n)
        x = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
        out = keras.losses.Circle(gamma=8.0, reduction=reduction)(torch.tensor(target.astype(np.int32)), x)
        out.sum().backward()
        got = run("keras", "Circle", pred, target, reduction=reduction, gamma=8.0)
        assert got.dtype == "float32"
        np.testing.assert_allclose(np.asarray(got.value, dtype=float), out.detach().numpy(), rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(got.grad, x.grad.numpy(), rtol=2e-4, atol=1e-5)
