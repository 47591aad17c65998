"""One very large image (tv, psnr, psnr_loss, ssim): evaluated band by band with halos, in bounded memory.

The block engine cuts inputs along their leading axis; a single (H, W), (C, H, W) or
(H, W, C) image has no such axis and would be one block, holding every temporary of the
loss at full size.  Here the image is read a band of rows at a time (a .npy memory map
with plain file reads, so the input's pages are not kept), the band functions of
:mod:`lossctl.losses.image` compute the core rows exactly as the untiled computation
does, the gradient is written into the (memory-mapped) output, and the sums are combined
with :class:`lossctl.evaluation.exact.ExactSum`.  The result is the engine's
:class:`~lossctl.evaluation.result.LossResult`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from lossctl.errors import ComputationError, InputError, LossctlWarning
from lossctl.evaluation.engine import Outputs
from lossctl.evaluation.exact import ExactSum
from lossctl.evaluation.result import LossResult
from lossctl.evaluation.validate import DTYPES, overflow_message, resolve_params
from lossctl.losses import image
from lossctl.losses.spec import LossSpec


def tiles_image(spec: LossSpec, pred: Any, target: Any, options: dict[str, Any], tensors: dict[str, Any]) -> bool:
    """Whether this input is one image of a loss computed band by band (no activation, no tensor options)."""
    shape = np.shape(pred)
    single = len(shape) in (2, 3) or (len(shape) == 4 and shape[0] == 1)
    plain = options.get("activation") is None and not tensors and options["reduction"] in ("mean", "sum")
    return spec.name in image.TILED_LOSSES and single and plain and (target is None) == (spec.target == "none")


def _geometry(shape: tuple[int, ...], channels_last: bool) -> tuple[int, int, int]:
    """(channels, height, width) of one image in the user's layout."""
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    if channels_last:
        return shape[-1], shape[-3], shape[-2]
    return shape[-3], shape[-2], shape[-1]


def band_reader(array: Any, channels_last: bool, float_type: type) -> Callable[[int, int], np.ndarray]:
    """A function reading rows [start, stop) of the image as a (C, rows, W) array of ``float_type``.

    A C-ordered .npy memory map is read with plain file reads (one per channel, or one for
    channels-last), so the pages read are not counted in the process's memory.
    """
    raw = array if isinstance(array, np.ndarray) else np.asarray(array)
    shape = raw.shape
    channels, height, width = _geometry(shape, channels_last)
    mapped: tuple[str, int] | None = None  # a C-ordered memory map: its file and where its data start
    if isinstance(raw, np.memmap) and raw.filename is not None and raw.flags.c_contiguous:
        mapped = (raw.filename, int(raw.offset))

    def read(start: int, stop: int) -> np.ndarray:
        rows = stop - start
        if channels_last and len(shape) >= 3:
            if mapped is not None:
                filename, base = mapped
                offset = base + start * width * channels * raw.dtype.itemsize
                block = np.fromfile(filename, dtype=raw.dtype, count=rows * width * channels, offset=offset)
                block = block.reshape(rows, width, channels)
            else:
                block = np.asarray(raw.reshape(height, width, channels)[start:stop])
            return np.moveaxis(block, -1, 0).astype(float_type)
        if mapped is not None:
            filename, base = mapped
            parts = []
            for channel in range(channels):
                offset = base + (channel * height + start) * width * raw.dtype.itemsize
                part = np.fromfile(filename, dtype=raw.dtype, count=rows * width, offset=offset)
                parts.append(part.reshape(rows, width))
            block = np.stack(parts)
        else:
            block = np.asarray(raw.reshape(channels, height, width)[:, start:stop])
        return block.astype(float_type)

    return read


def _writer(out: Any, shape: tuple[int, ...], channels_last: bool) -> Callable[[int, int, np.ndarray], None]:
    """Writes a (C, rows, W) band into an array of the user's layout."""
    channels, height, width = _geometry(shape, channels_last)

    def write(start: int, stop: int, band: np.ndarray) -> None:
        if channels_last and len(shape) >= 3:
            out.reshape(height, width, channels)[start:stop] = np.moveaxis(band, 0, -1)
        else:
            out.reshape(channels, height, width)[:, start:stop] = band

    return write


def _require_finite(band: np.ndarray, option: str, start: int, shape: tuple[int, ...], channels_last: bool) -> None:
    """NaN and inf are refused, naming the first by its index in the user's array."""
    if math.isfinite(float(np.sum(band))):
        return
    bad = np.argwhere(~np.isfinite(band))
    if bad.size == 0:
        return
    channel, row, column = (int(i) for i in bad[0])
    value = band[channel, row, column]
    row += start
    index: tuple[int, ...]
    if len(shape) == 2:
        index = (row, column)
    elif channels_last:
        index = (*(0,) * (len(shape) - 3), row, column, channel)
    else:
        index = (*(0,) * (len(shape) - 3), channel, row, column)
    where = "[" + ", ".join(map(str, index)) + "]"
    raise InputError(f"{option}{where} is {value}: inputs must be finite (pass --allow-nonfinite to allow it)")


def evaluate_tiled(
    spec: LossSpec,
    pred: Any,
    target: Any,
    *,
    reduction: str,
    dtype: str,
    allow_nonfinite: bool,
    outputs: Outputs | None = None,
    channels_last: bool = False,
    band_values: int | None = None,
    **params: Any,
) -> LossResult:
    """The value, sum and mean of one large image, band by band; the gradient into ``outputs.grad`` when it is
    given, the elements into ``outputs.make_elements(shape, dtype)`` when that is (as the block engine does)."""
    outputs = outputs or Outputs()
    grad_out = outputs.grad

    def make_elements(element_shape: tuple[int, ...], element_type: Any) -> Any:
        assert outputs.make_elements is not None  # called only when the caller asked for the elements
        outputs.elements = outputs.make_elements(element_shape, element_type)
        return outputs.elements

    float_type = DTYPES[dtype]
    shape = tuple(np.shape(pred))
    if target is not None and tuple(np.shape(target)) != shape:
        raise InputError(f"--target has shape {tuple(np.shape(target))} but --pred has shape {shape}; they must match")
    channels, height, width = _geometry(shape, channels_last)
    read_pred = band_reader(pred, channels_last, float_type)
    read_target = None if target is None else band_reader(target, channels_last, float_type)
    if spec.infer is not None and any(params.get(p.name) is None for p in spec.hyper_params if p.default is None):
        first = np.asarray(pred[:1]) if not isinstance(pred, np.memmap) else read_pred(0, 1)
        params = {**params, **{k: v for k, v in spec.infer(first).items() if params.get(k) is None}}
    hyper = resolve_params(spec, params)
    halo = image.band_halo(spec.name, hyper)
    layout = image.bands(height, channels * width, halo, band_values)
    if spec.name == "ssim":
        window = hyper["window"]
        if window % 2 == 0:
            raise InputError(f"--window must be odd, got {window}")
        if min(height, width) < window:
            raise InputError(
                f"--pred is {height}×{width} pixels, smaller than the {window}×{window} window; "
                "use a smaller --window (odd) or larger images"
            )
    write_grad = None if grad_out is None else _writer(grad_out, shape, channels_last)
    write_map = None  # an image's per-pixel losses (--save-elements), in the user's layout, as in memory
    if outputs.make_pixel_maps is not None:
        outputs.pixel_maps = outputs.make_pixel_maps(shape, float_type)
        write_map = _writer(outputs.pixel_maps, shape, channels_last)

    def inputs(ext_start: int, ext_stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        x = read_pred(ext_start, ext_stop)
        y = None if read_target is None else read_target(ext_start, ext_stop)
        if not allow_nonfinite:
            _require_finite(x, "--pred", ext_start, shape, channels_last)
            if y is not None:
                _require_finite(y, "--target", ext_start, shape, channels_last)
        return x, y

    def pair(ext_start: int, ext_stop: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = inputs(ext_start, ext_stop)
        assert y is not None  # psnr and ssim compare with a target (tiles_image requires one)
        return x, y

    total = ExactSum()
    if spec.name == "tv":
        count = float(channels * height * width)
        scale = 1.0 / count if reduction == "mean" else 1.0
        elements_out = None if outputs.make_elements is None else make_elements(shape, float_type)
        write_elements = None if elements_out is None else _writer(elements_out, shape, channels_last)
        with np.errstate(all="ignore"):
            for start, stop, ext_start, ext_stop in layout:
                x, _ = inputs(ext_start, ext_stop)
                core = slice(start - ext_start, stop - ext_start)
                elements, grad = image.tv_band(
                    x, core, norm=hyper["norm"], eps=hyper["eps"], want_grad=grad_out is not None
                )
                total.add(elements)
                if write_elements is not None:
                    write_elements(start, stop, elements)
                if write_map is not None:
                    write_map(start, stop, elements)
                if grad is not None:
                    assert write_grad is not None  # a gradient is computed only when it is written
                    write_grad(start, stop, np.multiply(grad, float_type(scale)))
        elements_total = total.rounded(float_type)
    elif spec.name in ("psnr", "psnr_loss"):
        count = 1.0
        sign = 1.0 if spec.name == "psnr" else -1.0
        pixels = channels * height * width
        for start, stop, _, _ in layout:
            x, y = pair(start, stop)
            squares = np.square(x - y)
            total.add(squares)
            if write_map is not None:
                write_map(start, stop, squares)
        squared = total.rounded(np.float64)
        if squared == 0.0:
            warnings.warn(
                "--pred equals --target in image 0: MSE = 0, so PSNR is infinite there (its gradient is reported as 0)",
                LossctlWarning,
                stacklevel=2,
            )
        elements_total = float(float_type(sign * image.psnr_from_total(squared, pixels, hyper["data_range"])))
        if outputs.make_elements is not None:
            make_elements((1,), float_type)[:] = elements_total
        if write_grad is not None:
            for start, stop, _, _ in layout:
                x, y = pair(start, stop)
                write_grad(start, stop, (sign * image.psnr_grad_band(x, y, squared, pixels)).astype(float_type))
    else:  # ssim
        count = float(channels)
        r = hyper["window"] // 2
        interior = (height - 2 * r) * (width - 2 * r)
        scale = 1.0 / count if reduction == "mean" else 1.0
        per_channel = [ExactSum() for _ in range(channels)]
        upstream = -1.0 / interior if grad_out is not None else None
        with np.errstate(all="ignore"):
            for start, stop, ext_start, ext_stop in layout:
                x, y = pair(ext_start, ext_stop)
                core = slice(start - ext_start, stop - ext_start)
                summed, grad = image.ssim_band(x, y, core, ext_start, (height, width), hyper, upstream)
                for channel, value in enumerate(summed):
                    per_channel[channel].add(np.array([value]))
                if write_map is not None:
                    write_map(start, stop, image.ssim_pixels_band(x, y, core, hyper))
                if grad is not None:
                    assert write_grad is not None  # a gradient is computed only when it is written
                    write_grad(start, stop, np.multiply(grad, float_type(scale)))
        elements = np.array([1.0 - s.rounded(np.float64) / interior for s in per_channel], dtype=float_type)
        if outputs.make_elements is not None:
            make_elements((1, channels), float_type)[:] = elements
        elements_total = ExactSum().add(elements).rounded(float_type)
    if not allow_nonfinite and spec.finite and not math.isfinite(elements_total):
        raise ComputationError(overflow_message(spec, float_type))
    mean = float(float_type(elements_total / count))
    value = mean if reduction == "mean" else elements_total
    return LossResult(
        loss=spec.name,
        params=hyper,
        reduction=reduction,
        dtype=dtype,
        shape=shape,
        sum=elements_total,
        mean=mean,
        value=float(value),
        count=count,
        divisor=count if reduction == "mean" else 1.0,
        blocks=len(layout),
    )
