"""Peak memory of each large-input option (issue 12, "Memory: bounded on every path").

    python benchmarks/memory.py                 # 10⁸ float64 values (writes ~6 GB of .npy to /tmp; removed after)
    python benchmarks/memory.py --values 1e7    # smaller

Every case runs in a fresh process.  /proc/PID/status is sampled every 20 ms for the peaks of
RssAnon (the process's own memory: arrays, temporaries) and RssFile (pages of memory-mapped
files, i.e. the output files being written); ru_maxrss (their sum at its peak) comes from wait4.
The target is RssAnon ≤ 256 MiB: "peak RSS beyond the output files' page cache".
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PYTHON = sys.executable
MIB = 2**20
CHUNK = 1 << 22


def write_npy(path: Path, shape: tuple[int, ...], seed: int, low: float | None = None) -> None:
    """A float64 .npy of ``shape`` filled in chunks (normal values, or uniform in [low, low + 1])."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=shape)
    flat = out.reshape(-1)
    rng = np.random.default_rng(seed)
    for start in range(0, flat.size, CHUNK):
        stop = min(start + CHUNK, flat.size)
        flat[start:stop] = rng.normal(size=stop - start) if low is None else low + rng.random(stop - start)
    out.flush()
    del out


def peak(argv: list[str], cwd: Path) -> dict[str, float]:
    """Run ``lossctl argv`` under /usr/bin/time (so that ru_maxrss is the command's own, not inherited from
    this process across fork and exec); peaks of RssAnon and RssFile sampled from /proc (MiB)."""
    start = time.perf_counter()
    report = cwd / "maxrss.txt"
    command = ["/usr/bin/time", "-f", "%M", "-o", str(report), PYTHON, "-m", "lossctl", *argv]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    anon = mapped = 0
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/task/{process.pid}/children") as handle:
                child = handle.read().split()[0]
            with open(f"/proc/{child}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            anon = max(anon, int(fields.get("RssAnon", "0 kB").split()[0]))
            mapped = max(mapped, int(fields.get("RssFile", "0 kB").split()[0]))
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.02)
    stderr = process.stderr.read().decode() if process.stderr else ""
    return {
        "anon": anon / 1024,
        "file": mapped / 1024,
        "maxrss": int(report.read_text().split()[-1]) / 1024,
        "seconds": time.perf_counter() - start,
        "status": process.returncode,
        "stderr": stderr.strip().splitlines()[-1] if stderr.strip() else "",
    }


def cases(n: int, csv_values: int, image_values: int) -> list[tuple[str, list[str]]]:
    side = round(image_values**0.5)
    images = n // (100 * 100 * 4)
    pair = ["--pred", "p.npy", "--target", "t.npy"]
    return [
        ("mse -f value", ["mse", *pair, "-f", "value"]),
        ("mse --save-grad g.npy", ["mse", *pair, "--save-grad", "g.npy", "-f", "value"]),
        (
            f"mse --save-elements e.csv ({csv_values:.0e} values)",
            ["mse", "--pred", "cp.npy", "--target", "ct.npy", "--save-elements", "e.csv", "-f", "value"],
        ),
        ("mse --activation sigmoid", ["mse", *pair, "--activation", "sigmoid", "-f", "value"]),
        (
            "mse --activation sigmoid --save-grad",
            ["mse", *pair, "--activation", "sigmoid", "--save-grad", "ga.npy", "-f", "value"],
        ),
        ("mse --expect-grad g.npy", ["mse", *pair, "--expect-grad", "answer.npy", "-f", "value"]),
        ("mse --explain", ["mse", *pair, "--explain", "-f", "value"]),
        (
            f"psnr --channels-last ({images},100,100,4)",
            ["psnr", "--pred", "ip.npy", "--target", "it.npy", "--channels-last", "-f", "value"],
        ),
        (
            "psnr --channels-last --save-grad",
            [
                "psnr",
                "--pred",
                "ip.npy",
                "--target",
                "it.npy",
                "--channels-last",
                "--save-grad",
                "gi.npy",
                "-f",
                "value",
            ],
        ),
        (f"tv one {side}x{side} image --save-grad", ["tv", "--pred", "sp.npy", "--save-grad", "gs.npy", "-f", "value"]),
        (f"ssim one {side}x{side} image", ["ssim", "--pred", "sp.npy", "--target", "st.npy", "-f", "value"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=float, default=1e8)
    parser.add_argument("--csv-values", type=float, default=1e7)
    parser.add_argument("--image-values", type=float, default=1e8, help="pixels of the one tv/ssim image")
    parser.add_argument("--only", default="", help="run the cases whose name contains this text")
    args = parser.parse_args()
    n, csv_values, image_values = int(args.values), int(args.csv_values), int(args.image_values)
    side = round(image_values**0.5)
    folder = Path(tempfile.mkdtemp(prefix="lossctl-memory-", dir="/tmp"))
    try:
        write_npy(folder / "p.npy", (n,), 0)
        write_npy(folder / "t.npy", (n,), 1)
        write_npy(folder / "cp.npy", (csv_values,), 2)
        write_npy(folder / "ct.npy", (csv_values,), 3)
        write_npy(folder / "ip.npy", (n // 40000, 100, 100, 4), 4, low=0.0)
        write_npy(folder / "it.npy", (n // 40000, 100, 100, 4), 5, low=0.0)
        write_npy(folder / "sp.npy", (side, side), 6, low=0.0)
        write_npy(folder / "st.npy", (side, side), 7, low=0.0)
        print(f"{'case':48} {'anon MiB':>9} {'files MiB':>10} {'maxrss MiB':>11} {'seconds':>8}  status")
        for name, argv in cases(n, csv_values, image_values):
            if args.only and args.only not in name:
                continue
            if "answer.npy" in argv and not (folder / "answer.npy").exists():
                subprocess.run(
                    [
                        PYTHON,
                        "-m",
                        "lossctl",
                        "mse",
                        "--pred",
                        "p.npy",
                        "--target",
                        "t.npy",
                        "--save-grad",
                        "answer.npy",
                        "-f",
                        "value",
                    ],
                    cwd=folder,
                    check=True,
                    capture_output=True,
                )
            got = peak(argv, folder)
            mark = "✓" if got["anon"] <= 256 else "✗"
            print(
                f"{name:48} {got['anon']:9.0f} {got['file']:10.0f} {got['maxrss']:11.0f} {got['seconds']:8.1f}  "
                f"{got['status']} {mark} {got['stderr'][:60]}",
                flush=True,
            )
            for produced in ("g.npy", "e.csv", "ga.npy", "gi.npy", "gs.npy"):
                (folder / produced).unlink(missing_ok=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
