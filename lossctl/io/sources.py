"""Where an input comes from: literal or path, and its bytes read exactly once.

The rule (README, Inputs): text that parses as a literal *is* a literal, even
when a file of that name exists — ``--pred 2`` is the number 2, ``--pred ./2``
reads the file ``2``.  Text that is not a literal is a path; when no such file
exists and the text looks like a file name (it holds a ``/`` or ends in a
suffix such as ``.csv``), the message says "no such file".

Pipes, FIFOs, ``<(…)`` process substitution, ``/dev/stdin`` and standard
input are read into memory once, never re-opened; every text input, and every
input read from a stream, stops at ``max_input_bytes()`` (1 GiB, or the
``LOSSCTL_MAX_TEXT_BYTES`` environment variable) rather than grow without end.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import sys
from pathlib import Path
from typing import IO, Any

from lossctl.errors import InputError

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
LIMIT_VARIABLE = "LOSSCTL_MAX_TEXT_BYTES"
CHUNK = 1 << 20
SHOWN_CHARS = 40
# Checked in this order: the UTF-32 LE mark begins with the UTF-16 LE one.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,9}$")


def recovered_utf8(text: str) -> str:
    """An argument as typed in UTF-8, when a non-UTF-8 locale (``LC_ALL=C`` without Python's UTF-8 mode)
    decoded its bytes as surrogate escapes (``pr\\udcc3\\udca9d`` is ``préd``); unchanged otherwise
    (bytes that are not UTF-8 stay escaped)."""
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    try:
        return os.fsencode(text).decode("utf-8")
    except UnicodeError:
        return text


def _stderr_shows(text: str) -> bool:
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True


def shown(text: str) -> str:
    """User text (a column name) in a message: as it is where standard error can show it, else with
    backslash escapes (``pr\\xe9d``) rather than spelled in ASCII look-alikes that name another column."""
    return text if _stderr_shows(text) else text.encode("ascii", "backslashreplace").decode("ascii")


def quoted(text: str) -> str:
    """``repr(text)``, escaped as :func:`ascii` where standard error cannot show it (a surrogate escape,
    ``é`` on an ASCII terminal)."""
    written = repr(text)
    return written if _stderr_shows(written) else ascii(text)


def shorten(text: str, keep: int = SHOWN_CHARS) -> str:
    """User text fit for a one-line message: the first ``keep`` characters and "…" when longer."""
    return text if len(text) <= keep + 10 else f"{text[:keep]}… ({len(text):,} characters)"


def max_input_bytes() -> int:
    """The largest text (or streamed) input read into memory: 1 GiB unless LOSSCTL_MAX_TEXT_BYTES says.

    Unset or empty means the default; anything but a whole number of bytes ≥ 1 is refused (a limit
    silently ignored would let a typo decide how much memory a run may take).
    """
    value = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_MAX_BYTES
    digits = value.replace("_", "")
    if digits.isascii() and digits.isdigit() and int(digits) > 0:
        return int(digits)
    raise InputError(
        f"{LIMIT_VARIABLE}={shorten(value)!r} is not a number of bytes ≥ 1; set it to a whole number such as "
        f"{DEFAULT_MAX_BYTES} (1 GiB, the default), or unset it"
    )


def size_text(count: int) -> str:
    """``1 GiB``, ``512 MiB`` or ``1,000 bytes``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size:,} {unit}"
    return f"{count:,} bytes"


def too_large(label: str, name: str) -> InputError:
    limit = max_input_bytes()
    return InputError(
        f"{label}: {name} holds more than {size_text(limit)} of text (the limit, set by {LIMIT_VARIABLE}); "
        "save large inputs as .npy"
    )


def looks_like_path(text: str) -> bool:
    """A ``/``, a leading ``~`` or a letter suffix (``.csv``, ``.cvs``): meant as a file name."""
    return "/" in text or text.startswith("~") or bool(_FILE_SUFFIX.search(text))


def existing_path(text: str, label: str) -> Path | None:
    """The path ``text`` names when something is there; None when nothing is."""
    path = Path(text).expanduser()
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG and looks_like_path(text):
            raise InputError(
                f"{label}: the file name {shorten(text)!r} is too long for the system; use a shorter path"
            ) from exc
        return None
    except ValueError:  # a NUL character
        return None
    return path


def is_regular(path: Path) -> bool:
    """A plain file (memory-mappable, re-readable), not a pipe, FIFO or device."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def read_stream(stream: IO[Any], label: str, name: str) -> bytes:
    """Every byte of a stream, read once, refused beyond the limit."""
    limit = max_input_bytes()
    reader = getattr(stream, "buffer", stream)
    data = bytearray()
    while len(data) <= limit:
        chunk = reader.read(min(CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk.encode("utf-8") if isinstance(chunk, str) else chunk
    raise too_large(label, name)


def read_bytes(path: Path, label: str) -> bytes:
    """A file's bytes, read once (regular files, FIFOs, ``/dev/stdin`` alike)."""
    try:
        if not is_regular(path):
            with path.open("rb") as handle:
                return read_stream(handle, label, str(path))
        limit = max_input_bytes()
        if path.stat().st_size > limit:
            raise too_large(label, str(path))
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # one allocation of the file's size
        if len(data) > limit:  # it grew while it was read
            raise too_large(label, str(path))
        return data
    except OSError as exc:
        raise InputError(f"{label}: cannot read {path}: {exc.strerror or exc}") from exc


def without_byte_order_mark(raw: bytes, label: str, name: str) -> bytes:
    """UTF-8 bytes with any UTF-8/16/32 byte-order mark removed (UTF-16/32 text re-encoded)."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            body = raw[len(mark) :]
            if encoding == "utf-8":
                return body
            try:
                return body.decode(encoding).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{label}: {name} is not a UTF-8 text file (it starts with a {encoding.upper()} "
                    "byte-order mark but does not decode as such)"
                ) from exc
    return raw


def decode(raw: bytes, label: str, name: str) -> str:
    """Strict UTF-8 text (no byte-order mark)."""
    try:
        return raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: {name} is not a UTF-8 text file") from exc
