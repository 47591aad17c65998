"""``--explain``: the derivation a teacher writes on the board, with the actual numbers.

Plain text (it is meant to be pasted into a report).  The generic derivation
works for every loss; a declaration's ``term`` adds the substitution line for
element-wise losses, and its ``explain`` replaces the middle part entirely
(cross-entropy's softmax steps, the active margins of the multiclass hinges).
"""

from __future__ import annotations

from lossctl.evaluation.core import LossResult
from lossctl.losses.wording import LONG, SHOWN_HEAD, Numbers, join


def reduction_line(result: LossResult) -> str:
    if result.reduction == "sum":
        return "L = Σᵢ ℓᵢ"
    if result.reduction == "none":
        return "no reduction: each ℓᵢ is reported"
    if _weighted_mean(result):
        return "L = (1/n) Σᵢ wᵢ ℓᵢ"
    if result.reduction == "mean" and result.count == result.elements.size:
        return "L = (1/n) Σᵢ ℓᵢ"
    return f"L = Σᵢ ℓᵢ / {result.reduction if result.reduction != 'mean' else 'Σ weights of kept targets'}"


def header(result: LossResult, fmt: Numbers) -> list[str]:
    spec = result.spec
    lines = [f"{spec.name}: {spec.summary}", f"  {spec.formula}", f"  {reduction_line(result)}"]
    if spec.transform is not None and result.reduction != "none":
        lines[-1] += f", then {spec.transform.name}"
    if result.params:
        lines.append("  with " + ", ".join(f"{k} = {v}" for k, v in result.params.items()))
    for name, tensor in result.tensors.items():
        lines.append(f"  with {name} = {fmt.vector(tensor.ravel())}")
    return lines


def _weighted_mean(result: LossResult) -> bool:
    """A mean of weighted elements (CTC: each sequence's loss over its target length)."""
    return result.reduction == "mean" and result.spec.mean_weights is not None


def weighted_mean_lines(result: LossResult, fmt: Numbers) -> list[str]:
    """L = (ℓ₀·w₀ + …) / n = (w₀ℓ₀ + …) / n = S / n = L."""
    spec = result.spec
    weights = spec.mean_weights(result.pred, result.target, **result.params, **result.tensors)
    elements, weights = result.elements.ravel(), weights.ravel()
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
    values = [fmt(v) for v in result.elements.ravel()]
    n = result.elements.size
    if result.reduction == "none":
        lines = [f"ℓ = {fmt.vector(result.elements.ravel())}"]
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
    transform = result.spec.transform
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
    if spec.term is None or result.target is None or result.tensors or result.target.shape != result.pred.shape:
        return None
    pred, target = result.pred.ravel(), result.target.ravel()
    pairs = zip(pred, target, strict=True)
    return [spec.term(fmt.inner(p), fmt.inner(t), float(p - t), **result.params) for p, t in pairs]


def gradient_lines(result: LossResult, fmt: Numbers) -> list[str]:
    spec = result.spec
    lines = ["", "gradient:", f"  {spec.gradient}"]
    if _weighted_mean(result):
        lines.append(f"  ∂L/∂ŷ = (1/n) Σᵢ wᵢ ∂ℓᵢ/∂ŷ with n = {fmt(result.count)}")
    elif result.reduction == "mean" and result.count == result.elements.size:
        lines.append(f"  ∂L/∂ŷ = (1/n) ∂ℓ/∂ŷ with n = {fmt(result.count)}")
    elif result.reduction not in ("sum", "none"):
        lines.append("  ∂L/∂ŷ = ∂ℓ/∂ŷ divided as the value is")
    if spec.transform is not None and result.reduction != "none":
        lines.append(f"  and the chain rule through {spec.transform.name}")
    label = "∂(Σ ℓ)/∂ŷ" if result.reduction == "none" else "∂L/∂ŷ"
    grad = result.grad
    if grad.ndim >= 2:
        rows = [fmt.vector(row.ravel()) for row in grad.reshape(grad.shape[0], -1)]
        lines.append(f"  {label} = [" + join(rows, ", ") + "]")
    else:
        lines.append(f"  {label} = {fmt.vector(grad.ravel())}")
    for name, extra in result.extra_grads.items():
        lines.append(f"  ∂L/∂{name} = {fmt.vector(extra.ravel())}")
    return lines


def explain(result: LossResult, precision: int = 6) -> str:
    """The whole derivation as plain text, ending with the value and the gradient."""
    fmt = Numbers(precision)
    spec = result.spec
    lines = header(result, fmt)
    lines.append("")
    if spec.explain is not None:
        lines += spec.explain(result, fmt)  # the per-sample working; the reduction follows
        lines += reduce_lines(result, fmt, None)
    else:
        lines += reduce_lines(result, fmt, substituted_terms(result, fmt))
    lines += gradient_lines(result, fmt)
    return "\n".join(lines) + "\n"
