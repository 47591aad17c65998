"""Per-image rows for image losses: one row per image and channel, not one per pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossctl.evaluation.result import LossResult
from lossctl.losses._filters import as_batch


@dataclass(frozen=True)
class ImageRow:
    """One image (and channel): its loss and the size of its share of the gradient."""

    image: str
    channel: str
    loss: float
    grad_norm: float


def image_rows(result: LossResult) -> list[ImageRow]:
    """Rows at the grain of the elements: per image and channel (TV, SSIM), per image (PSNR, Dice)."""
    grad = as_batch(result.arrays().grad)
    n, c = grad.shape[:2]
    elements = result.arrays().elements
    if elements.shape == result.arrays().pred.shape:  # per-pixel terms: sum each image and channel
        per_channel = as_batch(elements).sum(axis=(2, 3))
    elif elements.shape == (n, c):
        per_channel = elements
    else:
        per_channel = None
    if per_channel is not None:
        norms = np.sqrt(np.sum(grad * grad, axis=(2, 3)))
        return [
            ImageRow(str(i), str(j), float(per_channel[i, j]), float(norms[i, j])) for i in range(n) for j in range(c)
        ]
    if elements.size == n:  # one score per image
        norms = np.sqrt(np.sum(grad * grad, axis=(1, 2, 3)))
        return [ImageRow(str(i), "all", float(elements[i]), float(norms[i])) for i in range(n)]
    return [ImageRow("all", "all", float(np.sum(elements)), float(np.linalg.norm(grad)))]
