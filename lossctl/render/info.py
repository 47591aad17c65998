"""Rich views of the registry: ``lossctl list`` and ``lossctl info``."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import LossSpec
from lossctl.render.describe import describe


def print_list(specs: list[LossSpec], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    table = Table(box=box.SIMPLE_HEAD)
    for name in ("loss", "aliases", "family", "formula", "parameters"):
        table.add_column(name, overflow="fold")
    for spec in specs:
        params = ", ".join(f"{p.option}={p.default_text}" if p.kind != "tensor" else p.option for p in spec.params)
        table.add_row(f"[bold]{spec.name}[/]", ", ".join(spec.aliases), spec.family, spec.formula, params)
    console.print(table)
    console.print(f"{len(specs)} losses. Details: lossctl info NAME", style="dim")


def print_info(spec: LossSpec, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    data = describe(spec)
    console.print(f"[bold]{spec.name}[/]" + (f"  (aliases: {', '.join(spec.aliases)})" if spec.aliases else ""))
    console.print(spec.summary)
    console.print()
    for label, key in (("formula", "formula"), ("gradient", "gradient"), ("target", "target"), ("when", "when")):
        console.print(f"[bold]{label:>9}[/]  {data[key]}")
    console.print(f"[bold]{'reduction':>9}[/]  {' | '.join(data['reductions'])} (default mean)")
    if data["pytorch"]:
        console.print(f"[bold]{'pytorch':>9}[/]  {data['pytorch']} (values and gradients match it)")
    if spec.params:
        table = Table(box=box.SIMPLE_HEAD, title="parameters", title_justify="left")
        for name in ("option", "default", "range", "meaning"):
            table.add_column(name)
        for param in data["params"]:
            default = "auto" if param["default"] is None else str(param["default"])
            table.add_row(param["option"], default, param["range"], param["help"])
        console.print(table)
    if spec.see_also:
        console.print("[bold]related[/]")
        for name in spec.see_also:
            console.print(f"  {name}: {LOSSES[name].summary}")
    console.print("[bold]example[/]")
    for example in data["examples"]:
        console.print(f"  {example['command']}    # → {example['value']:.10g}  ({example['source']})")
    console.print("[bold]references[/]")
    for reference in data["references"]:
        console.print(f"  • {reference}")


def print_comparison(rows, precision: int = 6, console: Console | None = None) -> None:
    from lossctl.numbers import short

    console = console or Console(highlight=False)
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("loss")
    for name in ("value", "sum", "mean", "‖grad‖"):
        table.add_column(name, justify="right")
    for row in rows:
        r = row.result
        table.add_row(
            r.loss,
            short(float(r.value), precision),
            short(r.sum, precision),
            short(r.mean, precision),
            short(row.grad_norm, precision),
        )
    console.print(table)
