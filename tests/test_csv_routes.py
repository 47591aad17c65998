"""A plain CSV read by pyarrow (``-f value``, pyarrow installed) gives what the built-in reader gives.

``lossctl.cli.tables`` lets pyarrow's multi-threaded reader take a plain CSV file when only the value is
printed; every answer, message and exit status must be the built-in reader's (``-f json`` keeps the
built-in reader): for every loss a two-column table can hold, and for the spellings of a cell that the
two readers could read differently.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import lossctl.cli.commands
import lossctl.cli.tables
import lossctl.homework.hints
from lossctl.losses.registry import LOSSES
from tests.conftest import run_cli

pytest.importorskip("pyarrow")


@pytest.fixture
def routes(monkeypatch):
    """Every CSV may take the pyarrow route; records whether it did."""
    monkeypatch.setattr(lossctl.cli.tables, "PYARROW_CSV_FROM_BYTES", 0)
    taken: list[str] = []
    original = lossctl.cli.tables.run_table

    def spy(*args, **kwargs):
        taken.append("pyarrow")
        return original(*args, **kwargs)

    monkeypatch.setattr(lossctl.cli.commands, "run_table", spy)
    return taken


def both_readers(path, loss: str, *extra: str):
    argv = [loss, "--data", str(path), "--pred-col", "p", "--target-col", "t", *extra]
    return run_cli([*argv, "-f", "json"]), run_cli([*argv, "-f", "value"])


def assert_same_answer(builtin, fast) -> None:
    assert fast.code == builtin.code, (builtin, fast)
    assert fast.stderr == builtin.stderr
    if builtin.code == 0:
        value = json.loads(builtin.stdout)["value"]  # JSON spells inf "inf" and NaN null
        want, got = float("nan") if value is None else float(value), float(fast.stdout)
        assert got == want or (math.isnan(got) and math.isnan(want)), (want, got)


def two_columns(spec, rng):
    for _ in range(20):
        inputs = spec.testing.sample(rng)
        pred, target = inputs.get("pred"), inputs.get("target")
        if set(inputs) - {"pred", "target"} or pred is None or target is None:
            continue
        if pred.ndim == 1 and np.shape(target) == pred.shape and pred.size >= 2:
            return np.tile(pred, 20), np.tile(target, 20)
    return None


CSV_LOSSES = [
    name
    for name, spec in LOSSES.items()
    if spec.target != "none" and not spec.images and not any(p.required for p in spec.tensor_params)
]


@pytest.mark.parametrize("name", CSV_LOSSES)
def test_every_loss_gives_the_built_in_readers_answer(tmp_path, routes, name):
    spec = LOSSES[name]
    found = two_columns(spec, np.random.default_rng(11))
    if found is None:
        pytest.skip(f"{name}: its sample is not two columns")
    pred, target = found
    path = tmp_path / "t.csv"
    np.savetxt(path, np.column_stack([pred, target]), delimiter=",", header="p,t", comments="", fmt="%.17g")
    for reduction in ("mean", "sum"):
        builtin, fast = both_readers(path, name, "--reduction", reduction)
        assert_same_answer(builtin, fast)
    assert routes or lossctl.homework.hints.may_hint(name)  # the pyarrow route was taken where it may be


CELLS = [
    "1.5",
    " 2",
    "+3",
    ".5",
    "5.",
    "1e5",
    "1E-3",
    "-0",
    "007",
    '"7"',
    "inf",
    "-Infinity",
    "INF",
    "nan",
    "NaN",
    "NA",
    "null",
    "",
    "0x10",
    "true",
    "1_0",
    "\u22121",
    "\u0661",
    "1e400",
    "4.9e-324",
    "2.2250738585072014e-308",
    "1e-400",
    "0.1000000000000000055511151231257827",
    "9007199254740993",
    "1,5",
    "1.5.2",
    "- 1",
    "1e",
    "e5",
]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("extra", [[], ["--allow-nonfinite"]])
def test_cell_spellings_read_alike(tmp_path, routes, cell, extra):
    path = tmp_path / "t.csv"
    quoted = f'"{cell}"' if "," in cell else cell
    path.write_text(f"p,t\n{quoted},1\n2,3\n4,4.5\n")
    assert_same_answer(*both_readers(path, "mse", *extra))


@pytest.mark.parametrize(
    "table",
    [
        "p,t\n1,2\n#2,3\n",  # a row the built-in reader refuses (it would read as a comment)
        "# predictions\np,t\n1,2\n2,3\n",  # a comment on the first line
        "p,t\n1,2\n3,4 # checked\n",
        "p,t\n1,2\n\n3,4\n",  # a blank line
        "p,t\r\n1,2\r\n3,4\r\n",
        "\ufeffp,t\n1,2\n3,4\n",  # a byte-order mark
        "p,t\n1,2\n3,4,5\n",  # a ragged row
        "p,t,p\n1,2,3\n3,4,5\n",  # a duplicated column name
        "p;t\n1;2\n3;4\n",
        "p\tt\n1\t2\n3\t4\n",
        "p t\n1 2\n3 4\n",
    ],
)
def test_files_read_alike(tmp_path, routes, table):
    path = tmp_path / "t.csv"
    path.write_bytes(table.encode())
    assert_same_answer(*both_readers(path, "mse"))
    if "#" in table:
        assert not routes  # the built-in reader's comments: pyarrow never reads such a file


def test_small_files_and_per_element_outputs_stay_with_the_built_in_reader(tmp_path, monkeypatch):
    taken: list[str] = []
    monkeypatch.setattr(lossctl.cli.commands, "run_table", lambda *a, **k: taken.append("pyarrow"))
    path = tmp_path / "t.csv"
    path.write_text("p,t\n1,2\n3,5\n")
    assert run_cli(["mse", "--data", str(path), "--pred-col", "p", "--target-col", "t", "-f", "value"]).code == 0
    assert not taken  # below PYARROW_CSV_FROM_BYTES
    monkeypatch.setattr(lossctl.cli.tables, "PYARROW_CSV_FROM_BYTES", 0)
    for extra in (["-f", "json"], ["--expect", "2.5"], ["--explain"], ["--reduction", "none"], ["-f", "csv"]):
        run_cli(["mse", "--data", str(path), "--pred-col", "p", "--target-col", "t", *extra])
    run_cli(["mape", "--data", str(path), "--pred-col", "p", "--target-col", "t", "-f", "value"])  # it may hint
    assert not taken
