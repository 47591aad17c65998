"""``LossResult``: what one evaluation gives back, whichever path computed it.

The summary (sum, mean, value, count) is always there; the per-element arrays are there when they
were kept in memory (the Python API, small inputs), otherwise ``saved`` says which files hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Array, LossSpec


class Arrays(NamedTuple):
    """The per-element arrays of a result kept in memory."""

    pred: Array
    target: Array | None
    elements: Array
    grad: Array


@dataclass(frozen=True)
class LossResult:
    """Everything computed for one loss on one set of inputs."""

    loss: str
    params: dict[str, Any]
    reduction: str
    dtype: str
    shape: tuple[int, ...]  # of --pred as computed (channels first when kept in memory)
    sum: float
    mean: float
    value: float | Array  # the elements for --reduction none
    count: float
    divisor: float = 1.0  # value = sum / divisor (before any transform)
    blocks: int = 1
    pred: Array | None = None  # the arrays, when kept in memory
    target: Array | None = None
    elements: Array | None = None
    grad: Array | None = None
    tensors: dict[str, Array] = field(default_factory=dict)
    extra_grads: dict[str, Array] = field(default_factory=dict)
    class_axis: int | None = None
    activation: str | None = None
    pre_activation: Array | None = None  # z when --activation was given (pred then holds a(z))
    activation_derivative: Array | None = None  # a′(z) for element-wise activations
    channels_last: bool = False  # arrays are (…, C, H, W) here; the user's were (…, H, W, C)
    convention: str | None = None  # the library whose convention computed it, when --convention was given
    declaration: LossSpec | None = None  # the spec that computed it (it may not be registered)
    saved: dict[str, str] = field(default_factory=dict)  # JSON key ("elements", "grad") -> file written

    @property
    def spec(self) -> LossSpec:
        """The declaration that computed this result (looked up by name only when none was kept)."""
        return self.declaration if self.declaration is not None else LOSSES[self.loss]

    @property
    def in_memory(self) -> bool:
        """Whether the per-element arrays are here (otherwise they were saved, or not kept)."""
        return self.elements is not None and self.pred is not None and self.grad is not None

    def arrays(self) -> Arrays:
        """pred, target, elements and grad of a result kept in memory (renderers of per-element rows use it)."""
        if self.pred is None or self.elements is None or self.grad is None:
            raise ValueError(f"the per-element arrays of this {self.loss} result were not kept in memory")
        return Arrays(self.pred, self.target, self.elements, self.grad)

    def details(self) -> dict[str, Array]:
        """The loss's extra per-element table columns (the target class's probability …), computed when shown."""
        describe = self.spec.teaching.details
        if describe is None or self.pred is None or self.convention is not None:
            return {}  # under another library's convention, lossctl's columns (margin …) describe another loss
        with np.errstate(all="ignore"):
            return dict(describe(self.pred, self.target, **self.params, **self.tensors))

    def pixel_map(self) -> Array:
        """Per-pixel losses (the local 1 − SSIM map, squared errors for PSNR), or else the elements."""
        pred, target, elements, _ = self.arrays()
        images = self.spec.images
        if images is None or images.pixel_map is None:
            return elements
        return np.asarray(images.pixel_map(pred, target, **self.params, **self.tensors))

    def in_user_layout(self, array: Array) -> Array:
        """``array`` with the channel axis back where the user had it (for image-shaped arrays)."""
        if self.channels_last and self.pred is not None and array.ndim >= 3 and array.shape == self.pred.shape:
            return np.moveaxis(array, -3, -1)
        return array

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/architecture.md §4 (plain Python numbers and lists).

        Without the arrays in memory, the keys ``elements`` and ``grad`` name the files they were written to.
        """
        user = self.in_user_layout
        params: dict[str, Any] = dict(self.params)
        for name, tensor in self.tensors.items():
            params[name] = user(tensor).tolist()
        value = user(self.value) if isinstance(self.value, np.ndarray) else self.value
        out: dict[str, Any] = {
            "loss": self.loss,
            **({"convention": self.convention} if self.convention else {}),
            "params": params,
            "reduction": self.reduction,
            "shape": list(self.shape if self.pred is None else user(self.pred).shape),
            "dtype": self.dtype,
            "value": value.tolist() if isinstance(value, np.ndarray) else value,
            "sum": self.sum,
            "mean": self.mean,
            "count": self.count,
        }
        if self.elements is not None and self.grad is not None:
            out["elements"] = user(self.elements).tolist()
            out["grad"] = user(self.grad).tolist()
            for name, grad in self.extra_grads.items():
                out[f"grad_{name}"] = user(grad).tolist()
        out.update(self.saved)
        if self.channels_last:
            out["channels_last"] = True
        if self.activation is not None:
            out["activation"] = self.activation
            if self.pred is not None:
                out["activated"] = user(self.pred).tolist()
        return out
