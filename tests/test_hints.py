"""One-line hints for the classic confusions (issue 13): the answer stays, the status stays."""

from __future__ import annotations

import pytest
from conftest import assert_usage_error

from lossctl.homework.hints import answer_hints, refusal_hint
from lossctl.losses.registry import LOSSES
from lossctl.render.describe import example_argv

ANSWER_HINT_CASES = [
    # cross_entropy given probabilities
    (["ce", "--pred", "0.2,0.8;0.6,0.4", "--target", "1,0"], "cross_entropy takes logits"),
    (["ce", "--pred", "0.1,0.2,0.7", "--target", "2"], "cross_entropy takes logits"),
    (["ce", "--pred", "[[0.25,0.25,0.5],[1,0,0]]", "--target", "2,0"], "nll on their logs"),
    (["ce", "--pred", "0.3,0.7;0.5,0.5", "--target", "0.5,0.5;1,0"], "cross_entropy takes logits"),
    # softmax twice / sigmoid twice
    (["ce", "--pred", "0.1,0.9;0.3,0.7", "--target", "1,0", "--activation", "softmax"], "softmax twice"),
    (["ce", "--pred", "2,-1,0.5", "--target", "0", "--activation", "softmax"], "softmax twice"),
    (["bce_with_logits", "--pred", "0.5,-1", "--target", "1,0", "--activation", "sigmoid"], "sigmoid twice"),
    # nll / kl_div given probabilities
    (["nll", "--pred", "0.2,0.8;0.6,0.4", "--target", "1,0"], "nll takes log-probabilities"),
    (["nll", "--pred", "0.1,0.9", "--target", "1"], "loss can come out negative"),
    (["kl_div", "--pred", "0.2,0.8;0.6,0.4", "--target", "0.5,0.5;0.5,0.5"], "kl_div takes log-probabilities"),
    # mape with a zero target
    (["mape", "--pred", "1,2", "--target", "0,2"], "--target is 0 at index 0"),
    (["mape", "--pred", "1,2,3", "--target", "1,0,0"], "at index 1, 2"),
]


@pytest.mark.parametrize(("argv", "needle"), ANSWER_HINT_CASES)
def test_answer_hints_keep_the_answer_and_the_status(cli, argv: list[str], needle: str) -> None:
    plain = cli([*argv, "-f", "value"])
    assert plain.code == 0 and float(plain.stdout) == float(plain.stdout)  # the answer is printed
    hints = [line for line in plain.stderr.splitlines() if line.startswith("hint: ")]
    assert len(hints) == 1 and needle in hints[0], plain.stderr
    table = cli(argv)
    assert table.code == 0 and needle in table.stderr and needle not in table.stdout


REFUSAL_CASES = [
    # bce given two columns and class indices: the error stays, ce is suggested
    (["bce", "--pred", "0.1,0.9;0.3,0.7", "--target", "1,0"], "lossctl ce --pred '0.1,0.9;0.3,0.7' --target 1,0"),
    (["bce", "--pred", "0.2,0.3,0.5;0.6,0.2,0.2", "--target", "2,0"], "cross_entropy's form"),
    (["bce_with_logits", "--pred", "1,-1;2,0", "--target", "0,1"], "lossctl ce"),
    # a forgotten ';'
    (["ce", "--pred", "0.1,0.9,0.3,0.7", "--target", "1,0"], "--pred '0.1,0.9;0.3,0.7'"),
    (["ce", "--pred", "1,2,3,4,5,6", "--target", "0,2"], "--pred '1,2,3;4,5,6'"),
    (["nll", "--pred", "-1,-2,-3,-4,-5,-6", "--target", "0,1,1"], "--pred '-1,-2;-3,-4;-5,-6'"),
    # (N, 1) against (N,)
    (["mse", "--pred", "[[1],[2],[3]]", "--target", "1,2,3"], "nothing is broadcast silently"),
    (["mse", "--pred", "1,2,3", "--target", "[[1],[2],[3]]"], "one as a column"),
    (["l1", "--pred", "[[1,2,3]]", "--target", "1,2,4"], "reshape one to the other's shape"),
]


@pytest.mark.parametrize(("argv", "needle"), REFUSAL_CASES)
def test_refusals_gain_a_hint(cli, argv: list[str], needle: str) -> None:
    run = cli(argv)
    assert_usage_error(run, "error: ")
    lines = run.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert needle in lines[1], run.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["mse", "--pred", "1,2,3,4", "--target", "1,2"],  # a plain length error: no classic cause
        ["ce", "--pred", "0.1,0.9,0.3", "--target", "1,0"],  # 3 values for 2 samples: no row form
        ["bce", "--pred", "0.1,0.9;0.3,0.7", "--target", "1,2"],  # class 2 out of range for two columns
    ],
)
def test_no_hint_on_errors_without_a_classic_cause(cli, argv: list[str]) -> None:
    run = cli(argv)
    assert run.code == 2 and "hint:" not in run.stderr


def _rows_sum_to_one(example) -> bool:
    """The articles' cross-entropy exercise feeds logits 0.1,0.9;0.3,0.7: rows that read as probabilities."""
    import numpy as np

    pred = np.atleast_2d(np.asarray(example.pred, dtype=float))
    return bool(np.all(pred >= 0) and np.allclose(pred.sum(axis=-1), 1.0))


@pytest.mark.parametrize("spec", list(LOSSES.values()), ids=lambda s: s.name)
def test_no_hint_on_worked_examples(cli, spec) -> None:
    for example in spec.examples:
        run = cli([*example_argv(spec, example), "-f", "value"])
        hints = [line for line in run.stderr.splitlines() if line.startswith("hint:")]
        if spec.name == "cross_entropy" and _rows_sum_to_one(example):
            assert len(hints) == 1 and "cross_entropy takes logits" in hints[0]  # the very confusion
        else:
            assert not hints, (example, run.stderr)


@pytest.mark.parametrize(
    ("loss", "pred", "target"),
    [
        ("cross_entropy", [[2.0, -1.0], [0.3, 0.7]], [0, 1]),  # logits
        ("cross_entropy", [[0.2, 0.7], [0.3, 0.6]], [0, 1]),  # in [0, 1] but rows do not sum to 1
        ("cross_entropy", [1.0], [0]),  # one class: nothing to tell
        ("nll", [[-1.6, -0.2], [-0.5, -0.9]], [1, 0]),  # log-probabilities
        ("kl_div", [[-1.6, -0.2]], [[0.5, 0.5]]),
        ("mape", [1.0, 2.0], [0.5, 2.0]),
        ("mse", [0.2, 0.8], [1.0, 0.0]),
    ],
)
def test_no_hint_on_ordinary_inputs(loss: str, pred, target) -> None:
    assert answer_hints(loss, pred, target, None, LOSSES[loss].target) == []
    assert refusal_hint(loss, pred, target, None, LOSSES[loss].target) is None


@pytest.mark.parametrize(
    "extra", [["--expect", "1e999"], ["--expect", "inf"], ["--tol", "-1", "--expect", "0.6"], ["--expect", "x"]]
)
def test_errors_after_a_hint_stay_one_line(cli, extra: list[str]) -> None:
    """Inputs that would earn a hint, and a bad --expect: only the error is printed."""
    run = cli(["ce", "--pred", "0.2,0.8;0.6,0.4", "--target", "1,0", *extra])
    assert_usage_error(run, "error: ")
    assert "hint:" not in run.stderr and len(run.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["nll", "--pred", "1,2;3,4", "--target", "1,0", "--activation", "softmax"],
        ["kl_div", "--pred", "1,2;3,4", "--target", "0.5,0.5;0.5,0.5", "--activation", "softmax"],
    ],
)
def test_softmax_into_a_log_probability_loss_gets_a_hint(cli, argv) -> None:
    """Found by an independent attack: a negative loss with exit 0 and no word on why."""
    run = cli([*argv, "-f", "value"])
    assert run.code == 0 and "takes log-probabilities, but --activation softmax gives probabilities" in run.stderr
