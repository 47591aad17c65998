"""Homework features: --explain, --expect, info, compare, plot and --activation."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest
from conftest import assert_usage_error, surrogate_gradient
from gradcheck import numeric_gradient

from lossctl import compute
from lossctl.errors import LossctlError
from lossctl.losses.registry import LOSSES
from lossctl.render.describe import example_argv

MSE = ["mse", "--pred", "2,3,4,5", "--target", "4,5,6,7"]
CE = ["ce", "--pred", "0.1,0.9;0.3,0.7", "--target", "1,0"]

GOLDEN_MSE = """\
mse: Mean squared error: the maximum-likelihood loss under Gaussian noise.
  ℓᵢ = (ŷᵢ − yᵢ)²
  L = (1/n) Σᵢ ℓᵢ

L = ((2 − 4)² + (3 − 5)² + (4 − 6)² + (5 − 7)²) / 4
  = (4 + 4 + 4 + 4) / 4
  = 16 / 4
  = 4

gradient:
  ∂ℓᵢ/∂ŷᵢ = 2 (ŷᵢ − yᵢ)
  ∂L/∂ŷ = (1/n) ∂ℓ/∂ŷ with n = 4
  ∂L/∂ŷ = [−1, −1, −1, −1]
"""

GOLDEN_CE_BODY = """\
sample 0: logits [0.1, 0.9], target class 1
  softmax_1 = e^0.9 / (e^0.1 + e^0.9) = 2.4596 / 3.56477 = 0.689974
  ℓ_0 = −log 0.689974 = 0.371101
sample 1: logits [0.3, 0.7], target class 0
  softmax_0 = e^0.3 / (e^0.3 + e^0.7) = 1.34986 / 3.36361 = 0.401312
  ℓ_1 = −log 0.401312 = 0.913015
L = (0.371101 + 0.913015) / 2
  = 1.28412 / 2
  = 0.642058
"""


def test_explain_golden_mse(cli) -> None:
    run = cli([*MSE, "--explain"])
    assert run.code == 0 and run.stdout == GOLDEN_MSE


def test_explain_golden_cross_entropy(cli) -> None:
    run = cli([*CE, "--explain"])
    assert run.code == 0 and GOLDEN_CE_BODY in run.stdout
    assert "[[0.155013, −0.155013], [−0.299344, 0.299344]]" in run.stdout


def test_explain_golden_l1_huber_and_margin(cli) -> None:
    l1 = cli(["l1", "--pred", "2,3,4,5", "--target", "4,5,6,7", "--explain"]).stdout
    assert "L = (|2 − 4| + |3 − 5| + |4 − 6| + |5 − 7|) / 4\n  = (2 + 2 + 2 + 2) / 4\n  = 8 / 4\n  = 2\n" in l1
    huber = cli(["huber", "--pred", "0.5,3", "--target", "0,0", "--explain"]).stdout
    assert "L = (0.5·(0.5 − 0)² + 1·(|3 − 0| − 0.5·1)) / 2\n  = (0.125 + 2.5) / 2\n  = 2.625 / 2\n  = 1.3125\n" in huber
    svm = cli(["svm", "--pred", "3.2,5.1,-1.7", "--target", "0", "--explain"]).stdout
    assert "sample 0 (class 0): ℓ = (max(0, 5.1 − 3.2 + 1) + max(0, (−1.7) − 3.2 + 1))\n  = (2.9 + 0) = 2.9" in svm


def test_explain_shows_weights_ignore_and_smoothing(cli) -> None:
    run = cli(
        [
            "ce",
            "--pred",
            "0.1,0.9;0.3,0.7;1,2",
            "--target",
            "1,0,-100",
            "--weight",
            "1,3",
            "--label-smoothing",
            "0.1",
            "--explain",
        ]
    )
    assert "label smoothing ε = 0.1" in run.stdout
    assert "target -100 = --ignore-index → ℓ_2 = 0" in run.stdout
    assert "weights of the kept targets: 3 + 1 = 4" in run.stdout


def test_explain_elides_long_inputs(cli) -> None:
    values = ",".join(str(i) for i in range(20))
    out = cli(["mse", "--pred", values, "--target", ",".join(["0"] * 20), "--explain"]).stdout
    assert "((0 − 0)² + (1 − 0)² + (2 − 0)² + … + (19 − 0)²) / 20" in out


def _last_number(text: str) -> float:
    lines = [line for line in text.splitlines() if line.strip().startswith(("=", "L ="))]
    return float(lines[-1].split("=")[-1].strip().replace("−", "-"))


@pytest.mark.parametrize("spec", list(LOSSES.values()), ids=lambda s: s.name)
def test_explain_runs_for_every_loss_and_ends_at_the_json_value(cli, spec) -> None:
    argv = example_argv(spec, spec.examples[0])
    value = cli([*argv, "-f", "json"]).json()["value"]
    run = cli([*argv, "--explain", "--precision", "10"])
    assert run.code == 0, run.stderr
    params = cli([*argv, "-f", "json"]).json()["params"]
    assert "gradient:" in run.stdout and spec.formulas(params)[0] in run.stdout
    assert _last_number(run.stdout) == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("answer", "code"),
    [("0.64", 0), ("0.6421", 0), ("0.642058", 0), ("0.65", 1), ("0.7136", 1), ("0.6", 0), ("0.643", 1)],
)
def test_expect_tolerance_follows_the_digits_typed(cli, answer: str, code: int) -> None:
    run = cli([*CE, "--expect", answer])
    assert run.code == code
    assert ("✓" if code == 0 else "✗") in run.stdout and answer in run.stdout


def test_expect_with_tol_and_machine_formats(cli) -> None:
    assert cli([*CE, "--expect", "0.65", "--tol", "0.01"]).code == 0
    assert cli([*CE, "--expect", "0.642058", "--tol", "1e-9"]).code == 1
    run = cli([*CE, "--expect", "0.7136", "-f", "value"])
    assert run.code == 1 and run.stdout == "0.6420579591738651\n" and "✗" in run.stderr
    got = cli([*MSE, "--expect", "4", "-f", "json"]).json()
    assert got["expect"] == [
        {
            "option": "--expect",
            "answer": 4.0,
            "computed": 4.0,
            "difference": 0.0,
            "tolerance": pytest.approx(4e-9),
            "reason": "an integer: exact to 1e-9 relative",
            "ok": True,
        }
    ]


def test_expect_grad(cli) -> None:
    assert cli([*MSE, "--expect-grad", "-1,-1,-1,-1"]).code == 0
    wrong = cli([*MSE, "--expect-grad", "-1,-1,-1,-2"])
    assert wrong.code == 1 and "3 of 4 entries right" in wrong.stdout
    assert "✗ 3 you -2, computed -1" in wrong.stdout
    short = cli([*MSE, "--expect-grad", "-1,-1"])
    assert short.code == 1 and "your answer has shape (2,) but the gradient has shape (4,)" in short.stdout
    assert_usage_error(cli([*MSE, "--expect", "four"]), "--expect: 'four'")
    scalar_for_none = cli([*MSE, "--expect", "4", "-r", "none"])
    assert scalar_for_none.code == 1 and "shape () but the elements have shape (4,)" in scalar_for_none.stdout


def test_info_relates_neighbours_and_gives_a_runnable_example(cli) -> None:
    for spec in LOSSES.values():
        assert spec.see_also, f"{spec.name} names no neighbours for `info`"
        assert all(name in LOSSES for name in spec.see_also)
        info = cli(["info", spec.name, "-f", "json"]).json()
        assert info["gradient"] and info["when"] and info["references"] and info["related"]
        assert cli([*shlex.split(info["example"])[1:], "-f", "value"]).code == 0, info["example"]
    text = cli(["info", "huber"]).stdout
    assert "smooth_l1" in text and "related" in text


def test_compare_shows_the_outlier_lesson(cli) -> None:
    rows = cli(
        ["compare", "--pred", "examples/outlier_pred.npy", "--target", "examples/outlier_target.npy", "-f", "json"]
    ).json()
    by_name = {row["loss"]: row for row in rows}
    assert {"mse", "l1", "huber"} <= set(by_name)
    assert by_name["mse"]["value"] > 20 * by_name["l1"]["value"]  # one outlier dominates the squared loss
    assert by_name["huber"]["grad_norm"] < by_name["mse"]["grad_norm"] / 10
    named = cli(["compare", "--pred", "1,2", "--target", "1,3", "mse", "l1", "-f", "json"]).json()
    assert [row["loss"] for row in named] == ["mse", "l1"]
    table = cli(["compare", "--pred", "0.1,0.9;0.3,0.7", "--target", "1,0"])
    assert "cross_entropy" in table.stdout and "mse" not in table.stdout


def test_plot_in_the_terminal(cli) -> None:
    pytest.importorskip("plotext")
    run = cli(["plot", "huber", "mse", "--range", "-2,2", "--set", "delta=0.5"])
    assert run.code == 0 and "huber" in run.stdout and "derivative" in run.stdout and "\x1b[" not in run.stdout
    assert_usage_error(cli(["plot", "triplet_margin"]), "no one-variable view")
    assert_usage_error(cli(["plot", "mse", "--range", "3,1"]), "--range needs A < B")
    assert_usage_error(cli(["plot", "mse", "--set", "delta=2"]), "--set: none of these losses has a parameter")


def test_plot_save_writes_a_png(cli, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "losses.png"
    run = cli(["plot", "huber", "l1", "ce", "--save", str(path)])
    assert run.code == 0
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


ELEMENTWISE_ACTIVATIONS = ("sigmoid", "tanh")


def _activation_cases():
    for spec in LOSSES.values():
        for activation in ("sigmoid", "tanh", "softmax"):
            inputs = spec.testing.sample(np.random.default_rng(4))
            pred, target = inputs.pop("pred"), inputs.pop("target", None)
            try:
                compute(spec, pred, target, activation=activation, **inputs)
            except LossctlError:
                continue  # a(z) outside this loss's domain (e.g. tanh into bce): the pair makes no sense
            yield pytest.param(spec, activation, id=f"{activation}-{spec.name}")


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "activation"), list(_activation_cases()))
def test_activation_chain_rule_against_finite_differences(spec, activation: str) -> None:
    if surrogate_gradient(spec, {}):
        pytest.skip("the declared gradient is the library's convention, not the derivative of the value")
    inputs = spec.testing.sample(np.random.default_rng(4))
    z, target = inputs.pop("pred"), inputs.pop("target", None)
    result = compute(spec, z, target, activation=activation, **inputs)

    def value(candidate: np.ndarray) -> float:
        return float(compute(spec, candidate, target, activation=activation, **inputs).value)

    np.testing.assert_allclose(result.grad, numeric_gradient(value, z), rtol=1e-5, atol=1e-7)


def test_sigmoid_lesson_mse_vanishes_cross_entropy_does_not(cli) -> None:
    mse = cli(["mse", "--pred", "-8", "--target", "1", "--activation", "sigmoid", "-f", "json"]).json()
    bce = cli(["bce", "--pred", "-8", "--target", "1", "--activation", "sigmoid", "-f", "json"]).json()
    a = 1 / (1 + np.exp(8.0))
    assert mse["grad"][0] == pytest.approx(2 * (a - 1) * a * (1 - a), rel=1e-12)  # (a − y)·σ′(z) ≈ 0
    assert bce["grad"][0] == pytest.approx(a - 1, rel=1e-12)  # a − y
    assert abs(mse["grad"][0]) < 1e-3 < abs(bce["grad"][0])
    table = cli(["mse", "--pred", "-8", "--target", "1", "--activation", "sigmoid"]).stdout
    assert re.search(r"z\s+sigmoid\(z\)\s+a′\(z\)", table)
