"""Large inputs through the command line: block-wise reductions, block-wise saves, lean imports.

INLINE_LIMIT and BLOCK_ELEMENTS are lowered here so that small files take the
large-input path and span many blocks; timings live in benchmarks/run.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_usage_error

import lossctl.cli.commands
import lossctl.evaluation.engine
import lossctl.io.save
from lossctl import compute


@pytest.fixture
def large(monkeypatch, tmp_path):
    """Inputs of 1,003 rows count as large, in blocks of 64 values (a ragged last block)."""
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(1003, 2)), rng.normal(size=(1003, 2))
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "t.npy", target)
    return tmp_path, pred, target


@pytest.mark.parametrize("loss", ["mse", "huber", "l1", "rmse", "log_cosh"])
def test_large_npy_inputs_reduce_in_blocks_and_save_what_memory_would_hold(cli, large, loss: str) -> None:
    folder, pred, target = large
    argv = [loss, "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy"), "-f", "json"]
    got = cli([*argv, "--save-elements", str(folder / "e.npy"), "--save-grad", str(folder / "g.npy")]).json()
    reference = compute(loss, pred, target)
    assert got["value"] == pytest.approx(reference.value, rel=1e-13)
    assert got["count"] == reference.count and got["shape"] == [1003, 2]
    assert got["elements"] == str(folder / "e.npy") and got["grad"] == str(folder / "g.npy")
    np.testing.assert_array_equal(np.load(folder / "e.npy"), reference.elements)
    np.testing.assert_allclose(np.load(folder / "g.npy"), reference.grad, rtol=1e-13, atol=1e-300)
    assert not list(folder.glob(".*.tmp"))


def test_cross_entropy_weighted_mean_in_blocks(cli, large) -> None:
    folder, _, _ = large
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(1001, 4)), rng.integers(0, 4, size=1001)
    np.save(folder / "x.npy", logits)
    np.save(folder / "y.npy", labels)
    argv = ["ce", "--pred", str(folder / "x.npy"), "--target", str(folder / "y.npy"), "--weight", "1,2,0.5,3"]
    got = cli([*argv, "--ignore-index", "2", "-f", "json", "--save-grad", str(folder / "g.npy")]).json()
    reference = compute("cross_entropy", logits, labels, weight=[1, 2, 0.5, 3], ignore_index=2)
    assert got["value"] == pytest.approx(reference.value, rel=1e-13)
    np.testing.assert_allclose(np.load(folder / "g.npy"), reference.grad, rtol=1e-12, atol=1e-300)


def test_value_and_table_for_large_inputs(cli, large) -> None:
    folder, pred, target = large
    argv = ["mse", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy")]
    value = cli([*argv, "-f", "value"])
    assert float(value.stdout) == pytest.approx(compute("mse", pred, target).value, rel=1e-13)
    table = cli(argv)
    assert table.code == 0 and "1 block)" in table.stdout and "--save-elements" in table.stdout


def test_float32_stays_float32_in_blocks(cli, large) -> None:
    folder, pred, target = large
    np.save(folder / "p32.npy", pred.astype(np.float32))
    np.save(folder / "t32.npy", target.astype(np.float32))
    argv = ["mse", "--pred", str(folder / "p32.npy"), "--target", str(folder / "t32.npy"), "--dtype", "float32"]
    run = cli([*argv, "--save-grad", str(folder / "g.npy"), "--save-elements", str(folder / "e.npy"), "-f", "json"])
    got = run.json()
    assert got["dtype"] == "float32"
    assert np.load(folder / "g.npy").dtype == np.float32 and np.load(folder / "e.npy").dtype == np.float32
    reference = compute("mse", pred.astype(np.float32), target.astype(np.float32), dtype="float32")
    np.testing.assert_array_equal(np.load(folder / "e.npy"), reference.elements)


def test_large_inputs_refuse_per_element_printing(cli, large) -> None:
    folder, _, _ = large
    argv = ["mse", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy")]
    assert_usage_error(cli([*argv, "-f", "csv"]), "--format csv", "--save-elements")
    assert_usage_error(cli([*argv, "--reduction", "none"]), "--reduction none", "--save-elements")


def test_csv_save_of_large_inputs(cli, large) -> None:
    folder, pred, target = large
    argv = ["l1", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy"), "-f", "value"]
    assert cli([*argv, "--save-elements", str(folder / "e.csv")]).code == 0
    np.testing.assert_array_equal(np.loadtxt(folder / "e.csv", delimiter=","), np.abs(pred - target))


def test_a_bad_value_deep_in_a_large_file_is_named(cli, large) -> None:
    folder, pred, _ = large
    pred[977, 1] = np.inf
    np.save(folder / "bad.npy", pred)
    run = cli(["mse", "--pred", str(folder / "bad.npy"), "--target", str(folder / "t.npy"), "-f", "value"])
    assert_usage_error(run, "--pred[977, 1] is inf")


@pytest.mark.parametrize("output", ["value", "json", "csv"])
def test_machine_formats_import_neither_rich_nor_pydantic(output: str) -> None:
    """The tiny call of shell loops must not pay for Rich (table only) or Typer's Pydantic coercion."""
    code = (
        "import sys\n"
        f"sys.argv = ['lossctl', 'mse', '--pred', '2,3,4,5', '--target', '4,5,6,7', '-f', '{output}']\n"
        "from lossctl.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'pydantic', 'PIL', 'matplotlib'))\n"
        "print('MODULES', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES"))
    assert line == "MODULES []", line
    assert done.stdout


def test_json_summary_says_where_arrays_are_when_not_saved(cli, large) -> None:
    folder, _, _ = large
    got = cli(["mse", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy"), "-f", "json"]).json()
    assert "elements" not in got and "--save-elements" in got["arrays"]
    assert json.dumps(got)  # still one plain JSON object


# --- messages from the compute side name what the user wrote ---------------------------------------


@pytest.mark.parametrize(
    ("loss", "bad_row", "argv_extra", "fragment"),
    [
        ("bce", 977, [], "--pred[977, 1] is 1.5"),
        ("bce", 64, [], "--pred[64, 1] is 1.5"),  # the first row of a later block
        ("msle", 1002, [], "--pred[1002, 1] is -3"),
    ],
)
def test_a_domain_error_deep_in_a_large_file_names_the_global_index(
    cli, large, loss, bad_row, argv_extra, fragment
) -> None:
    folder, _, _ = large
    pred = np.full((1003, 2), 0.5)
    pred[bad_row, 1] = 1.5 if loss == "bce" else -3.0
    np.save(folder / "bad.npy", pred)
    np.save(folder / "ok.npy", np.full((1003, 2), 0.25))
    run = cli([loss, "--pred", str(folder / "bad.npy"), "--target", str(folder / "ok.npy"), "-f", "value", *argv_extra])
    assert_usage_error(run, fragment)


def test_a_class_index_out_of_range_deep_in_a_large_file_names_the_global_index(cli, large) -> None:
    folder, _, _ = large
    labels = np.zeros(1003)
    labels[901] = 7
    np.save(folder / "labels.npy", labels)
    np.save(folder / "logits.npy", np.zeros((1003, 3)))
    for extra in ([], ["--weight", "1,2,3"]):
        run = cli(["ce", "--pred", str(folder / "logits.npy"), "--target", str(folder / "labels.npy"), *extra])
        assert_usage_error(run, "--target[901] is 7")


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808", "-9223372036854775809"])
def test_an_ignore_index_beyond_64_bits_is_one_line(cli, value: str) -> None:
    run = cli(["ce", "--pred", "1,2;3,4", "--target", "0,1", "--ignore-index", value])
    assert_usage_error(run, "--ignore-index must be between", "64-bit integer")


def test_an_ignore_index_at_the_64_bit_limit_is_accepted(cli) -> None:
    run = cli(["ce", "--pred", "1,2;3,4", "--target", "0,1", "--ignore-index", "-9223372036854775808", "-f", "value"])
    assert run.code == 0 and float(run.stdout) == pytest.approx(compute("ce", [[1, 2], [3, 4]], [0, 1]).value)


@pytest.mark.parametrize(
    ("argv", "fragments", "absent"),
    [
        (["mse", "--pred", "1e200,2", "--target", "-1e200,3"], ["overflows float64", "rescale"], "--dtype float64"),
        (["mse", "--pred", "1e20,2", "--target", "-1e20,3", "--dtype", "float32"], ["float32", "--dtype float64"], ""),
        (["mse", "--pred", "1e300,1e300", "--target", "0,0", "-r", "sum"], ["overflows float64"], "--dtype float64"),
        (["log_cosh", "--pred", "1e308,-1e308", "--target", "-1e308,1e308"], ["overflows float64"], "--dtype"),
    ],
)
def test_overflow_advice_fits_the_dtype(cli, argv, fragments, absent) -> None:
    run = cli(argv)
    assert_usage_error(run, *fragments)
    if absent:
        assert absent not in run.stderr


def test_overflow_on_the_block_path_names_the_dtype(cli, large) -> None:
    folder, _, _ = large
    np.save(folder / "huge.npy", np.full((1003, 2), 1e300))
    np.save(folder / "minus.npy", np.full((1003, 2), -1e300))
    run = cli(["mse", "--pred", str(folder / "huge.npy"), "--target", str(folder / "minus.npy"), "-f", "value"])
    assert_usage_error(run, "overflows float64")
    assert "--dtype float64" not in run.stderr and "RuntimeWarning" not in run.stderr


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_weights_summing_to_zero_give_zero_for_sum_and_none(cli, reduction: str) -> None:
    run = cli(["nll", "--pred", "-1,-2;-3,-4", "--target", "0,1", "--weight", "0,0", "-r", reduction, "-f", "json"])
    assert run.code == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["sum"] == 0.0 and out["mean"] is None and out["grad"] == [[0.0, 0.0], [0.0, 0.0]]
    assert out["value"] == (0.0 if reduction == "sum" else [0.0, 0.0])


@pytest.mark.parametrize("argv", [["nll", "--weight", "0,0"], ["ce", "--weight", "0,0"], ["ce", "--ignore-index", "1"]])
def test_weights_summing_to_zero_refuse_only_the_mean(cli, argv) -> None:
    run = cli([argv[0], "--pred", "-1,-2;-3,-4", "--target", "1,1", *argv[1:]])
    assert_usage_error(run, "the mean is 0/0", "--reduction sum or none")


def test_the_block_path_refuses_an_all_ignored_mean_before_reading_predictions(cli, large) -> None:
    folder, _, _ = large
    np.save(folder / "ignored.npy", np.full(1003, -100.0))
    np.save(folder / "logits.npy", np.zeros((1003, 3)))
    argv = ["ce", "--pred", str(folder / "logits.npy"), "--target", str(folder / "ignored.npy")]
    assert_usage_error(cli([*argv, "--save-grad", str(folder / "g.npy")]), "the mean is 0/0")
    run = cli([*argv, "-r", "sum", "-f", "json"])
    assert run.code == 0 and run.json()["value"] == 0.0


def test_numpy_runtime_warnings_and_python_warnings_never_reach_stderr_raw(cli, large) -> None:
    folder, _, _ = large
    rows = np.full((1003, 2), 0.3)  # probability rows that do not sum to 1: a LossctlWarning per block
    np.save(folder / "probs.npy", rows)
    np.save(folder / "logits.npy", np.zeros((1003, 2)))
    run = cli(["ce", "--pred", str(folder / "logits.npy"), "--target", str(folder / "probs.npy"), "-f", "value"])
    assert run.code == 0, run.stderr
    lines = run.stderr.strip().splitlines()
    assert all(line.startswith("warning: ") for line in lines), run.stderr
    assert "sums to 0.6" in lines[0] and len(lines) <= 2
    assert "Warning:" not in run.stderr and "warnings.warn" not in run.stderr


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softmax"])
def test_activation_on_large_inputs_goes_block_by_block(cli, large, activation: str) -> None:
    folder, pred, target = large
    argv = ["mse", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy"), "--activation", activation]
    out = cli([*argv, "-f", "json", "--save-grad", str(folder / "g.npy")]).json()
    reference = compute("mse", pred, target, activation=activation)
    assert "elements" not in out and out["activation"] == activation  # the block-wise summary
    assert out["value"] == reference.value
    np.testing.assert_allclose(np.load(folder / "g.npy"), reference.grad, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("loss", ["psnr", "ssim", "tv", "dice"])
def test_channels_last_on_large_inputs_goes_block_by_block(cli, large, loss: str) -> None:
    folder = large[0]
    rng = np.random.default_rng(12)
    pred, target = rng.random((60, 12, 12, 3)), rng.random((60, 12, 12, 3))  # N, H, W, C
    np.save(folder / "img_p.npy", pred)
    np.save(folder / "img_t.npy", target)
    argv = [loss, "--pred", str(folder / "img_p.npy")]
    if loss != "tv":
        argv += ["--target", str(folder / "img_t.npy")]
    extra = ["--window", "3"] if loss == "ssim" else []
    out = cli([*argv, *extra, "--channels-last", "-f", "json", "--save-grad", str(folder / "g.npy")]).json()
    params = {"window": 3} if loss == "ssim" else {}
    moved = np.moveaxis(pred, -1, -3)
    reference = compute(loss, moved, None if loss == "tv" else np.moveaxis(target, -1, -3), **params)
    assert "elements" not in out  # the block-wise summary
    assert out["value"] == pytest.approx(reference.value, rel=1e-13)
    np.testing.assert_allclose(np.load(folder / "g.npy"), np.moveaxis(reference.grad, -3, -1), rtol=1e-11, atol=1e-300)


class TestCsvSavedBlockByBlock:
    """--save-elements/--save-grad FILE.csv on the block path: the same bytes as in memory, a block at a time."""

    @pytest.mark.parametrize(
        ("loss", "shape", "option"),
        [
            ("l1", (1003,), "--save-elements"),
            ("mse", (1003, 2), "--save-elements"),
            ("huber", (1003, 2), "--save-grad"),
            ("ce", (1003, 4), "--save-elements"),
            ("mse", (1003,), "--save-grad"),
        ],
    )
    def test_same_bytes_as_the_in_memory_path(self, cli, tmp_path, monkeypatch, loss, shape, option) -> None:
        rng = np.random.default_rng(3)
        pred = rng.normal(size=shape)
        target = rng.integers(0, 4, size=shape[0]).astype(float) if loss == "ce" else rng.normal(size=shape)
        pred[5] = -0.0  # signed zeros are written as 0.0 on both paths
        np.save(tmp_path / "p.npy", pred)
        np.save(tmp_path / "t.npy", target)
        argv = [loss, "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "t.npy"), "-f", "value"]
        assert cli([*argv, option, str(tmp_path / "memory.csv")]).code == 0
        monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
        monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)
        monkeypatch.setattr(lossctl.io.save, "CSV_BLOCK_VALUES", 50)
        assert cli([*argv, option, str(tmp_path / "blocks.csv")]).code == 0
        assert (tmp_path / "blocks.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks.csv", "memory.csv", "p.npy", "t.npy"]

    def test_memory_holds_one_block_of_text(self, cli, large, monkeypatch) -> None:
        folder, pred, target = large
        monkeypatch.setattr(lossctl.io.save, "CSV_BLOCK_VALUES", 100)
        seen: list[tuple[int, bool]] = []
        real_write_csv, real_lines = lossctl.io.save.write_csv, lossctl.io.save.csv_lines

        def spy_write(stream, array):
            seen.append((-1, isinstance(array, np.memmap)))
            real_write_csv(stream, array)

        def spy_lines(matrix):
            seen.append((matrix.size, isinstance(matrix, np.memmap)))
            return real_lines(matrix)

        monkeypatch.setattr(lossctl.io.save, "write_csv", spy_write)
        monkeypatch.setattr(lossctl.io.save, "csv_lines", spy_lines)
        argv = ["mse", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy"), "-f", "value"]
        assert cli([*argv, "--save-elements", str(folder / "e.csv")]).code == 0
        assert seen[0] == (-1, True)  # the elements came from a memory-mapped working file, not memory
        blocks = [size for size, _ in seen[1:]]
        assert max(blocks) <= 100 and sum(blocks) == pred.size and len(blocks) == 21
        np.testing.assert_array_equal(np.loadtxt(folder / "e.csv", delimiter=","), (pred - target) ** 2)
        assert not list(folder.glob(".*"))

    def test_peak_memory_does_not_grow_with_the_csv(self, tmp_path) -> None:
        """2·10⁶ values saved as CSV need no more memory than the value alone (the whole text took 290 MB)."""
        rng = np.random.default_rng(0)
        np.save(tmp_path / "p.npy", rng.normal(size=2_000_000))
        np.save(tmp_path / "t.npy", rng.normal(size=2_000_000))
        code = (
            "import resource, sys\n"
            "from lossctl.cli import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        )
        argv = [sys.executable, "-c", code, "l1", "--pred", str(tmp_path / "p.npy"), "--target"]
        argv += [str(tmp_path / "t.npy"), "-f", "value"]
        plain = subprocess.run(argv, capture_output=True, text=True, check=True)
        saving = subprocess.run([*argv, "--save-elements", str(tmp_path / "e.csv")], capture_output=True, text=True)
        assert saving.returncode == 0, saving.stderr
        growth_kib = int(saving.stderr.split()[-1]) - int(plain.stderr.split()[-1])
        assert growth_kib < 48 * 1024, growth_kib
        assert (tmp_path / "e.csv").stat().st_size > 30_000_000
