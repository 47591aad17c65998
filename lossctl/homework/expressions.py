"""Typed expressions such as ``5/12``, ``(1/2)^2 + 1/8``, ``sqrt(2)/2`` or ``exp(1000)/exp(999)``, evaluated safely.

The text is parsed with :mod:`ast` against a whitelist of node types; it is never evaluated as Python.
``+ - * /``, ``**`` or ``^`` with an integer power and parentheses are exact (:class:`fractions.Fraction`);
``sqrt``, ``log`` (``ln``), ``exp``, non-integer powers and the constants ``e`` and ``pi`` are evaluated with
:mod:`decimal` to 40 significant digits and an exponent range far wider than float64's, so that an
intermediate value a float64 cannot hold (``exp(1000)``) does not spoil a result it can
(``exp(1000)/exp(1000)`` is 1).  Only the final value must fit in a float64.  ``√2`` is ``sqrt(2)`` and
``2√2`` is ``2*sqrt(2)``.
"""

from __future__ import annotations

import ast
import decimal
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from lossctl.errors import InputError
from lossctl.io.number_text import look_alike_hint
from lossctl.io.sources import quoted
from lossctl.numbers import short

Value = Fraction | Decimal

_MAX_POWER_BITS = 200_000  # an exact power larger than this is refused as absurd
_CONTEXT = decimal.Context(
    prec=40,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.Overflow, decimal.InvalidOperation, decimal.DivisionByZero],
)
_PI = Decimal("3.141592653589793238462643383279502884197169399375105820974944592")
_FUNCTIONS: dict[str, Callable[[Decimal], Decimal]] = {
    "sqrt": lambda x: x.sqrt(_CONTEXT),
    "log": lambda x: x.ln(_CONTEXT),
    "ln": lambda x: x.ln(_CONTEXT),
    "exp": lambda x: x.exp(_CONTEXT),
}
_CONSTANTS: dict[str, Callable[[], Decimal]] = {
    "e": lambda: Decimal(1).exp(_CONTEXT),
    "pi": lambda: +_PI,
    "π": lambda: +_PI,
}
_IMPLICIT_TIMES_ROOT = re.compile(r"(?<=[\d)])\s*√")  # 2√2 is 2·√2
_ROOT_OF_NUMBER = re.compile(r"√\s*(\d+\.?\d*|\.\d+|pi|π|e)(?![\w.(])")  # √2 is √(2)
_UNDERSTOOD = "only numbers, + - * / ^ ( ), sqrt, log, exp, e and pi are understood"


@dataclass(frozen=True)
class Evaluated:
    """An expression's value, whether it is exact, and what it is (``a fraction`` or ``an expression``)."""

    value: Value
    exact: bool
    kind: str


def evaluate_expression(text: str, option: str) -> Evaluated:
    """A fraction or simple expression of numbers (see the module docstring)."""
    rooted = _ROOT_OF_NUMBER.sub(r"sqrt(\1)", _IMPLICIT_TIMES_ROOT.sub("*√", text))
    source = rooted.replace("^", "**").replace("√", "sqrt")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError) as exc:
        hint = look_alike_hint(text) or "; type e.g. 0.64, 4, 5/12 or (1/2)^2"
        raise InputError(f"{option}: {quoted(text)} is not a number{hint}") from exc
    evaluator = _Evaluator(source, text, option)
    value = evaluator.visit(tree.body)
    body = tree.body
    is_fraction = (
        isinstance(body, ast.BinOp)
        and isinstance(body.op, ast.Div)
        and all(_is_plain_number(side) for side in (body.left, body.right))
    )
    return Evaluated(value, evaluator.exact, "a fraction" if is_fraction else "an expression")


def _is_plain_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant)


def as_decimal(value: Value) -> Decimal:
    """A value in the high-precision context (a Fraction rounded to 40 significant digits)."""
    if isinstance(value, Decimal):
        return value
    return _CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def _call_text(name: str, argument: Decimal) -> str:
    """``exp(1000)`` as the message names the call (the argument to 7 significant digits)."""
    return f"{name}({short(float(argument), 7) if abs(argument.adjusted()) < 300 else f'{argument:.6e}'})"


class _Evaluator:
    """Walk a parsed expression, allowing only numbers, + - * / **, sqrt/log/exp, e and pi."""

    def __init__(self, source: str, text: str, option: str) -> None:
        self.source, self.text, self.option = source, text, option
        self.exact = True

    def refuse(self, why: str) -> InputError:
        return InputError(f"{self.option}: {self.text!r}: {why}; type a number or an expression of numbers")

    def visit(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            operand = self.visit(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
            return self.binary(node.op, self.visit(node.left), self.visit(node.right))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            self.exact = False
            return _CONSTANTS[node.id]()
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            return self.call(node.func.id, as_decimal(self.visit(node.args[0])))
        raise self.refuse(_UNDERSTOOD)

    def constant(self, node: ast.Constant) -> Fraction:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.refuse(_UNDERSTOOD)
        segment = ast.get_source_segment(self.source, node) or repr(node.value)
        try:
            return Fraction(segment.replace("_", ""))
        except (ValueError, ZeroDivisionError) as exc:
            raise self.refuse(f"{segment!r} is not a number") from exc

    def call(self, name: str, argument: Decimal) -> Decimal:
        self.exact = False
        try:
            result = _FUNCTIONS[name](argument)
        except decimal.Overflow as exc:
            raise self.refuse(f"{_call_text(name, argument)} is too large even for exact arithmetic") from exc
        except (decimal.InvalidOperation, decimal.DivisionByZero) as exc:
            raise self.refuse(f"{_call_text(name, argument)} is undefined") from exc
        if not result.is_finite():  # log(0) is -Infinity without a signal
            raise self.refuse(f"{_call_text(name, argument)} is undefined")
        return result

    def binary(self, op: ast.operator, left: Value, right: Value) -> Value:
        try:
            if isinstance(op, ast.Pow):
                return self.power(left, right)
            if isinstance(left, Fraction) and isinstance(right, Fraction):
                return _exact_arithmetic(op, left, right)
            return _decimal_arithmetic(op, as_decimal(left), as_decimal(right))
        except ZeroDivisionError as exc:  # decimal.DivisionByZero is one too
            raise self.refuse("division by zero") from exc
        except decimal.Overflow as exc:
            raise self.refuse("the number is too large even for exact arithmetic") from exc

    def power(self, base: Value, exponent: Value) -> Value:
        if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
            bits = max(base.numerator.bit_length(), base.denominator.bit_length(), 1) * abs(exponent.numerator)
            if bits > _MAX_POWER_BITS:
                raise self.refuse("the number is absurdly large")
            return base**exponent.numerator
        self.exact = False
        base, exponent = as_decimal(base), as_decimal(exponent)
        if base.is_zero() and exponent < 0:
            raise ZeroDivisionError
        try:
            return _CONTEXT.power(base, exponent)
        except decimal.InvalidOperation as exc:
            raise self.refuse("a negative number to a fractional power") from exc


def _exact_arithmetic(op: ast.operator, left: Fraction, right: Fraction) -> Fraction:
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Mult):
        return left * right
    return left / right


def _decimal_arithmetic(op: ast.operator, left: Decimal, right: Decimal) -> Decimal:
    if isinstance(op, ast.Add):
        return _CONTEXT.add(left, right)
    if isinstance(op, ast.Sub):
        return _CONTEXT.subtract(left, right)
    if isinstance(op, ast.Mult):
        return _CONTEXT.multiply(left, right)
    return _CONTEXT.divide(left, right)
