"""``--activation``: the loss sees a(z) of the user's pre-activations z; gradients go back through a′."""

from __future__ import annotations

import numpy as np

from lossctl.errors import ParameterError
from lossctl.losses.spec import Array, LossSpec

ACTIVATIONS = ("sigmoid", "softmax", "tanh")


def check_activation(activation: str | None) -> None:
    """``--activation``: one of ACTIVATIONS, or none."""
    if activation is not None and activation not in ACTIVATIONS:
        raise ParameterError(f"--activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")


def activation_axis(spec: LossSpec, pred: Array) -> int:
    """Softmax runs over the loss's class axis, or the last axis for element-wise losses."""
    axis = spec.class_axis(pred) if spec.class_axis else None
    return pred.ndim - 1 if axis is None else axis


def activate(name: str, z: Array, axis: int) -> Array:
    """a(z) for the activations ``--activation`` offers, in stable forms."""
    if name == "tanh":
        return np.asarray(np.tanh(z))
    if name == "sigmoid":
        e = np.exp(-np.abs(z))  # exponent ≤ 0: no overflow for large |z|
        return np.asarray(np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))
    shifted = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return np.asarray(shifted / np.sum(shifted, axis=axis, keepdims=True))


def derivative(name: str, a: Array) -> Array | None:
    """a′(z) from a = a(z) for element-wise activations; None for softmax (a Jacobian, not a number each)."""
    if name == "softmax":
        return None
    return a * (1.0 - a) if name == "sigmoid" else 1.0 - a * a


def chain(name: str, a: Array, grad_a: Array, axis: int) -> tuple[Array, Array | None]:
    """∂L/∂z from ∂L/∂a: a′(z) element-wise, or the softmax Jacobian a ⊙ (g − Σ g ⊙ a)."""
    if name == "softmax":
        return a * (grad_a - np.sum(grad_a * a, axis=axis, keepdims=True)), None
    slope = derivative(name, a)
    assert slope is not None
    return grad_a * slope, slope
