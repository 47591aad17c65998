"""The human view: a Rich table of elements, then sum, mean and the reduced value.

Only this module (and the explain / info views) imports Rich.
"""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..core import LossResult
from ..numbers import short, short_array
from .images import image_rows
from .rows import element_columns, element_index

HEAD_ROWS = 10
TAIL_ROWS = 5


def _title(result: LossResult) -> str:
    params = ", ".join(f"{name}={value}" for name, value in result.params.items())
    parts = [result.loss, f"reduction={result.reduction}"] + ([params] if params else [])
    if result.dtype != "float64":
        parts.append(result.dtype)
    return "  ".join(parts)


def _shown(n: int, max_rows: int) -> list[int | None]:
    """Row numbers to print: all, or the head, a gap (None) and the tail."""
    if n <= max_rows:
        return list(range(n))
    return [*range(HEAD_ROWS), None, *range(n - TAIL_ROWS, n)]


def build_image_table(result: LossResult, precision: int = 6, max_rows: int = HEAD_ROWS + TAIL_ROWS) -> Group:
    """Image losses: a row per image (and channel), then the summary with the gradient's shape and norm."""
    rows = image_rows(result)
    table = Table(title=_title(result), box=box.SIMPLE_HEAD, title_justify="left")
    for name in ("image", "channel", "loss", "‖grad‖"):
        table.add_column(name, justify="right", style="bold" if name == "loss" else None)
    for index in _shown(len(rows), max_rows):
        if index is None:
            table.add_row(*["…"] * 4)
            continue
        row = rows[index]
        table.add_row(row.image, row.channel, short(row.loss, precision), short(row.grad_norm, precision))
    summary = _summary(result, precision)
    shape = "×".join(str(n) for n in result.in_user_layout(result.grad).shape)
    summary.add_row("grad", f"shape {shape}, ‖grad‖ = {short(float(np.linalg.norm(result.grad)), precision)}")
    parts: list = [table]
    if len(rows) > max_rows:
        parts.append(Text(f"{len(rows) - HEAD_ROWS - TAIL_ROWS} of {len(rows)} rows not shown", style="dim"))
    parts.append(Text("per pixel: --save-elements / --save-grad FILE (.npy, .csv or .png heat map)", style="dim"))
    parts.append(summary)
    return Group(*parts)


def _summary(result: LossResult, precision: int) -> Table:
    summary = Table.grid(padding=(0, 2))
    summary.add_column(justify="right", style="bold")
    summary.add_column(justify="left")
    summary.add_row("sum", short(result.sum, precision))
    summary.add_row("mean", short(result.mean, precision) + _mean_note(result))
    if result.reduction == "none":
        summary.add_row("value", "the elements above (reduction=none)")
    else:
        summary.add_row(f"value ({result.reduction})", Text(short(float(result.value), precision), style="bold green"))
    return summary


def build_table(
    result: LossResult, precision: int = 6, max_rows: int = HEAD_ROWS + TAIL_ROWS, marks: np.ndarray | None = None
) -> Group:
    """The renderable: element rows (head and tail when long) and a summary block.

    ``marks`` (one bool per element, from --expect / --expect-grad) adds a column with ✗ on the wrong rows.
    """
    if result.spec.images:
        return build_image_table(result, precision, max_rows)
    columns = element_columns(result)
    table = Table(title=_title(result), box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("index", justify="right", style="dim")
    for column in columns:
        style = "bold" if column.name == "loss" else None
        table.add_column(column.name, justify="right", style=style)
    if marks is not None:
        table.add_column("expect", justify="center")

    n = result.elements.size
    for flat in _shown(n, max_rows):
        if flat is None:
            hidden = n - HEAD_ROWS - TAIL_ROWS
            table.add_row("…", *["…"] * (len(columns) + (marks is not None)))
            continue
        cells = [element_index(result, flat)]
        for column in columns:
            row = column.values[flat]
            cells.append(short(row[0], precision) if column.width == 1 else short_array(row, precision))
        if marks is not None:
            cells.append("✗" if marks[flat] else "")
        table.add_row(*cells)

    summary = _summary(result, precision)
    parts: list = [table]
    if n > max_rows:
        parts.append(Text(f"{hidden} of {n} rows not shown (use --format csv or --save-elements for all)", style="dim"))
    parts.append(summary)
    return Group(*parts)


def _mean_note(result: LossResult) -> str:
    if result.count != result.elements.size:
        return f"  (sum / {short(result.count)})"
    return ""


def print_summary(summary, precision: int = 6, console: Console | None = None) -> None:
    """A block-wise result: the summary only, and where the per-element arrays went."""
    console = console or Console(highlight=False)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", style="bold")
    grid.add_column(justify="left")
    params = ", ".join(f"{name}={value}" for name, value in summary.params.items())
    grid.add_row("loss", summary.loss + (f"  {params}" if params else ""))
    grid.add_row("shape", "×".join(str(n) for n in summary.shape) + f"  ({summary.dtype}, {summary.blocks} blocks)")
    grid.add_row("sum", short(summary.sum, precision))
    note = "" if summary.count == np.prod(summary.shape) else f"  (sum / {short(summary.count)})"
    grid.add_row("mean", short(summary.mean, precision) + note)
    grid.add_row(f"value ({summary.reduction})", Text(short(summary.value, precision), style="bold green"))
    for name, path in summary.saved.items():
        grid.add_row(name, f"written to {path}")
    if not summary.saved:
        grid.add_row("", Text("per-element losses and gradients: --save-elements / --save-grad FILE", style="dim"))
    console.print(grid)


def print_table(
    result: LossResult, precision: int = 6, console: Console | None = None, marks: np.ndarray | None = None
) -> None:
    console = console or Console(highlight=False)
    renderable = build_table(result, precision, marks=marks)
    if not console.is_terminal:
        # A file or pipe has no width: use what the table needs instead of wrapping at 80 columns.
        wide = console.options.update(max_width=1000)
        console.width = max(80, console.measure(renderable, options=wide).maximum)
    console.print(renderable)
