"""The Python API with Dask arrays and Dask DataFrame columns (lossctl.evaluation.dask_arrays).

Every result is compared with ``lossctl.compute`` on the same NumPy arrays: value, sum, mean and count
bit for bit whatever the chunking; the lazy elements and gradient to rounding (bit for bit where the
evaluation is the same element-wise arithmetic).  These run on Dask's local threads; tests/test_dask.py
runs the same API on a LocalCluster of worker processes.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import lossctl
from lossctl.errors import InputError, ParameterError

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

RNG = np.random.default_rng(17)
N = 1_003
PRED = RNG.normal(size=N) * 2
TARGET = RNG.normal(size=N)
LABELS = (RNG.uniform(size=N) > 0.5).astype(float)
WEIGHT = RNG.uniform(0.1, 2.0, size=N)


def assert_same_reductions(result, reference):
    assert (result.value, result.sum, result.mean, result.count) == (
        reference.value,
        reference.sum,
        reference.mean,
        reference.count,
    )


CASES = [
    ("mse", PRED, TARGET, {}),
    ("huber", PRED, TARGET, {"delta": 0.7}),
    ("l1", PRED, TARGET, {}),
    ("smooth_l1", PRED, TARGET, {"beta": 0.3}),
    ("bce_with_logits", PRED, LABELS, {}),
    ("log_cosh", PRED, TARGET, {}),
]


@pytest.mark.parametrize(("loss", "pred", "target", "params"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunks", [(100, 100), (1003, 50), (7, 333)], ids=["same", "whole-pred", "odd"])
def test_dask_arrays_equal_compute_bit_for_bit(loss, pred, target, params, reduction, chunks):
    reference = lossctl.compute(loss, pred, target, reduction=reduction, **params)
    dask_pred, dask_target = da.from_array(pred, chunks=chunks[0]), da.from_array(target, chunks=chunks[1])
    result = lossctl.compute(loss, dask_pred, dask_target, reduction=reduction, **params)
    assert_same_reductions(result, reference)
    assert result.rows == N and result.to_dict()["value"] == reference.value
    np.testing.assert_array_equal(result.elements.compute(), reference.elements)
    np.testing.assert_allclose(result.grad.compute(), reference.grad, rtol=1e-13, atol=0)


@pytest.mark.parametrize("partitions", [1, 4, 9])
def test_dask_dataframe_columns_equal_compute(partitions):
    frame = dd.from_pandas(pd.DataFrame({"y_hat": PRED, "y": TARGET, "w": WEIGHT}), npartitions=partitions)
    for params in ({}, {"weight": frame["w"]}):
        reference = lossctl.compute("mse", PRED, TARGET, **({"weight": WEIGHT} if params else {}))
        result = lossctl.compute("mse", frame["y_hat"], frame["y"], **params)
        assert_same_reductions(result, reference)
        np.testing.assert_array_equal(result.elements.compute(), reference.elements)
        np.testing.assert_array_equal(result.grad.compute(), reference.grad)


def test_mixed_inputs_numpy_target_dask_weight_and_a_series_against_an_array():
    reference = lossctl.compute("l1", PRED, TARGET, weight=WEIGHT, reduction="sum")
    by_numpy_target = lossctl.compute(
        "l1", da.from_array(PRED, chunks=64), TARGET, weight=da.from_array(WEIGHT, chunks=500), reduction="sum"
    )
    assert_same_reductions(by_numpy_target, reference)
    series = dd.from_pandas(pd.Series(PRED), npartitions=5)  # unknown partition sizes: found, then rechunked
    by_series = lossctl.compute("l1", series, da.from_array(TARGET, chunks=200), weight=WEIGHT, reduction="sum")
    assert_same_reductions(by_series, reference)


def test_per_row_losses_class_indices_and_shared_class_weights():
    logits = RNG.normal(size=(N, 5))
    labels = RNG.integers(0, 5, size=N)
    class_weight = np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    for params in ({}, {"label_smoothing": 0.1}):
        reference = lossctl.compute("cross_entropy", logits, labels, **params)
        result = lossctl.compute("cross_entropy", da.from_array(logits, chunks=(128, 2)), labels, **params)
        assert_same_reductions(result, reference)
        assert result.elements.shape == (N,) and result.grad.shape == (N, 5)
        np.testing.assert_allclose(result.grad.compute(), reference.grad, rtol=1e-12, atol=1e-18)
    for reduction in ("mean", "sum"):  # a weighted mean divides by the weights of the targets (shared tensor)
        reference = lossctl.compute("cross_entropy", logits, labels, weight=class_weight, reduction=reduction)
        result = lossctl.compute(
            "cross_entropy", da.from_array(logits, chunks=(100, 5)), labels, weight=class_weight, reduction=reduction
        )
        assert_same_reductions(result, reference)
        np.testing.assert_allclose(result.grad.compute(), reference.grad, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_activations_chain_the_scaled_gradient_as_compute_does(activation):
    target = LABELS if activation == "sigmoid" else TARGET
    loss = "bce" if activation == "sigmoid" else "mse"
    reference = lossctl.compute(loss, PRED, target, activation=activation)
    result = lossctl.compute(loss, da.from_array(PRED, chunks=90), target, activation=activation)
    assert_same_reductions(result, reference)
    np.testing.assert_array_equal(result.grad.compute(), reference.grad)


def test_value_and_grad_returns_the_exact_value_and_a_lazy_gradient():
    value, grad = lossctl.value_and_grad("huber", da.from_array(PRED, chunks=77), da.from_array(TARGET, chunks=77))
    expected_value, expected_grad = lossctl.value_and_grad("huber", PRED, TARGET)
    assert value == expected_value
    assert type(grad).__module__.startswith("dask") and grad.shape == PRED.shape
    np.testing.assert_array_equal(grad.compute(), expected_grad)


def test_refusals_name_the_problem():
    pred = da.from_array(PRED, chunks=100)
    with pytest.raises(ParameterError, match=r"reduction='none'.*result\.elements"):
        lossctl.compute("mse", pred, TARGET, reduction="none")
    with pytest.raises(InputError, match="--target has 1002 rows but pred has 1003"):
        lossctl.compute("mse", pred, da.from_array(TARGET[:-1], chunks=100))
    with pytest.raises(InputError, match="--target has 5 rows but pred has 1003"):
        lossctl.compute("mse", pred, TARGET[:5])
    bad = PRED.copy()
    bad[250] = np.nan
    with pytest.raises(InputError, match=r"--pred\[250\] is nan.*block 2, rows 201–300 of the Dask array"):
        lossctl.compute("mse", da.from_array(bad, chunks=100), TARGET)
    images = RNG.uniform(size=(4, 1, 8, 8))
    with pytest.raises(ParameterError, match="data_range="):
        lossctl.compute("psnr", da.from_array(images, chunks=2), images)


def test_partitions_of_different_lengths_are_named():
    pred = dd.from_pandas(pd.Series(PRED), npartitions=3)
    target = dd.from_pandas(pd.Series(TARGET), npartitions=3).repartition(divisions=[0, 10, 600, N - 1])
    with pytest.raises(
        InputError, match=r"--target has \d+ rows but pred has \d+ in partition \d of the Dask collection"
    ):
        lossctl.compute("mse", pred, target)


def test_numpy_callers_never_import_dask():
    code = (
        "import sys, lossctl, numpy as np; lossctl.compute('mse', [1, 2], [1, 3]);"
        " lossctl.value_and_grad('mse', np.ones(3), np.zeros(3)); print('dask' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
