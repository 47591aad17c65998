"""A loss over a stream of record batches (``--data`` tables), overall and per group, combined exactly.

Each batch is evaluated by the block engine (:func:`lossctl.evaluation.engine.evaluate`, ``reduction="sum"``)
and its per-row losses are summed exactly (:class:`lossctl.evaluation.exact.ExactSum`), overall and for
every group key found in it; partial sums of batches (or of Dask tasks, :mod:`lossctl.evaluation.distributed`)
are added as integers, so sum, mean and value equal the in-memory engine's bit for bit whatever the batch
size, the shard layout or the order.  At most one batch is in memory at a time.

A per-row output (``--save-elements`` / ``--save-grad``) receives each batch's losses and gradients as they
are computed; the gradient of a mean needs the overall count first, so it is computed in a second pass.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from lossctl.errors import ComputationError, InputError, ParameterError
from lossctl.evaluation.engine import THREADS, Outputs, evaluate, separable
from lossctl.evaluation.exact import ExactSum
from lossctl.evaluation.reduce import count_of, mean_of, reduce_total
from lossctl.evaluation.result import LossResult
from lossctl.evaluation.table_result import Group, TableSummary
from lossctl.evaluation.validate import DTYPES, REDUCTIONS, empty_mean, overflow_message, resolve_params
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Array, LossSpec


class BatchLike(Protocol):
    """What a batch holds (lossctl.io.arrow.Batch): float arrays, group codes and rows dropped."""

    pred: Array
    target: Array | None
    weight: Array | None
    keys: dict[str, Array]
    dropped: int


@dataclass
class Partial:
    """Exact partial sums of one slice: rows evaluated, Σ losses and what the mean divides by."""

    rows: int = 0
    total: ExactSum = field(default_factory=ExactSum)
    count: ExactSum = field(default_factory=ExactSum)

    def __iadd__(self, other: Partial) -> Partial:
        self.rows += other.rows
        self.total += other.total
        self.count += other.count
        return self


@dataclass
class Partials:
    """The partial sums of some batches: overall, per group key (a tuple of codes), and rows dropped."""

    overall: Partial = field(default_factory=Partial)
    groups: dict[tuple[int, ...], Partial] = field(default_factory=dict)
    dropped: int = 0
    batches: int = 0
    row_shape: tuple[int, ...] = ()

    def __iadd__(self, other: Partials) -> Partials:
        self.overall += other.overall
        for key, partial in other.groups.items():
            self.groups.setdefault(key, Partial()).__iadd__(partial)
        self.dropped += other.dropped
        self.batches += other.batches
        self.row_shape = self.row_shape or other.row_shape
        return self


@dataclass(frozen=True)
class Plan:
    """What every batch is evaluated with: the loss, the reduction, the dtype and the parameters."""

    spec: LossSpec
    reduction: str = "mean"
    dtype: str = "float64"
    allow_nonfinite: bool = False
    activation: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def float_type(self) -> type:
        return DTYPES[self.dtype]


def make_plan(loss: str | LossSpec, **options: Any) -> Plan:
    """Check that a loss can be evaluated batch by batch and with these options."""
    spec = loss if isinstance(loss, LossSpec) else LOSSES.resolve(loss)
    plan = Plan(spec, **options)
    reduction = plan.reduction
    if reduction not in REDUCTIONS or reduction == "none":
        raise ParameterError(
            "--data tables are reduced: --reduction must be mean or sum (save rows with --save-elements)"
        )
    if spec.reductions.mean_weights is not None:
        raise InputError(f"{spec.name} cannot be evaluated over a --data table batch by batch")
    if plan.dtype not in DTYPES:
        raise ParameterError(f"--dtype must be one of {', '.join(DTYPES)}, got {plan.dtype!r}")
    return plan


def tensors_of(plan: Plan, batch: BatchLike) -> dict[str, Array]:
    """``--weight-col`` is the loss's per-element ``weight`` (mse, l1, huber, bce …); a batch may also carry
    other per-row tensors by name (``tensors``: Dask arrays given to the Python API)."""
    per_row: dict[str, Array] = dict(getattr(batch, "tensors", None) or {})
    if batch.weight is None:
        return per_row
    names = [p.name for p in plan.spec.tensor_params]
    if "weight" not in names or plan.spec.target != "same":
        raise InputError(f"--weight-col: {plan.spec.name} takes no per-row weight; leave out --weight-col")
    return {**per_row, "weight": batch.weight}


Sink = Callable[[BatchLike, Array, Array | None], None]


def evaluate_batch(
    plan: Plan, batch: BatchLike, *, want_grad: bool = False, keep_elements: bool = True
) -> tuple[Partials, Array, Array | None]:
    """One batch: its partial sums (overall and per group), per-row losses and (when asked) Σ-gradient.

    ``keep_elements=False`` (only the sums are wanted): without groups the per-row losses are not
    copied out, and an empty array stands for them."""
    spec = plan.spec
    tensors = tensors_of(plan, batch)
    hyper = resolve_params(spec, plan.params)
    shared = {p.name: plan.params[p.name] for p in spec.tensor_params if plan.params.get(p.name) is not None}
    hyper.update(shared)  # tensors every batch uses whole (class weights): the count reads them too
    if len(batch.pred) > 1 and not separable(spec, batch.pred, {**hyper, **tensors}):
        raise coupled_rows(spec)
    tensor_params: Mapping[str, Any] = tensors  # keyword arguments of evaluate, as plan.params are
    kept: dict[str, Array] = {}
    # the groups' sums are taken from the per-row losses; one row is one block, whose shape they tell
    keep = keep_elements or bool(batch.keys) or len(batch.pred) < 2
    outputs = Outputs(make_elements=lambda shape, dtype: kept.setdefault("elements", np.empty(shape, dtype)))
    if not keep:
        outputs = Outputs()
    _, grad = evaluate(
        spec,
        batch.pred,
        batch.target,
        reduction="sum",
        dtype=plan.dtype,
        allow_nonfinite=plan.allow_nonfinite,
        want_grad=want_grad,
        outputs=outputs,
        threads=1,
        activation=plan.activation,
        **plan.params,
        **tensor_params,
    )
    if keep:
        elements = kept.get("elements")
        if elements is None or elements.ndim == 0 or len(elements) != len(batch.pred):
            raise coupled_rows(spec)
        row_shape = tuple(elements.shape[1:])
    else:
        if outputs.row_shape is None:  # evaluated as one block: the rows are not independent
            raise coupled_rows(spec)
        elements, row_shape = np.empty((0, *outputs.row_shape), plan.float_type), outputs.row_shape
    partials = Partials(dropped=batch.dropped, batches=1, row_shape=row_shape)
    assert outputs.totals is not None  # filled by the engine: its exact sums, not summed a second time
    partials.overall = Partial(len(batch.pred), outputs.totals.total, outputs.totals.count)
    if batch.keys:
        pred: Array = np.asarray(batch.pred, dtype=plan.float_type)
        target: Array | None = None if batch.target is None else np.asarray(batch.target, dtype=plan.float_type)
        codes = np.column_stack(list(batch.keys.values()))
        unique, inverse = np.unique(codes, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
        for index, key in enumerate(unique):
            rows = order[bounds[index] : bounds[index + 1]]
            subset = {k: v[rows] for k, v in tensors.items()}
            partials.groups[tuple(int(c) for c in key)] = _partial(
                spec, pred[rows], None if target is None else target[rows], {**hyper, **subset}, elements[rows]
            )
    return partials, elements, grad


def coupled_rows(spec: LossSpec) -> InputError:
    """A loss whose rows are not independent samples cannot be summed batch by batch."""
    return InputError(
        f"{spec.name} couples the rows of --pred (one loss for the whole list or batch), so a --data table "
        "or a Dask collection cannot be evaluated batch by batch; give --pred and --target as files (.npy, .csv) "
        "or NumPy arrays"
    )


def _partial(spec: LossSpec, pred: Array, target: Array | None, args: Mapping[str, Any], elements: Array) -> Partial:
    with np.errstate(all="ignore"):
        return Partial(len(elements), ExactSum().add(elements), count_of(spec, pred, target, args, elements.size))


def combine(plan: Plan, partials: Partials, shape_of_rows: tuple[int, ...] | None = None) -> tuple[LossResult, float]:
    """The overall summary from exact partial sums, and ∂value/∂(Σ losses) (the gradient's scale)."""
    summary, scale = _reduce(plan, partials.overall)
    if plan.reduction == "mean" and summary.count == 0.0:
        raise empty_mean(plan.spec, summary.params)
    shape = (partials.overall.rows, *(shape_of_rows or ()))
    return replace(summary, shape=shape, blocks=partials.batches), scale


def _reduce(plan: Plan, partial: Partial) -> tuple[LossResult, float]:
    spec, float_type = plan.spec, plan.float_type
    total = partial.total.rounded(float_type)
    counted = partial.count.rounded(float_type)
    if not plan.allow_nonfinite and spec.finite and not math.isfinite(total):
        raise ComputationError(overflow_message(spec, float_type))
    mean = mean_of(total, counted, float_type)
    if plan.reduction == "mean" and counted == 0.0:
        value, scale = math.nan, 0.0
    else:
        value, scale, _ = reduce_total(spec, plan.reduction, total, counted, 1.0, float_type)
    summary = LossResult(
        loss=spec.name,
        params=resolve_params(spec, plan.params),
        reduction=plan.reduction,
        dtype=plan.dtype,
        shape=(partial.rows,),
        sum=total,
        mean=mean,
        value=float(value),
        count=counted,
        divisor=1.0,
        blocks=0,
        activation=plan.activation,
    )
    return summary, scale


def groups_of(
    plan: Plan, partials: Partials, names: list[str], values: Mapping[str, list[Any] | None]
) -> tuple[Group, ...]:
    """One Group per key, sorted by the key's values (None last); ``values[name]`` decodes a column's codes
    (None: the keys are values already, as Dask tasks return them)."""
    rows = []
    for key, partial in partials.groups.items():
        decoded = {
            name: code if values.get(name) is None else values[name][code]  # type: ignore[index]
            for name, code in zip(names, key, strict=True)
        }
        summary, _ = _reduce(plan, partial)
        rows.append(Group(decoded, partial.rows, summary.count, summary.sum, summary.mean, float(summary.value)))
    return tuple(sorted(rows, key=lambda g: tuple(_sort_key(v) for v in g.key.values())))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def evaluate_table(
    plan: Plan,
    batches: Callable[[], Iterable[BatchLike]],
    *,
    group_by: list[str] | None = None,
    key_values: Mapping[str, list[Any]] | None = None,
    sink: Sink | None = None,
    want_grad: bool = False,
) -> TableSummary:
    """The whole table batch by batch: ``batches()`` is called once, or twice when a mean's gradient
    is written (the first pass finds the count the gradient is divided by)."""
    partials = Partials()
    scale: float | None = 1.0 if plan.reduction == "sum" and plan.spec.reductions.transform is None else None
    first_pass_writes = sink is not None and (not want_grad or scale is not None)
    if sink is None:
        partials = _reduce_in_threads(plan, batches())
    for batch in batches() if sink is not None else ():
        if len(batch.pred) == 0:  # every row dropped
            partials.dropped += batch.dropped
            continue
        batch_partials, elements, grad = evaluate_batch(plan, batch, want_grad=want_grad and first_pass_writes)
        partials += batch_partials
        if first_pass_writes:
            assert sink is not None  # first_pass_writes needs a sink
            sink(batch, elements, scaled_grad(grad, scale, plan))
    if partials.overall.rows == 0:
        raise InputError("--data: no rows left to evaluate" + (" after --dropna" if partials.dropped else ""))
    summary, final_scale = combine(plan, partials, partials.row_shape)
    if sink is not None and not first_pass_writes:
        for batch in batches():
            if len(batch.pred) == 0:
                continue
            _, elements, grad = evaluate_batch(plan, batch, want_grad=True)
            sink(batch, elements, scaled_grad(grad, final_scale, plan))
    groups = groups_of(plan, partials, group_by or [], key_values or {}) if group_by else ()
    rows = partials.overall.rows
    return TableSummary(summary, rows, partials.dropped, tuple(group_by or ()), groups)


def _reduce_in_threads(plan: Plan, batches: Iterable[BatchLike]) -> Partials:
    """Partial sums of every batch, THREADS batches at a time (NumPy releases the GIL); the sums are
    exact, so the order they are added in does not matter.  At most 2·THREADS batches are held."""
    partials = Partials()

    def reduce(batch: BatchLike) -> Partials:
        if len(batch.pred) == 0:  # every row dropped
            return Partials(dropped=batch.dropped)
        return evaluate_batch(plan, batch, keep_elements=False)[0]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        pending: deque[Future[Partials]] = deque()
        for batch in batches:
            pending.append(pool.submit(reduce, batch))
            if len(pending) >= 2 * THREADS:
                partials += pending.popleft().result()
        while pending:
            partials += pending.popleft().result()
    return partials


def scaled_grad(grad: Array | None, scale: float | None, plan: Plan) -> Array | None:
    """∂value/∂pred from the gradient of the sum, as the engine scales it (one multiplication)."""
    if grad is None or scale is None or scale == 1.0:
        return grad
    np.multiply(grad, plan.float_type(scale), out=grad)
    return grad


__all__ = [
    "Group",
    "Partial",
    "Partials",
    "Plan",
    "evaluate_batch",
    "evaluate_table",
    "make_plan",
    "scaled_grad",
]
