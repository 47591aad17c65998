"""Write result arrays to files atomically (temporary file, then rename)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.numbers import full

SAVE_SUFFIXES = (".npy", ".csv", ".png")


def check_output_path(path: Path, option: str, inputs: Iterable[str]) -> None:
    """Refuse unknown suffixes, missing folders and paths that are also inputs."""
    if path.suffix.lower() not in SAVE_SUFFIXES:
        raise InputError(f"{option}: {path} must end in .npy, .csv or .png (a heat map)")
    if path.suffix.lower() == ".png":
        from lossctl.io.heatmap import require_pillow

        require_pillow(option)
    if not path.parent.exists():
        raise InputError(f"{option}: folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(f"{option}: {path} is a directory")
    target = path.resolve()
    for source in inputs:
        if source and source != "-" and Path(source).expanduser().resolve() == target:
            raise InputError(f"{option}: {path} is also an input; write to another file")


@contextmanager
def npy_writer(path: Path, option: str) -> Iterator[Callable[[tuple[int, ...], Any], np.ndarray]]:
    """Allocate a .npy file as a writable memory map, filled block by block; renamed into place on success."""
    import tempfile

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    opened: list[np.ndarray] = []

    def allocate(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        array = np.lib.format.open_memmap(temporary, mode="w+", dtype=dtype, shape=shape)
        opened.append(array)
        return array

    try:
        yield allocate
        for array in opened:
            array.flush()
        opened.clear()
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"{option}: cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_array(path: Path, array: np.ndarray, option: str = "--save-elements", *, signed: bool = False) -> None:
    """Save ``array`` as .npy, .csv or a .png heat map (``signed``: centred on 0); never half-written."""
    try:
        _write_atomically(path, array, option, signed)
    except OSError as exc:
        raise InputError(f"{option}: cannot write {path}: {exc.strerror or exc}") from exc


def _write_atomically(path: Path, array: np.ndarray, option: str, signed: bool) -> None:
    import tempfile  # only when writing: it pulls in random and hashlib

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            if path.suffix.lower() == ".npy":
                np.save(stream, array, allow_pickle=False)
            elif path.suffix.lower() == ".png":
                from lossctl.io.heatmap import write_heatmap

                write_heatmap(stream, array, option, signed=signed)
            else:
                matrix = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(-1, 1)
                for row in matrix.tolist():
                    stream.write((",".join(full(v) for v in row) + "\n").encode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
