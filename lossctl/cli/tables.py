"""``--data`` tables through pyarrow: options, routing, per-group results and Parquet outputs.

Routing (:func:`table_route`): a Parquet/Feather/Arrow source, a glob, a folder, a URL, a
column pattern or any table-only option (``--group-by``, ``--weight-col``, ``--keep-col``,
``--dropna``, ``--engine dask``) runs here and needs pyarrow; a plain CSV file may run here (pyarrow's
multi-threaded reader) when the answer cannot differ from the built-in reader's (see
:func:`_pyarrow_reads_it_alike`), and falls back to the built-in reader when pyarrow refuses it.
pyarrow, Dask and the table modules are imported only on these paths.
"""

from __future__ import annotations

import mmap
import sys
import warnings
from pathlib import Path
from typing import Any

from lossctl.errors import ExitStatus, InputError, LossctlWarning
from lossctl.io.outputs import OutputSet
from lossctl.losses.spec import LossSpec

TABLE_ONLY = ("weight_col", "group_by", "keep_col", "dropna", "scheduler", "workers")
SAVES = {"--save-elements": "save_elements", "--save-grad": "save_grad"}
PER_ELEMENT = ("explain", "expect_grad")
ENGINES = ("local", "dask")
PYARROW_CSV_FROM_BYTES = 1 << 20  # smaller CSV files: the built-in reader is as fast as importing pyarrow


def table_route(options: dict[str, Any], loss: str = "") -> str | None:
    """ "table": this module must run; "try": it may (plain CSV, pyarrow installed); None: the built-in path."""
    data = options.get("data")
    asked = [f"--{name.replace('_', '-')}" for name in TABLE_ONLY if options.get(name)]
    if options.get("engine", "local") != "local":
        asked.append("--engine")
    if data is None:
        if asked:
            raise InputError(f"{asked[0]} applies to --data tables; give --data FILE")
        return None
    from lossctl.io.arrow import is_pattern, needs_pyarrow  # --data given: the table modules are needed now

    patterned = is_pattern(options.get("pred_col") or "")
    parquet_saves = [o for o, name in SAVES.items() if str(options.get(name) or "").lower().endswith(".parquet")]
    if asked or patterned or parquet_saves or needs_pyarrow(data):
        return "table"
    return "try" if _pyarrow_reads_it_alike(options, loss) else None


def _pyarrow_reads_it_alike(options: dict[str, Any], loss: str) -> bool:
    """Whether pyarrow's multi-threaded reader may read a plain CSV file in place of the built-in reader.

    Only when the answer cannot differ: the output is the bare value (``--format value``, mean or sum,
    nothing per element, no --expect, no --allow-nonfinite); the loss has no answer hints (they read the
    whole columns); the file is large enough to be worth it and holds no ``#`` (the built-in reader's
    comments, and its refusal of rows that start with one); its columns are read as float64, decimal
    numbers only, as the built-in reader reads them; and whatever pyarrow refuses is read again by the
    built-in reader, whose message
    names the line and the value.  The exact sums make the value the same bit for bit.
    """
    from lossctl.homework.hints import may_hint
    from lossctl.io.table_files import pyarrow_available

    per_element = ("explain", "expect", "expect_grad", *SAVES.values())
    if options.get("format") != "value" or options.get("reduction") not in ("mean", "sum"):
        return False
    if options.get("allow_nonfinite"):  # pyarrow reads 1e400 as inf; the built-in reader refuses it
        return False
    if any(options.get(name) for name in per_element) or may_hint(loss) or not pyarrow_available():
        return False
    path = Path(str(options["data"]).strip()).expanduser()
    try:
        if not path.is_file() or path.stat().st_size < PYARROW_CSV_FROM_BYTES:
            return False
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as content:
            return content.find(b"#") == -1
    except (OSError, ValueError):
        return False  # the built-in reader says what is wrong with it


def refuse_parquet_saves(options: dict[str, Any]) -> None:
    """Outside --data tables a .parquet save has no rows to key: say what to use."""
    for option, name in SAVES.items():
        if str(options.get(name) or "").lower().endswith(".parquet"):
            raise InputError(f"{option}: .parquet files are written for --data tables; use .npy or .csv")


def run_table(spec: LossSpec, options: dict[str, Any], outputs: OutputSet) -> int:
    """Read the table batch by batch, evaluate (locally or on Dask), save and print."""
    from lossctl.evaluation.batches import evaluate_table, make_plan
    from lossctl.io.arrow import Columns, open_table, split_names
    from lossctl.io.memory import reuse_freed_blocks
    from lossctl.io.parquet_rows import ParquetParts, ParquetRows

    reuse_freed_blocks()  # batch after batch, the same sizes: no page faults for each (lossctl/io/memory.py)
    engine = options.get("engine") or "local"
    if engine not in ENGINES:
        raise InputError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    for option in ("explain", "expect_grad"):
        if options.get(option):
            raise InputError(f"--{option.replace('_', '-')} shows every element; it does not apply to --data tables")
    for option, name in SAVES.items():
        given = options.get(name)
        if given is not None and not str(given).lower().endswith(".parquet"):
            raise InputError(f"{option}: --data tables save rows as .parquet (with --keep-col keys); got {given}")
    if options.get("pred") is not None or options.get("target") is not None:
        raise InputError("--data replaces --pred and --target; give one or the other")
    if options.get("pred_col") is None or options.get("target_col") is None:
        raise InputError("--data needs --pred-col and --target-col (column names, 0-based indices or a pattern)")
    columns = Columns(
        pred=options["pred_col"],
        target=options["target_col"],
        weight=options.get("weight_col"),
        keys=split_names(options.get("group_by")),
        keep=split_names(options.get("keep_col")),
    )
    if options.get("keep_col") and not any(options.get(name) for name in SAVES.values()):
        raise InputError("--keep-col names columns written beside --save-elements FILE.parquet; give one")
    source = open_table(
        options["data"],
        columns,
        delimiter=options.get("delimiter"),
        dropna=options.get("dropna", False),
        allow_nonfinite=options["allow_nonfinite"],
    )
    hyper = {p.name: options[p.name] for p in spec.hyper_params}
    tensors = {p.name: text for p in spec.tensor_params if (text := options.get(p.name)) is not None}
    if tensors:
        from lossctl.io.inputs import read_array

        hyper.update({name: read_array(text, f"--{name.replace('_', '-')}") for name, text in tensors.items()})
    plan = make_plan(
        spec,
        reduction=options["reduction"],
        dtype=options["dtype"],
        allow_nonfinite=options["allow_nonfinite"],
        activation=options.get("activation"),
        params=hyper,
    )
    staged = {option: given for option in SAVES if (given := outputs.get(option)) is not None}
    saving = list(staged)
    sink = ParquetRows({o: (str(s.path), str(s.temporary)) for o, s in staged.items()}, source.keep)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LossctlWarning)
        if engine == "dask":
            from lossctl.evaluation.distributed import evaluate_on_dask

            parts = None
            if saving:  # the workers write parts into scratch folders; merged into the staged files
                folders = {o: (str(s.path), str(outputs.scratch_folder(o))) for o, s in staged.items()}
                parts = ParquetParts(folders, {o: str(s.temporary) for o, s in staged.items()}, tuple(source.keep))
            summary = evaluate_on_dask(
                plan,
                source,
                scheduler=options.get("scheduler"),
                workers=options.get("workers"),
                progress=progress_stream(options["format"]),
                saves=parts,
                want_grad="--save-grad" in outputs,
            )
        else:
            summary = evaluate_table(
                plan,
                source.batches,
                group_by=source.keys,
                key_values=source.key_values,
                sink=sink if saving else None,
                want_grad="--save-grad" in outputs,
            )
    sink.close()
    from dataclasses import replace

    from lossctl.cli.output import SAVED_AS, publish, report_warnings, verdicts

    report_warnings(caught)
    saved = {SAVED_AS[option]: path for option, path in outputs.names().items()}
    summary = replace(summary, overall=replace(summary.overall, saved=saved))
    found = verdicts(summary, options)
    publish(outputs, lambda: emit_table(summary, options["format"], options["precision"], found))
    return ExitStatus.MISMATCH if found and not all(v.ok for v in found) else ExitStatus.OK


def progress_stream(output_format: str) -> Any:
    """Where Dask's progress bar goes: stderr on a terminal, and never while a pipeline reads json/value."""
    if not sys.stderr.isatty():
        return None
    if output_format in ("json", "value") and not sys.stdout.isatty():
        return None
    return sys.stderr


def emit_table(summary: Any, output_format: str, precision: int, verdicts: list[Any]) -> None:
    """value | json | csv (one row per group, then the overall row) | table."""
    from lossctl.cli.output import close_with, emit, verdict_lines

    if output_format in ("value", "table") and not summary.groups:
        emit(summary.overall, output_format, precision, verdicts=verdicts)
        return
    lines = verdict_lines(verdicts, precision)
    if output_format == "json":
        from lossctl.numbers import jsonable
        from lossctl.render.machine import json_line

        extra = {"expect": [v.as_dict() for v in verdicts]} if verdicts else {}
        sys.stdout.write(json_line(jsonable({**summary.to_dict(), **extra})))
        close_with([])
        return
    if output_format == "value":
        from lossctl.render.machine import full

        sys.stdout.write(full(summary.value) + "\n")
        close_with(lines)
        return
    if output_format == "csv":
        sys.stdout.write(groups_csv(summary))
        close_with(lines)
        return
    print_groups(summary, precision)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


def group_rows(summary: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: the group columns, rows, count, sum, mean, value; the overall row last (keys empty)."""
    header = [*summary.group_by, "rows", "count", "sum", "mean", "value"]
    rows = [[*g.key.values(), g.rows, g.count, g.sum, g.mean, g.value] for g in summary.groups]
    overall = summary.overall
    keys = [None] * len(summary.group_by)
    rows.append([*keys, summary.rows, overall.count, overall.sum, overall.mean, overall.value])
    return header, rows


def groups_csv(summary: Any) -> str:
    import csv
    import io

    from lossctl.numbers import full

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header, rows = group_rows(summary)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else full(v) if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


def print_groups(summary: Any, precision: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from lossctl.render.table import short

    table = Table(title=f"{summary.loss} by {', '.join(summary.group_by)} ({summary.reduction})")
    header, rows = group_rows(summary)
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index < len(summary.group_by) else "right")
    for number, row in enumerate(rows):
        overall = number == len(rows) - 1
        width = len(summary.group_by)
        cells = [("(all)" if overall and i == 0 else "") if v is None else str(v) for i, v in enumerate(row[:width])]
        cells += [str(row[width])] + [short(v, precision) for v in row[width + 1 :]]
        table.add_row(*cells, style="bold" if overall else None, end_section=number == len(rows) - 2)
    Console(highlight=False).print(table)
    if summary.dropped:
        sys.stdout.write(f"{summary.dropped:,} rows with missing values skipped (--dropna)\n")
