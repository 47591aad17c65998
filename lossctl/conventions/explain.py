"""``--explain`` under another library's convention: its rule, its unreduced losses, its reduction with numbers.

Plain text, like lossctl's own derivation.  The per-element formulas are the library's (stated by the
convention's rule and source line, not PyTorch's formula); the reduction is written out with the exact
coefficients the library applies (1/n, wᵢ/n, wᵢ/Σw …), so the arithmetic shown is the arithmetic done.
Whole-column metrics (R², medians, pooled ratios) and values given one per output are not a reduction
of per-sample losses: they are refused with a message saying so.
"""

from __future__ import annotations

import numpy as np

from lossctl.conventions.base import Convention
from lossctl.conventions.registry import LIBRARIES
from lossctl.conventions.run import Evaluation
from lossctl.errors import InputError
from lossctl.losses.wording import Numbers, join

RULES = {  # (library, reduction) → the rule as the library's source writes it
    ("keras", "sum_over_batch_size"): "L = Σᵢ wᵢ ℓᵢ / n, n the number of losses even with weights (loss.py:139-160)",
    ("keras", "sum"): "L = Σᵢ wᵢ ℓᵢ (loss.py:139-160)",
    ("keras", "mean_with_sample_weight"): "L = Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ (loss.py:139-160)",
    (
        "sklearn",
        "mean",
    ): "L = Σⱼ vⱼ Σᵢ wᵢ ℓᵢⱼ / Σᵢ wᵢ: np.average per output, then over outputs (_regression.py:290-305)",
    ("sklearn", "sum"): "L = Σᵢ wᵢ ℓᵢ (log_loss(normalize=False), _classification.py:3458)",
    ("torchmetrics", "mean"): "L = Σᵢ ℓᵢ / n over every element",
    ("torchmetrics", "sum"): "L = Σᵢ ℓᵢ",
    ("optax", "mean"): "L = Σᵢ ℓᵢ / n (jnp.mean of optax's unreduced losses)",
    ("optax", "sum"): "L = Σᵢ ℓᵢ (jnp.sum of optax's unreduced losses)",
}


def refusal(convention: Convention, evaluation: Evaluation) -> str | None:
    """Why --explain cannot honestly show this result as a reduction of per-sample losses, or None."""
    if convention.contributions:
        return (
            f"--explain: {convention.name} ({LIBRARIES[convention.library].title}) is a whole-column metric, not a "
            "reduction of per-sample losses; lossctl explains it under PyTorch's convention only (drop --convention)"
        )
    if evaluation.vector:
        return f"--explain shows one value; {convention.name} gives one per output here (read them with -f json)"
    return None


SHOWN_ROWS = 4  # rows of a last-axis mean written out; the rest are in the unreduced losses below


def _working(convention: Convention, evaluation: Evaluation, fmt: Numbers) -> list[str]:
    """The per-value terms and their mean over the library's axis (Keras), when the convention gives them."""
    result = evaluation.result
    if convention.terms is None or result.pred is None or result.target is None:
        return []
    params = {k: v for k, v in result.params.items() if convention.param(k) is not None}
    with np.errstate(all="ignore"):
        steps = convention.terms(result.pred, result.target, **params)
    lines = ["", f"per value (shape {result.pred.shape}), p = --pred, y = --target:"]
    lines += [f"  y = {fmt.vector(result.target.ravel())}", f"  p = {fmt.vector(result.pred.ravel())}"]
    for label, values in steps:
        lines += [f"  {label}:", f"    {fmt.vector(np.asarray(values).ravel())}"]
    axis = int(params.get("axis", -1)) % result.pred.ndim
    rows = np.moveaxis(np.asarray(steps[-1][1]), axis, -1)
    rows = rows.reshape(-1, rows.shape[-1])  # in the order of the unreduced losses (C order of the other axes)
    means = np.ravel(evaluation.elements)
    count = rows.shape[1]
    lines += ["", f"the mean over axis {axis - result.pred.ndim} ({count} values per loss): ℓᵢ = Σⱼ tᵢⱼ / {count}"]
    for i, (row, mean) in enumerate(zip(rows[:SHOWN_ROWS], means[:SHOWN_ROWS], strict=False)):
        name = "ℓ" if rows.shape[0] == 1 else f"ℓ{_subscript(i)}"
        lines.append(f"  {name} = ({join([fmt.inner(v) for v in row])}) / {rows.shape[1]} = {fmt(float(mean))}")
    if rows.shape[0] > SHOWN_ROWS:
        lines.append(f"  … {rows.shape[0] - SHOWN_ROWS} more rows, the same way")
    return lines


def _subscript(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def explain(convention: Convention, evaluation: Evaluation, precision: int) -> str:
    """The derivation: the library's rule and source, its unreduced losses, its reduction with the numbers."""
    reason = refusal(convention, evaluation)
    if reason is not None:
        raise InputError(reason)
    result, fmt = evaluation.result, Numbers(precision)
    library = LIBRARIES[convention.library]
    lines = [
        f"{convention.name} under {library.title}'s convention ({result.dtype}), lossctl's {result.loss}",
        f"  rule: {convention.reason}",
        f"  source: {convention.source}",
    ]
    if result.params:
        lines.append("  with " + ", ".join(f"{k} = {v}" for k, v in result.params.items()))
    for name, tensor in result.tensors.items():
        lines.append(f"  with {name} = {fmt.vector(tensor.ravel())}")
    lines += _working(convention, evaluation, fmt)
    elements = evaluation.elements.ravel()
    lines += [
        "",
        f"the library's unreduced losses ℓᵢ (shape {evaluation.elements.shape}):",
        f"  {fmt.vector(elements)}",
    ]
    if result.reduction == "none":
        lines += ["", "no reduction: each ℓᵢ (times its sample weight, for Keras) is reported"]
        return "\n".join(lines) + "\n"
    coefficients = np.broadcast_to(evaluation.coefficients, evaluation.elements.shape).ravel()
    products = [f"{fmt(c)}·{fmt.inner(v)}" for c, v in zip(coefficients, elements, strict=True)]
    rule = RULES.get((library.name, result.reduction), f"L = Σᵢ cᵢ ℓᵢ ({result.reduction})")
    lines += [
        "",
        f"reduction {result.reduction}: {rule}",
        "  with cᵢ = ∂L/∂ℓᵢ the weight of each loss in L:",
        f"  L = {join(products)}",
        f"    = {fmt(float(result.value))}",
    ]
    return "\n".join(lines) + "\n"
