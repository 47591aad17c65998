"""Exact sums (lossctl/evaluation/exact.py): every path against an independent exact reference.

The reference is each float's exact ratio (``float.as_integer_ratio``) summed in Python integers;
the rounded result is checked against ``fractions.Fraction``'s correctly rounded conversion and
``math.fsum``.  ``ExactSum.scaled`` is compared as an
integer, so a path that loses a single unit of 2⁻¹⁰⁷⁴ fails, whatever the rounding would hide.
Inputs are chosen to reach every path: Python floats, a few values, chunks with bits left after two
extractions (few of them, or so many that they are summed per binade), values near the largest
float, subnormals, float32, non-finite values, and block sizes around the chunk size.
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossctl.evaluation import exact
from lossctl.evaluation.exact import CHUNK, FEW, ExactSum, exact_sum

UNIT = Fraction(1, 2**1074)
LARGEST = float(np.finfo(np.float64).max)
SMALLEST = 5e-324


def exact_units(values: object) -> int:
    """Σ of the finite values in units of 2⁻¹⁰⁷⁴, in Python integers (independent of lossctl)."""
    total = 0
    for value in np.asarray(values, dtype=np.float64).ravel().tolist():
        if math.isfinite(value):
            numerator, denominator = value.as_integer_ratio()
            total += numerator << (1075 - denominator.bit_length())  # denominator = 2**d
    return total


def assert_exact(values: object) -> ExactSum:
    """ExactSum's integer is the exact sum; its rounding is the exact sum's nearest float, and math.fsum's."""
    array = np.asarray(values)
    total = ExactSum().add(values)
    assert total.scaled == exact_units(array)
    if not total.nonfinite:
        reference = Fraction(total.scaled) * UNIT
        try:
            nearest = reference.numerator / reference.denominator  # correctly rounded (CPython's int division)
        except OverflowError:
            nearest = math.inf if reference > 0 else -math.inf
        assert total.rounded() == nearest
        finite = [v for v in array.astype(np.float64).ravel().tolist() if math.isfinite(v)]
        with contextlib.suppress(OverflowError):  # fsum gives up when a partial sum overflows
            assert total.rounded() == math.fsum(finite)
    return total


def spread(rng: np.random.Generator, size: int, low: int = -300, high: int = 300) -> np.ndarray:
    return rng.normal(size=size) * 10.0 ** rng.integers(low, high, size=size)


# ---- block sizes: the Python path, the chunked NumPy path, and the chunk boundaries


@pytest.mark.parametrize("size", [1, 2, 7, FEW, FEW + 1, 100, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3])
@pytest.mark.parametrize("kind", ["normal", "squares", "spread", "integers"])
def test_every_block_size_is_exact(size: int, kind: str) -> None:
    rng = np.random.default_rng(size)
    values = {
        "normal": lambda: rng.normal(size=size),
        "squares": lambda: rng.normal(size=size) ** 2,
        "spread": lambda: spread(rng, size),
        "integers": lambda: rng.integers(-9, 9, size=size).astype(float),
    }[kind]()
    assert_exact(values)


@pytest.mark.parametrize("split", [1, FEW, 1000, CHUNK, CHUNK + 1])
def test_the_total_does_not_depend_on_how_values_are_split(split: int) -> None:
    rng = np.random.default_rng(split)
    values = np.concatenate([spread(rng, CHUNK), rng.normal(size=CHUNK + 7)])
    rng.shuffle(values)
    whole = ExactSum().add(values)
    parts = ExactSum().add_many(values[start : start + split] for start in range(0, values.size, split))
    assert parts.scaled == whole.scaled
    assert (ExactSum().add(values[:split]) + ExactSum().add(values[split:])).scaled == whole.scaled


# ---- adversarial classes


@pytest.mark.parametrize("seed", range(4))
def test_cancellation_leaves_the_small_terms(seed: int) -> None:
    rng = np.random.default_rng(seed)
    big = rng.normal(size=3000) * 10.0 ** rng.integers(10, 300, size=3000)
    small = rng.random(2000) * 10.0 ** rng.integers(-300, 0, size=2000)
    values = rng.permutation(np.concatenate([big, -big, small]))
    total = assert_exact(values)
    assert total.rounded() == math.fsum(small.tolist())


@pytest.mark.parametrize("size", [3, FEW + 5, CHUNK + 9])
def test_subnormals_and_the_smallest_normals(size: int) -> None:
    rng = np.random.default_rng(size)
    subnormal = rng.integers(-(2**52), 2**52, size=size) * SMALLEST  # exact: integer multiples of 2**-1074
    assert_exact(subnormal)
    assert_exact(np.concatenate([subnormal, rng.normal(size=size) * 2.0**-1000]))
    assert_exact(np.full(size, SMALLEST))
    assert_exact(np.array([2.0**-1022, -SMALLEST] * size))


@pytest.mark.parametrize("size", [2, FEW + 1, 500, CHUNK, 2 * CHUNK + 1])
def test_values_near_the_largest_float(size: int) -> None:
    """Their sums overflow float64 but not the exact integer (the multiply/rint splitter raised here)."""
    rng = np.random.default_rng(size)
    values = rng.choice([LARGEST, -LARGEST, 1e308, 2.0**1000, 1.0, 1e-300, SMALLEST], size=size)
    assert_exact(values)
    assert ExactSum().add(np.full(size, LARGEST)).rounded() == (math.inf if size > 1 else LARGEST)
    assert ExactSum().add(np.array([LARGEST, LARGEST, -LARGEST] * size)).rounded() == LARGEST * size / size


@pytest.mark.parametrize("size", [2, FEW + 1, CHUNK + 1])
def test_signed_zeros_add_nothing(size: int) -> None:
    values = np.array([-0.0, 0.0] * size)
    assert ExactSum().add(values).scaled == 0
    assert ExactSum().add(-values).rounded() == 0.0
    assert_exact(np.concatenate([values, [-1.5, 1.5, 2.0**-1074]]))


@pytest.mark.parametrize("size", [1, FEW + 1, CHUNK + 3])
def test_infinities_and_nans_are_kept_apart(size: int) -> None:
    rng = np.random.default_rng(size)
    finite = rng.normal(size=size)
    for extra, expected in [([math.inf], math.inf), ([-math.inf], -math.inf), ([math.inf, -math.inf], math.nan)]:
        values = np.concatenate([finite, extra, finite[:3]])
        total = ExactSum().add(values)
        assert total.scaled == exact_units(values)  # the finite part is still exact
        assert total.rounded() == expected or (math.isnan(expected) and math.isnan(total.rounded()))
    with np.errstate(invalid="ignore"):
        nan_total = ExactSum().add(np.concatenate([finite, [math.nan]]))
    assert math.isnan(nan_total.nonfinite) and math.isnan(nan_total.rounded())
    assert nan_total.scaled == exact_units(finite)


def _nearest_float32(value: Fraction) -> float:
    guess = np.float32(float(value))
    candidates = [guess, np.nextafter(guess, np.float32(np.inf)), np.nextafter(guess, np.float32(-np.inf))]
    finite = [c for c in candidates if np.isfinite(c)]
    return float(min(finite, key=lambda c: (abs(Fraction(float(c)) - value), int(c.view(np.int32)) & 1)))


@pytest.mark.parametrize("size", [5, FEW + 1, 3000, CHUNK + 1])
@pytest.mark.parametrize("kind", ["positive, narrow", "signed, wide", "subnormal"])
def test_float32_inputs_sum_exactly_and_round_once_to_float32(size: int, kind: str) -> None:
    rng = np.random.default_rng(size)
    if kind == "positive, narrow":  # one extraction takes every bit: the second is skipped
        values = (rng.random(size) + 0.5).astype(np.float32)
    elif kind == "signed, wide":
        values = rng.normal(size=size).astype(np.float32) * np.float32(10.0) ** rng.integers(-40, 38, size=size).astype(
            np.float32
        )
    else:
        values = (rng.integers(-1000, 1000, size=size) * np.float32(2.0**-149)).astype(np.float32)
    total = assert_exact(values)
    assert total.rounded(np.float32) == _nearest_float32(Fraction(total.scaled) * UNIT)


def test_float32_totals_beyond_float32_round_to_infinity() -> None:
    largest32 = np.finfo(np.float32).max
    for size in (2, FEW + 1, CHUNK + 1):
        values = np.full(size, largest32, dtype=np.float32)
        assert ExactSum().add(values).rounded(np.float32) == math.inf
        assert ExactSum().add(-values).rounded(np.float32) == -math.inf
        assert ExactSum().add(values).rounded() == float(largest32) * size  # exact in float64


def test_chunks_of_infinities_only() -> None:
    values = np.full(CHUNK + 5, math.inf)
    values[-5:] = [1.0, 2.0, -math.inf, math.inf, 3.0]
    total = ExactSum().add(values[:CHUNK])
    assert (total.scaled, total.nonfinite) == (0, math.inf)
    with np.errstate(invalid="ignore"):
        total = ExactSum().add(values)
    assert total.scaled == exact_units(values) and math.isnan(total.rounded())


# ---- each path reached on purpose (the choice between them is a heuristic; each must be exact)


def test_a_few_leftovers_after_two_extractions() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=CHUNK)
    values[::997] *= 2.0**-60  # far below the largest: bits left after 93 bits of grid
    values[::1999] *= 2.0**-200
    assert_exact(values)
    assert_exact(np.abs(values))  # non-negative chunks select the leftovers with one comparison


def test_many_leftovers_are_summed_per_binade_and_the_next_chunks_too() -> None:
    rng = np.random.default_rng(2)
    values = spread(rng, 4 * CHUNK + 5)
    values[CHUNK + 3] = 1e305  # a later chunk too large for the per-binade sums: back to extractions
    values[3 * CHUNK : 3 * CHUNK + 5] = [math.inf, 1.0, -2.0, math.nan, 3.0]
    with np.errstate(invalid="ignore"):
        total = ExactSum().add(values)
    assert total.scaled == exact_units(values)
    assert math.isnan(total.nonfinite)


def test_the_per_binade_sum_alone() -> None:
    rng = np.random.default_rng(0)
    cases = [
        spread(rng, CHUNK, -307, 300),
        np.full(CHUNK, np.nextafter(2.0**1000, 0.0)),  # the largest per-bin sums it accepts
        -np.full(CHUNK, np.nextafter(2.0**1000, 0.0)),
        rng.choice([SMALLEST, -SMALLEST, 2.0**-1022, np.nextafter(2.0**-1022, 0.0)], size=CHUNK),
        np.nextafter(rng.random(CHUNK) * 2.0 ** rng.integers(-1074, 999, size=CHUNK), math.inf),
        np.zeros(CHUNK),
    ]
    for values in cases:
        assert exact._binned_units(values) == exact_units(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**53), 2**53) | st.sampled_from([255, 256, -1, 0, -256]), min_size=1, max_size=300))
def test_digits_in_base_256_make_one_integer(digits: list[int]) -> None:
    """The carries of the per-binade sum: negative totals, runs of 255 that a carry ripples through."""
    padded = np.array(digits + [0] * 8, dtype=np.int64)
    assert exact._base256_value(padded) == sum(digit << (8 * index) for index, digit in enumerate(digits))


@pytest.mark.parametrize("value", [np.nextafter(1.0, 0.0), -np.nextafter(1.0, 0.0), np.nextafter(2.0**900, 0.0)])
def test_the_largest_slices_of_a_full_chunk_stay_within_int64(value: float) -> None:
    """CHUNK values at the very bound: the integer sum of the slices comes closest to 2**63."""
    values = np.full(CHUNK, value)
    values[::2] = np.nextafter(value, 0.0)
    assert_exact(values)


def test_chunks_of_subnormals_only() -> None:
    values = np.arange(-CHUNK // 2, CHUNK // 2) * SMALLEST
    assert_exact(values)
    assert_exact(np.abs(values))


def test_inputs_of_every_form() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(300, 7))
    assert_exact(matrix)
    assert_exact(matrix[:, ::2])  # not contiguous
    assert_exact(matrix.T)
    assert_exact(np.arange(100, dtype=np.int64))
    assert_exact(np.array([True, False, True] * 20))
    assert_exact([0.1, 0.2, 0.3])
    assert ExactSum().add(0.1).scaled == Fraction(0.1) / UNIT
    assert ExactSum().add(np.float32(0.1)).scaled == Fraction(float(np.float32(0.1))) / UNIT
    assert ExactSum().add(7).rounded() == 7.0
    assert ExactSum().add(np.array([])).scaled == 0
    assert exact_sum([1e100, 1.0, -1e100]) == 1.0


# ---- properties, against math.fsum and fractions


def _floats_of_any_size() -> st.SearchStrategy[float]:
    scaled = st.builds(math.ldexp, st.floats(-1.0, 1.0), st.integers(-1130, 1020))
    return st.one_of(st.floats(allow_nan=False, allow_infinity=False), scaled, st.sampled_from([0.0, -0.0, SMALLEST]))


@settings(max_examples=150, deadline=None)
@given(st.lists(_floats_of_any_size(), min_size=1, max_size=300), st.integers(1, 300))
def test_any_finite_floats_sum_exactly(values: list[float], split: int) -> None:
    array = np.array(values)
    total = assert_exact(array)
    assert (ExactSum().add(array[:split]) + ExactSum().add(array[split:])).scaled == total.scaled


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(FEW + 1, 2 * CHUNK + 1), st.integers(0, 1070), st.booleans())
def test_random_arrays_of_any_spread(seed: int, size: int, width: int, positive: bool) -> None:
    """Values over ``width`` binades, signed or not: every path between narrow and as wide as floats go."""
    rng = np.random.default_rng(seed)
    values = rng.random(size) * 2.0 ** rng.integers(-width // 2, width // 2 + 1, size=size)
    if not positive:
        values *= rng.choice([-1.0, 1.0], size=size)
    assert_exact(values)
