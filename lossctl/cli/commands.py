"""A loss command: read the inputs, evaluate, show and save — in that order, nothing printed before all is done.

The command's options come from its declaration (:mod:`lossctl.cli.options`); large inputs run block by
block (:mod:`lossctl.cli.blocks`), ``--data`` tables through pyarrow (:mod:`lossctl.cli.tables`), other
libraries' conventions through :mod:`lossctl.conventions`; the output goes through :mod:`lossctl.cli.output`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from lossctl.cli.options import library_options, loss_signature
from lossctl.cli.output import (
    emit,
    publish,
    refusal_hints,
    report_answer_hints,
    report_warnings,
    save_results,
    verdicts,
)
from lossctl.cli.reading import channels_first, read_inputs
from lossctl.cli.tables import refuse_parquet_saves, run_table, table_route
from lossctl.errors import ExitStatus, InputError, LossctlWarning
from lossctl.evaluation.core import compute
from lossctl.evaluation.result import LossResult
from lossctl.io.inputs import is_image_file
from lossctl.io.outputs import OutputSet
from lossctl.losses.image import scale_inputs
from lossctl.losses.spec import LossSpec, Param
from lossctl.losses.wording import escape_markup
from lossctl.render import FORMATS
from lossctl.render.describe import example_command

INLINE_LIMIT = 1_000_000  # above this many values: block-wise reductions, arrays only to --save-* files
BLOCKS_FOR_VALUE_FROM = 1 << 16  # --format value needs no arrays: blocks (no gradient) from this size on


def build_loss_command(spec: LossSpec, invoked: str | None = None) -> Callable[..., int]:
    """A function with a generated signature, ready for ``Typer.command``.

    ``invoked`` is a library's own name for the loss (``BinaryCrossentropy``): it selects that library.
    """

    signature = loss_signature(spec)
    extra = _library_params(invoked, set(signature.parameters))

    def command(**options: Any) -> int:
        given = {p.name: options.pop(p.name, None) for p in extra}
        options["library_options"] = {name: value for name, value in given.items() if value is not None}
        return run_loss(spec, options, invoked)

    if extra:
        signature = signature.replace(parameters=[*signature.parameters.values(), *library_options(extra)])
    command.__signature__ = signature  # type: ignore[attr-defined]
    command.__name__ = spec.name
    aliases = f" Aliases: {', '.join(spec.aliases)}." if spec.aliases else ""
    command.__doc__ = escape_markup(  # Typer's rich help reads docstrings as markup: formulas hold [ ]
        f"{spec.summary}\n\n{spec.formula}\n\nExample: {example_command(spec)}\n\n"
        f"More: lossctl info {spec.name}.{aliases}"
    )
    return command


def _library_params(invoked: str | None, taken: set[str]) -> tuple[Param, ...]:
    """The parameters of the conventions a library's name stands for, as options (``--task``): none otherwise."""
    if invoked is None:
        return ()
    from lossctl.conventions.registry import library_params

    return library_params(invoked, taken)


def require_precision(precision: int) -> None:
    """--precision is a count of significant digits a float64 can hold: 1 to 17."""
    if not 1 <= precision <= 17:
        raise InputError(f"--precision must be between 1 and 17, got {precision}")


def run_loss(spec: LossSpec, options: dict[str, Any], invoked: str | None = None) -> int:
    """Read, compute, render. Everything is computed and saved before anything is printed.

    ``invoked`` is the name the user typed when it selects another library's convention.
    """
    options = _case_insensitive_choices(spec, options)
    output_format = options["format"]
    if output_format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    require_precision(options["precision"])
    options["dtype_given"] = options.get("dtype")  # None: each library's own (see lossctl.conventions)
    options["dtype"] = options.get("dtype") or "float64"
    input_names = ["pred", "target", "data", *(p.name for p in spec.tensor_params)]
    inputs = {f"--{name.replace('_', '-')}": options.get(name) for name in input_names}
    saves = {"--save-elements": options.get("save_elements"), "--save-grad": options.get("save_grad")}
    with OutputSet(saves, inputs) as outputs:  # checked and staged before any work; removed on any failure
        if invoked is not None or any(options.get(name) for name in ("convention", "set", "sample_weight")):
            from lossctl.cli.conventions import run_convention

            status = run_convention(spec, options, invoked, outputs)
            if status is not None:
                return status
        return _run_staged(spec, options, outputs, [str(v) for v in inputs.values() if v is not None])


def _run_staged(spec: LossSpec, options: dict[str, Any], outputs: OutputSet, sources: list[str]) -> int:
    route = table_route(options, spec.name)  # --data tables through pyarrow (lossctl.cli.tables)
    if route is not None:
        try:
            return run_table(spec, options, outputs)
        except InputError:
            if route == "table":
                raise  # "try": a CSV pyarrow refuses is read (and its problem named) by the built-in reader
    refuse_parquet_saves(options)
    pred, target, tensors = read_inputs(spec, options)
    scales: dict[str, float] = {}
    if spec.images:  # 8-bit masks of 0/255 read as 0/1, and --scale
        read = {"--pred": pred} if target is None else {"--pred": pred, "--target": target}
        read, scales = scale_inputs(spec.name, read, options.get("scale"))
        pred, target = read["--pred"], read.get("--target")
    size = int(np.size(pred))
    value_only = options["format"] == "value" and options["reduction"] != "none" and size > BLOCKS_FOR_VALUE_FROM
    channels_last = spec.images is not None and (
        options.get("channels_last", False) or any(is_image_file(source) for source in sources)
    )
    if size > INLINE_LIMIT or value_only:  # every option runs block by block (see _run_blocks)
        from lossctl.cli.blocks import run_blocks  # large inputs only: keeps start-up light

        return run_blocks(
            spec, options, pred, target, tensors, outputs, inline_limit=INLINE_LIMIT, channels_last=channels_last
        )
    if channels_last:
        pred, target, tensors = channels_first(pred, target, tensors)
    hyper = {p.name: options[p.name] for p in spec.hyper_params}
    with warnings.catch_warnings(record=True) as caught, refusal_hints(spec, pred, target, options):
        warnings.simplefilter("always", LossctlWarning)
        result = compute(
            spec,
            pred,
            target,
            reduction=options["reduction"],
            dtype=options["dtype"],
            allow_nonfinite=options["allow_nonfinite"],
            activation=options.get("activation"),
            **hyper,
            **tensors,
        )
    if channels_last:
        result = replace(result, channels_last=True)
    if scales:
        result = replace(result, params={**result.params, "input_scale": scales})
    found = verdicts(result, options)  # a bad --expect is an error: nothing printed before it
    save_results(result, outputs)
    report_warnings(caught)
    report_answer_hints(spec, pred, target, options)
    explained = explanation(result, options)
    publish(outputs, lambda: emit(result, options["format"], options["precision"], explained=explained, verdicts=found))
    if found and not all(v.ok for v in found):
        from lossctl.cli.conventions import note_other_conventions

        note_other_conventions(spec, options, pred, target, found, hyper, tensors)
        return ExitStatus.MISMATCH
    return ExitStatus.OK


def explanation(result: LossResult, options: dict[str, Any]) -> str:
    """``--explain``'s worked derivation, or '' without it."""
    if not options.get("explain"):
        return ""
    from lossctl.render.explain import explain

    return explain(result, options["precision"])


CHOICE_OPTIONS = ("format", "reduction", "dtype", "activation")


def _case_insensitive_choices(spec: LossSpec, options: dict[str, Any]) -> dict[str, Any]:
    """``--activation Sigmoid``, ``--reduction MEAN``, ``--format JSON``, ``--dtype Float32``, ``--norm L1``."""
    names = [*CHOICE_OPTIONS, *(p.name for p in spec.params if p.kind == "choice")]
    lowered = {name: options[name].strip().lower() for name in names if isinstance(options.get(name), str)}
    return {**options, **lowered}
