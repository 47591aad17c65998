"""Inputs above the in-memory limit: every option evaluated block by block, arrays only to --save-* files.

The one evaluation path (:func:`lossctl.evaluation.engine.evaluate`) reads, checks and evaluates the
inputs a block of rows at a time; per-element arrays go to the staged output files (memory-mapped
``.npy``, or a working file written out as CSV or PNG at the end), or to unnamed working files when an
``--expect`` answer needs them.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from lossctl.cli.output import (
    SAVED_AS,
    emit,
    publish,
    refusal_hints,
    report_answer_hints,
    report_warnings,
    verdicts,
)
from lossctl.cli.tiled import evaluate_tiled, tiles_image
from lossctl.errors import ExitStatus, InputError
from lossctl.evaluation.engine import Outputs, evaluate
from lossctl.io.memory import reuse_freed_blocks
from lossctl.io.outputs import OutputSet
from lossctl.losses.spec import LossSpec

PROGRESS_BYTES = 256 * 2**20  # a progress bar (on a terminal) from this much input on


def run_blocks(
    spec: LossSpec,
    options: dict[str, Any],
    pred: Any,
    target: Any,
    tensors: dict[str, Any],
    outputs: OutputSet,
    *,
    inline_limit: int,
    channels_last: bool = False,
) -> int:
    """Inputs above ``inline_limit`` values: reductions block by block; arrays only to --save-* files.

    A .npy output is the memory map the blocks are written into; a .csv or .png output is
    written at the end from a memory-mapped working file, a block of rows at a time for CSV.
    """
    size = int(np.size(pred))
    if options["reduction"] == "none":
        raise InputError(
            f"--reduction none on {size:,} values would print every one; use --reduction mean or sum "
            "and write the per-element losses with --save-elements FILE.npy"
        )
    if options["format"] == "csv":
        raise InputError(
            f"--format csv writes a row per value and --pred has {size:,} (above {inline_limit:,}); "
            "use --save-elements FILE.csv (or .npy) with --format value, json or table"
        )
    reuse_freed_blocks()  # block after block, the same sizes: no page faults for each (lossctl/io/memory.py)
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
    if "--save-elements" in outputs and spec.images is not None:  # per-pixel maps in the user's layout
        arrays.make_pixel_maps = allocator("--save-elements")
    elif "--save-elements" in outputs:
        arrays.make_elements = allocator("--save-elements")
    if array_answer and arrays.make_elements is None:
        arrays.make_elements = _working_array
    if "--save-grad" in outputs:
        arrays.grad = allocator("--save-grad")(np.shape(pred), np.dtype(options["dtype"]))
    elif expect_grad is not None:
        arrays.grad = _working_array(np.shape(pred), np.dtype(options["dtype"]))
    rows = np.shape(pred)[0] if np.ndim(pred) else 1
    with (
        _progress(spec.name, rows, pred) as progress,
        warnings.catch_warnings(record=True) as caught,
        refusal_hints(spec, pred, target, options),
    ):
        warnings.simplefilter("always")
        if size > inline_limit and tiles_image(spec, pred, target, options, tensors):  # bands of rows with halos
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
    report_warnings(caught)
    report_answer_hints(spec, pred, target, options)
    for option, array in mapped.items():
        array.flush()
        suffix = outputs.get(option).suffix  # type: ignore[union-attr]
        if suffix == ".png" and channels_last and array.ndim >= 3 and array.shape == np.shape(pred):
            array = np.moveaxis(array, -1, -3)  # heat maps are drawn from channels-first arrays, as in memory
        if suffix != ".npy":
            outputs.save(option, array, signed=option == "--save-grad")
    names = outputs.names()
    saved = {attribute: names[option] for option, attribute in SAVED_AS.items() if option in names}
    summary = replace(summary, saved=saved)
    found = verdicts(summary, options, arrays)
    text = ""
    if options.get("explain"):
        from lossctl.render.explain_large import explain_summary, head_result

        settings = {"dtype": options["dtype"], "allow_nonfinite": options["allow_nonfinite"]}
        settings.update(activation=options.get("activation"), channels_last=bool(channels_last))
        head = head_result(spec, summary, pred, target, tensors, **settings)
        text = explain_summary(spec, summary, head, options["precision"])
    publish(outputs, lambda: emit(summary, options["format"], options["precision"], explained=text, verdicts=found))
    return ExitStatus.MISMATCH if found and not all(v.ok for v in found) else ExitStatus.OK


def _array_answer(options: dict[str, Any]) -> bool:
    from lossctl.homework.verdict import is_array_answer

    return options.get("expect") is not None and is_array_answer(options["expect"])


def _working_array(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A memory-mapped array in an unnamed temporary file: nothing is left behind, whatever ends the run."""
    import tempfile

    with tempfile.TemporaryFile() as handle:  # the map keeps its own reference to the file
        handle.truncate(max(1, math.prod(shape)) * np.dtype(dtype).itemsize)
        return np.memmap(handle, dtype=dtype, mode="r+", shape=shape)


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
