"""Every input form of docs/architecture.md §6, and the errors each one gives."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from lossctl.errors import InputError
from lossctl.io.inputs import parse_literal, read_array, read_columns, read_stdin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2,3,4,5", [2, 3, 4, 5]),
        ("2 3 4 5", [2, 3, 4, 5]),
        ("  2, 3 ,4,5 ", [2, 3, 4, 5]),
        ("-1.5e-3,+2,.5,7.", [-1.5e-3, 2, 0.5, 7]),
        ("0.1,0.9;0.3,0.7", [[0.1, 0.9], [0.3, 0.7]]),
        ("[[0.1,0.9],[0.3,0.7]]", [[0.1, 0.9], [0.3, 0.7]]),
        ("[1, 2.5, -3]", [1, 2.5, -3]),
        ("[[[1,2],[3,4]]]", [[[1, 2], [3, 4]]]),
        ("5", [5]),
        ("nan,inf,-inf", [np.nan, np.inf, -np.inf]),
    ],
)
def test_literals(text: str, expected) -> None:
    np.testing.assert_array_equal(parse_literal(text, "--pred"), np.array(expected, dtype=float))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ("2,,3", "empty value"),
        ("2,abc", "'abc' is not a number"),
        ("1_000", "not a number"),
        ("0x10", "not a number"),
        ("1e999", "too large"),
        ("[1e999]", "too large"),
        ("[[1,2],[3]]", "ragged"),
        ("1,2;3", "ragged"),
        ("[1,2", "invalid JSON"),
        ('["1"]', "is not a number"),
        ("[true]", "is not a number"),
        ("[]", "is empty"),  # found by the parser fuzzer
        ("[[]]", "is empty"),
    ],
)
def test_bad_literals(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        parse_literal(text, "--pred")
    assert "--pred" in str(info.value)


def test_csv_with_header_tsv_txt_json_and_npy(tmp_path) -> None:
    (tmp_path / "a.csv").write_text("pred,target\n1,2\n3,4\n")
    (tmp_path / "b.tsv").write_text("1\t2\n3\t4\n")
    (tmp_path / "c.txt").write_text("# a comment\n1 2 3\n\n")
    (tmp_path / "d.json").write_text(json.dumps([[1, 2], [3, 4]]))
    np.save(tmp_path / "e.npy", np.arange(6, dtype=np.int32).reshape(2, 3))
    np.testing.assert_array_equal(read_array(str(tmp_path / "a.csv"), "--pred"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_array(str(tmp_path / "b.tsv"), "--pred"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_array(str(tmp_path / "c.txt"), "--pred"), [1, 2, 3])
    np.testing.assert_array_equal(read_array(str(tmp_path / "d.json"), "--pred"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_array(str(tmp_path / "e.npy"), "--pred"), [[0, 1, 2], [3, 4, 5]])


def test_single_column_file_is_a_vector(tmp_path) -> None:
    (tmp_path / "p.csv").write_text("value\n1\n2\n3\n")
    assert read_array(str(tmp_path / "p.csv"), "--pred").shape == (3,)


def test_bad_csv_names_file_line_and_value(tmp_path) -> None:
    path = tmp_path / "pred.csv"
    path.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(InputError, match=r"pred.csv line 3, value 2: 'x' is not a number"):
        read_array(str(path), "--pred")
    path.write_text("1,2\n3\n")
    with pytest.raises(InputError, match="line 2: ragged rows"):
        read_array(str(path), "--pred")


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_text(""), "holds no numbers"),
        (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "truncated or not a valid .npy"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True), "never unpickles"),
        (lambda p: np.save(p, np.array(["a", "b"])), "numeric array"),
    ],
    ids=["missing", "directory", "empty", "truncated", "pickle", "strings"],
)
def test_bad_files(tmp_path, setup, fragment) -> None:
    suffix = ".csv" if fragment in ("holds no numbers",) else ".npy"
    path = tmp_path / f"x{suffix}"
    setup(path)
    with pytest.raises(InputError, match=fragment):
        read_array(str(path), "--target")


def test_truncated_npy_is_refused(tmp_path) -> None:
    path = tmp_path / "t.npy"
    np.save(path, np.arange(100.0))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="truncated"):
        read_array(str(path), "--pred")


def test_stdin_text_and_json() -> None:
    np.testing.assert_array_equal(read_stdin("--pred", io.StringIO("1\n2\n3\n")), [1, 2, 3])
    np.testing.assert_array_equal(read_stdin("--pred", io.StringIO("x,y\n1,2\n")), [1, 2])
    np.testing.assert_array_equal(read_stdin("--pred", io.StringIO("[[1,2],[3,4]]")), [[1, 2], [3, 4]])
    with pytest.raises(InputError, match="standard input is empty"):
        read_stdin("--pred", io.StringIO("  \n"))


def test_stdin_that_is_a_terminal_is_refused() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(InputError, match="standard input is a terminal"):
        read_stdin("--pred", Terminal())


def test_columns_by_name_and_index(tmp_path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,y_hat,y\n0,2,4\n1,3,5\n")
    pred, target = read_columns(str(path), "y_hat", "2")
    np.testing.assert_array_equal(pred, [2, 3])
    np.testing.assert_array_equal(target, [4, 5])
    with pytest.raises(InputError, match=r"--pred-col: .* has no column 'nope' \(its columns: id, y_hat, y\)"):
        read_columns(str(path), "nope", "y")
    with pytest.raises(InputError, match="--target-col: column 7 is out of range"):
        read_columns(str(path), "y_hat", "7")


# --- byte-order marks: removed from every text input -------------------------------------------

BOM_ENCODINGS = ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"]


def _with_bom(text: str, encoding: str) -> bytes:
    """Text encoded with its byte-order mark (Python's utf-16/32-le/be codecs write none)."""
    if encoding in ("utf-16-le", "utf-16-be", "utf-32-be"):
        return ("\ufeff" + text).encode(encoding)
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", BOM_ENCODINGS)
@pytest.mark.parametrize("suffix", [".txt", ".csv", ".tsv", ".dat", ""])
def test_byte_order_mark_is_not_a_header(tmp_path, encoding: str, suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    path.write_bytes(_with_bom("2\n3\n4\n5\n", encoding))
    np.testing.assert_array_equal(read_array(str(path), "--pred"), [2, 3, 4, 5])


@pytest.mark.parametrize("encoding", BOM_ENCODINGS)
def test_byte_order_mark_in_json_stdin_and_table_headers(tmp_path, encoding: str) -> None:
    (tmp_path / "p.json").write_bytes(_with_bom("[[1, 2], [3, 4]]", encoding))
    np.testing.assert_array_equal(read_array(str(tmp_path / "p.json"), "--pred"), [[1, 2], [3, 4]])
    stdin = io.TextIOWrapper(io.BytesIO(_with_bom("7\n8\n", encoding)))
    np.testing.assert_array_equal(read_stdin("--pred", stdin), [7, 8])
    (tmp_path / "t.csv").write_bytes(_with_bom("y_hat,y\n1,2\n3,5\n", encoding))
    pred, target = read_columns(str(tmp_path / "t.csv"), "y_hat", "y")
    np.testing.assert_array_equal(pred, [1, 3])
    np.testing.assert_array_equal(target, [2, 5])


def test_byte_order_mark_through_the_command_line(cli, tmp_path) -> None:
    (tmp_path / "p.txt").write_bytes(b"\xef\xbb\xbf2\n3\n4\n5\n")
    run = cli(["mse", "--pred", str(tmp_path / "p.txt"), "--target", "4,5,6,17", "-f", "json"])
    assert run.json()["shape"] == [4]
    assert run.json()["value"] == pytest.approx((4 + 4 + 4 + 144) / 4)
    run = cli(["mse", "--pred", "-", "--target", "4,5,6,17", "-f", "value"], stdin=b"\xef\xbb\xbf2\n3\n4\n5\n")
    assert float(run.stdout) == pytest.approx(39.0)
    assert float(cli(["mse", "--pred", "\ufeff2,3", "--target", "2,3", "-f", "value"]).stdout) == 0


# --- headers and comments: one classification for the fast and the careful parser -------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pred,target\n1,2\n3,4\n", [[1, 2], [3, 4]]),
        ('"pred","target"\n1,2\n3,4\n', [[1, 2], [3, 4]]),
        ("# made by hand\n\nx y\n1 2\n3 4\n", [[1, 2], [3, 4]]),
        ("5 # first\n6 # second\n", [5, 6]),
        ("# only a comment\n1e3\n-2.5\n", [1000, -2.5]),
        ("2020,2021\n1,2\n", [[2020, 2021], [1, 2]]),  # numbers are data, never names
        ("a;b\r\n1.5;2.5\r\n", [1.5, 2.5]),
        ("a|b\n1|2\n3|4\n", [[1, 2], [3, 4]]),
        ('"1","2"\n"3","4"\n', [[1, 2], [3, 4]]),
        ("x\n1\nnan\n", [1, np.nan]),  # careful path (not finite), same reading
    ],
)
def test_headers_comments_and_separators(tmp_path, text: str, expected) -> None:
    path = tmp_path / "p.csv"
    path.write_text(text, newline="")
    np.testing.assert_array_equal(read_array(str(path), "--pred"), np.array(expected, dtype=float))


@pytest.mark.parametrize(
    "text",
    [
        "a,b\n1,2\n3,4\n",
        "1 2\n3 4\n# end\n",
        'x;y\n"1";2\n3;"4"\n',
        "v\n1 # one\n2\n",
        "\n\n1|2|3\n",
    ],
)
def test_fast_and_careful_parsers_agree(text: str) -> None:
    from lossctl.io.tables import careful_numeric_table, fast_values, scan_layout

    raw = text.encode()
    layout = scan_layout(text, None)
    fast = fast_values(raw, layout)
    assert fast is not None
    careful = careful_numeric_table(text, "--pred: p", layout)
    np.testing.assert_array_equal(fast, careful.values)


def test_header_width_is_checked_on_the_fast_path_too(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b,c\n" + "1,2\n" * 1000)  # well-formed numbers: loadtxt alone would accept them
    with pytest.raises(InputError, match="line 2: the header has 3 names but this row has 2 values"):
        read_array(str(path), "--pred")


# --- literal or file ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["2", "1,2", "nan", "[1]", "1e3"])
def test_text_that_reads_as_values_is_values_even_when_a_file_has_that_name(tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text("9\n9\n9\n9\n")
    assert read_array(name, "--pred").size == parse_literal(name, "--pred").size
    np.testing.assert_array_equal(read_array(f"./{name}", "--pred"), [9, 9, 9, 9])


def test_literal_rule_applies_to_tensor_parameters(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "1").write_text("5\n")
    run = cli(["gaussian_nll", "--pred", "1,2", "--target", "1,2", "--var", "1", "-f", "json"])
    explicit = cli(["gaussian_nll", "--pred", "1,2", "--target", "1,2", "--var", "1,1", "-f", "json"])
    assert run.json()["value"] == explicit.json()["value"]
    from_file = cli(["gaussian_nll", "--pred", "1,2", "--target", "1,2", "--var", "./1", "-f", "json"])
    assert from_file.json()["value"] != run.json()["value"]


def test_a_name_that_is_not_a_literal_reads_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "preds").write_text("1\n2\n")
    np.testing.assert_array_equal(read_array("preds", "--pred"), [1, 2])


# --- real tables with --data ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "pred_col", "target_col", "delimiter"),
    [
        (b"\xef\xbb\xbfpred;target\r\n1.5;2.5\r\n3;4.5\r\n", "pred", "target", None),  # Excel, ; separated
        (b",pred,target\n0,1.5,2.5\n1,3.0,4.5\n", "pred", "target", None),  # pandas to_csv with its index
        (b'"","pred","target"\n"1",1.5,2.5\n"2",3,4.5\n', "pred", "target", None),  # R write.csv
        (b'id,name,date,pred,target\n7,"Smith, J",2024-01-02,1.5,2.5\nx,,,"3","4.5"\n', "pred", "target", None),
        (b"pred\ttarget\tnote\n1.5\t2.5\tok\n3\t4.5\t\n", "0", "1", None),
        (b"pred|target\n1.5|2.5\n3|4.5\n", "PRED", "-1", None),
        (b"pred target\n1.5   2.5\n3 4.5\n", "pred", "target", "space"),
        (b"1.5;2.5\n3;4.5\n", "0", "1", ";"),
        (b"# exported\npred,target # names\n1.5,2.5\n3,4.5 # last\n", "pred", "target", ","),
        (b"id,name,pred,target\r\nq1,bob,1.5,2.5\r\n\r\nq2,,3,4.5\r\n", "pred", "target", None),
    ],
    ids=["excel", "pandas", "r", "text-columns", "tsv-notes", "pipe", "spaces", "explicit", "comments", "unquoted"],
)
def test_tables_as_tools_write_them(tmp_path, content: bytes, pred_col: str, target_col: str, delimiter) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    pred, target = read_columns(str(path), pred_col, target_col, delimiter)
    np.testing.assert_array_equal(pred, [1.5, 3])
    np.testing.assert_array_equal(target, [2.5, 4.5])


def test_data_from_standard_input(cli) -> None:
    table = "id,y_hat,y\na,2,4\nb,3,5\n"
    run = cli(["mse", "--data", "-", "--pred-col", "y_hat", "--target-col", "y", "-f", "value"], stdin=table)
    assert float(run.stdout) == 4.0
    run = cli(
        ["mse", "--data", "-", "--pred-col", "1", "--target-col", "2", "--delimiter", ";", "-f", "value"],
        stdin="a;2;4\nb;3;5\n",
    )
    assert float(run.stdout) == 4.0


# --- streams: read once ----------------------------------------------------------------------------


def _fifo(tmp_path, name: str, content: bytes):
    import os
    import threading

    path = tmp_path / name
    os.mkfifo(path)

    def write() -> None:
        with open(path, "wb") as handle:
            handle.write(content)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return path, writer


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("p", b"1\n2\n3\n", [1, 2, 3]),
        ("p.csv", b"a,b\n1,2\n3,4\n", [[1, 2], [3, 4]]),
        ("p.json", b"[1, 2.5]", [1, 2.5]),
        ("p.txt", b"\xef\xbb\xbf4\n5\n", [4, 5]),
        ("p.npy", None, [0, 1, 2]),
    ],
)
def test_fifo_is_read_once(tmp_path, name: str, content, expected) -> None:
    if content is None:
        buffer = io.BytesIO()
        np.save(buffer, np.arange(3.0))
        content = buffer.getvalue()
    path, writer = _fifo(tmp_path, name, content)
    np.testing.assert_array_equal(read_array(str(path), "--pred"), expected)
    writer.join(5)


def test_fifo_table_for_data(tmp_path) -> None:
    path, writer = _fifo(tmp_path, "t.csv", b"id,y_hat,y\nq,2,4\nr,3,5\n")
    pred, target = read_columns(str(path), "y_hat", "y")
    writer.join(5)
    np.testing.assert_array_equal(pred, [2, 3])
    np.testing.assert_array_equal(target, [4, 5])


def _shell(script: str, stdin: bytes | None = None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = script.replace("{lossctl}", f"'{sys.executable}' -m lossctl")
    return subprocess.run(["bash", "-c", command], input=stdin, capture_output=True, env=env, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        "{lossctl} mse --pred <(printf '2\\n3\\n') --target <(printf '4\\n5\\n') -f value",
        "{lossctl} ce --pred '1,2;3,4' --target 0,1 --weight <(printf '1 1\\n') -f value",
        "{lossctl} mse --data <(printf 'id,p,t\\na,2,4\\nb,3,5\\n') --pred-col p --target-col t -f value",
        "printf '2\\n3\\n' | {lossctl} mse --pred /dev/stdin --target 4,5 -f value",
        "printf 'p,t\\n2,4\\n3,5\\n' | {lossctl} mse --data /dev/stdin --pred-col p --target-col t -f value",
    ],
    ids=["pred-target", "weight", "data", "dev-stdin", "data-dev-stdin"],
)
def test_process_substitution_and_dev_stdin(script: str) -> None:
    done = _shell(script)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert float(done.stdout) > 0


def test_closed_standard_input_is_named(tmp_path) -> None:
    done = _shell("{lossctl} mse --pred - --target 1 <&-")
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().strip() == (
        "error: --pred is '-' but standard input is closed; pipe data in, e.g. `cat p.csv | lossctl …`"
    )


def test_endless_pipe_stops_at_the_limit() -> None:
    done = _shell("yes 1 | LOSSCTL_MAX_TEXT_BYTES=1000000 {lossctl} mse --pred - --target 1")
    assert done.returncode == 2
    assert b"holds more than 1,000,000 bytes of text" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_stdin_npy_read_from_a_pipe_is_refused_when_truncated(tmp_path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10.0))
    path, writer = _fifo(tmp_path, "p.npy", buffer.getvalue()[:-3])
    with pytest.raises(InputError, match="truncated"):
        read_array(str(path), "--pred")
    writer.join(5)


def test_float_npy_with_a_long_header_reads(tmp_path) -> None:
    import struct

    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
    header = header + " " * (20_000 - len(header)) + "\n"  # above NumPy's default limit of 10,000 bytes
    path = tmp_path / "long.npy"
    path.write_bytes(
        b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + struct.pack("<3d", 1, 2, 3)
    )
    np.testing.assert_array_equal(read_array(str(path), "--pred"), [1, 2, 3])


@pytest.mark.parametrize(
    "row",
    ["q3,al,ice,5,6", "q3,5,6", "q3,al,5", "q3,al,5,6,"],
    ids=["extra-text-field", "missing-field", "short", "trailing-separator"],
)
def test_a_row_of_another_width_is_never_read_by_position(tmp_path, row: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,name,pred,target\nq1,bob,1.5,2.5\n" + row + "\nq4,eve,3,4.5\n")
    with pytest.raises(InputError, match="line 3: the header has 4 names"):
        read_columns(str(path), "pred", "target")
