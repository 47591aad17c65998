"""Every input form of DESIGN §4, and the errors each one gives."""

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
