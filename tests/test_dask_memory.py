"""Bounded worker memory for --engine dask (slow: about half a minute here; ``-m 'not slow'`` leaves it out).

A generated table of ``LOSSCTL_DASK_MEMORY_ROWS`` rows (default the issue's 10⁸: 1.5 GiB of float64 in 4
Parquet shards, 1 Mi-row row groups, so about 100 row-group tasks) is reduced on a LocalCluster of 2 worker
processes.  Each worker's peak resident memory (VmHWM, reset through /proc/self/clear_refs once the worker
has imported everything) must grow by less than one shard would take (so neither the table nor a whole
file is ever held), and the answer must equal the exact mean computed here shard by shard.
Measured here: +6 MiB per worker over a 200 MiB baseline for 10⁸ rows (≈ 30 s); +3 MiB for 4·10⁷.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from lossctl.evaluation.batches import make_plan
from lossctl.evaluation.exact import ExactSum
from lossctl.io.arrow import Columns, open_table

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
distributed = pytest.importorskip("distributed")

ROWS = int(os.environ.get("LOSSCTL_DASK_MEMORY_ROWS", 100_000_000))
SHARDS = 4
GROWTH_MIB = 96  # a worker holds one run of row groups (16 MiB of two columns) and a few batches: not a shard

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning"),
    pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS is reset through Linux's /proc"),
]


def reset_peak() -> None:
    """Linux: the peak resident set size (VmHWM) starts again from the current one."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def peak_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def test_worker_memory_stays_bounded_whatever_the_table_size(tmp_path):
    from lossctl.evaluation.distributed import evaluate_on_dask

    rng = np.random.default_rng(8)
    total = ExactSum()
    per_shard = ROWS // SHARDS
    for shard in range(SHARDS):
        y_hat, y = rng.normal(size=per_shard), rng.normal(size=per_shard)
        total.add((y_hat - y) ** 2)
        table = pa.table({"y_hat": y_hat, "y": y})
        pq.write_table(table, tmp_path / f"part-{shard:02}.parquet", row_group_size=1 << 20)
        del y_hat, y, table
    data_mib = ROWS * 16 / 2**20
    plan = make_plan("mse")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        # a warm-up on one shard, read as the measured run reads (a glob: a pyarrow dataset; one file given
        # by name is read without importing pyarrow.dataset, whose import alone would then count as growth)
        evaluate_on_dask(plan, open_table(f"{tmp_path}/part-0[0].parquet", Columns("y_hat", "y")), client=client)
        client.run(reset_peak)  # after a warm-up task: imports and pools are the baseline
        baseline = client.run(peak_mib)
        summary = evaluate_on_dask(plan, open_table(f"{tmp_path}/*.parquet", Columns("y_hat", "y")), client=client)
        peaks = client.run(peak_mib)
    growth = {worker: peaks[worker] - baseline[worker] for worker in peaks}
    assert summary.rows == per_shard * SHARDS
    assert summary.value == total.rounded() / (per_shard * SHARDS)
    assert max(growth.values()) < min(GROWTH_MIB, data_mib / SHARDS / 2), (growth, baseline, data_mib)
    print(f"{ROWS:,} rows ({data_mib:.0f} MiB): worker peak growth {growth} MiB over {baseline}")
