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

No tolerance is tighter than the rounding of the type computed in: two correct programs
(PyTorch's kernels and lossctl's) may differ by a few units in the last place, so an answer
copied in full from PyTorch passes. The floor is 8 units in the last place of the computed
dtype (``8 · eps · max(|answer|, |computed|)``: 1.8e-15 relative in float64, 9.5e-7 in float32).
An integer written with a trailing dot (``42.``, as PyTorch prints ``tensor(42.)``) is an
integer; PyTorch's printed form ``tensor(0.6421)`` or ``tensor([[4., 9.], …])`` is read as the
number or array inside.

An answer may be an array (``'[[4,9],[25,4]]'``, ``'4,9;25,4'``): it is compared entry by
entry with the elements (or the gradient for ``--expect-grad``), each entry with the
tolerance of its own typing.  A flat list with as many entries as the array is read in
row-major order; any other shape difference is a ✗ that names both shapes.
"""

from __future__ import annotations

import ast
import math
import os
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
ROUNDING_ULPS = 8  # the floor of every typed tolerance, in units in the last place of the computed dtype
_PRINTED_TENSOR = re.compile(
    r"\s*tensor\((?P<inside>.*?)(?:,\s*(?:dtype|grad_fn|device|requires_grad)=[^()]*(?:\([^()]*\))?[^()]*)*\)\s*", re.S
)
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
            return [_shape_mismatch(self.option, self.compared, self.answer_shape, self.computed_shape)]
        wrong = self.wrong
        return _entry_lines(
            self.option, self.compared, len(self.entries), wrong[:LISTED_WRONG], len(wrong), self.note, digits
        )

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


LISTED_WRONG = 20  # wrong entries listed one per line; the others are counted


def _entry_lines(
    option: str,
    compared: str,
    total: int,
    listed: list[tuple[tuple[int, ...], Verdict]] | tuple[tuple[tuple[int, ...], Verdict], ...],
    wrong: int,
    note: str,
    digits: int,
) -> list[str]:
    """✓ all match, or ✗ how many differ, the first few of them one per line, and how many are right."""
    note = f" {note}" if note else ""
    if not wrong:
        return [f"✓ {option}: all {total:,} entries match the {compared}{note}"]
    lines = [f"✗ {option}: {wrong:,} of {total:,} entries differ from the {compared}{note}"]
    for index, verdict in listed:
        lines.append(
            f"  ✗ {_index(index)} you {verdict._answer_text()}, computed "
            f"{short(verdict.computed, digits)} (difference {short(verdict.difference, 3)}; {verdict.reason})"
        )
    if wrong > len(listed):
        lines.append(f"  … and {wrong - len(listed):,} more wrong entries")
    lines.append(f"{total - wrong:,} of {total:,} entries right")
    return lines


@dataclass(frozen=True)
class CountedArrayVerdict:
    """An array answer checked block by block (large inputs): counts, and the first wrong entries only."""

    option: str
    compared: str
    answer_shape: tuple[int, ...]
    computed_shape: tuple[int, ...]
    total: int = 0
    wrong_count: int = 0
    listed: tuple[tuple[tuple[int, ...], Verdict], ...] = field(default_factory=tuple)
    note: str = ""
    shapes_match: bool = True

    @property
    def ok(self) -> bool:
        return self.shapes_match and self.wrong_count == 0

    @property
    def checks(self) -> int:
        return max(self.total, 1)

    @property
    def right(self) -> int:
        return self.total - self.wrong_count if self.shapes_match else 0

    def lines(self, digits: int = 7) -> list[str]:
        if not self.shapes_match:
            return [_shape_mismatch(self.option, self.compared, self.answer_shape, self.computed_shape)]
        return _entry_lines(self.option, self.compared, self.total, self.listed, self.wrong_count, self.note, digits)

    def describe(self, digits: int = 7) -> str:
        return "\n".join(self.lines(digits))

    def wrong_mask(self) -> None:
        """Large inputs have no table rows to mark."""
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "compared_with": self.compared,
            "shape": list(self.answer_shape),
            "computed_shape": list(self.computed_shape),
            "ok": self.ok,
            "checked": self.total if self.shapes_match else 0,
            "wrong_count": self.wrong_count,
            "wrong": [
                {
                    "index": list(index),
                    "answer": verdict.answer,
                    "computed": verdict.computed,
                    "tolerance": verdict.tolerance,
                    "reason": verdict.reason,
                }
                for index, verdict in self.listed
            ],
        }


def _shape_mismatch(option: str, compared: str, answer: tuple[int, ...], computed: tuple[int, ...]) -> str:
    verb = "have" if compared.endswith("s") else "has"
    return f"✗ {option}: your answer has shape {_shape(answer)} but the {compared} {verb} shape {_shape(computed)}"


AnyVerdict = Verdict | ArrayVerdict | CountedArrayVerdict


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


def unwrap_printed(text: str) -> str:
    """``tensor(0.6421)`` / ``tensor([[4., 9.]], dtype=torch.float64)`` as PyTorch prints them: the inside."""
    match = _PRINTED_TENSOR.fullmatch(text)
    return match.group("inside") if match else text


def parse_answer(text: str, option: str = "--expect") -> Answer:
    """Read one typed answer with the tolerance its typing implies (see the module docstring)."""
    typed = unwrap_printed(text).strip()
    if not typed:
        raise InputError(f"{option}: empty answer; type a number such as 0.64, 4 or 5/12")
    if typed.lower().lstrip("+-") in ("inf", "infinity", "nan", "∞"):
        _finite(math.nan, typed, option)
    if _INTEGER.fullmatch(typed):
        value = _to_float(Fraction(int(typed)) if len(typed) < 4000 else math.inf, typed, option)
        return Answer(typed, value, None, "an integer: exact to 1e-9 relative")
    decimal = _DECIMAL.fullmatch(typed)
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
    stripped = unwrap_printed(text).strip()
    between_numbers = re.search(r"\d\s+(?:[\d.]|[+-]\d)", stripped)
    return stripped.startswith("[") or any(mark in stripped for mark in ",;") or bool(between_numbers)


def parse_answer_array(text: str, option: str) -> tuple[list[Answer], tuple[int, ...]]:
    """Entries (row-major) and the shape of an array answer: nested brackets or rows split by ';'."""
    stripped = unwrap_printed(text).strip()
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


def rounding_floor(answer: float, computed: float, dtype: str = "float64") -> float:
    """8 units in the last place of ``dtype`` at the larger of the two numbers: below this, two correct
    programs may disagree by rounding alone."""
    scale = max(abs(answer), abs(computed)) if math.isfinite(computed) else abs(answer)
    return ROUNDING_ULPS * float(np.finfo(dtype).eps) * scale


def _verdict(answer: Answer, computed: float, tol: float | None, option: str, dtype: str = "float64") -> Verdict:
    if tol is not None:
        return Verdict(answer.value, computed, tol, f"tolerance ±{tol:g} from --tol", answer.text, option)
    typed = answer.tolerance_for(computed)
    floor = rounding_floor(answer.value, computed, dtype)
    if floor > typed:
        reason = f"{answer.reason}, widened to ±{floor:.2g}: {ROUNDING_ULPS} units of {dtype} rounding"
        return Verdict(answer.value, computed, floor, reason, answer.text, option)
    return Verdict(answer.value, computed, typed, answer.reason, answer.text, option)


def check_answer(
    text: str, computed: float, tol: float | None = None, option: str = "--expect", dtype: str = "float64"
) -> Verdict:
    """One typed number against one computed value (``dtype``: what it was computed in)."""
    _check_tol(tol)
    return _verdict(parse_answer(text, option), float(computed), tol, option, dtype)


def check_array(
    text: str,
    computed: np.ndarray,
    tol: float | None = None,
    option: str = "--expect",
    compared: str = "elements",
    context: str = "",
    dtype: str = "float64",
) -> ArrayVerdict | CountedArrayVerdict:
    """An array answer entry by entry; a different shape (other than a flat list of as many) is a ✗."""
    _check_tol(tol)
    if answer_file(text, option) is not None:
        return check_array_blocks(text, computed, tol, option, compared, context, dtype)
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
        (
            tuple(int(i) for i in np.unravel_index(position, computed.shape)),
            _verdict(answer, float(value), tol, option, dtype),
        )
        for position, (answer, value) in enumerate(zip(answers, computed.ravel(), strict=True))
    )
    return ArrayVerdict(option, compared, shape, computed.shape, entries, note)


def check_gradient(
    text: str, grad: np.ndarray, tol: float | None = None, dtype: str = "float64"
) -> ArrayVerdict | CountedArrayVerdict:
    """``--expect-grad``: the gradient entry by entry, each typed number with its own tolerance."""
    return check_array(text, grad, tol, "--expect-grad", "gradient", dtype=dtype)


# ---------------------------------------------------------------------------------------------
# answers in files, and arrays checked block by block

ANSWER_BLOCK = 1 << 16  # entries compared at a time when the answer or the computed array is large


@dataclass(frozen=True)
class AnswerValues:
    """An array answer as numbers: typed (each entry with its own tolerance) or read from a file."""

    values: Any  # array-like; a memory map for a .npy file
    shape: tuple[int, ...]
    typed: tuple[Answer, ...] = ()  # empty for a file
    source: str = ""  # the file's name, for the reason shown

    def reason(self) -> str:
        return f"from {self.source}: to 1e-9 relative"


def answer_file(text: str, option: str) -> Any | None:
    """The array of the file an answer names (a .npy as a memory map); None when the text is typed numbers.

    Typed numbers win, as for ``--pred``: an answer that reads as numbers or an expression is one.
    """
    stripped = text.strip()
    try:
        parse_answer_array(stripped, option)
        return None
    except InputError:
        if not stripped or not os.path.isfile(stripped):
            raise
    from lossctl.io.inputs import read_array

    return read_array(stripped if "/" in stripped else f"./{stripped}", option)


def read_answer(text: str, option: str) -> AnswerValues:
    """An array answer, typed or from a file, with its shape."""
    loaded = answer_file(text, option)
    if loaded is not None:
        return AnswerValues(loaded, tuple(np.shape(loaded)), source=text.strip())
    answers, shape = parse_answer_array(text, option)
    return AnswerValues(np.array([a.value for a in answers], dtype=float), shape, tuple(answers))


def _flat_block(array: Any, start: int, stop: int) -> np.ndarray:
    """Entries [start, stop) of an array in row-major order, as float64; a .npy map read without mapping it in."""
    from lossctl.evaluation.engine import read_rows

    flat = array.reshape(-1) if np.ndim(array) != 1 else array
    return np.asarray(read_rows(flat, slice(start, stop)), dtype=float)


def _allowed(
    answer: np.ndarray, computed: np.ndarray, fixed: np.ndarray | None, tol: float | None, dtype: str
) -> np.ndarray:
    """Each entry's tolerance, as :meth:`Answer.tolerance_for` and :func:`_verdict` give it one at a time
    (never below :func:`rounding_floor`)."""
    if tol is not None:
        return np.full(answer.shape, tol)
    scale = np.where(np.isfinite(computed), np.maximum(np.abs(answer), np.abs(computed)), np.abs(answer))
    relative = np.maximum(RELATIVE * scale, ABSOLUTE_FLOOR)
    typed = relative if fixed is None else np.where(np.isnan(fixed), relative, fixed)
    return np.maximum(typed, ROUNDING_ULPS * float(np.finfo(dtype).eps) * scale)


def check_array_blocks(
    text: str,
    computed: Any,
    tol: float | None = None,
    option: str = "--expect",
    compared: str = "elements",
    context: str = "",
    dtype: str = "float64",
) -> CountedArrayVerdict:
    """An array answer (typed or a file) against a possibly huge array, a block of entries at a time.

    The same rules as :func:`check_array` (a flat list of as many entries is read row by row, each
    typed entry with its own tolerance, a file's entries to 1e-9 relative); memory holds one block,
    and only the first :data:`LISTED_WRONG` wrong entries are kept.
    """
    _check_tol(tol)
    answer = read_answer(text, option)
    shape, computed_shape = answer.shape, tuple(np.shape(computed))
    size = math.prod(computed_shape)
    note = context
    if shape != computed_shape:
        if len(shape) == 1 and shape[0] == size and len(computed_shape) > 1:
            note = " ".join(
                filter(None, [context, f"(your flat list read row by row as shape {_shape(computed_shape)})"])
            )
        elif not (len(computed_shape) == 0 and math.prod(shape) == 1):
            return CountedArrayVerdict(option, compared, shape, computed_shape, shapes_match=False)
    fixed = None
    if answer.typed:
        fixed = np.array([np.nan if a.tolerance is None else a.tolerance for a in answer.typed])
    wrong_count = 0
    listed: list[tuple[tuple[int, ...], Verdict]] = []
    for start in range(0, size, ANSWER_BLOCK):
        stop = min(start + ANSWER_BLOCK, size)
        typed, got = _flat_block(answer.values, start, stop), _flat_block(computed, start, stop)
        allowed = _allowed(typed, got, None if fixed is None else fixed[start:stop], tol, dtype)
        wrong = np.flatnonzero(~(np.abs(typed - got) <= allowed))
        wrong_count += int(wrong.size)
        for position in wrong[: LISTED_WRONG - len(listed)]:
            index = tuple(int(i) for i in np.unravel_index(start + int(position), computed_shape))
            value = float(got[position])
            if answer.typed:
                verdict = _verdict(answer.typed[start + int(position)], value, tol, option, dtype)
            else:
                reason = f"tolerance ±{tol:g} from --tol" if tol is not None else answer.reason()
                verdict = Verdict(float(typed[position]), value, float(allowed[position]), reason, "", option)
            listed.append((index, verdict))
    return CountedArrayVerdict(option, compared, shape, computed_shape, size, wrong_count, tuple(listed), note)


def is_array_answer(text: str, option: str = "--expect") -> bool:
    """Several typed numbers, or the name of a file of numbers (text that reads as one number is one)."""
    if is_array_text(text):
        return True
    try:
        parse_answer(text, option)
    except InputError:
        return os.path.isfile(text.strip())
    return False
