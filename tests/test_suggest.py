"""Unknown options, names and choices (issue 13): did-you-mean, case-insensitive choices, --debug anywhere."""

from __future__ import annotations

import pytest
from conftest import assert_usage_error

from lossctl.cli.suggest import FOREIGN_NAMES

MSE = ["mse", "--pred", "1,2", "--target", "1,3"]

OPTION_CASES = [
    (["quantile", "--pred", "1", "--target", "2", "--tau", "0.3"], "did you mean --q?"),
    (["quantile", "--pred", "1", "--target", "2", "--alpha", "0.3"], "did you mean --q?"),
    (["quantile", "--pred", "1", "--target", "2", "--quantile", "0.3"], "did you mean --q?"),
    ([*MSE, "--delta", "2"], "mse has no --delta; huber"),
    ([*MSE, "--margin", "2"], "mse has no --margin; hinge"),
    (["huber", "--pred", "1", "--target", "2", "--beta", "2"], "did you mean --delta?"),
    (["smooth_l1", "--pred", "1", "--target", "2", "--delta", "2"], "did you mean --beta?"),
    (["charbonnier", "--pred", "1", "--target", "2", "--epsilon", "0.1"], "did you mean --eps?"),
    (["bce", "--pred", "0.5", "--target", "1", "--from-logits"], "lossctl bce_with_logits"),
    ([*MSE, "--reductoin", "sum"], "did you mean --reduction?"),
    ([*MSE, "--precison", "3"], "did you mean --precision?"),
    (["list", "--fromat", "json"], "did you mean --format?"),
]


@pytest.mark.parametrize(("argv", "needle"), OPTION_CASES)
def test_unknown_options_get_a_did_you_mean(cli, argv: list[str], needle: str) -> None:
    run = cli(argv)
    assert_usage_error(run, needle)
    assert run.stderr.startswith(
        f"error: No such option: {next(a for a in argv if a.startswith('--') and a not in ('--pred', '--target'))}"
    )


def test_no_guess_when_nothing_is_close(cli) -> None:
    run = cli([*MSE, "--zzz", "1"])
    assert_usage_error(run, "No such option: --zzz")
    assert "did you mean" not in run.stderr and "has it" not in run.stderr


@pytest.mark.parametrize(
    ("name", "suggestion"), [("lsit", "'list'"), ("ifno", "'info'"), ("comapre", "'compare'"), ("hubr", "'huber'")]
)
def test_unknown_commands_suggest_builtins_and_losses(cli, name: str, suggestion: str) -> None:
    assert_usage_error(cli([name]), f"did you mean {suggestion}")


def test_plot_set_suggests_the_parameter(cli) -> None:
    assert_usage_error(cli(["plot", "huber", "--set", "detla=2"]), "did you mean delta?")
    assert_usage_error(cli(["plot", "quantile", "--set", "qq=0.2"]), "did you mean q?")


@pytest.mark.parametrize(
    ("extra", "key", "value"),
    [
        (["--activation", "Sigmoid"], "activation", "sigmoid"),
        (["--activation", "TANH"], "activation", "tanh"),
        (["--reduction", "MEAN"], "reduction", "mean"),
        (["--reduction", "Sum"], "reduction", "sum"),
        (["--dtype", "Float32"], "dtype", "float32"),
    ],
)
def test_choices_are_case_insensitive(cli, extra: list[str], key: str, value: str) -> None:
    got = cli([*MSE, *extra, "--format", "JSON"]).json()
    assert got[key] == value
    assert got == cli([*MSE, *[e.lower() for e in extra], "-f", "json"]).json()


def test_choice_parameters_and_builtin_formats_are_case_insensitive(cli) -> None:
    assert (
        cli(["tv", "--pred", "1,2;3,5", "--norm", "L2SQ", "-f", "Value"]).stdout
        == cli(["tv", "--pred", "1,2;3,5", "--norm", "l2sq", "-f", "value"]).stdout
    )
    assert cli(["list", "-f", "JSON"]).json()
    assert cli(["info", "mse", "-f", "Json"]).json()["name"] == "mse"


@pytest.mark.parametrize(
    "argv",
    [["--debug", *MSE], [*MSE, "--debug"], [MSE[0], "--debug", *MSE[1:]], [*MSE, "-f", "value", "--debug"]],
)
def test_debug_works_anywhere(cli, argv: list[str]) -> None:
    run = cli(argv)
    assert run.code == 0, run.stderr


@pytest.mark.parametrize("argv", [["mse", "--help"], ["kl_div", "--help"], ["poisson_nll", "--help"], ["--help"]])
def test_flags_show_no_bool_metavar(cli, argv: list[str]) -> None:
    run = cli(argv)
    assert run.code == 0 and "<bool>" not in run.stdout
    assert "--explain" in run.stdout or "--debug" in run.stdout


def test_foreign_names_point_at_real_options() -> None:
    from lossctl.losses.registry import LOSSES

    for foreign in FOREIGN_NAMES:
        for loss in foreign.losses:
            assert loss in LOSSES, foreign
        if foreign.use_loss is not None:
            assert foreign.use_loss in LOSSES


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["ce", "--pred", "1,2", "--target", "1", "--sample-weight", "1,1"], "its --weight is PyTorch's nearest"),
        ([*MSE, "--sample-weight", "1,1"], "its --weight is PyTorch's nearest"),
        (
            ["charbonnier", "--pred", "1", "--target", "2", "--sample-weight", "1"],
            "charbonnier takes no sample weights",
        ),
    ],
)
def test_sample_weight_under_pytorch_points_at_weight_or_another_convention(cli, argv, fragment) -> None:
    """--sample-weight is Keras's and scikit-learn's; PyTorch's losses have --weight where they weigh at all."""
    run = cli(argv)
    assert_usage_error(run, "--sample-weight", fragment, "--convention keras or sklearn")
