"""The result of a table: the overall ``LossResult``, the rows read and dropped, one ``Group`` per key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lossctl.evaluation.result import LossResult


@dataclass(frozen=True)
class Group:
    """One row of a ``--group-by`` result."""

    key: dict[str, Any]
    rows: int
    count: float
    sum: float
    mean: float
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": dict(self.key), "rows": self.rows, "count": self.count, "sum": self.sum, **self._stats()}

    def _stats(self) -> dict[str, float]:
        return {"mean": self.mean, "value": self.value}


@dataclass(frozen=True)
class TableSummary:
    """The overall summary of a table, the rows read and dropped, and the groups when asked for."""

    overall: LossResult
    rows: int
    dropped: int
    group_by: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()

    def __getattr__(self, name: str) -> Any:  # value, reduction, params … of the overall result
        return getattr(self.overall, name)

    def to_dict(self) -> dict[str, Any]:
        """The keys of docs/architecture.md §4 for the whole table, then ``rows``, ``dropped`` and ``groups``."""
        out = self.overall.to_dict()
        out["rows"] = self.rows
        out["dropped"] = self.dropped
        if self.group_by:
            out["group_by"] = list(self.group_by)
            out["groups"] = [group.to_dict() for group in self.groups]
        return out
