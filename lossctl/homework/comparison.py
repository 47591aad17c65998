"""``lossctl compare``: several losses on the same inputs, side by side.

A loss that does not take the inputs (shape, labels, domain) is left out with the
reason; so is one whose value is negative although the loss cannot be (nll or kl_div
given probabilities instead of log-probabilities).  Warnings raised while computing
become notes, never Python warnings with a source line.  When no loss is left, the
comparison is an error naming each loss's reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lossctl.errors import InputError, LossctlError
from lossctl.evaluation.core import compute
from lossctl.evaluation.result import LossResult
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import LossSpec

# Losses whose value can be negative on valid inputs: log-densities and decibels.
MAY_BE_NEGATIVE = frozenset({"gaussian_nll", "poisson_nll", "psnr", "psnr_loss"})


@dataclass(frozen=True)
class Row:
    spec: LossSpec
    result: LossResult

    @property
    def grad_norm(self) -> float:
        return float(np.linalg.norm(self.result.arrays().grad))

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


@dataclass(frozen=True)
class Note:
    """Why a loss was left out (``refused`` the inputs, or a ``negative`` value), or a ``warning``."""

    loss: str
    message: str
    kind: str  # "refused" | "negative" | "warning"

    @property
    def left_out(self) -> bool:
        return self.kind != "warning"


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]
    notes: list[Note]


def accepts_plain_inputs(spec: LossSpec) -> bool:
    """Losses that need nothing beyond --pred and --target."""
    return spec.target != "none" and not any(p.required for p in spec.tensor_params)


def default_families(pred: np.ndarray, target: np.ndarray) -> tuple[str, ...]:
    """Real-valued targets of pred's shape: regression; labels or class indices: the classifiers."""
    if target.shape == pred.shape and not np.all(np.isin(target, (-1.0, 0.0, 1.0))):
        return ("regression",)
    return ("classification", "margin")


def _compare_one(spec: LossSpec, pred: np.ndarray, target: np.ndarray, reduction: str) -> tuple[Row | None, list[Note]]:
    """One loss's row (None when left out) and its notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with np.errstate(all="ignore"):
                result = compute(spec, pred, target, reduction=reduction)
        except LossctlError as exc:
            return None, [Note(spec.name, str(exc), "refused")]
    notes = [Note(spec.name, str(w.message).splitlines()[0], "warning") for w in caught]
    value = float(result.value)
    if value < 0 and spec.name not in MAY_BE_NEGATIVE:
        reason = f"its value {value:.6g} is negative, so the inputs are outside its domain"
        if spec.name in ("nll", "kl_div"):
            reason += " (it takes log-probabilities: give the logs of the probabilities)"
        return None, [*notes, Note(spec.name, reason, "negative")]
    return Row(spec, result), notes


def compare_losses(pred: np.ndarray, target: np.ndarray, names: list[str] | None, reduction: str) -> Comparison:
    """The named losses, or by default every loss of the inputs' families; raises when none applies."""
    if reduction not in ("mean", "sum"):
        raise InputError(f"--reduction must be mean or sum for compare, got {reduction!r}")
    if names:
        specs = [LOSSES.resolve(name) for name in names]
    else:
        families = default_families(pred, target)
        specs = [s for s in LOSSES.values() if accepts_plain_inputs(s) and s.family in families]
    rows: list[Row] = []
    notes: list[Note] = []
    for spec in specs:
        row, found = _compare_one(spec, pred, target, reduction)
        notes += found
        if row is not None:
            rows.append(row)
    if not rows:
        raise InputError("compare: no loss takes these inputs: " + _grouped_reasons(notes))
    if not names:  # by default, a loss that does not take inputs of this kind is not news
        notes = [note for note in notes if note.kind != "refused"]
    return Comparison(rows, notes)


def _grouped_reasons(notes: list[Note]) -> str:
    """``mse, l1: reason; bce: other reason`` (losses sharing a reason are named together)."""
    by_reason: dict[str, list[str]] = {}
    for note in notes:
        if note.left_out:
            by_reason.setdefault(note.message, []).append(note.loss)
    return "; ".join(f"{', '.join(losses)}: {reason}" for reason, losses in by_reason.items())
