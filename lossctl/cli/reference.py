"""The commands beside the losses: ``list``, ``info``, ``compare`` and ``plot``.

Each is a plain function whose signature Typer reads; :mod:`lossctl.cli.app` registers them.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated

import typer

from lossctl.errors import LossctlError
from lossctl.losses.registry import LOSSES


def list_losses(
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json | markdown")] = "table",
    family: Annotated[str | None, typer.Option("--family", help="Only this family")] = None,
    convention: Annotated[
        str | None, typer.Option("--convention", help="keras | sklearn | torchmetrics | optax: that library's losses")
    ] = None,
) -> None:
    """List every loss with its aliases, family, formula and parameters."""
    from lossctl.render.describe import describe, markdown_table

    output_format = output_format.lower()
    if convention is not None and convention.lower() == "all":
        raise LossctlError(
            "--convention all compares one loss across libraries (lossctl LOSS … --convention all); "
            "to list a library's losses give it: torch, keras, sklearn, torchmetrics or optax"
        )
    if convention is not None and convention != "torch":
        from lossctl.cli.conventions import list_library

        list_library(convention, output_format)
        return

    specs = [spec for spec in LOSSES.values() if family is None or spec.family == family]
    if family is not None and not specs:
        families = sorted({s.family for s in LOSSES.values()})
        raise LossctlError(f"--family: no loss in family {family!r} (families: {', '.join(families)})")
    if output_format == "json":
        from lossctl.render.machine import json_line

        sys.stdout.write(json_line([describe(s) for s in specs]))
    elif output_format == "markdown":
        sys.stdout.write(markdown_table(specs))
    elif output_format == "table":
        from lossctl.render.info import print_list

        print_list(specs)
    else:
        raise LossctlError(f"--format must be table, json or markdown, got {output_format!r}")


def info(
    name: Annotated[str, typer.Argument(help="Loss name or alias")],
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
) -> None:
    """Formula, gradient, parameters, when to use it, an example and references."""
    from lossctl.cli.conventions import conventions_of
    from lossctl.render.describe import describe

    spec = LOSSES.resolve(name)
    output_format = output_format.lower()
    if output_format == "json":
        from lossctl.render.machine import json_line

        sys.stdout.write(json_line({**describe(spec), "conventions": conventions_of(spec.name)}))
    elif output_format == "table":
        from lossctl.conventions.render import print_conventions
        from lossctl.render.info import print_info

        print_info(spec)
        print_conventions(spec.name, conventions_of(spec.name))
    else:
        raise LossctlError(f"--format must be table or json, got {output_format!r}")


def compare(
    losses: Annotated[
        list[str] | None, typer.Argument(help="Losses to compare (default: all that accept the inputs)")
    ] = None,
    pred: Annotated[str | None, typer.Option("--pred", "-p", help="Predictions (any input form)")] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Targets (any input form)")] = None,
    reduction: Annotated[str, typer.Option("--reduction", "-r", help="mean | sum")] = "mean",
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    precision: Annotated[int, typer.Option("--precision", help="Significant digits")] = 6,
) -> None:
    """Several losses on the same inputs, one row each: value, sum, mean, gradient norm."""
    from lossctl.cli.commands import require_precision
    from lossctl.homework.comparison import compare_losses
    from lossctl.io.inputs import read_array

    require_precision(precision)
    if pred is None or target is None:
        raise LossctlError("compare needs --pred and --target")
    output_format, reduction = output_format.lower(), reduction.lower()
    comparison = compare_losses(read_array(pred, "--pred"), read_array(target, "--target"), losses or None, reduction)
    if output_format == "json":
        import json

        from lossctl.numbers import jsonable

        sys.stdout.write(json.dumps(jsonable([row.as_dict() for row in comparison.rows])) + "\n")
    elif output_format == "table":
        from lossctl.render.info import print_comparison

        print_comparison(comparison, precision)
    else:
        raise LossctlError(f"--format must be table or json, got {output_format!r}")
    for note in comparison.notes:
        kind = "note" if note.left_out else "warning"
        sys.stderr.write(f"{kind}: {note.loss}{' left out' if note.left_out else ''}: {note.message}\n")


def plot(
    losses: Annotated[list[str], typer.Argument(help="One or more losses to draw")],
    x_range: Annotated[str, typer.Option("--range", help="x range A,B")] = "-3,3",
    settings: Annotated[
        list[str] | None, typer.Option("--set", help="A loss parameter, NAME=VALUE (repeatable)")
    ] = None,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            help="Write a picture (needs matplotlib) instead of drawing: .png, .svg, .pdf …; no suffix adds .png",
        ),
    ] = None,
    points: Annotated[int, typer.Option("--points", help="Grid points")] = 401,
) -> None:
    """The loss and its derivative against the residual, logit or margin."""
    import numpy as np

    from lossctl.homework.curves import curve, parse_range, parse_settings, png_path, render_terminal, save_png

    if not 2 <= points <= 100_000:
        raise LossctlError(f"--points must be between 2 and 100000, got {points}")
    low, high = parse_range(x_range, points)
    params = parse_settings(settings or [])
    specs = [LOSSES.resolve(name) for name in losses]
    known = {p.name for spec in specs for p in spec.hyper_params}
    unknown = sorted(set(params) - known)
    if unknown:
        from lossctl.cli.suggest import suggest_name

        close = suggest_name(unknown[0], sorted(known))
        guess = f"; did you mean {close[0]}?" if close else ""
        raise LossctlError(f"--set: none of these losses has a parameter {unknown[0]!r}{guess}")
    path = png_path(save) if save is not None else None
    grid = np.linspace(low, high, points)
    curves = [curve(spec, grid, params) for spec in specs]
    if path is not None:
        save_png(curves, path)
        sys.stdout.write(f"wrote {path}\n")
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        columns = shutil.get_terminal_size((100, 30)).columns if sys.stdout.isatty() else 100
        sys.stdout.write(render_terminal(curves, width=max(40, min(columns, 160)), color=color) + "\n")
