"""Columnar tables through pyarrow: a ``--data`` source read as record batches of float arrays.

``pip install 'lossctl[tables]'`` brings pyarrow; without it the built-in text reader
(:mod:`lossctl.io.tables`) still reads CSV/TSV tables.  :func:`open_table` opens the source
(a file, a glob of shards, a folder or a URL: :mod:`lossctl.io.table_files`) and resolves the
columns asked for; :meth:`TableSource.batches` yields the scanner's record batches as float64
NumPy arrays (pred, target, weight; :mod:`lossctl.io.table_columns`), group keys and kept columns,
so a caller sees at most one batch at a time: memory stays bounded whatever the table's size.

Columns: a plain numeric column; a list column (per-row logits) read as (N, C); or,
for ``--pred-col``, a pattern (``logit_*``) naming several numeric columns, read as
(N, C) in the table's column order.  A missing value (null) or a NaN/inf is an error
naming the column and its row (1-based, the header not counted), or with ``dropna``
the row is skipped and counted.  pyarrow is imported only when a table is opened.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.io.arrow_numpy import mask, numbers
from lossctl.io.parquet_file import ParquetFile
from lossctl.io.sources import shorten
from lossctl.io.table_columns import finite_rows, numeric_column
from lossctl.io.table_files import (
    GLOB_CHARACTERS,
    RUN_ROWS,
    TABLES_EXTRA,
    by_row_groups,
    needs_pyarrow,
    open_dataset,
    pyarrow_available,
    read_as_numbers,
    row_group_runs,
)
from lossctl.io.tables import column_index

Array = np.ndarray
BATCH_ROWS = 1 << 17  # rows per record batch asked of the scanner (1 MiB per float64 column)
BATCH_READAHEAD = 4  # batches read ahead of the one evaluated (pyarrow's default, 16, costs memory)
FRAGMENT_READAHEAD = 1  # files (or runs of a Parquet file's row groups) opened ahead (default 4)


def is_pattern(column: str) -> bool:
    return bool(GLOB_CHARACTERS.search(column))


@dataclass(frozen=True)
class Columns:
    """Which columns to read: the option that named each, and what it named."""

    pred: str
    target: str | None
    weight: str | None = None
    keys: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()


@dataclass
class Batch:
    """One record batch as arrays: rows ``first_row`` … of the table (after any dropped rows)."""

    pred: Array
    target: Array | None
    weight: Array | None
    keys: dict[str, Array]  # group codes per key column (int64), decoded by TableSource.key_values
    keep: Any  # a pyarrow Table of the kept columns (None when none were asked for)
    first_row: int  # 0-based index of this batch's first row in the whole table (before dropping)
    dropped: int


@dataclass
class TableSource:
    """An opened ``--data`` table: its dataset, the resolved column names and how to read them."""

    name: str
    dataset: Any
    pred: list[str]  # one column (plain or list) or several (a pattern)
    target: str | None
    weight: str | None
    keys: list[str]
    keep: list[str]
    dropna: bool = False
    allow_nonfinite: bool = False
    key_values: dict[str, list[Any]] = field(default_factory=dict)  # code → value, per key column
    row_offset: int = 0  # rows of its file before this source's first (a Dask task's row groups)

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
        """The table's record batches, in file order, as float64 arrays (bounded memory)."""
        import pyarrow as pa

        wanted = list(dict.fromkeys([*self.pred, *filter(None, [self.target, self.weight]), *self.keys, *self.keep]))
        first_row, shard = 0, None
        several = len(set(self.dataset.files)) > 1 if hasattr(self.dataset, "files") else True
        try:
            scanner = by_row_groups(self.dataset).scanner(
                columns=wanted,
                batch_size=batch_rows,
                use_threads=True,
                batch_readahead=BATCH_READAHEAD,
                fragment_readahead=FRAGMENT_READAHEAD,
            )
            for tagged in scanner.scan_batches():
                record = tagged.record_batch
                if tagged.fragment.path != shard:  # rows are counted per shard, and messages name it
                    shard, first_row = tagged.fragment.path, self.row_offset
                if record.num_rows == 0:
                    continue
                yield self._arrays(record, first_row, f"{self.name} (shard {shard})" if several else self.name)
                first_row += record.num_rows
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            raise InputError(f"--data: {self.name}: {shorten(str(exc).splitlines()[0], 200)}") from exc

    def pieces(self, run_rows: int = RUN_ROWS) -> list[TableSource]:
        """The table as independent pieces (``--engine dask`` tasks): one per file, keeping its Hive partition
        values, and a Parquet file of several row groups cut into runs of at least ``run_rows`` rows, so one
        big file is not one task.  Each piece names its file and counts rows from the file's start."""
        import pyarrow.dataset as ds

        dataset = self.dataset
        if isinstance(dataset, ParquetFile):  # one Parquet file read without pyarrow.dataset
            name = f"{self.name} (shard {dataset.path})"
            return [
                replace(self, name=name, dataset=run, key_values={}, row_offset=offset)
                for run, offset in dataset.runs(run_rows)
            ]
        if not hasattr(dataset, "get_fragments"):  # one CSV file read by pyarrow's streaming reader
            return [self]
        pieces = []
        for fragment in dataset.get_fragments():
            name = f"{self.name} (shard {fragment.path})"
            for run, offset in row_group_runs(fragment, run_rows):
                one = ds.FileSystemDataset([run], dataset.schema, dataset.format, dataset.filesystem)
                pieces.append(replace(self, name=name, dataset=one, key_values={}, row_offset=offset))
        return pieces

    def _arrays(self, record: Any, first_row: int, where: str) -> Batch:
        import pyarrow as pa
        import pyarrow.compute as pc

        options: dict[str, Sequence[str | None]] = {
            "--pred-col": self.pred,
            "--target-col": [self.target],
            "--weight-col": [self.weight],
        }
        bad = np.zeros(record.num_rows, dtype=bool)
        problems: list[tuple[str, str, Array]] = []
        for option, names in options.items():
            for name in names:
                if name is None:
                    continue
                column = record.column(name)
                missing = numbers(column.is_null()) if column.null_count else None
                if missing is not None:
                    problems.append((option, name, missing))
                    bad |= missing
        dropped = 0
        if bad.any():
            if not self.dropna:
                option, name, missing = next(p for p in problems if p[2].any())
                row = first_row + int(np.flatnonzero(missing)[0]) + 1
                raise InputError(
                    f"{option}: column {name!r} of {where} has a missing value at row {row}; "
                    "fill it, or skip such rows with --dropna"
                )
            dropped = int(bad.sum())
            record = record.filter(mask(~bad))
        pred = self._values(record, self.pred, "--pred-col", first_row, where)
        target = None if self.target is None else self._values(record, [self.target], "--target-col", first_row, where)
        weight = None if self.weight is None else self._values(record, [self.weight], "--weight-col", first_row, where)
        if self.dropna and not self.allow_nonfinite:
            finite = finite_rows(pred) & finite_rows(target) & finite_rows(weight)
            if not finite.all():
                dropped += int((~finite).sum())
                record = record.filter(mask(finite))
                pred = pred[finite]
                target = None if target is None else target[finite]
                weight = None if weight is None else weight[finite]
        elif not self.allow_nonfinite:
            self._require_finite(where, first_row, pred, target, weight)
        keys = {name: self._codes(name, pc.dictionary_encode(record.column(name))) for name in self.keys}
        keep = pa.table({name: record.column(name) for name in self.keep}) if self.keep else None
        return Batch(pred, target, weight, keys, keep, first_row, dropped)

    def _codes(self, name: str, encoded: Any) -> Array:
        """Batch-local dictionary codes → table-wide codes (nulls are a group of their own: None)."""
        known = self.key_values.setdefault(name, [])
        lookup = {value: code for code, value in enumerate(known)}
        mapping = []
        for value in encoded.dictionary.to_pylist():
            if value not in lookup:
                lookup[value] = len(known)
                known.append(value)
            mapping.append(lookup[value])
        indices = encoded.indices
        nulls = numbers(indices.is_null()) if indices.null_count else None
        local = numbers(indices).astype(np.int64) if mapping else np.zeros(len(indices), np.int64)
        if nulls is not None:
            local[nulls] = 0  # a null's index is whatever the buffer holds: any valid one will do
        codes = np.asarray(mapping, dtype=np.int64)[local] if mapping else local
        if nulls is not None:
            if None not in lookup:
                lookup[None] = len(known)
                known.append(None)
            codes[nulls] = lookup[None]
        return codes

    def _values(self, record: Any, names: list[str], option: str, first_row: int, where: str) -> Array:
        if len(names) > 1:
            return np.column_stack([numeric_column(record.column(n), option, n, where) for n in names])
        return numeric_column(record.column(names[0]), option, names[0], where, first_row)

    def _require_finite(
        self, where: str, first_row: int, pred: Array, target: Array | None, weight: Array | None
    ) -> None:
        """NaN and inf are refused as missing values are, naming the column and the row."""
        for option, names, values in (
            ("--pred-col", self.pred, pred),
            ("--target-col", [] if self.target is None else [self.target], target),
            ("--weight-col", [] if self.weight is None else [self.weight], weight),
        ):
            if values is None:  # a column not asked for (its name is None) has no values
                continue
            with np.errstate(all="ignore"):
                if math.isfinite(float(np.sum(values))):  # one pass shows there is no NaN or inf
                    continue
            finite = finite_rows(values)
            if not finite.all():
                row = first_row + int(np.flatnonzero(~finite)[0])
                shown = values[row - first_row]
                what = "NaN" if np.isnan(shown).any() else "inf"
                label = names[0] if len(names) == 1 else ", ".join(names)
                raise InputError(
                    f"{option}: column {label!r} of {where} holds {what} at row {row + 1}; "
                    "skip such rows with --dropna, or keep them with --allow-nonfinite"
                )


def open_table(
    source: str,
    columns: Columns,
    *,
    delimiter: str | None = None,
    dropna: bool = False,
    allow_nonfinite: bool = False,
) -> TableSource:
    """Open ``--data`` (file, glob, folder or URL) as one dataset and resolve the columns asked for."""
    if not pyarrow_available():
        raise InputError(f"--data: reading {shorten(source.strip())} needs pyarrow: {TABLES_EXTRA}")
    dataset, name, has_header = open_dataset(source.strip(), delimiter)
    names: list[str] = list(dataset.schema.names)
    shown = tuple(names) if has_header else ()
    pred = _resolve_many(names, shown, columns.pred, "--pred-col", name)

    def resolve(wanted: str, option: str) -> str:
        return names[column_index(shown, len(names), wanted, option, name)]

    target = None if columns.target is None else resolve(columns.target, "--target-col")
    weight = None if columns.weight is None else resolve(columns.weight, "--weight-col")
    keys = [resolve(key, "--group-by") for key in columns.keys]
    keep = [resolve(key, "--keep-col") for key in columns.keep]
    dataset = read_as_numbers(dataset, [*pred, *filter(None, [target, weight])])
    return TableSource(name, dataset, pred, target, weight, keys, keep, dropna, allow_nonfinite)


def split_names(text: str | None) -> tuple[str, ...]:
    """``a,b`` → (a, b); None or empty → ()."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _resolve_many(names: list[str], shown: tuple[str, ...], wanted: str, option: str, source: str) -> list[str]:
    if not is_pattern(wanted):
        return [names[column_index(shown, len(names), wanted, option, source)]]
    matched = [n for n in names if fnmatch.fnmatchcase(n, wanted.strip())]
    if not matched:
        raise InputError(f"{option}: no column of {source} matches {wanted!r} (its columns: {', '.join(names)})")
    return matched


__all__ = [
    "TABLES_EXTRA",
    "Batch",
    "Columns",
    "TableSource",
    "is_pattern",
    "needs_pyarrow",
    "open_table",
    "split_names",
]
