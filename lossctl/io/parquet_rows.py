"""Per-row losses and gradients of ``--data`` tables written as Parquet, batch by batch.

:class:`ParquetRows` receives each batch's losses and gradients (the ``sink`` of
:func:`lossctl.evaluation.batches.evaluate_table`) and appends them, beside the ``--keep-col`` key
columns, to the files it was given (the staged temporaries of :class:`lossctl.io.outputs.OutputSet`).

With ``--engine dask`` the rows are computed on the workers: :class:`ParquetParts` is sent to every task,
which writes its rows into ``part-NNNNNN.parquet`` in a scratch folder beside each output (a folder
the workers and the client share: the local disk for a local cluster); a part appears under its final
name only once complete, so a task retried after its worker died leaves one part.  :meth:`ParquetParts.merge`
then copies the parts, in the table's order, into the staged outputs, row group by row group.  The scratch
folders belong to the run's ``OutputSet``, which removes them whatever happens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.io.arrow_numpy import float_array

COLUMN_NAMES = {"--save-elements": "loss", "--save-grad": "grad"}


class ParquetRows:
    """A sink appending each batch's rows to Parquet files: ``files[option] = (name shown, file written)``."""

    def __init__(self, files: Mapping[str, tuple[str, str]], keep: list[str] | tuple[str, ...]):
        self.files = dict(files)
        self.keep = list(keep)
        self.writers: dict[str, Any] = {}

    def __call__(self, batch: Any, elements: Any, grad: Any) -> None:
        import pyarrow as pa

        for option, values in (("--save-elements", elements), ("--save-grad", grad)):
            if option not in self.files or values is None:
                continue
            columns = {key: batch.keep.column(key) for key in self.keep} if batch.keep is not None else {}
            columns[COLUMN_NAMES[option]] = as_column(values)
            self._write(option, pa.table(columns))

    def _write(self, option: str, table: Any) -> None:
        import pyarrow.parquet as pq

        shown, path = self.files[option]
        try:
            if option not in self.writers:
                self.writers[option] = pq.ParquetWriter(path, table.schema)
            self.writers[option].write_table(table)
        except OSError as exc:
            raise InputError(f"{option}: cannot write {shown}: {exc}") from exc

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


@dataclass(frozen=True)
class ParquetParts:
    """Where Dask tasks write their rows (``folders[option] = (name shown, scratch folder)``) and the files
    their parts are merged into (``targets[option]``: the staged temporaries)."""

    folders: dict[str, tuple[str, str]]
    targets: dict[str, str]
    keep: tuple[str, ...]

    def part(self, index: int) -> PartWriter:
        """The sink of task ``index``: its rows go to ``part-<index>.parquet`` in each folder once it closes."""
        return PartWriter(self, index)

    def merge(self, rows: list[int]) -> None:
        """Copy the parts of the tasks in order (``rows[i]``: rows task ``i`` wrote) into the targets."""
        import pyarrow.parquet as pq

        for option, (shown, folder) in self.folders.items():
            writer = None
            try:
                for index, count in enumerate(rows):
                    if count == 0:
                        continue
                    path = part_path(folder, index)
                    if not os.path.exists(path):
                        raise InputError(
                            f"{option}: the Dask workers' rows for {shown} are not in {folder}; with a remote "
                            "cluster save to a folder the workers and this machine share"
                        )
                    part = pq.ParquetFile(path)
                    for group in range(part.num_row_groups):
                        table = part.read_row_group(group)
                        writer = writer or pq.ParquetWriter(self.targets[option], table.schema)
                        writer.write_table(table)
            except OSError as exc:
                raise InputError(f"{option}: cannot write {shown}: {exc}") from exc
            finally:
                if writer is not None:
                    writer.close()


class PartWriter(ParquetRows):
    """One task's rows, written under a temporary name and renamed into place when complete."""

    def __init__(self, parts: ParquetParts, index: int):
        self.finals = {option: part_path(folder, index) for option, (_, folder) in parts.folders.items()}
        unique = f".{os.getpid()}.{os.urandom(4).hex()}.tmp"
        files = {option: (shown, self.finals[option] + unique) for option, (shown, _) in parts.folders.items()}
        super().__init__(files, parts.keep)

    def close(self) -> None:
        super().close()
        for option in self.writers:
            os.replace(self.files[option][1], self.finals[option])


def part_path(folder: str, index: int) -> str:
    return str(Path(folder) / f"part-{index:06d}.parquet")


def as_column(values: Any) -> Any:
    """A (N,) array as a float column; (N, C, …) as a fixed-size list column of the C·… values of each row."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    if values.ndim == 1:
        return float_array(values)
    flat = float_array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(values.shape[1:])))


__all__ = ["ParquetParts", "ParquetRows", "PartWriter", "as_column"]
