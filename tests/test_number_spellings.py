"""Numbers as people paste them: typographic look-alikes and decimal commas (red-team items 2 and 5).

Accepted, because they cannot mean anything else: U+2212 MINUS SIGN, full-width forms, other scripts'
digits, Unicode spaces used as spaces.  Refused with the character's name: dashes, the middle dot,
zero-width characters, and a Unicode space between digits (``1 000``: one number or two?).
"""

from __future__ import annotations

import pytest
from conftest import assert_usage_error

MINUS, EN_DASH, EM_DASH, HYPHEN = "\u2212", "\u2013", "\u2014", "\u2010"
NBSP, THIN, NARROW_NBSP, FIGURE = "\u00a0", "\u2009", "\u202f", "\u2007"


def _value(cli, pred: str, target: str = "0,0") -> float:
    run = cli(["mse", "--pred", pred, "--target", target, "-f", "value"])
    assert run.code == 0, run.stderr
    return float(run.stdout)


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        (f"{MINUS}1,2", "-1,2"),
        (f"{MINUS}1.5,{MINUS}2e{MINUS}1", "-1.5,-2e-1"),
        ("\uff11,\uff12", "1,2"),  # full-width digits
        ("\uff11\uff0e\uff15,\uff0d\uff12", "1.5,-2"),  # full-width point and hyphen-minus
        ("\u0663,\u0664", "3,4"),  # Arabic-Indic digits
        (f"1,{NBSP}2", "1,2"),  # no-break space after the comma: padding
        (f"{NBSP}1 2{NBSP}", "1,2"),
        (f"1{NBSP}{NBSP} 2", "1,2"),  # spaces between values that are not digit groups
        (f"[{MINUS}1, 2]", "-1,2"),  # JSON
        (f"{MINUS}1;2", "-1;2"),
    ],
)
def test_unambiguous_look_alikes_read_as_their_ascii(cli, typed: str, plain: str) -> None:
    target = "0;0" if ";" in plain else "0,0"
    assert _value(cli, typed, target) == _value(cli, plain, target)


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        (f"{EN_DASH}1,2", "U+2013 EN DASH"),
        (f"{EM_DASH}1,2", "U+2014 EM DASH"),
        (f"{HYPHEN}1,2", "U+2010 HYPHEN"),
        ("1\u00b75,2", "U+00B7 MIDDLE DOT"),
        ("1\u200b,2", "U+200B ZERO WIDTH SPACE"),
        ("1e\u207b3,2", "U+207B SUPERSCRIPT MINUS"),
    ],
)
def test_other_look_alikes_are_refused_by_name(cli, typed: str, named: str) -> None:
    run = cli(["mse", "--pred", typed, "--target", "0,0"])
    assert_usage_error(run, "--pred", named)
    assert "not a number" in run.stderr and ";" in run.stderr  # the problem, then what to do


def test_a_dash_says_to_type_a_minus(cli) -> None:
    assert_usage_error(cli(["mse", "--pred", f"{EN_DASH}1,2", "--target", "0,0"]), "not a minus sign", "'-'")


@pytest.mark.parametrize("space", [NBSP, THIN, NARROW_NBSP, FIGURE])
@pytest.mark.parametrize("typed", ["1{s}000,2", "1{s}000{s}000", "12{s}5 3"])
def test_a_unicode_space_between_digits_is_refused_not_split(cli, space: str, typed: str) -> None:
    run = cli(["mse", "--pred", typed.format(s=space), "--target", "0,0"])
    assert_usage_error(run, "--pred", f"U+{ord(space):04X}", "between digits")


@pytest.mark.parametrize("space", [NBSP, THIN])
def test_a_whitespace_table_with_digit_groups_is_refused_on_every_path(cli, tmp_path, space: str) -> None:
    """NumPy's fast parser splits on Unicode spaces (1 000 → 1 and 0): the careful parser decides instead."""
    path = tmp_path / "grouped.txt"
    path.write_text(f"1{space}000 2\n3 4\n", encoding="utf-8")
    assert_usage_error(cli(["mse", "--pred", str(path), "--target", "0,0;0,0"]), "between digits", "line 1")
    data = tmp_path / "grouped_data.txt"
    data.write_text(f"p t\n1{space}000 2\n", encoding="utf-8")
    run = cli(["mse", "--data", str(data), "--pred-col", "p", "--target-col", "t"])
    assert_usage_error(run, "between digits")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{MINUS}1,2\n3,{MINUS}4\n", [-1.0, 2.0, 3.0, -4.0]),
        (f"{MINUS}1 {MINUS}2\n3 4\n", [-1.0, -2.0, 3.0, 4.0]),  # a first line of U+2212 numbers is data, not a header
        (f"a,b\n{MINUS}1,\uff12\n3,4\n", [-1.0, 2.0, 3.0, 4.0]),
    ],
)
def test_look_alikes_in_files(cli, tmp_path, text: str, expected: list[float]) -> None:
    path = tmp_path / "values.csv"
    path.write_text(text, encoding="utf-8")
    run = cli(["mse", "--pred", str(path), "--target", "0,0;0,0", "-f", "json"])
    assert run.json()["elements"] == [[v * v for v in expected[:2]], [v * v for v in expected[2:]]]


def test_a_word_in_a_data_column_gets_no_look_alike_hint(cli, tmp_path) -> None:
    path = tmp_path / "towns.csv"
    path.write_text("p,t,town\n1,2,Zürich\n", encoding="utf-8")
    run = cli(["mse", "--data", str(path), "--pred-col", "town", "--target-col", "t"])
    assert_usage_error(run, "'Zürich' is not a number")
    assert "U+" not in run.stderr


@pytest.mark.parametrize(
    ("answer", "code"),
    [(f"{MINUS}2", 0), (f"{MINUS}2.0", 0), ("\uff0d\uff12", 0), (f"{MINUS}(4/2)", 0), (f"{MINUS}3", 1), ("2", 1)],
)
def test_a_negative_answer_typed_with_look_alikes(cli, answer: str, code: int) -> None:
    """mse with --reduction sum at ŷ = 0, y = 1: the gradient is 2(ŷ − y) = −2 in each entry."""
    run = cli(["mse", "--pred", "0,0", "--target", "1,1", "--reduction", "sum", "--expect-grad", f"{answer},{answer}"])
    assert run.code == code, run.stdout + run.stderr


@pytest.mark.parametrize("answer", [f"{EN_DASH}2", f"1{NBSP}000", "2\u200b"])
def test_refused_look_alikes_in_expect(cli, answer: str) -> None:
    assert_usage_error(cli(["mse", "--pred", "0", "--target", "2", "--expect", answer]), "--expect", "U+")


# --- decimal commas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("1,5;2,25\n3,5;4\n", None),  # European Excel: ';' between values, ',' in them
        ("p;t\n1,5;2,25\n3,5;4\n", None),
        ("1,5\t2,25\n3,5\t4\n", None),
        ("-0,5;1\n2;3\n", None),
        ("1;2,5e3\n2;3\n", None),
    ],
)
def test_decimal_commas_are_named_in_a_table_not_separated_by_commas(cli, tmp_path, text: str, delimiter) -> None:
    path = tmp_path / "european.csv"
    path.write_text(text, encoding="utf-8")
    run = cli(["mse", "--pred", str(path), "--target", "0,0;0,0"])
    assert_usage_error(run, "decimal comma", "does not guess", "replace ',' by '.'")
    assert "header row" not in run.stderr


@pytest.mark.parametrize("delimiter", [None, ";"])
def test_decimal_commas_in_data_columns(cli, tmp_path, delimiter) -> None:
    path = tmp_path / "european.csv"
    path.write_text("p;t;town\n1,5;2,25;Genève\n3,5;4;Paris\n", encoding="utf-8")
    args = ["mse", "--data", str(path), "--pred-col", "p", "--target-col", "t"]
    run = cli([*args, "--delimiter", delimiter] if delimiter else args)
    assert_usage_error(run, "'1,5' is written with a decimal comma (1.5?)")


def test_decimal_commas_from_standard_input(cli) -> None:
    run = cli(["mse", "--data", "-", "--pred-col", "0", "--target-col", "1"], stdin="1,5;2\n3;4,5\n")
    assert_usage_error(run, "decimal comma")


def test_commas_in_a_comma_table_are_still_delimiters(cli, tmp_path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("1,5\n2,25\n", encoding="utf-8")
    assert cli(["mse", "--pred", str(path), "--target", "1,5;2,25", "-f", "value"]).stdout.strip() == "0.0"


def test_a_semicolon_hint_mentions_decimal_commas_when_commas_were_taken_as_the_delimiter(cli, tmp_path) -> None:
    path = tmp_path / "ambiguous.csv"
    path.write_text("1,5;2\n3,5;4\n", encoding="utf-8")  # ',' and ';' once per line: ',' is taken
    assert_usage_error(cli(["mse", "--pred", str(path), "--target", "0,0;0,0"]), "';'", "decimal comma")
