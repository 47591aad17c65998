"""UTF-8 column names whatever the locale, and LOSSCTL_MAX_TEXT_BYTES refused when it is not a byte count
(red-team items 1 and 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_usage_error

from lossctl.io.sources import DEFAULT_MAX_BYTES, max_input_bytes, quoted, recovered_utf8, shown
from lossctl.io.tables import column_index

ROOT = Path(__file__).resolve().parents[1]
TABLE = "préd,cible,ville,Größe,名前\n1,2,Zürich,3,4\n3,5,Genève,6,7\n"


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """lossctl in a child process with the given locale (argv decoded as that locale decodes it)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("LC_")}
    environment.update({"PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, "-m", "lossctl", *args], capture_output=True, cwd=cwd, env=environment, timeout=60
    )


LOCALES = [
    {"LC_ALL": "C", "PYTHONUTF8": "0"},  # ASCII locale without UTF-8 mode: argv bytes as surrogate escapes
    {"LC_ALL": "C", "LANG": "C"},  # Python's own UTF-8 mode for the C locale
    {"LC_ALL": "C.UTF-8"},
]


@pytest.mark.slow
@pytest.mark.parametrize("locale", LOCALES, ids=lambda e: " ".join(f"{k}={v}" for k, v in e.items()))
@pytest.mark.parametrize(("pred", "target", "value"), [("préd", "cible", 2.5), ("Größe", "名前", 1.0)])
def test_utf8_column_names_select_under_any_locale(tmp_path, locale, pred: str, target: str, value: float) -> None:
    (tmp_path / "u.csv").write_text(TABLE, encoding="utf-8")
    done = _run(
        ["mse", "--data", "u.csv", "--pred-col", pred, "--target-col", target, "-f", "value"], tmp_path, **locale
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == value


@pytest.mark.slow
@pytest.mark.parametrize("locale", LOCALES, ids=lambda e: " ".join(f"{k}={v}" for k, v in e.items()))
def test_an_unknown_utf8_name_is_shown_or_escaped_never_as_surrogates(tmp_path, locale) -> None:
    (tmp_path / "u.csv").write_text(TABLE, encoding="utf-8")
    done = _run(["mse", "--data", "u.csv", "--pred-col", "prèd", "--target-col", "cible"], tmp_path, **locale)
    message = done.stderr.decode("utf-8")
    assert done.returncode == 2 and done.stdout == b"" and "Traceback" not in message
    assert "udc" not in message  # no surrogate escape of the argument's bytes
    assert ("'prèd'" in message and "préd" in message) or ("pr\\xe8d" in message and "pr\\xe9d" in message)
    assert "'pred'" not in message  # never spelled as another column's (ASCII) name
    assert "0-based index" in message


def test_recovered_utf8_reads_surrogate_escapes_back() -> None:
    for text in ["préd", "名前", "Größe", "plain"]:
        escaped = text.encode("utf-8").decode("ascii", "surrogateescape")
        if sys.getfilesystemencoding().lower() in ("ascii", "utf-8"):
            assert recovered_utf8(escaped) == text
    assert recovered_utf8("pr\udce9d") == "pr\udce9d"  # a Latin-1 byte, not UTF-8: left as it is
    assert recovered_utf8("préd") == "préd"


def test_column_index_takes_a_selector_decoded_as_surrogates() -> None:
    names = ("préd", "cible")
    escaped = "préd".encode().decode("utf-8", "surrogateescape")  # no surrogates under UTF-8: sanity
    assert column_index(names, 2, escaped, "--pred-col", "u.csv") == 0
    assert column_index(names, 2, "pr\udcc3\udca9d", "--pred-col", "u.csv") == 0


def test_names_escaped_when_standard_error_cannot_show_them(monkeypatch) -> None:
    class Ascii:
        encoding = "ascii"

    monkeypatch.setattr(sys, "stderr", Ascii())
    assert shown("préd") == "pr\\xe9d" and quoted("préd") == "'pr\\xe9d'" and quoted("pr\udce9d") == "'pr\\udce9d'"
    assert shown("plain") == "plain" and quoted("plain") == "'plain'"


# --- LOSSCTL_MAX_TEXT_BYTES -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5", "1e6", "1GiB", "١٠٠"])
def test_an_invalid_limit_is_refused(cli, tmp_path, monkeypatch, value: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text("1\n2\n", encoding="utf-8")
    monkeypatch.setenv("LOSSCTL_MAX_TEXT_BYTES", value)
    run = cli(["mse", "--pred", str(path), "--target", "1,2"])
    assert_usage_error(run, "LOSSCTL_MAX_TEXT_BYTES", "unset it")
    run = cli(["mse", "--pred", "-", "--target", "1,2"], stdin="1\n2\n")
    assert_usage_error(run, "LOSSCTL_MAX_TEXT_BYTES")


@pytest.mark.parametrize(
    ("value", "limit"), [("", DEFAULT_MAX_BYTES), (" ", DEFAULT_MAX_BYTES), ("1000", 1000), ("1_000_000", 10**6)]
)
def test_valid_limits(monkeypatch, value: str, limit: int) -> None:
    monkeypatch.setenv("LOSSCTL_MAX_TEXT_BYTES", value)
    assert max_input_bytes() == limit


def test_a_small_valid_limit_still_applies(cli, tmp_path, monkeypatch) -> None:
    path = tmp_path / "p.csv"
    path.write_text("1\n" * 100, encoding="utf-8")
    monkeypatch.setenv("LOSSCTL_MAX_TEXT_BYTES", "50")
    assert_usage_error(cli(["mse", "--pred", str(path), "--target", "1"]), "more than 50 bytes")
