"""Keras BinaryCrossentropy --explain shows the working: clipped p, each per-value term, the last-axis mean, the value.

Every number in the derivation is checked against Keras itself (torch backend): the per-value terms are
Keras' loss of each single value (a last axis of size 1 averages nothing), the rows its unreduced losses,
the value its reduced loss.  Skipped without Keras (``pip install 'lossctl[reference]'``).
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from conftest import run_cli

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

CASES = [  # pred, target, settings
    ([0.0, 0.9, 1.0], [1.0, 1.0, 0.0], {}),  # the example: 10.72
    ([0.2, 0.7, 0.4, 0.99], [0.0, 1.0, 1.0, 0.0], {}),
    ([[0.2, 0.9], [0.6, 0.3]], [[0.0, 1.0], [1.0, 1.0]], {}),
    ([[0.2, 0.9, 0.5], [1e-9, 0.3, 1.0]], [[0.25, 1.0, 0.5], [1.0, 0.0, 0.0]], {"label_smoothing": 0.1}),
    ([[0.2, 0.9], [0.6, 0.3], [0.5, 0.05], [0.7, 0.8], [0.1, 0.4]], [[0, 1], [1, 1], [0, 0], [1, 0], [1, 1]], {}),
    ([[1.5, -2.0, 0.3], [0.0, 4.0, -1.0]], [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], {"from_logits": True}),
]
NUMBER = re.compile(r"[-−]?\d+(?:\.\d+)?(?:e[-−+]?\d+)?")


def _numbers(text: str) -> list[float]:
    return [float(n.replace("−", "-")) for n in NUMBER.findall(text)]


def _same_shown(line: str, expected: np.ndarray, rtol: float) -> None:
    """A vector as --explain writes it: every value, or the first ones, "…" and the last."""
    shown = _numbers(line)
    if "…" in line:
        expected = np.array([*expected[: len(shown) - 1], expected[-1]])
    np.testing.assert_allclose(shown, expected, rtol=rtol, err_msg=line)


def _explain(pred, target, settings) -> str:
    args = ["BinaryCrossentropy", "--pred", json.dumps(pred), "--target", json.dumps(target), "--explain"]
    for name, value in settings.items():
        args += ["--set", f"{name}={value}"]
    run = run_cli([*args, "--precision", "9"])
    assert run.code == 0, run.stderr
    return run.stdout


def _keras(pred, target, settings):
    loss = keras.losses.BinaryCrossentropy(**settings)
    p, y = np.asarray(pred, dtype="float32"), np.asarray(target, dtype="float32")
    per_value = [
        float(keras.losses.binary_crossentropy(np.array([t], "float32"), np.array([v], "float32"), **settings))
        for v, t in zip(p.ravel(), y.ravel(), strict=True)
    ]
    rows = np.atleast_1d(keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(y, p, **settings)))
    return np.array(per_value), rows, float(keras.ops.convert_to_numpy(loss(y, p)))


@pytest.mark.parametrize(("pred", "target", "settings"), CASES, ids=lambda v: str(v)[:24])
def test_the_working_is_keras_arithmetic(pred, target, settings):
    text = _explain(pred, target, settings)
    lines = text.splitlines()
    per_value, rows, value = _keras(pred, target, settings)
    label = next(i for i, line in enumerate(lines) if line.strip().startswith("tⱼ ="))
    _same_shown(lines[label + 1], per_value, 2e-6)
    if not settings.get("from_logits"):
        expected = np.clip(np.asarray(pred, "float32"), np.float32(1e-7), np.float32(1 - 1e-7)).ravel()
        _same_shown(lines[label - 1], expected, 1e-8)
    means = [line for line in lines if re.match(r"\s+ℓ[₀-₉]* = \(", line)]
    width = np.asarray(pred).shape[-1]
    assert len(means) == min(len(rows), 4), text
    for line, row_value, terms in zip(means, rows, per_value.reshape(-1, width), strict=False):
        numbers = _numbers(line.split("=", 1)[1])
        np.testing.assert_allclose(numbers[:width], terms, rtol=2e-6, err_msg=line)
        assert numbers[width] == width  # divided by the number of values in the row
        np.testing.assert_allclose(numbers[-1], row_value, rtol=2e-6, err_msg=line)
    if len(rows) > 4:
        assert f"… {len(rows) - 4} more rows" in text
    assert _numbers(lines[-1])[0] == pytest.approx(value, rel=2e-6)


def test_the_order_is_terms_then_mean_then_reduction():
    text = _explain([0.0, 0.9, 1.0], [1.0, 1.0, 0.0], {})
    positions = [text.index(marker) for marker in ("clip(pⱼ)", "tⱼ =", "the mean over axis -1", "reduction ")]
    assert positions == sorted(positions)
    assert "10.7219" in text  # Keras' number for the issue's example
