"""Chunked evaluation: sum, mean, value and gradient of large inputs in bounded memory.

The inputs are cut into blocks of rows (the leading axis: samples, images or
elements), each block is converted, checked, evaluated with the declaration's
own ``elements``/``grad`` functions and reduced while it is still in the CPU
cache; blocks run on a small thread pool (NumPy releases the GIL).  A loss
qualifies when its rows are independent — element-wise losses, per-sample
losses over (N, C, …) inputs, image losses over (N, C, H, W) batches; other
inputs are evaluated as one block.  ``.npy`` inputs arrive as memory maps, so
only the block being processed is ever read into memory.

:func:`lossctl.evaluation.core.compute` stays the reference: the tests check that this
module agrees with it for every loss.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.errors import ComputationError, InputError
from lossctl.evaluation.core import (
    REDUCTIONS,
    activate,
    activation_axis,
    as_array,
    chain,
    check_activation,
    check_target_given,
    count_of,
    empty_mean,
    mean_of,
    mean_weights,
    missing_tensor,
    overflow_message,
    reduce_total,
    require_finite,
    require_same_shape,
    resolve_options,
    resolve_params,
    weighted,
)
from lossctl.evaluation.exact import ExactSum
from lossctl.losses.checks import rows_counted_from
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Array, LossSpec

BLOCK_ELEMENTS = 1 << 16  # values per block: 512 KiB of float64, so a block's temporaries stay in cache
VALUE_BLOCK_ELEMENTS = 1 << 20  # without a gradient fewer, larger blocks: less Python per value read
THREADS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class Outputs:
    """Where per-element losses and gradients go: arrays (in memory or memory-mapped files), or nowhere."""

    elements: Array | None = None
    grad: Array | None = None
    make_elements: Callable[[tuple[int, ...], Any], Array] | None = None  # allocate once the shape is known
    extra_grads: dict[str, Array] = field(default_factory=dict)  # filled: ∂value/∂tensor for other inputs


@dataclass(frozen=True)
class Summary:
    """The reductions of a chunked evaluation (no per-element arrays unless ``outputs`` held them)."""

    loss: str
    params: dict[str, Any]
    reduction: str
    dtype: str
    shape: tuple[int, ...]
    sum: float
    mean: float
    value: float
    count: float
    divisor: float
    blocks: int
    saved: dict[str, str] = field(default_factory=dict)
    activation: str | None = None
    declaration: LossSpec | None = None  # the spec that computed it (it may not be registered)

    @property
    def spec(self) -> LossSpec:
        """The declaration that computed this summary (looked up by name only when none was kept)."""
        return self.declaration if self.declaration is not None else LOSSES[self.loss]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/architecture.md §4 without per-element arrays (``saved``: where they went)."""
        out: dict[str, Any] = {
            "loss": self.loss,
            "params": dict(self.params),
            "reduction": self.reduction,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "value": self.value,
            "sum": self.sum,
            "mean": self.mean,
            "count": self.count,
        }
        for name, path in self.saved.items():
            out[name] = path
        if self.activation is not None:
            out["activation"] = self.activation
        return out


def _keep_extra_grads(
    raw: Mapping[str, Array],
    rows: slice,
    whole: bool,
    blocked: set[str],
    into: dict[str, Array],
    float_type: type,
) -> dict[str, Array]:
    """Write the gradients of tensors cut into blocks into ``into``; return those of shared tensors."""
    shared: dict[str, Array] = {}
    for name, gradient in raw.items():
        if name == "pred":
            continue
        array: Array = np.asarray(gradient, dtype=float_type)
        if whole:
            into[name] = array
        elif name in blocked:
            into[name][rows] = array
        else:
            shared[name] = array
    return shared


def separable(spec: LossSpec, pred: Array, arguments: Mapping[str, Any]) -> bool:
    """Whether rows of the leading axis are independent samples for this loss and layout."""
    if pred.ndim == 0 or pred.shape[0] < 2:
        return False
    if spec.class_axis is not None and spec.class_axis(pred) == 0:
        return False  # a single sample whose leading axis is its classes / features
    if spec.separable is not None:
        return bool(spec.separable(pred, **arguments))
    return True


def _rows(array: Any, pred: Array, per_row: bool) -> bool:
    """Whether ``array`` is cut into blocks along with pred (same leading length, and row-shaped)."""
    shape = np.shape(array)
    return len(shape) >= 1 and shape[0] == pred.shape[0] and (len(shape) == pred.ndim or per_row)


def read_rows(array: Any, rows: slice) -> Array:
    """Rows of an array; from a memory-mapped .npy, read with a plain file read.

    Reading through the map would leave every page touched counted in the process's resident
    memory (1.6 GB for a 10⁸-value pair); a read into a fresh block keeps it at one block per thread.
    """
    filename = getattr(array, "filename", None)
    if not isinstance(array, np.memmap) or filename is None or not array.flags.c_contiguous:
        return np.asarray(array[rows])
    start, stop, _ = rows.indices(array.shape[0])
    row_values = math.prod(array.shape[1:])
    offset = int(array.offset) + start * row_values * array.dtype.itemsize
    block = np.fromfile(filename, dtype=array.dtype, count=(stop - start) * row_values, offset=offset)
    return block.reshape((stop - start, *array.shape[1:]))


@np.errstate(all="ignore")  # NumPy RuntimeWarnings never reach the user: results are checked
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
) -> tuple[Summary, Array | None]:
    """Reduce ``loss`` block by block; returns the summary and (when ``want_grad``) ∂value/∂pred.

    ``outputs`` may hold preallocated arrays (or memory-mapped files) of the elements' and
    the gradient's shapes to be filled; ``grad`` is allocated here when ``want_grad`` and none
    is given.  ``progress`` is called with the number of rows done after each block.
    ``activation`` (as in :func:`lossctl.evaluation.core.compute`) is applied block by block: element-wise, or a
    softmax along each row's class axis; the gradient is then ∂value/∂z through the chain rule.
    ``channels_last``: image arrays are (…, H, W, C); each block is moved to (…, C, H, W) for the loss
    and its gradient moved back, so the saved gradient is in the user's layout.
    """
    spec, float_type = resolve_options(loss, dtype, reduction, reducing=True)
    outputs = outputs or Outputs()

    raw_pred = pred if isinstance(pred, np.ndarray) else np.asarray(pred)
    # defaults that depend on the input (PSNR's data range), only when not given: inference may refuse
    if spec.infer is not None and any(params.get(p.name) is None for p in spec.hyper_params if p.default is None):
        inferred = spec.infer(raw_pred[:1])
        params = {**params, **{k: v for k, v in inferred.items() if params.get(k) is None}}
    hyper = resolve_params(spec, params)
    if raw_pred.size == 0:
        raise InputError("--pred is empty: give at least one value")
    raw_target = None
    check_target_given(spec, target)
    if target is not None:
        raw_target = target if isinstance(target, np.ndarray) else np.asarray(target)
        if spec.target == "same":
            require_same_shape(raw_pred, raw_target, "--target")

    def to_channels_first(array: Array) -> Array:
        """(…, H, W, C) → (…, C, H, W) for arrays laid out like --pred when --channels-last is given."""
        if channels_last and array.ndim == raw_pred.ndim and array.ndim >= 3:
            return np.moveaxis(array, -1, -3)
        return array

    tensors: dict[str, Any] = {}
    blocked_tensors: set[str] = set()
    for param in spec.tensor_params:
        given = params.get(param.name)
        if given is None:
            if param.required:
                raise missing_tensor(spec, param)
            continue
        if _rows(given, raw_pred, param.per_row) and raw_pred.ndim >= 1:
            tensors[param.name] = given
            blocked_tensors.add(param.name)
        else:
            tensors[param.name] = to_channels_first(
                as_array(given, param.option, float_type, allow_nonfinite=allow_nonfinite)
            )

    probe = {name: (t[:1] if name in blocked_tensors else t) for name, t in tensors.items()}
    check_activation(activation)
    whole = spec.mean_weights is not None or not separable(spec, raw_pred, {**hyper, **probe})
    if activation == "softmax" and activation_axis(spec, raw_pred) == 0:
        whole = True  # a softmax across the rows themselves: one block
    n_rows = 1 if whole else raw_pred.shape[0]
    row_size = raw_pred.size // max(1, n_rows)
    per_block = BLOCK_ELEMENTS if want_grad else max(BLOCK_ELEMENTS, VALUE_BLOCK_ELEMENTS)
    rows_per_block = n_rows if whole else (block_rows or max(1, per_block // max(1, row_size)))
    target_blocked = raw_target is not None and not whole and _rows(raw_target, raw_pred, True)

    def take(array: Any, rows: slice, blocked: bool, option: str, offset: int) -> Array:
        block = read_rows(array, rows) if blocked and not whole else array
        converted = np.asarray(block).astype(float_type, copy=False)
        if not allow_nonfinite:
            require_finite(converted, option, offset)
        return to_channels_first(converted)

    def inputs(rows: slice) -> tuple[Array, Array | None, dict[str, Any]]:
        offset = rows.start or 0
        p = take(raw_pred, rows, True, "--pred", offset)
        if activation is not None:
            p = activate(activation, p, activation_axis(spec, p))
        t = None if raw_target is None else take(raw_target, rows, target_blocked, "--target", offset)
        args = {**hyper}
        for name, tensor in tensors.items():
            option = spec.param(name).option
            args[name] = take(tensor, rows, True, option, offset) if name in blocked_tensors else tensor
        return p, t, args

    def inputs_without_pred(rows: slice) -> tuple[Array | None, dict[str, Any]]:
        offset = rows.start or 0
        t = None if raw_target is None else take(raw_target, rows, target_blocked, "--target", offset)
        return t, {**hyper, **tensors}

    # What the mean divides by, and the gradient's scale, before the blocks run when possible.
    per_row_shape: tuple[int, ...] | None = None
    if not whole:  # one row tells the elements' shape per row, hence the count
        first_p, first_t, first_args = inputs(slice(0, 1))
        if spec.check is not None:
            spec.check(first_p, first_t, **first_args)
        with np.errstate(all="ignore"):
            per_row_shape = np.shape(spec.elements(first_p, first_t, **first_args))[1:]
    divisor = 1.0
    if reduction not in REDUCTIONS:
        full_args = {**hyper, **tensors}
        divisor = float(spec.extra_reductions[reduction](raw_pred, raw_target, **full_args))
    count: float | None = None
    if per_row_shape is not None and spec.denominator is None:
        count = float(n_rows * math.prod(per_row_shape))
    elif per_row_shape is not None and want_grad and reduction == "mean" and spec.transform is None:
        denominator = ExactSum()  # weighted means: the denominator first (it reads the targets, not the predictions)
        for start in range(0, n_rows, rows_per_block):
            rows = slice(start, min(start + rows_per_block, n_rows))
            _, t, args = inputs(rows) if blocked_tensors else (None, *inputs_without_pred(rows))
            denominator += count_of(spec, raw_pred[rows], t, args, 0)
        count = denominator.rounded(float_type)
    if count == 0.0 and reduction == "mean":
        raise empty_mean(spec, hyper)
    early_scale = None
    if spec.transform is None:
        if reduction == "sum":
            early_scale = 1.0
        elif reduction == "mean" and count is not None:
            early_scale = 1.0 / count
        elif reduction not in REDUCTIONS:
            early_scale = 1.0 / divisor

    if outputs.make_elements is not None and per_row_shape is not None:
        outputs.elements = outputs.make_elements((n_rows, *per_row_shape), float_type)
    grad_out = outputs.grad
    if want_grad and grad_out is None:
        grad_out = np.empty(raw_pred.shape, dtype=float_type)

    extra_out: dict[str, Array] = {}  # gradients of the other differentiable tensors (channels first)
    if grad_out is not None and not whole:  # tensors cut into blocks with pred: filled block by block
        for name in blocked_tensors:
            extra_out[name] = np.empty(to_channels_first(np.empty(np.shape(tensors[name]), bool)).shape, float_type)
    written: set[str] = set()

    @np.errstate(all="ignore")  # per thread: NumPy error states are not inherited
    def run(rows: slice) -> tuple[ExactSum, ExactSum, ExactSum, dict[str, Array]]:
        p, t, args = inputs(rows)
        if spec.check is not None:
            with rows_counted_from(rows.start or 0, rows.stop - (rows.start or 0)):
                spec.check(p, t, **args)
        with np.errstate(all="ignore"):
            fused = spec.fused(p, t, **args) if spec.fused is not None and grad_out is not None else None
            elements = np.asarray(fused[0] if fused is not None else spec.elements(p, t, **args), dtype=float_type)
            total = ExactSum().add(elements)
            weights = mean_weights(spec, p, t, args, float_type)
            mean_total = total if weights is None else ExactSum().add(weights * elements)
            if whole and outputs.make_elements is not None:
                outputs.elements = outputs.make_elements(elements.shape, float_type)
            if outputs.elements is not None:
                outputs.elements[rows if not whole else slice(None)] = elements
            shared: dict[str, Array] = {}  # block partials of tensors shared by every block: summed later
            if grad_out is not None:
                if fused is not None:
                    gradient = fused[1]
                else:
                    raw = spec.grad(p, t, **args, **weighted(weights, reduction))
                    gradient = raw["pred"] if isinstance(raw, Mapping) else raw
                    if isinstance(raw, Mapping):
                        shared = _keep_extra_grads(raw, rows, whole, blocked_tensors, extra_out, float_type)
                        written.update(name for name in raw if name != "pred")
                target_rows = grad_out[rows] if not whole else grad_out
                if channels_last and gradient.ndim >= 3:
                    target_rows = np.moveaxis(target_rows, -1, -3)  # a view: written in the user's layout
                np.multiply(gradient, float_type(early_scale if early_scale is not None else 1.0), out=target_rows)
                if activation is not None:  # scaled first, then chained: the order compute() takes
                    target_rows[...] = chain(activation, p, target_rows, activation_axis(spec, p))[0]
                if not allow_nonfinite and not math.isfinite(float(np.sum(target_rows))):
                    raise ComputationError(overflow_message(spec, float_type, gradient=True))
        block_count = count_of(spec, p, t, args, elements.size)
        if not allow_nonfinite and total.nonfinite != 0.0 and spec.finite:
            raise ComputationError(overflow_message(spec, float_type))
        return total, block_count, mean_total, shared

    blocks = [slice(start, min(start + rows_per_block, n_rows)) for start in range(0, n_rows, rows_per_block)]
    workers = min(threads or THREADS, len(blocks))
    totals: list[tuple[ExactSum, ExactSum, ExactSum, dict[str, Array]]] = []
    if workers <= 1:
        for rows in blocks:
            totals.append(run(rows))
            if progress is not None:
                progress(rows.stop)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for rows, result in zip(blocks, pool.map(run, blocks), strict=True):
                totals.append(result)
                if progress is not None:
                    progress(rows.stop)

    exact_total, exact_count, exact_mean_total = ExactSum(), ExactSum(), ExactSum()
    for block_total, block_count, block_mean_total, shared in totals:  # mean_total: Σ wᵢ ℓᵢ (CTC)
        exact_total += block_total
        exact_count += block_count
        exact_mean_total += block_mean_total
        for name, partial in shared.items():  # a tensor every block used: its gradient sums the blocks'
            extra_out[name] = partial.copy() if name not in extra_out else extra_out[name] + partial
    total = exact_total.rounded(float_type)
    counted = exact_count.rounded(float_type)
    mean_total = exact_mean_total.rounded(float_type)
    if not allow_nonfinite and spec.finite and not math.isfinite(total):
        raise ComputationError(overflow_message(spec, float_type))
    if counted == 0.0 and reduction == "mean":
        raise empty_mean(spec, hyper)
    mean = mean_of(mean_total, counted, float_type)
    reduced = mean_total if reduction == "mean" else total
    value, scale, divisor = reduce_total(spec, reduction, reduced, counted, divisor, float_type)
    if grad_out is not None and early_scale is None and scale != 1.0:
        for rows in blocks:  # the scale was known only at the end: one more pass over the gradient
            view = grad_out[rows] if not whole else grad_out
            view *= float_type(scale)
    final_scale = float_type(early_scale if early_scale is not None else scale)
    for name in sorted(written):  # scaled like --pred's gradient (no activation: it is pred's only)
        extra = extra_out[name] * final_scale if final_scale != 1.0 else extra_out[name]
        user_layout = channels_last and extra.ndim == raw_pred.ndim and extra.ndim >= 3
        outputs.extra_grads[name] = np.moveaxis(extra, -3, -1) if user_layout else extra
    summary = Summary(
        loss=spec.name,
        params=hyper,
        reduction=reduction,
        dtype=dtype,
        shape=tuple(raw_pred.shape),
        sum=total,
        mean=mean,
        value=float(value),
        count=counted,
        divisor=divisor,
        blocks=len(blocks),
        activation=activation,
        declaration=spec,
    )
    return summary, grad_out


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

    The same validation and value as :func:`lossctl.compute` (sums are exact, so they do not depend on
    how the work is cut), computed block by block in the CPU cache.  ``reduction="none"`` returns the
    elements as the value, so it goes through ``compute``.
    """
    if reduction == "none":
        from lossctl.evaluation.core import compute

        result = compute(
            loss,
            pred,
            target,
            reduction=reduction,
            dtype=dtype,
            allow_nonfinite=allow_nonfinite,
            activation=activation,
            **params,
        )
        return result.value, result.grad
    summary, grad = evaluate(
        loss,
        pred,
        target,
        reduction=reduction,
        dtype=dtype,
        allow_nonfinite=allow_nonfinite,
        activation=activation,
        **params,
    )
    assert grad is not None  # want_grad is the default
    return summary.value, grad


__all__ = ["BLOCK_ELEMENTS", "Outputs", "Summary", "evaluate", "separable", "value_and_grad"]
