"""``--expect`` and ``--expect-grad``: check a student's answer against the computed numbers.

Without ``--tol`` the tolerance follows what was typed, and is never wider than
the answer's own precision:

* decimals (``0.64``): half a unit in the last decimal typed, ±0.005;
* scientific notation (``6.42e-1``): half a unit in the last significant digit, ±0.005;
* an integer, no decimal point (``4``, ``0``): the integer itself, to 1e-9 relative;
* a fraction or an expression of numbers (``5/12``, ``(1/2)^2 + 1/8``, ``sqrt(2)/2``,
  ``log(2)``): evaluated exactly with :class:`fractions.Fraction` where the operations
  allow it (``+ - * /``, ``**`` or ``^`` with an integer power, parentheses), in float64
  for ``sqrt``, ``log``, ``exp`` and the constants ``e`` and ``pi``; compared at 1e-9
  relative.  The text is parsed with :mod:`ast` against a whitelist of node types; it is
  never evaluated as Python.

"Relative 1e-9" is ``1e-9 · max(|answer|, |computed|)``, with a floor of 1e-12 so that an
answer of exactly 0 accepts a computed value that is zero up to float64 rounding.

An answer may be an array (``'[[4,9],[25,4]]'``, ``'4,9;25,4'``): it is compared entry by
entry with the elements (or the gradient for ``--expect-grad``), each entry with the
tolerance of its own typing.  A flat list with as many entries as the array is read in
row-major order; any other shape difference is a ✗ that names both shapes.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.numbers import short

RELATIVE = 1e-9
ABSOLUTE_FLOOR = 1e-12
# A hair above ½ unit in the last place typed, so that an answer exactly on a rounding boundary
# (0.5 for 0.45 … 0.55) is not refused because of binary floating point.
_SLACK = 1.0 + 1e-9
_DECIMAL = re.compile(r"[+-]?(?:(\d+)\.(\d*)|\.(\d+))")
_INTEGER = re.compile(r"[+-]?\d+")
_SCIENTIFIC = re.compile(r"[+-]?(\d*)(?:\.(\d*))?[eE][+-]?\d+")
_MAX_POWER_BITS = 200_000  # an exact power larger than this is refused as absurd
_FUNCTIONS: dict[str, Callable[[float], float]] = {"sqrt": math.sqrt, "log": math.log, "ln": math.log, "exp": math.exp}
_CONSTANTS = {"e": math.e, "pi": math.pi, "π": math.pi}


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
        scale = max(abs(self.value), abs(computed)) if math.isfinite(computed) else abs(self.value)
        return max(RELATIVE * scale, ABSOLUTE_FLOOR)


@dataclass(frozen=True)
class Verdict:
    """One number checked: the answer typed, the computed value, the tolerance and its reason."""

    answer: float
    computed: float
    tolerance: float
    reason: str = ""
    text: str = ""
    option: str = "--expect"

    @property
    def difference(self) -> float:
        return abs(self.answer - self.computed)

    @property
    def ok(self) -> bool:
        return self.difference <= self.tolerance

    def _answer_text(self) -> str:
        typed = self.text.strip()
        number = short(self.answer, 12)
        if not typed or typed == number or _DECIMAL.fullmatch(typed) or _INTEGER.fullmatch(typed):
            return typed or number
        return f"{typed} (= {short(self.answer, 12)})"

    def describe(self, digits: int = 7) -> str:
        mark = "✓" if self.ok else "✗"
        relation = "matches" if self.ok else "differs from"
        return (
            f"{mark} your answer {self._answer_text()} {relation} the computed {short(self.computed, digits)} "
            f"(difference {short(self.difference, 3)}; {self.reason})"
        )

    def lines(self, digits: int = 7) -> list[str]:
        return [self.describe(digits)]

    @property
    def checks(self) -> int:
        return 1

    @property
    def right(self) -> int:
        return int(self.ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "answer": self.answer,
            "computed": self.computed,
            "difference": self.difference,
            "tolerance": self.tolerance,
            "reason": self.reason,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ArrayVerdict:
    """An array answer checked entry by entry against ``compared`` (the elements or the gradient)."""

    option: str
    compared: str  # "elements" or "gradient"
    answer_shape: tuple[int, ...]
    computed_shape: tuple[int, ...]
    entries: tuple[tuple[tuple[int, ...], Verdict], ...] = field(default_factory=tuple)
    note: str = ""

    @property
    def shapes_match(self) -> bool:
        return bool(self.entries) or self.answer_shape == self.computed_shape

    @property
    def wrong(self) -> list[tuple[tuple[int, ...], Verdict]]:
        return [(index, verdict) for index, verdict in self.entries if not verdict.ok]

    @property
    def ok(self) -> bool:
        return self.shapes_match and not self.wrong

    @property
    def checks(self) -> int:
        return max(len(self.entries), 1)

    @property
    def right(self) -> int:
        return len(self.entries) - len(self.wrong) if self.shapes_match else 0

    def lines(self, digits: int = 7) -> list[str]:
        if not self.shapes_match:
            return [
                f"✗ {self.option}: your answer has shape {_shape(self.answer_shape)} but the {self.compared} "
                f"{'have' if self.compared.endswith('s') else 'has'} shape {_shape(self.computed_shape)}"
            ]
        total = len(self.entries)
        note = f" {self.note}" if self.note else ""
        if self.ok:
            return [f"✓ {self.option}: all {total} entries match the {self.compared}{note}"]
        lines = [f"✗ {self.option}: {len(self.wrong)} of {total} entries differ from the {self.compared}{note}"]
        for index, verdict in self.wrong:
            lines.append(
                f"  ✗ {_index(index)} you {verdict._answer_text()}, computed "
                f"{short(verdict.computed, digits)} (difference {short(verdict.difference, 3)}; {verdict.reason})"
            )
        lines.append(f"{self.right} of {total} entries right")
        return lines

    def describe(self, digits: int = 7) -> str:
        return "\n".join(self.lines(digits))

    def wrong_mask(self) -> np.ndarray | None:
        """True where an entry is wrong, in the computed shape (None when the shapes differ)."""
        if not self.shapes_match:
            return None
        mask = np.zeros(self.computed_shape, dtype=bool)
        for index, verdict in self.entries:
            mask[index] = not verdict.ok
        return mask

    def as_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "compared_with": self.compared,
            "shape": list(self.answer_shape),
            "computed_shape": list(self.computed_shape),
            "ok": self.ok,
            "checked": len(self.entries),
            "wrong": [
                {
                    "index": list(index),
                    "answer": verdict.answer,
                    "computed": verdict.computed,
                    "tolerance": verdict.tolerance,
                    "reason": verdict.reason,
                }
                for index, verdict in self.wrong
            ],
        }


AnyVerdict = Verdict | ArrayVerdict


def _index(index: tuple[int, ...]) -> str:
    """As the table's index column writes it: ``3`` for vectors, ``(1, 0)`` for higher ranks."""
    return str(index[0]) if len(index) == 1 else "(" + ", ".join(map(str, index)) + ")"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------------
# reading one typed number


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _finite(value: float, text: str, option: str) -> float:
    if not math.isfinite(value):
        raise InputError(
            f"{option}: {text.strip()!r} is not a finite number; type the answer you worked out "
            "(decimals, an integer, a fraction such as 5/12)"
        )
    return value


def _to_float(value: Fraction | float, text: str, option: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    return _finite(number, text, option)


def parse_answer(text: str, option: str = "--expect") -> Answer:
    """Read one typed answer with the tolerance its typing implies (see the module docstring)."""
    typed = text.strip()
    if not typed:
        raise InputError(f"{option}: empty answer; type a number such as 0.64, 4 or 5/12")
    if typed.lower().lstrip("+-") in ("inf", "infinity", "nan", "∞"):
        _finite(math.nan, typed, option)
    if _INTEGER.fullmatch(typed):
        value = _to_float(Fraction(int(typed)) if len(typed) < 4000 else math.inf, typed, option)
        return Answer(typed, value, None, "an integer: exact to 1e-9 relative")
    decimal = _DECIMAL.fullmatch(typed)
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
    evaluated, exact, kind = _evaluate(typed, option)
    precision = "exact to 1e-9 relative" if exact else "to 1e-9 relative"
    return Answer(typed, _to_float(evaluated, typed, option), None, f"{kind}: {precision}")


def _evaluate(text: str, option: str) -> tuple[Fraction | float, bool, str]:
    """A fraction or simple expression: (value, whether it is exact, 'a fraction' | 'an expression')."""
    source = text.replace("^", "**").replace("√", "sqrt").replace("−", "-")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise InputError(f"{option}: {text!r} is not a number; type e.g. 0.64, 4, 5/12 or (1/2)^2") from exc
    evaluator = _Evaluator(source, text, option)
    value = evaluator.visit(tree.body)
    body = tree.body
    is_fraction = (
        isinstance(body, ast.BinOp)
        and isinstance(body.op, ast.Div)
        and all(_is_plain_number(side) for side in (body.left, body.right))
    )
    return value, evaluator.exact, "a fraction" if is_fraction else "an expression"


def _is_plain_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant)


class _Evaluator:
    """Walk a parsed expression, allowing only numbers, + - * / **, sqrt/log/exp, e and pi."""

    def __init__(self, source: str, text: str, option: str) -> None:
        self.source, self.text, self.option = source, text, option
        self.exact = True

    def refuse(self, why: str) -> InputError:
        return InputError(f"{self.option}: {self.text!r}: {why}; type a number or an expression of numbers")

    def visit(self, node: ast.AST) -> Fraction | float:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            operand = self.visit(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
            return self.binary(node.op, self.visit(node.left), self.visit(node.right))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            self.exact = False
            return _CONSTANTS[node.id]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            argument = float(self.visit(node.args[0]))
            self.exact = False
            try:
                return _FUNCTIONS[node.func.id](argument)
            except (ValueError, OverflowError) as exc:
                raise self.refuse(f"{node.func.id}({short(argument)}) is undefined") from exc
        raise self.refuse("only numbers, + - * / ^ ( ), sqrt, log, exp, e and pi are understood")

    def constant(self, node: ast.Constant) -> Fraction:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.refuse("only numbers, + - * / ^ ( ), sqrt, log, exp, e and pi are understood")
        segment = ast.get_source_segment(self.source, node) or repr(node.value)
        try:
            return Fraction(segment.replace("_", ""))
        except (ValueError, ZeroDivisionError) as exc:
            raise self.refuse(f"{segment!r} is not a number") from exc

    def binary(self, op: ast.operator, left: Fraction | float, right: Fraction | float) -> Fraction | float:
        try:
            if isinstance(op, ast.Add):
                return left + right
            if isinstance(op, ast.Sub):
                return left - right
            if isinstance(op, ast.Mult):
                return left * right
            if isinstance(op, ast.Div):
                return left / right
            return self.power(left, right)
        except ZeroDivisionError as exc:
            raise self.refuse("division by zero") from exc
        except OverflowError as exc:
            raise self.refuse("the number is too large") from exc

    def power(self, base: Fraction | float, exponent: Fraction | float) -> Fraction | float:
        if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
            bits = max(base.numerator.bit_length(), base.denominator.bit_length(), 1) * abs(exponent.numerator)
            if bits > _MAX_POWER_BITS:
                raise self.refuse("the number is absurdly large")
            return base**exponent.numerator
        self.exact = False
        result = float(base) ** float(exponent)
        if isinstance(result, complex):
            raise self.refuse("a negative number to a fractional power")
        return result


# ---------------------------------------------------------------------------------------------
# arrays of typed numbers


def is_array_text(text: str) -> bool:
    """An answer holding several numbers: brackets, commas, semicolons or spaces between numbers."""
    stripped = text.strip()
    between_numbers = re.search(r"\d\s+(?:[\d.]|[+-]\d)", stripped)
    return stripped.startswith("[") or any(mark in stripped for mark in ",;") or bool(between_numbers)


def parse_answer_array(text: str, option: str) -> tuple[list[Answer], tuple[int, ...]]:
    """Entries (row-major) and the shape of an array answer: nested brackets or rows split by ';'."""
    stripped = text.strip()
    if not is_array_text(stripped):
        return [parse_answer(stripped, option)], ()
    if stripped.startswith("["):
        nested = _parse_brackets(stripped, option)
    elif ";" in stripped:
        nested = [_split_row(row) for row in stripped.split(";") if row.strip()]
    else:
        nested = _split_row(stripped)
    shape = _nested_shape(nested, option)
    flat = list(_flatten(nested))
    if not flat:
        raise InputError(f"{option}: the answer holds no number")
    return [parse_answer(token, option) for token in flat], shape


def _split_row(row: str) -> list[str]:
    return [token for token in re.split(r"[,\s]+", row.strip()) if token]


def _parse_brackets(text: str, option: str) -> list[Any]:
    """Nested ``[...]`` lists of number texts, kept as typed (their tolerance depends on it)."""
    stack: list[list[Any]] = []
    root: list[Any] | None = None
    token = ""
    for char in text:
        if char == "[":
            child: list[Any] = []
            if stack:
                stack[-1].append(child)
            elif root is not None:
                raise InputError(f"{option}: text after the closing ']'")
            else:
                root = child
            stack.append(child)
        elif char in ",]" or char.isspace():
            if token.strip():
                if not stack:
                    raise InputError(f"{option}: {token!r} outside the brackets")
                stack[-1].append(token.strip())
            token = ""
            if char == "]":
                if not stack:
                    raise InputError(f"{option}: unbalanced ']'")
                stack.pop()
        else:
            if not stack:
                raise InputError(f"{option}: text outside the brackets")
            token += char
    if stack or root is None:
        raise InputError(f"{option}: unbalanced '['")
    return root


def _nested_shape(nested: Any, option: str) -> tuple[int, ...]:
    if not isinstance(nested, list):
        return ()
    shapes = {_nested_shape(item, option) for item in nested}
    if len(shapes) > 1:
        raise InputError(f"{option}: rows of different lengths; every row needs the same number of entries")
    return (len(nested), *(shapes.pop() if shapes else ()))


def _flatten(nested: Any) -> Any:
    if isinstance(nested, list):
        for item in nested:
            yield from _flatten(item)
    else:
        yield nested


# ---------------------------------------------------------------------------------------------
# checks


def _check_tol(tol: float | None) -> None:
    if tol is not None and (not math.isfinite(tol) or tol < 0):
        raise InputError(f"--tol must be a finite number ≥ 0, got {tol}")


def _verdict(answer: Answer, computed: float, tol: float | None, option: str) -> Verdict:
    if tol is not None:
        return Verdict(answer.value, computed, tol, f"tolerance ±{tol:g} from --tol", answer.text, option)
    return Verdict(answer.value, computed, answer.tolerance_for(computed), answer.reason, answer.text, option)


def check_answer(text: str, computed: float, tol: float | None = None, option: str = "--expect") -> Verdict:
    """One typed number against one computed value."""
    _check_tol(tol)
    return _verdict(parse_answer(text, option), float(computed), tol, option)


def check_array(
    text: str,
    computed: np.ndarray,
    tol: float | None = None,
    option: str = "--expect",
    compared: str = "elements",
    context: str = "",
) -> ArrayVerdict:
    """An array answer entry by entry; a different shape (other than a flat list of as many) is a ✗."""
    _check_tol(tol)
    answers, shape = parse_answer_array(text, option)
    computed = np.asarray(computed, dtype=float)
    note = context
    if shape != computed.shape:
        if len(shape) == 1 and len(answers) == computed.size and computed.ndim > 1:
            note = " ".join(
                filter(None, [context, f"(your flat list read row by row as shape {_shape(computed.shape)})"])
            )
        elif computed.ndim == 0 and len(answers) == 1:
            pass
        else:
            return ArrayVerdict(option, compared, shape, computed.shape)
    entries = tuple(
        (tuple(int(i) for i in np.unravel_index(position, computed.shape)), _verdict(answer, float(value), tol, option))
        for position, (answer, value) in enumerate(zip(answers, computed.ravel(), strict=True))
    )
    return ArrayVerdict(option, compared, shape, computed.shape, entries, note)


def check_gradient(text: str, grad: np.ndarray, tol: float | None = None) -> ArrayVerdict:
    """``--expect-grad``: the gradient entry by entry, each typed number with its own tolerance."""
    return check_array(text, grad, tol, "--expect-grad", "gradient")
