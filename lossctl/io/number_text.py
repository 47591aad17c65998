"""One number as people type or paste it: strict ASCII numbers, look-alike characters, decimal commas.

Typographic look-alikes, decided character by character (numbers are ASCII; a
character is accepted only where it cannot mean anything else):

* U+2212 MINUS SIGN (``−1``) is a minus sign; full-width forms (``１．５``, U+FF01–FF5E)
  and the decimal digits of other scripts (``٣``) are their ASCII characters;
* NO-BREAK SPACE, THIN SPACE, NARROW NO-BREAK SPACE, FIGURE SPACE and the other
  Unicode spaces are spaces (padding, or the separator of space-separated values),
  except between two digits, where they are refused: ``1 000`` may be a thousand
  written with a digit-group separator or the two values 1 and 0;
* every other character — dashes (hyphen, en dash, em dash), the middle dot,
  superscripts, invisible zero-width characters — is refused with its name and
  code point, never as a bare "not a number".

A decimal comma (``1,5``) in a table whose values are not separated by commas is named as
such: lossctl reads only ``.`` as the decimal point and does not guess.
"""

from __future__ import annotations

import math
import re
import unicodedata

from lossctl.errors import InputError
from lossctl.io.sources import quoted, shorten

DELIMITERS = (",", "\t", ";", "|")  # table delimiters, in order of preference; None = runs of whitespace
NUMBER_START = re.compile(r"[+-]?\.?\d")
DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE)
_UNICODE_SPACES = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SPACE_BETWEEN_DIGITS = re.compile(rf"\d+(?:[{_UNICODE_SPACES}]+\d+)+")
_UNICODE_SPACE = re.compile(rf"[{_UNICODE_SPACES}]")
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\ufe58\ufe63"


class DecimalCommaError(InputError):
    """A number written with a decimal comma (``1,5``) in a table whose values are not separated by commas."""


def is_number(field: str) -> bool:
    return bool(NUMBER.fullmatch(field))


def is_name(field: str) -> bool:
    """A column name: empty, or text that does not begin like a number (``0x10``, ``1_000`` do)."""
    return not is_number(field) and not NUMBER_START.match(field)


def ascii_look_alikes(text: str) -> str:
    """``text`` with the accepted look-alikes turned into ASCII (U+2212 minus, full-width forms, other
    scripts' digits, Unicode spaces); nothing refused (see :func:`plain_ascii_number_text`)."""
    if text.isascii():
        return text
    return "".join(_ascii_character(char) for char in text)


def _ascii_character(char: str) -> str:
    if char.isascii():
        return char
    if char == "\u2212":
        return "-"
    if "\uff01" <= char <= "\uff5e":  # FULLWIDTH forms of ASCII ! … ~
        return chr(ord(char) - 0xFEE0)
    if unicodedata.category(char) == "Nd":
        return str(unicodedata.digit(char))
    if _UNICODE_SPACE.match(char):
        return " "
    return char


def plain_ascii_number_text(text: str, where: str) -> str:
    """Number text with the accepted look-alikes made ASCII; a Unicode space between digits is refused."""
    if text.isascii():
        return text
    grouped = _SPACE_BETWEEN_DIGITS.search(text)
    if grouped:
        space = next(char for char in grouped.group() if not char.isdigit())
        raise InputError(
            f"{where}: {quoted(shorten(grouped.group()))} holds a {character_name(space)} between digits, which may "
            "group the digits of one number (1 000) or separate two values; remove it, or separate values with a comma"
        )
    return ascii_look_alikes(text)


def character_name(char: str) -> str:
    """``U+2013 EN DASH``: how a message names a character one may not see."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'character')}"


def look_alike_hint(text: str) -> str:
    """For a field holding a character outside ASCII numbers: which one, and what to type instead."""
    odd = next((char for char in text if not char.isascii()), None)
    if odd is None or not any(char.isdigit() for char in text):  # a word (Zürich) is simply not a number
        return ""
    if odd in _DASHES:
        return f"; it holds {character_name(odd)}, a dash, not a minus sign: type '-'"
    return f"; it holds {character_name(odd)}, which is not part of a number: retype the value in ASCII"


def parse_number(token: str, where: str, delimiter: str | None = ",") -> float:
    """One number, strictly: no underscores, no hex, no overflow to inf.

    ``delimiter``: the table's (None: runs of spaces); where it is not a comma, ``1,5`` is a decimal comma.
    """
    text = plain_ascii_number_text(token, where).strip()
    if not text:
        raise InputError(f"{where}: empty value (two separators in a row?)")
    if delimiter != "," and DECIMAL_COMMA.fullmatch(text):
        raise DecimalCommaError(
            f"{where}: {quoted(shorten(text))} is written with a decimal comma ({text.replace(',', '.')}?); "
            "lossctl reads only '.' as the decimal point and does not guess: convert the numbers (save the "
            "spreadsheet with '.' as the decimal separator, or replace ',' by '.')"
        )
    if not NUMBER.fullmatch(text):
        raise InputError(
            f"{where}: {quoted(shorten(text))} is not a number{look_alike_hint(text) or delimiter_hint(text)}"
        )
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise InputError(f"{where}: {shorten(text)!r} is too large for a float64 (max ≈ 1.8e308)")
    return value


def delimiter_hint(text: str) -> str:
    """``1;2;3`` read as one value: the values are separated by something else."""
    for delimiter in DELIMITERS:
        parts = text.split(delimiter)
        if len(parts) > 1 and all(is_number(p.strip()) for p in parts):
            comma = " (and if ',' is a decimal comma there, convert the numbers first: lossctl does not guess)"
            return f"; the values look separated by {delimiter!r} (with --data: --delimiter {delimiter!r})" + (
                comma if delimiter == ";" else ""
            )
    return ""
