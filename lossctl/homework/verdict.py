"""``--expect``: check a student's answer against the computed value.

Without ``--tol`` the tolerance follows the digits typed: an answer written
with d decimals is right when it equals the value rounded to d decimals,
i.e. |answer − value| ≤ ½·10^(−d) (scaled by any exponent typed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from lossctl.errors import InputError
from lossctl.numbers import short

_ANSWER = re.compile(r"\s*[+-]?(?:\d+\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?\s*")
# A hair above ½ unit in the last place typed, so that an answer exactly on a rounding boundary
# (0.5 for 0.45 … 0.55) is not refused because of binary floating point.
_SLACK = 1.0 + 1e-9


@dataclass(frozen=True)
class Verdict:
    answer: float
    computed: float
    tolerance: float

    @property
    def difference(self) -> float:
        return abs(self.answer - self.computed)

    @property
    def ok(self) -> bool:
        return self.difference <= self.tolerance

    def describe(self, digits: int = 7) -> str:
        mark = "✓" if self.ok else "✗"
        relation = "matches" if self.ok else "differs from"
        return (
            f"{mark} your answer {short(self.answer, 12)} {relation} the computed {short(self.computed, digits)} "
            f"(difference {short(self.difference, 3)}, tolerance {short(self.tolerance, 3)})"
        )

    def as_dict(self) -> dict[str, float | bool]:
        return {
            "answer": self.answer,
            "computed": self.computed,
            "difference": self.difference,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


def typed_tolerance(text: str) -> float:
    """½ unit in the last digit typed: '0.64' → 0.005, '4' → 0.5, '1.5e-3' → 5e-5."""
    match = _ANSWER.fullmatch(text)
    if match is None:
        raise InputError(f"--expect: {text.strip()!r} is not a number")
    decimals = len(match.group(1) or match.group(2) or "")
    exponent = int(match.group(3) or 0)
    return 0.5 * 10.0 ** (exponent - decimals) * _SLACK


def check_answer(text: str, computed: float, tol: float | None = None, option: str = "--expect") -> Verdict:
    tolerance = typed_tolerance(text) if tol is None else tol
    if tol is not None and (not math.isfinite(tol) or tol < 0):
        raise InputError(f"--tol must be a number ≥ 0, got {tol}")
    try:
        answer = float(text)
    except ValueError as exc:
        raise InputError(f"{option}: {text.strip()!r} is not a number") from exc
    return Verdict(answer, float(computed), tolerance)


def check_gradient(text: str, grad: np.ndarray, tol: float | None = None) -> list[Verdict]:
    """One verdict per gradient entry; each typed number carries its own tolerance."""
    tokens = [t for t in re.split(r"[\s,;\[\]]+", text) if t]
    if len(tokens) != grad.size:
        raise InputError(
            f"--expect-grad has {len(tokens)} values but the gradient has {grad.size} (shape {grad.shape})"
        )
    pairs = zip(tokens, grad.ravel(), strict=True)
    return [check_answer(token, value, tol, "--expect-grad") for token, value in pairs]
