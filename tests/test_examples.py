"""Worked examples declared on each loss, through the Python API and through the CLI JSON."""

from __future__ import annotations

import numpy as np
import pytest

from lossctl import compute
from lossctl.losses.registry import LOSSES
from lossctl.render.describe import example_argv

CASES = [(spec, example) for spec in LOSSES.values() for example in spec.examples]
IDS = [f"{spec.name}-{i}" for spec in LOSSES.values() for i, _ in enumerate(spec.examples)]


def _check(got: dict, example) -> None:
    np.testing.assert_allclose(got["value"], example.value, rtol=1e-12, atol=1e-15)
    if example.sum is not None:
        np.testing.assert_allclose(got["sum"], example.sum, rtol=1e-12, atol=1e-15)
    if example.elements is not None:
        np.testing.assert_allclose(got["elements"], example.elements, rtol=1e-12, atol=1e-15)
    if example.grad is not None:
        np.testing.assert_allclose(got["grad"], example.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("spec", "example"), CASES, ids=IDS)
def test_example_through_api(spec, example) -> None:
    result = compute(spec.name, example.pred, example.target, reduction=example.reduction, **example.params)
    _check(result.to_dict(), example)


@pytest.mark.parametrize(("spec", "example"), CASES, ids=IDS)
def test_example_through_cli_json(cli, spec, example) -> None:
    got = cli([*example_argv(spec, example), "--format", "json"]).json()
    assert got["loss"] == spec.name
    _check(got, example)


def test_teaching_examples_exactly(cli) -> None:
    """The numbers of the teaching material, spelled out once more by hand."""
    l1 = cli(["l1", "--pred", "2,3,4,5", "--target", "4,5,6,7", "-f", "json"]).json()
    assert (l1["value"], l1["sum"]) == (2.0, 8.0)
    mse = cli(["mse", "--pred", "2,3,4,5", "--target", "4,5,6,7", "-f", "json"]).json()
    assert (mse["value"], mse["elements"], mse["grad"]) == (4.0, [4.0] * 4, [-1.0] * 4)
    assert cli(["mae", "--pred", "1,2,3,4", "--target", "1.5,2.5,3.5,4.5", "-f", "value"]).stdout == "0.5\n"
    assert cli(["l2", "--pred", "1,2,3,4", "--target", "1.5,2.5,3.5,4.5", "-f", "value"]).stdout == "0.25\n"
    matrix = cli(["mse", "--pred", "[[1,2],[3,4]]", "--target", "[[3,5],[8,6]]", "-f", "json"]).json()
    assert matrix["elements"] == [[4.0, 9.0], [25.0, 4.0]]
    assert (matrix["sum"], matrix["mean"], matrix["shape"]) == (42.0, 10.5, [2, 2])
