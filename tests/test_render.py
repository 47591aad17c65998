"""What people read: formulas as written, tables that never cut a number, honest labels.

Formulas hold square brackets (``−wᵢ [yᵢ log pᵢ …]``, ``1[m > 0]``, ``E[x²]``) that Rich would take
for markup; user-supplied names (``[red]e.npy``) likewise.  Narrow terminals leave out columns
rather than print ``0.01…``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from lossctl import compute
from lossctl.evaluation.result import LossResult
from lossctl.homework.comparison import compare_losses
from lossctl.losses.registry import LOSSES
from lossctl.losses.wording import escape_markup
from lossctl.numbers import short
from lossctl.render.info import list_table, print_comparison
from lossctl.render.table import print_table

WIDE = {"COLUMNS": "300"}
SPECS = list(LOSSES.values())
NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?![\w.])")


def _flat(text: str) -> str:
    return " ".join(text.split())


# --- formulas and help read as written --------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_info_shows_formula_and_gradient_verbatim(cli, spec) -> None:
    run = cli(["info", spec.name], env=WIDE)
    assert run.code == 0, run.stderr
    shown = _flat(run.stdout)
    assert _flat(spec.formula) in shown
    assert _flat(spec.gradient) in shown


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_help_shows_formula_verbatim(cli, spec) -> None:
    run = cli([spec.name, "--help"], env=WIDE)
    assert run.code == 0, run.stderr
    # Rich's help panels frame lines with │; the docstring part is free text
    assert _flat(spec.formula) in _flat(run.stdout.replace("│", " "))


def test_bracketed_formulas_are_the_ones_that_used_to_vanish() -> None:
    bracketed = [s.name for s in SPECS if re.search(r"\[[a-z#/@]", s.formula + s.gradient)]
    assert {"bce", "bce_with_logits", "multilabel_soft_margin", "tv", "weighted_tv"} <= set(bracketed)


def test_list_at_300_columns_shows_every_formula_and_alias(cli) -> None:
    run = cli(["list"], env=WIDE)
    assert run.code == 0
    for spec in SPECS:
        assert spec.name in run.stdout
    assert "−wᵢ [yᵢ log pᵢ" in run.stdout and "x[i+1,j]" in run.stdout


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_list_never_cuts_a_word(width) -> None:
    console = Console(width=width, record=True, highlight=False, color_system=None)
    console.print(list_table(SPECS, width))
    text = console.export_text()
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width  # display cells: x̂ is two code points, one cell
    words = set(text.split())
    for spec in SPECS:
        assert spec.name in words and (spec.family in words or width < 80)
    for spec in SPECS:  # formulas wrap at spaces: every word of them is printed whole
        assert set(spec.formula.split()) <= words, spec.name


@pytest.mark.parametrize("text", ["[red]e.npy", "x[/].npy", "ℓ = 1[m > 0]", "E[x²] − [b]", "a\\[b]"])
def test_escape_markup_round_trips_through_rich(text) -> None:
    console = Console(record=True, width=200, color_system=None)
    console.print(escape_markup(text))
    assert console.export_text().rstrip("\n") == text


@pytest.mark.parametrize("name", ["[red]e.npy", "x[/].npy", "[bold]g[/bold].csv", "a[b]c.npy"])
def test_saved_file_names_print_as_written(name, tmp_path) -> None:
    summary = LossResult(
        loss="mse",
        params={},
        shape=(2_000_000,),
        dtype="float64",
        blocks=3,
        sum=4.0,
        count=2_000_000.0,
        mean=2e-6,
        value=2e-6,
        reduction="mean",
        saved={"elements": str(tmp_path / name)},
    )
    console = Console(record=True, width=300, color_system=None)
    print_table(summary, console=console)
    assert f"written to {tmp_path / name}" in console.export_text()


def test_user_named_files_through_the_cli(cli, tmp_path) -> None:
    (tmp_path / "x[").mkdir()
    for name in ("[red]p.npy", "x[/].npy", "[bold]q.npy"):
        np.save(tmp_path / name, np.array([1.0, 2.0]))
        run = cli(
            ["mse", "--pred", str(tmp_path / name), "--target", "0,0", "--save-elements", str(tmp_path / "e.npy")]
        )
        assert run.code == 0, run.stderr
        assert "2.5" in run.stdout


# --- narrow terminals: columns are left out, numbers never cut -------------------------------


def _results():
    return [
        compute("huber", [0.123456789, 2.5, -3.25, 1e-7], [1.33333, 2, 0.001, -123456.789]),
        compute("cross_entropy", [[0.1, 0.9, 0.3], [0.3, 0.7, 0.2]], [1, 0]),
        compute("rmse", [1.0, 2.0, 3.0], [1.0, 2.0, 4.123456]),
        compute("mse", [0.5, -2.0], [0.0, 0.0], activation="sigmoid"),
        compute("psnr", np.full((2, 1, 3, 3), 0.25), np.full((2, 1, 3, 3), 0.5)),
        compute("mse", np.arange(40.0) / 7, np.zeros(40)),
    ]


def _expected_numbers(result) -> set[str]:
    arrays = [result.pred, result.elements, result.grad, *result.details().values()]
    if result.target is not None:
        arrays.append(result.target)
    if result.pre_activation is not None:
        arrays += [result.pre_activation, result.activation_derivative]
    numbers = {short(v) for a in arrays for v in np.asarray(a, dtype=float).ravel()}
    numbers |= {short(result.sum), short(result.mean), short(float(np.sum(result.value)))}
    numbers |= {str(i) for i in range(result.elements.size)}  # the index column
    if result.spec.images:
        from lossctl.render.images import image_rows

        for row in image_rows(result):
            numbers |= {short(row.loss), short(row.grad_norm), short(float(np.linalg.norm(result.grad)))}
    return numbers


@pytest.mark.parametrize("width", [40, 60, 80, 120])
@pytest.mark.parametrize("which", range(6))
def test_tables_fit_the_terminal_without_cutting_numbers(width, which) -> None:
    result = _results()[which]
    console = Console(width=width, record=True, force_terminal=True, color_system=None, highlight=False)
    print_table(result, console=console)
    lines = console.export_text().splitlines()
    header = next(i for i, line in enumerate(lines) if "loss" in line.split())
    notes = ("not shown", "(widen", "per pixel", "pred (widen", "index (widen", "target (widen")
    body = [line for line in lines[header + 1 :] if not line.lstrip().startswith(notes)]
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    expected = _expected_numbers(result)
    for line in body:
        if "rows not shown" in line or "shape" in line:
            continue
        assert not re.search(r"\d…", line), line  # no "0.01…"
        for token in NUMBER.findall(line):
            assert token in expected or token.lstrip("-") in {"0", "1", "2", "3"}, (token, line)
    loss_cells = [short(v) for v in result.elements.ravel()[:10]] if not result.spec.images else []
    text = "\n".join(body)
    for cell in loss_cells:
        assert re.search(rf"(?<![\w.]){re.escape(cell)}(?![\w.])", text), (cell, text)


def test_narrow_table_says_which_columns_it_left_out() -> None:
    console = Console(width=40, record=True, force_terminal=True, color_system=None)
    print_table(compute("huber", [0.123456789, 2.5, 1e-7], [1.33333, 2, -123456.789]), console=console)
    text = " ".join(console.export_text().split())
    assert "not shown at this width: target, index (widen the terminal or use --format csv)" in text


def test_wide_terminal_keeps_every_column() -> None:
    console = Console(width=120, record=True, force_terminal=True, color_system=None)
    print_table(compute("huber", [0.123456789, 2.5], [1.33333, 2]), console=console)
    header = next(line for line in console.export_text().splitlines() if "loss" in line)
    assert header.split() == ["index", "pred", "target", "loss", "grad"]
    assert "not shown" not in console.export_text()


@pytest.mark.parametrize("width", [40, 60, 80])
def test_compare_table_fits_without_cutting_numbers(width) -> None:
    pred, target = np.array([0.123456789, 2.5, -3.25]), np.array([1.33333, 2, 0.001])
    comparison = compare_losses(pred, target, ["mse", "l1", "huber", "log_cosh"], "mean")
    console = Console(width=width, record=True, force_terminal=True, color_system=None)
    print_comparison(comparison, console=console)
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    for row in comparison.rows:
        assert short(float(row.result.value)) in text.split()
    assert not re.search(r"\d…", text)


# --- rmse says what its mean is -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reduction", "value_label"), [("mean", "value (sqrt of mean)"), ("sum", "value (sqrt of sum)")]
)
def test_rmse_labels_its_sum_mean_and_root(cli, reduction, value_label) -> None:
    run = cli(["rmse", "--pred", "0,0", "--target", "3,4", "-r", reduction])
    lines = [" ".join(line.split()) for line in run.stdout.splitlines()]
    assert "sum of squares 25" in lines
    assert "mean of squares 12.5" in lines
    expected = short(5.0 if reduction == "sum" else 12.5**0.5)
    assert f"{value_label} {expected}" in lines


def test_losses_without_a_root_keep_plain_labels(cli) -> None:
    lines = [" ".join(line.split()) for line in cli(["mse", "--pred", "0,0", "--target", "3,4"]).stdout.splitlines()]
    assert "sum 25" in lines and "mean 12.5" in lines and "value (mean) 12.5" in lines
