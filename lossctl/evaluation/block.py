"""``evaluate_block``: the losses, their exact sums and the gradient of one block of rows.

Each block is evaluated with the declaration's own functions (``fused`` when it has one, in scratch
buffers its thread lends block after block), written into the caller's arrays (elements, gradient), and reduced to exact
partial sums while it is still in the CPU cache.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.errors import ComputationError
from lossctl.evaluation.activations import activation_axis, chain
from lossctl.evaluation.exact import ExactSum
from lossctl.evaluation.reduce import Partial, count_of, mean_weights, weighted
from lossctl.evaluation.request import Request
from lossctl.evaluation.validate import overflow_message
from lossctl.losses.checks import rows_counted_from
from lossctl.losses.spec import Array, Buffers, LossSpec


@dataclass
class Outputs:
    """Where per-element losses and gradients go: arrays (in memory or memory-mapped files), or nowhere."""

    elements: Array | None = None
    grad: Array | None = None
    make_elements: Callable[[tuple[int, ...], Any], Array] | None = None  # allocate once the shape is known
    extra_grads: dict[str, Array] = field(default_factory=dict)  # filled: ∂value/∂tensor for other inputs
    totals: Partial | None = None  # filled: the exact sums of every block (callers combining runs reuse them)
    row_shape: tuple[int, ...] | None = None  # filled: the elements' shape per row (None: one block, rows coupled)
    # an image loss's --save-elements: its per-pixel map (or its elements), in the user's layout, as in memory
    make_pixel_maps: Callable[[tuple[int, ...], Any], Array] | None = None
    pixel_maps: Array | None = None


@dataclass
class Sink:
    """The arrays the blocks of one evaluation write into."""

    outputs: Outputs
    grad: Array | None  # ∂value/∂pred in the user's layout, or None when no gradient is wanted
    extra: dict[str, Array] = field(default_factory=dict)  # gradients of tensors cut into blocks (channels first)
    written: set[str] = field(default_factory=set)  # tensors whose gradient the loss returned


@np.errstate(all="ignore")  # NumPy RuntimeWarnings never reach the user: results are checked
def evaluate_block(request: Request, rows: slice, sink: Sink) -> Partial:
    """Evaluate the block of ``rows``: write its elements and scaled gradient into ``sink``, return its sums."""
    spec, float_type = request.spec, request.float_type
    p, t, args = request.inputs(rows)
    if spec.check is not None and not request.checked:
        with rows_counted_from(rows.start or 0, rows.stop - (rows.start or 0)):
            spec.check(p, t, **args)
    fused = None  # also without a gradient when buffers are lent: they cost less than ``elements``' fresh arrays
    buffers = _lent_buffers(p.dtype, p.size)
    if spec.engine.fused is not None and (sink.grad is not None or buffers is not None):
        fused = spec.engine.fused(p, t, **args, buffers=buffers)
    elements = np.asarray(fused[0] if fused is not None else spec.elements(p, t, **args), dtype=float_type)
    total = ExactSum().add(elements)
    weights = mean_weights(spec, p, t, args, float_type)
    mean_total = ExactSum() + total if weights is None else ExactSum().add(weights * elements)
    _keep_elements(request, rows, elements, sink.outputs)
    if sink.outputs.make_pixel_maps is not None:
        _keep_pixel_maps(request, rows, p, t, args, elements, sink.outputs)
    shared: dict[str, Array] = {}  # block partials of tensors shared by every block: summed later
    if sink.grad is not None:
        if fused is not None:
            gradient = fused[1]
        else:
            raw = spec.grad(p, t, **args, **weighted(weights, request.reduction))
            gradient = raw["pred"] if isinstance(raw, Mapping) else raw
            if isinstance(raw, Mapping):
                shared = _keep_extra_grads(request, raw, rows, sink)
        _write_gradient(request, rows, p, np.asarray(gradient), sink.grad)
    if not request.allow_nonfinite:
        infinite = spec.finite and total.nonfinite != 0.0
        if infinite or math.isnan(total.nonfinite):
            raise ComputationError(overflow_message(spec, float_type))
    return Partial(total, count_of(spec, p, t, args, elements.size), mean_total, shared)


LENT_VALUES = 1 << 17  # blocks up to this many values (1 MiB of float64) compute in buffers their thread lends
_lent = threading.local()


def _lent_buffers(dtype: np.dtype, size: int) -> Buffers | None:
    """Scratch arrays for a declaration's ``fused`` pass, kept by this thread from block to block.

    A fresh array of a block's size is mapped by the allocator and page-faulted in on first use, which
    costs more than the arithmetic done in it.  The results are copied out (the gradient scaled into its
    destination, the elements summed and kept) before the thread's next block reuses the buffers.
    Larger blocks (one whole array) get fresh arrays: nothing that large is kept alive.
    """
    if size > LENT_VALUES:
        return None
    pool: dict[tuple[int, str], Array] | None = getattr(_lent, "pool", None)
    if pool is None:
        pool = _lent.pool = {}

    def take(index: int, shape: tuple[int, ...]) -> Array:
        key, needed = (index, dtype.str), math.prod(shape)
        array = pool.get(key)
        if array is None or array.size < needed:
            array = pool[key] = np.empty(max(needed, LENT_VALUES // 16), dtype=dtype)
        return array[:needed].reshape(shape)

    return take


def require_finite_result(request: Request, gradient: Array) -> None:
    """A gradient of finite inputs must be finite (one sum usually shows it is)."""
    if math.isfinite(float(np.sum(gradient))) or np.isfinite(gradient).all():
        return
    raise ComputationError(overflow_message(request.spec, request.float_type, gradient=True))


def _keep_elements(request: Request, rows: slice, elements: Array, outputs: Outputs) -> None:
    if request.whole and outputs.make_elements is not None:
        outputs.elements = outputs.make_elements(elements.shape, request.float_type)
    if outputs.elements is not None:
        outputs.elements[rows if not request.whole else ...] = elements


def pixel_map(spec: LossSpec, p: Array, t: Array | None, args: Mapping[str, Any], elements: Array) -> Array:
    """What an image loss's --save-elements holds for these rows: its per-pixel map, or else its elements."""
    images = spec.images
    if images is None or images.pixel_map is None:
        return elements
    return np.asarray(images.pixel_map(p, t, **args))


def _keep_pixel_maps(
    request: Request, rows: slice, p: Array, t: Array | None, args: Mapping[str, Any], elements: Array, outputs: Outputs
) -> None:
    """The block's per-pixel map, written in the user's layout (channels last when the user's images are)."""
    values = pixel_map(request.spec, p, t, args, elements).astype(request.float_type, copy=False)
    user_layout = request.channels_last and values.ndim >= 3 and values.shape == p.shape
    if outputs.pixel_maps is None:  # one block holds everything: its shape is known now
        assert outputs.make_pixel_maps is not None and request.whole
        shape = np.moveaxis(values, -3, -1).shape if user_layout else values.shape
        outputs.pixel_maps = outputs.make_pixel_maps(shape, request.float_type)
    destination = outputs.pixel_maps[rows if not request.whole else ...]
    if user_layout:
        destination = np.moveaxis(destination, -1, -3)  # a view: written in the user's layout
    destination[...] = values


def _write_gradient(request: Request, rows: slice, p: Array, gradient: Array, grad: Array) -> None:
    """The block's gradient, scaled when the scale is already known, chained through an activation."""
    destination = grad[rows] if not request.whole else grad
    if request.channels_last and gradient.ndim >= 3:
        destination = np.moveaxis(destination, -1, -3)  # a view: written in the user's layout
    scale = request.early_scale if request.early_scale is not None else 1.0
    np.multiply(gradient, request.float_type(scale), out=destination)
    if request.activation is not None:  # scaled first, then chained: as autograd takes it
        destination[...] = chain(request.activation, p, destination, activation_axis(request.spec, p))[0]
    if not request.allow_nonfinite:
        require_finite_result(request, destination)


def _keep_extra_grads(request: Request, raw: Mapping[str, Array], rows: slice, sink: Sink) -> dict[str, Array]:
    """Write the gradients of tensors cut into blocks into ``sink``; return those of shared tensors."""
    shared: dict[str, Array] = {}
    for name, gradient in raw.items():
        if name == "pred":
            continue
        sink.written.add(name)
        array: Array = np.asarray(gradient, dtype=request.float_type)
        if not request.allow_nonfinite:
            require_finite_result(request, array)
        if request.whole:
            sink.extra[name] = array
        elif name in request.blocked:
            sink.extra[name][rows] = array
        else:
            shared[name] = array
    return shared
