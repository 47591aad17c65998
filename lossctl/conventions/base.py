"""What a library convention declares, and the reductions the libraries use.

A :class:`Convention` says how one library computes one lossctl loss: its own
names and parameters, its unreduced losses (``elements``), their gradient as a
vector–Jacobian product (``vjp(pred, target, cotangent) = Σ cotangent · ∂elements/∂pred``),
the line of the library's source it follows, and one line on how it differs
from PyTorch.  A :class:`Library` holds a library's conventions and its
reduction rule (Keras' divisors, scikit-learn's weighted averages …), so value
and gradient come from one place: ``value, cot = reduce(elements, …)`` and
``grad = vjp(pred, target, cot)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.losses.spec import Param

Array = np.ndarray
Reducer = Callable[[Array, "Array | None", "Array | None", str], tuple[Any, Array]]


@dataclass(frozen=True)
class Convention:
    """How one library computes one lossctl loss."""

    library: str
    loss: str  # the lossctl loss it maps to
    names: tuple[str, ...]  # the library's own names for it (classes, functions)
    elements: Callable[..., Array]  # (pred, target, **params) -> the library's unreduced losses
    vjp: Callable[..., Array]  # (pred, target, cot, **params) -> Σ cot · ∂elements/∂pred
    reason: str  # one line: what it does differently from PyTorch
    source: str  # file:line of the library's source it follows
    params: tuple[Param, ...] = ()
    reductions: tuple[str, ...] | None = None  # None: the library's
    check: Callable[..., None] | None = None  # raise InputError where the library raises
    mask: Callable[..., Array | None] | None = None  # Keras: entries the loss ignores (ignore_class)
    # A whole-column metric (R², median, Minkowski …): ``elements`` and ``vjp`` take ``sample_weight`` and give
    # each value's contribution; the value is their sum, whatever the library's reduction rule.
    contributions: bool = False
    # the target the library assumes when --target is absent (optax ntxent: rows i and i + N pair up)
    default_target: Callable[[Array], Array] | None = None
    # params -> whether the library returns one value per output (torchmetrics num_outputs > 1, one-vs-all);
    # multioutput=raw_values says so for every convention.  The gradient is then that of their sum.
    vector_value: Callable[..., bool] | None = None
    # --explain's working before the library's axis mean: (pred, target, **params) -> [(label, array of pred's
    # shape), …], the last being the per-value terms that ``elements`` averages over ``params["axis"]`` (Keras)
    terms: Callable[..., list[tuple[str, Array]]] | None = None

    @property
    def name(self) -> str:
        return self.names[0]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True)
class Library:
    """A library: its conventions, reductions, default dtype and sample-weight rule."""

    name: str  # as given to --convention
    title: str  # as written in prose: "Keras"
    reductions: tuple[str, ...]
    reduce: Reducer  # (elements, sample_weight, mask, reduction) -> (value, ∂value/∂elements)
    dtype: str = "float64"
    sample_weight: bool = False
    conventions: tuple[Convention, ...] = ()
    missing: Mapping[str, str] = field(default_factory=dict)  # library name -> what lossctl lacks
    source: str = ""

    def for_loss(self, loss: str) -> Convention | None:
        return next((c for c in self.conventions if c.loss == loss), None)


# --- element-wise helpers -----------------------------------------------------


def clip(x: Array, low: float, high: float) -> tuple[Array, Array]:
    """clip(x) and its derivative mask (1 inside [low, high], as torch.clamp's backward)."""
    return np.clip(x, low, high), ((x >= low) & (x <= high)).astype(x.dtype)


def mean_over(values: Array, axis: int) -> Array:
    """The mean over one axis (Keras' ``ops.mean(…, axis=-1)``)."""
    return np.mean(values, axis=axis)


def mean_over_vjp(cot: Array, shape: tuple[int, ...], axis: int, dtype: np.dtype) -> Array:
    """∂(Σ cot · mean_axis(v))/∂v: the cotangent spread evenly over the reduced axis."""
    return np.broadcast_to(np.expand_dims(np.asarray(cot, dtype=dtype), axis), shape) / dtype.type(shape[axis])


def elementwise(
    term: Callable[..., Array], derivative: Callable[..., Array], axis: int | None = None
) -> tuple[Callable[..., Array], Callable[..., Array]]:
    """(elements, vjp) for an element-wise term, averaged over ``axis`` when one is given (Keras)."""

    def elements(pred: Array, target: Array, **params: Any) -> Array:
        values = term(pred, target, **params)
        return values if axis is None else mean_over(values, axis)

    def vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
        local = derivative(pred, target, **params)
        if axis is None:
            return cot * local
        return mean_over_vjp(cot, pred.shape, axis, pred.dtype) * local

    return elements, vjp


def require_same_shape(pred: Array, target: Array, library: str) -> None:
    if pred.shape != target.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; {library} needs them equal")


def unbroadcast(array: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``array`` down to ``shape`` (the adjoint of NumPy broadcasting)."""
    while array.ndim > len(shape):
        array = array.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and array.shape[axis] != 1:
            array = array.sum(axis=axis, keepdims=True)
    return array


def plain_reduce(elements: Array, sample_weight: Array | None, mask: Array | None, reduction: str) -> tuple[Any, Array]:
    """mean | sum | none of the elements: what a user of a library without reductions does."""
    dtype = elements.dtype
    if reduction == "none":
        return elements, np.ones_like(elements)
    if reduction == "sum":
        return dtype.type(np.sum(elements, dtype=dtype)), np.ones_like(elements)
    size = dtype.type(max(elements.size, 1))
    return dtype.type(np.sum(elements, dtype=dtype) / size), np.full_like(elements, 1 / size)


def contributions_reduce(elements: Array, reduction: str) -> tuple[Any, Array]:
    """A metric given as contributions: its value is their sum (reduction 'none': the contributions)."""
    if reduction == "none":
        return elements, np.ones_like(elements)
    return elements.dtype.type(np.sum(elements, dtype=elements.dtype)), np.ones_like(elements)
