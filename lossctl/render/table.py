"""The human view: a Rich table of elements, then sum, mean and the reduced value.

Only this module (and the explain / info views) imports Rich.  Numbers are never cut:
when the terminal is too narrow, the columns that matter least are left out and the
table says which (``fit_columns``).  Every text cell is a :class:`rich.text.Text`, so
user-supplied names (``[red]e.npy``) print as written, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from lossctl.evaluation.result import LossResult
from lossctl.numbers import short, short_array
from lossctl.render.console import make_console, prepared
from lossctl.render.images import image_rows
from lossctl.render.rows import element_columns, element_index

HEAD_ROWS = 10
TAIL_ROWS = 5
UNLIMITED = 10_000  # the width of a file or pipe: whatever the table needs


@dataclass(frozen=True)
class Shown:
    """One printable column: its cells, and how early it is left out on a narrow terminal."""

    name: str
    cells: list[str]
    drop_order: int = 0  # 0: always shown; higher numbers are left out first
    style: str | None = None


def _table(columns: list[Shown]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for column in columns:
        table.add_column(column.name, justify="right", style=column.style, no_wrap=True)
    for cells in zip(*(column.cells for column in columns), strict=True):
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _natural_width(table: Table) -> int:
    console = make_console(width=UNLIMITED)
    return console.measure(prepared(console, table)).maximum


def fit_columns(columns: list[Shown], width: int) -> tuple[Table, list[str]]:
    """The table of ``columns`` at most ``width`` wide, leaving out columns by ``drop_order``.

    Cells are never wrapped or cut; returns the table and the names of the columns left out.
    """
    kept = list(columns)
    dropped: list[str] = []
    table = _table(kept)
    while _natural_width(table) > width:
        candidates = [c for c in kept if c.drop_order > 0]
        if not candidates:
            break  # only must-show columns remain: let the terminal wrap the line rather than cut a number
        victim = max(candidates, key=lambda c: c.drop_order)
        kept.remove(victim)
        dropped.append(victim.name)
        table = _table(kept)
    return table, dropped


def _dropped_note(dropped: list[str]) -> Text:
    return Text(f"not shown at this width: {', '.join(dropped)} (widen the terminal or use --format csv)", style="dim")


def _factor(value: float) -> str:
    """``1/255`` rather than 0.00392157 when the factor is the inverse of a whole number."""
    inverse = 1.0 / value
    return f"1/{round(inverse)}" if value < 1 and abs(inverse - round(inverse)) < 1e-9 * inverse else short(value)


def _setting(name: str, value: object) -> str:
    if name == "input_scale" and isinstance(value, dict):  # inputs rescaled as read (8-bit masks, --scale)
        return ", ".join(f"{option} read ×{_factor(factor)}" for option, factor in value.items())
    return f"{name}={value}"


def _title(result: LossResult) -> str:
    params = ", ".join(_setting(name, value) for name, value in result.params.items())
    parts = [result.loss, f"reduction={result.reduction}"] + ([params] if params else [])
    if result.convention:
        parts.append(f"convention={result.convention}")
    if result.dtype != "float64":
        parts.append(result.dtype)
    return "  ".join(parts)


def _shown(n: int, max_rows: int) -> list[int | None]:
    """Row numbers to print: all, or the head, a gap (None) and the tail."""
    if n <= max_rows:
        return list(range(n))
    return [*range(HEAD_ROWS), None, *range(n - TAIL_ROWS, n)]


def _element_drop_order(name: str, result: LossResult) -> int:
    if name == "loss":
        return 0
    if name.startswith("grad"):
        return 1
    if name in ("pred", "z", f"{result.activation}(z)"):
        return 2
    if name == "target":
        return 4
    return 5  # details (softmax, p(class)), other tensors, a′(z)


INDEX_DROP_ORDER = 3


def _element_table(
    result: LossResult, precision: int, max_rows: int, width: int, marks: np.ndarray | None = None
) -> tuple[Table, list[str]]:
    rows = _shown(result.arrays().elements.size, max_rows)
    index = Shown(
        "index", ["…" if flat is None else element_index(result, flat) for flat in rows], INDEX_DROP_ORDER, "dim"
    )
    columns = [index]
    for column in element_columns(result):
        cells = [
            "…"
            if flat is None
            else short(column.values[flat][0], precision)
            if column.width == 1
            else short_array(column.values[flat], precision)
            for flat in rows
        ]
        style = "bold" if column.name == "loss" else None
        columns.append(Shown(column.name, cells, _element_drop_order(column.name, result), style))
    if marks is not None:  # --expect / --expect-grad: ✗ on the rows with a wrong entry
        columns.append(Shown("expect", ["…" if flat is None else "✗" if marks[flat] else "" for flat in rows]))
    return fit_columns(columns, width)


def build_image_table(
    result: LossResult, precision: int = 6, max_rows: int = HEAD_ROWS + TAIL_ROWS, width: int = UNLIMITED
) -> Group:
    """Image losses: a row per image (and channel), then the summary with the gradient's shape and norm."""
    rows = image_rows(result)
    shown = _shown(len(rows), max_rows)

    def cells(text) -> list[str]:
        return ["…" if i is None else text(rows[i]) for i in shown]

    columns = [
        Shown("image", cells(lambda r: r.image), 2),
        Shown("channel", cells(lambda r: r.channel), 3),
        Shown("loss", cells(lambda r: short(r.loss, precision)), 0, "bold"),
        Shown("‖grad‖", cells(lambda r: short(r.grad_norm, precision)), 1),
    ]
    table, dropped = fit_columns(columns, width)
    summary = _summary(result, precision)
    shape = "×".join(str(n) for n in result.in_user_layout(result.arrays().grad).shape)
    summary.add_row("grad", f"shape {shape}, ‖grad‖ = {short(float(np.linalg.norm(result.arrays().grad)), precision)}")
    parts: list = [Text(_title(result)), table]
    if dropped:
        parts.append(_dropped_note(dropped))
    if len(rows) > max_rows:
        parts.append(Text(f"{len(rows) - HEAD_ROWS - TAIL_ROWS} of {len(rows)} rows not shown", style="dim"))
    parts.append(Text("per pixel: --save-elements / --save-grad FILE (.npy, .csv or .png heat map)", style="dim"))
    parts.append(summary)
    return Group(*parts)


def reduction_labels(spec, reduction: str) -> tuple[str, str, str]:
    """Labels of sum, mean and value; a loss with a transform (RMSE's root) says what each one is."""
    if spec.reductions.transform is None:
        return "sum", "mean", f"value ({reduction})"
    of = "squares" if spec.reductions.transform.name == "sqrt" else "ℓ"
    base = "mean" if reduction == "mean" else reduction
    return f"sum of {of}", f"mean of {of}", f"value ({spec.reductions.transform.name} of {base})"


def _summary(result: LossResult, precision: int) -> Table:
    summary = Table.grid(padding=(0, 2))
    summary.add_column(justify="right", style="bold")
    summary.add_column(justify="left")
    sum_label, mean_label, value_label = reduction_labels(result.spec, result.reduction)
    summary.add_row(sum_label, short(result.sum, precision))
    summary.add_row(mean_label, short(result.mean, precision) + _mean_note(result))
    if result.reduction == "none":
        summary.add_row("value", "the elements above (reduction=none)")
    elif isinstance(result.value, np.ndarray):  # a library's raw values (--convention): one per output
        values = "  ".join(short(float(v), precision) for v in result.value.ravel())
        summary.add_row("value (per output)", Text(values, style="bold green"))
    else:
        summary.add_row(value_label, Text(short(float(result.value), precision), style="bold green"))
    return summary


def build_table(
    result: LossResult,
    precision: int = 6,
    max_rows: int = HEAD_ROWS + TAIL_ROWS,
    width: int = UNLIMITED,
    marks: np.ndarray | None = None,
) -> Group:
    """The renderable: element rows (head and tail when long) and a summary block.

    ``marks`` (one bool per element, from --expect / --expect-grad) adds a column with ✗ on the wrong rows.
    """
    if result.spec.images:
        return build_image_table(result, precision, max_rows, width)
    table, dropped = _element_table(result, precision, max_rows, width, marks)
    n = result.arrays().elements.size
    parts: list = [Text(_title(result)), table]
    if dropped:
        parts.append(_dropped_note(dropped))
    if n > max_rows:
        hidden = n - HEAD_ROWS - TAIL_ROWS
        parts.append(Text(f"{hidden} of {n} rows not shown (use --format csv or --save-elements for all)", style="dim"))
    parts.append(_summary(result, precision))
    return Group(*parts)


def _mean_note(result: LossResult) -> str:
    if result.count != result.arrays().elements.size:
        return f"  (sum / {short(result.count)})"
    return ""


def _print_summary(summary: LossResult, precision: int, console: Console) -> None:
    """A result without its arrays in memory: the summary only, and where the per-element arrays went."""
    spec = summary.spec
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", style="bold")
    grid.add_column(justify="left")
    params = ", ".join(f"{name}={value}" for name, value in summary.params.items())
    grid.add_row("loss", Text(summary.loss + (f"  {params}" if params else "")))
    grid.add_row(
        "shape",
        "×".join(str(n) for n in summary.shape)
        + f"  ({summary.dtype}, {summary.blocks} block{'s' if summary.blocks != 1 else ''})",
    )
    sum_label, mean_label, value_label = reduction_labels(spec, summary.reduction)
    grid.add_row(sum_label, short(summary.sum, precision))
    note = "" if summary.count == np.prod(summary.shape) else f"  (sum / {short(summary.count)})"
    grid.add_row(mean_label, short(summary.mean, precision) + note)
    grid.add_row(value_label, Text(short(float(summary.value), precision), style="bold green"))
    for name, path in summary.saved.items():
        grid.add_row(Text(name), Text(f"written to {path}"))
    if not summary.saved:
        grid.add_row("", Text("per-element losses and gradients: --save-elements / --save-grad FILE", style="dim"))
    console.print(grid)


def print_table(
    result: LossResult, precision: int = 6, console: Console | None = None, marks: np.ndarray | None = None
) -> None:
    """On a terminal, fit its width (leaving out columns, never cutting numbers); elsewhere, full width."""
    console = console or make_console()
    if not result.in_memory:
        _print_summary(result, precision, console)
        return
    width = console.width if console.is_terminal else UNLIMITED
    renderable = prepared(console, build_table(result, precision, width=width, marks=marks))
    if not console.is_terminal:
        # A file or pipe has no width: use what the table needs instead of wrapping at 80 columns.
        wide = console.options.update(max_width=UNLIMITED)
        console.width = max(80, console.measure(renderable, options=wide).maximum)
    console.print(renderable)
