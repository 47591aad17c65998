"""--engine dask on a LocalCluster of 2 worker processes on 127.0.0.1 (skipped without dask/distributed).

The answers must equal the local engine's bit for bit (exact partial sums), also when a worker is
killed while its tasks are in flight, and through --scheduler / DASK_SCHEDULER_ADDRESS.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossctl.evaluation.batches import evaluate_table, make_plan
from lossctl.io.arrow import Columns, open_table
from tests.conftest import assert_usage_error, run_cli

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")

SHARDS = 24


@pytest.fixture(scope="module")
def cluster():
    import logging

    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local,
        distributed.Client(local) as client,
    ):  # fmt: skip
        yield local, client


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(11)
    n = 24_000
    table = pa.table(
        {
            "y": rng.normal(size=n),
            "y_hat": rng.normal(size=n) * 3,
            "split": rng.choice(["train", "val", "test"], n),
        }
    )
    for part in range(SHARDS):
        pq.write_table(table.slice(part * n // SHARDS, n // SHARDS), folder / f"part-{part:02}.parquet")
    return folder


def local_and_dask(client, source_text, loss, reduction, group_by=(), **hooks):
    from lossctl.evaluation.distributed import evaluate_on_dask

    plan = make_plan(loss, reduction=reduction)
    source = open_table(source_text, Columns("y_hat", "y", keys=group_by))
    local = evaluate_table(plan, source.batches, group_by=source.keys, key_values=source.key_values)
    dask = evaluate_on_dask(plan, open_table(source_text, Columns("y_hat", "y", keys=group_by)), client=client, **hooks)
    return local, dask


@pytest.mark.parametrize(("loss", "reduction"), [("mse", "mean"), ("huber", "sum"), ("l1", "mean")])
def test_dask_equals_the_local_engine_bit_for_bit(cluster, shards, loss, reduction):
    _, client = cluster
    local, dask = local_and_dask(client, f"{shards}/*.parquet", loss, reduction, group_by=("split",))
    assert (dask.sum, dask.mean, dask.value, dask.count) == (local.sum, local.mean, local.value, local.count)
    assert dask.blocks == local.blocks and dask.rows == local.rows == 24_000
    assert dask.groups == local.groups


def test_a_killed_worker_is_retried_and_the_answer_is_unchanged(cluster, shards):
    _, client = cluster
    killed = []

    def kill_one_worker(dask):
        pids = dask.run(os.getpid)  # {worker address: pid}
        busy = [a for a, tasks in dask.processing().items() if tasks] or list(pids)
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append(pids[busy[0]])

    local, dask = local_and_dask(client, f"{shards}/*.parquet", "mse", "mean", on_submitted=kill_one_worker)
    assert killed
    assert (dask.sum, dask.mean, dask.value) == (local.sum, local.mean, local.value)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests


def test_the_scheduler_option_and_variable_use_the_given_cluster(cluster, shards):
    local, _ = cluster
    address = local.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    args = ["mse", "--data", f"{shards}/*.parquet", "--pred-col", "y_hat", "--target-col", "y", "--format", "json"]
    by_option = run_cli([*args, "--engine", "dask", "--scheduler", address])
    by_variable = run_cli([*args, "--engine", "dask"], env={"DASK_SCHEDULER_ADDRESS": address})
    plain = run_cli(args)
    assert by_option.code == by_variable.code == plain.code == 0, by_option.stderr + by_variable.stderr
    assert json.loads(by_option.stdout) == json.loads(by_variable.stdout) == json.loads(plain.stdout)


def test_a_shard_without_the_column_is_named(cluster, tmp_path):
    local, _ = cluster
    pq.write_table(pa.table({"y": [1.0, 2.0], "y_hat": [1.0, 3.0]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"y": [1.0, 2.0], "other": [1.0, 3.0]}), tmp_path / "b.parquet")
    args = ["mse", "--data", f"{tmp_path}/*.parquet", "--pred-col", "y_hat", "--target-col", "y"]
    for engine in (["--engine", "dask", "--scheduler", local.scheduler_address], []):
        assert_usage_error(run_cli([*args, *engine]), "--pred-col", "'y_hat'", "b.parquet", "row 1")


def test_an_unreachable_scheduler_is_a_usage_error(shards):
    args = ["mse", "--data", f"{shards}/*.parquet", "--pred-col", "y_hat", "--target-col", "y", "--engine", "dask"]
    assert_usage_error(run_cli([*args, "--scheduler", "tcp://127.0.0.1:9"]), "--scheduler", "cannot reach")


def test_the_python_api_runs_dask_arrays_on_the_cluster_bit_for_bit(cluster):
    """lossctl.compute with Dask arrays under an active distributed Client: tasks run in the worker
    processes (pickled there and back) and the reductions equal compute's."""
    import dask.array as da

    import lossctl

    _, client = cluster
    rng = np.random.default_rng(5)
    pred, target = rng.normal(size=20_011), rng.normal(size=20_011)
    for loss, reduction in (("mse", "mean"), ("huber", "sum")):
        reference = lossctl.compute(loss, pred, target, reduction=reduction)
        result = lossctl.compute(loss, da.from_array(pred, chunks=3_000), da.from_array(target, chunks=4_000),
                                 reduction=reduction)  # fmt: skip
        assert (result.value, result.sum, result.mean, result.count) == (
            reference.value, reference.sum, reference.mean, reference.count,
        )  # fmt: skip
        np.testing.assert_array_equal(client.compute(result.grad).result(), reference.grad)


@pytest.fixture(scope="module")
def one_big_file(tmp_path_factory):
    """One Parquet file of 24 row groups of 1,000 rows (with a group column)."""
    path = tmp_path_factory.mktemp("one") / "big.parquet"
    rng = np.random.default_rng(12)
    n = 24_000
    table = pa.table({"y": rng.normal(size=n), "y_hat": rng.normal(size=n) * 2, "split": rng.choice(["a", "b"], n)})
    pq.write_table(table, path, row_group_size=1_000)
    return path


@pytest.mark.parametrize(("task_rows", "tasks"), [(1, 24), (3_000, 8), (5_000, 5), (10**9, 1)])
def test_one_parquet_file_is_split_into_row_group_tasks(one_big_file, task_rows, tasks):
    from lossctl.evaluation.distributed import shard_sources

    pieces = shard_sources(open_table(str(one_big_file), Columns("y_hat", "y")), task_rows)
    assert len(pieces) == tasks
    read = [sum(len(batch.pred) for batch in piece.batches()) for piece in pieces]
    assert sum(read) == 24_000 and all(rows >= min(task_rows, 1_000) for rows in read[:-1])
    offsets = [piece.row_offset for piece in pieces]
    assert offsets == [sum(read[:k]) for k in range(tasks)]


@pytest.mark.parametrize(("loss", "reduction"), [("mse", "mean"), ("smooth_l1", "sum")])
def test_row_group_tasks_equal_the_local_engine_bit_for_bit(cluster, one_big_file, loss, reduction):
    _, client = cluster
    local, dask = local_and_dask(client, str(one_big_file), loss, reduction, group_by=("split",), task_rows=3_000)
    assert (dask.sum, dask.mean, dask.value, dask.count) == (local.sum, local.mean, local.value, local.count)
    assert dask.blocks == local.blocks and dask.rows == local.rows == 24_000 and dask.groups == local.groups


def test_a_bad_row_in_a_row_group_task_is_named_by_its_row_in_the_file(cluster, tmp_path):
    local, client = cluster
    values = np.arange(10_000, dtype=float)
    values[7_654] = np.nan
    pq.write_table(pa.table({"y": np.zeros(10_000), "y_hat": values}), tmp_path / "gap.parquet", row_group_size=1_000)
    args = ["mse", "--data", str(tmp_path / "gap.parquet"), "--pred-col", "y_hat", "--target-col", "y"]
    for engine in (["--engine", "dask", "--scheduler", local.scheduler_address], []):
        assert_usage_error(run_cli([*args, *engine]), "--pred-col", "'y_hat'", "gap.parquet", "row 7655")
    from lossctl.errors import InputError
    from lossctl.evaluation.distributed import evaluate_on_dask

    source = open_table(str(tmp_path / "gap.parquet"), Columns("y_hat", "y"))
    with pytest.raises(InputError, match=r"'y_hat' of .*gap\.parquet.* holds NaN at row 7655;"):
        evaluate_on_dask(make_plan("mse"), source, client=client, task_rows=1_000)  # 10 tasks: the 8th has it


def run_lossctl(args, stderr=subprocess.PIPE):
    """lossctl in a fresh process (standard output a pipe), this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "lossctl", *args], stdout=subprocess.PIPE, stderr=stderr,
                          env=env, timeout=120, check=False)  # fmt: skip


def test_no_progress_bar_when_stderr_is_not_a_terminal(cluster, shards):
    """Nothing on stderr, in a fresh process (file descriptor 2 a pipe) and in-process for every format."""
    local, _ = cluster
    args = ["mse", "--data", f"{shards}/*.parquet", "--pred-col", "y_hat", "--target-col", "y", "--engine", "dask",
            "--scheduler", local.scheduler_address]  # fmt: skip
    run = run_lossctl([*args, "--format", "table"])  # the format that draws the bar on a terminal
    assert run.returncode == 0 and b"mse" in run.stdout, run.stderr
    assert run.stderr == b""
    for output_format in ("table", "json", "value", "csv"):
        in_process = run_cli([*args, "--format", output_format])
        assert in_process.code == 0 and in_process.stdout and in_process.stderr == ""


@pytest.mark.parametrize(("output_format", "drawn"), [("table", True), ("json", False)])
def test_dasks_progress_bar_on_a_terminal_stderr(cluster, shards, output_format, drawn):
    """stderr a terminal (a pty): Dask's bar is drawn there, unless a pipeline reads json/value on stdout."""
    local, _ = cluster
    args = ["mse", "--data", f"{shards}/*.parquet", "--pred-col", "y_hat", "--target-col", "y", "--engine", "dask",
            "--scheduler", local.scheduler_address, "--format", output_format]  # fmt: skip
    leader, follower = pty.openpty()
    try:
        run = run_lossctl(args, stderr=follower)
        os.close(follower)
        follower = -1
        terminal = b""
        while select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and everything was read
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert run.returncode == 0, terminal
    assert (b"100% Completed" in terminal) is drawn, terminal
    assert b"Completed" not in run.stdout


def test_the_progress_bar_is_dasks_drawn_on_the_given_stream(cluster, shards):
    from lossctl.evaluation.distributed import evaluate_on_dask

    _, client = cluster
    stream = io.StringIO()
    plan = make_plan("mse")
    shown = evaluate_on_dask(plan, open_table(f"{shards}/*.parquet", Columns("y_hat", "y")), client=client,
                             progress=stream)  # fmt: skip
    local = evaluate_table(plan, open_table(f"{shards}/*.parquet", Columns("y_hat", "y")).batches)
    assert "100% Completed" in stream.getvalue() and shown.value == local.value


def saved_tables(args, folder, engine):
    """Run with --save-elements/--save-grad into ``folder``; the two tables read back."""
    folder.mkdir(exist_ok=True)
    out, grad = folder / "losses.parquet", folder / "grad.parquet"
    run = run_cli([*args, *engine, "--save-elements", str(out), "--save-grad", str(grad), "--format", "json"])
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["grad.parquet", "losses.parquet"]  # no parts left
    return json.loads(run.stdout), pq.read_table(out), pq.read_table(grad)


@pytest.mark.parametrize(("loss", "reduction"), [("huber", "mean"), ("mse", "sum"), ("l1", "mean")])
def test_saves_with_dask_equal_the_local_engines_files(cluster, shards, tmp_path, loss, reduction):
    """Workers write parts into a scratch folder, merged in order: the files equal the local engine's."""
    local, _ = cluster
    args = [loss, "--data", f"{shards}/*.parquet", "--pred-col", "y_hat", "--target-col", "y",
            "--keep-col", "split", "--reduction", reduction]  # fmt: skip
    dask = saved_tables(args, tmp_path / "dask", ["--engine", "dask", "--scheduler", local.scheduler_address])
    plain = saved_tables(args, tmp_path / "local", [])
    assert dask[1].equals(plain[1]) and dask[2].equals(plain[2])
    assert dask[1].column_names == ["split", "loss"] and dask[1].num_rows == 24_000
    assert {k: v for k, v in dask[0].items() if k not in ("elements", "grad")} == {
        k: v for k, v in plain[0].items() if k not in ("elements", "grad")
    }


def test_saves_from_row_group_tasks_of_one_file(cluster, one_big_file, tmp_path, monkeypatch):
    import lossctl.evaluation.distributed as distributed_engine

    monkeypatch.setattr(distributed_engine, "TASK_ROWS", 5_000)  # 5 tasks over the file's 24 row groups
    local, _ = cluster
    args = ["smooth_l1", "--data", str(one_big_file), "--pred-col", "y_hat", "--target-col", "y", "--keep-col", "split"]
    dask = saved_tables(args, tmp_path / "dask", ["--engine", "dask", "--scheduler", local.scheduler_address])
    plain = saved_tables(args, tmp_path / "local", [])
    assert dask[1].equals(plain[1]) and dask[2].equals(plain[2]) and dask[1].num_rows == 24_000


@pytest.mark.parametrize("reduction", ["mean", "sum"])  # sum: parts are written by the first round of tasks
def test_a_failed_dask_run_leaves_no_file_and_no_parts(cluster, tmp_path, reduction):
    local, _ = cluster
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(4)
    for part in range(6):
        y_hat = rng.normal(size=500)
        if part == 4:
            y_hat[17] = np.nan
        pq.write_table(pa.table({"y": rng.normal(size=500), "y_hat": y_hat}), data / f"p{part}.parquet")
    out = tmp_path / "out"
    out.mkdir()
    (out / "grad.parquet").write_bytes(b"kept as it was")
    args = ["mse", "--data", f"{data}/*.parquet", "--pred-col", "y_hat", "--target-col", "y", "--engine", "dask",
            "--scheduler", local.scheduler_address, "--save-elements", str(out / "losses.parquet"),
            "--save-grad", str(out / "grad.parquet"), "--reduction", reduction]  # fmt: skip
    assert_usage_error(run_cli(args), "--pred-col", "p4.parquet", "row 18")
    assert [p.name for p in out.iterdir()] == ["grad.parquet"]  # no new file, no hidden parts folder
    assert (out / "grad.parquet").read_bytes() == b"kept as it was"


def test_the_local_cluster_is_quiet_when_the_dashboard_port_is_taken(shards):
    """Without --scheduler lossctl starts its own LocalCluster: nothing on stderr even if another cluster (or
    anything) holds Dask's default dashboard port 8787."""
    import socket

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:  # already taken by someone else: the case under test anyway
        pass
    try:
        args = ["mse", "--data", f"{shards}/*.parquet", "--pred-col", "y_hat", "--target-col", "y", "--engine", "dask",
                "--workers", "1", "--format", "value"]  # fmt: skip
        run = run_lossctl(args)
    finally:
        holder.close()
    assert run.returncode == 0 and run.stderr == b"", run.stderr
    assert float(run.stdout) == float(run_cli([*args[:7], "--format", "value"]).stdout)
