"""One Parquet file read with ``pyarrow.parquet`` alone, in runs of row groups.

Importing ``pyarrow.dataset`` costs 0.4 s, as long as reading ten million rows; one file (outside
Hive ``key=value`` folders, whose names are columns that only the dataset module adds) needs none of it.
:class:`ParquetFile` offers the part of the dataset interface :class:`lossctl.io.arrow.TableSource`
uses: ``schema``, ``files``, ``scanner(columns=…, batch_size=…)``, ``scan_batches()`` and ``count_rows()``,
and :meth:`ParquetFile.runs` cuts it into the runs of row groups that ``--engine dask`` makes tasks of.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

BATCH_ROWS = 1 << 17  # rows per record batch when the scanner is not told


def single_parquet_file(path: str) -> bool:
    """Whether ``path`` (a local file) can be read as one :class:`ParquetFile`: no Hive folder in its path."""
    return not any("=" in part for part in PurePath(path).parent.parts)


@dataclass
class Batch:
    """A record batch and where it comes from (``fragment.path`` names the file in messages)."""

    record_batch: Any
    fragment: ParquetFile


@dataclass
class ParquetFile:
    """A Parquet file, or a run of its row groups (``row_groups``; None: all of them)."""

    path: str
    row_groups: tuple[int, ...] | None = None
    columns: tuple[str, ...] | None = None
    batch_size: int = BATCH_ROWS

    @property
    def files(self) -> list[str]:
        return [self.path]

    @property
    def schema(self) -> Any:
        import pyarrow.parquet as pq

        return pq.read_schema(self.path)

    def scanner(self, columns: list[str], batch_size: int = BATCH_ROWS, **_: Any) -> ParquetFile:
        return replace(self, columns=tuple(columns), batch_size=batch_size)

    def scan_batches(self) -> Iterator[Batch]:
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as handle:
            groups = range(handle.num_row_groups) if self.row_groups is None else self.row_groups
            for group in groups:  # one row group at a time: memory stays at a row group and a batch
                columns = None if self.columns is None else list(self.columns)
                for record in handle.iter_batches(self.batch_size, row_groups=[group], columns=columns):
                    yield Batch(record, self)

    def count_rows(self) -> int:
        import pyarrow.parquet as pq

        metadata = pq.read_metadata(self.path)
        if self.row_groups is None:
            return int(metadata.num_rows)
        return sum(int(metadata.row_group(group).num_rows) for group in self.row_groups)

    def runs(self, run_rows: int) -> list[tuple[ParquetFile, int]]:
        """(a run of consecutive row groups of at least ``run_rows`` rows, its first row in the file)."""
        import pyarrow.parquet as pq

        metadata = pq.read_metadata(self.path)
        runs: list[tuple[ParquetFile, int]] = []
        groups: list[int] = []
        start = rows = 0
        for group in range(metadata.num_row_groups):
            groups.append(group)
            rows += int(metadata.row_group(group).num_rows)
            if rows - start >= run_rows:
                runs.append((replace(self, row_groups=tuple(groups)), start))
                groups, start = [], rows
        if groups or not runs:
            runs.append((replace(self, row_groups=tuple(groups)), start))
        return runs
