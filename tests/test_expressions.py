"""--expect expressions (lossctl/homework/expressions.py) and the modules split out of the verdict (issue 15).

Intermediate values beyond float64 (red-team item 6): ``exp(1000)/exp(1000)`` is 1, not "undefined";
only a final value beyond float64 is refused, saying so.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl.errors import InputError
from lossctl.homework.answers import parse_answer
from lossctl.homework.expressions import evaluate_expression
from lossctl.homework.tolerance import allowed_differences, relative_tolerance, rounding_floor
from lossctl.homework.verdict import check_answer, judge
from lossctl.homework.wording import answer_text, index_text, shape_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exp(1000)/exp(1000)", 1.0),
        ("exp(1000)/exp(999)", math.e),
        ("log(exp(1000))", 1000.0),
        ("exp(710)*exp(-710)", 1.0),
        ("exp(-1000)", 0.0),  # below float64's smallest subnormal: 0, as float64 would round it
        ("sqrt(10^400)/10^200", 1.0),
        ("(10^400)^0.5/10^200", 1.0),
        ("log(10^400)/log(10)", 400.0),
        ("10^400/10^399", 10.0),  # exact
        ("exp(log(4))", 4.0),
        ("sqrt(2)^2", 2.0),
        ("2*pi", 2 * math.pi),
        ("π/2", math.pi / 2),
        ("e^2", math.exp(2)),
        ("ln(e)", 1.0),
        ("1/3 + sqrt(2)", 1 / 3 + math.sqrt(2)),
        ("√9", 3.0),
        ("√(2)*√2", 2.0),
        ("2√2", 2 * math.sqrt(2)),
        ("8^(1/3)", 2.0),
    ],
)
def test_expressions_beyond_float64_in_between(text: str, expected: float) -> None:
    answer = parse_answer(text)
    assert answer.value == pytest.approx(expected, rel=1e-15, abs=1e-300)
    assert check_answer(text, expected).ok


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("exp(1000)", "overflows a float64"),
        ("10^400", "overflows a float64"),
        ("-exp(1000)/2", "overflows a float64"),
        ("exp(1000)*exp(1000)", "overflows a float64"),
        ("exp(exp(100))", "too large"),
        ("10^(10^10)", "absurdly large"),
        ("log(0)", "log(0) is undefined"),
        ("log(-1)", "log(-1) is undefined"),
        ("sqrt(-1)", "sqrt(-1) is undefined"),
        ("(-8)^(1/3)", "a negative number to a fractional power"),
        ("1/(exp(1)-e)", "division by zero"),
        ("0^-1", "division by zero"),
        ("0^(-0.5)", "division by zero"),
    ],
)
def test_expressions_that_have_no_float64_value_say_why(cli, text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("^", r"\^")):
        parse_answer(text)
    assert_usage_error(cli(["mse", "--pred", "1", "--target", "2", "--expect", text]), "--expect", fragment)


def test_exact_and_inexact_kinds() -> None:
    assert evaluate_expression("5/12", "--expect").value == Fraction(5, 12)
    assert evaluate_expression("5/12", "--expect").kind == "a fraction"
    assert evaluate_expression("(1/2)^2 + 1/6", "--expect").exact
    assert not evaluate_expression("exp(1000)/exp(1000)", "--expect").exact
    assert parse_answer("exp(1000)/exp(1000)").reason == "an expression: to 1e-9 relative"
    assert parse_answer("10^400/10^399").reason == "an expression: exact to 1e-9 relative"


def test_the_cli_verdict_for_an_expression_with_huge_intermediates(cli) -> None:
    run = cli(["mse", "--pred", "2", "--target", "1", "--expect", "exp(1000)/exp(1000)"])
    assert run.code == 0 and "✓" in run.stdout and "exp(1000)/exp(1000) (= 1)" in run.stdout


# --- the split modules agree with each other --------------------------------------------------------


def test_vectorised_tolerances_equal_the_one_at_a_time_ones() -> None:
    rng = np.random.default_rng(7)
    typed = ["0.64", "4", "5/12", "6.42e-1", "1e-13", "0", "-3.25", "sqrt(2)", "42."]
    answers = [parse_answer(text) for text in typed]
    for dtype in ("float64", "float32"):
        for tol in (None, 0.01):
            computed = np.array([a.value for a in answers]) * (1 + rng.normal(size=len(answers)) * 1e-10)
            fixed = np.array([np.nan if a.tolerance is None else a.tolerance for a in answers])
            values = np.array([a.value for a in answers])
            allowed = allowed_differences(values, computed, fixed, tol, dtype)
            one_by_one = [
                judge(a, float(c), tol, "--expect", dtype).tolerance for a, c in zip(answers, computed, strict=True)
            ]
            np.testing.assert_array_equal(allowed, one_by_one)


def test_tolerance_floors() -> None:
    assert relative_tolerance(0.0, 0.0) == 1e-12
    assert relative_tolerance(2.0, 1.0) == pytest.approx(2e-9)
    assert relative_tolerance(2.0, math.inf) == pytest.approx(2e-9)
    assert rounding_floor(1.0, 1.0) == 8 * np.finfo(float).eps
    assert rounding_floor(1.0, 1.0, "float32") == 8 * float(np.finfo(np.float32).eps)


@pytest.mark.parametrize(
    ("typed", "value", "shown"),
    [("0.64", 0.64, "0.64"), ("4", 4.0, "4"), ("5/12", 5 / 12, "5/12 (= 0.416666666667)"), ("", 2.5, "2.5")],
)
def test_answer_text(typed: str, value: float, shown: str) -> None:
    assert answer_text(typed, value) == shown


def test_index_and_shape_texts() -> None:
    assert index_text((3,)) == "3" and index_text((1, 0)) == "(1, 0)"
    assert shape_text((3,)) == "(3,)" and shape_text((2, 2)) == "(2, 2)" and shape_text(()) == "()"
