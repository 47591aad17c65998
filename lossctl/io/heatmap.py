"""Heat-map PNGs of per-pixel maps (losses, local SSIM, gradients), written with Pillow.

A map of shape (H, W), (C, H, W) or (N, C, H, W) becomes one picture: images
in rows, channels in columns, separated by white gaps.  Losses use viridis
(dark = low, yellow = high, scaled from the map's minimum to its maximum);
gradients, which have a sign, use coolwarm centred on zero (blue < 0 < red).
"""

from __future__ import annotations

from typing import IO

import numpy as np

from lossctl.errors import InputError
from lossctl.io.inputs import IMAGES_EXTRA

# matplotlib's colormaps sampled at equal steps (viridis at 0, 1/8, …, 1; coolwarm at 0, 1/4, …, 1)
VIRIDIS = np.array(
    [
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (40, 174, 128),
        (94, 201, 98),
        (173, 220, 48),
        (253, 231, 37),
    ],
    dtype=np.float64,
)
COOLWARM = np.array([(59, 76, 192), (141, 176, 254), (221, 220, 220), (244, 152, 122), (180, 4, 38)], dtype=np.float64)
GAP = 2  # white pixels between tiles


def require_pillow(option: str) -> None:
    """Fail before any work when a .png is asked for and Pillow is missing."""
    try:
        import PIL  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{option}: writing .png heat maps needs Pillow: {IMAGES_EXTRA}") from exc


def mosaic(values: np.ndarray) -> np.ndarray:
    """(H, W), (C, H, W) or (N, C, H, W) laid out as one 2-D array; NaN marks the gaps."""
    batch = values.reshape((1,) * (4 - values.ndim) + values.shape)
    n, c, h, w = batch.shape
    canvas = np.full((n * h + (n - 1) * GAP, c * w + (c - 1) * GAP), np.nan)
    for i in range(n):
        for j in range(c):
            canvas[i * (h + GAP) : i * (h + GAP) + h, j * (w + GAP) : j * (w + GAP) + w] = batch[i, j]
    return canvas


def scale(canvas: np.ndarray, signed: bool) -> np.ndarray:
    """Positions in [0, 1] along the colormap."""
    finite = canvas[np.isfinite(canvas)]
    if finite.size == 0:
        return np.full(canvas.shape, 0.5)
    if signed:
        reach = float(np.max(np.abs(finite)))
        return np.full(canvas.shape, 0.5) if reach == 0 else 0.5 + 0.5 * canvas / reach
    low, high = float(finite.min()), float(finite.max())
    return np.zeros(canvas.shape) if high == low else (canvas - low) / (high - low)


def colour(canvas: np.ndarray, signed: bool) -> np.ndarray:
    """An (h, w, 3) uint8 RGB picture of ``canvas``; gaps (NaN) are white, +inf is the top colour."""
    anchors = COOLWARM if signed else VIRIDIS
    positions = np.linspace(0.0, 1.0, len(anchors))
    clean = np.where(np.isposinf(canvas), np.nan, canvas)
    t = np.clip(scale(clean, signed), 0.0, 1.0)
    t = np.where(np.isposinf(canvas), 1.0, t)
    rgb = np.stack([np.interp(t, positions, anchors[:, k]) for k in range(3)], axis=-1)
    rgb[np.isnan(canvas)] = 255.0
    return np.rint(rgb).astype(np.uint8)


def write_heatmap(stream: IO[bytes], values: np.ndarray, option: str, *, signed: bool) -> None:
    """Write ``values`` as a PNG heat map to an open binary stream."""
    if values.ndim < 2 or values.ndim > 4:
        raise InputError(
            f"{option}: a .png heat map needs a 2-D to 4-D map, these values have shape {tuple(values.shape)}; "
            "use .npy or .csv"
        )
    from PIL import Image

    Image.fromarray(colour(mosaic(np.asarray(values, dtype=np.float64)), signed), mode="RGB").save(stream, "PNG")
