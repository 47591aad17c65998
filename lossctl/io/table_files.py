"""Finding and opening ``--data`` sources as one pyarrow dataset: files, globs, folders, URLs, CSV options.

A source is a file, a glob of shards (``preds/part-*.parquet``), a folder (Hive-partitioned folders
``split=train/…`` give their partition columns) or a URL that pyarrow's file systems understand; its
format comes from the first file's suffix.  One CSV file is read by pyarrow's streaming CSV reader
(:class:`CsvFile`), without importing ``pyarrow.dataset``.  A Parquet file of many row groups is read as
runs of consecutive row groups (:func:`by_row_groups`): pyarrow's scanner otherwise pre-buffers a whole
file, so memory would grow with the file's size; the same runs are the tasks of ``--engine dask``.
pyarrow is imported only when a table is opened.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossctl.errors import InputError
from lossctl.io.parquet_file import ParquetFile, single_parquet_file
from lossctl.io.sources import shorten
from lossctl.io.tables import delimiter_option, head_text, scan_layout

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
RUN_ROWS = 1 << 20  # rows per run of a Parquet file's row groups (a local read unit, a Dask task)


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


def row_group_runs(fragment: Any, run_rows: int = RUN_ROWS) -> list[tuple[Any, int]]:
    """(fragment, its first row in the file) per run of consecutive row groups of at least ``run_rows``
    rows (the last may be shorter); a fragment that is not Parquet, or has one row group, is one run."""
    if not hasattr(fragment, "split_by_row_group"):
        return [(fragment, 0)]
    fragment.ensure_complete_metadata()
    groups = fragment.row_groups
    if len(groups) <= 1:
        return [(fragment, 0)]
    runs: list[tuple[Any, int]] = []
    ids: list[int] = []
    start = rows = 0
    for group in groups:
        ids.append(group.id)
        rows += group.num_rows
        if rows - start >= run_rows:
            runs.append((fragment.subset(row_group_ids=ids), start))
            ids, start = [], rows
    if ids:
        runs.append((fragment.subset(row_group_ids=ids), start))
    return runs


def by_row_groups(dataset: Any, run_rows: int | None = None) -> Any:
    """The same Parquet dataset with each file cut into runs of row groups of at least ``run_rows`` rows
    (:data:`RUN_ROWS`); other datasets unchanged."""
    if not hasattr(dataset, "get_fragments"):  # one CSV file (CsvFile): pyarrow.dataset is not even imported
        return dataset
    import pyarrow.dataset as ds

    if not isinstance(dataset.format, ds.ParquetFileFormat):
        return dataset
    rows = RUN_ROWS if run_rows is None else run_rows
    runs = [run for fragment in dataset.get_fragments() for run, _ in row_group_runs(fragment, rows)]
    return ds.FileSystemDataset(runs, dataset.schema, dataset.format, dataset.filesystem)


def read_as_numbers(dataset: Any, names: list[str]) -> Any:
    """The dataset with these CSV columns read as float64, the way the built-in reader reads them: decimal
    numbers only (pyarrow would infer ``0x10`` as the integer 16 and ``true`` as a boolean).  Parquet and
    Arrow files keep the types they were written with."""
    if isinstance(dataset, CsvFile):
        dataset.numbers = tuple(names)
        return dataset
    if isinstance(dataset, ParquetFile):
        return dataset
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not isinstance(getattr(dataset, "format", None), ds.CsvFileFormat):
        return dataset
    fields = [pa.field(f.name, pa.float64()) if f.name in names else f for f in dataset.schema]
    return ds.dataset(
        dataset.files,
        format=dataset.format,
        schema=pa.schema(fields),
        partitioning=dataset.partitioning,
        filesystem=dataset.filesystem,
    )


def open_dataset(source: str, delimiter: str | None) -> tuple[Any, str, bool]:
    """(pyarrow dataset, name for messages, whether columns have names from the data)."""
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
        import pyarrow as pa

        try:
            return CsvFile(files, read, parse), source, header
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:  # its first block is parsed for the schema
            raise InputError(f"--data: {shorten(source)}: {shorten(str(exc).splitlines()[0], 200)}") from exc
    if fmt == "parquet" and isinstance(files, str) and os.path.isfile(files) and single_parquet_file(files):
        import pyarrow as pa

        try:
            table = ParquetFile(files)
            table.schema  # noqa: B018 -- read now: a file that is not Parquet is refused here
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, ValueError) as exc:
            raise InputError(
                f"--data: cannot read {shorten(source)}: {shorten(str(exc).splitlines()[0], 200)}"
            ) from exc
        return table, source, True
    if fmt == "csv":
        fmt, header = _csv_format(first, delimiter)
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        if isinstance(files, list):
            dataset = ds.dataset(files, format=fmt, partitioning="hive", partition_base_dir=base)
        else:
            dataset = ds.dataset(files, format=fmt, partitioning="hive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, ValueError) as exc:
        raise unreadable(source, exc) from exc
    return dataset, source, header


def unreadable(source: str, exc: Exception) -> InputError:
    """``--data: cannot read SOURCE: pyarrow's first line``."""
    return InputError(f"--data: cannot read {shorten(source)}: {shorten(str(exc).splitlines()[0], 200)}")


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

    numbers: tuple[str, ...] = ()  # columns read as float64 (read_as_numbers)

    def scanner(self, columns: list[str], **_: Any) -> CsvFile:
        self.columns = columns
        return self

    def scan_batches(self) -> Iterator[_Tagged]:
        import pyarrow as pa
        import pyarrow.csv as pv

        types = {name: pa.float64() for name in self.numbers}
        convert = pv.ConvertOptions(include_columns=self.columns, column_types=types)
        with pv.open_csv(self.path, read_options=self.read, parse_options=self.parse, convert_options=convert) as rd:
            for record in rd:
                yield _Tagged(record, self)

    def count_rows(self) -> int:
        return sum(tagged.record_batch.num_rows for tagged in self.scanner(list(self.schema.names)[:1]).scan_batches())
