"""lossctl as a Unix process: its standard streams and the signals that end it.

The exit funnel (:mod:`lossctl.cli`) runs every command inside :func:`guarded_process`:

* standard output is a :class:`GuardedStdout`: every write reaches the file or
  fails loudly (Python's own buffered writer can drop the tail of a large
  write to a pipe whose reader left), a reader that went away becomes
  :class:`PipeClosed` (exit 141, quietly; Click and Rich would turn EPIPE into
  exit 1), any other failure — a closed stdout, a full disk — a one-line
  :class:`StdoutError` (exit 2);
* a stream that cannot encode Unicode (``LC_ALL=C`` without UTF-8 mode,
  ``PYTHONIOENCODING=ascii`` or ``latin-1``) gets ASCII spellings of the maths
  symbols lossctl prints (``ℓ`` → ``l``, ``Σ`` → ``sum``, ``≤`` → ``<=``) and
  ``?`` for anything else, instead of a crash;
* SIGTERM and SIGHUP raise :class:`Terminated` in the main thread, as SIGINT
  raises KeyboardInterrupt, so staged output files are removed on the way out
  (exit 128 + the signal number: 143, 129).
"""

from __future__ import annotations

import codecs
import errno
import os
import signal
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import IO, Any

from lossctl.errors import LossctlError

ASCII_ERRORS = "lossctl-ascii"  # the codec error handler registered below
ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
SIGPIPE_STATUS = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe

# ASCII spellings of the symbols lossctl prints; other letters fall back to their Unicode names.
ASCII_SPELLINGS = {
    "ℓ": "l",
    "ŷ": "y_hat",
    "Σ": "sum",
    "∑": "sum",
    "∂": "d",
    "√": "sqrt",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "≈": "~=",
    "≫": ">>",
    "≪": "<<",
    "✓": "OK",
    "✔": "OK",
    "✗": "X",
    "✘": "X",
    "−": "-",
    "–": "-",
    "—": "--",
    "·": "*",
    "∗": "*",
    "×": "x",
    "⊙": "(.)",
    "…": "...",
    "→": "->",
    "←": "<-",
    "±": "+/-",
    "‖": "||",
    "⟨": "<",
    "⟩": ">",
    "∈": " in ",
    "∉": " not in ",
    "∞": "inf",
    "′": "'",
    "•": "*",
    "§": "S",
    "½": "1/2",
    "¼": "1/4",
    "¾": "3/4",
    "ε": "eps",
    "█": "#",
    "░": ".",
    "▒": ":",
    "▓": "#",
}
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᵀ"


class PipeClosed(Exception):
    """The reader of standard output went away (``| head``, ``| true``): exit 141 without a word.

    Deliberately not an ``OSError``: Click and Rich catch EPIPE and exit 1, which would
    read as "the --expect check failed".
    """


class StdoutError(LossctlError):
    """Standard output cannot be written (closed, a full disk): one line, exit 2."""

    def __init__(self, reason: str):
        super().__init__(f"cannot write to standard output: {reason}")


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; like KeyboardInterrupt, not an ``Exception`` (nothing swallows it)."""

    def __init__(self, signum: int):
        self.signum = signum
        self.status = 128 + signum
        super().__init__(signal.Signals(signum).name)


def spell_ascii(text: str) -> str:
    """``text`` with every non-ASCII character spelled in ASCII (``?`` when there is no spelling)."""
    out: list[str] = []
    superscript = False
    for char in text:
        if char.isascii():
            out.append(char)
            superscript = False
            continue
        if char in _SUPERSCRIPTS:
            out.append(("" if superscript else "^") + _spell_char(unicodedata.normalize("NFKD", char)))
            superscript = True
            continue
        superscript = False
        out.append(_spell_char(char))
    return "".join(out)


def _spell_char(char: str) -> str:
    if char.isascii():
        return char
    if char in ASCII_SPELLINGS:
        return ASCII_SPELLINGS[char]
    name = unicodedata.name(char, "")
    if name.startswith("GREEK "):  # σ → sigma, Δ → Delta
        letter = name.split(" LETTER ")[-1].split()[0].lower()
        return letter.capitalize() if "CAPITAL" in name else letter
    if name.startswith("BOX DRAWINGS"):
        if "HORIZONTAL" in name and "VERTICAL" not in name:
            return "-"
        return "|" if "VERTICAL" in name and "HORIZONTAL" not in name else "+"
    decomposed = unicodedata.normalize("NFKD", char)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    if plain and plain.isascii():
        return ("_" + plain) if name.startswith(("SUBSCRIPT", "LATIN SUBSCRIPT")) else plain
    return "?"


def _ascii_error_handler(error: UnicodeError) -> tuple[str | bytes, int]:
    """Codec error handler: ASCII spellings for what the stream's encoding cannot hold."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    char = error.object[error.start]
    if "\udc80" <= char <= "\udcff":  # a byte of an undecodable file name (surrogateescape): write it back
        return bytes([ord(char) - 0xDC00]), error.start + 1
    end = error.start + 1
    while end < error.end and error.object[end] in _SUPERSCRIPTS and char in _SUPERSCRIPTS:
        end += 1  # a run of superscripts keeps one caret: 10⁻⁸ → 10^-8
    return spell_ascii(error.object[error.start : end]), end


codecs.register_error(ASCII_ERRORS, _ascii_error_handler)


def _is_unicode(encoding: str | None) -> bool:
    try:
        return codecs.lookup(encoding or "ascii").name.startswith("utf")
    except LookupError:
        return False


class GuardedStdout:
    """Standard output that never loses a byte silently and never crashes on an encoding.

    Text is encoded here (with ASCII spellings where the encoding falls short) and written
    to the binary buffer until every byte is taken; errors become :class:`PipeClosed` or
    :class:`StdoutError`.  Everything else (``isatty``, ``fileno``, ``encoding``) is the
    wrapped stream's, so Rich and Click see the real terminal or pipe.
    """

    def __init__(self, stream: IO[str] | None):
        self._stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.errors = "surrogateescape" if _is_unicode(self.encoding) else ASCII_ERRORS
        self._buffer = getattr(stream, "buffer", None)

    def write(self, text: str) -> int:
        stream = self._require_stream()
        if self._buffer is None:
            with _translated_errors():
                stream.write(text.encode(self.encoding, self.errors).decode(self.encoding, "replace"))
            return len(text)
        data = memoryview(text.encode(self.encoding, self.errors))
        with _translated_errors():
            while data:
                written = self._buffer.write(data)
                if written is None:  # a non-blocking descriptor that is full: try again
                    continue
                data = data[written:]
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._stream is None:
            return
        with _translated_errors():
            self._stream.flush()

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    @property
    def closed(self) -> bool:
        return self._stream is None or self._stream.closed

    def _require_stream(self) -> IO[str]:
        if self._stream is None:
            raise StdoutError(os.strerror(errno.EBADF))
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._require_stream(), name)


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError as exc:
        raise PipeClosed() from exc
    except OSError as exc:
        raise StdoutError(exc.strerror or str(exc)) from exc
    except ValueError as exc:  # "I/O operation on closed file"
        raise StdoutError(str(exc)) from exc


def silence_stdout(stream: Any) -> None:
    """Point ``stream``'s descriptor at /dev/null, so the interpreter's flush at exit has nowhere to fail."""
    with suppress(OSError, ValueError, AttributeError, StdoutError):
        fileno = stream.fileno()  # a stream without a descriptor (a test's buffer) is left alone
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)


def _occupy_closed_descriptors() -> None:
    """A closed descriptor 0–2 (``>&-``) holds /dev/null, so no file opened later lands on it."""
    for fileno in (0, 1, 2):
        try:
            os.fstat(fileno)
        except OSError:
            with suppress(OSError):
                devnull = os.open(os.devnull, os.O_RDWR)
                if devnull != fileno:
                    os.dup2(devnull, fileno)
                    os.close(devnull)


def _fit_stderr(stream: IO[str] | None) -> IO[str]:
    """Standard error that can take any text (ASCII spellings), or a sink when it is closed."""
    if stream is None:
        return open(os.devnull, "w", encoding="utf-8")
    if not _is_unicode(getattr(stream, "encoding", None)) and hasattr(stream, "reconfigure"):
        with suppress(OSError, ValueError):
            stream.reconfigure(errors=ASCII_ERRORS)
    return stream


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    for other in ENDING_SIGNALS:  # a second signal during the clean-up must not interrupt it
        signal.signal(other, signal.SIG_IGN)
    raise Terminated(signum)


@contextmanager
def ending_signals_raise() -> Iterator[None]:
    """While inside: SIGTERM and SIGHUP raise :class:`Terminated` (main thread only)."""
    previous: dict[int, Any] = {}
    try:
        for signum in ENDING_SIGNALS:
            previous[signum] = signal.signal(signum, _raise_terminated)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while a few renames or removals run to the end."""
    held = {signal.SIGINT, *ENDING_SIGNALS}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def guarded_process() -> Iterator[GuardedStdout]:
    """Guarded standard streams and signal handlers for one command; restored afterwards."""
    _occupy_closed_descriptors()
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    guard = saved_stdout if isinstance(saved_stdout, GuardedStdout) else GuardedStdout(saved_stdout)
    sys.stdout = guard
    sys.stderr = _fit_stderr(saved_stderr)
    try:
        with ending_signals_raise():
            yield guard
    finally:
        sys.stdout, sys.stderr = saved_stdout, saved_stderr


def unicode_stdout() -> bool:
    """Whether standard output takes any Unicode text (else JSON escapes it, text is spelled in ASCII)."""
    return _is_unicode(getattr(sys.stdout, "encoding", None))
