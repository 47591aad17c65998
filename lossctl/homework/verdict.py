"""``--expect`` and ``--expect-grad``: a student's answer checked against the computed numbers.

The verdict types (one number, an array entry by entry, a large array block by block) and the checks
that produce them.  How an answer is read and what tolerance its typing implies is
:mod:`lossctl.homework.answers` (one number) and :mod:`lossctl.homework.answer_arrays` (arrays and
files); the tolerance rules are :mod:`lossctl.homework.tolerance`; the wording is
:mod:`lossctl.homework.wording`.

An answer may be an array (``'[[4,9],[25,4]]'``, ``'4,9;25,4'``): it is compared entry by
entry with the elements (or the gradient for ``--expect-grad``), each entry with the
tolerance of its own typing.  A flat list with as many entries as the array is read in
row-major order; any other shape difference is a ✗ that names both shapes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.homework.answer_arrays import answer_file, is_array_text, parse_answer_array, read_answer
from lossctl.homework.answers import Answer, parse_answer
from lossctl.homework.tolerance import ROUNDING_ULPS, allowed_differences, check_tol, rounding_floor
from lossctl.homework.wording import entry_lines, flat_list_note, one_number_line, shape_mismatch

LISTED_WRONG = 20  # wrong entries listed one per line; the others are counted
ANSWER_BLOCK = 1 << 16  # entries compared at a time when the answer or the computed array is large
Entry = tuple[tuple[int, ...], "Verdict"]


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

    def describe(self, digits: int = 7) -> str:
        return one_number_line(self, digits)

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
    entries: tuple[Entry, ...] = field(default_factory=tuple)
    note: str = ""

    @property
    def shapes_match(self) -> bool:
        return bool(self.entries) or self.answer_shape == self.computed_shape

    @property
    def wrong(self) -> list[Entry]:
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
            return [shape_mismatch(self.option, self.compared, self.answer_shape, self.computed_shape)]
        wrong = self.wrong
        return entry_lines(
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
            "wrong": _wrong_entries(self.wrong),
        }


@dataclass(frozen=True)
class CountedArrayVerdict:
    """An array answer checked block by block (large inputs): counts, and the first wrong entries only."""

    option: str
    compared: str
    answer_shape: tuple[int, ...]
    computed_shape: tuple[int, ...]
    total: int = 0
    wrong_count: int = 0
    listed: tuple[Entry, ...] = field(default_factory=tuple)
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
            return [shape_mismatch(self.option, self.compared, self.answer_shape, self.computed_shape)]
        return entry_lines(self.option, self.compared, self.total, self.listed, self.wrong_count, self.note, digits)

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
            "wrong": _wrong_entries(self.listed),
        }


AnyVerdict = Verdict | ArrayVerdict | CountedArrayVerdict


def _wrong_entries(entries: tuple[Entry, ...] | list[Entry]) -> list[dict[str, Any]]:
    """The wrong entries of an array verdict, for JSON."""
    return [
        {
            "index": list(index),
            "answer": verdict.answer,
            "computed": verdict.computed,
            "tolerance": verdict.tolerance,
            "reason": verdict.reason,
        }
        for index, verdict in entries
    ]


def _reconciled_note(shape: tuple[int, ...], count: int, computed_shape: tuple[int, ...], context: str) -> str | None:
    """The note for an answer of ``shape`` (``count`` entries) against ``computed_shape``; None when they differ.

    A flat list of as many entries is read row by row; one entry answers a 0-d array."""
    if shape == computed_shape:
        return context
    if len(shape) == 1 and count == math.prod(computed_shape) and len(computed_shape) > 1:
        return flat_list_note(context, computed_shape)
    if not computed_shape and count == 1:
        return context
    return None


def judge(answer: Answer, computed: float, tol: float | None, option: str, dtype: str = "float64") -> Verdict:
    """One answer against one computed value: ``--tol``, else its typed tolerance, never below the rounding floor."""
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
    check_tol(tol)
    return judge(parse_answer(text, option), float(computed), tol, option, dtype)


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
    check_tol(tol)
    if answer_file(text, option) is not None:
        return check_array_blocks(text, computed, tol, option, compared, context, dtype)
    answers, shape = parse_answer_array(text, option)
    computed = np.asarray(computed, dtype=float)
    note = _reconciled_note(shape, len(answers), computed.shape, context)
    if note is None:
        return ArrayVerdict(option, compared, shape, computed.shape)
    entries = tuple(
        (
            tuple(int(i) for i in np.unravel_index(position, computed.shape)),
            judge(answer, float(value), tol, option, dtype),
        )
        for position, (answer, value) in enumerate(zip(answers, computed.ravel(), strict=True))
    )
    return ArrayVerdict(option, compared, shape, computed.shape, entries, note)


def check_gradient(
    text: str, grad: np.ndarray, tol: float | None = None, dtype: str = "float64"
) -> ArrayVerdict | CountedArrayVerdict:
    """``--expect-grad``: the gradient entry by entry, each typed number with its own tolerance."""
    return check_array(text, grad, tol, "--expect-grad", "gradient", dtype=dtype)


def _flat_block(array: Any, start: int, stop: int) -> np.ndarray:
    """Entries [start, stop) of an array in row-major order, as float64; a .npy map read without mapping it in."""
    from lossctl.evaluation.engine import read_rows

    flat = array.reshape(-1) if np.ndim(array) != 1 else array
    return np.asarray(read_rows(flat, slice(start, stop)), dtype=float)


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
    check_tol(tol)
    answer = read_answer(text, option)
    shape, computed_shape = answer.shape, tuple(np.shape(computed))
    size = math.prod(computed_shape)
    note = _reconciled_note(shape, math.prod(shape), computed_shape, context)
    if note is None:
        return CountedArrayVerdict(option, compared, shape, computed_shape, shapes_match=False)
    fixed = None
    if answer.typed:
        fixed = np.array([np.nan if a.tolerance is None else a.tolerance for a in answer.typed])
    wrong_count = 0
    listed: list[Entry] = []
    for start in range(0, size, ANSWER_BLOCK):
        stop = min(start + ANSWER_BLOCK, size)
        typed, got = _flat_block(answer.values, start, stop), _flat_block(computed, start, stop)
        allowed = allowed_differences(typed, got, None if fixed is None else fixed[start:stop], tol, dtype)
        wrong = np.flatnonzero(~(np.abs(typed - got) <= allowed))
        wrong_count += int(wrong.size)
        for position in wrong[: LISTED_WRONG - len(listed)]:
            index = tuple(int(i) for i in np.unravel_index(start + int(position), computed_shape))
            value = float(got[position])
            if answer.typed:
                verdict = judge(answer.typed[start + int(position)], value, tol, option, dtype)
            else:
                reason = f"tolerance ±{tol:g} from --tol" if tol is not None else answer.reason()
                verdict = Verdict(float(typed[position]), value, float(allowed[position]), reason, "", option)
            listed.append((index, verdict))
    return CountedArrayVerdict(option, compared, shape, computed_shape, size, wrong_count, tuple(listed), note)


def is_array_answer(text: str, option: str = "--expect") -> bool:
    """Several typed numbers, or the name of a file of numbers (text that reads as one number is one)."""
    if is_array_text(text, option):
        return True
    try:
        parse_answer(text, option)
    except InputError:
        return os.path.isfile(text.strip())
    return False
