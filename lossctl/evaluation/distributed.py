"""``--engine dask``: the same batch evaluation as Dask tasks, one per shard, partial sums combined exactly.

``pip install 'lossctl[dask]'``.  Each task opens one file (fragment) of the ``--data`` table, evaluates
its record batches with :func:`lossctl.evaluation.batches.evaluate_batch` and returns its
:class:`~lossctl.evaluation.batches.Partials`: Python integers of the exact sums and counts, overall and
per group (keys decoded to their values, since each worker numbers the values it sees).  Only these
partial sums cross the network; the client adds them, so sum, mean and value equal the local engine's
bit for bit whatever the number of workers, the order tasks finish in or a task retried after a worker
died.

``scheduler`` (``--scheduler``, else ``DASK_SCHEDULER_ADDRESS``) connects to an existing cluster, whose
workers need lossctl and pyarrow installed; without it a ``LocalCluster`` of ``workers`` processes (one
thread each) listens on 127.0.0.1 only and is closed afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import replace
from typing import Any, TextIO

from lossctl.errors import InputError
from lossctl.evaluation.batches import (
    Partials,
    Plan,
    combine,
    evaluate_batch,
    groups_of,
    make_plan,
    scaled_grad,
)
from lossctl.evaluation.table_result import TableSummary

DASK_EXTRA = "pip install 'lossctl[dask]'"
DEFAULT_WORKERS = 2
RETRIES = 3  # a task whose worker died is run again (Dask's own allowed-failures also applies)
CONNECT_SECONDS = 10
TASK_ROWS = 1 << 20  # rows per task at least, from a Parquet file's consecutive row groups (16 MiB per 2 columns)


def shard_sources(source: Any, task_rows: int | None = None) -> list[Any]:
    """The table's tasks (:meth:`lossctl.io.arrow.TableSource.pieces`): one per file, and a Parquet file of
    several row groups cut into runs of about ``task_rows`` rows (:data:`TASK_ROWS`)."""
    return list(source.pieces(TASK_ROWS if task_rows is None else task_rows))


def evaluate_shard(
    loss: str,
    options: dict[str, Any],
    source: Any,
    index: int = 0,
    saves: Any = None,
    want_grad: bool = False,
    scale: float | None = None,
) -> Partials:
    """One Dask task: every batch of one shard, summed exactly; group keys as value tuples.  With ``saves``
    (:class:`lossctl.io.parquet_rows.ParquetParts`) the rows are also written, as part ``index``: losses, and
    with ``want_grad`` gradients times ``scale`` (∂value/∂Σ, known before this pass)."""
    plan = make_plan(loss, **options)
    partials = Partials()
    sink = saves.part(index) if saves is not None else None
    for batch in source.batches():
        if len(batch.pred) == 0:
            partials.dropped += batch.dropped
            continue
        batch_partials, elements, grad = evaluate_batch(plan, batch, want_grad=want_grad and sink is not None)
        partials += batch_partials
        if sink is not None:
            sink(batch, elements, scaled_grad(grad, scale, plan))
    if sink is not None:
        sink.close()
    names = list(source.keys)
    decoded = {
        tuple(source.key_values[name][code] for name, code in zip(names, key, strict=True)): partial
        for key, partial in partials.groups.items()
    }
    return replace(partials, groups=decoded)


def evaluate_on_dask(
    plan: Plan,
    source: Any,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    on_submitted: Callable[[Any], None] | None = None,
    task_rows: int | None = None,
    progress: TextIO | None = None,
    saves: Any = None,
    want_grad: bool = False,
) -> TableSummary:
    """The table's summary computed by Dask tasks (``client``: an existing ``distributed.Client``;
    ``task_rows``: rows per task from a Parquet file's row groups, default :data:`TASK_ROWS`;
    ``progress``: a stream on which Dask's text progress bar is drawn while the tasks run).

    ``saves`` (:class:`lossctl.io.parquet_rows.ParquetParts`): the tasks also write their rows (gradients
    too with ``want_grad``) as parts, merged in the table's order at the end.  As on the local engine, the
    gradient of a mean needs the overall count first, so it is written by a second round of tasks."""
    pieces = shard_sources(source, task_rows)
    options = {
        "reduction": plan.reduction,
        "dtype": plan.dtype,
        "allow_nonfinite": plan.allow_nonfinite,
        "activation": plan.activation,
        "params": dict(plan.params),
    }
    early_scale = 1.0 if plan.reduction == "sum" and plan.spec.reductions.transform is None else None
    first_pass_writes = saves is not None and (not want_grad or early_scale is not None)
    with _client(client, scheduler, workers) as dask:

        def run(writes: Any, scale: float | None, hook: Callable[[Any], None] | None = None) -> list[Partials]:
            count = len(pieces)
            futures = dask.map(evaluate_shard, [plan.spec.name] * count, [options] * count, pieces, range(count),
                               [writes] * count, [want_grad] * count, [scale] * count,
                               pure=False, retries=RETRIES)  # fmt: skip
            if hook is not None:
                hook(dask)
            if progress is not None:
                draw_progress(dask, futures, progress)
            return list(dask.gather(futures))

        results = run(saves if first_pass_writes else None, early_scale, on_submitted)
        total = Partials()
        for partial in results:
            total += partial
        if total.overall.rows == 0:
            raise InputError("--data: no rows left to evaluate" + (" after --dropna" if total.dropped else ""))
        summary, final_scale = combine(plan, total, total.row_shape)
        if saves is not None and not first_pass_writes:
            run(saves, final_scale)
    if saves is not None:
        saves.merge([partial.overall.rows for partial in results])
    identity = {name: None for name in source.keys}
    groups = groups_of(plan, total, list(source.keys), identity) if source.keys else ()
    return TableSummary(summary, total.overall.rows, total.dropped, tuple(source.keys), groups)


def draw_progress(client: Any, futures: list[Any], stream: TextIO) -> None:
    """Dask's own text progress bar (``distributed.progress``) for ``futures``, drawn on ``stream``; returns
    when every task has finished (or one failed: ``gather`` then raises).  Dask draws on standard output,
    so that is ``stream`` while the bar runs (lossctl writes nothing else until the tasks are done)."""
    from distributed.diagnostics.progressbar import TextProgressBar

    with redirect_stdout(stream):
        TextProgressBar(futures, scheduler=client.scheduler.address, complete=True)


@contextmanager
def _client(client: Any, scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """The given client; one connected to ``scheduler``; or a local cluster on 127.0.0.1, closed at the end."""
    if client is not None:
        yield client
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise InputError(f"--engine dask needs dask and distributed: {DASK_EXTRA}") from exc
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address is not None:
        try:
            connected = Client(address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler: cannot reach the Dask scheduler at {address} ({exc}); is it running?"
            ) from exc
        with connected:
            yield connected
        return
    count = DEFAULT_WORKERS if workers is None else workers
    if count < 1:
        raise InputError(f"--workers must be at least 1, got {count}")
    cluster = LocalCluster(
        n_workers=count,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # its HTTP server on a free loopback port: no warning if 8787 is taken
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as local:
        yield local


__all__ = ["draw_progress", "evaluate_on_dask", "evaluate_shard", "shard_sources"]
