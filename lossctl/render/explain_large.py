"""``--explain`` for large inputs: the working of the first elements, then the sums over every block.

The rows shown are evaluated again in memory (:func:`head_result`); the totals are the block engine's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from lossctl.evaluation.core import compute
from lossctl.evaluation.result import LossResult
from lossctl.losses.spec import LossSpec
from lossctl.losses.wording import SHOWN_HEAD, Numbers
from lossctl.render.explain import substituted_terms


def head_rows(spec: LossSpec, pred: Any, arguments: dict[str, Any], activation: str | None) -> int:
    """How many leading rows show the working of the first elements on their own; 0 when rows are not independent."""
    from lossctl.evaluation.activations import activation_axis
    from lossctl.evaluation.engine import separable

    raw = pred if isinstance(pred, np.ndarray) else np.asarray(pred)
    if spec.reductions.mean_weights is not None or not separable(spec, raw, arguments):
        return 0
    if activation == "softmax" and activation_axis(spec, raw) == 0:
        return 0
    return min(raw.shape[0], SHOWN_HEAD)


def _head(array: Any, rows: int, pred_rows: int, per_row: bool, pred_ndim: int) -> Any:
    """The first rows of an array cut along with --pred (the engine's rule); any other array whole."""
    shape = np.shape(array)
    if len(shape) >= 1 and shape[0] == pred_rows and (len(shape) == pred_ndim or per_row):
        return np.asarray(array[:rows])
    return array


def head_result(
    spec: LossSpec,
    summary: Any,
    pred: Any,
    target: Any,
    tensors: dict[str, Any],
    *,
    dtype: str,
    activation: str | None,
    channels_last: bool,
    allow_nonfinite: bool,
) -> LossResult | None:
    """The first rows computed in memory, with the gradient of the whole input's value at them.

    The head is reduced by ``sum`` (each element's own ∂ℓᵢ/∂ŷ), then scaled by ∂value/∂sum from
    the block engine's summary: 1/n for the mean, 1/divisor, and a transform's derivative.
    """
    raw = pred if isinstance(pred, np.ndarray) else np.asarray(pred)
    probe = {name: _head(t, 1, raw.shape[0], spec.param(name).per_row, raw.ndim) for name, t in tensors.items()}
    rows = head_rows(spec, raw, {**summary.params, **probe}, activation)
    if rows == 0:
        return None
    n = raw.shape[0]
    head_tensors = {name: _head(t, rows, n, spec.param(name).per_row, raw.ndim) for name, t in tensors.items()}
    head_pred = np.asarray(raw[:rows])
    head_target = None if target is None else _head(target, rows, n, True, raw.ndim)
    if channels_last and head_pred.ndim >= 3:
        head_pred = np.moveaxis(head_pred, -1, -3)
        head_target = None if head_target is None else np.moveaxis(np.asarray(head_target), -1, -3)
    result = compute(
        spec,
        head_pred,
        head_target,
        reduction="sum",
        dtype=dtype,
        allow_nonfinite=allow_nonfinite,
        activation=activation,
        **summary.params,
        **head_tensors,
    )
    own = (
        1.0 if spec.reductions.transform is None else spec.reductions.transform.derivative(float(result.sum))
    )  # RMSE's √ of the head
    moved = channels_last and head_pred.ndim >= 3
    scaled = result.arrays().grad * (_sum_scale(spec, summary) / own)
    return replace(result, grad=scaled, reduction=summary.reduction, channels_last=moved)


def _sum_scale(spec: LossSpec, summary: Any) -> float:
    """∂value/∂(Σ ℓ) for the whole input, as the block engine reduced it."""
    if summary.reduction == "sum":
        scale, before = 1.0, summary.sum
    elif summary.reduction == "mean":
        scale, before = 1.0 / summary.count, summary.mean
    else:
        scale, before = 1.0 / summary.divisor, summary.sum / summary.divisor
    if spec.reductions.transform is not None:
        scale *= spec.reductions.transform.derivative(float(before))
    return scale


def _count(fmt: Numbers, count: float) -> str:
    """A count as an integer when it is one (weighted counts as numbers)."""
    return str(int(count)) if float(count).is_integer() else fmt(count)


def _at(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def first_element_lines(head: LossResult, fmt: Numbers) -> list[str]:
    """ℓ at the first elements: the substituted term and its value (or the loss's own per-sample working)."""
    elements = head.arrays().elements
    shown = min(SHOWN_HEAD, elements.size)
    lines = [f"the working of the first {shown} elements (from the first rows); the sums below are over every block"]
    if head.pre_activation is not None:
        z, a = head.pre_activation.ravel()[:shown], head.arrays().pred.ravel()[:shown]
        lines.append(
            f"  z = [{', '.join(fmt(float(v)) for v in z)}, …] → a = [{', '.join(fmt(float(v)) for v in a)}, …]"
        )
    if head.spec.teaching.explain is not None:
        return [*lines, *head.spec.teaching.explain(head, fmt), "  … (the rows that follow)"]
    terms = substituted_terms(head, fmt)
    for position in range(shown):
        index = tuple(int(i) for i in np.unravel_index(position, elements.shape))
        term = f"{terms[position]} = " if terms else ""
        lines.append(f"  ℓ{_at(index)} = {term}{fmt(float(elements.ravel()[position]))}")
    lines.append("  …")
    return lines


def summary_reduce_lines(spec: LossSpec, summary: Any, fmt: Numbers) -> list[str]:
    """Σ ℓ and the value, from the block engine's exact sums."""
    lines = [f"Σ ℓ = {fmt(summary.sum)}   (every element, summed exactly block by block)"]
    if summary.reduction == "sum":
        steps = [fmt(summary.sum)]
    elif summary.reduction == "mean":
        numerator = summary.sum if spec.reductions.mean_weights is None else summary.mean * summary.count
        steps = [f"{fmt(numerator)} / {_count(fmt, summary.count)}", fmt(summary.mean)]
    else:
        steps = [f"{fmt(summary.sum)} / {fmt(summary.divisor)}", fmt(summary.sum / summary.divisor)]
    if spec.reductions.transform is not None:
        steps = [f"{spec.reductions.transform.name}({step})" for step in steps]
    steps.append(fmt(summary.value))
    unique = [step for i, step in enumerate(steps) if i == 0 or step != steps[i - 1]]
    return lines + [f"L = {unique[0]}"] + [f"  = {step}" for step in unique[1:]]


def summary_gradient_lines(spec: LossSpec, summary: Any, head: LossResult | None, fmt: Numbers) -> list[str]:
    _, gradient = spec.formulas(summary.params)
    variable = "z" if summary.activation else "ŷ"
    lines = ["", "gradient:", f"  {gradient}"]
    if summary.activation:
        lines.append(f"  chain rule through {summary.activation}: ∂L/∂z = ∂L/∂a · a′(z)")
    if summary.reduction == "mean":
        lines.append(f"  ∂L/∂{variable} = (1/n) ∂ℓ/∂{variable} with n = {_count(fmt, summary.count)}")
    elif summary.reduction != "sum":
        lines.append(f"  ∂L/∂{variable} = ∂ℓ/∂{variable} divided as the value is")
    if spec.reductions.transform is not None:
        lines.append(f"  and the chain rule through {spec.reductions.transform.name}")
    if head is not None:
        grad = np.asarray(head.in_user_layout(head.arrays().grad)).ravel()
        shown = [fmt(float(g)) for g in grad[: min(SHOWN_HEAD, grad.size)]]
        lines.append(f"  ∂L/∂{variable} = [{', '.join(shown)}, …]   (every entry: --save-grad FILE)")
    else:
        lines.append("  every entry: --save-grad FILE")
    return lines


def explain_summary(spec: LossSpec, summary: Any, head: LossResult | None, precision: int = 6) -> str:
    """The derivation for a block-wise result: the first elements' working, then the engine's sums."""
    fmt = Numbers(precision)
    formula, _ = spec.formulas(summary.params)
    mean_line = "L = (1/n) Σᵢ wᵢ ℓᵢ" if spec.reductions.mean_weights is not None else "L = (1/n) Σᵢ ℓᵢ"
    reduction = {"sum": "L = Σᵢ ℓᵢ", "mean": mean_line}.get(summary.reduction, f"L = Σᵢ ℓᵢ / {summary.reduction}")
    if spec.reductions.transform is not None:
        reduction += f", then {spec.reductions.transform.name}"
    lines = [f"{spec.name}: {spec.summary}", f"  {formula}", f"  {reduction}"]
    if summary.params:
        lines.append("  with " + ", ".join(f"{k} = {v}" for k, v in summary.params.items()))
    if summary.activation:
        lines.append(f"activation: --pred holds z; the loss sees ŷ = a = {summary.activation}(z)")
    lines.append("")
    if head is not None:
        lines += first_element_lines(head, fmt)
    else:
        lines.append("each element depends on the whole input: none is worked out alone")
    lines += summary_reduce_lines(spec, summary, fmt)
    lines += summary_gradient_lines(spec, summary, head, fmt)
    return "\n".join(lines) + "\n"
