"""Image helpers for the image losses: the (N, C, H, W) view and a Gaussian filter with its adjoint.

The filter is SciPy's ``gaussian_filter(mode="reflect")`` written out in NumPy
(separable correlation with half-sample symmetric padding), so that its exact
adjoint — needed for SSIM's gradient — can be written next to it.
"""

from __future__ import annotations

import numpy as np

from lossctl.errors import InputError

Array = np.ndarray
IMAGE_SHAPES = "(H, W), (C, H, W) or (N, C, H, W)"


def as_batch(image: Array) -> Array:
    """A view of ``image`` as (N, C, H, W): (H, W) is one channel of one image, (C, H, W) one image."""
    return image.reshape((1,) * (4 - image.ndim) + image.shape)


def require_image(image: Array, argument: str = "--pred") -> None:
    """Image losses need 2 to 4 axes laid out as PyTorch lays them out."""
    if not 2 <= image.ndim <= 4:
        raise InputError(
            f"{argument} must be an image of shape {IMAGE_SHAPES} (use --channels-last for (…, H, W, C)), "
            f"got shape {tuple(image.shape)}"
        )


def unbroadcast(gradient: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``gradient`` over the axes along which an array of ``shape`` was broadcast."""
    extra = gradient.ndim - len(shape)
    summed = gradient.sum(axis=tuple(range(extra))) if extra > 0 else gradient
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and summed.shape[i] != 1)
    return summed.sum(axis=axes, keepdims=True) if axes else summed


def gaussian_taps(window: int, sigma: float) -> Array:
    """Normalised Gaussian weights at −r … r, r = window // 2 (SciPy's ``gaussian_filter1d`` kernel)."""
    radius = window // 2
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def _correlate_last(x: Array, taps: Array) -> Array:
    radius = len(taps) // 2
    n = x.shape[-1]
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(radius, radius)], mode="symmetric")
    out = taps[0] * padded[..., 0:n]
    for k in range(1, len(taps)):
        out += taps[k] * padded[..., k : k + n]
    return out


def _correlate_last_adjoint(g: Array, taps: Array) -> Array:
    radius = len(taps) // 2
    n = g.shape[-1]
    padded = np.zeros((*g.shape[:-1], n + 2 * radius), dtype=g.dtype)
    for k in range(len(taps)):
        padded[..., k : k + n] += taps[k] * g
    out = padded[..., radius : radius + n].copy()
    if radius:  # the symmetric padding copied x[r-1 … 0] to the left and x[n-1 … n-r] to the right
        out[..., :radius] += padded[..., :radius][..., ::-1]
        out[..., n - radius :] += padded[..., n + radius :][..., ::-1]
    return out


def smooth(x: Array, taps: Array) -> Array:
    """Gaussian filter over the last two axes (H, W), each image and channel on its own."""
    along_w = _correlate_last(x, taps)
    return np.swapaxes(_correlate_last(np.swapaxes(along_w, -1, -2), taps), -1, -2)


def smooth_adjoint(g: Array, taps: Array) -> Array:
    """The transpose of :func:`smooth`: ⟨smooth(x), g⟩ = ⟨x, smooth_adjoint(g)⟩."""
    along_h = np.swapaxes(_correlate_last_adjoint(np.swapaxes(g, -1, -2), taps), -1, -2)
    return _correlate_last_adjoint(along_h, taps)
