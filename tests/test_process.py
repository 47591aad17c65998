"""Behaviour as a real process: pipes, Ctrl-C, the debug switch, atomic output files."""

from __future__ import annotations

import json
import os
import pty
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

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


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_until_idle(pid: int, timeout: float = 60.0) -> None:
    """Until the process has used no CPU for half a second (it waits for input), or 1.5 s without /proc."""
    if not Path(f"/proc/{pid}/stat").exists():
        time.sleep(1.5)
        return
    deadline = time.monotonic() + timeout
    before = _cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_ticks(pid)
        if now == before and now > 0:
            return
        before = now
    raise AssertionError("the process never went idle")


def test_ctrl_c_exits_130_without_traceback() -> None:
    process = subprocess.Popen(
        [*LOSSCTL, "mse", "--pred", "-", "--target", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_until_idle(process.pid)  # started, and blocked on standard input
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


# ---------------------------------------------------------------------------------------------
# Writing: nothing lost, ever (issue 12)
# ---------------------------------------------------------------------------------------------

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


def _bash(command: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a bash pipeline with lossctl as ``L``; PIPESTATUS[0] (lossctl's status) is the last stdout line."""
    environment = {**os.environ, "PYTHONPATH": SRC, "L": " ".join(LOSSCTL), **(env or {})}
    script = f'{command}; echo "STATUS=${{PIPESTATUS[0]}}" >&2'
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=environment, timeout=timeout, check=False)
    return done


def _status(done: subprocess.CompletedProcess) -> tuple[int, str]:
    """lossctl's exit status and its stderr without the STATUS line."""
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    status = int(lines[-1].split("=")[1])
    return status, "\n".join(lines[:-1])


class TestOutputsNeverShareAFile:
    """Two outputs never name one file, and no output is an input (whitespace, ./, .., symlinks, hard links)."""

    def test_two_outputs_with_one_name(self, cli, tmp_path) -> None:
        out = tmp_path / "o.npy"
        run = cli(["mse", "--pred", "1,2", "--target", "1,3", "--save-elements", str(out), "--save-grad", str(out)])
        assert_usage_error(run, "--save-grad", "is also --save-elements")
        assert not out.exists() and _leftovers(tmp_path) == []

    @pytest.mark.parametrize("spelling", ["./o.npy", "sub/../o.npy", "link.npy", "hard.npy"])
    def test_two_outputs_one_file_spelled_differently(self, cli, tmp_path, monkeypatch, spelling) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "sub").mkdir()
        np.save(tmp_path / "o.npy", np.array([42.0]))
        os.symlink("o.npy", tmp_path / "link.npy")
        os.link(tmp_path / "o.npy", tmp_path / "hard.npy")
        run = cli(["mse", "--pred", "1,2", "--target", "1,3", "--save-elements", "o.npy", "--save-grad", spelling])
        assert_usage_error(run, "is also --save-elements")
        assert np.load(tmp_path / "o.npy").tolist() == [42.0]

    @pytest.mark.parametrize(
        ("option", "given"),
        [("--pred", " in.csv "), ("--pred", "./in.csv"), ("--target", "sub/../in.csv"), ("--pred", "alias.csv")],
    )
    def test_an_output_is_never_an_input(self, cli, tmp_path, monkeypatch, option, given) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "sub").mkdir()
        (tmp_path / "in.csv").write_text("1\n2\n3\n")
        os.symlink("in.csv", tmp_path / "alias.csv")
        other = "--target" if option == "--pred" else "--pred"
        run = cli(["mse", option, given, other, "1,2,3", "--save-grad", "in.csv"])
        assert_usage_error(run, "--save-grad", f"is also an input ({option})")
        assert (tmp_path / "in.csv").read_text() == "1\n2\n3\n"

    def test_output_through_a_symlink_to_an_input(self, cli, tmp_path, monkeypatch) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "in.csv").write_text("1\n2\n")
        os.symlink("in.csv", tmp_path / "out.csv")
        os.link(tmp_path / "in.csv", tmp_path / "hard.csv")
        for name in ("out.csv", "hard.csv"):
            run = cli(["mse", "--pred", "in.csv", "--target", "1,3", "--save-elements", name])
            assert_usage_error(run, "is also an input (--pred)")
        assert (tmp_path / "in.csv").read_text() == "1\n2\n"

    @pytest.mark.parametrize(
        ("loss", "argv", "option"),
        [
            ("ce", ["--pred", "0.1,0.9;0.3,0.7", "--target", "1,0", "--weight", "{w}"], "--weight"),
            ("gaussian_nll", ["--pred", "1,2", "--target", "1,3", "--var", "{w}"], "--var"),
            ("margin_ranking", ["--pred", "1,2", "--pred2", "{w}", "--target", "1,-1"], "--pred2"),
            ("mse", ["--data", "{w}", "--pred-col", "0", "--target-col", "1"], "--data"),
        ],
    )
    def test_tensor_parameters_and_tables_are_inputs_too(self, cli, tmp_path, loss, argv, option) -> None:
        table = tmp_path / "w.csv"
        table.write_text("1,2\n3,4\n" if option == "--data" else "1\n2\n")
        before = table.read_bytes()
        run = cli([loss, *[a.replace("{w}", f" {table} ") for a in argv], "--save-grad", str(table)])
        assert_usage_error(run, f"is also an input ({option})")
        assert table.read_bytes() == before

    def test_a_folder_of_shards_protects_its_files(self, tmp_path) -> None:
        from lossctl.io.outputs import OutputSet

        (tmp_path / "shards").mkdir()
        (tmp_path / "shards" / "part1.csv").write_text("1,2\n")
        with pytest.raises(Exception, match="is also an input"):
            OutputSet({"--save-grad": tmp_path / "shards" / "part1.csv"}, {"--data": str(tmp_path / "shards")})
        with pytest.raises(Exception, match="is also an input"):
            OutputSet({"--save-grad": tmp_path / "shards" / "part1.csv"}, {"--data": str(tmp_path / "shards/*.csv")})
        assert _leftovers(tmp_path) == []


class TestFailedRunWritesNothing:
    """All outputs are staged and renamed into place only when every one was written (both paths)."""

    def test_second_output_failing_keeps_the_first_file(self, cli, tmp_path) -> None:
        elements = tmp_path / "e.npy"
        np.save(elements, np.array([7.0]))
        run = cli(
            [
                "mse",
                "--pred",
                "1,2",
                "--target",
                "1,3",
                "--save-elements",
                str(elements),
                "--save-grad",
                str(tmp_path / "g.png"),
            ]
        )
        assert_usage_error(run, "--save-grad", ".png heat map needs a 2-D")
        assert np.load(elements).tolist() == [7.0]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npy"]

    def test_a_write_error_on_the_second_file_leaves_both_untouched(self, cli, tmp_path, monkeypatch) -> None:
        real_save = np.save
        calls = []

        def second_fails(stream, array, allow_pickle=False):
            calls.append(1)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            real_save(stream, array, allow_pickle=allow_pickle)

        monkeypatch.setattr(lossctl.io.save.np, "save", second_fails)
        (tmp_path / "g.npy").write_bytes(b"old gradient")
        argv = ["mse", "--pred", "1,2", "--target", "1,3", "--save-elements", str(tmp_path / "e.npy")]
        run = cli([*argv, "--save-grad", str(tmp_path / "g.npy")])
        assert_usage_error(run, "--save-grad: cannot write", "No space left on device")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npy"]
        assert (tmp_path / "g.npy").read_bytes() == b"old gradient"

    def test_an_input_error_after_staging_leaves_nothing(self, cli, tmp_path) -> None:
        run = cli(["mse", "--pred", "1,2", "--target", "1,2,3", "--save-elements", str(tmp_path / "e.csv")])
        assert_usage_error(run, "--target has 3 values")
        assert list(tmp_path.iterdir()) == []

    def test_block_path_failure_deep_in_the_file(self, cli, tmp_path, monkeypatch) -> None:
        import lossctl.cli.commands
        import lossctl.evaluation.engine

        monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
        monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)
        pred = np.arange(2000.0)
        pred[1900] = np.nan
        np.save(tmp_path / "p.npy", pred)
        np.save(tmp_path / "e.npy", np.array([1.0]))
        (tmp_path / "g.csv").write_text("old\n")
        argv = ["mse", "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "p.npy"), "-f", "value"]
        run = cli([*argv, "--save-elements", str(tmp_path / "e.npy"), "--save-grad", str(tmp_path / "g.csv")])
        assert_usage_error(run, "[1900] is nan")  # --pred and --target are the same file
        assert np.load(tmp_path / "e.npy").tolist() == [1.0] and (tmp_path / "g.csv").read_text() == "old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npy", "g.csv", "p.npy"]

    def test_block_path_second_output_failing(self, cli, tmp_path, monkeypatch) -> None:
        import lossctl.cli.commands

        monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
        np.save(tmp_path / "p.npy", np.arange(500.0))
        argv = ["l1", "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "p.npy"), "-f", "json"]
        run = cli([*argv, "--save-elements", str(tmp_path / "e.csv"), "--save-grad", str(tmp_path / "g.png")])
        assert_usage_error(run, "--save-grad", "2-D")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy"]

    def test_stdout_failing_writes_no_file_and_a_closed_pipe_still_saves(self, tmp_path) -> None:
        argv = f"$L mse --pred 1,2 --target 1,3 --save-elements {tmp_path}/e.npy"
        status, stderr = _status(_bash(f"{argv} >/dev/full"))
        assert status == 2 and stderr == "error: cannot write to standard output: No space left on device"
        assert list(tmp_path.iterdir()) == []
        status, stderr = _status(_bash(f"sleep 0; {argv} -f json | true"))
        assert (status, stderr) == (141, "")
        assert np.load(tmp_path / "e.npy").tolist() == [0.0, 1.0]


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


SLOW_BLOCKS = """
import sys, time
import lossctl.cli.commands, lossctl.evaluation.engine
lossctl.cli.commands.INLINE_LIMIT = 100
lossctl.evaluation.request.BLOCK_ELEMENTS = 64
lossctl.evaluation.engine.THREADS = 2
read = lossctl.evaluation.request.read_rows
def slow(array, rows):
    time.sleep(0.02)
    return read(array, rows)
lossctl.evaluation.request.read_rows = slow
from lossctl.cli.app import main
sys.argv = ["lossctl", *sys.argv[1:]]
main()
"""


class TestEndingSignalsRemoveStagedFiles:
    """SIGTERM and SIGHUP, like SIGINT, remove staged files; exit 128 + the signal number."""

    @pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
    def test_signal_while_reading_standard_input(self, tmp_path, signum, status) -> None:
        np.save(tmp_path / "e.npy", np.array([5.0]))
        process = subprocess.Popen(
            [*LOSSCTL, "mse", "--pred", "-", "--target", "1", "--save-elements", str(tmp_path / "e.npy")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        _wait_for(lambda: _leftovers(tmp_path))  # the output is staged before the input is read
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == status, stderr
        assert stdout == b"" and b"Traceback" not in stderr and len(stderr.strip().splitlines()) <= 1
        assert _leftovers(tmp_path) == [] and np.load(tmp_path / "e.npy").tolist() == [5.0]

    @pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
    def test_signal_in_the_middle_of_the_block_path(self, tmp_path, signum, status) -> None:
        np.save(tmp_path / "p.npy", np.arange(40_000.0))
        argv = ["mse", "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "p.npy"), "-f", "value"]
        outputs = ["--save-elements", str(tmp_path / "e.csv"), "--save-grad", str(tmp_path / "g.npy")]
        process = subprocess.Popen(
            [sys.executable, "-c", SLOW_BLOCKS, *argv, *outputs],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        _wait_for(lambda: any(".part." in name for name in _leftovers(tmp_path)))  # blocks are being written
        time.sleep(0.3)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == status, stderr
        assert stdout == b"" and b"Traceback" not in stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy"]


class TestFileModes:
    """A replaced file keeps its permission bits; a new one gets 0666 minus the umask."""

    @pytest.fixture
    def umask(self):
        old = os.umask(0o022)
        yield os.umask
        os.umask(old)

    @pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
    def test_new_files_follow_the_umask(self, cli, tmp_path, umask, mask, mode) -> None:
        umask(mask)
        argv = ["mse", "--pred", "1,2", "--target", "1,3", "--save-elements", str(tmp_path / "e.npy")]
        assert cli([*argv, "--save-grad", str(tmp_path / "g.csv")]).code == 0
        for name in ("e.npy", "g.csv"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o755])
    def test_replaced_files_keep_their_mode(self, cli, tmp_path, umask, mode) -> None:
        umask(0o077)
        for name in ("e.npy", "g.csv"):
            (tmp_path / name).write_text("old")
            os.chmod(tmp_path / name, mode)
        argv = ["mse", "--pred", "1,2", "--target", "1,3", "--save-elements", str(tmp_path / "e.npy")]
        assert cli([*argv, "--save-grad", str(tmp_path / "g.csv")]).code == 0
        for name in ("e.npy", "g.csv"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode
        assert np.load(tmp_path / "e.npy").tolist() == [0.0, 1.0]

    def test_block_path_and_symlinked_destinations(self, cli, tmp_path, umask, monkeypatch) -> None:
        import lossctl.cli.commands

        monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
        umask(0o027)
        np.save(tmp_path / "p.npy", np.arange(300.0))
        (tmp_path / "real.npy").write_text("old")
        os.chmod(tmp_path / "real.npy", 0o604)
        os.symlink("real.npy", tmp_path / "link.npy")
        argv = ["mse", "--pred", str(tmp_path / "p.npy"), "--target", "{p}".format(p=tmp_path / "p.npy")]
        run = cli([*argv, "--save-elements", str(tmp_path / "link.npy"), "--save-grad", str(tmp_path / "g.npy")])
        assert run.code == 0, run.stderr
        assert os.path.islink(tmp_path / "link.npy")  # written through the link, as a shell redirection does
        assert stat.S_IMODE(os.stat(tmp_path / "real.npy").st_mode) == 0o604
        assert np.load(tmp_path / "real.npy").shape == (300,)
        assert stat.S_IMODE(os.stat(tmp_path / "g.npy").st_mode) == 0o640


BIG = "big.npy"  # 300,000 values: the CSV and table outputs are far larger than a pipe's buffer
COMMANDS = {
    "table": "$L mse --pred {d}/big.npy --target {d}/big.npy",
    "json": "$L mse --pred {d}/big.npy --target {d}/big.npy -f json",
    "csv": "$L mse --pred {d}/big.npy --target {d}/big.npy -f csv",
    "value": "$L mse --pred 1,2 --target 1,3 -f value",
    "list": "$L list",
    "list-json": "$L list -f json",
    "info": "$L info huber",
    "compare": "$L compare --pred 1,2 --target 1,3",
    "help": "$L --help",
    "loss-help": "$L mse --help",
    "explain": "$L mse --pred 1,2 --target 1,3 --explain",
}


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    np.save(folder / BIG, np.arange(300_000, dtype=float))
    return folder


class TestBrokenPipeAndUnwritableStdout:
    """A reader that went away: 141 quietly, from every command and format, ahead of --expect's 1.
    A closed stdout or a full disk: one line and exit 2."""

    @pytest.mark.parametrize("name", sorted(COMMANDS))
    def test_reader_gone_before_the_output(self, big_folder, name) -> None:
        status, stderr = _status(_bash(COMMANDS[name].format(d=big_folder) + " | true"))
        assert (status, stderr) == (141, "")

    @pytest.mark.parametrize("name", ["table", "json", "csv", "list", "value", "help"])
    def test_reader_leaving_after_one_byte(self, big_folder, name) -> None:
        done = _bash(COMMANDS[name].format(d=big_folder) + " | head -c1")
        status, stderr = _status(done)
        assert len(done.stdout) == 1 and stderr == ""
        assert status == 141 if name in ("json", "csv") else status in (0, 141)  # a short output may fit the pipe

    @pytest.mark.parametrize("output_format", ["json", "value", "csv", "table"])
    def test_broken_pipe_wins_over_the_expect_mismatch(self, output_format) -> None:
        command = f"$L mse --pred 1,2 --target 1,3 -f {output_format} --expect 0.7"
        assert _status(_bash(command + " | true")) == (141, "")
        status, stderr = _status(_bash(command + " >/dev/null"))
        assert status == 1
        if output_format in ("value", "csv"):  # the check's line goes to stderr only when the pipe is fine
            assert "✗" in stderr

    @pytest.mark.parametrize("name", ["table", "json", "value", "list", "info", "help", "explain"])
    @pytest.mark.parametrize(
        ("redirect", "reason"), [(">&-", "Bad file descriptor"), (">/dev/full", "No space left on device")]
    )
    def test_closed_stdout_and_full_disk(self, big_folder, name, redirect, reason) -> None:
        command = COMMANDS[name].replace("{d}/big.npy", "1,2,3")
        done = _bash(f"{command.format(d=big_folder)} {redirect}")
        status, stderr = _status(done)
        assert (status, stderr) == (2, f"error: cannot write to standard output: {reason}")

    def test_large_writes_are_never_cut_silently(self, big_folder) -> None:
        """Python's buffered writer can report a partial write as done; every byte must arrive or fail."""
        done = _bash(COMMANDS["csv"].format(d=big_folder) + " | wc -c")
        expected = cli_csv_size(big_folder)
        assert int(done.stdout) == expected and _status(done) == (0, "")


def cli_csv_size(folder) -> int:
    from lossctl import compute
    from lossctl.render.machine import to_csv

    values = np.load(folder / BIG)
    return len(to_csv(compute("mse", values, values)).encode())


ASCII_ENVIRONMENTS = {
    "ascii": {"PYTHONIOENCODING": "ascii"},
    "C": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    "C-utf8-mode": {"LC_ALL": "C", "LANG": "C"},
}


class TestStdoutWithoutUnicode:
    """A stdout that cannot encode Unicode gets ASCII spellings, never a crash."""

    @pytest.mark.parametrize("environment", sorted(ASCII_ENVIRONMENTS))
    @pytest.mark.parametrize("name", ["list", "info", "explain", "help", "loss-help", "compare"])
    def test_every_text_command(self, environment, name) -> None:
        done = _bash(COMMANDS[name], env=ASCII_ENVIRONMENTS[environment])
        status, stderr = _status(done)
        assert (status, stderr) == (0, "")
        if environment != "C-utf8-mode":
            done.stdout.decode("ascii")  # nothing but ASCII reached the terminal

    def test_table_and_explain_use_readable_spellings(self) -> None:
        env = ASCII_ENVIRONMENTS["ascii"]
        explain = _bash("$L mse --pred 1,2 --target 1,3 --explain", env=env).stdout.decode("ascii")
        assert "y_hat_i - y_i" in explain and "dL/dy_hat" in explain
        info = _bash("$L info huber", env=env).stdout.decode("ascii")
        assert "delta" in info and "?" not in info.replace("?)", "")
        table = _bash("$L mse --pred 1,2 --target 1,3", env=env).stdout.decode("ascii")
        assert "value (mean)" in table and "+---" in table  # Rich picks its ASCII box

    def test_latin1_keeps_what_it_can(self) -> None:
        done = _bash("$L mse --pred 1,2 --target 1,3 --explain", env={"PYTHONIOENCODING": "latin-1"})
        assert _status(done) == (0, "")
        assert "y_hat" in done.stdout.decode("latin-1")

    def test_json_escapes_instead_of_spelling(self) -> None:
        ascii_json = _bash("$L info mse -f json", env=ASCII_ENVIRONMENTS["ascii"]).stdout
        utf8_json = _bash("$L info mse -f json").stdout
        assert json.loads(ascii_json.decode("ascii")) == json.loads(utf8_json.decode("utf-8"))

    def test_error_messages_on_an_ascii_stderr(self) -> None:
        status, stderr = _status(_bash("$L hinge --pred 1,2 --target 1,2", env=ASCII_ENVIRONMENTS["ascii"]))
        assert status == 2 and "labels -1 or 1" in stderr

    @pytest.mark.parametrize(
        ("text", "spelled"),
        [
            ("ℓᵢ = (ŷᵢ − yᵢ)²", "l_i = (y_hat_i - y_i)^2"),
            ("∂L/∂ŷ = (1/n) Σ", "dL/dy_hat = (1/n) sum"),
            ("ε = 10⁻⁸, σ, Δ", "eps = 10^-8, sigma, Delta"),
            ("√x ≤ 1 ≥ 0 · 2", "sqrtx <= 1 >= 0 * 2"),
            ("✓ right ✗ wrong", "OK right X wrong"),
            ("┌─┐│└┘", "+-+|++"),
            ("café ☃", "cafe ?"),
        ],
    )
    def test_ascii_spellings(self, text, spelled) -> None:
        from lossctl.io.process import spell_ascii

        assert spell_ascii(text) == spelled
        assert text.encode("ascii", "lossctl-ascii").decode("ascii") == spelled


def _lower_inline_limit(monkeypatch) -> None:
    import lossctl.cli.commands
    import lossctl.evaluation.engine

    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)


class TestOneLineInsteadOfACrash:
    """Exit 2 and one line for bad --precision, unusable output names, folders and disks — on both paths."""

    @pytest.mark.parametrize("value", ["-1", "0", "18", "50", "abc", "1.5"])
    @pytest.mark.parametrize("command", ["mse", "compare"])
    def test_precision_out_of_range(self, cli, command, value) -> None:
        run = cli([command, "--pred", "1,2", "--target", "1,3", "--precision", value])
        assert_usage_error(run, "--precision")

    @pytest.fixture(params=["small", "large"])
    def path_kind(self, request, monkeypatch, tmp_path):
        """The same argv on the in-memory path and (with a lowered limit) the block-wise path."""
        np.save(tmp_path / "p.npy", np.arange(300.0))
        if request.param == "large":
            _lower_inline_limit(monkeypatch)
        return ["mse", "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "p.npy"), "-f", "json"]

    def test_file_name_too_long(self, cli, tmp_path, path_kind) -> None:
        for name in ("e" * 300 + ".npy", "d" * 300 + "/e.npy", "/".join(["d" * 250] * 20) + "/e.csv"):
            assert_usage_error(cli([*path_kind, "--save-elements", str(tmp_path / name)]), "--save-elements")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy"]

    def test_longest_allowed_name_is_staged_beside_it(self, cli, tmp_path, path_kind) -> None:
        name = "e" * 251 + ".npy"  # 255 bytes: the temporary name must be shortened, not the output's
        assert cli([*path_kind, "--save-elements", str(tmp_path / name)]).code == 0
        assert (tmp_path / name).exists() and _leftovers(tmp_path) == []

    def test_unwritable_folder_fails_before_any_work(self, cli, tmp_path, path_kind, monkeypatch) -> None:
        import lossctl.cli.commands
        import lossctl.io.outputs

        def refused(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        def never(*args, **kwargs):
            raise AssertionError("inputs read before the outputs were checked")

        monkeypatch.setattr(lossctl.io.outputs.os, "open", refused)
        monkeypatch.setattr(lossctl.cli.commands, "read_inputs", never)
        for option in ("--save-elements", "--save-grad"):
            run = cli([*path_kind, option, str(tmp_path / "out.npy")])
            assert_usage_error(run, f"{option}: cannot write into {tmp_path}: Permission denied")

    @pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
    def test_read_only_folder_and_file(self, cli, tmp_path, path_kind) -> None:
        folder = tmp_path / "ro"
        folder.mkdir()
        (tmp_path / "ro.npy").write_text("old")
        os.chmod(tmp_path / "ro.npy", 0o444)
        os.chmod(folder, 0o555)
        try:
            assert_usage_error(cli([*path_kind, "--save-elements", str(folder / "e.npy")]), "Permission denied")
            assert_usage_error(cli([*path_kind, "--save-grad", str(tmp_path / "ro.npy")]), "is read-only")
        finally:
            os.chmod(folder, 0o755)
        assert (tmp_path / "ro.npy").read_text() == "old"

    @pytest.mark.parametrize(
        ("destination", "fragment"),
        [
            ("/dev/full", "must end in .npy, .csv or .png"),
            ("{tmp}/dev.npy", "not a regular file"),
            ("{tmp}/fifo.csv", "not a regular file"),
            ("{tmp}/folder.npy", "is a directory"),
            ("{tmp}/p.npy/e.npy", "is not a folder"),
            ("{tmp}/missing/e.npy", "does not exist"),
            ("   ", "the file name is empty"),
        ],
    )
    def test_destinations_that_are_not_files(self, cli, tmp_path, path_kind, destination, fragment) -> None:
        os.symlink("/dev/full", tmp_path / "dev.npy")
        os.mkfifo(tmp_path / "fifo.csv")
        (tmp_path / "folder.npy").mkdir()
        run = cli([*path_kind, "--save-grad", destination.replace("{tmp}", str(tmp_path))])
        assert_usage_error(run, fragment)
        assert _leftovers(tmp_path) == []

    def test_full_disk_while_saving(self, cli, tmp_path, path_kind, monkeypatch) -> None:
        import lossctl.io.outputs
        import lossctl.io.save

        def full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(lossctl.io.save, "write_csv", full)
        monkeypatch.setattr(lossctl.io.outputs.os, "posix_fallocate", full)
        monkeypatch.setattr(lossctl.io.save.np, "save", full)
        for option, name in (("--save-elements", "e.csv"), ("--save-grad", "g.npy")):
            run = cli([*path_kind, option, str(tmp_path / name)])
            assert_usage_error(run, f"{option}: cannot write {tmp_path / name}: No space left on device")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npy"]


@pytest.mark.parametrize(
    ("argv", "content"),
    [
        (["mse", "--pred", "-", "--target", "1,2,4"], "1\n2\n3\n"),
        (["mse", "--data", "-", "--pred-col", "a", "--target-col", "b"], "a,b\n1,2\n"),
    ],
)
def test_standard_input_redirected_from_a_file_is_that_file(tmp_path, argv, content) -> None:
    """`< in.csv` makes in.csv an input: --save-grad in.csv is refused and the file is left as it was."""
    source = tmp_path / "in.csv"
    source.write_text(content)
    command = " ".join([*LOSSCTL, *argv, "--save-grad", str(source), "-f", "value", "<", str(source)])
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "is also an input" in done.stderr, done.stderr
    assert source.read_text() == content
