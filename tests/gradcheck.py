"""Central finite differences, independent of every analytic gradient in lossctl."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_gradient(function: Callable[[np.ndarray], float], point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, each coordinate with a step relative to its size."""
    point = np.array(point, dtype=np.float64)
    gradient = np.zeros_like(point)
    flat = point.reshape(-1)
    out = gradient.reshape(-1)
    for i in range(flat.size):
        h = step * max(1.0, abs(flat[i]))
        saved = flat[i]
        flat[i] = saved + h
        upper = function(point)
        flat[i] = saved - h
        lower = function(point)
        flat[i] = saved
        out[i] = (upper - lower) / (2.0 * h)
    return gradient
