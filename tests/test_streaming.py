"""Chunked evaluation (lossctl.evaluation.engine) against the in-memory reference (lossctl.evaluation.core.compute).

Every loss in the registry, on inputs whose rows span several blocks with a
ragged last block: the sums agree to a few ulps, the gradients and any saved
elements exactly or to a few ulps.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import slow_after_first_seed

from lossctl import compute
from lossctl.evaluation.engine import Outputs, evaluate, separable
from lossctl.losses.registry import LOSSES

REPEATS = 7  # rows of the sample stacked 7 times; blocks of 2 rows leave a ragged last block


def _stacked(spec, seed: int):
    """A sample repeated along the leading axis, so that the loss's rows span several blocks."""
    inputs = spec.testing.sample(np.random.default_rng(seed))
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
    for params in spec.testing.param_grid[:2]
    for reduction in ("mean", "sum", *spec.reductions.extra)
    for seed in range(3)
]


@pytest.mark.parametrize(
    "case",
    slow_after_first_seed(
        CASES, [f"{s.name}-{i}-{r}-{seed}" for s, i, r, seed in [(c[0], n, c[2], c[3]) for n, c in enumerate(CASES)]]
    ),
)
def test_blocks_agree_with_the_in_memory_reference(case) -> None:
    spec, params, reduction, seed = case
    pred, target, tensors = _stacked(spec, seed)
    arguments = {**params, **tensors}
    try:
        reference = compute(spec, pred, target, reduction=reduction, **arguments)
    except Exception as exc:  # refused combinations are refused the same way, with the same message
        with pytest.raises(type(exc)) as refused:
            evaluate(spec, pred, target, reduction=reduction, block_rows=2, **arguments)
        assert str(refused.value) == str(exc)
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


# --- answers independent of how they were computed -------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "huber", "log_cosh", "cross_entropy"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_value_sum_and_mean_are_bit_identical_across_blocks_threads_and_gradients(loss: str, dtype: str) -> None:
    rng = np.random.default_rng(3)
    if loss == "cross_entropy":
        pred, target = rng.normal(size=(603, 5)) * 3, rng.integers(0, 5, size=603).astype(float)
    else:
        pred, target = rng.normal(size=(603, 5)) * 1e3, rng.normal(size=(603, 5))
    reference = compute(loss, pred, target, dtype=dtype)
    seen = set()
    for block_rows in (1, 2, 7, 256, None):
        for threads in (1, 2, 4):
            for want_grad in (True, False):
                outputs = Outputs(make_elements=lambda shape, dtype: np.empty(shape, dtype=dtype))
                summary, _ = evaluate(
                    loss,
                    pred,
                    target,
                    dtype=dtype,
                    block_rows=block_rows,
                    threads=threads,
                    want_grad=want_grad,
                    outputs=outputs if want_grad else None,
                )
                seen.add((summary.value, summary.sum, summary.mean))
    assert seen == {(reference.value, reference.sum, reference.mean)}


def test_weighted_mean_divisor_is_exact_whatever_the_blocks() -> None:
    rng = np.random.default_rng(4)
    pred, target = rng.normal(size=(999, 4)), rng.integers(0, 4, size=999).astype(float)
    weight = [0.1, 0.7, 0.3, 1e-3]
    reference = compute("cross_entropy", pred, target, weight=weight)
    for block_rows in (1, 3, 100):
        summary, _ = evaluate("cross_entropy", pred, target, weight=weight, block_rows=block_rows, threads=2)
        assert (summary.value, summary.count) == (reference.value, reference.count)


def test_sums_are_exact_where_numpy_pairwise_sums_are_not() -> None:
    from fractions import Fraction

    # an ill-conditioned sum: large terms cancel, the small ones decide the answer
    rng = np.random.default_rng(5)
    big = rng.normal(size=5_000) * 1e16
    small = rng.random(10_000)
    values = rng.permutation(np.concatenate([big, -big, small]))
    exact = float(sum((Fraction(v) for v in values.tolist()), Fraction(0)))
    result = compute("l1", values, np.zeros_like(values), reduction="sum")
    assert float(np.sum(np.abs(values))) == pytest.approx(result.sum, rel=1e-12)  # same magnitude
    pred, target = values, np.zeros_like(values)  # squared: terms ≥ 0, but of very different sizes
    squares = pred * pred
    exact_squares = float(sum((Fraction(v) for v in squares.tolist()), Fraction(0)))
    assert compute("mse", pred, target, reduction="sum").value == exact_squares
    # signed sums through a loss with signed elements: psnr_loss's per-image values
    from lossctl.evaluation.exact import exact_sum

    assert exact_sum(values) == exact
    assert float(np.sum(values)) != exact  # NumPy's pairwise sum loses the small terms here


def _nearest_float32(exact) -> float:
    """The float32 nearest to a Fraction, ties to even (found among the neighbours of a first guess)."""
    from fractions import Fraction

    guess = np.float32(float(exact))
    candidates = [guess, np.nextafter(guess, np.float32(np.inf)), np.nextafter(guess, np.float32(-np.inf))]
    finite = [c for c in candidates if np.isfinite(c)]
    return float(min(finite, key=lambda c: (abs(Fraction(float(c)) - exact), int(c.view(np.int32)) & 1)))


@pytest.mark.parametrize("seed", range(40))
def test_exact_sum_is_correctly_rounded_in_float64_and_float32(seed: int) -> None:
    import math
    from fractions import Fraction

    from lossctl.evaluation.exact import ExactSum

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    values = rng.normal(size=n) * 10.0 ** rng.integers(-300, 300, size=n) if seed % 2 else rng.normal(size=n)
    if seed % 5 == 0:
        values = np.concatenate([values, [5e-324, -5e-324, 2.2e-308]])
    halves = ExactSum().add(values[: n // 2]) + ExactSum().add(values[n // 2 :])
    assert halves.rounded() == math.fsum(values.tolist())
    small = rng.normal(size=n).astype(np.float32) * np.float32(10.0) ** rng.integers(-30, 30, size=n).astype(np.float32)
    exact32 = sum((Fraction(float(v)) for v in small.tolist()), Fraction(0))
    assert ExactSum().add(small).rounded(np.float32) == _nearest_float32(exact32)


@pytest.mark.parametrize(
    ("loss", "activation", "shape"),
    [
        ("mse", "sigmoid", (3001,)),
        ("mse", "tanh", (1001, 3)),
        ("bce", "sigmoid", (1001, 3)),
        ("mse", "softmax", (1001, 4)),  # softmax along each row's last axis
        ("cross_entropy", "softmax", (1001, 5)),  # softmax along the class axis of each sample
        ("nll", "softmax", (1001, 5)),
        ("mse", "softmax", (50,)),  # one softmax over the whole vector: one block
    ],
)
def test_activation_runs_block_by_block_as_in_memory(loss: str, activation: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(11)
    pred = rng.normal(size=shape) * 2
    if loss in ("cross_entropy", "nll"):
        target = rng.integers(0, shape[1], size=shape[0]).astype(float)
    else:
        target = rng.random(size=shape)
    for reduction in ("mean", "sum"):
        reference = compute(loss, pred, target, activation=activation, reduction=reduction)
        for block_rows in (7, None):
            summary, grad = evaluate(
                loss, pred, target, activation=activation, reduction=reduction, block_rows=block_rows, threads=2
            )
            assert (summary.value, summary.sum) == (reference.value, reference.sum)
            # the softmax chain cancels: entries far below the largest agree to 1e-13 of the largest
            scale = float(np.max(np.abs(reference.grad)))
            np.testing.assert_allclose(grad, reference.grad, rtol=1e-12, atol=1e-13 * scale)
            assert summary.to_dict()["activation"] == activation
