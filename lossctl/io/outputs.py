"""The output files of one run, staged beside their destinations and published together.

:class:`OutputSet` is the only way lossctl writes a file.  Before any input is
read it checks every requested destination (suffix, folder, a regular file,
not an input, not another output) and creates one temporary file per output in
the destination's folder — so an unwritable folder, a name too long or a
read-only file system fail at once, the same way on the in-memory and the
block-wise path.  Writers fill the temporary files; :meth:`OutputSet.commit`
renames them all into place only when every one was written.  A run that fails
or is interrupted (Ctrl-C, SIGTERM, SIGHUP) removes them and leaves every
existing file as it was.  A replaced file keeps its permission bits; a new one
gets ``0666`` minus the umask, as a shell redirection would.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from lossctl.errors import InputError
from lossctl.io.process import signals_deferred

SAVE_SUFFIXES = (".npy", ".csv", ".png", ".parquet")  # .parquet: --data tables (lossctl.cli.tables)
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
TEMPORARY_SUFFIX = ".tmp"


@dataclass
class Staged:
    """One output: the name the user gave, the file that will be replaced, and its temporary twin."""

    option: str
    path: Path  # as given (stripped), for messages and the JSON summary
    destination: Path  # symlinks resolved: the file that gets replaced
    temporary: Path
    scratch: list[Path] = field(default_factory=list)  # working files of the block-wise path, always removed

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


class OutputSet:
    """Every ``--save-*`` file of one run: checked and staged up front, committed together or not at all.

    Use it as a context manager around the whole run: leaving it by an exception
    (including KeyboardInterrupt and :class:`lossctl.process.Terminated`) removes the staged files.
    """

    def __init__(self, requests: Mapping[str, Path | str | None], inputs: Mapping[str, str | None] | None = None):
        self._staged: dict[str, Staged] = {}
        given = {option: _clean(option, path) for option, path in requests.items() if path is not None}
        for option, path in given.items():
            check_destination(path, option)
        _refuse_shared_files(given, {k: v for k, v in (inputs or {}).items() if v is not None})
        with signals_deferred():  # a signal between creating a file and recording it would leak it
            try:
                for option, path in given.items():
                    destination = Path(os.path.realpath(path))
                    self._staged[option] = Staged(option, path, destination, _create_beside(destination, option))
            except BaseException:
                self.discard()
                raise

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.discard()  # after a commit there is nothing left to remove

    def __contains__(self, option: str) -> bool:
        return option in self._staged

    def __iter__(self) -> Iterator[Staged]:
        return iter(list(self._staged.values()))

    def get(self, option: str) -> Staged | None:
        return self._staged.get(option)

    def names(self) -> dict[str, str]:
        """option → the file name as the user gave it."""
        return {option: str(staged.path) for option, staged in self._staged.items()}

    def write(self, option: str, fill: Callable[[Any], None]) -> None:
        """Open the staged file of ``option`` for binary writing and let ``fill`` write it."""
        staged = self._staged[option]
        with _write_errors(staged), open(staged.temporary, "wb") as stream:
            fill(stream)

    def save(self, option: str, array: Any, *, signed: bool = False) -> None:
        """Write ``array`` to the staged file of ``option`` in the format its name asks for."""
        from lossctl.io.save import write_array

        suffix = self._staged[option].suffix
        self.write(option, lambda stream: write_array(stream, array, suffix, option, signed=signed))

    def memmap(self, option: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """The staged .npy file of ``option`` as a writable memory map (filled block by block)."""
        staged = self._staged[option]
        return _open_memmap(staged, staged.temporary, shape, dtype)

    def scratch(self, option: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """A memory-mapped working array beside the output (removed at the end, whatever happens)."""
        staged = self._staged[option]
        with signals_deferred():
            path = _create_beside(staged.destination, option, tag="part")
            staged.scratch.append(path)
        return _open_memmap(staged, path, shape, dtype)

    def scratch_folder(self, option: str) -> Path:
        """A private working folder beside the output (``--engine dask`` workers write their parts into it),
        removed at the end, whatever happens."""
        staged = self._staged[option]
        with signals_deferred():
            path = _create_beside(staged.destination, option, tag="parts", directory=True)
            staged.scratch.append(path)
        return path

    def commit(self) -> None:
        """Give each staged file its final permissions and rename it into place."""
        with signals_deferred():
            for staged in self._staged.values():
                with _write_errors(staged):
                    os.chmod(staged.temporary, _final_mode(staged.destination))
            for option, staged in list(self._staged.items()):
                _remove(staged.scratch)
                with _write_errors(staged):
                    os.replace(staged.temporary, staged.destination)
                del self._staged[option]

    def discard(self) -> None:
        """Remove every staged and working file; existing files stay as they were."""
        with signals_deferred():
            for staged in self._staged.values():
                _remove([staged.temporary, *staged.scratch])
            self._staged.clear()


def _clean(option: str, path: Path | str) -> Path:
    """The file name with surrounding whitespace removed (as inputs are read) and ``~`` expanded."""
    text = str(path).strip()
    if not text:
        raise InputError(f"{option}: the file name is empty")
    return Path(text).expanduser()


def check_destination(path: Path, option: str) -> None:
    """Refuse an unknown suffix, a missing folder, a name too long and a destination that is not a file."""
    if path.suffix.lower() not in SAVE_SUFFIXES:
        raise InputError(
            f"{option}: {path} must end in .npy, .csv or .png (a heat map); --data tables also save .parquet"
        )
    if path.suffix.lower() == ".png":
        from lossctl.io.heatmap import require_pillow

        require_pillow(option)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise InputError(f"{option}: file name too long ({len(os.fsencode(path.name))} bytes, at most {NAME_MAX})")
    folder = path.parent
    try:
        if not folder.is_dir():
            reason = "is not a folder" if folder.exists() else "does not exist"
            raise InputError(f"{option}: folder {folder} {reason}; create it first")
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"{option}: cannot write {path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        raise InputError(f"{option}: {path} is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise InputError(
            f"{option}: {path} is not a regular file (a device, pipe or socket); lossctl saves only to files"
        )
    if not os.access(path, os.W_OK):
        raise InputError(f"{option}: {path} is read-only; make it writable or write to another file")


def _refuse_shared_files(outputs: dict[str, Path], inputs: Mapping[str, str]) -> None:
    """No output may be an input, and no two outputs the same file (symlinks, ``..``, hard links)."""
    sources = [(option, Path(name)) for option, name in _input_files(inputs)]
    seen: list[tuple[str, Path]] = []
    for option, path in outputs.items():
        for input_option, source in sources:
            if _same_file(path, source):
                raise InputError(f"{option}: {path} is also an input ({input_option}); write to another file")
        for other_option, other in seen:
            if _same_file(path, other):
                raise InputError(f"{option}: {path} is also {other_option}; give each output its own file")
        seen.append((option, path))


def _input_files(inputs: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(option, file) for every file an input names: itself, a glob's matches, a folder's files."""
    for option, given in inputs.items():
        text = given.strip()
        if not text:
            continue
        if text == "-":  # standard input redirected from a file (< in.csv) is that file
            yield option, "/dev/stdin"
            continue
        expanded = os.path.expanduser(text)
        if glob.has_magic(expanded):
            for match in glob.glob(expanded, recursive=True):
                yield option, match
        elif os.path.isdir(expanded):
            for folder, _, files in os.walk(expanded):
                for name in files:
                    yield option, os.path.join(folder, name)
        else:
            yield option, expanded


def _same_file(first: Path, second: Path) -> bool:
    """The same file after resolving symlinks, ``.`` and ``..``, or the same inode (hard links)."""
    try:
        if os.path.realpath(first) == os.path.realpath(second):
            return True
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def _create_beside(destination: Path, option: str, tag: str = "", *, directory: bool = False) -> Path:
    """A new, empty, private file (or folder) in the destination's folder, named after it (hidden, ``.tmp``)."""
    folder = destination.parent
    marker = f".{tag}" if tag else ""
    room = NAME_MAX - len(os.fsencode(f"..{marker}.12345678{TEMPORARY_SUFFIX}"))
    stem = os.fsdecode(os.fsencode(destination.name)[:room]) if room > 0 else ""
    for _ in range(100):
        path = folder / f".{stem}{marker}.{os.urandom(4).hex()}{TEMPORARY_SUFFIX}"
        try:
            if directory:
                os.mkdir(path, 0o700)
                return path
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"{option}: cannot write into {folder}: {exc.strerror or exc}") from exc
        os.close(handle)
        return path
    raise InputError(f"{option}: cannot create a temporary file in {folder}")


def _open_memmap(staged: Staged, path: Path, shape: tuple[int, ...], dtype: Any) -> Any:
    """A writable memory map whose disk space is reserved now: a full disk is an error here, not a SIGBUS later."""
    import numpy as np

    with _write_errors(staged):
        array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        with open(path, "r+b") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size and hasattr(os, "posix_fallocate"):
                os.posix_fallocate(stream.fileno(), 0, size)
        return array


@contextmanager
def _write_errors(staged: Staged) -> Iterator[None]:
    """OSError while writing (a full disk, a quota) → one line naming the option, the file and the reason."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"{staged.option}: cannot write {staged.path}: {exc.strerror or exc}") from exc


def _final_mode(destination: Path) -> int:
    """The permission bits of the file being replaced, or ``0666`` minus the umask for a new one."""
    try:
        return stat.S_IMODE(os.stat(destination).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():  # a scratch folder (parts written by Dask workers)
            shutil.rmtree(path, ignore_errors=True)
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # a folder gone read-only: nothing more can be done about a hidden .tmp
