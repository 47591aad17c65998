"""Rich tables for ``--convention all`` and ``lossctl list --convention LIB`` (Rich imported only here)."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from lossctl.conventions.base import Library
from lossctl.conventions.compare import Row
from lossctl.numbers import short
from lossctl.render.console import make_console


def _print(table: Table) -> None:
    console = make_console()
    if not console.is_terminal:
        console.width = max(80, console.measure(table, options=console.options.update(max_width=1000)).maximum)
    console.print(table)


def print_all(loss: str, rows: list[Row], precision: int) -> None:
    """One row per library: its name for the loss, its value and what it does differently."""
    table = Table(title=f"{loss}  convention=all", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("convention", "name", "value", "reduction", "dtype", "differs from PyTorch by"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        value = short(row.value, precision) if row.value is not None else "error"
        reason = row.reason if row.error is None else f"{row.error}"
        table.add_row(*(escape(str(c)) for c in (row.library, row.name, value, row.reduction, row.dtype, reason)))
    _print(table)


def print_library(library: Library) -> None:
    """A library's losses with lossctl's equivalents, then those lossctl lacks."""
    table = Table(title=f"{library.title} losses in lossctl", box=box.SIMPLE_HEAD, title_justify="left")
    for column in (f"{library.title} name", "lossctl", "differs from PyTorch by", "source"):
        table.add_column(column)
    for convention in library.conventions:
        table.add_row(
            *(escape(c) for c in (", ".join(convention.names), convention.loss, convention.reason, convention.source))
        )
    for name, what in library.missing.items():
        table.add_row(escape(name), "— (not in lossctl yet)", escape(what), "")
    _print(table)


def print_conventions(loss: str, rows: list[dict]) -> None:
    """``lossctl info``'s conventions table (nothing when no other library has the loss)."""
    if not rows:
        return
    table = Table(title=f"{loss} in other libraries (--convention)", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("convention", "names", "parameters", "differs from PyTorch by", "source"):
        table.add_column(column)
    for row in rows:
        cells = (row["convention"], ", ".join(row["names"]), ", ".join(row["params"]), row["reason"], row["source"])
        table.add_row(*(escape(c) for c in cells))
    _print(table)
