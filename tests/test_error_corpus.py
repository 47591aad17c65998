"""The bad-input corpus: every case must exit 2 with one short line on stderr naming the problem.

Each row: an id, the arguments (``{tmp}`` is a folder holding the fixture files
written by ``_fixtures``), optional standard input, and fragments the message
must contain.  Nothing may reach stdout and no traceback may appear.
"""

from __future__ import annotations

import functools
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_usage_error

P4 = ["--pred", "2,3,4,5"]
T4 = ["--target", "4,5,6,7"]
LOGITS = ["--pred", "0.1,0.9;0.3,0.7"]

CORPUS: list[tuple[str, list[str], str | None, list[str]]] = [
    # empty and malformed literals
    ("empty-pred", ["mse", "--pred", "", *T4], None, ["--pred is empty"]),
    ("blank-pred", ["mse", "--pred", "   ", *T4], None, ["--pred is empty"]),
    ("empty-target", ["mse", *P4, "--target", ""], None, ["--target is empty"]),
    ("double-comma", ["mse", "--pred", "2,,3", "--target", "1,2,3"], None, ["--pred", "empty value"]),
    ("trailing-comma", ["mse", "--pred", "2,3,", "--target", "1,2,3"], None, ["--pred", "empty value"]),
    ("word", ["mse", "--pred", "2,abc", "--target", "1,2"], None, ["'abc' is not a number"]),
    ("hex", ["mse", "--pred", "0x1F", "--target", "1"], None, ["'0x1F' is not a number"]),
    ("underscore", ["mse", "--pred", "1_000", "--target", "1"], None, ["not a number"]),
    ("open-bracket", ["mse", "--pred", "[1,2", "--target", "1,2"], None, ["invalid JSON"]),
    ("close-bracket", ["mse", "--pred", "1,2]", "--target", "1,2"], None, ["invalid JSON"]),
    ("json-ragged", ["mse", "--pred", "[[1,2],[3]]", "--target", "1,2,3"], None, ["ragged"]),
    ("rows-ragged", ["mse", "--pred", "1,2;3", "--target", "1,2;3,4"], None, ["ragged rows"]),
    ("json-string", ["mse", "--pred", '["1","2"]', "--target", "1,2"], None, ["is not a number"]),
    ("json-null", ["mse", "--pred", "[1,null]", "--target", "1,2"], None, ["null", "is not a number"]),
    ("json-bool", ["mse", "--pred", "[true,1]", "--target", "1,2"], None, ["is not a number"]),
    # shape mismatches in every input form
    ("shape-literal", ["mse", "--pred", "1,2,3", "--target", "1,2"], None, ["--target has 2 values but --pred has 3"]),
    (
        "shape-rows",
        ["mse", "--pred", "1,2;3,4", "--target", "1,2,3,4"],
        None,
        ["--target has 4 values but --pred has shape (2, 2)"],
    ),
    ("shape-json", ["mse", "--pred", "[[1,2]]", "--target", "[[1],[2]]"], None, ["--target has shape (2, 1)"]),
    ("shape-csv", ["mse", "--pred", "{tmp}/three.csv", "--target", "1,2"], None, ["--target has 2 values"]),
    ("shape-npy", ["mse", "--pred", "{tmp}/five.npy", "--target", "1,2"], None, ["--target has 2 values"]),
    ("shape-json-file", ["mse", "--pred", "{tmp}/pair.json", "--target", "1,2,3"], None, ["--target has 3 values"]),
    ("shape-stdin", ["mse", "--pred", "-", "--target", "1,2"], "1\n2\n3\n", ["--target has 2 values but --pred has 3"]),
    (
        "shape-weight",
        ["ce", *LOGITS, "--target", "1,0", "--weight", "1"],
        None,
        ["--weight has 1 value but there are 2 classes"],
    ),
    ("shape-var", ["gaussian_nll", "--pred", "1,2", "--target", "1,2", "--var", "1,2,3"], None, ["--var has shape"]),
    # non-finite and overflowing numbers
    ("nan", ["mse", "--pred", "1,nan", "--target", "1,2"], None, ["--pred[1] is nan", "--allow-nonfinite"]),
    ("inf", ["mse", "--pred", "1,2", "--target", "inf,2"], None, ["--target[0] is inf"]),
    ("neg-inf-json", ["mse", "--pred", "[1,-Infinity]", "--target", "1,2"], None, ["--pred[1] is -inf"]),
    ("nan-csv", ["mse", "--pred", "{tmp}/nan.csv", "--target", "1,2"], None, ["is nan"]),
    ("overflow", ["mse", "--pred", "1e999", "--target", "1"], None, ["'1e999' is too large"]),
    ("overflow-json", ["mse", "--pred", "[1e999]", "--target", "1"], None, ["too large"]),
    ("overflow-result", ["mse", "--pred", "1e200", "--target", "-1e200"], None, ["overflows float64"]),
    ("overflow-poisson", ["poisson_nll", "--pred", "1000", "--target", "1"], None, ["overflows"]),
    # class indices
    ("class-negative", ["ce", *LOGITS, "--target", "-1,0"], None, ["class indices from 0 to 1", "is -1"]),
    ("class-too-large", ["ce", *LOGITS, "--target", "0,2"], None, ["class indices from 0 to 1", "is 2"]),
    ("class-fraction", ["ce", *LOGITS, "--target", "0,0.5"], None, ["whole-number class indices", "is 0.5"]),
    ("class-all-ignored", ["ce", *LOGITS, "--target", "-100,-100"], None, ["every --target equals --ignore-index"]),
    ("nll-probabilities", ["nll", *LOGITS, "--target", "0.5,0.5;1,0"], None, ["nll needs class indices"]),
    ("svm-class", ["svm", "--pred", "1,2,3", "--target", "3"], None, ["class indices from 0 to 2"]),
    # probabilities and labels outside their domains
    ("bce-pred-above-1", ["bce", "--pred", "0.5,1.5", "--target", "1,0"], None, ["--pred must be probabilities"]),
    ("bce-pred-negative", ["bce", "--pred", "-0.1,0.5", "--target", "1,0"], None, ["--pred must be probabilities"]),
    ("bce-target", ["bce", "--pred", "0.5,0.5", "--target", "2,0"], None, ["--target must be in [0, 1]"]),
    ("ce-probabilities", ["ce", *LOGITS, "--target", "1.5,-0.5;0,1"], None, ["probabilities in [0, 1]"]),
    ("hinge-labels", ["hinge", "--pred", "1,2", "--target", "1,2"], None, ["labels −1 or 1"]),
    ("soft-margin-labels", ["soft_margin", "--pred", "1,2", "--target", "0,1"], None, ["labels −1 or 1"]),
    ("ranking-labels", ["margin_ranking", "--pred", "1", "--pred2", "2", "--target", "0"], None, ["labels −1 or 1"]),
    ("negative-variance", ["gaussian_nll", "--pred", "1", "--target", "1", "--var", "-1"], None, ["variances ≥ 0"]),
    ("msle-domain", ["msle", "--pred", "-1,2", "--target", "1,2"], None, ["--pred must be > -1"]),
    ("kl-negative", ["kl_div", "--pred", "-1", "--target", "-0.5"], None, ["probabilities ≥ 0"]),
    # parameters out of range
    ("delta-zero", ["huber", *P4, *T4, "--delta", "0"], None, ["--delta must be in (0, inf), got 0"]),
    ("beta-negative", ["smooth_l1", *P4, *T4, "--beta", "-1"], None, ["--beta must be in [0, inf)"]),
    ("q-one", ["quantile", *P4, *T4, "--q", "1"], None, ["--q must be in (0, 1), got 1"]),
    ("q-nan", ["quantile", *P4, *T4, "--q", "nan"], None, ["--q must be a finite number"]),
    ("smoothing-two", ["ce", *LOGITS, "--target", "1,0", "--label-smoothing", "2"], None, ["--label-smoothing"]),
    ("p-three", ["multi_margin", "--pred", "1,2,3", "--target", "0", "--p", "3"], None, ["--p must be 1 or 2"]),
    ("eps-zero", ["charbonnier", *P4, *T4, "--eps", "0"], None, ["--eps must be in (0, inf)"]),
    ("delta-text", ["huber", *P4, *T4, "--delta", "big"], None, ["--delta"]),
    ("reduction", ["mse", *P4, *T4, "--reduction", "avg"], None, ["--reduction must be one of mean, sum, none"]),
    ("batchmean-elsewhere", ["mse", *P4, *T4, "--reduction", "batchmean"], None, ["--reduction must be one of"]),
    ("format", ["mse", *P4, *T4, "--format", "xml"], None, ["--format must be one of"]),
    ("precision", ["mse", *P4, *T4, "--precision", "0"], None, ["--precision must be between 1 and 17"]),
    ("dtype", ["mse", *P4, *T4, "--dtype", "int8"], None, ["--dtype must be one of float64, float32"]),
    # unknown names and options
    ("unknown-loss", ["hubber", *P4, *T4], None, ["unknown loss 'hubber'", "did you mean 'huber'"]),
    ("unknown-loss-far", ["zzzz", *P4, *T4], None, ["unknown loss 'zzzz'", "lossctl list"]),
    ("unknown-info", ["info", "crossentropy"], None, ["did you mean"]),
    ("unknown-option", ["mse", *P4, *T4, "--delta", "1"], None, ["No such option: --delta"]),
    ("missing-value", ["mse", *P4, "--target"], None, ["--target", "requires an argument"]),
    ("missing-pred", ["mse", *T4], None, ["--pred is required"]),
    ("missing-target", ["mse", *P4], None, ["mse needs --target"]),
    (
        "target-for-triplet",
        ["triplet_margin", *P4, "--positive", "1,2,3,4", "--negative", "1,2,3,4", *T4],
        None,
        ["triplet_margin takes no --target", "--pred, --positive and --negative"],
    ),
    # paths
    ("missing-file", ["mse", "--pred", "{tmp}/nope.csv", *T4], None, ["no such file"]),
    ("missing-path", ["mse", "--pred", "{tmp}/nope/p.txt", *T4], None, ["no such file"]),
    ("directory", ["mse", "--pred", "{tmp}", *T4], None, ["is a directory"]),
    ("empty-file", ["mse", "--pred", "{tmp}/empty.csv", *T4], None, ["holds no numbers"]),
    ("header-only", ["mse", "--pred", "{tmp}/header.csv", *T4], None, ["holds no numbers"]),
    ("binary-file", ["mse", "--pred", "{tmp}/binary.csv", *T4], None, ["not a UTF-8 text file"]),
    ("csv-word", ["mse", "--pred", "{tmp}/word.csv", "--target", "1,2"], None, ["word.csv line 3", "'x'"]),
    ("csv-ragged", ["mse", "--pred", "{tmp}/ragged.csv", "--target", "1,2"], None, ["line 2: ragged rows"]),
    (
        "data-column-name",
        ["mse", "--data", "{tmp}/table.csv", "--pred-col", "nope", "--target-col", "y"],
        None,
        ["--pred-col", "no column 'nope'", "its columns: y_hat, y"],
    ),
    (
        "data-column-index",
        ["mse", "--data", "{tmp}/table.csv", "--pred-col", "0", "--target-col", "5"],
        None,
        ["--target-col: column 5 is out of range"],
    ),
    ("data-without-cols", ["mse", "--data", "{tmp}/table.csv"], None, ["--data needs --pred-col and --target-col"]),
    (
        "data-and-pred",
        ["mse", "--data", "{tmp}/table.csv", *P4, "--pred-col", "0", "--target-col", "1"],
        None,
        ["--data replaces --pred and --target"],
    ),
    ("npy-truncated", ["mse", "--pred", "{tmp}/truncated.npy", *T4], None, ["truncated"]),
    ("npy-pickle", ["mse", "--pred", "{tmp}/objects.npy", *T4], None, ["never unpickles"]),
    ("npy-strings", ["mse", "--pred", "{tmp}/strings.npy", *T4], None, ["holds <U1 values", "numeric array"]),
    ("npy-complex", ["mse", "--pred", "{tmp}/complex.npy", *T4], None, ["numeric array"]),
    ("npz", ["mse", "--pred", "{tmp}/arrays.npz", *T4], None, [".npz archives are not supported"]),
    (
        "save-same-as-input",
        ["mse", "--pred", "{tmp}/three.csv", "--target", "1,2,3", "--save-elements", "{tmp}/three.csv"],
        None,
        ["is also an input"],
    ),
    (
        "save-bad-suffix",
        ["mse", *P4, *T4, "--save-elements", "{tmp}/out.xlsx"],
        None,
        ["must end in .npy, .csv or .png"],
    ),
    ("save-no-folder", ["mse", *P4, *T4, "--save-grad", "{tmp}/nope/g.npy"], None, ["does not exist"]),
    # outputs: never an input, never another output, always a writable regular file
    (
        "save-twice",
        ["mse", *P4, *T4, "--save-elements", "{tmp}/o.npy", "--save-grad", "{tmp}/o.npy"],
        None,
        ["--save-grad", "is also --save-elements"],
    ),
    (
        "save-twice-spelled",
        ["mse", *P4, *T4, "--save-elements", "{tmp}/o.npy", "--save-grad", "{tmp}/./sub/../o.npy"],
        None,
        ["is also --save-elements"],
    ),
    (
        "save-input-with-spaces",
        ["mse", "--pred", " {tmp}/three.csv ", "--target", "1,2,3", "--save-grad", "{tmp}/three.csv"],
        None,
        ["is also an input (--pred)"],
    ),
    (
        "save-input-dotdot",
        ["mse", "--pred", "1,2,3", "--target", "{tmp}/three.csv", "--save-elements", "{tmp}/sub/../three.csv"],
        None,
        ["is also an input (--target)"],
    ),
    (
        "save-input-symlink",
        ["mse", "--pred", "{tmp}/three.csv", "--target", "1,2,3", "--save-elements", "{tmp}/alias.csv"],
        None,
        ["is also an input (--pred)"],
    ),
    (
        "save-weight",
        ["ce", *LOGITS, "--target", "1,0", "--weight", "{tmp}/weights.csv", "--save-grad", "{tmp}/weights.csv"],
        None,
        ["is also an input (--weight)"],
    ),
    ("save-name-too-long", ["mse", *P4, *T4, "--save-grad", "{tmp}/" + "g" * 300 + ".npy"], None, ["too long"]),
    ("save-device", ["mse", *P4, *T4, "--save-grad", "{tmp}/null.npy"], None, ["not a regular file"]),
    ("save-directory", ["mse", *P4, *T4, "--save-grad", "{tmp}/sub.npy"], None, ["is a directory"]),
    ("save-folder-is-file", ["mse", *P4, *T4, "--save-grad", "{tmp}/three.csv/g.npy"], None, ["is not a folder"]),
    ("precision-negative", ["mse", *P4, *T4, "--precision", "-1"], None, ["--precision must be between 1 and 17"]),
    ("precision-18", ["mse", *P4, *T4, "--precision", "18"], None, ["--precision must be between 1 and 17, got 18"]),
    (
        "precision-text",
        ["mse", *P4, *T4, "--precision", "abc"],
        None,
        ["--precision", "not a valid int"],
    ),  # Click says "int", lossctl's converter "integer"
    ("compare-precision", ["compare", *P4, *T4, "--precision", "0"], None, ["--precision must be between 1 and 17"]),
    # standard input
    ("both-stdin", ["mse", "--pred", "-", "--target", "-"], "1\n", ["only one input can be '-'"]),
    ("stdin-empty", ["mse", "--pred", "-", *T4], "", ["standard input is empty"]),
    ("stdin-word", ["mse", "--pred", "-", "--target", "1,2"], "1\nx\n", ["line 2", "'x' is not a number"]),
    ("stdin-json", ["mse", "--pred", "-", "--target", "1,2"], "[1, 2", ["invalid JSON"]),
    # headers: names only; a first line of numbers and junk is an error naming line 1
    ("first-line-hex-field", ["mse", "--pred", "{tmp}/mixed.csv", *T4], None, ["mixed.csv line 1, value 2", "'0x'"]),
    ("first-line-hex", ["mse", "--pred", "{tmp}/hex.txt", *T4], None, ["hex.txt line 1", "'0x10' is not a number"]),
    (
        "first-line-underscore",
        ["mse", "--pred", "{tmp}/under.txt", *T4],
        None,
        ["under.txt line 2", "'1_000'", "header row holds only names"],
    ),
    ("first-line-empty-cell", ["mse", "--pred", "{tmp}/hole.csv", *T4], None, ["hole.csv line 1", "empty value"]),
    ("header-narrower", ["mse", "--pred", "{tmp}/narrow.csv", *T4], None, ["line 2: the header has 2 names", "3"]),
    (
        "header-wider",
        ["mse", "--pred", "{tmp}/wide.csv", *T4],
        None,
        ["line 2: the header has 3 names but", "2 values"],
    ),
    ("header-wider-bom", ["mse", "--pred", "{tmp}/widebom.csv", *T4], None, ["line 2: the header has 3 names"]),
    ("header-one-name", ["mse", "--pred", "{tmp}/onename.csv", *T4], None, ["line 2: the header has 1 name"]),
    # literal or file: text that looks like a file name and is missing is "no such file"
    ("missing-cvs", ["mse", "--pred", "preds.cvs", *T4], None, ["--pred: no such file 'preds.cvs'"]),
    ("missing-suffix-target", ["mse", *P4, "--target", "targets.xyz"], None, ["--target: no such file"]),
    ("missing-weight-file", ["ce", *LOGITS, "--target", "1,0", "--weight", "w.npy"], None, ["--weight: no such file"]),
    ("missing-dot-slash", ["mse", "--pred", "./2", *T4], None, ["no such file './2'"]),
    ("name-too-long", ["mse", "--pred", "{tmp}/" + "a" * 300 + ".csv", *T4], None, ["is too long", "…"]),
    ("path-too-long", ["mse", "--pred", "d/" * 3000 + "p.csv", *T4], None, ["is too long", "6,005 characters"]),
    # streams and endless inputs stop at the limit (LOSSCTL_MAX_TEXT_BYTES is 8 MiB in this test)
    ("endless-dev-zero", ["mse", "--pred", "/dev/zero", *T4], None, ["/dev/zero holds more than 8 MiB", "LOSSCTL_MAX"]),
    ("endless-stdin", ["mse", "--pred", "-", *T4], "1\n" * (5 << 20), ["standard input holds more than 8 MiB"]),
    (
        "endless-data-stdin",
        ["mse", "--data", "-", "--pred-col", "0", "--target-col", "0"],
        "1\n" * (5 << 20),
        ["8 MiB"],
    ),
    (
        "data-and-pred-stdin",
        ["ce", "--data", "-", "--pred-col", "0", "--target-col", "1", "--weight", "-"],
        "1",
        ["--data and --weight both read standard input"],
    ),
    ("data-stdin-word", ["mse", "--data", "-", "--pred-col", "a", "--target-col", "b"], "a,b\n1,x\n", ["line 2"]),
    ("data-stdin-empty", ["mse", "--data", "-", "--pred-col", "0", "--target-col", "0"], "", ["holds no numbers"]),
    # real tables: selected cells must be numbers, rows as wide as the header, separators
    (
        "data-selected-text",
        ["mse", "--data", "{tmp}/people.csv", "--pred-col", "y_hat", "--target-col", "y"],
        None,
        ["people.csv line 3, column 'y'", "'n/a' is not a number"],
    ),
    (
        "data-unquoted-comma",
        ["mse", "--data", "{tmp}/unquoted.csv", "--pred-col", "y_hat", "--target-col", "y"],
        None,
        ["unquoted.csv line 2", "the header has 4 names but this row has 5", "quote"],
    ),
    (
        "data-wrong-delimiter",
        ["mse", "--data", "{tmp}/semicolon.csv", "--pred-col", "0", "--target-col", "0", "--delimiter", ","],
        None,
        ["'1.5;2' is not a number", "--delimiter ';'"],
    ),
    (
        "data-no-header-name",
        ["mse", "--data", "{tmp}/three.csv", "--pred-col", "pred", "--target-col", "0"],
        None,
        ["no column 'pred'", "no header and 1 column;"],
    ),
    (
        "data-bom-header",
        ["mse", "--data", "{tmp}/bomtable.csv", "--pred-col", "yhat", "--target-col", "y"],
        None,
        ["(its columns: y_hat, y)"],
    ),
    (
        "data-pandas-columns",
        ["mse", "--data", "{tmp}/pandas.csv", "--pred-col", "p", "--target-col", "t"],
        None,
        ["its columns: (unnamed), pred, target"],
    ),
    (
        "delimiter-two-chars",
        ["mse", "--data", "{tmp}/table.csv", "--pred-col", "0", "--target-col", "1", "--delimiter", ";;"],
        None,
        ["--delimiter must be one character"],
    ),
    (
        "delimiter-digit",
        ["mse", "--data", "{tmp}/table.csv", "--pred-col", "0", "--target-col", "1", "--delimiter", "1"],
        None,
        ["--delimiter"],
    ),
    (
        "data-npy-3d",
        ["mse", "--data", "{tmp}/cube.npy", "--pred-col", "0", "--target-col", "1"],
        None,
        ["has shape (2, 2, 2)", "2-D"],
    ),
    ("delimiter-without-data", ["mse", *P4, *T4, "--delimiter", ";"], None, ["--delimiter applies to --data"]),
    ("csv-semicolon-ragged", ["mse", "--pred", "{tmp}/semiragged.csv", *T4], None, ["line 2: ragged rows"]),
    # messages that must not mislead, crash or flood
    ("token-3mb", ["mse", "--pred", "{tmp}/token.csv", *T4], None, ["token.csv line 2", "3,000,000 characters"]),
    ("int-5000-digits", ["mse", "--pred", "1" * 5000, *T4], None, ["too large for a float64", "5,000 characters"]),
    ("int-5000-digits-json", ["mse", "--pred", "[" + "1" * 5000 + "]", *T4], None, ["too large for a float64"]),
    ("int-5000-digits-file", ["mse", "--pred", "{tmp}/bigint.json", *T4], None, ["too large for a float64"]),
    ("json-deep-500", ["mse", "--pred", "[" * 500 + "1" + "]" * 500, *T4], None, ["nested 500 deep", "at most 32"]),
    ("json-deep-100000", ["mse", "--pred", "{tmp}/deep.json", *T4], None, ["nested too deeply"]),
    ("json-deep-stdin", ["mse", "--pred", "-", *T4], "[" * 100000 + "]" * 100000, ["nested too deeply"]),
    ("npy-structured", ["mse", "--pred", "{tmp}/fields.npy", *T4], None, ["numeric array", "…"]),
    ("npy-header-only", ["mse", "--pred", "{tmp}/headeronly.npy", *T4], None, ["truncated"]),
    ("npy-one-byte-short", ["mse", "--pred", "{tmp}/short.npy", *T4], None, ["truncated"]),
    ("image-bomb", ["mse", "--pred", "{tmp}/bomb.png", *T4], None, ["more pixels than Pillow's limit of 89,478,485"]),
    ("image-bomb-warning", ["mse", "--pred", "{tmp}/warn.png", *T4], None, ["Pillow's limit"]),
    # found by an independent attack: a commented-out-looking id row, duplicated column names
    ("list-convention-all", ["list", "--convention", "all"], None, ["--convention all compares one loss"]),
    (
        "data-hash-row",
        ["mse", "--data", "{tmp}/hash_ids.csv", "--pred-col", "y_hat", "--target-col", "y"],
        None,
        ["line 2 starts with '#'", "remove the '#'"],
    ),
    (
        "data-hash-row-value",
        ["mse", "--data", "{tmp}/hash_ids.csv", "--pred-col", "y_hat", "--target-col", "y", "-f", "value"],
        None,
        ["line 2 starts with '#'"],
    ),
    (
        "data-duplicate-column",
        ["mse", "--data", "{tmp}/twin_y.csv", "--pred-col", "y_hat", "--target-col", "y"],
        None,
        ["2 columns named 'y'", "0-based index"],
    ),
]


@functools.cache
def _bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zeros, tiny on disk however many pixels it declares."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _fixtures(tmp: Path) -> None:
    (tmp / "three.csv").write_text("1\n2\n3\n")
    (tmp / "hash_ids.csv").write_text("id,y_hat,y\n#1,1,2\n#2,3,3\nx,5,5\n")
    (tmp / "twin_y.csv").write_text("y_hat,y,y\n1,2,3\n")
    (tmp / "weights.csv").write_text("1\n2\n")
    (tmp / "sub").mkdir()
    (tmp / "sub.npy").mkdir()
    (tmp / "alias.csv").symlink_to(tmp / "three.csv")
    (tmp / "null.npy").symlink_to("/dev/null")
    (tmp / "pair.json").write_text(json.dumps([1, 2]))
    (tmp / "nan.csv").write_text("1\nnan\n")
    (tmp / "empty.csv").write_text("")
    (tmp / "header.csv").write_text("a,b\n")
    (tmp / "binary.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    (tmp / "word.csv").write_text("a\n1\nx\n")
    (tmp / "ragged.csv").write_text("1,2\n3\n")
    (tmp / "table.csv").write_text("y_hat,y\n1,2\n3,4\n")
    np.save(tmp / "five.npy", np.arange(5.0))
    np.save(tmp / "cube.npy", np.zeros((2, 2, 2)))
    np.save(tmp / "truncated.npy", np.arange(100.0))
    (tmp / "truncated.npy").write_bytes((tmp / "truncated.npy").read_bytes()[:150])
    np.save(tmp / "objects.npy", np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp / "strings.npy", np.array(["a", "b"]))
    np.save(tmp / "complex.npy", np.array([1 + 2j]))
    np.savez(tmp / "arrays.npz", a=np.arange(3))
    (tmp / "mixed.csv").write_text("10,0x\n1,2\n")
    (tmp / "hex.txt").write_text("0x10\n1\n2\n3\n")
    (tmp / "under.txt").write_text("# values\n1_000\n1\n2\n3\n")
    (tmp / "hole.csv").write_text("1,,2\n1,2,3\n")
    (tmp / "narrow.csv").write_text("a,b\n1,2,3\n4,5,6\n")
    (tmp / "wide.csv").write_text("a,b,c\n1,2\n3,4\n")
    (tmp / "widebom.csv").write_bytes(b"\xef\xbb\xbfa,b,c\r\n1,2\r\n3,4\r\n")
    (tmp / "onename.csv").write_text("value\n1,2\n3,4\n")
    (tmp / "people.csv").write_text('id,name,y_hat,y\n1,"Smith, J",2,3\n2,bob,4,n/a\n')
    (tmp / "unquoted.csv").write_text("id,name,y_hat,y\n1,Smith, J,2,3\n")
    (tmp / "semicolon.csv").write_text("p;t\n1.5;2\n")
    (tmp / "bomtable.csv").write_bytes("y_hat,y\n1,2\n".encode("utf-8-sig"))
    (tmp / "pandas.csv").write_text(",pred,target\n0,1,2\n")
    (tmp / "semiragged.csv").write_text("1;2;3\n4;5\n")
    (tmp / "token.csv").write_text("1\n" + "x" * 3_000_000 + "\n")
    (tmp / "bigint.json").write_text("[1, " + "9" * 5000 + "]")
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    np.save(tmp / "fields.npy", np.zeros(2, dtype=[(f"f{i}", "f8") for i in range(50)]))
    full = (tmp / "five.npy").read_bytes()
    (tmp / "headeronly.npy").write_bytes(full[:128])
    (tmp / "short.npy").write_bytes(full[:-1])
    (tmp / "bomb.png").write_bytes(_bilevel_png(20_000, 20_000))
    (tmp / "warn.png").write_bytes(_bilevel_png(10_000, 10_000))


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60
    assert len({case[0] for case in CORPUS}) == len(CORPUS)


@pytest.fixture(scope="module")
def corpus_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus's input files, written once (a 3 MB line among them): every case only reads them."""
    folder = tmp_path_factory.mktemp("corpus")
    _fixtures(folder)
    return folder


@pytest.mark.parametrize(("args", "stdin", "fragments"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_bad_input_exits_2_with_one_clear_line(cli, corpus_folder, monkeypatch, args, stdin, fragments) -> None:
    monkeypatch.setenv("LOSSCTL_MAX_TEXT_BYTES", str(8 << 20))
    before = sorted(p.name for p in corpus_folder.iterdir())
    argv = [a.replace("{tmp}", str(corpus_folder)) for a in args]
    assert_usage_error(cli(argv, stdin=stdin), *fragments)
    assert sorted(p.name for p in corpus_folder.iterdir()) == before, "nothing written, not even half"
