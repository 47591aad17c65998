"""Columnar tables through pyarrow: Parquet, Feather / Arrow IPC and CSV, one file or many shards.

``pip install 'lossctl[tables]'`` brings pyarrow; without it the built-in text reader
(:mod:`lossctl.io.tables`) still reads CSV/TSV tables.  A ``--data`` source here is a
file, a glob of shards (``preds/part-*.parquet``), a folder (Hive-partitioned folders
``split=train/…`` give their partition columns) or a URL that pyarrow's file systems
understand; all of them read as one table through :mod:`pyarrow.dataset`, whose scanner
reads record batches on several threads.  :meth:`TableSource.batches` yields them as
float64 NumPy arrays (pred, target, weight), group keys and kept columns, so a caller
sees at most one batch at a time: memory stays bounded whatever the table's size.

Columns: a plain numeric column; a list column (per-row logits) read as (N, C); or,
for ``--pred-col``, a pattern (``logit_*``) naming several numeric columns, read as
(N, C) in the table's column order.  A missing value (null) or a NaN/inf is an error
naming the column and its row (1-based, the header not counted), or with ``dropna``
the row is skipped and counted.  pyarrow is imported only when a table is opened.
"""

from __future__ import annotations

import fnmatch
import glob
import importlib.util
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.io.sources import shorten
from lossctl.io.tables import column_index, delimiter_option, head_text, scan_layout

Array = np.ndarray
TABLES_EXTRA = "pip install 'lossctl[tables]'"
FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "ipc",
    ".arrow": "ipc",
    ".ipc": "ipc",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
}
COLUMNAR = ("parquet", "ipc")
GLOB_CHARACTERS = re.compile(r"[*?\[]")
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
BATCH_ROWS = 1 << 17  # rows per record batch asked of the scanner (1 MiB per float64 column)
BATCH_READAHEAD = 4  # batches read ahead of the one evaluated (pyarrow's default, 16, costs memory)
FRAGMENT_READAHEAD = 1  # files opened ahead (default 4)


def pyarrow_available() -> bool:
    """Whether the tables extra is installed (without importing pyarrow)."""
    return importlib.util.find_spec("pyarrow") is not None


def needs_pyarrow(source: str) -> bool:
    """A source only pyarrow reads: a columnar file, a glob, a folder or a URL."""
    text = source.strip()
    if text == "-":
        return False
    if URL.match(text) or GLOB_CHARACTERS.search(text):
        return True
    path = Path(text).expanduser()
    return path.is_dir() or FORMATS.get(path.suffix.lower()) in COLUMNAR


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
        several = len(self.dataset.files) > 1 if hasattr(self.dataset, "files") else True
        try:
            scanner = self.dataset.scanner(
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
                missing = np.asarray(column.is_null(), dtype=bool) if column.null_count else None
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
            record = record.filter(pa.array(~bad))
        pred = self._values(record, self.pred, "--pred-col", first_row, where)
        target = None if self.target is None else self._values(record, [self.target], "--target-col", first_row, where)
        weight = None if self.weight is None else self._values(record, [self.weight], "--weight-col", first_row, where)
        if self.dropna and not self.allow_nonfinite:
            finite = _finite_rows(pred) & _finite_rows(target) & _finite_rows(weight)
            if not finite.all():
                dropped += int((~finite).sum())
                record = record.filter(pa.array(finite))
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
        local = np.asarray(indices.fill_null(0), dtype=np.int64) if len(mapping) else np.zeros(len(indices), np.int64)
        codes = np.asarray(mapping, dtype=np.int64)[local] if mapping else local
        if indices.null_count:
            if None not in lookup:
                lookup[None] = len(known)
                known.append(None)
            codes[np.asarray(indices.is_null(), dtype=bool)] = lookup[None]
        return codes

    def _values(self, record: Any, names: list[str], option: str, first_row: int, where: str) -> Array:
        if len(names) > 1:
            return np.column_stack([_numeric(record.column(n), option, n, where) for n in names])
        return _numeric(record.column(names[0]), option, names[0], where, first_row)

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
            finite = _finite_rows(values)
            if not finite.all():
                row = first_row + int(np.flatnonzero(~finite)[0])
                shown = values[row - first_row]
                what = "NaN" if np.isnan(shown).any() else "inf"
                label = names[0] if len(names) == 1 else ", ".join(names)
                raise InputError(
                    f"{option}: column {label!r} of {where} holds {what} at row {row + 1}; "
                    "skip such rows with --dropna, or keep them with --allow-nonfinite"
                )


def _finite_rows(values: Array | None) -> Array | np.bool_:
    """Per row: every value finite (rows of several values reduced); no values → True for every row."""
    if values is None:
        return np.True_
    finite = np.asarray(np.isfinite(values))  # an array: the ufunc is typed as maybe returning a scalar
    if finite.ndim == 1:
        return finite
    return finite.reshape(len(finite), -1).all(axis=1)


def _numeric(column: Any, option: str, name: str, source: str, first_row: int = 0) -> Array:
    """A numeric column as float64 (N,), or a list column as (N, C) when every row has C values."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        lengths = np.asarray(array.value_lengths(), dtype=np.int64)
        if lengths.size and (lengths != lengths[0]).any():
            row = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InputError(
                f"{option}: list column {name!r} of {source} has {lengths[row]} values at row "
                f"{first_row + row + 1} but {lengths[0]} at row {first_row + 1}; every row needs as many"
            )
        values = _numeric(array.flatten(), option, name, source)
        return values.reshape(len(array), int(lengths[0]) if lengths.size else 0)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise InputError(f"{option}: column {name!r} of {source} holds {kind}, not numbers; choose a numeric column")
    return np.asarray(column.cast(pa.float64()) if kind != pa.float64() else column, dtype=np.float64)


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
    dataset, name, has_header = _dataset(source.strip(), delimiter)
    names: list[str] = list(dataset.schema.names)
    shown = tuple(names) if has_header else ()
    pred = _resolve_many(names, shown, columns.pred, "--pred-col", name)

    def resolve(wanted: str, option: str) -> str:
        return names[column_index(shown, len(names), wanted, option, name)]

    target = None if columns.target is None else resolve(columns.target, "--target-col")
    weight = None if columns.weight is None else resolve(columns.weight, "--weight-col")
    keys = [resolve(key, "--group-by") for key in columns.keys]
    keep = [resolve(key, "--keep-col") for key in columns.keep]
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


def _dataset(source: str, delimiter: str | None) -> tuple[Any, str, bool]:
    """(pyarrow dataset, name for messages, whether columns have names from the data)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    files: Any
    base: str | None = None
    if source == "-":
        raise InputError(
            "--data -: standard input is read by the built-in CSV reader, which has no --group-by, --dropna, "
            "--weight-col or --keep-col; save the table to a file"
        )
    if URL.match(source):
        files, first = source, source
    elif GLOB_CHARACTERS.search(source):
        pattern = os.path.expanduser(source)
        files = sorted(glob.glob(pattern, recursive=True))
        files = [f for f in files if os.path.isfile(f)]
        if not files:
            raise InputError(f"--data: no file matches {shorten(source)!r}")
        first = files[0]
        base = _fixed_prefix(pattern)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise InputError(f"--data: no such file or folder {shorten(source)!r}")
        files = str(path)
        first = str(path) if path.is_file() else _first_file(path)
    fmt = _format(first, source, delimiter)
    header = True
    if fmt == "csv" and isinstance(files, str) and os.path.isfile(files):  # one file: no dataset module to load
        read, parse, header = _csv_options(first, delimiter)
        return CsvFile(files, read, parse), source, header
    if fmt == "csv":
        fmt, header = _csv_format(first, delimiter)
    try:
        if isinstance(files, list):
            dataset = ds.dataset(files, format=fmt, partitioning="hive", partition_base_dir=base)
        else:
            dataset = ds.dataset(files, format=fmt, partitioning="hive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, ValueError) as exc:
        raise InputError(f"--data: cannot read {shorten(source)}: {shorten(str(exc).splitlines()[0], 200)}") from exc
    return dataset, source, header


def _fixed_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (the base of Hive partition folders)."""
    head = GLOB_CHARACTERS.split(pattern, maxsplit=1)[0]
    return os.path.dirname(head) or "."


def _first_file(folder: Path) -> str:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if not name.startswith((".", "_")):
                return os.path.join(root, name)
    raise InputError(f"--data: folder {folder} holds no files")


def _format(first: str, source: str, delimiter: str | None) -> str:
    suffix = Path(first.split("?")[0]).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        shown = suffix or "(none)"
        raise InputError(f"--data: {shorten(first)} has an unknown suffix {shown!r}; tables end in {known}")
    return FORMATS[suffix]


def _csv_format(first: str, delimiter: str | None) -> tuple[Any, bool]:
    """A CSV format whose delimiter and header are found as the built-in reader finds them."""
    import pyarrow.dataset as ds

    read, parse, header = _csv_options(first, delimiter)
    return ds.CsvFileFormat(parse_options=parse, read_options=read), header


def _csv_options(first: str, delimiter: str | None) -> tuple[Any, Any, bool]:
    """pyarrow's read and parse options for a CSV, and whether it has a header row."""
    import pyarrow.csv as pv

    with open(first, "rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    layout = scan_layout(head_text(head), delimiter_option(delimiter))
    if layout.delimiter is None:
        raise InputError(f"--data: {first}: values separated by spaces are read by the built-in reader only")
    read = pv.ReadOptions(autogenerate_column_names=layout.header is None, block_size=1 << 22)
    parse = pv.ParseOptions(delimiter=layout.delimiter)
    return read, parse, layout.header is not None


@dataclass
class _Tagged:
    record_batch: Any
    fragment: Any


class CsvFile:
    """One CSV file read by pyarrow's streaming reader (``pyarrow.csv.open_csv``), with the part of the
    dataset interface :class:`TableSource` uses: importing ``pyarrow.dataset`` costs more than reading
    a million-row CSV."""

    def __init__(self, path: str, read: Any, parse: Any):
        import pyarrow.csv as pv

        self.path, self.read, self.parse = path, read, parse
        self.files = [path]
        with pv.open_csv(path, read_options=read, parse_options=parse) as reader:
            self.schema = reader.schema

    def scanner(self, columns: list[str], **_: Any) -> CsvFile:
        self.columns = columns
        return self

    def scan_batches(self) -> Iterator[_Tagged]:
        import pyarrow.csv as pv

        convert = pv.ConvertOptions(include_columns=self.columns)
        with pv.open_csv(self.path, read_options=self.read, parse_options=self.parse, convert_options=convert) as rd:
            for record in rd:
                yield _Tagged(record, self)

    def count_rows(self) -> int:
        return sum(tagged.record_batch.num_rows for tagged in self.scanner(list(self.schema.names)[:1]).scan_batches())
