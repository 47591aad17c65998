"""One-variable views of a loss for ``lossctl plot``: the x grid mapped to (pred, target, tensors)."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def true_class_margin(x: Array) -> tuple[Array, Array, dict[str, Array]]:
    """Two classes, scores [x, 0], true class 0: x is the true class's lead over the other."""
    return np.stack([x, np.zeros_like(x)], axis=1), np.zeros(x.shape), {}


def positive_label(x: Array) -> tuple[Array, Array, dict[str, Array]]:
    """x is the logit or score of an example whose label is 1."""
    return x, np.ones_like(x), {}
