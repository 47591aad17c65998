"""Heat-map PNGs of per-pixel maps (losses, local SSIM, gradients), written with Pillow.

A map of shape (H, W), (C, H, W) or (N, C, H, W) becomes one picture: images
in rows, channels in columns, separated by white gaps.  Losses use viridis
(dark = low, yellow = high, scaled from the map's minimum to its maximum);
gradients, which have a sign, use coolwarm centred on zero (blue < 0 < red).

The picture is readable as it is: the map is enlarged by an integer factor
(nearest neighbour, so each value stays one flat block) until its long side is
at least ``MIN_SIDE`` pixels, and a colour bar on its right is labelled with
the values at its two ends.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

import numpy as np

from lossctl.errors import InputError
from lossctl.io.inputs import IMAGES_EXTRA

if TYPE_CHECKING:  # Pillow is an optional extra, imported where a picture is drawn
    from PIL import Image

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
MIN_SIDE = 256  # the enlarged map's long side reaches at least this many pixels
BAR_GAP, BAR_WIDTH, LABEL_GAP = 8, 16, 4  # white, colour bar, white, then the labels
MIN_BAR_HEIGHT = 128
BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def require_pillow(option: str) -> None:
    """Fail before any work when a .png is asked for and Pillow is missing."""
    try:
        import PIL  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{option}: writing .png heat maps needs Pillow: {IMAGES_EXTRA}") from exc


def mosaic(values: np.ndarray) -> np.ndarray:
    """(H, W), (C, H, W) or (N, C, H, W) laid out as one 2-D array; NaN marks the gaps."""
    batch: np.ndarray = values.reshape((1,) * (4 - values.ndim) + values.shape)
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
    clean = np.where(np.isposinf(canvas), np.nan, canvas)
    t = np.clip(scale(clean, signed), 0.0, 1.0)
    t = np.where(np.isposinf(canvas), 1.0, t)
    rgb = along_colormap(np.nan_to_num(t, nan=0.0), signed)
    rgb[np.isnan(canvas)] = 255
    return rgb


def along_colormap(t: np.ndarray, signed: bool) -> np.ndarray:
    """RGB uint8 colours at positions ``t`` in [0, 1] of the colour map."""
    anchors = COOLWARM if signed else VIRIDIS
    positions = np.linspace(0.0, 1.0, len(anchors))
    rgb: np.ndarray = np.stack([np.interp(t, positions, anchors[:, k]) for k in range(3)], axis=-1)
    rounded: np.ndarray = np.rint(rgb)  # a ufunc on an untyped array is Any to mypy
    return rounded.astype(np.uint8)


def bar_ends(canvas: np.ndarray, signed: bool) -> tuple[float, float]:
    """The values at the bottom and the top of the colour bar (what ``scale`` maps to 0 and 1)."""
    finite = canvas[np.isfinite(canvas)]
    if finite.size == 0:
        return 0.0, 0.0
    if signed:
        reach = float(np.max(np.abs(finite)))
        return -reach, reach
    return float(finite.min()), float(finite.max())


def upscale_factor(height: int, width: int) -> int:
    """The integer zoom that brings the long side to at least MIN_SIDE pixels (1 when it already is)."""
    return max(1, -(-MIN_SIDE // max(height, width)))


def colour_bar(height: int, signed: bool) -> np.ndarray:
    """An (height, BAR_WIDTH, 3) bar: the top of the colour map at the top."""
    t = np.linspace(1.0, 0.0, height)[:, None] * np.ones((1, BAR_WIDTH))
    return along_colormap(t, signed)


def picture(values: np.ndarray, signed: bool) -> Image.Image:
    """The heat map as a Pillow image: the enlarged map, its colour bar and the bar's end values."""
    from PIL import Image, ImageDraw

    from lossctl.numbers import short

    canvas = mosaic(np.asarray(values, dtype=np.float64))
    factor = upscale_factor(*canvas.shape)
    rgb = np.repeat(np.repeat(colour(canvas, signed), factor, axis=0), factor, axis=1)
    height, width = rgb.shape[:2]
    low, high = bar_ends(canvas, signed)
    labels = short(high, 4), short(low, 4)
    font = ImageDraw.ImageDraw(Image.new("RGB", (1, 1))).getfont()
    text_width = max(int(np.ceil(font.getlength(label))) for label in labels)
    bar_height = max(height, MIN_BAR_HEIGHT)
    total = np.full((bar_height, width + BAR_GAP + BAR_WIDTH + LABEL_GAP + text_width + 2, 3), 255, np.uint8)
    total[:height, :width] = rgb
    left = width + BAR_GAP
    total[:, left : left + BAR_WIDTH] = colour_bar(bar_height, signed)
    image = Image.fromarray(total)
    draw = ImageDraw.Draw(image)
    text_left = left + BAR_WIDTH + LABEL_GAP
    draw.text((text_left, 0), labels[0], fill=BLACK, font=font)
    bottom = bar_height - (font.getbbox(labels[1])[3] + 1)
    draw.text((text_left, bottom), labels[1], fill=BLACK, font=font)
    return image


def write_heatmap(stream: IO[bytes], values: np.ndarray, option: str, *, signed: bool) -> None:
    """Write ``values`` as a PNG heat map (enlarged, with a labelled colour bar) to an open binary stream."""
    if values.ndim < 2 or values.ndim > 4:
        raise InputError(
            f"{option}: a .png heat map needs a 2-D to 4-D map, these values have shape {tuple(values.shape)}; "
            "use .npy or .csv"
        )
    picture(values, signed).save(stream, "PNG")
