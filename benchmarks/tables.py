"""Benchmarks of --data tables (issue 17): time and peak memory against pandas and pyarrow, same run.

    python benchmarks/tables.py                    # CSV 10⁶ × 2; Parquet 10⁷ rows in 16 shards
    python benchmarks/tables.py --rows 100000000   # the issue's 10⁸ rows (≈ 1.6 GB of Parquet)
    python benchmarks/tables.py --csv-only

The Parquet table is measured twice: in ``--shards`` files, and as one file of 1 Mi-row row groups
(read in runs of row groups locally; one Dask task per run).

Needs ``pip install '.[dask]' pandas``.  Every case runs in a fresh process under ``/usr/bin/time``;
the figure is the median wall time of ``--repeats`` runs and the largest peak RSS (ru_maxrss of the
process and the children it waited for; Dask workers are counted by their own process, so their
peak is the largest worker's or the client's, not their sum).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

PYTHON = sys.executable


def measure(argv: list[str], repeats: int) -> tuple[float, float]:
    """(median seconds, peak MiB) of a command run ``repeats`` times (after one warm-up)."""
    runs = []
    for attempt in range(repeats + 1):
        done = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *argv], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"failed: {' '.join(argv)}\n{done.stderr[-2000:]}")
        line = [x for x in done.stderr.splitlines() if x.startswith("TIME ")][-1].split()
        if attempt:
            runs.append((float(line[1]), float(line[2]) / 1024))
    return statistics.median(t for t, _ in runs), max(m for _, m in runs)


def python(code: str) -> list[str]:
    return [PYTHON, "-c", textwrap.dedent(code)]


def lossctl(*args: str) -> list[str]:
    return [PYTHON, "-m", "lossctl", *args]


def make_csv(folder: Path, rows: int) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    path = folder / "pairs.csv"
    data = np.column_stack([rng.normal(size=rows), rng.normal(size=rows)])
    np.savetxt(path, data, delimiter=",", header="y_hat,y", comments="", fmt="%.17g")
    return path


def make_shards(folder: Path, rows: int, shards: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    out = folder / "shards"
    out.mkdir()
    per = rows // shards
    for part in range(shards):
        table = pa.table({"y_hat": rng.normal(size=per), "y": rng.normal(size=per)})
        pq.write_table(table, out / f"part-{part:02}.parquet")
    return out


def report(title: str, results: dict[str, tuple[float, float]], baseline: str) -> None:
    base_time = results[baseline][0]
    print(f"\n{title}")
    print(f"| case | time (s) | × {baseline} | peak RSS (MiB) |")
    print("| --- | ---: | ---: | ---: |")
    for name, (seconds, mib) in results.items():
        print(f"| {name} | {seconds:.2f} | {seconds / base_time:.2f} | {mib:.0f} |")


def csv_cases(folder: Path, rows: int, repeats: int) -> None:
    path = make_csv(folder, rows)
    results = {
        "pandas.read_csv + NumPy": measure(
            python(f"""
                import pandas as pd, numpy as np
                df = pd.read_csv({str(path)!r}, usecols=["y_hat", "y"], engine="c")
                print(np.mean((df["y_hat"].to_numpy() - df["y"].to_numpy()) ** 2))
            """),
            repeats,
        ),
        # -f value: pyarrow's multi-threaded reader when it is installed (lossctl.cli.tables._pyarrow_reads_it_alike);
        # --allow-nonfinite keeps the built-in reader (pyarrow would read 1e400 as inf where it refuses it)
        "lossctl --data -f value (pyarrow reader)": measure(
            lossctl("mse", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "--format", "value"),
            repeats,
        ),
        "lossctl --data -f value --allow-nonfinite (built-in reader)": measure(
            lossctl(
                "mse",
                "--data",
                str(path),
                "--pred-col",
                "y_hat",
                "--target-col",
                "y",
                "-f",
                "value",
                "--allow-nonfinite",
            ),
            repeats,
        ),
    }
    report(f"CSV {rows:,} × 2, mse, end to end", results, "pandas.read_csv + NumPy")


def parquet_cases(folder: Path, rows: int, shards: int, repeats: int) -> None:
    data = make_shards(folder, rows, shards)
    glob = f"{data}/*.parquet"
    common = ["mse", "--data", glob, "--pred-col", "y_hat", "--target-col", "y", "--format", "value"]
    results = {
        "pyarrow reads the columns": measure(
            python(f"""
                import pyarrow.dataset as ds
                n = 0
                for b in ds.dataset({str(data)!r}, format="parquet").to_batches(columns=["y_hat", "y"]):
                    n += b.num_rows
                print(n)
            """),
            repeats,
        ),
        "pandas.read_parquet + NumPy": measure(
            python(f"""
                import pandas as pd, numpy as np
                df = pd.read_parquet({str(data)!r}, columns=["y_hat", "y"])
                print(np.mean((df["y_hat"].to_numpy() - df["y"].to_numpy()) ** 2))
            """),
            repeats,
        ),
        "lossctl local engine": measure(lossctl(*common), repeats),
        "lossctl --engine dask --workers 2": measure(lossctl(*common, "--engine", "dask", "--workers", "2"), repeats),
    }
    report(f"Parquet {rows:,} rows in {shards} shards, mse", results, "pyarrow reads the columns")


def make_one_file(folder: Path, rows: int) -> Path:
    """One Parquet file of 1 Mi-row row groups, written a row group at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    path = folder / "one.parquet"
    group = 1 << 20
    writer = None
    for start in range(0, rows, group):
        size = min(group, rows - start)
        table = pa.table({"y_hat": rng.normal(size=size), "y": rng.normal(size=size)})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=group)
    assert writer is not None
    writer.close()
    return path


def one_file_cases(folder: Path, rows: int, repeats: int) -> None:
    """A single large Parquet file: read in runs of row groups locally, one Dask task per run."""
    path = make_one_file(folder, rows)
    common = ["mse", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "--format", "value"]
    results = {
        "pyarrow reads the columns": measure(
            python(f"""
                import pyarrow.parquet as pq
                n = 0
                for b in pq.ParquetFile({str(path)!r}).iter_batches(columns=["y_hat", "y"]):
                    n += b.num_rows
                print(n)
            """),
            repeats,
        ),
        "lossctl local engine": measure(lossctl(*common), repeats),
        "lossctl --engine dask --workers 2": measure(lossctl(*common, "--engine", "dask", "--workers", "2"), repeats),
    }
    report(f"Parquet {rows:,} rows in one file of 1 Mi-row row groups, mse", results, "pyarrow reads the columns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000, help="Parquet rows")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--csv-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_cases(Path(tmp), args.csv_rows, args.repeats)
        if not args.csv_only:
            parquet_cases(Path(tmp), args.rows, args.shards, args.repeats)
            one_file_cases(Path(tmp), args.rows, args.repeats)


if __name__ == "__main__":
    main()
