"""Turn what a user typed, piped or pointed at into numeric NumPy arrays.

Accepted forms (docs/architecture.md §6): literals (``2,3,4,5``, ``"2 3 4 5"``, rows split
by ``;``, JSON nested lists), files (``.csv`` ``.tsv`` ``.txt`` with header
detection, ``.npy`` loaded without pickle, ``.json``, images), ``-`` for
standard input, and two columns of one table.  Parsing knows nothing about
losses: every failure is an :class:`InputError` naming the argument and the
place.  Where an input comes from (literal or path, streams read once, the
size limit) is :mod:`lossctl.io.sources`; text tables are :mod:`lossctl.io.tables`.
"""

from __future__ import annotations

import io
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from lossctl.errors import InputError
from lossctl.io.number_text import parse_number, plain_ascii_number_text
from lossctl.io.sources import (
    decode,
    existing_path,
    is_regular,
    looks_like_path,
    read_bytes,
    read_stream,
    recovered_utf8,
    shorten,
    without_byte_order_mark,
)
from lossctl.io.tables import Table, column_index, delimiter_option, numeric_table, selected_columns

Array = np.ndarray
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
IMAGES_EXTRA = "pip install 'lossctl[images]'"
MAX_DIMENSIONS = 32  # JSON nesting accepted (NumPy allows 64 axes; no loss needs more than a handful)
NPY_HEADER_LIMIT = 1 << 20  # NumPy's default (10 KB) refuses valid float arrays with many axes or fields
__all__ = ["Table", "parse_literal", "read_array", "read_columns", "read_stdin"]


def split_literal_row(line: str) -> list[str]:
    """Fields of one literal row: by commas, else tabs, else runs of spaces."""
    delimiter = "," if "," in line else ("\t" if "\t" in line else None)
    if delimiter is None:
        return line.split()
    return [field.strip() for field in line.split(delimiter)]


def parse_rows(lines: Iterable[tuple[int, str]], where: Callable[[int], str], *, source: str) -> Array:
    """Rows of a literal as a 2-D array: same width everywhere, every field a number."""
    rows: list[list[float]] = []
    first_width = 0
    for number, raw in lines:
        line = raw.strip()
        if not line:
            continue
        fields = split_literal_row(line)
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
    return np.array(rows, dtype=np.float64)


def squeeze_table(values: Array) -> Array:
    """One row or one column reads as a vector; anything else stays a matrix."""
    if values.shape[0] == 1 or values.shape[1] == 1:
        return values.reshape(-1)
    return values


def parse_json(text: str, label: str) -> Array:
    """Nested JSON lists of numbers, checked leaf by leaf (no strings, no booleans)."""
    import json

    text = plain_ascii_number_text(text, label)
    try:
        data = json.loads(text, parse_int=float)  # ints of any length: no digit limit, inf when too large
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: invalid JSON ({exc.msg} at character {exc.pos + 1}); check the brackets") from exc
    except RecursionError as exc:
        raise InputError(f"{label}: JSON lists nested too deeply; arrays have at most {MAX_DIMENSIONS} axes") from exc
    depth = _json_depth(data)
    if depth > MAX_DIMENSIONS:
        raise InputError(
            f"{label}: JSON lists nested {depth} deep; arrays have at most {MAX_DIMENSIONS} axes (check the brackets)"
        )
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


def _json_depth(node: Any) -> int:
    """How deep the first chain of lists goes (without recursion)."""
    depth = 0
    while isinstance(node, list):
        depth += 1
        node = node[0] if node else None
    return depth


def _check_json_leaves(node: Any, label: str, path: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_json_leaves(item, label, f"{path}[{i}]")
    elif isinstance(node, bool) or not isinstance(node, (int, float)):
        import json

        raise InputError(f"{label}: {shorten(json.dumps(node))} at {path or 'top level'} is not a number")


def parse_literal(text: str, label: str) -> Array:
    """A typed literal: ``2,3,4,5``, ``"2 3 4 5"``, ``"1,2;3,4"`` or ``[[1,2],[3,4]]``."""
    stripped = plain_ascii_number_text(recovered_utf8(text).strip().lstrip("\ufeff").strip(), label).strip()
    if not stripped:
        raise InputError(f"{label} is empty: give values like 2,3,4,5")
    if stripped.startswith("[") or stripped.endswith("]"):
        return parse_json(stripped, label)
    rows = [(i + 1, row) for i, row in enumerate(re.split(r"[;\n]", stripped))]

    def where(row: int) -> str:
        return f"{label} row {row}" if len(rows) > 1 else label

    return squeeze_table(parse_rows(rows, where, source=label))


def load_npy(source: Path | bytes, label: str, name: str) -> Array:
    """A ``.npy`` file as a read-only memory map (or from bytes read off a stream); never unpickled."""
    array: object  # np.load returns Any: checked below
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(source, bytes):
                array = np.load(io.BytesIO(source), allow_pickle=False, max_header_size=NPY_HEADER_LIMIT)
            else:
                array = np.load(source, mmap_mode="r", allow_pickle=False, max_header_size=NPY_HEADER_LIMIT)
    except ValueError as exc:
        if any(marker in str(exc) for marker in ("Object arrays cannot be loaded", "Python objects in dtype")):
            raise InputError(
                f"{label}: {name} holds Python objects; lossctl never unpickles — save a numeric array"
            ) from exc
        if "Header info length" in str(exc):
            raise InputError(
                f"{label}: {name} has a .npy header longer than {NPY_HEADER_LIMIT:,} bytes; save a plain numeric array"
            ) from exc
        raise InputError(f"{label}: {name} is truncated or not a valid .npy file") from exc
    except (OSError, EOFError, SyntaxError, TypeError) as exc:
        raise InputError(f"{label}: {name} is truncated or not a valid .npy file") from exc
    if not isinstance(array, np.ndarray):
        raise InputError(f"{label}: {name} is not a single .npy array (.npz archives are not supported)")
    if array.dtype.kind not in "biuf":
        raise InputError(f"{label}: {name} holds {shorten(str(array.dtype))} values; lossctl needs a numeric array")
    if array.ndim == 0:
        array = np.asarray(array).reshape(1)
    return array


def is_image_file(source: str | None) -> bool:
    """Whether an input names an image file (read as (H, W) or (H, W, C))."""
    return source is not None and Path(source.strip()).suffix.lower() in IMAGE_SUFFIXES


def load_image(source: Path | bytes, label: str, name: str) -> Array:
    """An image through Pillow, as (H, W) or (H, W, C) with its raw values and type (uint8, uint16 …)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise InputError(f"{label}: reading {Path(name).suffix} images needs Pillow: {IMAGES_EXTRA}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                array = _pixels(image, label, name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            f"{label}: {name} has more pixels than Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} "
            "(a decompression bomb?); give a smaller image or its pixels as .npy"
        ) from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{label}: {name} is not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{label}: {name} is truncated or unreadable ({shorten(str(exc))})") from exc
    if array.dtype.kind not in "biuf":
        raise InputError(f"{label}: {name} has pixels of type {array.dtype}; lossctl needs numeric pixels")
    return array


def _pixels(image: Any, label: str, name: str) -> Array:
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise InputError(f"{label}: {name} holds {frames} frames; give a single image")
    if image.mode in ("P", "PA"):  # palette indices are not intensities
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    return np.asarray(image)


def load_file(path: Path, label: str) -> Array:
    """Any supported file, chosen by its suffix (unknown suffixes are read as text); streams read once."""
    if path.is_dir():
        raise InputError(f"{label}: {path} is a directory; give a file")
    suffix, name = path.suffix.lower(), str(path)
    if suffix == ".npz":
        raise InputError(f"{label}: .npz archives are not supported; save one array with numpy.save")
    regular = is_regular(path)
    if suffix == ".npy":
        return load_npy(path if regular else read_bytes(path, label), label, name)
    if suffix in IMAGE_SUFFIXES:
        return load_image(path if regular else read_bytes(path, label), label, name)
    return parse_text(read_bytes(path, label), label, name, json_file=suffix == ".json")


def parse_text(raw: bytes, label: str, name: str, *, json_file: bool = False) -> Array:
    """A text input (file or stream): JSON when it is a .json file or starts with ``[``, else a table."""
    raw = without_byte_order_mark(raw, label, name)
    if json_file or re.match(rb"\s*\[", raw):
        return parse_json(decode(raw, label, name), f"{label}: {name}")
    return squeeze_table(numeric_table(raw, label, name).values)


def read_stdin(label: str, stream: IO[Any] | None = None) -> Array:
    """Standard input: JSON when it starts with ``[``, else a text table."""
    raw = stdin_bytes(label, stream)
    if re.fullmatch(rb"\s*", raw):  # (no stripped copy of a large input)
        raise InputError(f"{label}: standard input is empty")
    return parse_text(raw, label, "standard input")


def stdin_bytes(label: str, stream: IO[Any] | None = None) -> bytes:
    """Every byte of standard input, once; a closed or interactive one is refused."""
    stream = sys.stdin if stream is None else stream
    if stream is None or getattr(stream, "closed", False):
        raise InputError(f"{label} is '-' but standard input is closed; pipe data in, e.g. `cat p.csv | lossctl …`")
    if hasattr(stream, "isatty") and stream.isatty():
        raise InputError(f"{label} is '-' but standard input is a terminal; pipe data in, e.g. `cat p.csv | lossctl …`")
    try:
        raw = read_stream(stream, label, "standard input")
    except OSError as exc:
        raise InputError(f"{label} is '-' but standard input cannot be read ({exc.strerror or exc})") from exc
    return without_byte_order_mark(raw, label, "standard input")


def read_array(source: str, label: str, stdin: IO[Any] | None = None) -> Array:
    """Read one array from a literal, a file path, or ``-`` (standard input).

    Text that parses as a literal is one, even when a file of that name exists
    (``./2`` reads the file ``2``); other text names a file.
    """
    text = source.strip()
    if text == "-":
        return read_stdin(label, stdin)
    literal_error: InputError | None = None
    if "/" not in text:
        try:
            return parse_literal(text, label)
        except InputError as exc:
            literal_error = exc
    path = existing_path(text, label) if text else None
    if path is not None:
        return load_file(path, label)
    if literal_error is not None and not looks_like_path(text):
        raise literal_error
    raise InputError(f"{label}: no such file {shorten(text)!r}")


def read_columns(
    source: str, pred_col: str, target_col: str, delimiter: str | None = None, stdin: IO[Any] | None = None
) -> tuple[Array, Array]:
    """Two columns of one table (``--data FILE|- --pred-col A --target-col B [--delimiter D]``)."""
    text = source.strip()
    selectors = [("--pred-col", pred_col), ("--target-col", target_col)]
    if text == "-":
        raw, name = stdin_bytes("--data", stdin), "standard input"
    else:
        path = existing_path(text, "--data")
        if path is None:
            raise InputError(f"--data: no such file {shorten(text)!r}")
        if path.is_dir():
            raise InputError(f"--data: {path} is a directory; give a file")
        name = str(path)
        if path.suffix.lower() in (".npy", ".json"):
            values = load_file(path, "--data")
            if values.ndim > 2:
                raise InputError(f"--data: {name} has shape {values.shape}; a table has rows and columns (2-D)")
            matrix = values if values.ndim == 2 else values.reshape(-1, 1)
            indices = [column_index((), matrix.shape[1], wanted, option, name) for option, wanted in selectors]
            pred, target = (np.ascontiguousarray(matrix[:, i]) for i in indices)
            return pred, target
        raw = without_byte_order_mark(read_bytes(path, "--data"), "--data", name)
    pred, target = selected_columns(raw, "--data", name, delimiter_option(delimiter), selectors)
    return pred, target
