"""Behaviour as a real process: pipes, Ctrl-C, the debug switch, atomic output files."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import assert_usage_error

import lossctl.io.save

LOSSCTL = [sys.executable, "-m", "lossctl"]


def test_broken_pipe_ends_quietly(tmp_path) -> None:
    values = tmp_path / "v.npy"
    np.save(values, np.arange(300_000, dtype=float))
    command = f"{' '.join(LOSSCTL)} mse --pred {values} --target {values} --format csv | head -1"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    assert done.stdout == "index,pred,target,loss,grad\n"
    assert done.stderr == ""


def test_ctrl_c_exits_130_without_traceback() -> None:
    process = subprocess.Popen(
        [*LOSSCTL, "mse", "--pred", "-", "--target", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # let it start and block on standard input
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stdout == "" and "Traceback" not in stderr


def test_dash_on_a_terminal_is_refused() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [*LOSSCTL, "mse", "--pred", "-", "--target", "1"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert done.returncode == 2 and done.stdout == ""
    assert "standard input is a terminal" in done.stderr


def _break_compute(monkeypatch) -> None:
    import lossctl.cli.commands

    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(lossctl.cli.commands, "compute", broken)


def test_debug_switch_shows_the_traceback(cli, monkeypatch) -> None:
    _break_compute(monkeypatch)
    quiet = cli(["mse", "--pred", "1", "--target", "1"])
    assert quiet.code == 70 and "rerun with --debug" in quiet.stderr and "Traceback" not in quiet.stderr
    with pytest.raises(ZeroDivisionError, match="simulated bug"):
        cli(["--debug", "mse", "--pred", "1", "--target", "1"])
    with pytest.raises(ZeroDivisionError):
        cli(["mse", "--pred", "1", "--target", "1"], env={"LOSSCTL_DEBUG": "1"})


def test_failed_save_leaves_no_file(cli, tmp_path, monkeypatch) -> None:
    def failing_save(stream, array, allow_pickle=False):
        stream.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lossctl.io.save.np, "save", failing_save)
    target = tmp_path / "elements.npy"
    run = cli(["mse", "--pred", "1,2", "--target", "1,3", "--save-elements", str(target)])
    assert_usage_error(run, "--save-elements: cannot write", "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_overflowing_results_are_errors_not_inf(cli) -> None:
    assert_usage_error(cli(["mse", "--pred", "1e300", "--target", "-1e300"]), "overflows float64")
    ok = cli(["log_cosh", "--pred", "1e6", "--target", "0", "-f", "value"])
    assert ok.code == 0 and float(ok.stdout) == pytest.approx(1e6 - np.log(2), rel=1e-15)
    ok = cli(["ce", "--pred", "[10000,-10000,0]", "--target", "1", "-f", "value"])
    assert ok.code == 0 and float(ok.stdout) == 20000.0
