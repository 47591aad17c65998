"""``--explain``: the derivation a teacher writes on the board, with the actual numbers.

Plain text (it is meant to be pasted into a report).  The generic derivation
works for every loss; a declaration's ``term`` adds the substitution line for
element-wise losses, and its ``explain`` replaces the middle part entirely
(cross-entropy's softmax steps, the active margins of the multiclass hinges).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.evaluation.core import compute
from lossctl.evaluation.result import LossResult
from lossctl.losses.wording import LONG, SHOWN_HEAD, Numbers, join


def reduction_line(result: LossResult) -> str:
    if result.reduction == "sum":
        return "L = Σᵢ ℓᵢ"
    if result.reduction == "none":
        return "no reduction: each ℓᵢ is reported"
    if _weighted_mean(result):
        return "L = (1/n) Σᵢ wᵢ ℓᵢ"
    if result.reduction == "mean" and result.count == result.arrays().elements.size:
        return "L = (1/n) Σᵢ ℓᵢ"
    return f"L = Σᵢ ℓᵢ / {result.reduction if result.reduction != 'mean' else 'Σ weights of kept targets'}"


def header(result: LossResult, fmt: Numbers) -> list[str]:
    spec = result.spec
    formula, _ = spec.formulas(result.params)
    lines = [f"{spec.name}: {spec.summary}", f"  {formula}", f"  {reduction_line(result)}"]
    if spec.reductions.transform is not None and result.reduction != "none":
        lines[-1] += f", then {spec.reductions.transform.name}"
    if result.params:
        lines.append("  with " + ", ".join(f"{k} = {v}" for k, v in result.params.items()))
    for name, tensor in result.tensors.items():
        lines.append(f"  with {name} = {fmt.vector(tensor.ravel())}")
    return lines


def _weighted_mean(result: LossResult) -> bool:
    """A mean of weighted elements (CTC: each sequence's loss over its target length)."""
    return result.reduction == "mean" and result.spec.reductions.mean_weights is not None


def weighted_mean_lines(result: LossResult, fmt: Numbers) -> list[str]:
    """L = (ℓ₀·w₀ + …) / n = (w₀ℓ₀ + …) / n = S / n = L."""
    mean_weights = result.spec.reductions.mean_weights
    if mean_weights is None:  # only asked when uses_weighted_mean(result)
        return []
    weights = mean_weights(result.pred, result.target, **result.params, **result.tensors)
    elements, weights = result.arrays().elements.ravel(), weights.ravel()
    products = [f"{fmt(v)}·{fmt(w)}" for v, w in zip(elements, weights, strict=True)]
    weighted = [fmt(v * w) for v, w in zip(elements, weights, strict=True)]
    total = result.mean * result.count
    n = fmt(result.count)
    lines = [f"  with w = {fmt.vector(weights)}", f"L = ({join(products)}) / {n}"]
    lines += [f"  = ({join(weighted)}) / {n}", f"  = {fmt(total)} / {n}", f"  = {fmt(float(result.value))}"]
    return lines


def reduce_lines(result: LossResult, fmt: Numbers, terms: list[str] | None) -> list[str]:
    """L = (substituted terms) / n = (values) / n = S / n = L."""
    if _weighted_mean(result):
        return weighted_mean_lines(result, fmt)
    values = [fmt(v) for v in result.arrays().elements.ravel()]
    n = result.arrays().elements.size
    if result.reduction == "none":
        lines = [f"ℓ = {fmt.vector(result.arrays().elements.ravel())}"]
        if terms:
            lines.insert(0, "ℓ = [" + join(terms, ", ") + "]")
        return lines
    divisor = None if result.reduction == "sum" or result.divisor == 1.0 else result.divisor
    steps: list[str] = []
    if terms:
        steps.append("(" + join(terms) + ")")
    if n > 1:
        steps.append("(" + join(values) + ")")
    steps.append(fmt(result.sum))
    if divisor is not None:
        steps = [f"{step} / {fmt(divisor)}" for step in steps]
    reduced = result.sum / divisor if divisor is not None else result.sum
    if divisor is not None:
        steps.append(fmt(reduced))
    transform = result.spec.reductions.transform
    if transform is not None:
        steps = [f"{transform.name}({step})" for step in steps]
    steps.append(fmt(float(result.value)))
    unique = [step for i, step in enumerate(steps) if i == 0 or step != steps[i - 1]]
    lines = [f"L = {unique[0]}"] + [f"  = {step}" for step in unique[1:]]
    if n > LONG:
        lines.insert(0, f"n = {n} terms; the sums show the first {SHOWN_HEAD}, … and the last")
    return lines


def substituted_terms(result: LossResult, fmt: Numbers) -> list[str] | None:
    spec = result.spec
    if (
        spec.teaching.term is None
        or result.target is None
        or result.tensors
        or result.target.shape != result.arrays().pred.shape
    ):
        return None
    pred, target = result.arrays().pred.ravel(), result.target.ravel()
    pairs = zip(pred, target, strict=True)
    return [spec.teaching.term(fmt.inner(p), fmt.inner(t), float(p - t), **result.params) for p, t in pairs]


ACTIVATION_FORMULAS = {
    "sigmoid": ("σ(z) = 1 / (1 + e^(−z))", "σ′(z) = σ(z)·(1 − σ(z))"),
    "tanh": ("tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))", "tanh′(z) = 1 − tanh²(z)"),
    "softmax": ("softmax(z)ⱼ = e^(zⱼ) / Σₖ e^(zₖ)", "∂aⱼ/∂zₖ = aⱼ·(δⱼₖ − aₖ)"),
}


def matrix(values: np.ndarray, fmt: Numbers) -> str:
    """A vector as [a, b]; higher ranks as one bracketed row per leading index."""
    if values.ndim >= 2:
        rows = [fmt.vector(row.ravel()) for row in values.reshape(values.shape[0], -1)]
        return "[" + join(rows, ", ") + "]"
    return fmt.vector(values.ravel())


def activation_lines(result: LossResult, fmt: Numbers) -> list[str]:
    """z → a(z): the step before the loss when --activation was given."""
    if result.activation is None or result.pre_activation is None:
        return []
    forward, _ = ACTIVATION_FORMULAS[result.activation]
    return [
        f"activation: --pred holds z; the loss sees ŷ = a = {result.activation}(z)",
        "  z → a(z) → ℓ(a) → ∂L/∂a → a′(z) → ∂L/∂z",
        f"  z = {matrix(result.pre_activation, fmt)}",
        f"  a = {forward}",
        f"  a = {matrix(result.arrays().pred, fmt)}",
        "",
    ]


def gradient_wrt_activated(result: LossResult) -> np.ndarray:
    """∂L/∂a: the loss's own gradient at a = a(z), with the same reduction (before the chain rule)."""
    params: dict[str, Any] = {**result.params, **result.tensors}
    again = compute(
        result.spec,
        result.pred,
        result.target,
        reduction=result.reduction,
        dtype=result.dtype,
        allow_nonfinite=True,
        **params,
    )
    return again.arrays().grad


def chain_lines(result: LossResult, fmt: Numbers, label: str) -> list[str]:
    """∂L/∂a → a′(z) → ∂L/∂z, each with its numbers."""
    name = result.activation or ""
    _, derivative = ACTIVATION_FORMULAS[name]
    lines = [f"  {label.replace('ŷ', 'a')} = {matrix(gradient_wrt_activated(result), fmt)}"]
    z_label = label.replace("ŷ", "z")
    if name == "softmax":
        lines += [
            f"  chain rule through softmax: {derivative}",
            f"  {z_label} = a ⊙ (∂L/∂a − Σₖ aₖ ∂L/∂aₖ)",
        ]
    elif result.activation_derivative is not None:  # every element-wise activation keeps its a′(z)
        lines += [
            f"  a′(z) = {derivative}",
            f"  a′(z) = {matrix(result.activation_derivative, fmt)}",
            f"  chain rule: {z_label} = {label.replace('ŷ', 'a')} · a′(z)",
        ]
    lines.append(f"  {z_label} = {matrix(result.arrays().grad, fmt)}")
    return lines


def gradient_lines(result: LossResult, fmt: Numbers) -> list[str]:
    spec = result.spec
    _, gradient = spec.formulas(result.params)
    lines = ["", "gradient:", f"  {gradient}" + ("   (the loss's input is a)" if result.activation else "")]
    variable = "a" if result.activation else "ŷ"
    if _weighted_mean(result):
        lines.append(f"  ∂L/∂{variable} = (1/n) Σᵢ wᵢ ∂ℓᵢ/∂{variable} with n = {fmt(result.count)}")
    elif result.reduction == "mean" and result.count == result.arrays().elements.size:
        lines.append(f"  ∂L/∂{variable} = (1/n) ∂ℓ/∂{variable} with n = {fmt(result.count)}")
    elif result.reduction not in ("sum", "none"):
        lines.append(f"  ∂L/∂{variable} = ∂ℓ/∂{variable} divided as the value is")
    if spec.reductions.transform is not None and result.reduction != "none":
        lines.append(f"  and the chain rule through {spec.reductions.transform.name}")
    label = "∂(Σ ℓ)/∂ŷ" if result.reduction == "none" else "∂L/∂ŷ"
    if result.activation is not None and result.pre_activation is not None:
        lines += chain_lines(result, fmt, label)
    else:
        lines.append(f"  {label} = {matrix(result.arrays().grad, fmt)}")
    for name, extra in result.extra_grads.items():
        lines.append(f"  ∂L/∂{name} = {fmt.vector(extra.ravel())}")
    return lines


def explain(result: LossResult, precision: int = 6) -> str:
    """The whole derivation as plain text, ending with the value and the gradient."""
    fmt = Numbers(precision)
    spec = result.spec
    lines = header(result, fmt)
    lines.append("")
    lines += activation_lines(result, fmt)
    if spec.teaching.explain is not None:
        lines += spec.teaching.explain(result, fmt)  # the per-sample working; the reduction follows
        lines += reduce_lines(result, fmt, None)
    else:
        lines += reduce_lines(result, fmt, substituted_terms(result, fmt))
    lines += gradient_lines(result, fmt)
    return "\n".join(lines) + "\n"


# --- large inputs: the working of the first elements, the sums from the block engine -------------------
