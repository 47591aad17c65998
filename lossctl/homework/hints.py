"""One-line ``hint:`` for the classic confusions, as small declarative checks.

Two kinds of rule:

* :data:`ANSWER_HINTS` look at inputs that a loss accepts but that were probably meant for
  another one (probabilities given to cross_entropy, which takes logits); the answer is
  still printed and the exit status is unchanged, the hint goes to stderr;
* :data:`REFUSAL_HINTS` explain an input error (a shape mismatch) when its cause is a
  classic one (two columns and class indices given to bce, a forgotten ``;``, a column
  against a row); the error stays an error (exit 2) and gains a ``hint:`` line.

Each rule names the losses it concerns, a predicate on the inputs and the message.  Only
inputs of moderate size are inspected (the checks read every value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossctl.numbers import short

Array = np.ndarray
INSPECT_LIMIT = 1_000_000  # values; larger inputs are not inspected for hints
SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Inputs:
    """What a rule may look at: the loss, the raw --pred (z when --activation is given), --target."""

    loss: str
    pred: Array
    target: Array | None
    activation: str | None = None
    target_kind: str = "same"  # the LossSpec's: "same", "class", "none" or "checked"

    @property
    def given_target(self) -> Array:
        """--target, for the messages of rules whose test has already required one."""
        if self.target is None:
            raise ValueError("this hint's test should have required a --target")
        return self.target

    @property
    def class_values(self) -> Array:
        """--pred with the class axis last (axis 1 for ≥ 2 dims, axis 0 for one sample)."""
        return np.moveaxis(self.pred, 1, -1) if self.pred.ndim >= 2 else self.pred


@dataclass(frozen=True)
class Rule:
    """A hint: the losses it applies to (empty: every loss), when it fires and what it says."""

    name: str
    losses: tuple[str, ...]
    fires: Callable[[Inputs], bool]
    message: Callable[[Inputs], str]

    def check(self, inputs: Inputs) -> str | None:
        if self.losses and inputs.loss not in self.losses:
            return None
        return self.message(inputs) if self.fires(inputs) else None


# ---- predicates -------------------------------------------------------------------------------


def _rows_are_probabilities(inputs: Inputs) -> bool:
    values = inputs.class_values
    if inputs.activation is not None or values.ndim == 0 or values.shape[-1] < 2 or values.size == 0:
        return False
    sums = values.sum(axis=-1)
    return bool(np.all(values >= 0) and np.all(np.abs(sums - 1.0) <= SUM_TOLERANCE))


def _looks_like_probabilities(inputs: Inputs) -> bool:
    """All in [0, 1] and not all 0: log-probabilities are ≤ 0, so these are probabilities."""
    pred = inputs.pred
    return inputs.activation is None and pred.size > 0 and bool(np.all((pred >= 0) & (pred <= 1)) and np.any(pred > 0))


def _integers(array: Array | None) -> bool:
    return (
        array is not None and array.size > 0 and bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
    )


def _target_has_zero(inputs: Inputs) -> bool:
    return inputs.target is not None and bool(np.any(inputs.target == 0))


def _columns_and_indices(inputs: Inputs) -> bool:
    """(N, C≥2) probabilities against N class indices: cross-entropy's form given to an element-wise loss."""
    pred, target = inputs.pred, inputs.target
    return (
        target is not None
        and pred.ndim == 2
        and pred.shape[1] >= 2
        and target.shape == pred.shape[:1]
        and _integers(target)
        and bool(np.all((target >= 0) & (target < pred.shape[1])))
    )


def _forgotten_semicolon(inputs: Inputs) -> bool:
    """A flat --pred of N·C values against N > 1 class indices: one sample was meant per row."""
    pred, target = inputs.pred, inputs.target
    return (
        inputs.target_kind == "class"
        and target is not None
        and pred.ndim == 1
        and target.ndim == 1
        and target.size > 1
        and pred.size % target.size == 0
        and pred.size // target.size >= 2
        and _integers(target)
    )


def _column_against_row(inputs: Inputs) -> bool:
    """(N, 1) against (N,), either way round: the same numbers, one as a column."""
    pred, target = inputs.pred, inputs.target
    if inputs.target_kind != "same" or target is None or pred.shape == target.shape:
        return False
    return pred.size == target.size and np.squeeze(pred).shape == np.squeeze(target).shape


# ---- messages -----------------------------------------------------------------------------------


def _row_form(pred: Array, rows: int) -> str:
    return ";".join(",".join(short(v, 12) for v in row) for row in pred.reshape(rows, -1))


def _flat(array: Array) -> str:
    values = [short(v, 12) for v in np.ravel(array)[:6]]
    return ",".join(values) + (",…" if np.size(array) > 6 else "")


def _shape(array: Array) -> str:
    return "(" + ", ".join(map(str, array.shape)) + ("," if array.ndim == 1 else "") + ")"


def _mape_message(inputs: Inputs) -> str:
    assert inputs.target is not None
    where = [int(i) for i in np.flatnonzero(np.ravel(inputs.target) == 0)[:3]]
    return (
        f"mape divides by |y| and --target is 0 at index {', '.join(map(str, where))}: that term is "
        "|ŷ|/1e-7 (the 1e-7 guard), so the result is ~1e8 or more; use smape, mae or msle, or drop those rows"
    )


def _semicolon_message(pred: Array, samples: int) -> str:
    rows = _row_form(pred, samples)
    return f"a flat --pred is one sample; for {samples} samples give one row each, split by ';': --pred '{rows}'"


ANSWER_HINTS: tuple[Rule, ...] = (
    Rule(
        "cross_entropy on probabilities",
        ("cross_entropy",),
        _rows_are_probabilities,
        lambda _: (
            "cross_entropy takes logits, but every --pred row already looks like probabilities (≥ 0, summing "
            "to 1), so softmax is applied to them again; for probabilities use nll on their logs, or give the logits"
        ),
    ),
    Rule(
        "softmax twice",
        ("cross_entropy",),
        lambda inputs: inputs.activation == "softmax",
        lambda _: (
            "--activation softmax with cross_entropy applies softmax twice (cross_entropy applies its own "
            "to the logits); drop --activation, or use nll on the log of the softmax"
        ),
    ),
    Rule(
        "sigmoid twice",
        ("bce_with_logits",),
        lambda inputs: inputs.activation == "sigmoid",
        lambda _: (
            "--activation sigmoid with bce_with_logits applies the sigmoid twice (the loss applies its own); "
            "drop --activation, or use bce with --activation sigmoid"
        ),
    ),
    Rule(
        "log-probabilities expected",
        ("nll", "kl_div"),
        _looks_like_probabilities,
        lambda inputs: (
            f"{inputs.loss} takes log-probabilities (≤ 0) as --pred, but every value is in [0, 1] like a "
            "probability, so the loss can come out negative; give their logs (log_softmax of the logits)"
        ),
    ),
    Rule(
        "softmax where log-softmax belongs",
        ("nll", "kl_div"),
        lambda inputs: inputs.activation in ("softmax", "sigmoid"),
        lambda inputs: (
            f"{inputs.loss} takes log-probabilities, but --activation {inputs.activation} gives probabilities, "
            "so the loss can come out negative; for logits use cross_entropy (nll of log_softmax) instead"
        ),
    ),
    Rule("mape with a zero target", ("mape",), _target_has_zero, _mape_message),
)


REFUSAL_HINTS: tuple[Rule, ...] = (
    Rule(
        "two columns and class indices",
        ("bce", "bce_with_logits"),
        _columns_and_indices,
        lambda inputs: (
            f"{inputs.loss} takes one probability per target; {_shape(inputs.pred)} rows of class scores with "
            f"class indices are cross_entropy's form: lossctl ce --pred '{_row_form(inputs.pred, len(inputs.pred))}' "
            f"--target {_flat(inputs.given_target)} (ce takes logits; nll takes log-probabilities)"
        ),
    ),
    Rule(
        "forgotten semicolon",
        (),
        _forgotten_semicolon,
        lambda inputs: _semicolon_message(inputs.pred, inputs.given_target.size),
    ),
    Rule(
        "column against row",
        (),
        _column_against_row,
        lambda inputs: (
            f"--pred {_shape(inputs.pred)} and --target {_shape(inputs.given_target)} hold the same number of values, "
            "one as a column; nothing is broadcast silently: give both flat (e.g. "
            f"{_flat(inputs.target if inputs.target is not None else inputs.pred)}) or reshape one to the other's shape"
        ),
    ),
)


def _inputs(loss: str, pred: Any, target: Any, activation: str | None, target_kind: str) -> Inputs | None:
    if np.size(pred) > INSPECT_LIMIT or (target is not None and np.size(target) > INSPECT_LIMIT):
        return None  # not read: a large memory-mapped file stays on disk
    try:
        pred_array = np.asarray(pred, dtype=float)
        target_array = None if target is None else np.asarray(target, dtype=float)
    except (TypeError, ValueError):
        return None
    if pred_array.size > INSPECT_LIMIT or (target_array is not None and target_array.size > INSPECT_LIMIT):
        return None
    return Inputs(loss, pred_array, target_array, activation, target_kind)


def may_hint(loss: str) -> bool:
    """Whether an answer hint can apply to ``loss`` (a reader that skips the hints must not take its input)."""
    return any(not rule.losses or loss in rule.losses for rule in ANSWER_HINTS)


def answer_hints(
    loss: str, pred: Any, target: Any, activation: str | None = None, target_kind: str = "same"
) -> list[str]:
    """Hints for inputs a loss accepted but that were probably meant differently."""
    inputs = _inputs(loss, pred, target, activation, target_kind)
    if inputs is None:
        return []
    with np.errstate(all="ignore"):
        return [message for rule in ANSWER_HINTS if (message := rule.check(inputs)) is not None]


def refusal_hint(
    loss: str, pred: Any, target: Any, activation: str | None = None, target_kind: str = "same"
) -> str | None:
    """The likely cause of an input error, or None."""
    inputs = _inputs(loss, pred, target, activation, target_kind)
    if inputs is None:
        return None
    with np.errstate(all="ignore"):
        for rule in REFUSAL_HINTS:
            message = rule.check(inputs)
            if message is not None:
                return message
    return None
