"""Writing numbers and sums as a person does, for ``--explain`` (no imports of the core)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lossctl.numbers import short

SHOWN_HEAD = 3  # long sums show the first terms, an ellipsis and the last term
LONG = 6


@dataclass(frozen=True)
class Numbers:
    """Numbers as a person writes them: 4, not 4.000000; negatives bracketed inside expressions."""

    precision: int = 6

    def __call__(self, value: float) -> str:
        return short(value, self.precision).replace("-", "−")

    def inner(self, value: float) -> str:
        text = self(value)
        return f"({text})" if text.startswith("−") else text

    def vector(self, values: Sequence[float] | np.ndarray) -> str:
        items = [v if isinstance(v, str) else self(float(v)) for v in elide(list(np.asarray(values, dtype=float)))]
        return "[" + ", ".join(items) + "]"


def elide(items: list, head: int = SHOWN_HEAD) -> list:
    """The first ``head`` items, "…", and the last one, when there are many."""
    if len(items) <= LONG:
        return items
    return [*items[:head], "…", items[-1]]


def join(items: Sequence[str], separator: str = " + ") -> str:
    return separator.join(str(item) for item in elide(list(items)))


_MARKUP_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape_markup(text: str) -> str:
    """``text`` safe to print through Rich (or Typer's rich help): ``[red]`` stays literal.

    The same rule as ``rich.markup.escape``, without importing Rich (the JSON path stays light).
    """
    escaped = _MARKUP_TAG.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    if escaped.endswith("\\") and not escaped.endswith("\\\\"):
        return escaped + "\\"
    return escaped
