"""Turn what a user typed, piped or pointed at into numeric NumPy arrays.

Accepted forms (DESIGN §4): literals (``2,3,4,5``, ``"2 3 4 5"``, rows split
by ``;``, JSON nested lists), files (``.csv`` ``.tsv`` ``.txt`` with header
detection, ``.npy`` loaded without pickle, ``.json``), ``-`` for standard
input, and two columns of one table.  Parsing knows nothing about losses:
every failure is an :class:`InputError` naming the argument and the place.
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from lossctl.errors import InputError

Array = np.ndarray
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FILE_SUFFIXES = (*TEXT_SUFFIXES, ".npy", ".json", *IMAGE_SUFFIXES)
IMAGES_EXTRA = "pip install 'lossctl[images]'"
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE)
_LITERAL_CHARS = re.compile(r"[\d\s.,;:+\-eE\[\]naifNAIFty]*")  # digits, separators, nan/inf(inity)


@dataclass(frozen=True)
class Table:
    """A parsed text table: optional column names and a 2-D array of values."""

    columns: tuple[str, ...] | None
    values: Array  # always 2-D: rows × columns


def parse_number(token: str, where: str) -> float:
    """One number, strictly: no underscores, no hex, no overflow to inf."""
    text = token.strip()
    if not text:
        raise InputError(f"{where}: empty value (two separators in a row?)")
    if not _NUMBER.fullmatch(text):
        raise InputError(f"{where}: {text!r} is not a number")
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise InputError(f"{where}: {text!r} is too large for a float64 (max ≈ 1.8e308)")
    return value


def split_fields(line: str, delimiter: str | None) -> list[str]:
    """Fields of one row: by the delimiter, or by commas, tabs or runs of spaces."""
    if delimiter is None:
        delimiter = "," if "," in line else ("\t" if "\t" in line else None)
    if delimiter is None:
        return line.split()
    return [field.strip() for field in line.split(delimiter)]


def _looks_numeric(fields: list[str]) -> bool:
    return all(_NUMBER.fullmatch(f.strip() or "x") for f in fields)


def parse_rows(
    lines: Iterable[tuple[int, str]],
    where: Callable[[int], str],
    *,
    source: str,
    delimiter: str | None,
    allow_header: bool,
) -> Table:
    """Parse numbered lines into a :class:`Table`, skipping blanks and ``#`` comments."""
    rows: list[list[float]] = []
    columns: tuple[str, ...] | None = None
    first_width = 0
    for number, raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = split_fields(line, delimiter)
        if not rows and columns is None and allow_header and not _looks_numeric(fields):
            columns = tuple(f.strip().strip('"') for f in fields)
            first_width = len(fields)
            continue
        if first_width and len(fields) != first_width:
            raise InputError(
                f"{where(number)}: ragged rows: this row has {len(fields)} "
                f"value{'s' if len(fields) != 1 else ''}, the first has {first_width}"
            )
        if not first_width:
            first_width = len(fields)
        rows.append([parse_number(f, f"{where(number)}, value {i + 1}") for i, f in enumerate(fields)])
    if not rows:
        raise InputError(f"{source} holds no numbers")
    return Table(columns, np.array(rows, dtype=np.float64))


def squeeze_table(values: Array) -> Array:
    """One row or one column reads as a vector; anything else stays a matrix."""
    if values.shape[0] == 1 or values.shape[1] == 1:
        return values.reshape(-1)
    return values


def parse_json(text: str, label: str) -> Array:
    """Nested JSON lists of numbers, checked leaf by leaf (no strings, no booleans)."""
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: invalid JSON ({exc.msg} at character {exc.pos + 1}); check the brackets") from exc
    _check_json_leaves(data, label, "")
    try:
        array = np.array(data, dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{label}: ragged rows: every row must have the same number of values") from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.size == 0:
        raise InputError(f"{label} is empty: give at least one value")
    if np.isinf(array).any() and "inf" not in text.lower():
        raise InputError(f"{label}: a number is too large for a float64 (max ≈ 1.8e308)")
    return array


def _check_json_leaves(node: Any, label: str, path: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_json_leaves(item, label, f"{path}[{i}]")
    elif isinstance(node, bool) or not isinstance(node, (int, float)):
        import json

        raise InputError(f"{label}: {json.dumps(node)} at {path or 'top level'} is not a number")


def parse_literal(text: str, label: str) -> Array:
    """A typed literal: ``2,3,4,5``, ``"2 3 4 5"``, ``"1,2;3,4"`` or ``[[1,2],[3,4]]``."""
    stripped = text.strip()
    if not stripped:
        raise InputError(f"{label} is empty: give values like 2,3,4,5")
    if stripped.startswith("[") or stripped.endswith("]"):
        return parse_json(stripped, label)
    rows = [(i + 1, row) for i, row in enumerate(re.split(r"[;\n]", stripped))]

    def where(row: int) -> str:
        return f"{label} row {row}" if len(rows) > 1 else label

    table = parse_rows(rows, where, source=label, delimiter=None, allow_header=False)
    return squeeze_table(table.values)


def read_text_table(text: str, name: str, delimiter: str | None) -> Table:
    """Parse the text of a file or of standard input, header detected."""
    lines = enumerate(text.splitlines(), start=1)
    return parse_rows(lines, lambda n: f"{name} line {n}", source=name, delimiter=delimiter, allow_header=True)


def _fast_text_table(path: Path, delimiter: str | None) -> Table | None:
    """NumPy's C loader for well-formed files; None sends the caller to the careful parser."""
    header: tuple[str, ...] | None = None
    skip = 0
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if delimiter is None:
                delimiter = "," if "," in stripped else ("\t" if "\t" in stripped else None)
            fields = split_fields(stripped, delimiter)
            if not _looks_numeric(fields):
                header, skip = tuple(f.strip().strip('"') for f in fields), number
            break
    if header is None and skip == 0 and not _has_content(path):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the careful parser says it better
            values = np.loadtxt(path, delimiter=delimiter, skiprows=skip, comments="#", ndmin=2, dtype=np.float64)
    except (ValueError, IndexError):
        return None
    if values.size == 0 or not np.isfinite(values).all():
        return None  # let the careful parser name the offending value
    return Table(header, values)


def _has_content(path: Path) -> bool:
    return path.stat().st_size > 0


def load_table(path: Path, label: str) -> Table:
    """A text file as a :class:`Table` (fast path first, then a precise error)."""
    delimiter = TEXT_SUFFIXES.get(path.suffix.lower())
    try:
        table = _fast_text_table(path, delimiter)
        if table is not None:
            return table
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: {path} is not a UTF-8 text file") from exc
    except OSError as exc:
        raise InputError(f"{label}: cannot read {path}: {exc.strerror}") from exc
    return read_text_table(text, f"{label}: {path}", delimiter)


def load_npy(path: Path, label: str) -> Array:
    """A ``.npy`` file as a read-only memory map; object arrays (pickles) are refused."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if any(marker in str(exc) for marker in ("allow_pickle", "Object arrays", "Python objects")):
            raise InputError(
                f"{label}: {path} holds Python objects; lossctl never unpickles — save a numeric array"
            ) from exc
        raise InputError(f"{label}: {path} is truncated or not a valid .npy file ({exc})") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"{label}: {path} is truncated or not a valid .npy file") from exc
    if not isinstance(array, np.ndarray):
        raise InputError(f"{label}: {path} is not a single .npy array (.npz archives are not supported)")
    if array.dtype.kind not in "biuf":
        raise InputError(f"{label}: {path} holds {array.dtype} values; lossctl needs a numeric array")
    if array.ndim == 0:
        array = np.asarray(array).reshape(1)
    return array


def is_image_file(source: str | None) -> bool:
    """Whether an input names an image file (read as (H, W) or (H, W, C))."""
    return source is not None and Path(source.strip()).suffix.lower() in IMAGE_SUFFIXES


def load_image(path: Path, label: str) -> Array:
    """An image file through Pillow, as (H, W) or (H, W, C) with its raw values and type (uint8, uint16 …)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise InputError(f"{label}: reading {path.suffix} images needs Pillow: {IMAGES_EXTRA}") from exc
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise InputError(f"{label}: {path} holds {frames} frames; give a single image")
            if image.mode in ("P", "PA"):  # palette indices are not intensities
                image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
            array = np.asarray(image)
    except UnidentifiedImageError as exc:
        raise InputError(f"{label}: {path} is not an image Pillow can read") from exc
    except OSError as exc:
        raise InputError(f"{label}: {path} is truncated or unreadable ({exc})") from exc
    if array.dtype.kind not in "biuf":
        raise InputError(f"{label}: {path} has pixels of type {array.dtype}; lossctl needs numeric pixels")
    return array


def load_file(path: Path, label: str) -> Array:
    """Any supported file, chosen by its suffix (unknown suffixes are read as text)."""
    if path.is_dir():
        raise InputError(f"{label}: {path} is a directory; give a file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path, label)
    if suffix in IMAGE_SUFFIXES:
        return load_image(path, label)
    if suffix == ".npz":
        raise InputError(f"{label}: .npz archives are not supported; save one array with numpy.save")
    try:
        if suffix == ".json":
            return parse_json(path.read_text(encoding="utf-8"), f"{label}: {path}")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: {path} is not a UTF-8 text file") from exc
    except OSError as exc:
        raise InputError(f"{label}: cannot read {path}: {exc.strerror}") from exc
    return squeeze_table(load_table(path, label).values)


def read_stdin(label: str, stream: IO[Any] | None = None) -> Array:
    """Standard input: JSON when it starts with ``[``, else a text table."""
    stream = sys.stdin if stream is None else stream
    if stream is None or (hasattr(stream, "isatty") and stream.isatty()):
        raise InputError(f"{label} is '-' but standard input is a terminal; pipe data in, e.g. `cat p.csv | lossctl …`")
    raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{label}: standard input is not UTF-8 text") from exc
    text = raw.lstrip("\ufeff")
    if not text.strip():
        raise InputError(f"{label}: standard input is empty")
    if text.lstrip().startswith("["):
        return parse_json(text, f"{label} (stdin)")
    return squeeze_table(read_text_table(text, f"{label} (stdin)", None).values)


def read_array(source: str, label: str, stdin: IO[Any] | None = None) -> Array:
    """Read one array from a literal, a file path, or ``-`` (standard input)."""
    text = source.strip()
    if text == "-":
        return read_stdin(label, stdin)
    if not text or (_LITERAL_CHARS.fullmatch(text) and not _exists(text)):
        return parse_literal(text, label)
    path = Path(text).expanduser()
    if _exists(text):
        return load_file(path, label)
    if path.suffix.lower() in FILE_SUFFIXES or path.suffix.lower() == ".npz" or "/" in text:
        raise InputError(f"{label}: no such file {text!r}")
    return parse_literal(text, label)


def _exists(text: str) -> bool:
    """Whether a path exists; a long literal is not an error ("file name too long")."""
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False


def read_columns(path_text: str, pred_col: str, target_col: str) -> tuple[Array, Array]:
    """Two columns of one table (``--data FILE --pred-col A --target-col B``)."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise InputError(f"--data: no such file {path_text!r}")
    if path.is_dir():
        raise InputError(f"--data: {path} is a directory; give a file")
    if path.suffix.lower() in (".npy", ".json"):
        values = load_file(path, "--data")
        table = Table(None, values if values.ndim == 2 else values.reshape(-1, 1))
    else:
        table = load_table(path, "--data")
    return (
        _column(table, pred_col, "--pred-col", path),
        _column(table, target_col, "--target-col", path),
    )


def _column(table: Table, wanted: str, option: str, path: Path) -> Array:
    names = table.columns or ()
    if wanted in names:
        return np.ascontiguousarray(table.values[:, names.index(wanted)])
    lowered = [n.lower() for n in names]
    if wanted.lower() in lowered:
        return np.ascontiguousarray(table.values[:, lowered.index(wanted.lower())])
    width = table.values.shape[1]
    if re.fullmatch(r"-?\d+", wanted.strip()):
        index = int(wanted)
        if -width <= index < width:
            return np.ascontiguousarray(table.values[:, index])
        raise InputError(f"{option}: column {index} is out of range; {path} has {width} columns (0 to {width - 1})")
    known = f"its columns: {', '.join(names)}" if names else "it has no header; give a 0-based column index"
    raise InputError(f"{option}: {path} has no column {wanted!r} ({known})")
