"""Array answers: several typed numbers (``'[[4,9],[25,4]]'``, ``'4,9;25,4'``) or the name of a file of numbers.

Each typed entry keeps its own typing (and so its own tolerance, :mod:`lossctl.homework.answers`);
a file's entries are numbers read as ``--pred`` reads them (a ``.npy`` as a memory map).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.homework.answers import Answer, parse_answer, typed_text


@dataclass(frozen=True)
class AnswerValues:
    """An array answer as numbers: typed (each entry with its own tolerance) or read from a file."""

    values: Any  # array-like; a memory map for a .npy file
    shape: tuple[int, ...]
    typed: tuple[Answer, ...] = ()  # empty for a file
    source: str = ""  # the file's name, for the reason shown

    def reason(self) -> str:
        return f"from {self.source}: to 1e-9 relative"


def is_array_text(text: str, option: str = "--expect") -> bool:
    """An answer holding several numbers: brackets, commas, semicolons or spaces between numbers."""
    stripped = typed_text(text, option)
    between_numbers = re.search(r"\d\s+(?:[\d.]|[+-]\d)", stripped)
    return stripped.startswith("[") or any(mark in stripped for mark in ",;") or bool(between_numbers)


def parse_answer_array(text: str, option: str) -> tuple[list[Answer], tuple[int, ...]]:
    """Entries (row-major) and the shape of an array answer: nested brackets or rows split by ';'."""
    stripped = typed_text(text, option)
    if not is_array_text(stripped, option):
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
