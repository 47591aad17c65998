"""Rich views of the registry: ``lossctl list``, ``lossctl info`` and ``lossctl compare``.

Every declared or user-supplied text goes through :class:`rich.text.Text`, never through
Rich markup: formulas such as ``−wᵢ [yᵢ log pᵢ …]`` or ``1[m > 0]`` print as written.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import LossSpec
from lossctl.render.console import make_console, prepared
from lossctl.render.describe import describe

WIDE_LIST = 200  # from this many columns on, `list` also shows aliases and parameters
FAMILY_LIST = 80  # below this many columns, the family column is left out too (the formula needs the room)


def _parameters(spec: LossSpec) -> str:
    return ", ".join(f"{p.option}={p.default_text}" if p.kind != "tensor" else p.option for p in spec.params)


def list_table(specs: list[LossSpec], width: int) -> Table:
    """Name, family and the formula wrapped at word boundaries; aliases and parameters when wide."""
    wide = width >= WIDE_LIST
    with_family = width >= FAMILY_LIST
    table = Table(box=box.SIMPLE_HEAD, expand=False)
    table.add_column("loss", no_wrap=True, min_width=max(len(s.name) for s in specs))
    if wide:
        table.add_column("aliases", overflow="fold")
    if with_family:
        table.add_column("family", no_wrap=True, min_width=max(len(s.family) for s in specs))
    table.add_column("formula", overflow="fold")
    if wide:
        table.add_column("parameters", overflow="fold")
    for spec in specs:
        cells = [Text(spec.name, style="bold")]
        if wide:
            cells.append(Text(", ".join(spec.aliases)))
        cells += [Text(spec.family), Text(spec.formula)] if with_family else [Text(spec.formula)]
        if wide:
            cells.append(Text(_parameters(spec)))
        table.add_row(*cells)
    return table


def print_list(specs: list[LossSpec], console: Console | None = None) -> None:
    console = console or make_console()
    console.print(list_table(specs, console.width))
    note = f"{len(specs)} losses. Details: lossctl info NAME"
    if console.width < WIDE_LIST:
        hidden = "aliases and parameters" if console.width >= FAMILY_LIST else "family, aliases and parameters"
        note += f" ({hidden}: lossctl list -f markdown, or a terminal of {WIDE_LIST}+ columns)"
    console.print(Text(note, style="dim"))


def _field(label: str, value: str) -> Text:
    return Text.assemble((f"{label:>9}", "bold"), "  ", value)


def print_info(spec: LossSpec, console: Console | None = None) -> None:
    console = console or make_console()
    data = describe(spec)
    aliases = f"  (aliases: {', '.join(spec.aliases)})" if spec.aliases else ""
    console.print(Text.assemble((spec.name, "bold"), aliases))
    console.print(Text(spec.summary))
    console.print()
    for label, key in (("formula", "formula"), ("gradient", "gradient"), ("target", "target"), ("when", "when")):
        console.print(_field(label, data[key]))
    console.print(_field("reduction", f"{' | '.join(data['reductions'])} (default mean)"))
    if data["pytorch"]:
        console.print(_field("pytorch", f"{data['pytorch']} ({spec.torch_agreement})"))
    if spec.params:
        table = Table(box=box.SIMPLE_HEAD, title="parameters", title_justify="left")
        for name in ("option", "default", "range", "meaning"):
            table.add_column(name, no_wrap=name != "meaning")
        for param in data["params"]:
            default = "auto" if param["default"] is None else str(param["default"])
            table.add_row(*(Text(cell) for cell in (param["option"], default, param["range"], param["help"])))
        console.print(table)
    if spec.see_also:
        console.print(Text("related", style="bold"))
        for name in spec.see_also:
            console.print(Text(f"  {name}: {LOSSES[name].summary}"))
    console.print(Text("example", style="bold"))
    for example in data["examples"]:
        console.print(Text(f"  {example['command']}    # → {example['value']:.10g}  ({example['source']})"))
    console.print(Text("references", style="bold"))
    for reference in data["references"]:
        console.print(Text(f"  • {reference}"))


def print_comparison(comparison, precision: int = 6, console: Console | None = None) -> None:
    """One row per loss (columns left out on a narrow terminal, numbers never cut), then the notes."""
    from lossctl.numbers import short
    from lossctl.render.table import UNLIMITED, Shown, fit_columns

    console = console or make_console()
    rows = comparison.rows
    columns = [
        Shown("loss", [row.result.loss for row in rows]),
        Shown("value", [short(float(row.result.value), precision) for row in rows]),
        Shown("sum", [short(row.result.sum, precision) for row in rows], 3),
        Shown("mean", [short(row.result.mean, precision) for row in rows], 2),
        Shown("‖grad‖", [short(row.grad_norm, precision) for row in rows], 1),
    ]
    table, dropped = fit_columns(columns, console.width if console.is_terminal else UNLIMITED)
    table.columns[0].justify = "left"
    renderable = prepared(console, table)
    if not console.is_terminal:
        options = console.options.update(max_width=UNLIMITED)
        console.width = max(80, console.measure(renderable, options=options).maximum)
    console.print(renderable)
    if dropped:
        console.print(Text(f"not shown at this width: {', '.join(dropped)} (widen the terminal or use -f json)"))
