"""``prepare``: validate a loss call once and plan its blocks; the rest of the pipeline trusts the result.

A :class:`Request` is immutable and typed: the declaration, the resolved parameters, the input arrays,
the float type, the layout and how the rows are cut into blocks.  Arrays the caller holds in memory are
converted, checked (finite values, the loss's domain) and activated here, as a whole; arrays that are
memory maps of large files stay as they are and are converted and checked one block at a time
(:meth:`Request.inputs`), so memory stays bounded.
"""

from __future__ import annotations

import math
import mmap
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lossctl.errors import InputError, LossctlWarning
from lossctl.evaluation.activations import activate, activation_axis, check_activation
from lossctl.evaluation.exact import ExactSum
from lossctl.evaluation.reduce import count_of
from lossctl.evaluation.validate import (
    REDUCTIONS,
    as_array,
    check_target_given,
    empty_mean,
    missing_tensor,
    numeric_array,
    require_finite,
    require_same_shape,
    resolve_options,
    resolve_params,
)
from lossctl.losses.checks import rows_counted_from
from lossctl.losses.spec import Array, LossSpec

BLOCK_ELEMENTS = 1 << 16  # values per block: 512 KiB of float64, so a block's temporaries stay in cache
VALUE_BLOCK_ELEMENTS = 1 << 17  # without a gradient: 1 MiB blocks, computed in buffers their thread lends (block.py)


@dataclass(frozen=True)
class Request:
    """One validated loss call: what to compute, on which arrays, cut into which blocks."""

    spec: LossSpec
    reduction: str
    dtype: str
    float_type: type[np.floating[Any]]
    params: Mapping[str, Any]  # the hyper-parameters, defaults filled in and checked
    pred: Array  # in memory: converted, checked and activated; otherwise as given (a memory map)
    target: Array | None
    tensors: Mapping[str, Array]  # tensor parameters; those in ``blocked`` are cut into blocks with pred
    blocked: frozenset[str]
    target_blocked: bool
    whole: bool  # one block: rows are not independent samples for this loss
    n_rows: int
    rows_per_block: int
    per_row_shape: tuple[int, ...] | None  # shape of one row's elements (None for a single block)
    count: float | None  # what the mean divides by, when known before the blocks run
    divisor: float  # a loss-specific reduction's divisor (kl_div's batchmean)
    early_scale: float | None  # ∂value/∂sum when known before the blocks run
    allow_nonfinite: bool
    activation: str | None
    checked: bool  # True: the arrays were converted, checked and activated as a whole
    channels_last: bool  # the caller's images are (…, H, W, C); blocks are moved to (…, C, H, W)
    want_grad: bool
    pre_activation: Array | None = None  # z, when activated in memory
    infer_each_block: bool = False  # defaults were read off the input: every block must allow them (PSNR's R)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of --pred as the user gave it."""
        return tuple(self.pred.shape)

    def blocks(self) -> list[slice]:
        """The rows of each block, in order."""
        step = self.rows_per_block
        return [slice(start, min(start + step, self.n_rows)) for start in range(0, self.n_rows, step)]

    def channels_first(self, array: Array) -> Array:
        """(…, H, W, C) → (…, C, H, W) for arrays laid out like --pred when the user's are channels-last."""
        if self.channels_last and array.ndim == self.pred.ndim and array.ndim >= 3:
            return np.moveaxis(array, -1, -3)
        return array

    def inputs(self, rows: slice) -> tuple[Array, Array | None, dict[str, Any]]:
        """pred, target and the loss's keyword arguments for the block of ``rows``, converted and checked."""
        if self.checked:
            cut = slice(None) if self.whole else rows
            p = self.pred[cut]
            t = self.target if self.target is None or not self.target_blocked else self.target[cut]
            args = {**self.params}
            for name, tensor in self.tensors.items():
                args[name] = tensor[cut] if name in self.blocked else tensor
            return p, t, args
        offset = rows.start or 0
        if self.infer_each_block and self.spec.infer is not None:  # refuses a block the defaults do not fit
            self.spec.infer(read_rows(self.pred, rows) if not self.whole else self.pred)
        p = self._take(self.pred, rows, True, "--pred", offset)
        if self.activation is not None:
            p = activate(self.activation, p, activation_axis(self.spec, p))
        t = None if self.target is None else self._take(self.target, rows, self.target_blocked, "--target", offset)
        args = {**self.params}
        for name, tensor in self.tensors.items():
            blocked = name in self.blocked
            args[name] = self._take(tensor, rows, True, self.spec.param(name).option, offset) if blocked else tensor
        return p, t, args

    def target_rows(self, rows: slice) -> tuple[Array | None, dict[str, Any]]:
        """The target and keyword arguments of a block without reading its predictions (for denominators)."""
        if self.checked or self.blocked:
            _, t, args = self.inputs(rows)
            return t, args
        offset = rows.start or 0
        t = None if self.target is None else self._take(self.target, rows, self.target_blocked, "--target", offset)
        return t, {**self.params, **self.tensors}

    def _take(self, array: Array, rows: slice, blocked: bool, option: str, offset: int) -> Array:
        block = read_rows(array, rows) if blocked and not self.whole else array
        converted = np.asarray(block).astype(self.float_type, copy=False)
        if not self.allow_nonfinite:
            require_finite(converted, option, offset)
        return self.channels_first(converted)


def read_rows(array: Array, rows: slice) -> Array:
    """Rows of an array; from a memory-mapped .npy, through a map of those rows alone (read-only).

    Reading through the whole file's map would leave every page touched counted in the process's
    resident memory (1.6 GB for a 10⁸-value pair), and a file read copies every byte once more; a map
    of the block's rows is unmapped as soon as the block is done with (when its array is freed), so
    resident memory stays at a few blocks and the pages are the page cache's own.
    """
    filename = getattr(array, "filename", None)
    if not isinstance(array, np.memmap) or filename is None or not array.flags.c_contiguous:
        return np.asarray(array[rows])
    start, stop, _ = rows.indices(array.shape[0])
    row_values = math.prod(array.shape[1:])
    count = (stop - start) * row_values
    shape = (stop - start, *array.shape[1:])
    if count == 0:
        return np.empty(shape, dtype=array.dtype)
    offset = int(array.offset) + start * row_values * array.dtype.itemsize
    aligned = offset - offset % mmap.ALLOCATIONGRANULARITY  # a map starts on a page boundary
    with open(filename, "rb") as handle:
        window = mmap.mmap(
            handle.fileno(), offset - aligned + count * array.dtype.itemsize, offset=aligned, access=mmap.ACCESS_READ
        )
    return np.frombuffer(window, dtype=array.dtype, count=count, offset=offset - aligned).reshape(shape)


def separable(spec: LossSpec, pred: Array, arguments: Mapping[str, Any]) -> bool:
    """Whether rows of the leading axis are independent samples for this loss and layout."""
    if pred.ndim == 0 or pred.shape[0] < 2:
        return False
    if spec.class_axis is not None and spec.class_axis(pred) == 0:
        return False  # a single sample whose leading axis is its classes / features
    if spec.engine.separable is not None:
        return bool(spec.engine.separable(pred, **arguments))
    return True


def _row_shaped(array: Array, pred: Array, per_row: bool) -> bool:
    """Whether ``array`` is cut into blocks along with pred (same leading length, and row-shaped)."""
    shape = np.shape(array)
    return len(shape) >= 1 and shape[0] == pred.shape[0] and (len(shape) == pred.ndim or per_row)


@np.errstate(all="ignore")  # NumPy RuntimeWarnings never reach the user: results are checked
def prepare(
    loss: str | LossSpec,
    pred: Any,
    target: Any = None,
    params: Mapping[str, Any] | None = None,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    allow_nonfinite: bool = False,
    activation: str | None = None,
    channels_last: bool = False,
    want_grad: bool = True,
    in_memory: bool = True,
    block_rows: int | None = None,
    check_domain: bool = True,
) -> Request:
    """Validate everything about one loss call and plan its blocks.

    ``params``: the loss's hyper-parameters and tensor parameters, by name (a mapping, so that no name
    of the user's can reach the options below).
    ``in_memory``: convert and check the arrays as a whole now (the Python API); otherwise they are
    read, converted and checked one block at a time (large files), and ``none`` is refused.
    ``check_domain=False`` (in memory only): inputs outside the loss's domain give NaN instead of an
    error, for curves drawn over a grid that crosses it.
    """
    spec, float_type = resolve_options(loss, dtype, reduction, reducing=not in_memory)
    params = dict(params or {})
    raw_pred = numeric_array(pred, "--pred")
    # defaults that depend on the input (PSNR's data range), only when not given: inference may refuse
    infer_each_block = False
    if spec.infer is not None and any(params.get(p.name) is None for p in spec.hyper_params if p.default is None):
        inferred = spec.infer(raw_pred if in_memory or raw_pred.ndim == 0 else raw_pred[:1])
        params = {**params, **{k: v for k, v in inferred.items() if params.get(k) is None}}
        infer_each_block = not in_memory  # the first row chose them: every block is checked against them
    hyper = resolve_params(spec, params)

    def channels_first(array: Array) -> Array:
        if channels_last and array.ndim == raw_pred.ndim and array.ndim >= 3:
            return np.moveaxis(array, -1, -3)
        return array

    tensors: dict[str, Array] = {}
    blocked: set[str] = set()
    for param in spec.tensor_params:
        given = params.get(param.name)
        if given is None:
            if param.required:
                raise missing_tensor(spec, param)
            continue
        if not in_memory and raw_pred.ndim >= 1 and _row_shaped(given, raw_pred, param.per_row):
            tensors[param.name] = numeric_array(given, param.option)
            blocked.add(param.name)
        else:
            tensors[param.name] = channels_first(
                as_array(given, param.option, float_type, allow_nonfinite=allow_nonfinite)
            )

    check_activation(activation)
    pre_activation = None
    if in_memory:
        raw_pred = as_array(raw_pred, "--pred", float_type, allow_nonfinite=allow_nonfinite)
        if activation is not None:
            pre_activation = raw_pred
            raw_pred = activate(activation, raw_pred, activation_axis(spec, raw_pred))
    check_target_given(spec, target)
    raw_target = None
    if target is not None:
        raw_target = numeric_array(target, "--target")
        if in_memory:
            raw_target = as_array(raw_target, "--target", float_type, allow_nonfinite=allow_nonfinite)
        if spec.target == "same":
            require_same_shape(raw_pred, raw_target, "--target")
    if in_memory and check_domain and spec.check is not None:
        spec.check(raw_pred, raw_target, **hyper, **tensors)

    if in_memory:  # tensors with one entry per row are cut with pred
        blocked = {
            n for n, t in tensors.items() if raw_pred.ndim >= 1 and _row_shaped(t, raw_pred, spec.param(n).per_row)
        }
    probe = {name: (t[:1] if name in blocked else t) for name, t in tensors.items()}
    whole = spec.reductions.mean_weights is not None or not separable(spec, raw_pred, {**hyper, **probe})
    if activation == "softmax" and activation_axis(spec, raw_pred) == 0:
        whole = True  # a softmax across the rows themselves: one block
    n_rows = 1 if whole else raw_pred.shape[0]
    row_size = raw_pred.size // max(1, n_rows)
    per_block = BLOCK_ELEMENTS if want_grad else max(BLOCK_ELEMENTS, VALUE_BLOCK_ELEMENTS)
    rows_per_block = n_rows if whole else (block_rows or max(1, per_block // max(1, row_size)))
    target_blocked = raw_target is not None and not whole and _row_shaped(raw_target, raw_pred, True)

    request = Request(
        spec=spec,
        reduction=reduction,
        dtype=dtype,
        float_type=float_type,
        params=hyper,
        pred=raw_pred,
        target=raw_target,
        tensors=tensors,
        blocked=frozenset(blocked),
        target_blocked=target_blocked,
        whole=whole,
        n_rows=n_rows,
        rows_per_block=rows_per_block,
        per_row_shape=None,
        count=None,
        divisor=1.0,
        early_scale=None,
        allow_nonfinite=allow_nonfinite,
        activation=activation,
        checked=in_memory,
        channels_last=channels_last,
        want_grad=want_grad,
        pre_activation=pre_activation,
        infer_each_block=infer_each_block,
    )
    return _planned(request)


PROBE_SHAPE = re.compile(r"\(1,[\d, ]*\)")  # a shape with one row, as the one-row probe's arrays have


def _check_whole_shapes(request: Request, first_p: Array, first_t: Array | None, first_args: dict[str, Any]) -> None:
    """Run the loss's check on arrays of the whole inputs' shapes (row 0 repeated, no memory), so that a
    refusal of shapes names them, not the one-row probe's: ``--target has (299,) but --pred has (300, 4)``."""
    assert request.spec.check is not None

    def whole(row: Array) -> Array:
        return np.broadcast_to(row, (request.n_rows, *row.shape[1:]))

    t = whole(first_t) if first_t is not None and request.target_blocked else first_t
    args = {name: whole(value) if name in request.blocked else value for name, value in first_args.items()}
    request.spec.check(whole(first_p), t, **args)


@np.errstate(all="ignore")
def _planned(request: Request) -> Request:
    """The request with what can be known before the blocks run: the elements' shape per row, the count
    the mean divides by, a loss-specific divisor and so the gradient's scale."""
    spec, reduction = request.spec, request.reduction
    per_row_shape: tuple[int, ...] | None = None
    if not request.whole:  # one row tells the elements' shape per row, hence the count
        first_p, first_t, first_args = request.inputs(slice(0, 1))
        if spec.check is not None and not request.checked:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LossctlWarning)  # block 0 checks this row again, and warns
                try:
                    with rows_counted_from(0, 1):
                        spec.check(first_p, first_t, **first_args)
                except InputError as exc:
                    if PROBE_SHAPE.search(str(exc)):  # a refusal of the probe's shapes: say it of the whole arrays
                        _check_whole_shapes(request, first_p, first_t, first_args)
                    raise
        per_row_shape = tuple(np.shape(spec.elements(first_p, first_t, **first_args))[1:])
    divisor = 1.0
    if reduction not in REDUCTIONS:
        full_args = {**request.params, **request.tensors}
        divisor = float(spec.reductions.extra[reduction](request.pred, request.target, **full_args))
    count: float | None = None
    if per_row_shape is not None and spec.plain_count(request.tensors):
        count = float(request.n_rows * math.prod(per_row_shape))
    elif per_row_shape is not None and request.want_grad and reduction == "mean" and spec.reductions.transform is None:
        denominator = ExactSum()  # weighted means: the denominator first (it reads the targets, not the predictions)
        for rows in request.blocks():
            t, args = request.target_rows(rows)
            denominator += count_of(spec, request.pred[rows], t, args, 0)
        count = denominator.rounded(request.float_type)
    if count == 0.0 and reduction == "mean":
        raise empty_mean(spec, request.params)
    early_scale = None
    if spec.reductions.transform is None:
        if reduction in ("sum", "none"):
            early_scale = 1.0
        elif reduction == "mean" and count is not None:
            early_scale = 1.0 / count
        elif reduction not in REDUCTIONS:
            early_scale = 1.0 / divisor
    return replace(request, per_row_shape=per_row_shape, count=count, divisor=divisor, early_scale=early_scale)
