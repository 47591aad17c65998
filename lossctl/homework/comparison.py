"""``lossctl compare``: several losses on the same inputs, side by side."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossctl.errors import InputError, LossctlError
from lossctl.evaluation.core import LossResult, compute
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import LossSpec


@dataclass(frozen=True)
class Row:
    spec: LossSpec
    result: LossResult

    @property
    def grad_norm(self) -> float:
        return float(np.linalg.norm(self.result.grad))

    def as_dict(self) -> dict:
        r = self.result
        return {
            "loss": r.loss,
            "params": r.params,
            "value": r.value,
            "sum": r.sum,
            "mean": r.mean,
            "grad_norm": self.grad_norm,
        }


def accepts_plain_inputs(spec: LossSpec) -> bool:
    """Losses that need nothing beyond --pred and --target."""
    return spec.target != "none" and not any(p.default == "required" for p in spec.tensor_params)


def default_families(pred: np.ndarray, target: np.ndarray) -> tuple[str, ...]:
    """Real-valued targets of pred's shape: regression; labels or class indices: the classifiers."""
    if target.shape == pred.shape and not np.all(np.isin(target, (-1.0, 0.0, 1.0))):
        return ("regression",)
    return ("classification", "margin")


def compare_losses(pred: np.ndarray, target: np.ndarray, names: list[str] | None, reduction: str) -> list[Row]:
    """Named losses must all accept the inputs; by default, every loss that does is included."""
    if reduction not in ("mean", "sum"):
        raise InputError(f"--reduction must be mean or sum for compare, got {reduction!r}")
    if names:
        return [Row(spec, compute(spec, pred, target, reduction=reduction)) for spec in map(LOSSES.resolve, names)]
    rows = []
    for spec in LOSSES.values():
        if not accepts_plain_inputs(spec) or spec.family not in default_families(pred, target):
            continue
        try:
            rows.append(Row(spec, compute(spec, pred, target, reduction=reduction)))
        except LossctlError:
            continue  # this loss does not take these inputs (domain, shape or labels)
    return rows
