"""Text tables (CSV, TSV, whitespace, ``;`` or ``|`` separated) as float arrays.

One reading of the layout, shared by both parsers: ``#`` starts a comment
anywhere on a line (``5 # first`` is the value 5), blank lines are skipped,
the delimiter is the one given or the one found in the first lines (``,``
``\\t`` ``;`` ``|``, else runs of spaces), quoted fields (``"2"``) are
unquoted, and the first line is a header only when none of its fields is a
number.  The fast parser (NumPy's C ``loadtxt``) reads well-formed numbers;
whenever it refuses or finds something to report (NaN, a width that differs
from the header), the careful parser reads the same text and names the line,
the column and the value.

A header row holds names only (empty cells, as pandas and R write for the
index column, count as names; ``0x10`` or ``1_000`` begin like numbers and are
not names).  A first line of numbers and anything else is an error naming
line 1, except in ``--data`` tables, whose unselected columns may hold
anything: there it is a row of data.  How one number is read (look-alike characters,
decimal commas) is :mod:`lossctl.io.number_text`.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lossctl.errors import InputError
from lossctl.io.number_text import (
    DELIMITERS,
    DecimalCommaError,
    ascii_look_alikes,
    delimiter_hint,
    is_name,
    is_number,
    parse_number,
    plain_ascii_number_text,
)
from lossctl.io.sources import decode, quoted, recovered_utf8, shorten, shown

Array = np.ndarray
WHITESPACE = " "  # asked for explicitly (--delimiter space); None when the caller wants detection
HEAD_BYTES = 1 << 16
SAMPLE_LINES = 20


@dataclass(frozen=True)
class Table:
    """A parsed text table: optional column names and a 2-D array of values."""

    columns: tuple[str, ...] | None
    values: Array  # always 2-D: rows × columns


@dataclass(frozen=True)
class Layout:
    """How a text is laid out: delimiter, and the header (its names and 1-based line) if any."""

    delimiter: str | None
    header: tuple[str, ...] | None
    header_line: int  # 0 when there is no header
    first_line: int  # line number of the first non-blank, non-comment line (0: none)
    width: int  # fields on that line
    mixed_first_line: bool  # the first line holds both numbers and other text


def unquote(field: str) -> str:
    field = field.strip().lstrip("\ufeff")
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"').strip()
    return field


def split_fields(line: str, delimiter: str | None) -> list[str]:
    """The fields of one (comment-free) line, unquoted and stripped."""
    if delimiter is None:
        return [unquote(f) for f in line.split()]
    if '"' not in line:
        return [f.strip() for f in line.split(delimiter)]
    return [unquote(f) for f in next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [""])]


def content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, comment-free text) of every line holding something."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0]  # not stripped: a trailing tab may close an empty last field
        if line.strip():
            yield number, line


def detect_delimiter(lines: list[str]) -> str | None:
    """The first of , TAB ; | found equally often on every sampled line (or on every line after
    the first, which may be a header); else the most frequent one; else runs of whitespace."""
    unquoted = [re.sub(r'"[^"]*"', "", line) for line in lines]
    present = [d for d in DELIMITERS if any(d in line for line in unquoted)]
    for rows in (unquoted, unquoted[1:]):
        for delimiter in present:
            counts = {line.count(delimiter) for line in rows}
            if len(counts) == 1 and counts != {0}:
                return delimiter
    if not present:
        return None
    return max(present, key=lambda d: sum(line.count(d) for line in unquoted))


def scan_layout(text: str, delimiter: str | None) -> Layout:
    """Delimiter and header, from the first lines of a text (the one classification both parsers use)."""
    sample: list[tuple[int, str]] = []
    for item in content_lines(text):
        sample.append(item)
        if len(sample) >= SAMPLE_LINES:
            break
    if not sample:
        return Layout(None if delimiter == WHITESPACE else delimiter, None, 0, 0, 0, False)
    if delimiter is None:
        delimiter = detect_delimiter([line for _, line in sample])
    elif delimiter == WHITESPACE:
        delimiter = None
    number, first = sample[0]
    fields = split_fields(first, delimiter)
    read_as = [ascii_look_alikes(f) for f in fields]  # ``−1`` begins like a number, as it reads
    if all(is_name(f) for f in read_as):
        return Layout(delimiter, tuple(fields), number, number, len(fields), False)
    return Layout(delimiter, None, 0, number, len(fields), not all(is_number(f) for f in read_as))


def head_text(raw: bytes) -> str:
    """The first lines of a UTF-8 text, for :func:`scan_layout` (a cut last line is dropped)."""
    if len(raw) <= HEAD_BYTES:
        return raw.decode("utf-8", errors="replace")
    head = raw[:HEAD_BYTES]
    return head[: head.rfind(b"\n") + 1 or len(head)].decode("utf-8", errors="replace")


def fast_values(raw: bytes, layout: Layout, usecols: list[int] | None = None) -> Array | None:
    """NumPy's C parser on the bytes (all columns, or ``usecols``); None when it refuses or when the
    careful parser must speak."""
    if layout.delimiter is None and not raw.isascii():
        return None  # NumPy splits on Unicode spaces, which may group digits (1 000): the careful parser decides
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the careful parser says it better
            values = np.loadtxt(
                io.BytesIO(raw),
                delimiter=layout.delimiter,
                skiprows=layout.header_line,
                comments="#",
                quotechar='"',
                ndmin=2,
                dtype=np.float64,
                encoding="utf-8",
                usecols=usecols,
            )
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    if values.size == 0 or not np.isfinite(values).all():
        return None
    if usecols is None and layout.header is not None and values.shape[1] != len(layout.header):
        return None
    return values


def numeric_table(raw: bytes, label: str, source: str, delimiter: str | None = None) -> Table:
    """A text whose every field is a number (after an optional header row); ``raw`` is UTF-8 without BOM."""
    layout = scan_layout(head_text(raw), delimiter)
    values = fast_values(raw, layout)
    if values is not None:
        return Table(layout.header, values)
    return careful_numeric_table(decode(raw, label, source), f"{label}: {source}", layout)


def careful_numeric_table(text: str, name: str, layout: Layout) -> Table:
    """The same reading as :func:`fast_values`, line by line, naming the first problem."""
    rows: list[list[float]] = []
    width = len(layout.header) if layout.header is not None else 0
    for number, line in content_lines(text):
        if number == layout.header_line:
            continue
        fields = split_fields(plain_ascii_number_text(line, f"{name} line {number}"), layout.delimiter)
        if width and len(fields) != width:
            raise InputError(f"{name} line {number}: {_width_problem(layout, len(fields), width)}")
        width = len(fields)
        mixed = layout.mixed_first_line and number == layout.first_line
        rows.append(_numbers(fields, f"{name} line {number}", mixed, layout.delimiter))
    if not rows:
        raise InputError(f"{name} holds no numbers{_no_numbers_hint(layout)}")
    return Table(layout.header, np.array(rows, dtype=np.float64))


def _numbers(fields: list[str], where: str, mixed: bool, delimiter: str | None) -> list[float]:
    """A row's numbers; a first line of numbers and text is neither a header nor data."""
    try:
        return [
            parse_number(f, f"{where}, value {i + 1}" if len(fields) > 1 else where, delimiter)
            for i, f in enumerate(fields)
        ]
    except InputError as exc:
        if mixed and not isinstance(exc, DecimalCommaError):
            raise InputError(f"{exc} (a header row holds only names, a data row only numbers)") from exc
        raise


def _width_problem(layout: Layout, found: int, width: int) -> str:
    values = f"{found} value{'s' if found != 1 else ''}"
    if layout.header is not None:
        return (
            f"the header has {width} name{'s' if width != 1 else ''} but this row has {values}; "
            "every row needs one value per name"
        )
    return f"ragged rows: this row has {values}, the first has {width}"


def _no_numbers_hint(layout: Layout) -> str:
    if layout.header and len(layout.header) == 1:
        return delimiter_hint(layout.header[0]) or ""
    return ""


def selected_columns(
    raw: bytes, label: str, source: str, delimiter: str | None, selectors: list[tuple[str, str]]
) -> list[Array]:
    """Columns of a table chosen by (option, name or 0-based index); the others may hold anything."""
    name = f"{label}: {source}"
    layout = scan_layout(head_text(raw), delimiter)
    if not layout.first_line:
        raise InputError(f"{name} holds no numbers")
    names = layout.header or ()
    indices = [column_index(names, layout.width, wanted, option, source) for option, wanted in selectors]
    _refuse_commented_rows(raw, layout, source)
    values = fast_values(raw, layout)
    if values is not None and values.shape[1] == layout.width:
        return [np.ascontiguousarray(values[:, i]) for i in indices]
    if _plain_rows_of_width(raw, layout):  # text in other columns: convert only the selected ones
        wanted = sorted(set(indices))
        values = fast_values(raw, layout, usecols=wanted)
        if values is not None:
            return [np.ascontiguousarray(values[:, wanted.index(i)]) for i in indices]
    return careful_columns(decode(raw, label, source), name, layout, indices)


def _refuse_commented_rows(raw: bytes, layout: Layout, source: str) -> None:
    """A table row that starts with ``#`` after the first row would be left out as a comment.

    Spreadsheets, pandas and R have no comment character, and ids such as ``#12`` or colours such
    as ``#ff0000`` are ordinary values there: dropping the row would change the answer silently.
    """
    if b"#" not in raw:
        return
    first = max(layout.header_line, layout.first_line)
    for number, line in enumerate(decode_lines(raw), 1):
        if number > first and line.lstrip().startswith("#"):
            raise InputError(
                f"--data: {source} line {number} starts with '#', which lossctl would read as a comment and "
                "leave the row out; lossctl cannot read a table row that starts with '#': remove the '#' or the line"
            )


def decode_lines(raw: bytes) -> list[str]:
    """Every line of a large table (only when it holds a '#')."""
    return raw.decode("utf-8", errors="replace").splitlines()


def _plain_rows_of_width(raw: bytes, layout: Layout) -> bool:
    """No quotes, no comments, and every non-empty line holds ``width - 1`` delimiters (vectorised),
    so that reading only some columns cannot hide a row of the wrong width."""
    delimiter = layout.delimiter
    if delimiter is None or len(delimiter.encode()) != 1 or b'"' in raw or b"#" in raw:
        return False
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if data.size and data[-1] != ord("\n"):
        ends = np.append(ends, data.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    marks = np.flatnonzero(data == ord(delimiter))
    counts = np.searchsorted(marks, ends) - np.searchsorted(marks, starts)
    lengths = ends - starts
    carriage = np.zeros(lengths.shape, dtype=bool)
    carriage[lengths > 0] = data[ends[lengths > 0] - 1] == ord("\r")
    empty = (lengths == 0) | ((lengths == 1) & carriage)
    return bool(np.all(empty | (counts == layout.width - 1)))


def column_index(names: tuple[str, ...], width: int, wanted: str, option: str, source: str) -> int:
    """A column by exact name, by name in any case, or by 0-based (or negative) index (names are UTF-8
    whatever the locale: a selector the locale decoded as surrogate escapes is read back as UTF-8)."""
    key = recovered_utf8(wanted).strip()
    if names.count(key) > 1:
        places = [str(i) for i, name in enumerate(names) if name == key]
        raise InputError(
            f"{option}: {source} has {len(places)} columns named {quoted(shorten(key))} (columns {', '.join(places)}); "
            "select one by its 0-based index"
        )
    if key in names:
        return names.index(key)
    lowered = [name.lower() for name in names]
    if key.lower() in lowered:
        return lowered.index(key.lower())
    columns = f"{width} column{'s' if width != 1 else ''}"
    if re.fullmatch(r"-?\d+", key):
        index = int(key)
        if -width <= index < width:
            return index % width
        raise InputError(f"{option}: column {index} is out of range; {source} has {columns} (0 to {width - 1})")
    if names:
        known = f"its columns: {', '.join(shown(name) or '(unnamed)' for name in names)}"
        if not all(name.isascii() for name in names):  # a terminal may not show them, or a keyboard type them
            known += "; or give a column's 0-based index"
    else:
        known = f"it has no header and {columns}; give a 0-based column index"
    raise InputError(f"{option}: {source} has no column {quoted(shorten(key))} ({known})")


def delimiter_option(option: str | None) -> str | None:
    """``--delimiter``: one character, or ``tab`` / ``space`` spelled out; None asks for detection."""
    if option is None:
        return None
    spelled = {"tab": "\t", "\\t": "\t", "space": WHITESPACE, "whitespace": WHITESPACE, " ": WHITESPACE}
    if option.lower() in spelled:
        return spelled[option.lower()]
    if len(option) != 1 or option in '"#\r\n.+-' or option.isalnum():
        raise InputError(
            f"--delimiter must be one character such as ',' ';' '|' or 'tab' (not a digit, '.', '#' or quote), "
            f"got {shorten(option)!r}"
        )
    return option


def careful_columns(text: str, name: str, layout: Layout, indices: list[int]) -> list[Array]:
    """Selected columns line by line: every row as wide as the first, selected cells numbers."""
    columns: list[list[float]] = [[] for _ in indices]
    labels = [quoted(layout.header[i]) if layout.header else str(i) for i in indices]
    for number, line in content_lines(text):
        if number == layout.header_line:
            continue
        if layout.delimiter is None:  # Unicode spaces would split fields: decided before splitting
            line = plain_ascii_number_text(line, f"{name} line {number}")
        fields = split_fields(line, layout.delimiter)
        if len(fields) != layout.width:
            problem = _width_problem(layout, len(fields), layout.width)
            raise InputError(f"{name} line {number}: {problem} (quote values that hold the delimiter)")
        for column, index, label in zip(columns, indices, labels, strict=True):
            column.append(parse_number(fields[index], f"{name} line {number}, column {label}", layout.delimiter))
    if not columns[0]:
        raise InputError(f"{name} holds no rows of values")
    return [np.array(column, dtype=np.float64) for column in columns]
