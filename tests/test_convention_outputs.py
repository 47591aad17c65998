"""torchmetrics' hinge losses and scores, and values given one per output (raw_values, num_outputs, one-vs-all).

The libraries' docstring numbers (no library needed), how a vector value renders (JSON list, one line per
output with --format value, a "value (per output)" row in the table, refused by --expect and shown as an
error row by --convention all), and edges where torchmetrics and scikit-learn part ways.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_usage_error, run_cli
from test_conventions import _value

MULTI_PRED = [[0, 2], [-1, 2], [8, -5]]
MULTI_TARGET = [[0.5, 1], [-1, 1], [7, -6]]
HINGE_PRED = [[0.25, 0.20, 0.55], [0.55, 0.05, 0.40], [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]]
HINGE_LOGITS = [[-1.0, 0.9, 0.2], [0.5, -1.1, 0.8], [2.2, -0.5, 0.3]]
HINGE = "torchmetrics/functional/classification/hinge.py"
REGRESSION = "torchmetrics/functional/regression"

DOCSTRINGS = [
    # (library, name, pred, target, settings, expected, source)
    ("torchmetrics", "binary_hinge_loss", [0.25, 0.25, 0.55, 0.75, 0.75], [0, 0, 1, 1, 1], {}, 0.69, f"{HINGE}:107"),
    (
        "torchmetrics",
        "binary_hinge_loss",
        [0.25, 0.25, 0.55, 0.75, 0.75],
        [0, 0, 1, 1, 1],
        {"squared": "true"},
        0.6905,
        f"{HINGE}:109",
    ),
    ("torchmetrics", "binary_hinge_loss", [0.5, 0.7, 0.1], [0, 1, 1], {}, 0.9, f"{HINGE}:268 (hinge_loss legacy)"),
    ("torchmetrics", "multiclass_hinge_loss", HINGE_PRED, [0, 1, 2, 0], {}, 0.9125, f"{HINGE}:232"),
    ("torchmetrics", "multiclass_hinge_loss", HINGE_PRED, [0, 1, 2, 0], {"squared": "true"}, 1.1131, f"{HINGE}:234"),
    (
        "torchmetrics",
        "multiclass_hinge_loss",
        HINGE_PRED,
        [0, 1, 2, 0],
        {"multiclass_mode": "one-vs-all"},
        [0.875, 1.125, 1.1],
        f"{HINGE}:236",
    ),
    ("torchmetrics", "multiclass_hinge_loss", HINGE_LOGITS, [0, 1, 2], {}, 1.5551, f"{HINGE}:272 (logits: softmax)"),
    (
        "torchmetrics",
        "multiclass_hinge_loss",
        HINGE_LOGITS,
        [0, 1, 2],
        {"multiclass_mode": "one-vs-all"},
        [1.3743, 1.1945, 1.2359],
        f"{HINGE}:276",
    ),
    ("torchmetrics", "r2_score", [2.5, 0.0, 2, 8], [3, -0.5, 2, 7], {}, 0.9486, f"{REGRESSION}/r2.py:165"),
    (
        "torchmetrics",
        "r2_score",
        MULTI_PRED,
        MULTI_TARGET,
        {"multioutput": "raw_values"},
        [0.9654, 0.9082],
        f"{REGRESSION}/r2.py:170",
    ),
    (
        "torchmetrics",
        "explained_variance",
        [2.5, 0.0, 2, 8],
        [3, -0.5, 2, 7],
        {},
        0.9572,
        f"{REGRESSION}/explained_variance.py:124",
    ),
    (
        "torchmetrics",
        "explained_variance",
        MULTI_PRED,
        MULTI_TARGET,
        {"multioutput": "raw_values"},
        [0.9677, 1.0],
        f"{REGRESSION}/explained_variance.py:129",
    ),
    ("torchmetrics", "mean_squared_error", [0, 1, 2, 3], [0, 1, 2, 2], {}, 0.25, f"{REGRESSION}/mse.py:77"),
    (
        "torchmetrics",
        "mean_squared_error",
        [0, 1, 2, 3],
        [0, 1, 2, 2],
        {"squared": "false"},
        0.5,
        "mse.py:58: the root of mse.py:77's 0.25",
    ),
    (
        "sklearn",
        "mean_absolute_error",
        MULTI_PRED,
        MULTI_TARGET,
        {"multioutput": "raw_values"},
        [0.5, 1.0],
        "sklearn/metrics/_regression.py:276-277 mean_absolute_error docstring array([0.5, 1. ])",
    ),
    (
        "sklearn",
        "r2_score",
        MULTI_PRED,
        MULTI_TARGET,
        {"multioutput": "variance_weighted"},
        0.938,
        "sklearn/metrics/_regression.py:1254-1258 r2_score docstring 0.938…",
    ),
    (
        "sklearn",
        "explained_variance_score",
        [-2, -2, -2 + 1e-8],
        [-2, -2, -2],
        {},
        0.0,
        "sklearn/metrics/_regression.py:1106-1109 explained_variance_score docstring (force_finite: 0.0)",
    ),
]


@pytest.mark.parametrize(("library", "name", "pred", "target", "settings", "expected", "source"), DOCSTRINGS)
def test_docstring_examples(library, name, pred, target, settings, expected, source):
    result = _value(library, name, np.array(pred, float), np.array(target, float), **settings)
    np.testing.assert_allclose(np.atleast_1d(result.value), np.atleast_1d(expected), atol=5e-4, err_msg=source)


def test_binary_hinge_reads_logits_only_when_a_prediction_leaves_0_1():
    """compute.py:233: probabilities as given; one value outside [0, 1] turns every value into a logit."""
    target = np.array([0.0, 1.0, 1.0])
    probabilities = _value("torchmetrics", "binary_hinge_loss", np.array([0.2, 0.7, 0.4]), target)
    assert float(probabilities.value) == pytest.approx((1.2 + 0.3 + 0.6) / 3, rel=1e-12)
    logits = np.array([0.2, 0.7, 1.5])
    sig = 1 / (1 + np.exp(-logits))
    expected = (1 + sig[0] + (1 - sig[1]) + (1 - sig[2])) / 3
    assert float(_value("torchmetrics", "binary_hinge_loss", logits, target).value) == pytest.approx(expected)


def test_r2_zero_tests_part_ways_with_scikit_learn():
    """torchmetrics r2.py:84-89 counts |rss| ≤ 1e-4 as 0 (score 1); scikit-learn tests exactly 0 (score 0 here)."""
    pred, target = np.array([1.0, 1.0, 1.001]), np.array([1.0, 1.0, 1.0])
    assert float(_value("torchmetrics", "r2_score", pred, target).value) == 1.0
    assert float(_value("sklearn", "r2_score", pred, target).value) == 0.0


def test_adjusted_r2():
    """r2.py:105-117: 1 − (1 − R²)(n − 1)/(n − k − 1); k ≥ n − 1 falls back to R²."""
    pred, target = np.array([2.5, 0.0, 2, 8, 4.2]), np.array([3, -0.5, 2, 7, 4.0])
    plain = float(_value("torchmetrics", "r2_score", pred, target).value)
    adjusted = float(_value("torchmetrics", "r2_score", pred, target, adjusted="2").value)
    assert adjusted == pytest.approx(1 - (1 - plain) * 4 / 2, rel=1e-12)
    assert float(_value("torchmetrics", "r2_score", pred, target, adjusted="4").value) == pytest.approx(plain)


# --- one value per output on the command line -------------------------------------------------------------

RAW = [
    "mean_absolute_error",
    "--convention",
    "sklearn",
    "--pred",
    str(MULTI_PRED),
    "--target",
    str(MULTI_TARGET),
    "--set",
    "multioutput=raw_values",
]


def test_raw_values_render_as_a_list_one_line_each_and_a_table_row():
    out = run_cli([*RAW, "-f", "json"]).json()
    assert out["value"] == [0.5, 1.0]
    assert out["params"]["multioutput"] == "raw_values"
    assert np.allclose(np.sum(out["grad"], axis=0), [0.0, 1.0])  # the gradient of the values' sum, per column
    assert run_cli([*RAW, "-f", "value"]).stdout == "0.5\n1.0\n"
    table = run_cli(RAW)
    assert table.code == 0 and "value (per output)" in table.stdout and "0.5  1" in table.stdout


def test_raw_values_refuse_what_needs_one_number():
    assert_usage_error(run_cli([*RAW, "--expect", "0.75"]), "--expect", "one per output")
    assert_usage_error(run_cli([*RAW, "--reduction", "none"]), "--reduction")
    rows = run_cli([*RAW[:1], *RAW[3:], "--convention", "all", "-f", "json"]).json()["conventions"]
    sklearn = next(row for row in rows if row["convention"] == "sklearn")
    assert sklearn["value"] is None and "one value per output" in sklearn["error"]


def test_one_vs_all_and_num_outputs_give_one_value_per_column():
    ova = ["multiclass_hinge_loss", "--convention", "torchmetrics", "--pred", str(HINGE_PRED), "--target", "0,1,2,0"]
    out = run_cli([*ova, "--set", "multiclass_mode=one-vs-all", "-f", "json"]).json()
    assert out["value"] == pytest.approx([0.875, 1.125, 1.1])
    mse = ["mse", "--convention", "torchmetrics", "--pred", str(MULTI_PRED), "--target", str(MULTI_TARGET)]
    per_column = run_cli([*mse, "--set", "num_outputs=2", "-f", "json"]).json()["value"]
    assert per_column == pytest.approx([(0.25 + 0 + 1) / 3, (1 + 1 + 1) / 3])
    assert_usage_error(
        run_cli(["mse", "--convention", "torchmetrics", "--pred", "1,2", "--target", "0,0", "--set", "num_outputs=2"]),
        "num_outputs",
    )


def test_shared_names_need_the_convention():
    """multiclass_hinge_loss is optax's and torchmetrics': without --convention it is PyTorch's (lossctl's)."""
    args = ["multiclass_hinge_loss", "--pred", str(HINGE_PRED), "--target", "0,1,2,0", "-f", "json"]
    assert "convention" not in run_cli(args).json()
    assert run_cli([*args, "--convention", "optax"]).json()["convention"] == "optax"


# --- --explain under a convention ---------------------------------------------------------------------------


def test_explain_states_the_library_rule_and_its_reduction():
    args = ["mse", "--convention", "sklearn", "--pred", "[[1,2],[3,4]]", "--target", "[[0,0],[1,1]]"]
    run = run_cli([*args, "--sample-weight", "1,3", "--explain"])
    assert run.code == 0
    text = run.stdout
    assert "under scikit-learn's convention" in text and "_regression.py:524, 586-602" in text
    assert "np.average per output" in text
    assert "0.125·1 + 0.125·4 + 0.375·4 + 0.375·9" in text and "= 5.5" in text
    keras = run_cli(["MeanSquaredError", "--pred", "[[1,2],[3,4]]", "--target", "[[0,0],[1,1]]", "--explain"])
    assert "n the number of losses even with weights" in keras.stdout and "0.5·2.5 + 0.5·6.5" in keras.stdout


def test_explain_in_json_and_beside_machine_formats():
    args = ["BinaryCrossentropy", "--pred", "[[0.2,0.7],[0.9,0.4]]", "--target", "[[0,1],[1,0]]", "--explain"]
    out = run_cli([*args, "-f", "json"]).json()
    assert any("clips p to [1e-7" in line for line in out["explain"])
    assert out["value"] == pytest.approx(run_cli([*args[:-1], "-f", "json"]).json()["value"])
    value = run_cli([*args, "-f", "value"])
    assert value.stdout.count("\n") == 1 and "sum_over_batch_size" in value.stderr


def test_explain_refused_where_it_would_not_be_a_reduction():
    assert_usage_error(run_cli([*RAW, "--explain"]), "--explain", "one per output")
    assert_usage_error(
        run_cli(["Dice", "--pred", "0.2,0.9", "--target", "0,1", "--explain"]), "--explain", "whole-column"
    )
    assert_usage_error(run_cli(["bce", "--convention", "all", "--pred", "0.5", "--target", "1", "--explain"]), "all")


def test_pytorch_layout_options_say_what_to_use_instead():
    keras = ["BinaryCrossentropy", "--pred", "0.5,2", "--target", "1,0"]
    assert_usage_error(run_cli([*keras, "--activation", "sigmoid"]), "--activation", "from_logits")
    assert_usage_error(
        run_cli(["Dice", "--pred", "[[0.2,0.8]]", "--target", "[[0,1]]", "--channels-last"]),
        "--channels-last",
        "axis",
    )
    assert_usage_error(
        run_cli(
            [
                "cross_entropy",
                "--convention",
                "keras",
                "--pred",
                "[[0.2,0.8]]",
                "--target",
                "[[0,1]]",
                "--weight",
                "1,2",
            ]
        ),
        "--weight",
        "PyTorch's parameter",
    )
