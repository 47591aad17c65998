"""Every way of evaluating a loss goes through one path: prepare → evaluate_block → reduce.

For every registered loss and every worked example, ``compute`` (the Python API), ``value_and_grad``
and the block engine of large inputs (``evaluate``) must evaluate the declaration's gradient only
inside :func:`lossctl.evaluation.block.evaluate_block`, and its elements only there or on the one-row
probe that plans the blocks; and the three must agree bit for bit on the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pytest

import lossctl.evaluation.engine as engine
from lossctl import compute, value_and_grad
from lossctl.errors import LossctlError
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import LossSpec

CASES = [(spec, example) for spec in LOSSES.values() for example in spec.examples]
IDS = [f"{spec.name}-{i}" for spec in LOSSES.values() for i, _ in enumerate(spec.examples)]
_IN_BLOCK: ContextVar[bool] = ContextVar("in_block", default=False)


@contextmanager
def _watched_blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Count evaluate_block calls, and mark the code they run."""
    calls: list[int] = []
    original = engine.evaluate_block

    def watched(request: Any, rows: slice, sink: Any) -> Any:
        calls.append(1)
        token = _IN_BLOCK.set(True)
        try:
            return original(request, rows, sink)
        finally:
            _IN_BLOCK.reset(token)

    monkeypatch.setattr(engine, "evaluate_block", watched)
    yield calls


def _spied(spec: LossSpec, outside: list[str]) -> LossSpec:
    """The declaration with its functions recording any call made outside a block (the probe excepted)."""

    def spy(name: str, function: Callable[..., Any] | None, probe_allowed: bool) -> Callable[..., Any] | None:
        if function is None:
            return None

        def wrapped(pred: Any, *args: Any, **kwargs: Any) -> Any:
            one_row = np.ndim(pred) >= 1 and np.shape(pred)[0] == 1
            if not _IN_BLOCK.get() and not (probe_allowed and one_row):
                outside.append(name)
            return function(pred, *args, **kwargs)

        return wrapped

    return dataclasses.replace(
        spec,
        elements=spy("elements", spec.elements, True),
        grad=spy("grad", spec.grad, False),
        engine=dataclasses.replace(spec.engine, fused=spy("fused", spec.engine.fused, False)),
    )


@pytest.mark.parametrize(("spec", "example"), CASES, ids=IDS)
def test_every_loss_is_evaluated_inside_the_block_path(monkeypatch, spec, example) -> None:
    outside: list[str] = []
    spied = _spied(spec, outside)
    params = dict(example.params)
    reduction = example.reduction
    with _watched_blocks(monkeypatch) as calls:
        result = compute(spied, example.pred, example.target, reduction=reduction, **params)
        assert calls, "compute did not go through evaluate_block"
        calls.clear()
        value, grad = value_and_grad(spied, example.pred, example.target, reduction=reduction, **params)
        assert calls, "value_and_grad did not go through evaluate_block"
        if reduction != "none":
            calls.clear()
            try:
                summary, engine_grad = engine.evaluate(
                    spied, example.pred, example.target, reduction=reduction, **params
                )
            except LossctlError:
                summary = None  # a whole-input refusal the in-memory path reports as a whole (tested elsewhere)
            if summary is not None:
                assert calls, "the block engine did not go through evaluate_block"
                assert summary.value == result.value or (np.isnan(summary.value) and np.isnan(result.value))
                np.testing.assert_array_equal(engine_grad, result.grad)
    assert outside == [], f"{spec.name}: {sorted(set(outside))} evaluated outside evaluate_block"
    np.testing.assert_array_equal(np.asarray(value), np.asarray(result.value))
    np.testing.assert_array_equal(grad, result.grad)
