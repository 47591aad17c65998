"""Every declared loss, by canonical name and by alias.

The registry is the concatenation of the families' ``LOSSES`` tuples.  A name
or alias declared twice is a programming error and fails at import time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping

from lossctl.errors import UnknownLossError
from lossctl.losses import FAMILIES
from lossctl.losses.spec import LossSpec


class Registry(Mapping[str, LossSpec]):
    """Canonical name → LossSpec, with alias look-up and "did you mean"."""

    def __init__(self, specs: Iterable[LossSpec]):
        self._specs: dict[str, LossSpec] = {}
        self._by_name: dict[str, LossSpec] = {}
        for spec in specs:
            self._specs[spec.name] = spec
            for name in spec.names:
                if name in self._by_name:
                    other = self._by_name[name].name
                    raise RuntimeError(f"loss name {name!r} is declared by both {other!r} and {spec.name!r}")
                self._by_name[name] = spec

    def __getitem__(self, name: str) -> LossSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def all_names(self) -> tuple[str, ...]:
        """Canonical names and aliases."""
        return tuple(self._by_name)

    def find(self, name: str) -> LossSpec | None:
        """The spec for a name or alias (``-`` and ``_`` interchangeable, any case)."""
        return self._by_name.get(name.strip().lower().replace("-", "_"))

    def resolve(self, name: str) -> LossSpec:
        """Like :meth:`find`, but raise :class:`UnknownLossError` with suggestions."""
        spec = self.find(name)
        if spec is None:
            key = name.strip().lower().replace("-", "_")
            suggestions: list[str] = []
            seen: set[str] = set()
            for match in difflib.get_close_matches(key, self.all_names, n=8, cutoff=0.6):
                owner = self._by_name[match].name
                if owner not in seen:
                    seen.add(owner)
                    suggestions.append(match)
            raise UnknownLossError(name, suggestions[:3])
        return spec


LOSSES = Registry(spec for family in FAMILIES for spec in family.LOSSES)
