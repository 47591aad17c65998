"""--data tables without the extras: the base install says what to install, and the built-in reader stays."""

from __future__ import annotations

import pytest

import lossctl.cli.tables
import lossctl.io.arrow
from tests.conftest import assert_usage_error, run_cli


@pytest.fixture
def without_pyarrow(monkeypatch):
    monkeypatch.setattr(lossctl.io.arrow, "pyarrow_available", lambda: False)


@pytest.mark.parametrize(
    "source",
    ["preds.parquet", "runs.feather", "shards/*.parquet", "s3://bucket/preds/"],
)
def test_columnar_sources_name_the_extra(without_pyarrow, source):
    run = run_cli(["mse", "--data", source, "--pred-col", "a", "--target-col", "b"])
    assert_usage_error(run, "--data", "pip install 'lossctl[tables]'")


@pytest.mark.parametrize("option", [["--group-by", "split"], ["--dropna"], ["--weight-col", "w"]])
def test_table_options_name_the_extra(without_pyarrow, tmp_path, option):
    (tmp_path / "t.csv").write_text("a,b,split,w\n1,2,x,1\n3,5,y,1\n")
    run = run_cli(["mse", "--data", str(tmp_path / "t.csv"), "--pred-col", "a", "--target-col", "b", *option])
    assert_usage_error(run, "pip install 'lossctl[tables]'")


def test_csv_still_reads_with_the_builtin_reader(without_pyarrow, tmp_path):
    (tmp_path / "t.csv").write_text("a,b,note\n1,2,x\n3,5,y\n")
    run = run_cli(["mse", "--data", str(tmp_path / "t.csv"), "--pred-col", "a", "--target-col", "b", "-f", "value"])
    assert run.code == 0 and float(run.stdout) == 2.5


@pytest.mark.parametrize(
    "args",
    [
        ["--group-by", "split"],
        ["--keep-col", "id"],
        ["--engine", "dask"],
        ["--scheduler", "tcp://127.0.0.1:8786"],
    ],
)
def test_table_options_need_data(args):
    assert_usage_error(run_cli(["mse", "--pred", "1,2", "--target", "1,3", *args]), "--data")
