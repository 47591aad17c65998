"""How far a typed answer may be from the computed value.

"Relative 1e-9" is ``1e-9 · max(|answer|, |computed|)``, with a floor of 1e-12 so that an
answer of exactly 0 accepts a computed value that is zero up to float64 rounding.

No tolerance is tighter than the rounding of the type computed in: two correct programs
(PyTorch's kernels and lossctl's) may differ by a few units in the last place, so an answer
copied in full from PyTorch passes. The floor is 8 units in the last place of the computed
dtype (``8 · eps · max(|answer|, |computed|)``: 1.8e-15 relative in float64, 9.5e-7 in float32).
"""

from __future__ import annotations

import math

import numpy as np

from lossctl.errors import InputError

RELATIVE = 1e-9
ABSOLUTE_FLOOR = 1e-12
ROUNDING_ULPS = 8  # the floor of every typed tolerance, in units in the last place of the computed dtype


def _scale(answer: float, computed: float) -> float:
    """The larger magnitude of the two (the answer's alone when the computed value is not finite)."""
    return max(abs(answer), abs(computed)) if math.isfinite(computed) else abs(answer)


def relative_tolerance(answer: float, computed: float) -> float:
    """1e-9 relative to the larger of the two numbers, never below 1e-12."""
    return max(RELATIVE * _scale(answer, computed), ABSOLUTE_FLOOR)


def rounding_floor(answer: float, computed: float, dtype: str = "float64") -> float:
    """8 units in the last place of ``dtype`` at the larger of the two numbers: below this, two correct
    programs may disagree by rounding alone."""
    return ROUNDING_ULPS * float(np.finfo(dtype).eps) * _scale(answer, computed)


def check_tol(tol: float | None) -> None:
    """``--tol``: a finite number ≥ 0 (or not given)."""
    if tol is not None and (not math.isfinite(tol) or tol < 0):
        raise InputError(f"--tol must be a finite number ≥ 0, got {tol}")


def allowed_differences(
    answer: np.ndarray, computed: np.ndarray, typed: np.ndarray | None, tol: float | None, dtype: str
) -> np.ndarray:
    """Each entry's tolerance, vectorised: ``--tol`` when given, else the typed tolerance (NaN in ``typed``,
    or no ``typed`` at all: relative 1e-9), never below :func:`rounding_floor`."""
    if tol is not None:
        return np.full(answer.shape, tol)
    scale = np.where(np.isfinite(computed), np.maximum(np.abs(answer), np.abs(computed)), np.abs(answer))
    relative = np.maximum(RELATIVE * scale, ABSOLUTE_FLOOR)
    chosen = relative if typed is None else np.where(np.isnan(typed), relative, typed)
    return np.maximum(chosen, ROUNDING_ULPS * float(np.finfo(dtype).eps) * scale)
