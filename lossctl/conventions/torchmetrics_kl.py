"""torchmetrics' ``kl_divergence(p, q, log_prob=False, reduction="mean")`` and the class ``KLDivergence``.

Source: torchmetrics 1.9.0 ``src/torchmetrics/functional/regression/kl_divergence.py:25-115``.  The first
argument ``p`` is the data distribution (lossctl's ``--target``), the second ``q`` the approximation
(``--pred``, the one the gradient is taken for); the value is D(p ‖ q) per row of an (N, d) pair:

- ``log_prob=False`` (default, :41-45): both rows are normalised, p̂ = p / Σp and q̂ = q / Σq, then
  ℓᵢ = Σⱼ xlogy(p̂ᵢⱼ, p̂ᵢⱼ / q̂ᵢⱼ) (0 where p̂ = 0);
  ∂ℓᵢ/∂qᵢⱼ = −p̂ᵢⱼ / qᵢⱼ + 1 / Σₖ qᵢₖ (the second term from the normalisation, as Σⱼ p̂ᵢⱼ = 1).
- ``log_prob=True`` (:40-41): both are log-probabilities, not normalised: ℓᵢ = Σⱼ e^{pᵢⱼ} (pᵢⱼ − qᵢⱼ);
  ∂ℓᵢ/∂qᵢⱼ = −e^{pᵢⱼ}.

``reduction`` (:50-79): ``mean`` = Σᵢ ℓᵢ / N (PyTorch's ``batchmean``, not its ``mean`` over every element),
``sum``, ``none``.  PyTorch's ``kl_div(input, target)`` takes the log of the *prediction* first and
normalises nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention, require_same_shape
from lossctl.errors import InputError
from lossctl.losses.spec import Param

SOURCE = "torchmetrics 1.9.0 src/torchmetrics/functional/regression/kl_divergence.py"


def _normalised(values: Array) -> Array:
    return values / np.sum(values, axis=-1, keepdims=True)


def kl_elements(pred: Array, target: Array, *, log_prob: bool = False) -> Array:
    """One divergence D(target ‖ pred) per row (kl_divergence.py:40-45)."""
    if log_prob:
        return np.sum(np.exp(target) * (target - pred), axis=-1)
    p, q = _normalised(target), _normalised(pred)
    return np.sum(np.where(p == 0, 0.0, p * np.log(np.where(p == 0, 1.0, p / q))), axis=-1)


def kl_vjp(pred: Array, target: Array, cot: Array, *, log_prob: bool = False) -> Array:
    """Σᵢ cotᵢ ∂ℓᵢ/∂pred: −e^{p} (log_prob), else −p̂ / q + 1 / Σq per row."""
    weight = np.asarray(cot, dtype=pred.dtype)[..., None]
    if log_prob:
        return -weight * np.exp(target)
    p = _normalised(target)
    local = -np.where(p == 0, 0.0, p / pred) + 1.0 / np.sum(pred, axis=-1, keepdims=True)
    return weight * local


def check(pred: Array, target: Array, **_: Any) -> None:
    """kl_divergence.py:35-37: the same shape, both 2-D (N, d)."""
    require_same_shape(pred, target, "torchmetrics' kl_divergence")
    if pred.ndim != 2:
        raise InputError(
            f"--pred and --target must be 2-D (N, d) distributions for torchmetrics' kl_divergence, got {pred.ndim}-D "
            "(write one row as '0.2,0.8;' or [[0.2,0.8]])"
        )


CONVENTIONS = (
    Convention(
        "torchmetrics",
        "kl_div",
        ("kl_divergence",),
        kl_elements,
        kl_vjp,
        "kl_divergence(p, q): the target p comes first and pred q is a probability (torch: a log-probability), "
        "each row normalised unless log_prob; the mean is over rows (torch's batchmean)",
        f"{SOURCE}:25-115",
        params=(Param("log_prob", "bool", False, "both inputs are log-probabilities (no normalisation)"),),
        check=check,
    ),
)
