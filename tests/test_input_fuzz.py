"""Fuzzing of the input parser: it returns a float array or raises an InputError, never anything else."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lossctl.errors import InputError
from lossctl.io.inputs import parse_literal, read_stdin

LITERAL_ALPHABET = st.sampled_from(list("0123456789.,;-+eE []\n\t naifNAIF_x\"'{}:"))


@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet=LITERAL_ALPHABET, max_size=40)))
def test_literal_parser_returns_an_array_or_an_input_error(text: str) -> None:
    try:
        array = parse_literal(text, "--pred")
    except InputError as error:
        assert str(error).startswith("--pred")
        return
    assert isinstance(array, np.ndarray) and array.dtype == np.float64 and array.size >= 1


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=200))
def test_stdin_bytes_give_an_array_or_an_input_error(data: bytes) -> None:
    stream = io.TextIOWrapper(io.BytesIO(data))
    try:
        array = read_stdin("--pred", stream)
    except InputError as error:
        assert str(error).startswith("--pred")
        return
    assert isinstance(array, np.ndarray) and array.dtype == np.float64


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=2, max_size=2),
        min_size=2,
        max_size=6,
    )
)
def test_literal_rows_round_trip_exactly(rows: list[list[float]]) -> None:
    text = ";".join(",".join(repr(v) for v in row) for row in rows)
    np.testing.assert_array_equal(parse_literal(text, "--pred"), np.array(rows))
