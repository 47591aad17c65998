"""The one evaluation path: ``prepare`` → ``evaluate_block`` on every block → ``reduce``.

The rows of the leading axis (samples, images or elements) are cut into blocks sized for the CPU
cache; each block is converted, checked, evaluated with the declaration's own functions and reduced
to exact partial sums (:mod:`lossctl.evaluation.block`); blocks run on a small thread pool (NumPy
releases the GIL).  A loss whose rows are not independent is evaluated as one block.  ``.npy``
inputs arrive as memory maps, so only the block being processed is read into memory.

:func:`lossctl.evaluation.core.compute` (the Python API) is this path with the arrays kept in
memory; the command line's large inputs are this path with the arrays written to files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from lossctl.errors import ComputationError
from lossctl.evaluation.block import Outputs, Sink, evaluate_block, pixel_map
from lossctl.evaluation.reduce import Partial, combine, reduce_partial
from lossctl.evaluation.request import BLOCK_ELEMENTS, Request, prepare, read_rows, separable
from lossctl.evaluation.result import LossResult
from lossctl.evaluation.validate import empty_mean, overflow_message
from lossctl.losses.spec import Array, LossSpec

THREADS = max(1, min(4, os.cpu_count() or 1))


def run(
    request: Request,
    outputs: Outputs | None = None,
    *,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[LossResult, Array | None]:
    """Evaluate every block of ``request``; returns the summary and (when wanted) ∂value/∂pred.

    ``outputs`` may hold preallocated arrays (or memory-mapped files) of the elements' and the
    gradient's shapes to be filled; the gradient is allocated here when wanted and none is given.
    ``progress`` is called with the number of rows done after each block.
    """
    outputs = outputs or Outputs()
    spec, float_type = request.spec, request.float_type
    if outputs.make_elements is not None and request.per_row_shape is not None:
        outputs.elements = outputs.make_elements((request.n_rows, *request.per_row_shape), float_type)
    if outputs.make_pixel_maps is not None and not request.whole:
        outputs.pixel_maps = outputs.make_pixel_maps(_pixel_map_shape(request), float_type)
    grad = outputs.grad
    if request.want_grad and grad is None:
        grad = np.empty(request.shape, dtype=float_type)
    sink = Sink(outputs, grad)
    if grad is not None and not request.whole:  # tensors cut into blocks with pred: filled block by block
        for name in request.blocked:
            shape = request.channels_first(np.empty(np.shape(request.tensors[name]), bool)).shape
            sink.extra[name] = np.empty(shape, float_type)

    blocks = request.blocks()
    partials = _run_blocks(request, blocks, sink, threads or THREADS, progress)
    total = combine(partials)
    outputs.totals, outputs.row_shape = total, request.per_row_shape
    reduced = reduce_partial(spec, request.reduction, total, request.divisor, float_type)
    if not request.allow_nonfinite and spec.finite and not math.isfinite(reduced.sum):
        raise ComputationError(overflow_message(spec, float_type))
    if reduced.count == 0.0 and request.reduction == "mean":
        raise empty_mean(spec, request.params)
    if grad is not None and request.early_scale is None and reduced.scale != 1.0:
        for rows in blocks:  # the scale was known only at the end: one more pass over the gradient
            view = grad[rows] if not request.whole else grad
            view *= float_type(reduced.scale)
    _finish_extra_grads(request, sink, total, reduced.scale)
    value: float | Array = reduced.value
    if request.reduction == "none":
        if outputs.elements is None:
            raise ValueError("--reduction none keeps the elements: give outputs that hold them")
        value = outputs.elements
    result = LossResult(
        loss=spec.name,
        params=dict(request.params),
        reduction=request.reduction,
        dtype=request.dtype,
        shape=request.shape,
        sum=reduced.sum,
        mean=reduced.mean,
        value=value,
        count=reduced.count,
        divisor=reduced.divisor,
        blocks=len(blocks),
        activation=request.activation,
        declaration=spec,
    )
    return result, grad


def _pixel_map_shape(request: Request) -> tuple[int, ...]:
    """The shape of an image loss's per-pixel maps in the user's layout, from its first row."""
    p, t, args = request.inputs(slice(0, 1))
    with np.errstate(all="ignore"):
        first = pixel_map(request.spec, p, t, args, np.asarray(request.spec.elements(p, t, **args)))
    if request.channels_last and first.ndim >= 3 and first.shape == p.shape:
        first = np.moveaxis(first, -3, -1)
    return (request.n_rows, *first.shape[1:])


def _run_blocks(
    request: Request, blocks: list[slice], sink: Sink, threads: int, progress: Callable[[int], None] | None
) -> list[Partial]:
    workers = min(threads, len(blocks))
    partials: list[Partial] = []
    if workers <= 1:
        for rows in blocks:
            partials.append(evaluate_block(request, rows, sink))
            if progress is not None:
                progress(rows.stop)
        return partials
    from concurrent.futures import ThreadPoolExecutor  # imported when a second thread is worth it: fast start-up

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for rows, partial in zip(
            blocks, pool.map(lambda rows: evaluate_block(request, rows, sink), blocks), strict=True
        ):
            partials.append(partial)
            if progress is not None:
                progress(rows.stop)
    return partials


def _finish_extra_grads(request: Request, sink: Sink, total: Partial, scale: float) -> None:
    """Gradients of the other differentiable tensors, scaled like --pred's, in the user's layout."""
    final_scale = request.float_type(request.early_scale if request.early_scale is not None else scale)
    extra = {**sink.extra, **total.shared_grads}
    declared = [p.name for p in request.spec.tensor_params]
    for name in sorted(sink.written, key=lambda n: (declared.index(n) if n in declared else len(declared), n)):
        gradient = extra[name] * final_scale if final_scale != 1.0 else extra[name]
        user_layout = request.channels_last and gradient.ndim == request.pred.ndim and gradient.ndim >= 3
        sink.outputs.extra_grads[name] = np.moveaxis(gradient, -3, -1) if user_layout else gradient


def evaluate(
    loss: str | LossSpec,
    pred: Any,
    target: Any = None,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    allow_nonfinite: bool = False,
    want_grad: bool = True,
    outputs: Outputs | None = None,
    block_rows: int | None = None,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    activation: str | None = None,
    channels_last: bool = False,
    **params: Any,
) -> tuple[LossResult, Array | None]:
    """Reduce ``loss`` block by block, reading and checking the inputs one block at a time (large files).

    ``activation`` (as in :func:`lossctl.evaluation.core.compute`) is applied block by block; the
    gradient is then ∂value/∂z.  ``channels_last``: image arrays are (…, H, W, C); each block is moved
    to (…, C, H, W) for the loss and its gradient moved back, so the gradient is in the user's layout.
    """
    request = prepare(
        loss,
        pred,
        target,
        params,
        reduction=reduction,
        dtype=dtype,
        allow_nonfinite=allow_nonfinite,
        activation=activation,
        channels_last=channels_last,
        want_grad=want_grad or (outputs is not None and outputs.grad is not None),
        in_memory=False,
        block_rows=block_rows,
    )
    return run(request, outputs, threads=threads, progress=progress)


def value_and_grad(
    loss: str | LossSpec,
    pred: Any,
    target: Any = None,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    allow_nonfinite: bool = False,
    activation: str | None = None,
    **params: Any,
) -> tuple[float | Array, Array]:
    """The value and ∂value/∂pred, without per-element arrays (what ``loss.backward()`` leaves in ``pred.grad``).

    The same path and value as :func:`lossctl.compute`; the inputs are converted and checked one block
    at a time, in the CPU cache.  ``reduction="none"`` returns the elements as the value, so it keeps them.
    """
    lazy = reduction != "none"  # read and checked block by block, unless the elements are the value
    request = prepare(
        loss,
        pred,
        target,
        params,
        reduction=reduction,
        dtype=dtype,
        allow_nonfinite=allow_nonfinite,
        activation=activation,
        in_memory=not lazy,
    )
    result, grad = run(request, None if lazy else Outputs(make_elements=in_memory))
    assert grad is not None  # the gradient is wanted by default
    return result.value, grad


def in_memory(shape: tuple[int, ...], dtype: Any) -> Array:
    """An array in memory for elements whose shape is known once the blocks are planned."""
    return np.empty(shape, dtype=dtype)


__all__ = ["BLOCK_ELEMENTS", "Outputs", "evaluate", "read_rows", "run", "separable", "value_and_grad"]
