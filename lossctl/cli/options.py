"""The options of a loss command, generated from its declaration.

``--pred``/``--target`` (or the tensors the loss names), one option per parameter (``--delta``,
``--log-target/--no-log-target``), the table options, the output and homework options, and the
options of other libraries' conventions.  Typer reads them from a generated signature.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from lossctl.losses.image import SCALE_HELP
from lossctl.losses.spec import LossSpec, Param
from lossctl.losses.wording import escape_markup
from lossctl.render import FORMATS

INPUT_FORMS = (
    "values (2,3,4,5 · '1,2;3,4' · JSON), a .csv/.tsv/.txt/.npy/.json file, or - for stdin "
    "(text that reads as values is values: write ./2 for a file named 2)"
)


def option(
    annotation: Any, default: Any, *names: str, help: str, panel: str | None = None, hidden: bool = False
) -> inspect.Parameter:
    name = names[0].lstrip("-").split("/")[0].replace("-", "_")
    info = typer.Option(
        *names,
        help=escape_markup(help),
        rich_help_panel=panel,
        show_default=default not in (None, False),
        hidden=hidden,
    )
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, info]
    )


def param_option(param: Param) -> inspect.Parameter:
    help_text = param.help + (f"  Range {param.range_text()}." if param.range_text() else "")
    if param.kind == "tensor":
        required = " (required)" if param.required else ""
        return option(str | None, None, param.option, help=f"{help_text}{required}: {INPUT_FORMS}", panel="Loss")
    if param.kind == "bool":
        flag = f"{param.option}/--no-{param.option[2:]}"
        return option(bool, param.default, flag, help=help_text, panel="Loss")
    return option(param.python_type, param.default, param.option, help=help_text, panel="Loss")


def loss_signature(spec: LossSpec) -> inspect.Signature:
    """The keyword-only signature Typer reads to build the command's options."""
    params = [option(str | None, None, "--pred", "-p", help=f"Predictions: {INPUT_FORMS}", panel="Inputs")]
    if spec.target == "none":  # accepted only to say why it is wrong
        params.append(option(str | None, None, "--target", "-t", help="not used", hidden=True))
    else:
        params.append(
            option(str | None, None, "--target", "-t", help=f"{spec.target_help}: {INPUT_FORMS}", panel="Inputs")
        )
        params += [
            option(
                str | None,
                None,
                "--data",
                help="A table holding both columns (use with --pred-col, --target-col); - for stdin",
                panel="Inputs",
            ),
            option(
                str | None,
                None,
                "--delimiter",
                help="Column separator of --data: , ; | tab or space (default: detected)",
                panel="Inputs",
            ),
            option(
                str | None,
                None,
                "--pred-col",
                help="Column of --data with the predictions (name or 0-based index)",
                panel="Inputs",
            ),
            option(
                str | None,
                None,
                "--target-col",
                help="Column of --data with the targets (name or 0-based index)",
                panel="Inputs",
            ),
            *table_options(),
        ]
    if spec.images:
        params.append(option(str | None, None, "--scale", help=SCALE_HELP, panel="Inputs"))
        params.append(
            option(
                bool,
                False,
                "--channels-last",
                help="Arrays are (…, H, W, C) rather than (…, C, H, W) (image files always are)",
                panel="Inputs",
            )
        )
    params += [param_option(p) for p in spec.params]
    reductions = ["mean", "sum", "none", *spec.reductions.extra]
    params += [
        option(
            str,
            "mean",
            "--reduction",
            "-r",
            help=f"{' | '.join(reductions)}: what value and grad refer to",
            panel="Output",
        ),
        option(str, "table", "--format", "-f", help=" | ".join(FORMATS), panel="Output"),
        option(int, 6, "--precision", help="Significant digits in the table", panel="Output"),
        option(
            str | None, None, "--dtype", help="float64 (default; Keras and optax: float32) | float32", panel="Output"
        ),
        option(bool, False, "--allow-nonfinite", help="Accept NaN and inf in the inputs", panel="Inputs"),
        option(
            Path | None,
            None,
            "--save-elements",
            help="Write the unreduced losses to FILE (.npy or .csv)",
            panel="Output",
        ),
        option(Path | None, None, "--save-grad", help="Write the gradient to FILE (.npy or .csv)", panel="Output"),
        option(bool, False, "--explain", help="Show the worked derivation with the actual numbers", panel="Homework"),
        option(str | None, None, "--expect", help="Your answer: exit 0 if it matches, 1 if not", panel="Homework"),
        option(
            float | None, None, "--tol", help="Tolerance for --expect (default: the digits you typed)", panel="Homework"
        ),
        option(str | None, None, "--expect-grad", help="Your gradient, checked entry by entry", panel="Homework"),
        option(
            str | None,
            None,
            "--activation",
            help="sigmoid | softmax | tanh: --pred holds pre-activations z",
            panel="Homework",
        ),
        *convention_options(),
    ]
    return inspect.Signature(params)


def convention_options() -> list[inspect.Parameter]:
    """--convention, --set and --sample-weight: another library's way (lossctl.conventions)."""
    panel = "Other libraries"
    return [
        option(
            str | None,
            None,
            "--convention",
            help="torch (default) | keras | sklearn | torchmetrics | optax | all: compute it as that library does",
            panel=panel,
        ),
        option(
            list[str] | None,
            None,
            "--set",
            help="A library parameter in its own spelling, NAME=VALUE (repeatable): --set from_logits=true",
            panel=panel,
        ),
        option(
            str | None,
            None,
            "--sample-weight",
            help=f"Per-sample weights (Keras, scikit-learn): {INPUT_FORMS}",
            panel=panel,
        ),
    ]


def library_options(params: tuple[Param, ...]) -> list[inspect.Parameter]:
    """A library's own parameters as options (``--task``, ``--num-classes``, ``--squared/--no-squared``).

    Only on a command called by a library's name (``hinge_loss``, ``HingeLoss``); ``None`` means not given
    (the library's default), so each is the same as ``--set NAME=VALUE``.
    """
    options = []
    for param in params:
        help_text = f"{param.help} (the library's parameter {param.name}; same as --set {param.name}=VALUE)"
        if param.kind == "bool":
            flag = f"{param.option}/--no-{param.option[2:]}"
            options.append(option(bool | None, None, flag, help=help_text, panel="Other libraries"))
        else:
            options.append(option(str | None, None, param.option, help=help_text, panel="Other libraries"))
    return options


def table_options() -> list[Any]:
    """The options of ``--data`` tables (added to every loss with a target)."""
    panel = "Tables"
    return [
        option(str | None, None, "--weight-col", help="Column of --data with per-row weights (--weight)", panel=panel),
        option(
            str | None, None, "--group-by", help="COL[,COL]: one result per group, plus the overall one", panel=panel
        ),
        option(
            str | None, None, "--keep-col", help="COL[,COL]: key columns written beside .parquet saves", panel=panel
        ),
        option(bool, False, "--dropna", help="Skip rows with a missing or non-finite value (counted)", panel=panel),
        option(str, "local", "--engine", help="local | dask: where the batches are evaluated", panel=panel),
        option(
            str | None,
            None,
            "--scheduler",
            help="Dask scheduler address tcp://HOST:PORT (default: DASK_SCHEDULER_ADDRESS, else a local cluster)",
            panel=panel,
        ),
        option(int | None, None, "--workers", help="Workers of the local Dask cluster (default 2)", panel=panel),
    ]
