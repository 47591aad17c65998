"""The wording of ``--expect`` verdicts: ✓ or ✗, the answer as typed, the computed value, the reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lossctl.homework.answers import DECIMAL, INTEGER
from lossctl.numbers import short


class Judged(Protocol):
    """What the wording reads of one judged number (a :class:`lossctl.homework.verdict.Verdict`)."""

    @property
    def ok(self) -> bool: ...
    @property
    def text(self) -> str: ...
    @property
    def answer(self) -> float: ...
    @property
    def computed(self) -> float: ...
    @property
    def difference(self) -> float: ...
    @property
    def reason(self) -> str: ...


Entry = tuple[tuple[int, ...], Judged]


def answer_text(typed: str, value: float) -> str:
    """The answer as typed, with its value when the typing is an expression (``5/12 (= 0.416666666667)``)."""
    typed = typed.strip()
    number = short(value, 12)
    if not typed or typed == number or DECIMAL.fullmatch(typed) or INTEGER.fullmatch(typed):
        return typed or number
    return f"{typed} (= {number})"


def one_number_line(verdict: Judged, digits: int) -> str:
    """``✓ your answer 0.64 matches the computed 0.6420580 (difference …; why this tolerance)``."""
    mark = "✓" if verdict.ok else "✗"
    relation = "matches" if verdict.ok else "differs from"
    return (
        f"{mark} your answer {answer_text(verdict.text, verdict.answer)} {relation} the computed "
        f"{short(verdict.computed, digits)} (difference {short(verdict.difference, 3)}; {verdict.reason})"
    )


def entry_lines(
    option: str, compared: str, total: int, listed: Sequence[Entry], wrong: int, note: str, digits: int
) -> list[str]:
    """✓ all match, or ✗ how many differ, the first few of them one per line, and how many are right."""
    note = f" {note}" if note else ""
    if not wrong:
        return [f"✓ {option}: all {total:,} entries match the {compared}{note}"]
    lines = [f"✗ {option}: {wrong:,} of {total:,} entries differ from the {compared}{note}"]
    for index, verdict in listed:
        lines.append(
            f"  ✗ {index_text(index)} you {answer_text(verdict.text, verdict.answer)}, computed "
            f"{short(verdict.computed, digits)} (difference {short(verdict.difference, 3)}; {verdict.reason})"
        )
    if wrong > len(listed):
        lines.append(f"  … and {wrong - len(listed):,} more wrong entries")
    lines.append(f"{total - wrong:,} of {total:,} entries right")
    return lines


def shape_mismatch(option: str, compared: str, answer: tuple[int, ...], computed: tuple[int, ...]) -> str:
    """``✗ --expect: your answer has shape (3,) but the elements have shape (2, 2)``."""
    verb = "have" if compared.endswith("s") else "has"
    return (
        f"✗ {option}: your answer has shape {shape_text(answer)} but the {compared} {verb} shape {shape_text(computed)}"
    )


def flat_list_note(context: str, computed: tuple[int, ...]) -> str:
    """The note added when a flat list is read row by row into the computed shape."""
    return " ".join(filter(None, [context, f"(your flat list read row by row as shape {shape_text(computed)})"]))


def index_text(index: tuple[int, ...]) -> str:
    """As the table's index column writes it: ``3`` for vectors, ``(1, 0)`` for higher ranks."""
    return str(index[0]) if len(index) == 1 else "(" + ", ".join(map(str, index)) + ")"


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as Python writes a tuple: ``(3,)``, ``(2, 2)``, ``()``."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
