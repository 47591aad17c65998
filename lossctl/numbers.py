"""How numbers are written: full round-trip precision for machines, N digits for people."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def full(value: float) -> str:
    """Shortest text that reads back as exactly the same float64 (``repr``)."""
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return repr(number + 0.0)  # + 0.0 turns -0.0 into 0.0


def short(value: float, digits: int = 6) -> str:
    """``digits`` significant digits, trailing zeros dropped: 4 not 4.000000."""
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return full(number)
    text = f"{number:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def short_array(values: Any, digits: int = 6) -> str:
    """A small array as ``[0.1, 0.9]`` (nested for matrices)."""
    array = np.asarray(values)
    if array.ndim == 0:
        return short(float(array), digits)
    return "[" + ", ".join(short_array(item, digits) for item in array) + "]"


def jsonable(values: Any) -> Any:
    """Plain Python numbers and lists; JSON has no NaN or infinity: NaN is null, ±inf the strings "inf", "-inf"."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, list):
        return [jsonable(item) for item in values]
    if isinstance(values, dict):
        return {key: jsonable(item) for key, item in values.items()}
    if isinstance(values, float) and math.isinf(values):
        return full(values)
    if isinstance(values, float) and math.isnan(values):
        return None
    if isinstance(values, float):
        return values + 0.0
    return values
