"""Classification losses through the CLI: the teaching examples, the table, and input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl import compute

LOGITS_2 = "0.1,0.9;0.3,0.7"
LOGITS_3 = "0.1,0.2,0.7;0.3,0.4,0.3"


def neg_log_softmax(logits: list[float], k: int) -> float:
    """−log(e^x_k / Σ e^x): the hand computation, in plain Python."""
    return math.log(sum(math.exp(x) for x in logits)) - logits[k]


def test_teaching_cross_entropy_examples(cli) -> None:
    # Hand: −log softmax. The article prints 0.7136 and 1.4076 for these; both are wrong.
    got = cli(["cross_entropy", "--pred", LOGITS_2, "--target", "1,0", "-f", "json"]).json()
    expected = (neg_log_softmax([0.1, 0.9], 1) + neg_log_softmax([0.3, 0.7], 0)) / 2
    assert got["value"] == pytest.approx(expected, rel=1e-15)
    assert round(got["value"], 7) == 0.6420580 and round(got["sum"], 7) == 1.2841159
    got = cli(["ce", "--pred", LOGITS_3, "--target", "2,1", "-f", "json"]).json()
    expected = (neg_log_softmax([0.1, 0.2, 0.7], 2) + neg_log_softmax([0.3, 0.4, 0.3], 1)) / 2
    assert got["value"] == pytest.approx(expected, rel=1e-15)
    assert round(got["value"], 7) == 0.9005092
    assert abs(got["value"] - 1.4076) > 0.5 and abs(0.6420580 - 0.7136) > 0.07


def test_gradient_is_softmax_minus_one_hot_over_n(cli) -> None:
    got = cli(["ce", "--pred", LOGITS_2, "--target", "1,0", "-f", "json"]).json()
    p = np.exp([[0.1, 0.9], [0.3, 0.7]])
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got["grad"], (p - np.eye(2)[[1, 0]]) / 2, rtol=1e-14)


def test_table_teaches_the_softmax(cli) -> None:
    run = cli(["ce", "--pred", LOGITS_2, "--target", "1,0"])
    assert run.code == 0
    assert "p(class)" in run.stdout and "softmax" in run.stdout
    assert "0.689974" in run.stdout and "[0.310026, 0.689974]" in run.stdout


def test_single_sample_of_logits_and_4d_layout(cli) -> None:
    got = cli(["ce", "--pred", "1,2,3", "--target", "2", "-f", "json"]).json()
    assert got["value"] == pytest.approx(neg_log_softmax([1.0, 2.0, 3.0], 2), rel=1e-15)
    logits = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2) / 10
    target = np.array([[[0, 1], [2, 0]], [[1, 1], [2, 2]]], dtype=float)
    result = compute("ce", logits, target)
    assert result.elements.shape == (2, 2, 2) and result.grad.shape == logits.shape
    manual = np.mean(
        [
            neg_log_softmax(list(logits[n, :, i, j]), int(target[n, i, j]))
            for n in range(2)
            for i in range(2)
            for j in range(2)
        ]
    )
    assert result.value == pytest.approx(manual, rel=1e-14)


def test_weighted_mean_divides_by_weights_of_kept_targets() -> None:
    weight = [0.5, 2.0]
    result = compute("ce", [[0.1, 0.9], [0.3, 0.7], [1.0, -1.0]], [1, 0, -100], weight=weight)
    terms = [2.0 * neg_log_softmax([0.1, 0.9], 1), 0.5 * neg_log_softmax([0.3, 0.7], 0)]
    assert result.value == pytest.approx(sum(terms) / 2.5, rel=1e-14)
    assert result.count == 2.5 and not result.grad[2].any()


def test_label_smoothing_by_hand() -> None:
    eps = 0.2
    result = compute("ce", [[0.1, 0.9]], [1], label_smoothing=eps)
    expected = (1 - eps) * neg_log_softmax([0.1, 0.9], 1) + eps / 2 * (
        neg_log_softmax([0.1, 0.9], 0) + neg_log_softmax([0.1, 0.9], 1)
    )
    assert result.value == pytest.approx(expected, rel=1e-14)


def test_bce_table_shows_log_terms(cli) -> None:
    run = cli(["bce", "--pred", "0.9,0.2", "--target", "1,0"])
    assert run.code == 0 and "log p" in run.stdout and "log(1−p)" in run.stdout


def test_probability_rows_that_do_not_sum_to_one_warn(cli) -> None:
    run = cli(["ce", "--pred", LOGITS_2, "--target", "0.5,0.4;0,1", "-f", "value"])
    assert run.code == 0 and run.stdout.strip()
    assert run.stderr.startswith("warning: --target row [0] sums to 0.9")


def test_kl_div_batchmean(cli) -> None:
    got = cli(
        [
            "kl_div",
            "--pred",
            "[[-0.6931471805599453,-0.6931471805599453]]",
            "--target",
            "[[0.25,0.75]]",
            "-r",
            "batchmean",
            "-f",
            "json",
        ]
    ).json()
    assert got["value"] == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel=1e-15)


def test_gaussian_nll_reports_grad_var(cli) -> None:
    got = cli(["gaussian_nll", "--pred", "1,2", "--target", "1,4", "--var", "1,2", "-f", "json"]).json()
    # ½ (1/σ² − e²/σ⁴) per element, divided by n = 2 for the mean
    assert got["grad_var"] == pytest.approx([0.5 * (1 / 1 - 0 / 1) / 2, 0.5 * (1 / 2 - 4 / 4) / 2], rel=1e-15)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["ce", "--pred", LOGITS_2, "--target", "1,2"], ["--target must be class indices from 0 to 1", "[1] is 2"]),
        (["ce", "--pred", LOGITS_2, "--target", "-1,0"], ["--target must be class indices", "[0] is -1"]),
        (["ce", "--pred", LOGITS_2, "--target", "1,0.5"], ["whole-number class indices"]),
        (["ce", "--pred", LOGITS_2, "--target", "1,0,1"], ["--target has shape (3,)", "class indices of shape (2,)"]),
        (["ce", "--pred", LOGITS_2, "--target", "1,0", "--weight", "1,2,3"], ["--weight has 3 values", "2 classes"]),
        (
            ["ce", "--pred", LOGITS_2, "--target", "1,0", "--label-smoothing", "2"],
            ["--label-smoothing must be in [0, 1]"],
        ),
        (["ce", "--pred", LOGITS_2, "--target", "-100,-100"], ["every --target equals --ignore-index"]),
        (["ce", "--pred", LOGITS_2, "--target", "0.5,0.5;2,-1"], ["probabilities in [0, 1]"]),
        (["nll", "--pred", LOGITS_2, "--target", "0.5,0.5;0.5,0.5"], ["nll needs class indices"]),
        (
            ["bce", "--pred", "0.5,1.2", "--target", "1,0"],
            ["--pred must be probabilities in [0, 1]", "bce_with_logits"],
        ),
        (["bce", "--pred", "0.5,0.2", "--target", "1,2"], ["--target must be in [0, 1]"]),
        (["bce", "--pred", "0.5,0.2", "--target", "1,0", "--weight", "1,2,3"], ["--weight has shape (3,)"]),
        (["kl_div", "--pred", "-1,-1", "--target", "0.5,-0.5"], ["--target must be probabilities ≥ 0"]),
        (["poisson_nll", "--pred", "1,1", "--target", "1,-2"], ["--target must be counts ≥ 0"]),
        (["poisson_nll", "--pred", "-1,1", "--target", "1,2", "--no-log-input"], ["--pred must be a rate ≥ 0"]),
        (["gaussian_nll", "--pred", "1,2", "--target", "1,4", "--var", "1,-2"], ["--var must be variances ≥ 0"]),
        (["gaussian_nll", "--pred", "1,2", "--target", "1,4"], ["gaussian_nll needs --var"]),
        (["gaussian_nll", "--pred", "1,2", "--target", "1,4", "--var", "1,2,3"], ["--var has shape (3,)"]),
        (["soft_margin", "--pred", "1,2", "--target", "1,0"], ["--target must be labels −1 or 1"]),
        (["focal", "--pred", "1,2", "--target", "1,0", "--gamma", "-1"], ["--gamma must be in [0, inf)"]),
    ],
)
def test_classification_input_errors(cli, args, fragments) -> None:
    assert_usage_error(cli(args), *fragments)
