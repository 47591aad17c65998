"""The evaluation pipeline: results carry their declaration, the block engine keeps every gradient,
and the public ``value_and_grad`` agrees with ``compute`` for every registered loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import lossctl
from lossctl import compute, value_and_grad
from lossctl.evaluation.engine import BLOCK_ELEMENTS, THREADS, Outputs, evaluate
from lossctl.losses.registry import LOSSES
from lossctl.render.explain import explain
from lossctl.render.table import build_table, print_table

CASES = [(spec, example) for spec in LOSSES.values() for example in spec.examples]
IDS = [f"{spec.name}-{i}" for spec in LOSSES.values() for i, _ in enumerate(spec.examples)]


@pytest.mark.parametrize("name", ["mse", "huber", "cross_entropy"])
def test_a_result_keeps_an_unregistered_declaration(name: str) -> None:
    """compute() accepts a spec the registry does not hold; explaining or rendering its result must not look it up."""
    spec = dataclasses.replace(LOSSES[name], name=f"my_{name}", aliases=())
    assert f"my_{name}" not in LOSSES
    example = spec.examples[0]
    result = compute(spec, example.pred, example.target, **example.params)
    assert result.spec is spec
    assert f"my_{name}" in explain(result)
    build_table(result)
    summary, _ = evaluate(spec, example.pred, example.target, **example.params)
    assert summary.spec is spec
    print_table(summary)


def test_a_registered_result_names_its_registered_declaration() -> None:
    assert compute("mae", [1, 2], [2, 2]).spec is LOSSES["l1"]


def _random_inputs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=n), rng.normal(size=n)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("block_rows", [1, 7, 64, None])
def test_the_engine_keeps_the_variance_gradient_of_gaussian_nll(reduction: str, block_rows: int | None) -> None:
    rng = np.random.default_rng(3)
    pred, target = _random_inputs(rng, 200)
    var = rng.uniform(0.1, 2.0, size=200)
    outputs = Outputs()
    summary, grad = evaluate(
        "gaussian_nll", pred, target, var=var, reduction=reduction, outputs=outputs, block_rows=block_rows
    )
    reference = compute("gaussian_nll", pred, target, var=var, reduction=reduction)
    assert summary.value == reference.value
    np.testing.assert_allclose(grad, reference.grad, rtol=1e-13, atol=1e-300)
    assert set(outputs.extra_grads) == set(reference.extra_grads) == {"var"}
    np.testing.assert_allclose(outputs.extra_grads["var"], reference.extra_grads["var"], rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("var_shape", [(50,), (50, 1)])
def test_the_engine_keeps_the_gradient_of_one_variance_per_row(var_shape: tuple[int, ...]) -> None:
    """One variance per row (broadcast over the last axis) is cut into blocks with the rows."""
    rng = np.random.default_rng(4)
    pred, target = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    var = rng.uniform(0.5, 1.5, size=var_shape)
    outputs = Outputs()
    evaluate("gaussian_nll", pred, target, var=var, outputs=outputs, block_rows=8)
    reference = compute("gaussian_nll", pred, target, var=var)
    np.testing.assert_allclose(outputs.extra_grads["var"], reference.extra_grads["var"], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_engine_keeps_the_second_prediction_gradient_of_margin_ranking(reduction: str) -> None:
    rng = np.random.default_rng(5)
    pred, pred2 = _random_inputs(rng, 300)
    target = rng.choice([-1.0, 1.0], size=300)
    outputs = Outputs()
    evaluate(
        "margin_ranking", pred, target, pred2=pred2, margin=0.3, reduction=reduction, outputs=outputs, block_rows=16
    )
    reference = compute("margin_ranking", pred, target, pred2=pred2, margin=0.3, reduction=reduction)
    assert set(outputs.extra_grads) == {"pred2"}
    np.testing.assert_allclose(outputs.extra_grads["pred2"], reference.extra_grads["pred2"], rtol=1e-13)


@pytest.mark.parametrize(("spec", "example"), CASES, ids=IDS)
def test_value_and_grad_agrees_with_compute(spec, example) -> None:
    """Same value (sums are exact, so bit for bit) and the same gradient, for every declared example."""
    options = {"reduction": example.reduction, **example.params}
    reference = compute(spec.name, example.pred, example.target, **options)
    value, grad = value_and_grad(spec.name, example.pred, example.target, **options)
    if example.reduction == "none":
        np.testing.assert_array_equal(value, reference.value)
    else:
        assert value == reference.value or (np.isnan(value) and np.isnan(reference.value))
    np.testing.assert_allclose(grad, reference.grad, rtol=1e-12, atol=1e-300)


def test_value_and_grad_is_public_and_validates_like_compute() -> None:
    assert "value_and_grad" in lossctl.__all__
    with pytest.raises(lossctl.errors.InputError, match="--target has 3 values but --pred has 4"):
        value_and_grad("mse", [1, 2, 3, 4], [1, 2, 3])
    with pytest.raises(lossctl.errors.InputError, match="must be finite"):
        value_and_grad("mse", [1, np.nan], [1, 2])
    with pytest.raises(lossctl.errors.ParameterError, match="--reduction"):
        value_and_grad("mse", [1, 2], [1, 2], reduction="median")


@pytest.mark.parametrize("name", ["mse", "huber", "l1"])
def test_value_and_grad_builds_no_per_element_array(name: str) -> None:
    """Peak extra memory: the gradient and a few cache-sized blocks, not elements beside it (compute keeps them)."""
    import tracemalloc

    rng = np.random.default_rng(6)
    pred, target = _random_inputs(rng, 1 << 22)
    nbytes = pred.nbytes
    blocks = 12 * 8 * BLOCK_ELEMENTS * THREADS  # a dozen block-sized temporaries on each thread
    tracemalloc.start()
    try:
        value_and_grad(name, pred, target)
        _, lean = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        compute(name, pred, target)
        _, full = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lean < nbytes + blocks < 2 * nbytes <= full


@pytest.mark.parametrize("threads", [1, 4])
def test_exact_sums_of_many_chunks_are_exact_on_any_thread(threads: int) -> None:
    """Several CHUNKs of values spread over 600 orders of magnitude, summed on per-thread scratch buffers."""
    import math
    from concurrent.futures import ThreadPoolExecutor

    from lossctl.evaluation.exact import CHUNK, ExactSum

    rng = np.random.default_rng(7)
    arrays = [rng.normal(size=3 * CHUNK + 11) * 10.0 ** rng.integers(-300, 300, size=3 * CHUNK + 11) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        sums = list(pool.map(lambda a: ExactSum().add(a).rounded(), arrays))
    assert sums == [math.fsum(a.tolist()) for a in arrays]


@pytest.mark.parametrize(
    ("loss", "pred", "target", "options"),
    [
        ("tv", [[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], {}),  # takes no target
        ("triplet_margin", [[1.0, 2.0]], [[1.0, 2.0]], {"positive": [[1.0, 2.0]], "negative": [[0.0, 1.0]]}),
        ("mse", [1.0, 2.0], None, {}),  # needs a target
        ("gaussian_nll", [1.0, 2.0], [1.0, 2.0], {}),  # needs --var
        ("mse", [1.0, 2.0], [1.0, 2.0], {"dtype": "float16"}),
        ("mse", [1.0, 2.0], [1.0, 2.0], {"activation": "relu"}),
        ("mse", [1.0, 2.0], [1.0, 2.0], {"nope": 1.0}),
    ],
)
def test_both_paths_refuse_with_the_same_message(loss: str, pred, target, options) -> None:
    """The checks live in one place: the in-memory and the block paths say the same thing."""
    with pytest.raises(lossctl.errors.LossctlError) as in_memory:
        compute(loss, pred, target, **options)
    with pytest.raises(lossctl.errors.LossctlError) as blockwise:
        evaluate(loss, np.asarray(pred), None if target is None else np.asarray(target), **options)
    assert str(in_memory.value) == str(blockwise.value)
    assert type(in_memory.value) is type(blockwise.value)
