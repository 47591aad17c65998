"""The command line: output formats, options, errors and the real process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_usage_error

MSE = ["mse", "--pred", "2,3,4,5", "--target", "4,5,6,7"]


def test_table_shows_elements_gradients_and_summary(cli) -> None:
    run = cli(MSE)
    assert run.code == 0 and run.stderr == ""
    lines = run.stdout.splitlines()
    header = next(line for line in lines if "index" in line)
    assert header.split() == ["index", "pred", "target", "loss", "grad"]
    rows = [line.split() for line in lines if line.strip()[:1].isdigit() and len(line.split()) == 5]
    assert [row[3:] for row in rows] == [["4", "-1"]] * 4
    assert any(line.split() == ["sum", "16"] for line in lines)
    assert any(line.split() == ["mean", "4"] for line in lines)
    assert any(line.split()[:2] == ["value", "(mean)"] and line.split()[-1] == "4" for line in lines)
    assert "\x1b[" not in run.stdout  # no colour when not a terminal


def test_large_inputs_show_head_and_tail(cli) -> None:
    values = ",".join(str(i) for i in range(100))
    run = cli(["l1", "--pred", values, "--target", values])
    assert run.code == 0
    assert "85 of 100 rows not shown" in run.stdout
    assert " 99 " in run.stdout and " 50 " not in run.stdout


def test_json_keys_and_round_trip_precision(cli) -> None:
    got = cli(["huber", "--pred", "0.1,0.7", "--target", "0.3,2.2", "-f", "json"]).json()
    assert list(got)[:11] == [
        "loss",
        "params",
        "reduction",
        "shape",
        "dtype",
        "value",
        "sum",
        "mean",
        "count",
        "elements",
        "grad",
    ]
    assert got["params"] == {"delta": 1.0}
    expected = (0.5 * abs(0.1 - 0.3) * abs(0.1 - 0.3) + 1.0 * (abs(0.7 - 2.2) - 0.5)) / 2
    assert got["value"] == expected  # exact: floats are printed with full round-trip precision


def test_reduction_none_value_is_the_elements(cli) -> None:
    got = cli([*MSE, "-r", "none", "-f", "json"]).json()
    assert got["value"] == got["elements"] == [4.0] * 4
    assert got["grad"] == [-4.0] * 4
    assert cli([*MSE, "-r", "none", "-f", "value"]).stdout == "4.0\n4.0\n4.0\n4.0\n"


def test_reduction_sum_scales_gradient(cli) -> None:
    got = cli([*MSE, "--reduction", "sum", "-f", "json"]).json()
    assert got["value"] == 16.0 and got["grad"] == [-4.0] * 4


def test_value_format_for_shell(cli) -> None:
    assert cli([*MSE, "--format", "value"]).stdout == "4.0\n"


def test_csv_format(cli) -> None:
    run = cli(["mse", "--pred", "1,2;3,4", "--target", "3,5;8,6", "-f", "csv"])
    lines = run.stdout.splitlines()
    assert lines[0] == "index,i0,i1,pred,target,loss,grad"
    assert lines[3] == "2,1,0,3.0,8.0,25.0,-2.5"


def test_float32(cli) -> None:
    got = cli(["mse", "--pred", "0.1", "--target", "0.3", "--dtype", "float32", "-f", "json"]).json()
    assert got["dtype"] == "float32"
    difference = np.float32(0.1) - np.float32(0.3)
    expected = difference * difference  # float32 × float32 (NumPy 1.x turns float32 ** 2 into a float64)
    assert got["value"] == float(expected)


def test_precision_controls_table_digits(cli) -> None:
    run = cli(["mse", "--pred", "0", "--target", "0.123456789", "--precision", "3"])
    assert "0.0152" in run.stdout and "0.01524" not in run.stdout


def test_parameters_and_aliases(cli) -> None:
    assert cli(["pinball", "--pred", "1,3", "--target", "2,2", "--q", "0.9", "-f", "value"]).stdout == "0.5\n"
    assert cli(["smooth-l1", "--pred", "0,3", "--target", "0,0", "--beta", "0", "-f", "value"]).stdout == "1.5\n"


def test_stdin_dash(cli) -> None:
    got = cli(["mse", "--pred", "-", "--target", "4,5,6,7", "-f", "json"], stdin="2\n3\n4\n5\n").json()
    assert got["value"] == 4.0


def test_data_columns(cli, tmp_path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("y_hat,y\n2,4\n3,5\n4,6\n5,7\n")
    got = cli(["l1", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "-f", "json"]).json()
    assert got["value"] == 2.0


def test_save_elements_and_grad(cli, tmp_path) -> None:
    elements, grad = tmp_path / "e.npy", tmp_path / "g.csv"
    run = cli([*MSE, "--save-elements", str(elements), "--save-grad", str(grad), "-f", "value"])
    assert run.code == 0
    np.testing.assert_array_equal(np.load(elements), [4.0] * 4)
    assert grad.read_text() == "-1.0\n" * 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_list_and_info(cli) -> None:
    listed = cli(["list", "-f", "json"]).json()
    assert {"l1", "mse", "huber", "smooth_l1", "log_cosh", "quantile"} <= {e["name"] for e in listed}
    info = cli(["info", "mae", "-f", "json"]).json()
    assert info["name"] == "l1" and info["pytorch"] == "torch.nn.functional.l1_loss"
    table = cli(["info", "huber"])
    assert table.code == 0 and "delta" in table.stdout and "clip" in table.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["mse", "--pred", "1,2,3", "--target", "1,2"], ["--target has 2 values but --pred has 3"]),
        (["mse", "--pred", "1,2;3,4", "--target", "1,2"], ["--target has 2 values but --pred has shape (2, 2)"]),
        (["mse", "--pred", "1,abc", "--target", "1,2"], ["--pred", "'abc' is not a number"]),
        (["mse", "--pred", "", "--target", "1"], ["--pred is empty"]),
        (["mse", "--target", "1"], ["--pred is required"]),
        (["mse", "--pred", "1"], ["mse needs --target"]),
        (["mse", "--pred", "nope.csv", "--target", "1"], ["--pred: no such file 'nope.csv'"]),
        (["msee", "--pred", "1", "--target", "1"], ["unknown loss 'msee'", "did you mean 'mse'"]),
        (["quantile", "--pred", "1", "--target", "1", "--q", "1.5"], ["--q must be in (0, 1), got 1.5"]),
        (["huber", "--pred", "1", "--target", "1", "--delta", "0"], ["--delta must be in (0, inf)"]),
        (["smooth_l1", "--pred", "1", "--target", "1", "--beta", "-1"], ["--beta must be in [0, inf)"]),
        (["huber", "--pred", "1", "--target", "1", "--delta", "x"], ["--delta"]),
        (["huber", "--pred", "1", "--target", "1", "--bogus", "1"], ["No such option: --bogus"]),
        (["mse", "--pred", "1,nan", "--target", "1,2"], ["--pred[1] is nan", "--allow-nonfinite"]),
        (["mse", "--pred", "1", "--target", "1", "-r", "max"], ["--reduction must be one of mean, sum, none"]),
        (["mse", "--pred", "1", "--target", "1", "-f", "yaml"], ["--format must be one of"]),
        (["mse", "--pred", "1", "--target", "1", "--dtype", "float16"], ["--dtype must be one of"]),
        (["mse", "--pred", "-", "--target", "-"], ["only one input can be '-'"]),
        (["msle", "--pred", "-2,1", "--target", "1,1"], ["--pred must be > -1", "--pred[0] is -2"]),
        (["mse", "--pred", "1e999", "--target", "1"], ["too large"]),
        (["info", "hubr"], ["did you mean 'huber'"]),
        (["mse", "--pred-col", "a", "--target", "1"], ["need --data"]),
    ],
)
def test_usage_errors(cli, args, fragments) -> None:
    assert_usage_error(cli(args), *fragments)


def test_nonfinite_allowed_on_request(cli) -> None:
    run = cli(["mse", "--pred", "1,nan", "--target", "1,2", "--allow-nonfinite", "-f", "json"])
    assert run.code == 0 and json.loads(run.stdout)["value"] is None


def test_save_to_an_input_path_is_refused(cli, tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("1\n2\n")
    assert_usage_error(
        cli(["mse", "--pred", str(path), "--target", "1,2", "--save-elements", str(path)]), "is also an input"
    )
    assert path.read_text() == "1\n2\n"


def test_internal_errors_are_one_line_and_mention_debug(cli, monkeypatch) -> None:
    import lossctl.cli.commands

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(lossctl.cli.commands, "compute", broken)
    run = cli(MSE)
    assert run.code == 70 and run.stdout == "" and "--debug" in run.stderr and "Traceback" not in run.stderr


def test_python_dash_m_is_a_real_process() -> None:
    done = subprocess.run([sys.executable, "-m", "lossctl", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "mse" in done.stdout and "huber" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "lossctl", *MSE, "-f", "value"], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "4.0\n", "")
    done = subprocess.run(
        [sys.executable, "-m", "lossctl", "mse", "--pred", "1", "--target", "1,2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == "" and done.stderr.startswith("error: --target")


def test_version(cli) -> None:
    from lossctl import __version__

    assert cli(["--version"]).stdout == f"lossctl {__version__}\n"
