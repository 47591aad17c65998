"""Build the Typer command of one loss from its declaration, and run it.

Options are generated from the LossSpec: ``--pred``/``--target`` (or the
tensors the loss names), one option per parameter (``--delta``,
``--log-target/--no-log-target``), and the common output options.
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from lossctl.cli.tables import refuse_parquet_saves, run_table, table_options, table_route
from lossctl.errors import ExitStatus, InputError, LossctlWarning
from lossctl.evaluation.core import compute
from lossctl.evaluation.result import LossResult
from lossctl.homework.hints import answer_hints, refusal_hint
from lossctl.io.inputs import is_image_file, read_array, read_columns
from lossctl.io.outputs import OutputSet
from lossctl.io.process import PipeClosed
from lossctl.losses.image import SCALE_HELP, scale_inputs
from lossctl.losses.spec import LossSpec, Param
from lossctl.losses.wording import escape_markup
from lossctl.render import FORMATS
from lossctl.render.describe import example_command

if TYPE_CHECKING:
    from lossctl.homework.verdict import AnyVerdict

INLINE_LIMIT = 1_000_000  # above this many values: block-wise reductions, arrays only to --save-* files
BLOCKS_FOR_VALUE_FROM = 1 << 16  # --format value needs no arrays: blocks (no gradient) from this size on
SAVED_AS = {"--save-elements": "elements", "--save-grad": "grad"}  # the JSON keys that say where arrays went
PROGRESS_BYTES = 256 * 2**20  # a progress bar (on a terminal) from this much input on
INPUT_FORMS = (
    "values (2,3,4,5 · '1,2;3,4' · JSON), a .csv/.tsv/.txt/.npy/.json file, or - for stdin "
    "(text that reads as values is values: write ./2 for a file named 2)"
)


def _option(
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


def _param_option(param: Param) -> inspect.Parameter:
    help_text = param.help + (f"  Range {param.range_text()}." if param.range_text() else "")
    if param.kind == "tensor":
        required = " (required)" if param.required else ""
        return _option(str | None, None, param.option, help=f"{help_text}{required}: {INPUT_FORMS}", panel="Loss")
    if param.kind == "bool":
        flag = f"{param.option}/--no-{param.option[2:]}"
        return _option(bool, param.default, flag, help=help_text, panel="Loss")
    return _option(param.python_type, param.default, param.option, help=help_text, panel="Loss")


def loss_signature(spec: LossSpec) -> inspect.Signature:
    """The keyword-only signature Typer reads to build the command's options."""
    params = [_option(str | None, None, "--pred", "-p", help=f"Predictions: {INPUT_FORMS}", panel="Inputs")]
    if spec.target == "none":  # accepted only to say why it is wrong
        params.append(_option(str | None, None, "--target", "-t", help="not used", hidden=True))
    else:
        params.append(
            _option(str | None, None, "--target", "-t", help=f"{spec.target_help}: {INPUT_FORMS}", panel="Inputs")
        )
        params += [
            _option(
                str | None,
                None,
                "--data",
                help="A table holding both columns (use with --pred-col, --target-col); - for stdin",
                panel="Inputs",
            ),
            _option(
                str | None,
                None,
                "--delimiter",
                help="Column separator of --data: , ; | tab or space (default: detected)",
                panel="Inputs",
            ),
            _option(
                str | None,
                None,
                "--pred-col",
                help="Column of --data with the predictions (name or 0-based index)",
                panel="Inputs",
            ),
            _option(
                str | None,
                None,
                "--target-col",
                help="Column of --data with the targets (name or 0-based index)",
                panel="Inputs",
            ),
            *table_options(),
        ]
    if spec.images:
        params.append(_option(str | None, None, "--scale", help=SCALE_HELP, panel="Inputs"))
        params.append(
            _option(
                bool,
                False,
                "--channels-last",
                help="Arrays are (…, H, W, C) rather than (…, C, H, W) (image files always are)",
                panel="Inputs",
            )
        )
    params += [_param_option(p) for p in spec.params]
    reductions = ["mean", "sum", "none", *spec.extra_reductions]
    params += [
        _option(
            str,
            "mean",
            "--reduction",
            "-r",
            help=f"{' | '.join(reductions)}: what value and grad refer to",
            panel="Output",
        ),
        _option(str, "table", "--format", "-f", help=" | ".join(FORMATS), panel="Output"),
        _option(int, 6, "--precision", help="Significant digits in the table", panel="Output"),
        _option(
            str | None, None, "--dtype", help="float64 (default; Keras and optax: float32) | float32", panel="Output"
        ),
        _option(bool, False, "--allow-nonfinite", help="Accept NaN and inf in the inputs", panel="Inputs"),
        _option(
            Path | None,
            None,
            "--save-elements",
            help="Write the unreduced losses to FILE (.npy or .csv)",
            panel="Output",
        ),
        _option(Path | None, None, "--save-grad", help="Write the gradient to FILE (.npy or .csv)", panel="Output"),
        _option(bool, False, "--explain", help="Show the worked derivation with the actual numbers", panel="Homework"),
        _option(str | None, None, "--expect", help="Your answer: exit 0 if it matches, 1 if not", panel="Homework"),
        _option(
            float | None, None, "--tol", help="Tolerance for --expect (default: the digits you typed)", panel="Homework"
        ),
        _option(str | None, None, "--expect-grad", help="Your gradient, checked entry by entry", panel="Homework"),
        _option(
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
        _option(
            str | None,
            None,
            "--convention",
            help="torch (default) | keras | sklearn | torchmetrics | optax | all: compute it as that library does",
            panel=panel,
        ),
        _option(
            list[str] | None,
            None,
            "--set",
            help="A library parameter in its own spelling, NAME=VALUE (repeatable): --set from_logits=true",
            panel=panel,
        ),
        _option(
            str | None,
            None,
            "--sample-weight",
            help=f"Per-sample weights (Keras, scikit-learn): {INPUT_FORMS}",
            panel=panel,
        ),
    ]


def build_loss_command(spec: LossSpec, invoked: str | None = None) -> Callable[..., int]:
    """A function with a generated signature, ready for ``Typer.command``.

    ``invoked`` is a library's own name for the loss (``BinaryCrossentropy``): it selects that library.
    """

    def command(**options: Any) -> int:
        return run_loss(spec, options, invoked)

    command.__signature__ = loss_signature(spec)  # type: ignore[attr-defined]
    command.__name__ = spec.name
    aliases = f" Aliases: {', '.join(spec.aliases)}." if spec.aliases else ""
    command.__doc__ = escape_markup(  # Typer's rich help reads docstrings as markup: formulas hold [ ]
        f"{spec.summary}\n\n{spec.formula}\n\nExample: {example_command(spec)}\n\n"
        f"More: lossctl info {spec.name}.{aliases}"
    )
    return command


def _read_inputs(spec: LossSpec, options: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """pred, target and tensor parameters, from literals, files, stdin or --data."""
    tensor_names = [p.name for p in spec.tensor_params]
    sources = {"pred": options.get("pred"), "target": options.get("target"), "data": options.get("data")}
    sources.update({name: options.get(name) for name in tensor_names})
    dashes = [f"--{k.replace('_', '-')}" for k, v in sources.items() if v is not None and v.strip() == "-"]
    if len(dashes) > 1:
        raise InputError(f"{' and '.join(dashes)} both read standard input; only one input can be '-'")

    data = options.get("data")
    pred: np.ndarray
    target: np.ndarray | None
    if data is not None:
        if sources["pred"] is not None or sources["target"] is not None:
            raise InputError("--data replaces --pred and --target; give one or the other")
        if options.get("pred_col") is None or options.get("target_col") is None:
            raise InputError("--data needs --pred-col and --target-col (column names or 0-based indices)")
        pred, target = read_columns(data, options["pred_col"], options["target_col"], options.get("delimiter"))
    else:
        if options.get("pred_col") is not None or options.get("target_col") is not None:
            raise InputError("--pred-col and --target-col need --data FILE")
        if options.get("delimiter") is not None:
            raise InputError("--delimiter applies to --data tables; files given to --pred are detected")
        if sources["pred"] is None:
            raise InputError(f"--pred is required: {INPUT_FORMS}")
        pred = read_array(sources["pred"], "--pred")
        target = None if sources["target"] is None else read_array(sources["target"], "--target")
    tensors = {
        name: read_array(text, f"--{name.replace('_', '-')}")
        for name in tensor_names
        if (text := sources[name]) is not None
    }
    return pred, target, tensors


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
            from lossctl.conventions.command import run_convention

            status = run_convention(spec, options, invoked, outputs)
            if status is not None:
                return status
        return _run_staged(spec, options, outputs, [str(v) for v in inputs.values() if v is not None])


def _run_staged(spec: LossSpec, options: dict[str, Any], outputs: OutputSet, sources: list[str]) -> int:
    route = table_route(options)  # --data tables through pyarrow (lossctl.cli.tables)
    if route is not None:
        try:
            return run_table(spec, options, outputs)
        except InputError:
            if route == "table":
                raise  # "try": a CSV pyarrow refuses is read (and its problem named) by the built-in reader
    refuse_parquet_saves(options)
    pred, target, tensors = _read_inputs(spec, options)
    scales: dict[str, float] = {}
    if spec.images:  # 8-bit masks of 0/255 read as 0/1, and --scale
        read = {"--pred": pred} if target is None else {"--pred": pred, "--target": target}
        read, scales = scale_inputs(spec.name, read, options.get("scale"))
        pred, target = read["--pred"], read.get("--target")
    size = int(np.size(pred))
    value_only = options["format"] == "value" and options["reduction"] != "none" and size > BLOCKS_FOR_VALUE_FROM
    channels_last = spec.images and (
        options.get("channels_last", False) or any(is_image_file(source) for source in sources)
    )
    if size > INLINE_LIMIT or value_only:  # every option runs block by block (see _run_blocks)
        return _run_blocks(spec, options, pred, target, tensors, outputs, channels_last=channels_last)
    if channels_last:
        pred, target, tensors = _channels_first(pred, target, tensors)
    hyper = {p.name: options[p.name] for p in spec.hyper_params}
    with warnings.catch_warnings(record=True) as caught, _refusal_hints(spec, pred, target, options):
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
    verdicts = _verdicts(result, options)  # a bad --expect is an error: nothing printed before it
    _save_results(result, outputs)
    _report_warnings(caught)
    for hint in answer_hints(spec.name, pred, target, options.get("activation"), spec.target):
        sys.stderr.write(f"hint: {hint}\n")
    explain = options.get("explain", False)
    _publish(outputs, lambda: emit(result, options["format"], options["precision"], explain=explain, verdicts=verdicts))
    if verdicts and not all(v.ok for v in verdicts):
        from lossctl.conventions.command import note_other_conventions

        note_other_conventions(spec, options, pred, target, verdicts, hyper, tensors)
        return ExitStatus.MISMATCH
    return ExitStatus.OK


CHOICE_OPTIONS = ("format", "reduction", "dtype", "activation")


def _case_insensitive_choices(spec: LossSpec, options: dict[str, Any]) -> dict[str, Any]:
    """``--activation Sigmoid``, ``--reduction MEAN``, ``--format JSON``, ``--dtype Float32``, ``--norm L1``."""
    names = [*CHOICE_OPTIONS, *(p.name for p in spec.params if p.kind == "choice")]
    lowered = {name: options[name].strip().lower() for name in names if isinstance(options.get(name), str)}
    return {**options, **lowered}


@contextmanager
def _refusal_hints(spec: LossSpec, pred: Any, target: Any, options: dict[str, Any]) -> Iterator[None]:
    """An input error whose cause is a classic confusion gains a ``hint:`` line."""
    try:
        yield
    except InputError as exc:
        hint = refusal_hint(spec.name, pred, target, options.get("activation"), spec.target)
        if hint is None:
            raise
        raise InputError(f"{exc}\nhint: {hint}") from exc


def _report_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Each warning once, as one ``warning: …`` line (never Python's format with a source line).

    Blocks repeat a warning for each block they find it in: the first is shown, then how many more.
    NumPy's RuntimeWarnings are not shown: results are checked for inf and NaN instead."""
    shown: dict[type, int] = {}
    for warning in caught:
        category = warning.category
        if issubclass(category, RuntimeWarning) and not issubclass(category, LossctlWarning):
            continue
        shown[category] = shown.get(category, 0) + 1
        if shown[category] == 1:
            sys.stderr.write(f"warning: {str(warning.message).splitlines()[0]}\n")
    for times in shown.values():
        if times > 1:
            sys.stderr.write(f"warning: … and {times - 1} more like it\n")


def _publish(outputs: OutputSet, show: Callable[[], None]) -> None:
    """Print, then rename the staged files into place.

    A standard output that cannot be written (closed, a full disk) fails the run, so no file
    appears; a reader that went away (``| head``) is its own choice, not a failure: the files
    are still saved and the status is 141.
    """
    try:
        show()
        sys.stdout.flush()
    except PipeClosed:
        outputs.commit()
        raise
    outputs.commit()


def _run_blocks(
    spec: LossSpec,
    options: dict[str, Any],
    pred: Any,
    target: Any,
    tensors: dict[str, Any],
    outputs: OutputSet,
    *,
    channels_last: bool = False,
) -> int:
    """Inputs above INLINE_LIMIT values: reductions block by block; arrays only to --save-* files.

    A .npy output is the memory map the blocks are written into; a .csv or .png output is
    written at the end from a memory-mapped working file, a block of rows at a time for CSV.
    """
    from lossctl.cli.tiled import evaluate_tiled, tiles_image
    from lossctl.evaluation.engine import Outputs, evaluate

    size = int(np.size(pred))
    if options["reduction"] == "none":
        raise InputError(
            f"--reduction none on {size:,} values would print every one; use --reduction mean or sum "
            "and write the per-element losses with --save-elements FILE.npy"
        )
    if options["format"] == "csv":
        raise InputError(
            f"--format csv writes a row per value and --pred has {size:,} (above {INLINE_LIMIT:,}); "
            "use --save-elements FILE.csv (or .npy) with --format value, json or table"
        )
    hyper = {p.name: options[p.name] for p in spec.hyper_params}
    arrays = Outputs()
    mapped: dict[str, Any] = {}

    def allocator(option: str) -> Callable[[tuple[int, ...], Any], np.ndarray]:
        direct = outputs.get(option).suffix == ".npy"  # type: ignore[union-attr]

        def allocate(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            mapped[option] = (outputs.memmap if direct else outputs.scratch)(option, shape, dtype)
            return mapped[option]

        return allocate

    expect_grad, array_answer = options.get("expect_grad"), _array_answer(options)
    if "--save-elements" in outputs:
        arrays.make_elements = allocator("--save-elements")
    elif array_answer:
        arrays.make_elements = _working_array
    if "--save-grad" in outputs:
        arrays.grad = allocator("--save-grad")(np.shape(pred), np.dtype(options["dtype"]))
    elif expect_grad is not None:
        arrays.grad = _working_array(np.shape(pred), np.dtype(options["dtype"]))
    rows = np.shape(pred)[0] if np.ndim(pred) else 1
    with _progress(spec.name, rows, pred) as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if size > INLINE_LIMIT and tiles_image(spec, pred, target, options, tensors):  # bands of rows with halos
            summary = evaluate_tiled(
                spec,
                pred,
                target,
                reduction=options["reduction"],
                dtype=options["dtype"],
                allow_nonfinite=options["allow_nonfinite"],
                outputs=arrays,
                channels_last=bool(channels_last),
                **hyper,
            )
        else:
            summary, _ = evaluate(
                spec,
                pred,
                target,
                reduction=options["reduction"],
                dtype=options["dtype"],
                allow_nonfinite=options["allow_nonfinite"],
                want_grad=arrays.grad is not None,
                outputs=arrays,
                progress=progress,
                activation=options.get("activation"),
                channels_last=bool(channels_last),
                **hyper,
                **tensors,
            )
    _report_warnings(caught)
    for option, array in mapped.items():
        array.flush()
        if outputs.get(option).suffix != ".npy":  # type: ignore[union-attr]
            outputs.save(option, array, signed=option == "--save-grad")
    names = outputs.names()
    saved = {attribute: names[option] for option, attribute in SAVED_AS.items() if option in names}
    summary = replace(summary, saved=saved)
    verdicts = _block_verdicts(summary, options, arrays)
    text = ""
    if options.get("explain"):
        from lossctl.render.explain import explain_summary, head_result

        settings = {"dtype": options["dtype"], "allow_nonfinite": options["allow_nonfinite"]}
        settings.update(activation=options.get("activation"), channels_last=bool(channels_last))
        head = head_result(spec, summary, pred, target, tensors, **settings)
        text = explain_summary(spec, summary, head, options["precision"])
    _publish(outputs, lambda: emit_summary(summary, options["format"], options["precision"], verdicts, text))
    return ExitStatus.MISMATCH if verdicts and not all(v.ok for v in verdicts) else ExitStatus.OK


def _array_answer(options: dict[str, Any]) -> bool:
    from lossctl.homework.verdict import is_array_answer

    return options.get("expect") is not None and is_array_answer(options["expect"])


def _working_array(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A memory-mapped array in an unnamed temporary file: nothing is left behind, whatever ends the run."""
    import tempfile

    with tempfile.TemporaryFile() as handle:  # the map keeps its own reference to the file
        handle.truncate(max(1, math.prod(shape)) * np.dtype(dtype).itemsize)
        return np.memmap(handle, dtype=dtype, mode="r+", shape=shape)


def _block_verdicts(summary: Any, options: dict[str, Any], arrays: Any) -> list[AnyVerdict]:
    """--expect and --expect-grad on the block path: array answers checked a block of entries at a time."""
    from lossctl.homework.verdict import check_array_blocks

    scalar = {"expect": None if _array_answer(options) else options.get("expect"), "expect_grad": None}
    verdicts = _verdicts(summary, {**options, **scalar})
    tol = options.get("tol")
    if _array_answer(options):
        context = f"(an array answer is checked against the elements, not the {summary.reduction})"
        verdicts.insert(
            0,
            check_array_blocks(options["expect"], arrays.elements, tol, "--expect", "elements", context, summary.dtype),
        )
    if options.get("expect_grad") is not None:
        grad_answer = options["expect_grad"]
        verdicts.append(
            check_array_blocks(grad_answer, arrays.grad, tol, "--expect-grad", "gradient", "", summary.dtype)
        )
    return verdicts


@contextmanager
def _progress(name: str, rows: int, pred: Any) -> Iterator[Callable[[int], None] | None]:
    """A Rich progress bar on stderr for long work on a terminal; nothing in pipelines."""
    if not sys.stderr.isatty() or int(getattr(pred, "nbytes", 0)) < PROGRESS_BYTES:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(name, total=rows)
        yield lambda done: bar.update(task, completed=done)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def verdict_lines(verdicts: list[AnyVerdict], precision: int) -> list[str]:
    """The ✓/✗ lines of each --expect check (wrong array entries listed), and a count when there are several."""
    lines = [line for v in verdicts for line in v.lines(precision + 1)]
    if len(verdicts) > 1:
        lines.append(f"{sum(v.ok for v in verdicts)} of {len(verdicts)} checks right")
    return lines


def emit_summary(
    summary: Any, output_format: str, precision: int, verdicts: list[AnyVerdict], explained: str = ""
) -> None:
    """value, json or table for a block-wise result (no per-element arrays); ``explained``: --explain's text,
    placed as :func:`emit` places it."""
    lines = verdict_lines(verdicts, precision)
    if output_format == "table":
        if explained:
            sys.stdout.write(explained)
        else:
            from lossctl.render.table import print_summary

            print_summary(summary, precision)
        if lines:
            sys.stdout.write(("\n" if explained else "") + "\n".join(lines) + "\n")
        return
    from lossctl.render import machine

    if output_format == "json":
        extra: dict[str, Any] = {"explain": explained.rstrip("\n").split("\n")} if explained else {}
        if verdicts:
            extra["expect"] = [v.as_dict() for v in verdicts]
        sys.stdout.write(machine.summary_json(summary, extra))
    else:
        sys.stdout.write(machine.full(summary.value) + "\n")
    _close_with(([explained.rstrip("\n")] if explained else []) + lines if output_format != "json" else [])


def _channels_first(pred: Any, target: Any, tensors: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Move a trailing channel axis to PyTorch's place: (…, H, W, C) → (…, C, H, W); (H, W) stays."""
    pred = np.asarray(pred)
    if pred.ndim < 3:
        return pred, target, tensors

    def move(array: Any) -> Any:
        array = np.asarray(array)
        if array.ndim >= pred.ndim and array.shape[-pred.ndim :] == pred.shape:
            return np.moveaxis(array, -1, -3)
        return array

    moved = {name: move(tensor) for name, tensor in tensors.items()}
    return np.moveaxis(pred, -1, -3), None if target is None else move(target), moved


def _save_results(result: LossResult, outputs: OutputSet) -> None:
    """Per-pixel losses and the gradient, in the user's layout (.npy, .csv) or as heat maps (.png), staged."""
    for option, array, signed in (
        ("--save-elements", result.pixel_map, False),
        ("--save-grad", lambda: result.grad, True),
    ):
        staged = outputs.get(option)
        if staged is None:
            continue
        values = array()
        if staged.suffix != ".png":
            values = result.in_user_layout(values)
        outputs.save(option, values, signed=signed)


def _verdicts(result: Any, options: dict[str, Any]) -> list[AnyVerdict]:
    """--expect and --expect-grad, checked before anything is printed.

    A single number is checked against the reduced value; an array (or any answer with
    ``--reduction none``) entry by entry against the elements, and ``--expect-grad`` against the gradient.
    """
    from lossctl.homework.verdict import check_answer, check_array, check_gradient, is_array_answer

    verdicts: list[AnyVerdict] = []
    expect, tol = options.get("expect"), options.get("tol")
    if expect is not None:
        if result.reduction == "none" or is_array_answer(expect):
            if not hasattr(result, "elements"):
                raise InputError("--expect with an array needs the elements: drop --format value for this input")
            context = (
                ""
                if result.reduction == "none"
                else f"(an array answer is checked against the elements, not the {result.reduction})"
            )
            verdicts.append(check_array(expect, result.elements, tol, "--expect", "elements", context, result.dtype))
        else:
            verdicts.append(check_answer(expect, float(result.value), tol, dtype=result.dtype))
    if options.get("expect_grad") is not None:
        verdicts.append(check_gradient(options["expect_grad"], result.grad, tol, result.dtype))
    return verdicts


def _wrong_rows(result: LossResult, verdicts: list[AnyVerdict]) -> np.ndarray | None:
    """One bool per table row, True where an --expect / --expect-grad entry of it is wrong; None if none is."""
    from lossctl.homework.verdict import ArrayVerdict
    from lossctl.render.rows import per_element

    rows: np.ndarray | None = None
    for verdict in verdicts:
        mask = verdict.wrong_mask() if isinstance(verdict, ArrayVerdict) else None
        if mask is None or result.spec.images:
            continue
        per_row = per_element(result, mask)
        if per_row is None:
            continue
        wrong = np.asarray(per_row.any(axis=1))  # an array: NumPy types any() as maybe returning a scalar
        rows = wrong if rows is None else rows | wrong
    return rows if rows is not None and rows.any() else None


def emit(
    result: LossResult,
    output_format: str,
    precision: int,
    *,
    explain: bool = False,
    verdicts: list[AnyVerdict] | None = None,
) -> None:
    """Write the result to stdout in the chosen format; verdicts close the human formats.

    ``--explain`` replaces the table; with csv and value the derivation goes to stderr (stdout stays
    machine-readable), and JSON carries it as a list of lines under ``explain``.
    """
    verdicts = verdicts or []
    lines = verdict_lines(verdicts, precision)
    text = ""
    if explain:
        from lossctl.render.explain import explain as derivation

        text = derivation(result, precision)
    if output_format == "table":
        if explain:
            sys.stdout.write(text)
        else:
            from lossctl.render.table import print_table

            print_table(result, precision, marks=_wrong_rows(result, verdicts))
        if lines:
            sys.stdout.write(("\n" if explain else "") + "\n".join(lines) + "\n")
        return
    from lossctl.render import machine

    if output_format == "json":
        extra: dict[str, Any] = {}
        if explain:
            extra["explain"] = text.rstrip("\n").split("\n")
        if verdicts:
            extra["expect"] = [v.as_dict() for v in verdicts]
        sys.stdout.write(machine.to_json(result, extra))
    else:
        render = {"csv": machine.to_csv, "value": machine.to_value}[output_format]
        sys.stdout.write(render(result))
        _close_with(([text.rstrip("\n")] if explain else []) + lines)
        return
    _close_with([])


def _close_with(verdict_lines: list[str]) -> None:
    """Flush the machine-readable output, then the lines for people (derivation, ✓/✗) on stderr.

    Never before a broken pipe is known.
    """
    sys.stdout.flush()
    if verdict_lines:
        sys.stderr.write("\n".join(verdict_lines) + "\n")
