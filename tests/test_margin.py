"""Margin losses through the CLI: the three multiclass forms on the course-notes scores, and errors."""

from __future__ import annotations

import pytest
from conftest import assert_usage_error

CAT, FROG = "3.2,5.1,-1.7", "2.2,2.5,-3.1"

# Expected values: Stanford CS231n linear-classification notes, recomputed by hand.
#   Weston–Watkins: cat max(0, 5.1−3.2+1) + max(0, −1.7−3.2+1) = 2.9; frog 6.3 + 6.6 = 12.9
#   PyTorch MultiMarginLoss divides by C = 3: 0.9667, 4.3
#   Crammer–Singer keeps the largest wrong score: cat 1 + 5.1 − 3.2 = 2.9; frog 1 + 2.5 + 3.1 = 6.6
MULTICLASS = [
    ("multiclass_hinge", CAT, "0", 2.9),
    ("multiclass_hinge", FROG, "2", 12.9),
    ("multi_margin", CAT, "0", 2.9 / 3),
    ("multi_margin", FROG, "2", 4.3),
    ("categorical_hinge", CAT, "0", 2.9),
    ("categorical_hinge", FROG, "2", 6.6),
    ("svm", f"{CAT};{FROG}", "0,2", (2.9 + 12.9) / 2),
    ("categorical_hinge", f"{CAT};{FROG}", "1,0,0;0,0,1", (2.9 + 6.6) / 2),
]


@pytest.mark.parametrize(("loss", "pred", "target", "expected"), MULTICLASS)
def test_multiclass_forms_on_course_examples(cli, loss, pred, target, expected) -> None:
    got = cli([loss, "--pred", pred, "--target", target, "-f", "json"]).json()
    assert got["value"] == pytest.approx(expected, rel=1e-14)


def test_multiclass_gradient_by_hand(cli) -> None:
    got = cli(["svm", "--pred", FROG, "--target", "2", "-r", "sum", "-f", "json"]).json()
    assert got["grad"] == [1.0, 1.0, -2.0]  # both wrong classes active


def test_table_shows_active_margins(cli) -> None:
    run = cli(["svm", "--pred", CAT, "--target", "0"])
    assert run.code == 0 and "s_j − s_y + Δ" in run.stdout and "[0, 2.9, -3.9]" in run.stdout


def test_multi_tensor_losses_report_extra_gradients(cli) -> None:
    got = cli(
        ["margin_ranking", "--pred", "1,0.2", "--pred2", "0.5,0.6", "--target", "1,1", "--margin", "0.1", "-f", "json"]
    ).json()
    assert got["value"] == pytest.approx(0.25) and got["grad"] == [0.0, -0.5] and got["grad_pred2"] == [0.0, 0.5]
    got = cli(
        [
            "triplet_margin",
            "--pred",
            "[[0,0]]",
            "--positive",
            "[[3,4]]",
            "--negative",
            "[[0,1]]",
            "--eps",
            "0",
            "-f",
            "json",
        ]
    ).json()
    assert got["value"] == 5.0 and {"grad_positive", "grad_negative"} <= set(got)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["hinge", "--pred", "1,2", "--target", "1,2"], ["--target must be labels −1 or 1"]),
        (["hinge", "--pred", "1,2", "--target", "1"], ["--target has 1 value but --pred has 2"]),
        (["svm", "--pred", CAT, "--target", "3"], ["class indices from 0 to 2", "is 3"]),
        (["svm", "--pred", CAT, "--target", "-1"], ["class indices from 0 to 2"]),
        (["svm", "--pred", CAT, "--target", "0.5"], ["whole-number class indices"]),
        (["categorical_hinge", "--pred", CAT, "--target", "0.5,0.5,0"], ["one-hot"]),
        (["multi_margin", "--pred", CAT, "--target", "0", "--p", "3"], ["--p must be 1 or 2, got 3"]),
        (["multi_margin", "--pred", CAT, "--target", "0", "--weight", "1,2"], ["--weight has 2 values"]),
        (["margin_ranking", "--pred", "1,2", "--pred2", "1", "--target", "1,1"], ["--pred2 has shape (1,)"]),
        (["margin_ranking", "--pred", "1,2", "--target", "1,1"], ["margin_ranking needs --pred2"]),
        (["margin_ranking", "--pred", "1,2", "--pred2", "1,2", "--target", "1,0"], ["labels −1 or 1"]),
        (["cosine_embedding", "--pred", "1,2;3,4", "--pred2", "1,2;3,4", "--target", "1,1,1"], ["one label per row"]),
        (["triplet_margin", "--pred", "1,2", "--positive", "1,2", "--negative", "1"], ["--negative has shape (1,)"]),
        (
            ["triplet_margin", "--pred", "1,2", "--positive", "1,2", "--negative", "1,2", "--target", "1,1"],
            ["takes no --target"],
        ),
        (["multilabel_margin", "--pred", "1,2,3", "--target", "3,-1,0"], ["class indices 0 to 2 or −1"]),
        (["hinge_embedding", "--pred", "1,2", "--target", "1,0"], ["labels −1 or 1"]),
    ],
)
def test_margin_input_errors(cli, args, fragments) -> None:
    assert_usage_error(cli(args), *fragments)
