"""One typed answer (``--expect 0.64``) read with the tolerance its typing implies.

Without ``--tol`` the tolerance follows what was typed, and is never wider than
the answer's own precision:

* decimals (``0.64``): half a unit in the last decimal typed, ±0.005;
* scientific notation (``6.42e-1``): half a unit in the last significant digit, ±0.005;
* an integer, no decimal point (``4``, ``0``): the integer itself, to 1e-9 relative;
* a fraction or an expression of numbers (``5/12``, ``(1/2)^2 + 1/8``, ``sqrt(2)/2``,
  ``log(2)``): evaluated by :mod:`lossctl.homework.expressions` (exactly where the
  operations allow it) and compared at 1e-9 relative.

An integer written with a trailing dot (``42.``, as PyTorch prints ``tensor(42.)``) is an
integer; PyTorch's printed form ``tensor(0.6421)`` or ``tensor([[4., 9.], …])`` is read as the
number or array inside.  Typographic look-alikes are read as :mod:`lossctl.io.tables` reads
them in inputs (``−0.5`` with U+2212 is −0.5; a full-width digit is refused by name).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from lossctl.errors import InputError
from lossctl.homework.expressions import as_decimal, evaluate_expression
from lossctl.homework.tolerance import relative_tolerance
from lossctl.io.number_text import plain_ascii_number_text
from lossctl.io.sources import recovered_utf8

# A hair above ½ unit in the last place typed, so that an answer exactly on a rounding boundary
# (0.5 for 0.45 … 0.55) is not refused because of binary floating point.
_SLACK = 1.0 + 1e-9
DECIMAL = re.compile(r"[+-]?(?:(\d+)\.(\d*)|\.(\d+))")
INTEGER = re.compile(r"[+-]?\d+")
_SCIENTIFIC = re.compile(r"[+-]?(\d*)(?:\.(\d*))?[eE][+-]?\d+")
_PRINTED_TENSOR = re.compile(
    r"\s*tensor\((?P<inside>.*?)(?:,\s*(?:dtype|grad_fn|device|requires_grad)=[^()]*(?:\([^()]*\))?[^()]*)*\)\s*", re.S
)


@dataclass(frozen=True)
class Answer:
    """One typed number: its value, the tolerance its typing implies, and why."""

    text: str
    value: float
    tolerance: float | None  # None: relative 1e-9, resolved against the computed value
    reason: str

    def tolerance_for(self, computed: float) -> float:
        if self.tolerance is not None:
            return self.tolerance
        return relative_tolerance(self.value, computed)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _finite(value: float, text: str, option: str) -> float:
    if not math.isfinite(value):
        raise InputError(
            f"{option}: {text.strip()!r} is not a finite number; type the answer you worked out "
            "(decimals, an integer, a fraction such as 5/12)"
        )
    return value


def _to_float(value: Fraction | Decimal, text: str, option: str) -> float:
    """The nearest float64; a value beyond float64's range is refused with its size."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isinf(number):
        magnitude = f"{as_decimal(value):.3e}"
        raise InputError(
            f"{option}: {text.strip()!r} is about {magnitude}, which overflows a float64 (the largest is about "
            "1.8e308); type the answer you worked out"
        )
    return number


def unwrap_printed(text: str) -> str:
    """``tensor(0.6421)`` / ``tensor([[4., 9.]], dtype=torch.float64)`` as PyTorch prints them: the inside."""
    match = _PRINTED_TENSOR.fullmatch(text)
    return match.group("inside") if match else text


def typed_text(text: str, option: str) -> str:
    """An answer as typed, ready to read: UTF-8 whatever the locale, the inside of PyTorch's printed
    ``tensor(…)``, accepted look-alikes in ASCII (a Unicode space between digits refused)."""
    return plain_ascii_number_text(unwrap_printed(recovered_utf8(text)), option).strip()


def parse_answer(text: str, option: str = "--expect") -> Answer:
    """Read one typed answer with the tolerance its typing implies (see the module docstring)."""
    typed = typed_text(text, option)
    if not typed:
        raise InputError(f"{option}: empty answer; type a number such as 0.64, 4 or 5/12")
    if typed.lower().lstrip("+-") in ("inf", "infinity", "nan", "∞"):
        _finite(math.nan, typed, option)
    if INTEGER.fullmatch(typed):
        value = (
            _to_float(Fraction(int(typed)), typed, option) if len(typed) < 4000 else _finite(math.inf, typed, option)
        )
        return Answer(typed, value, None, "an integer: exact to 1e-9 relative")
    decimal = DECIMAL.fullmatch(typed)
    if decimal and decimal.group(1) is not None and not decimal.group(2):  # "42.": PyTorch prints tensor(42.)
        value = _finite(float(typed), typed, option)
        return Answer(typed, value, None, f"an integer (written {typed}): exact to 1e-9 relative")
    if decimal:
        decimals = len(decimal.group(2) if decimal.group(1) is not None else decimal.group(3))
        value = _finite(float(typed), typed, option)
        tolerance = 0.5 * 10.0**-decimals
        return Answer(typed, value, tolerance * _SLACK, f"you typed {_plural(decimals, 'decimal')}: ±{tolerance:g}")
    scientific = _SCIENTIFIC.fullmatch(typed)
    if scientific and (scientific.group(1) or scientific.group(2)):
        value = _finite(float(typed), typed, option)
        digits = len((scientific.group(1) or "").lstrip("0") + (scientific.group(2) or "")) or 1
        mantissa_decimals = len(scientific.group(2) or "")
        exponent = int(typed.lower().split("e")[1])
        tolerance = 0.5 * 10.0 ** (exponent - mantissa_decimals)
        reason = f"you typed {_plural(digits, 'significant digit')}: ±{tolerance:g}"
        return Answer(typed, value, tolerance * _SLACK, reason)
    evaluated = evaluate_expression(typed, option)
    precision = "exact to 1e-9 relative" if evaluated.exact else "to 1e-9 relative"
    return Answer(typed, _to_float(evaluated.value, typed, option), None, f"{evaluated.kind}: {precision}")
