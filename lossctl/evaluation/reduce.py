"""Reductions: what the mean divides by, the value of each reduction, and ∂value/∂sum.

Every block hands back exact partial sums (:class:`Partial`); :func:`reduce_partials` adds them
exactly and rounds once, so the value does not depend on how the work was cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.evaluation.exact import ExactSum, round_to
from lossctl.losses.spec import Array, LossSpec


@dataclass
class Partial:
    """The exact sums of one block: Σℓ, what the mean divides by, Σwℓ (weighted means), shared-tensor gradients."""

    total: ExactSum = field(default_factory=ExactSum)
    count: ExactSum = field(default_factory=ExactSum)
    mean_total: ExactSum = field(default_factory=ExactSum)
    shared_grads: dict[str, Array] = field(default_factory=dict)

    def __iadd__(self, other: Partial) -> Partial:
        self.total += other.total
        self.count += other.count
        self.mean_total += other.mean_total
        for name, partial in other.shared_grads.items():  # a tensor every block used: its gradient sums the blocks'
            mine = self.shared_grads.get(name)
            self.shared_grads[name] = partial.copy() if mine is None else mine + partial
        return self


@dataclass(frozen=True)
class Reduced:
    """The rounded totals of an evaluation and the factor its gradient is scaled by."""

    sum: float
    mean: float
    count: float
    value: float
    divisor: float
    scale: float  # ∂value/∂sum (∂value/∂Σwℓ for weighted means)


def combine(partials: Iterable[Partial]) -> Partial:
    """All blocks' partial sums added exactly (in any order: the result is the same)."""
    total = Partial()
    for partial in partials:
        total += partial
    return total


def reduce_partial(spec: LossSpec, reduction: str, partial: Partial, divisor: float, float_type: type) -> Reduced:
    """Round the exact sums once and reduce them; ``divisor``: a loss-specific reduction's (batchmean)."""
    total = partial.total.rounded(float_type)
    count = partial.count.rounded(float_type)
    mean_total = partial.mean_total.rounded(float_type)
    mean = mean_of(mean_total, count, float_type)
    if reduction == "none":
        return Reduced(total, mean, count, math.nan, 1.0, 1.0)
    if reduction == "mean" and count == 0.0:  # nothing counts: 0/0, which the caller refuses (or reports as NaN)
        return Reduced(total, mean, count, math.nan, 0.0, 0.0)
    reduced = mean_total if reduction == "mean" else total
    value, scale, divisor = reduce_total(spec, reduction, reduced, count, divisor, float_type)
    return Reduced(total, mean, count, value, divisor, scale)


def reduce_total(
    spec: LossSpec, reduction: str, total: float, count: float, divisor: float, float_type: type = np.float64
) -> tuple[float, float, float]:
    """(value, ∂value/∂sum, divisor) for mean, sum or a loss-specific divisor, then any transform (RMSE's √).

    ``total`` is the exactly computed sum rounded once to ``float_type``; every later step is
    rounded to ``float_type`` too, so float32 results are what float32 arithmetic gives (PyTorch's
    ``sum / N`` in float32), whichever path computed the sum.
    """
    if reduction == "sum":
        value, scale, divisor = total, 1.0, 1.0
    elif reduction == "mean":
        value, scale, divisor = mean_of(total, count, float_type), 1.0 / count, count
    else:
        value, scale = round_to(total / divisor, float_type), 1.0 / divisor
    if spec.reductions.transform is not None:
        scale *= spec.reductions.transform.derivative(float(value))
        value = round_to(spec.reductions.transform.forward(float(value)), float_type)
    return value, scale, divisor


def count_of(spec: LossSpec, pred: Array, target: Array | None, arguments: Mapping[str, Any], size: int) -> ExactSum:
    """What the mean divides by (the number of elements, or the loss's weighted count), summed exactly."""
    denominator = spec.reductions.denominator
    if denominator is None or spec.plain_count(arguments):
        return ExactSum().add(float(size))
    return ExactSum().add(denominator(pred, target, **arguments))


def mean_of(total: float, count: float, float_type: type = np.float64) -> float:
    """total / count in ``float_type``; NaN when nothing counts (all targets ignored or weighted 0), as PyTorch."""
    if count == 0.0:
        return math.nan
    return round_to(total / count, float_type)


def mean_weights(
    spec: LossSpec, pred: Array, target: Array | None, arguments: Mapping[str, Any], dtype: type
) -> Array | None:
    """The per-element weights of the mean (CTC's 1 / target length), or None for a plain mean."""
    if spec.reductions.mean_weights is None:
        return None
    return np.asarray(spec.reductions.mean_weights(pred, target, **arguments), dtype=dtype)


def weighted(weights: Array | None, reduction: str) -> dict[str, Array]:
    """The keyword that asks ``grad`` for the gradient of Σ wᵢ ℓᵢ (the weighted mean) instead of Σ ℓᵢ."""
    return {} if weights is None or reduction != "mean" else {"element_weights": weights}
