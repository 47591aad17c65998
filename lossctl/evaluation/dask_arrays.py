"""Dask arrays and Dask DataFrame columns in the Python API: ``lossctl.compute("mse", dask_pred, dask_target)``.

``lossctl.compute`` and ``lossctl.value_and_grad`` send their arguments here when one of them is a Dask
collection (a ``dask.array.Array``, a Dask ``Series`` or ``DataFrame``); NumPy callers never import Dask.
The inputs are cut into the blocks of ``pred`` along its first axis (rows): every block is one Dask task
running the same batch evaluation as ``--data`` tables (:func:`lossctl.evaluation.batches.evaluate_batch`)
and returning its exact partial sums (:class:`~lossctl.evaluation.batches.Partials`), which are added here.
So ``value``, ``sum``, ``mean`` and ``count`` equal ``compute`` on the same NumPy arrays bit for bit,
whatever the chunking.  The tasks run on Dask's current scheduler: a ``distributed.Client`` when one is
active, else Dask's local threads.

The result is the summary the CLI's ``--engine dask`` renders (:class:`DaskSummary`, a
:class:`~lossctl.evaluation.table_result.TableSummary`) plus two **lazy** Dask arrays: ``elements`` (per-row
losses) and ``grad`` (∂value/∂pred, in ``pred``'s shape); nothing per row is computed until the caller
computes them, block by block again (the gradient of a mean needs the overall count, known only after the
reduction).  They equal ``compute``'s arrays to rounding (bit for bit for element-wise losses without an
activation).  ``reduction="none"`` is refused: its value would be every element (use ``.elements``).

Alignment: ``target`` and per-row tensor parameters (``weight=``, ``var=`` …; Dask or NumPy) are cut like
``pred``'s rows (rechunked when their chunks differ).  Columns of Dask DataFrames whose partition sizes are
unknown are paired partition by partition when they have as many partitions, and a partition whose lengths
differ is an error naming it.  Tensor parameters that are not row-shaped (cross-entropy's class weights)
go whole to every task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.errors import InputError, ParameterError
from lossctl.evaluation.activations import activate, activation_axis, chain
from lossctl.evaluation.batches import (
    Partials,
    Plan,
    combine,
    evaluate_batch,
    make_plan,
)
from lossctl.evaluation.table_result import TableSummary
from lossctl.evaluation.validate import require_finite
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Array, LossSpec


def _module(name: str) -> Any:
    """A Dask module, imported on first use (Dask's functions are unannotated: used as Any)."""
    import importlib

    return importlib.import_module(name)


def is_dask(value: Any) -> bool:
    """A Dask collection (array, Series, DataFrame), told without importing Dask."""
    return type(value).__module__.startswith("dask")


@dataclass(frozen=True)
class DaskSummary(TableSummary):
    """The summary of Dask inputs (exact value, sum, mean, count) and their lazy per-row results."""

    elements: Any = None  # dask.array.Array of the per-row losses, computed when asked for
    grad: Any = None  # dask.array.Array of ∂value/∂pred, in pred's shape


@dataclass
class ArrayBatch:
    """One block of the Dask inputs, as :func:`evaluate_batch` takes it (no groups, nothing dropped)."""

    pred: Array
    target: Array | None
    tensors: dict[str, Array] = field(default_factory=dict)
    weight: Array | None = None
    keys: dict[str, Array] = field(default_factory=dict)
    dropped: int = 0


@dataclass(frozen=True)
class Block:
    """Where one task's rows are: its number, its first row (None when Dask does not know) and its length."""

    index: int
    start: int | None
    rows: float  # NaN when unknown


def compute_dask(
    loss: str | LossSpec,
    pred: Any,
    target: Any = None,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    allow_nonfinite: bool = False,
    activation: str | None = None,
    **params: Any,
) -> DaskSummary:
    """``lossctl.compute`` for Dask inputs: exact reductions now, per-row results as lazy Dask arrays."""
    dask = _module("dask")
    spec = loss if isinstance(loss, LossSpec) else LOSSES.resolve(loss)
    if reduction == "none":
        raise ParameterError(
            "reduction='none' keeps every element: with Dask inputs use reduction='mean' or 'sum' and the "
            "lazy result.elements"
        )
    _refuse_inferred(spec, params)
    pred_array = _as_array(pred)
    shared, per_row = _split_tensors(spec, pred_array, params)
    plan = make_plan(
        spec, reduction=reduction, dtype=dtype, allow_nonfinite=allow_nonfinite, activation=activation, params=shared
    )
    pred_array, others = _align(pred_array, {"target": target, **per_row})
    blocks = _blocks(pred_array)
    delayed_inputs = _delayed_blocks(pred_array, others)
    options = {**_options(plan), "names": list(others)}
    task = dask.delayed(evaluate_block, pure=True)
    tasks = [task(spec, options, block, *inputs) for block, inputs in zip(blocks, delayed_inputs, strict=True)]
    total = Partials()
    for partial in dask.compute(*tasks):
        total += partial
    if total.overall.rows == 0:
        raise InputError("--pred is empty: give at least one value")
    summary, scale = combine(plan, total, total.row_shape)
    elements = _lazy(block_elements, (spec, options), blocks, delayed_inputs, total.row_shape, plan)
    grad = _lazy(block_grad, (spec, options, scale), blocks, delayed_inputs, pred_array.shape[1:], plan)
    return DaskSummary(summary, total.overall.rows, 0, elements=elements, grad=grad)


def value_and_grad_dask(loss: str | LossSpec, pred: Any, target: Any = None, **options: Any) -> tuple[float, Any]:
    """``lossctl.value_and_grad`` for Dask inputs: the exact value and the lazy gradient (a Dask array)."""
    result = compute_dask(loss, pred, target, **options)
    return result.value, result.grad


def evaluate_block(loss: LossSpec, options: dict[str, Any], block: Block, pred: Any, *others: Any) -> Partials:
    """One Dask task: the exact partial sums of one block (``others``: target, then per-row tensors)."""
    plan, batch = _prepared(loss, options, block, pred, others)
    if len(batch.pred) == 0:  # an empty partition
        return Partials()
    try:
        if not plan.allow_nonfinite:  # named by their row in the whole array where it is known
            for option, values in (("--pred", batch.pred), ("--target", batch.target), *batch.tensors.items()):
                if values is not None:
                    require_finite(values.astype(plan.float_type, copy=False), option, block.start or 0)
        return evaluate_batch(plan, batch, keep_elements=False)[0]
    except InputError as exc:
        raise InputError(f"{exc} ({_where(block)})") from exc


def block_elements(loss: LossSpec, options: dict[str, Any], block: Block, pred: Any, *others: Any) -> Array:
    """The per-row losses of one block."""
    plan, batch = _prepared(loss, options, block, pred, others)
    return evaluate_batch(plan, batch)[1]


def block_grad(loss: LossSpec, options: dict[str, Any], scale: float, block: Block, pred: Any, *others: Any) -> Array:
    """∂value/∂pred on one block: the gradient of the sum times ``scale`` (∂value/∂Σ), then through the
    activation — the order ``compute`` takes, so the numbers are the same."""
    plan, batch = _prepared(loss, options, block, pred, others)
    if plan.activation is None:
        grad = evaluate_batch(plan, batch, want_grad=True)[2]
        assert grad is not None  # asked for
        return grad * plan.float_type(scale) if scale != 1.0 else grad
    axis = activation_axis(plan.spec, batch.pred)
    activated = activate(plan.activation, batch.pred.astype(plan.float_type, copy=False), axis)
    plain = Plan(plan.spec, plan.reduction, plan.dtype, plan.allow_nonfinite, None, plan.params)
    grad = evaluate_batch(plain, ArrayBatch(activated, batch.target, batch.tensors), want_grad=True)[2]
    assert grad is not None
    return chain(plan.activation, activated, grad * plan.float_type(scale), axis)[0]


def _prepared(
    loss: LossSpec, options: dict[str, Any], block: Block, pred: Any, others: tuple[Any, ...]
) -> tuple[Plan, ArrayBatch]:
    """The plan of a task and its block (``options["names"]`` names ``others``)."""
    settings = {k: v for k, v in options.items() if k != "names"}
    return make_plan(loss, **settings), _batch(block, pred, others, options["names"])


def _batch(block: Block, pred: Any, others: tuple[Any, ...], names: list[str]) -> ArrayBatch:
    """The block's NumPy arrays (pandas partitions converted), their lengths checked against pred's."""
    arrays = {name: (None if value is None else _numpy(value)) for name, value in zip(names, others, strict=True)}
    pred_rows = _numpy(pred)
    for name, values in arrays.items():
        if values is not None and values.ndim >= 1 and len(values) != len(pred_rows):
            option = "--target" if name == "target" else f"{name}="
            raise InputError(
                f"{option} has {len(values)} rows but pred has {len(pred_rows)} in {_where(block)}; "
                "give Dask collections with the same partition sizes"
            )
    target = arrays.pop("target", None)
    return ArrayBatch(pred_rows, target, {k: v for k, v in arrays.items() if v is not None})


def _numpy(value: Any) -> Array:
    """A block as a NumPy array (a pandas Series or DataFrame partition through ``to_numpy``)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value)


def _where(block: Block) -> str:
    if block.start is None:
        return f"partition {block.index} of the Dask collection, rows counted from its start"
    return f"block {block.index}, rows {block.start + 1}–{block.start + int(block.rows)} of the Dask array"


def _options(plan: Plan) -> dict[str, Any]:
    return {
        "reduction": plan.reduction,
        "dtype": plan.dtype,
        "allow_nonfinite": plan.allow_nonfinite,
        "activation": plan.activation,
        "params": dict(plan.params),
    }


def _refuse_inferred(spec: LossSpec, params: Mapping[str, Any]) -> None:
    """A default found from the whole input (PSNR's data range) would be found per block: ask for it."""
    if spec.infer is None:
        return
    missing = [p.name for p in spec.hyper_params if p.default is None and params.get(p.name) is None]
    if missing:
        raise ParameterError(
            f"{spec.name} infers {', '.join(missing)} from the whole input; give "
            f"{', '.join(f'{name}=' for name in missing)} explicitly with Dask inputs"
        )


def _as_array(value: Any) -> Any:
    """A Dask array from a Dask array, Series or DataFrame (partition sizes left unknown); else unchanged."""
    if is_dask(value) and hasattr(value, "to_dask_array"):
        return value.to_dask_array()
    return value


def _split_tensors(spec: LossSpec, pred: Any, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(hyper-parameters and whole tensors for every task, per-row tensors cut like pred): a tensor is
    per-row when it is shaped like pred's rows, as the block engine decides."""
    shared: dict[str, Any] = {}
    per_row: dict[str, Any] = {}
    row_params = {p.name: p.per_row for p in spec.tensor_params}
    rows = pred.shape[0] if pred.ndim else 0
    for name, value in params.items():
        if name not in row_params or value is None:
            shared[name] = value
            continue
        array = _as_array(value)
        shape = array.shape if is_dask(array) else np.shape(array)
        row_like = len(shape) >= 1 and (len(shape) == pred.ndim or row_params[name])
        if row_like and (math.isnan(rows) or math.isnan(shape[0]) or shape[0] == rows):
            per_row[name] = array
        else:
            shared[name] = np.asarray(array.compute() if is_dask(array) else array)
    return shared, per_row


def _align(pred: Any, others: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """pred as a Dask array in row blocks (other axes whole); the others cut into the same row blocks."""
    da = _module("dask.array")
    if not is_dask(pred):
        pred = da.from_array(np.asarray(pred), chunks=-1)
    if pred.ndim == 0:
        raise InputError("--pred is a single number: give a Dask array with rows")
    pred = pred.rechunk({axis: -1 for axis in range(1, pred.ndim)}) if pred.ndim > 1 else pred
    arrays = {name: _as_array(value) for name, value in others.items() if value is not None}
    unknown = math.isnan(sum(pred.chunks[0])) or any(
        is_dask(a) and math.isnan(sum(a.chunks[0])) for a in arrays.values() if getattr(a, "ndim", 0)
    )
    pairable = all(is_dask(a) and a.numblocks[0] == pred.numblocks[0] for a in arrays.values())
    if unknown and not pairable:  # sizes are needed to cut the others like pred: one pass to find them
        pred = pred.compute_chunk_sizes()
        arrays = {n: a.compute_chunk_sizes() if is_dask(a) else a for n, a in arrays.items()}
    aligned = {name: _like_rows(pred, array, name) for name, array in arrays.items()}
    return pred, {name: aligned.get(name) for name in others}


def _like_rows(pred: Any, array: Any, name: str) -> Any:
    """``array`` as a Dask array cut into pred's row blocks (whole along its other axes)."""
    da = _module("dask.array")
    option = "--target" if name == "target" else f"{name}="
    if not is_dask(array):
        array = np.asarray(array)
        if array.ndim == 0 or len(array) != sum(pred.chunks[0]):
            rows = "a single number" if array.ndim == 0 else f"{len(array)} rows"
            raise InputError(f"{option} has {rows} but pred has {sum(pred.chunks[0])}; give one row per row of pred")
        return da.from_array(array, chunks=(pred.chunks[0], *array.shape[1:]))
    if array.ndim == 0:
        raise InputError(f"{option} is a single number: give one row per row of pred")
    array = array.rechunk({axis: -1 for axis in range(1, array.ndim)}) if array.ndim > 1 else array
    if math.isnan(sum(array.chunks[0])) or math.isnan(sum(pred.chunks[0])):
        return array  # paired partition by partition; lengths checked in each task
    if sum(array.chunks[0]) != sum(pred.chunks[0]):
        raise InputError(f"{option} has {sum(array.chunks[0])} rows but pred has {sum(pred.chunks[0])}")
    return array if array.chunks[0] == pred.chunks[0] else array.rechunk({0: pred.chunks[0]})


def _blocks(pred: Any) -> list[Block]:
    sizes = pred.chunks[0]
    starts: Any = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if sizes else []
    return [
        Block(index, None if math.isnan(size) else int(start), size)
        for index, (start, size) in enumerate(zip(starts, sizes, strict=True))
    ]


def _delayed_blocks(pred: Any, others: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Per block: pred's delayed block, then each other input's (None where not given)."""
    columns = [pred.to_delayed().reshape(-1)]
    for array in others.values():
        columns.append([None] * pred.numblocks[0] if array is None else array.to_delayed().reshape(-1))
    return list(zip(*columns, strict=True))


def _lazy(
    function: Any,
    leading: tuple[Any, ...],
    blocks: list[Block],
    inputs: list[tuple[Any, ...]],
    row_shape: tuple[int, ...],
    plan: Plan,
) -> Any:
    """A Dask array of ``function``'s per-block arrays, concatenated along the rows (nothing computed yet)."""
    dask, da = _module("dask"), _module("dask.array")
    task = dask.delayed(function, pure=True)
    parts = [
        da.from_delayed(
            task(*leading, block, *block_inputs),
            shape=(block.rows, *row_shape),
            dtype=plan.float_type,
        )
        for block, block_inputs in zip(blocks, inputs, strict=True)
    ]
    return da.concatenate(parts, axis=0)


__all__ = ["DaskSummary", "compute_dask", "evaluate_block", "is_dask", "value_and_grad_dask"]
