"""lossctl benchmarks: medians and ratios against baselines measured in the same run.

    python benchmarks/run.py            # everything (writes ~1.6 GB of .npy to a temporary folder)
    python benchmarks/run.py --quick    # smaller sizes, a minute or so

Every case runs in a fresh process (``python -c``), so start-up, peak memory
(ru_maxrss) and timings are not polluted by earlier cases.  Targets from
issue 7 are printed next to each ratio with ✓ or ✗.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PYTHON = sys.executable
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # cached bytecode, as installed


def lossctl_command() -> list[str]:
    script = Path(PYTHON).with_name("lossctl")
    return [str(script)] if script.exists() else [PYTHON, "-m", "lossctl"]


def wall(argv: list[str], repeats: int) -> float:
    """Median wall time of a command, in seconds (after one warm-up run)."""
    subprocess.run(argv, env=ENV, check=True, capture_output=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process(code: str) -> dict:
    """Run a snippet in a fresh interpreter; it prints one JSON object (timings), peak RSS is added."""
    wrapper = code + textwrap.dedent(
        """
        import resource, json as _json
        RESULT["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(_json.dumps(RESULT))
        """
    )
    done = subprocess.run([PYTHON, "-c", wrapper], env=ENV, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(ratio: float, limit: float, smaller_is_better: bool = True) -> str:
    ok = ratio <= limit if smaller_is_better else ratio >= limit
    unit = " MiB" if limit > 100 else "×"
    return ("✓" if ok else "✗") + f" (target {'≤' if smaller_is_better else '≥'} {limit}{unit})"


def startup(repeats: int) -> None:
    print("\n## Start-up (median wall time of a whole process)")
    tool = lossctl_command()
    cases = {
        "python -c 'import numpy'": [PYTHON, "-c", "import numpy"],
        "python -c 'import numpy, typer'": [PYTHON, "-c", "import numpy, typer"],
        "python -c 'import numpy, typer, rich.table'": [PYTHON, "-c", "import numpy, typer, rich.table"],
        "lossctl mse … --format value": [*tool, "mse", "--pred", "2,3,4,5", "--target", "4,5,6,7", "-f", "value"],
        "lossctl mse … (table)": [*tool, "mse", "--pred", "2,3,4,5", "--target", "4,5,6,7"],
    }
    times = {name: wall(argv, repeats) for name, argv in cases.items()}
    for name, seconds in times.items():
        print(f"  {name:<46} {seconds * 1e3:7.1f} ms")
    value = times["lossctl mse … --format value"]
    table = times["lossctl mse … (table)"]
    numpy_only = times["python -c 'import numpy'"]
    with_typer = times["python -c 'import numpy, typer'"]
    with_rich = times["python -c 'import numpy, typer, rich.table'"]
    print(f"  value call / numpy                    {value / numpy_only:.2f}×")
    print(f"  value call / numpy+typer              {value / with_typer:.2f}×  {verdict(value / with_typer, 1.15)}")
    print(f"  table call / numpy+typer+rich.table   {table / with_rich:.2f}×  {verdict(table / with_rich, 1.2)}")


SETUP = """
import time, statistics, numpy as np
RESULT = {{}}
rng = np.random.default_rng(0)
n = {n}
if "{loss}" == "cross_entropy":
    pred = rng.normal(size=(n // 10, 10)); target = rng.integers(0, 10, size=n // 10)
else:
    pred = rng.normal(size=n); target = rng.normal(size=n)
def median(f, k={repeats}):
    f()
    times = []
    for _ in range(k):
        start = time.perf_counter(); f(); times.append(time.perf_counter() - start)
    return statistics.median(times)
"""

IMPLEMENTATIONS = {
    "floor": """
def floor():
    if "{loss}" == "cross_entropy":
        return np.copy(pred)  # the least a gradient of the logits must write
    return np.subtract(pred, target)  # pred − target into a fresh array
RESULT["seconds"] = median(floor)
""",
    "value_and_grad": """
try:
    from lossctl import value_and_grad
except ImportError:  # before the public API existed: the engine's helper
    from lossctl.evaluation.engine import value_and_grad
RESULT["seconds"] = median(lambda: value_and_grad("{loss}", pred, target))
""",
    "compute": """
from lossctl import compute
RESULT["seconds"] = median(lambda: compute("{loss}", pred, target))
""",
    "engine": """
from lossctl.evaluation.engine import evaluate
RESULT["seconds"] = median(lambda: evaluate("{loss}", pred, target))  # the CLI's large-input path
""",
    "numpy": """
def one_liner():
    if "{loss}" == "mse":
        d = pred - target; return np.mean(d * d), 2 * d / d.size
    if "{loss}" == "l1":
        d = pred - target; return np.mean(np.abs(d)), np.sign(d) / d.size
    if "{loss}" == "huber":
        d = pred - target; a = np.abs(d)
        return np.mean(np.where(a < 1, 0.5 * d * d, a - 0.5)), np.clip(d, -1, 1) / d.size
    z = pred - pred.max(axis=1, keepdims=True); lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(len(target)); p = np.exp(z - lse); p[rows, target] -= 1
    return np.mean(lse[:, 0] - z[rows, target]), p / len(target)
RESULT["seconds"] = median(one_liner)
""",
    "torch": """
import torch, torch.nn.functional as F
functions = {{"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss, "cross_entropy": F.cross_entropy}}
def step():
    x = torch.from_numpy(pred).requires_grad_()  # no copy of the input
    y = torch.from_numpy(target)
    functions["{loss}"](x, y).backward()
RESULT["seconds"] = median(step)
RESULT["threads"] = torch.get_num_threads()
""",
}

TARGETS = {  # issue 15: (PyTorch time / ours ≥, ours / floor ≤); cross_entropy has no floor target
    "mse": (2.0, 1.5),
    "l1": (2.0, 1.5),
    "huber": (2.0, 1.5),
    "cross_entropy": (2.0, None),
}
OURS = ("value_and_grad", "compute", "engine")


def losses(sizes: list[int], repeats: int) -> None:
    print("\n## Value + gradient (float64, median of in-process repeats; fresh process per case)")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
        print("  (torch not installed: PyTorch columns skipped; pip install 'lossctl[reference]')")
    names = [name for name in IMPLEMENTATIONS if have_torch or name != "torch"]
    print("  " + f"{'loss':<14} {'n':>11} " + " ".join(f"{name:>15}" for name in names))
    for n in sizes:
        for loss in ("mse", "l1", "huber", "cross_entropy"):
            measured = {}
            for name in names:
                snippet = SETUP.format(n=n, loss=loss, repeats=repeats) + IMPLEMENTATIONS[name].format(loss=loss)
                measured[name] = in_process(snippet)["seconds"]
            cells = " ".join(f"{measured[name] * 1e3:12.1f} ms" for name in names)
            print(f"  {loss:<14} {n:>11,} {cells}")
            torch_ratio, floor_ratio = TARGETS[loss]
            for name in OURS:
                ours = measured[name]
                line = f"      {name:<15} {ours / measured['floor']:5.2f}× floor"
                if floor_ratio is not None:
                    line += f" {verdict(ours / measured['floor'], floor_ratio)}"
                if "torch" in measured:
                    ratio = measured["torch"] / ours
                    line += f" | {ratio:5.2f}× faster than torch {verdict(ratio, torch_ratio, False)}"
                line += f" | {measured['numpy'] / ours:5.2f}× faster than numpy"
                print(line)


def streaming(n: int, folder: Path) -> None:
    print(f"\n## Value-only reduction over a {n:,}-element float64 .npy pair ({2 * 8 * n / 1e9:.1f} GB)")
    pred, target = folder / "pred.npy", folder / "target.npy"
    if not pred.exists():
        import numpy as np

        rng = np.random.default_rng(0)
        for path in (pred, target):
            out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n,))
            for start in range(0, n, 1 << 22):
                stop = min(n, start + (1 << 22))
                out[start:stop] = rng.normal(size=stop - start)
            out.flush()
            del out
    floor_code = f"""
import numpy as np
RESULT = {{}}
a = np.load("{pred}", mmap_mode="r"); b = np.load("{target}", mmap_mode="r")
step = 1 << 22
total = 0.0
for i in range(0, a.shape[0], step):
    total += float(a[i:i + step].sum()) + float(b[i:i + step].sum())
"""
    tool = lossctl_command()
    argv = [*tool, "mse", "--pred", str(pred), "--target", str(target), "-f", "value"]
    runner = """
import subprocess, sys, time, resource, json
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, capture_output=True)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

    def process(command: list[str]) -> dict:
        done = subprocess.run([PYTHON, "-c", runner, *command], env=ENV, check=True, capture_output=True, text=True)
        return json.loads(done.stdout)

    floor = [process([PYTHON, "-c", floor_code]) for _ in range(3)]
    ours = [process(argv) for _ in range(3)]
    floor_s = statistics.median(r["seconds"] for r in floor)
    ours_s = statistics.median(r["seconds"] for r in ours)
    floor_peak = max(r["peak_mib"] for r in floor)
    peak = max(r["peak_mib"] for r in ours)
    print("  (whole processes, files in the page cache after the first run)")
    print(f"  read floor: memory-map both, sum   {floor_s:7.2f} s  peak RSS {floor_peak:6.0f} MiB")
    print(f"  lossctl mse -f value               {ours_s:7.2f} s  peak RSS {peak:6.0f} MiB  {verdict(peak, 256)}")
    print(f"  ratio                              {ours_s / floor_s:7.2f}×  {verdict(ours_s / floor_s, 1.5)}")


def csv_speed(rows: int, folder: Path) -> None:
    print(f"\n## CSV: {rows:,} rows × 2 columns, end to end")
    path = folder / "pairs.csv"
    if not path.exists():
        import numpy as np

        rng = np.random.default_rng(0)
        np.savetxt(path, rng.normal(size=(rows, 2)), delimiter=",", header="pred,target", comments="")
    baseline = [PYTHON, "-c", f"import numpy; numpy.loadtxt({str(path)!r}, delimiter=',', skiprows=1)"]
    tool = lossctl_command()
    ours = [*tool, "mse", "--data", str(path), "--pred-col", "pred", "--target-col", "target", "-f", "value"]
    base_s, ours_s = wall(baseline, 3), wall(ours, 3)
    print(f"  python -c 'numpy.loadtxt(…)'   {base_s:6.2f} s")
    print(f"  lossctl mse --data …           {ours_s:6.2f} s  {ours_s / base_s:.2f}×  {verdict(ours_s / base_s, 1.2)}")


def stdin_vs_file(n: int, folder: Path, repeats: int = 5) -> None:
    print(f"\n## Standard input against a file: {n:,} numbers, one per line, whole processes")
    path = folder / "numbers.txt"
    if not path.exists():
        import numpy as np

        np.savetxt(path, np.random.default_rng(0).normal(size=n))
    tool = " ".join(f"'{part}'" for part in lossctl_command())
    command = f"{tool} mse --target '{path}' -f value"  # the same numbers as targets: only --pred changes
    cases = {
        "--pred FILE": f"{command} --pred '{path}' > /dev/null",
        "--pred - < FILE": f"{command} --pred - < '{path}' > /dev/null",
        "cat FILE | --pred -": f"cat '{path}' | {command} --pred - > /dev/null",
    }
    runner = """
import subprocess, sys, time, resource, json
start = time.perf_counter()
subprocess.run(["bash", "-c", sys.argv[1]], check=True)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

    def measure(script: str) -> tuple[float, float]:
        runs = []
        for _ in range(repeats):
            done = subprocess.run([PYTHON, "-c", runner, script], env=ENV, check=True, capture_output=True, text=True)
            runs.append(json.loads(done.stdout))
        return statistics.median(r["seconds"] for r in runs), statistics.median(r["peak_mib"] for r in runs)

    results = {name: measure(script) for name, script in cases.items()}
    file_s, file_mib = results["--pred FILE"]
    for name, (seconds, mib) in results.items():
        line = f"  {name:<22} {seconds:6.2f} s  peak RSS {mib:6.0f} MiB"
        if name != "--pred FILE":
            line += f"  time {seconds / file_s:.2f}× {verdict(seconds / file_s, 1.5)}"
            line += f"  memory {mib / file_mib:.2f}× {verdict(mib / file_mib, 2.0)}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (10⁵/10⁶, a 10⁷ .npy pair)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["startup", "losses", "streaming", "csv", "stdin"])
    parser.add_argument("--sizes", type=int, nargs="*", help="array sizes for the value + gradient table")
    parser.add_argument("--folder", type=Path, help="where to keep the generated data (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [10**5, 10**6] if args.quick else [10**6, 10**7]
    with tempfile.TemporaryDirectory(prefix="lossctl-bench-") as temporary:
        folder = args.folder or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"lossctl benchmarks — python {sys.version.split()[0]}, {os.cpu_count()} CPUs, data in {folder}")
        if "startup" not in args.skip:
            startup(repeats=11 if args.quick else 31)
        if "losses" not in args.skip:
            losses(args.sizes or sizes, repeats=5)
        if "streaming" not in args.skip:
            streaming(10**7 if args.quick else 10**8, folder)
        if "csv" not in args.skip:
            csv_speed(10**5 if args.quick else 10**6, folder)
        if "stdin" not in args.skip:
            stdin_vs_file(10**5 if args.quick else 10**6, folder)


if __name__ == "__main__":
    main()
