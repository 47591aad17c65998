"""pyarrow ↔ NumPy through buffers (lossctl.io.arrow_numpy): the same values as pyarrow's own conversions,
and reading a table never imports pandas (0.4 s of start-up that pyarrow's conversions would add)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from lossctl.io.arrow_numpy import float_array, mask, numbers  # noqa: E402


@pytest.mark.parametrize(
    "array",
    [
        pa.array([1.5, 2.5, 3.5, 4.5, 5.5]),
        pa.array([1.5, 2.5, 3.5, 4.5, 5.5]).slice(2, 2),  # an offset into the buffer
        pa.array(np.arange(10, dtype=np.float32)).slice(3),
        pa.array([1, -2, 3], pa.int8()),
        pa.array([1, 2, 3], pa.uint16()),
        pa.array(np.arange(7, dtype=np.int64)).slice(1, 5),
        pa.array([True, False, True, True, False, False, True, False, True, True]).slice(3, 6),  # bits, offset 3
        pa.array([False] * 17 + [True]),
        pa.chunked_array([pa.array([1, 2], pa.int32()), pa.array([3], pa.int32())]),
        pa.chunked_array([pa.array([True]), pa.array([False, True]).slice(1)]),
        pa.chunked_array([], pa.float64()),
        pa.array([], pa.bool_()),
    ],
)
def test_numbers_equal_pyarrows_own_conversion(array) -> None:
    got = numbers(array)
    expected = np.asarray(array.to_pylist(), dtype=got.dtype)
    assert got.shape == (len(array),)
    np.testing.assert_array_equal(got, expected)


def test_numbers_refuses_other_types() -> None:
    with pytest.raises((TypeError, ValueError)):
        numbers(pa.array(["a"]))


@pytest.mark.parametrize("size", [0, 1, 8, 9, 100])
def test_mask_and_float_array_round_trip(size) -> None:
    flags = np.random.default_rng(size).random(size) < 0.5
    assert mask(flags).to_pylist() == flags.tolist()
    for dtype in (np.float64, np.float32):
        values = np.random.default_rng(size).normal(size=size).astype(dtype)
        column = float_array(values)
        assert column.type == (pa.float32() if dtype == np.float32 else pa.float64())
        np.testing.assert_array_equal(numbers(column), values)


@pytest.mark.parametrize("extra", [[], ["--dropna"], ["--group-by", "split"]])
def test_reading_a_table_does_not_import_pandas(tmp_path, extra) -> None:
    pytest.importorskip("pandas")  # only meaningful where pandas is there to be imported
    path = tmp_path / "t.csv"
    path.write_text("y_hat,y,split\n1,2,a\n3,5,b\n,1,a\n" if extra == ["--dropna"] else "y_hat,y,split\n1,2,a\n3,5,b\n")
    argv = ["mse", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "-f", "json", *extra]
    code = f"import sys\nfrom lossctl.cli.app import main\nsys.argv = ['lossctl', *{argv!r}]\n" + (
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "sys.stderr.write('pandas' if 'pandas' in sys.modules else 'no pandas')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.endswith("no pandas"), done.stderr
