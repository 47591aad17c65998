"""Chunked evaluation (lossctl.evaluation.engine) against the in-memory reference (lossctl.evaluation.core.compute).

Every loss in the registry, on inputs whose rows span several blocks with a
ragged last block: the sums agree to a few ulps, the gradients and any saved
elements exactly or to a few ulps.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossctl import compute
from lossctl.evaluation.engine import Outputs, evaluate, separable
from lossctl.losses.registry import LOSSES

REPEATS = 7  # rows of the sample stacked 7 times; blocks of 2 rows leave a ragged last block


def _stacked(spec, seed: int):
    """A sample repeated along the leading axis, so that the loss's rows span several blocks."""
    inputs = spec.sample(np.random.default_rng(seed))
    pred = inputs.pop("pred")
    target = inputs.pop("target", None)
    n = pred.shape[0]

    def grow(array):
        if array is None or np.ndim(array) == 0 or np.shape(array)[0] != n:
            return array
        return np.concatenate([array] * REPEATS, axis=0)

    tensors = {}
    for name, tensor in inputs.items():
        param = spec.param(name)
        rowwise = np.ndim(tensor) >= 1 and np.shape(tensor)[0] == n and (np.ndim(tensor) == pred.ndim or param.per_row)
        tensors[name] = grow(tensor) if rowwise else tensor
    return grow(pred), grow(target), tensors


CASES = [
    (spec, params, reduction, seed)
    for spec in LOSSES.values()
    for params in spec.param_grid[:2]
    for reduction in ("mean", "sum", *spec.extra_reductions)
    for seed in range(3)
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{s.name}-{i}-{r}-{seed}" for s, i, r, seed in [(c[0], n, c[2], c[3]) for n, c in enumerate(CASES)]],
)
def test_blocks_agree_with_the_in_memory_reference(case) -> None:
    spec, params, reduction, seed = case
    pred, target, tensors = _stacked(spec, seed)
    arguments = {**params, **tensors}
    try:
        reference = compute(spec, pred, target, reduction=reduction, **arguments)
    except Exception as exc:  # refused combinations are refused the same way
        with pytest.raises(type(exc)):
            evaluate(spec, pred, target, reduction=reduction, block_rows=2, **arguments)
        return
    elements = np.empty_like(reference.elements)
    summary, grad = evaluate(
        spec, pred, target, reduction=reduction, block_rows=2, outputs=Outputs(elements=elements), **arguments
    )
    if separable(spec, reference.pred, {**reference.params, **reference.tensors}):
        assert summary.blocks == -(-pred.shape[0] // 2) and summary.blocks > 1
    np.testing.assert_allclose(summary.sum, reference.sum, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(summary.value, reference.value, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(summary.count, reference.count, rtol=1e-14)
    np.testing.assert_allclose(grad, reference.grad, rtol=1e-13, atol=1e-300)
    np.testing.assert_array_equal(elements, reference.elements)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_threads_and_block_sizes_do_not_change_the_answer(dtype: str) -> None:
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=100_003), rng.normal(size=100_003)
    reference = compute("huber", pred, target, dtype=dtype)
    for block_rows, threads in [(1000, 1), (999, 2), (65536, 4), (100_003, 1)]:
        summary, grad = evaluate("huber", pred, target, dtype=dtype, block_rows=block_rows, threads=threads)
        assert grad.dtype == np.dtype(dtype)
        np.testing.assert_allclose(summary.value, reference.value, rtol=1e-12 if dtype == "float64" else 1e-5)
        np.testing.assert_array_equal(grad, reference.grad)


def test_memory_mapped_inputs_are_read_block_by_block(tmp_path) -> None:
    rng = np.random.default_rng(1)
    np.save(tmp_path / "p.npy", rng.normal(size=(5001, 3)))
    np.save(tmp_path / "t.npy", rng.normal(size=(5001, 3)))
    pred = np.load(tmp_path / "p.npy", mmap_mode="r")
    target = np.load(tmp_path / "t.npy", mmap_mode="r")
    summary, _ = evaluate("mse", pred, target, block_rows=512, want_grad=False)
    assert summary.blocks == 10
    assert summary.value == pytest.approx(compute("mse", np.array(pred), np.array(target)).value, rel=1e-13)


def test_a_non_finite_value_is_named_with_its_global_index() -> None:
    pred = np.zeros((10, 2))
    pred[7, 1] = np.nan
    with pytest.raises(Exception, match=r"--pred\[7, 1\] is nan"):
        evaluate("mse", pred, np.zeros((10, 2)), block_rows=3)
