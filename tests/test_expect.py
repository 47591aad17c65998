"""--expect / --expect-grad verdicts and --explain with activations and machine formats (issue 13)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl.errors import InputError
from lossctl.homework.verdict import check_answer, check_array, parse_answer

CE = ["ce", "--pred", "0.1,0.9;0.3,0.7", "--target", "1,0"]  # 0.6420579591738651
MSE_5_12 = ["mse", "--pred", "3,7.5,12", "--target", "4,8,12"]  # 5/12 = 0.41666…
MSE_4 = ["mse", "--pred", "2,3,4,5", "--target", "4,5,6,7"]  # 4 exactly
MSE_10_5 = ["mse", "--pred", "[[1,2],[3,4]]", "--target", "[[3,5],[8,6]]"]  # 10.5; elements [[4,9],[25,4]]

TOLERANCE_TABLE = [
    # decimals: half a unit in the last decimal typed
    (CE, "0.64", 0),
    (CE, "0.6421", 0),
    (CE, "0.642058", 0),
    (CE, "0.65", 1),
    (CE, "0.643", 1),
    (MSE_5_12, "0.4167", 0),
    (MSE_5_12, "0.42", 0),
    (MSE_5_12, "0.41", 1),
    (MSE_4, "4.0", 0),
    (MSE_4, "4.", 0),
    (MSE_5_12, "0.", 1),  # a trailing dot is an integer: exact, not ±0.5
    (["mse", "--pred", "0", "--target", "6.45"], "42.", 1),  # 41.6025: PyTorch would print tensor(41.6025)
    # scientific: half a unit in the last significant digit
    (CE, "6.42e-1", 0),
    (CE, "6.4e-1", 0),
    (CE, "6.5e-1", 1),
    (CE, "642.06E-3", 0),
    (CE, "6.43e-1", 1),
    # an integer: exact to 1e-9 relative
    (MSE_4, "4", 0),
    (MSE_4, "3", 1),
    (MSE_4, "5", 1),
    (MSE_5_12, "0", 1),
    (MSE_10_5, "10", 1),
    (MSE_10_5, "11", 1),
    (MSE_10_5, "10.5", 0),
    # fractions and expressions: exact to 1e-9 relative
    (MSE_5_12, "5/12", 0),
    (MSE_5_12, "10/24", 0),
    (MSE_5_12, "5/13", 1),
    (MSE_5_12, "(1/2)^2 + 1/6", 0),
    (MSE_5_12, "0.5**2 + 1/6", 0),
    (MSE_5_12, "1/2 - 1/12", 0),
    (MSE_5_12, "0.4166667", 0),
    (MSE_5_12, "0.4166666", 1),
    (MSE_4, "8/2", 0),
    (MSE_4, "2^2", 0),
    (MSE_4, "sqrt(16)", 0),
    (MSE_4, "exp(log(4))", 0),
    (MSE_10_5, "21/2", 0),
    (MSE_10_5, "-(-21)/2", 0),
    (MSE_10_5, "20/2", 1),
]


@pytest.mark.parametrize(("argv", "answer", "code"), TOLERANCE_TABLE, ids=[f"{c[0]}:{c[1]}" for c in TOLERANCE_TABLE])
def test_tolerance_follows_what_was_typed(cli, argv: list[str], answer: str, code: int) -> None:
    run = cli([*argv, "--expect", answer])
    assert run.code == code, run.stdout + run.stderr
    assert ("✓" if code == 0 else "✗") in run.stdout and answer in run.stdout


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("0.64", "you typed 2 decimals: ±0.005"),
        ("0.6", "you typed 1 decimal: ±0.05"),
        ("0.6421", "you typed 4 decimals: ±5e-05"),
        ("6.42e-1", "you typed 3 significant digits: ±0.0005"),
        ("6.4e-1", "you typed 2 significant digits: ±0.005"),
        ("1e-3", "you typed 1 significant digit: ±0.0005"),
        ("4", "an integer: exact to 1e-9 relative"),
        ("-12", "an integer: exact to 1e-9 relative"),
        ("5/12", "a fraction: exact to 1e-9 relative"),
        ("-5/12", "a fraction: exact to 1e-9 relative"),
        ("1/4 + 1/6", "an expression: exact to 1e-9 relative"),
        ("sqrt(2)/2", "an expression: to 1e-9 relative"),
    ],
)
def test_verdict_states_the_tolerance_and_why(answer: str, reason: str) -> None:
    assert parse_answer(answer).reason == reason


def test_integer_and_fraction_tolerances_are_relative_and_tight() -> None:
    assert check_answer("4", 4.0).tolerance == pytest.approx(4e-9)
    assert check_answer("4", 4.0 + 3e-9).ok and not check_answer("4", 4.0 + 5e-9).ok
    assert check_answer("0", 0.0).ok and check_answer("0", 1e-17).ok  # float64 rounding of a true zero
    assert not check_answer("0", 0.4166666666666667).ok
    assert check_answer("5/12", 0.4166666666666667).ok and not check_answer("5/12", 0.41667).ok
    assert check_answer("1/3", 1 / 3).difference == 0.0  # Fraction(1, 3) → nearest float64


def test_tol_still_overrides(cli) -> None:
    assert cli([*MSE_10_5, "--expect", "10", "--tol", "0.5"]).code == 0
    assert cli([*CE, "--expect", "0.65", "--tol", "0.01"]).code == 0
    run = cli([*CE, "--expect", "0.642058", "--tol", "1e-9"])
    assert run.code == 1 and "tolerance ±1e-09 from --tol" in run.stdout
    assert_usage_error(cli([*CE, "--expect", "0.6", "--tol", "-1"]), "--tol")


@pytest.mark.parametrize(
    "answer",
    ["1e999", "-1e999", "inf", "-inf", "nan", "NaN", "10**10000", "10^10000", "1" + "0" * 5000, "9**9**9", "1e999/2"],
)
def test_non_finite_and_absurd_answers_exit_2(cli, answer: str) -> None:
    assert_usage_error(cli([*CE, "--expect", answer]), "--expect")


@pytest.mark.parametrize("answer", ["0,1e999", "0,inf", "nan,0", "[0, 10**10000]"])
def test_non_finite_gradient_answers_exit_2(cli, answer: str) -> None:
    assert_usage_error(cli(["mse", "--pred", "1,2", "--target", "1,3", "--expect-grad", answer]), "--expect-grad")


@pytest.mark.parametrize(
    "answer",
    [
        "__import__('os').system('true')",
        "open('x')",
        "x",
        "1 if 1 else 2",
        "lambda: 1",
        "(1).real",
        "'4'",
        "1/0",
        "sqrt(-1)",
        "log(0)",
        "(-8)**(1/3)",
        "sqrt(4, 2)",
        "True",
        "1j",
    ],
)
def test_expressions_are_parsed_never_run(cli, answer: str) -> None:
    with pytest.raises(InputError):
        parse_answer(answer)
    assert_usage_error(cli([*MSE_4, "--expect", answer]), "--expect")


def test_json_expect_entries_carry_the_reason(cli) -> None:
    got = cli([*MSE_5_12, "--expect", "5/12", "-f", "json"]).json()
    (entry,) = got["expect"]
    assert entry["ok"] and entry["reason"] == "a fraction: exact to 1e-9 relative"
    assert entry["tolerance"] == pytest.approx(1e-9 * 5 / 12)


# ---- arrays ---------------------------------------------------------------------------------

ARRAY_CASES = [
    (["-r", "none"], "[[4,9],[25,4]]", 0, None),
    (["-r", "none"], "4,9;25,4", 0, None),
    (["-r", "none"], "[[4.0, 9.0], [25.0, 4.0]]", 0, None),
    (["-r", "none"], "[[4,9],[5^2,8/2]]", 0, None),
    (["-r", "none"], "4,9,25,4", 0, None),  # a flat list read row by row
    (["-r", "none"], "[[4,9],[25,5]]", 1, [[1, 1]]),
    (["-r", "none"], "[[4,9.1],[24,4]]", 1, [[0, 1], [1, 0]]),
    (["-r", "none"], "[[4,9],[25,4.2]]", 1, [[1, 1]]),
    ([], "[[4,9],[25,4]]", 0, None),  # reduction mean: an array answer is checked against the elements
    (["-r", "sum"], "[[4,9],[25,3]]", 1, [[1, 1]]),
]


@pytest.mark.parametrize(("extra", "answer", "code", "wrong"), ARRAY_CASES)
def test_array_answers_entry_by_entry(cli, extra, answer: str, code: int, wrong) -> None:
    run = cli([*MSE_10_5, *extra, "--expect", answer])
    assert run.code == code, run.stdout + run.stderr
    got = json.loads(cli([*MSE_10_5, *extra, "--expect", answer, "-f", "json"]).stdout)
    (entry,) = got["expect"]
    assert entry["ok"] == (code == 0) and entry["compared_with"] == "elements"
    if wrong:
        assert [w["index"] for w in entry["wrong"]] == wrong
        elements = np.array(got["elements"])
        for item in entry["wrong"]:
            assert item["computed"] == elements[tuple(item["index"])]
            assert f"✗ ({item['index'][0]}, {item['index'][1]}) you" in run.stdout
    if extra != ["-r", "none"]:
        assert "not the" in run.stdout


@pytest.mark.parametrize(
    ("option", "answer", "computed_shape"),
    [
        ("--expect", "[4,9,25]", "(2, 2)"),
        ("--expect", "[[4,9,25,4]]", "(2, 2)"),
        ("--expect", "4,9;25,4;1,1", "(2, 2)"),
        ("--expect-grad", "[[-1,-1.5],[-2.5]]", None),  # ragged: a usage error
        ("--expect-grad", "-1,-1.5,-2.5", "(2, 2)"),
        ("--expect-grad", "[[-1,-1.5,-2.5,-1]]", "(2, 2)"),
    ],
)
def test_shape_mismatch_is_a_clear_cross(cli, option: str, answer: str, computed_shape: str | None) -> None:
    run = cli([*MSE_10_5, option, answer])
    if computed_shape is None:
        assert_usage_error(run, option)
        return
    assert run.code == 1 and "Traceback" not in run.stderr
    assert "your answer has shape" in run.stdout and f"shape {computed_shape}" in run.stdout
    entry = json.loads(cli([*MSE_10_5, option, answer, "-f", "json"]).stdout)["expect"][0]
    assert entry["ok"] is False and entry["computed_shape"] == [2, 2]


def test_expect_grad_is_shape_aware_with_its_own_tolerances(cli) -> None:
    ok = cli([*MSE_10_5, "--expect-grad", "[[-1,-1.5],[-2.5,-1]]"])
    assert ok.code == 0 and "all 4 entries match the gradient" in ok.stdout
    run = cli([*MSE_10_5, "--expect-grad", "[[-1,-1.5],[-2.4,-1.0]]", "-f", "json"])
    wrong = json.loads(run.stdout)["expect"][0]
    assert run.code == 1
    assert [w["index"] for w in wrong["wrong"]] == [[1, 0]]
    assert wrong["wrong"][0]["reason"] == "you typed 1 decimal: ±0.05"
    both = cli([*MSE_10_5, "--expect", "10.5", "--expect-grad", "-1,-1.5,-2.5,-2"])
    assert both.code == 1 and "1 of 2 checks right" in both.stdout


def test_check_array_unit() -> None:
    verdict = check_array("[[1, 2], [3, 4.5]]", np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert not verdict.ok and [index for index, _ in verdict.wrong] == [(1, 1)]
    assert verdict.wrong_mask().tolist() == [[False, False], [False, True]]
    assert check_array("1,2;3,4", np.array([[1.0, 2.0], [3.0, 4.0]])).ok


# ---- --explain --------------------------------------------------------------------------------


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _g(value: float) -> str:
    return f"{value:.6g}".replace("-", "−")


def test_explain_golden_mse_after_sigmoid(cli) -> None:
    run = cli(["mse", "--pred", "5,0", "--target", "0,0", "--activation", "sigmoid", "--explain"])
    assert run.code == 0
    a = [_sigmoid(5.0), _sigmoid(0.0)]
    da = [x * (1 - x) for x in a]  # σ′(z) = σ(z)(1 − σ(z))
    dl_da = [2 * (x - 0.0) / 2 for x in a]  # mean over 2 of (a − y)²
    dl_dz = [g * d for g, d in zip(dl_da, da, strict=True)]
    assert _g(a[0]) == "0.993307" and _g(da[0]) == "0.00664806"
    expected = "\n".join(
        [
            "activation: --pred holds z; the loss sees ŷ = a = sigmoid(z)",
            "  z → a(z) → ℓ(a) → ∂L/∂a → a′(z) → ∂L/∂z",
            "  z = [5, 0]",
            "  a = σ(z) = 1 / (1 + e^(−z))",
            f"  a = [{_g(a[0])}, {_g(a[1])}]",
            "",
            f"L = (({_g(a[0])} − 0)² + ({_g(a[1])} − 0)²) / 2",
            f"  = ({_g(a[0] ** 2)} + {_g(a[1] ** 2)}) / 2",
            f"  = {_g(a[0] ** 2 + a[1] ** 2)} / 2",
            f"  = {_g((a[0] ** 2 + a[1] ** 2) / 2)}",
            "",
            "gradient:",
            "  ∂ℓᵢ/∂ŷᵢ = 2 (ŷᵢ − yᵢ)   (the loss's input is a)",
            "  ∂L/∂a = (1/n) ∂ℓ/∂a with n = 2",
            f"  ∂L/∂a = [{_g(dl_da[0])}, {_g(dl_da[1])}]",
            "  a′(z) = σ′(z) = σ(z)·(1 − σ(z))",
            f"  a′(z) = [{_g(da[0])}, {_g(da[1])}]",
            "  chain rule: ∂L/∂z = ∂L/∂a · a′(z)",
            f"  ∂L/∂z = [{_g(dl_dz[0])}, {_g(dl_dz[1])}]",
        ]
    )
    assert expected in run.stdout
    assert "∂L/∂ŷ =" not in run.stdout  # the gradient w.r.t. z is never labelled as one w.r.t. ŷ


def test_explain_tanh_chain(cli) -> None:
    run = cli(["mse", "--pred", "0.5,-1", "--target", "0,1", "--activation", "tanh", "--explain"])
    a = [math.tanh(0.5), math.tanh(-1.0)]
    da = [1 - x * x for x in a]
    dl_dz = [(x - y) * d for x, y, d in zip(a, [0.0, 1.0], da, strict=True)]  # 2(a − y)/2 · a′
    assert "a′(z) = tanh′(z) = 1 − tanh²(z)" in run.stdout
    assert f"a′(z) = [{_g(da[0])}, {_g(da[1])}]" in run.stdout
    assert f"∂L/∂z = [{_g(dl_dz[0])}, {_g(dl_dz[1])}]" in run.stdout


def test_explain_softmax_chain_with_cross_entropy(cli) -> None:
    z = np.array([1.0, 2.0, 0.5])
    a = np.exp(z) / np.exp(z).sum()
    p = np.exp(a) / np.exp(a).sum()  # cross_entropy applies its own softmax to a
    dl_da = p - np.array([0.0, 1.0, 0.0])
    dl_dz = a * (dl_da - np.sum(dl_da * a))
    run = cli(["ce", "--pred", "1,2,0.5", "--target", "1", "--activation", "softmax", "--explain"])
    assert run.code == 0
    assert "a = [" + ", ".join(_g(x) for x in a) + "]" in run.stdout
    assert "∂L/∂a = [" + ", ".join(_g(x) for x in dl_da) + "]" in run.stdout
    assert "∂L/∂z = a ⊙ (∂L/∂a − Σₖ aₖ ∂L/∂aₖ)" in run.stdout
    assert "∂L/∂z = [" + ", ".join(_g(x) for x in dl_dz) + "]" in run.stdout


@pytest.mark.parametrize("fmt", ["csv", "value"])
def test_explain_with_csv_or_value_goes_to_stderr(cli, fmt: str) -> None:
    plain = cli([*MSE_4, "-f", fmt])
    run = cli([*MSE_4, "-f", fmt, "--explain"])
    assert run.code == 0 and run.stdout == plain.stdout
    assert "L = ((2 − 4)² + (3 − 5)² + (4 − 6)² + (5 − 7)²) / 4" in run.stderr and "gradient:" in run.stderr


def test_explain_with_json_is_a_list_of_lines(cli) -> None:
    got = cli([*MSE_4, "-f", "json", "--explain", "--expect", "4"]).json()
    assert isinstance(got["explain"], list) and all(isinstance(line, str) for line in got["explain"])
    assert "  = 4" in got["explain"] and got["explain"][0].startswith("mse:")
    assert got["expect"][0]["ok"] is True


@pytest.mark.parametrize(
    ("argv", "wrong_rows"),
    [
        ([*MSE_10_5, "--expect", "[[4,9],[25,5]]"], {"(1, 1)"}),
        ([*MSE_10_5, "--expect", "[[5,9],[25,5]]", "-r", "none"], {"(0, 0)", "(1, 1)"}),
        ([*MSE_10_5, "--expect-grad", "[[-1,-1.5],[-2.4,-1]]"], {"(1, 0)"}),
        (["ce", "--pred", "1,2;3,1", "--target", "1,0", "--expect-grad", "[[0.134,-0.134],[0.06,0.06]]"], {"1"}),
    ],
)
def test_table_marks_each_wrong_entry(cli, argv: list[str], wrong_rows: set[str]) -> None:
    run = cli(argv)
    assert run.code == 1
    header = next(line for line in run.stdout.splitlines() if line.split()[:1] == ["index"])
    assert header.split()[-1] == "expect"
    marked = {line.strip().split("   ")[0].strip() for line in run.stdout.splitlines() if line.rstrip().endswith("✗")}
    assert marked == wrong_rows, run.stdout


def test_table_has_no_expect_column_when_all_is_right_or_shapes_differ(cli) -> None:
    assert "expect" not in cli([*MSE_10_5, "--expect", "[[4,9],[25,4]]"]).stdout.splitlines()[2]
    assert "✗" not in cli([*MSE_10_5, "--expect", "10.5"]).stdout


# --- answers copied from PyTorch: printed forms, full precision, float32 ----------------------------

ARTICLE_CE = ["ce", "--pred", "0.1,0.2,0.7;0.3,0.4,0.3", "--target", "2,1"]  # 0.9005091544266003 here


@pytest.mark.parametrize(
    ("argv", "answer", "code"),
    [
        (ARTICLE_CE, "0.9005091544266004", 0),  # PyTorch's float64 .item(): 1 ulp from lossctl's
        (["psnr", "--pred", "1,2;3,4", "--target", "1.5,2.5;3.5,4.5", "--data-range", "1"], "6.020599913279624", 0),
        (ARTICLE_CE, "0.900509154427", 0),  # rounded to 12 decimals
        (ARTICLE_CE, "0.900509154426", 1),  # 6e-13 away: a wrong last digit, beyond ±5e-13
        (CE, "0.6420579591738700", 1),  # 4.9e-15 away: beyond 8 ulps (1.1e-15), a wrong digit
        (MSE_4, "tensor(4.)", 0),
        (MSE_5_12, "tensor(0.4167)", 0),
        (MSE_5_12, "tensor(0.4167, dtype=torch.float64)", 0),
        (MSE_5_12, "tensor(0.4168)", 1),
    ],
)
def test_answers_copied_from_pytorch(cli, argv: list[str], answer: str, code: int) -> None:
    run = cli([*argv, "--expect", answer, "-f", "value"])
    assert run.code == code, run.stderr


def test_rounding_floor_follows_the_dtype() -> None:
    """8 units in the last place of the dtype computed in; never narrower than the typed tolerance."""
    assert check_answer("0.6420579591738652", 0.6420579591738651).ok
    assert not check_answer("0.6420579591738900", 0.6420579591738651).ok
    assert check_answer("0.6420579552650452", 0.6420580148696899, dtype="float32").ok
    assert not check_answer("0.6420579552650452", 0.6420580148696899).ok
    verdict = check_answer("0.9005091544266004", 0.9005091544266003)
    assert "8 units of float64 rounding" in verdict.reason and verdict.tolerance < 2e-15


def test_printed_tensor_arrays_are_read(cli) -> None:
    printed = "tensor([[ 4.,  9.],\n        [25.,  4.]])"
    assert cli([*MSE_10_5, "-r", "none", "--expect", printed, "-f", "value"]).code == 0
    assert cli([*MSE_10_5, "-r", "none", "--expect", printed.replace("25.", "24."), "-f", "value"]).code == 1


def test_a_float32_answer_is_named_as_float32_not_as_another_library(cli) -> None:
    run = cli([*ARTICLE_CE, "--expect", "0.9005091786384583", "-f", "value"])  # PyTorch in float32
    assert run.code == 1
    assert "matches PyTorch computed in float32" in run.stderr and "--dtype float32" in run.stderr
    assert "optax" not in run.stderr
    assert cli([*ARTICLE_CE, "--dtype", "float32", "--expect", "0.9005091786384583", "-f", "value"]).code == 0
