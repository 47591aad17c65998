"""Exact summation (``lossctl.evaluation.exact``): ns per value, before and after, against NumPy and math.fsum.

    python benchmarks/exact_sum.py                     # 10⁷ values per kind, 7 interleaved rounds
    python benchmarks/exact_sum.py --values 1e6 --rounds 5
    python benchmarks/exact_sum.py --baseline c86894f  # "before": exact.py as of that git revision

Every kind of input is summed by the current ``ExactSum().add``, by the baseline's (the file at a git
revision, loaded with ``git show``; left out when git cannot find it), by ``np.sum`` (inexact, the
floor of one pass) and by ``math.fsum`` (exact rounding, in C over a Python list, ``tolist`` included).
The implementations take turns within each round, so a busy machine slows them alike; the table shows
the median over rounds.  Before timing, the two ExactSum results are checked to be the same bits.
Small blocks (1, 7, 1000, 65 536 values: the engine adds one block at a time) are timed per call.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lossctl.evaluation import exact as current  # noqa: E402  (after the path is set)

DEFAULT_BASELINE = "c86894f"  # the last revision with the multiply/rint/multiply splitter


def inputs(size: int, seed: int = 1) -> dict[str, np.ndarray]:
    """The kinds of arrays timed: typical losses and adversarial spreads."""
    rng = np.random.default_rng(seed)
    return {
        "normal": rng.normal(size=size),
        "uniform [0, 1)": rng.random(size),
        "squares (mse elements)": rng.normal(size=size) ** 2,
        "float32 normal": rng.normal(size=size).astype(np.float32),
        "spread 1e-300…1e300": rng.normal(size=size) * 10.0 ** rng.integers(-300, 300, size=size),
    }


def load_baseline(revision: str) -> ModuleType | None:
    """exact.py as of ``revision``, imported under another name (None when git cannot show it)."""
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:lossctl/evaluation/exact.py"], capture_output=True, text=True
    )
    if shown.returncode != 0:
        print(f"(no baseline: git show {revision} failed: {shown.stderr.strip()})")
        return None
    path = Path(tempfile.mkdtemp()) / "exact_baseline.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("exact_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["exact_baseline"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(function: Callable[[], object], repeat: int = 1) -> float:
    """Seconds per call of ``function`` (``repeat`` calls in a row)."""
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def contenders(values: np.ndarray, baseline: ModuleType | None) -> dict[str, Callable[[], object]]:
    runs: dict[str, Callable[[], object]] = {}
    if baseline is not None:
        runs["before"] = lambda: baseline.ExactSum().add(values)
    runs["after"] = lambda: current.ExactSum().add(values)
    runs["np.sum"] = lambda: np.sum(values)
    runs["math.fsum"] = lambda: math.fsum(values.tolist())
    return runs


def check_same_bits(values: np.ndarray, baseline: ModuleType | None) -> str:
    after = current.ExactSum().add(values).rounded()
    if baseline is None:
        return "n/a"
    try:
        before = baseline.ExactSum().add(values).rounded()
    except (OverflowError, ValueError) as error:  # the baseline fails on values near the largest float
        return f"before failed: {error!r}"
    return (
        "same bits" if np.float64(before).tobytes() == np.float64(after).tobytes() else f"DIFFER {before!r} {after!r}"
    )


def table(rows: list[tuple[str, dict[str, float]]], unit: str, names: list[str]) -> None:
    print(f"| input | {' | '.join(names)} | before ÷ after |")
    print("|---|" + "---|" * (len(names) + 1))
    for label, medians in rows:
        cells = " | ".join(f"{medians[name]:.2f}" for name in names)
        ratio = f"{medians['before'] / medians['after']:.1f}×" if "before" in medians else "n/a"
        print(f"| {label} | {cells} | {ratio} |")
    print(f"({unit}, median of the rounds)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=float, default=1e7, help="values per array (default 1e7)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; the median is shown")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision of the 'before' exact.py")
    args = parser.parse_args()
    baseline = load_baseline(args.baseline)
    size = int(args.values)

    rows = []
    for label, values in inputs(size).items():
        print(f"{label}: {check_same_bits(values, baseline)}", flush=True)
        runs = contenders(values, baseline)
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                samples[name].append(timed(run) / size * 1e9)
        rows.append((label, {name: statistics.median(times) for name, times in samples.items()}))
    names = list(rows[0][1])
    print(f"\nns per value, {size:,} values per array")
    table(rows, "ns/value", names)

    block_rows = []
    rng = np.random.default_rng(2)
    for block in (1, 7, 1000, 1 << 16):
        values = rng.normal(size=block) ** 2
        check_same_bits(values, baseline)
        runs = {name: run for name, run in contenders(values, baseline).items()}
        repeat = max(1, 20_000 // block)
        samples = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                samples[name].append(timed(run, repeat) * 1e6)
        block_rows.append((f"block of {block:,}", {name: statistics.median(times) for name, times in samples.items()}))
    print("µs per call of a small block (squares of normal values)")
    table(block_rows, "µs per call", names)


if __name__ == "__main__":
    main()
