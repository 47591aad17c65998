"""Exact sums of floating-point arrays, so that a total never depends on how it was computed.

A float64 is an integer multiple of 2⁻¹⁰⁷⁴ (the smallest subnormal), so any sum of
float64 (or float32) values is an integer multiple of it too.  :class:`ExactSum` keeps
that integer in a Python int: sums of blocks are combined by integer addition, which
is associative, so the total is the same whatever the block size, the thread count
or the order, and it is rounded to the output type once, at the end — more accurate
than NumPy's pairwise summation (whose error grows with log n and with
cancellation).

Each chunk of at most 2¹⁶ values is split without rounding into slices on a common
grid (Rump, Ogita and Oishi's error-free extraction): with σ = 2ˢ ≥ 2ᵏ⁺¹ max|x| for a
chunk of n ≤ 2ᵏ values, ``q = (σ + x) − σ`` is x rounded to the grid 2ˢ⁻⁵³, every
partial sum of the q stays within σ on that grid (so NumPy sums them exactly, in any
order), and ``x − q`` is the exact rounding error, at most 2ˢ⁻⁵³ in magnitude.  Two
such passes take the top 2 × 36 bits of the chunk's grid; the few values with bits
left (far below the chunk's largest) carry on alone.  Chunks whose values span
hundreds of binades are summed per binade instead (:func:`_binned_units`): each value
is split into its top 27 significant bits and the rest, and ``np.bincount`` sums each
part per sign and exponent, where every partial sum is exact.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

UNIT_EXPONENT = -1074  # every finite float64 is an integer multiple of 2**UNIT_EXPONENT
CHUNK = 1 << 16  # values summed together: three buffers of them stay in the CPU's L2 cache across passes
SLICE_BITS = 36  # bits taken per pass by the fallback for huge values: 2**16 integers below 2**36 sum exactly
FLOAT32_MAX = float(np.finfo(np.float32).max)
SHORTLIST_PASS = 2  # after this many passes few values have bits left: carry on with those alone
FEW = 24  # at most this many values: converted one by one in Python, cheaper than a dozen NumPy calls
SHORTLIST_PASSES = 3  # extractions tried on a chunk's leftovers before summing them per binade
BINNED_LEFTOVERS = CHUNK // 16  # more leftovers than this: they span many binades, sum them per binade
HUGE_EXPONENT = 1023  # σ = 2**s must stay a finite float64: chunks with larger values take the fallback
_MANTISSA_BITS = 52
_LOW_BITS = 26  # bits a binned value keeps apart: its top 27 and its low 26 significant bits sum separately
_HIGH_MASK = np.uint64(((1 << 64) - 1) ^ ((1 << _LOW_BITS) - 1))
_BINS = 1 << 12  # sign and biased exponent of a float64
_BIN_GROUP = 8  # digits (below 2**45) combined in int64 before Python takes over: 2**45 · 2**8 < 2**63

_scratch = threading.local()  # per thread: CHUNK buffers, reused (fresh ones would be page-faulted in each time)


def _buffers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = (np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK))
        _scratch.buffers = buffers
    return buffers


@dataclass
class ExactSum:
    """A sum held exactly: ``scaled`` · 2⁻¹⁰⁷⁴, plus the sum of any ±inf/NaN terms."""

    scaled: int = 0
    nonfinite: float = 0.0

    def add(self, values: object) -> ExactSum:
        """Add every value of an array (or a number) exactly; returns self."""
        array = np.asarray(values)
        if array.dtype != np.float64 and array.dtype != np.float32:
            array = array.astype(np.float64)  # integers, booleans, float16, other floats: as float64
        array = array.reshape(-1)
        if array.size <= FEW:
            self._add_few(array.tolist())
            return self
        converted, quantized, leftover = _buffers()
        for start in range(0, array.size, CHUNK):
            chunk = array[start : start + CHUNK]
            if chunk.dtype != np.float64:  # float32: converted (exactly) a chunk at a time
                np.copyto(converted[: chunk.size], chunk)
                chunk = converted[: chunk.size]
            self.scaled += self._chunk_units(chunk, quantized[: chunk.size], leftover[: chunk.size])
        return self

    def add_many(self, arrays: Iterable[object]) -> ExactSum:
        """Add every value of several arrays (or numbers) exactly; returns self."""
        for values in arrays:
            self.add(values)
        return self

    def __add__(self, other: ExactSum) -> ExactSum:
        return ExactSum(self.scaled + other.scaled, self.nonfinite + other.nonfinite)

    def rounded(self, float_type: type = np.float64) -> float:
        """The sum rounded once (to nearest, ties to even) to ``float_type``, as a Python float."""
        single = np.dtype(float_type) == np.float32
        value = _round_scaled(self.scaled, 24 if single else 53, -149 if single else -1074)
        if single and abs(value) > FLOAT32_MAX:
            value = math.copysign(math.inf, value)
        return value + self.nonfinite if self.nonfinite else value

    def _add_few(self, values: list[float]) -> None:
        """Add a handful of Python floats, each converted to an exact integer count of 2⁻¹⁰⁷⁴."""
        for value in values:
            if math.isfinite(value):
                self.scaled += _float_units(value)
            else:
                self.nonfinite += value

    def _chunk_units(self, chunk: np.ndarray, quantized: np.ndarray, leftover: np.ndarray) -> int:
        """Σ chunk (float64, at most CHUNK values) in units of 2⁻¹⁰⁷⁴; ±inf and NaN go to ``nonfinite``.

        ``quantized`` and ``leftover`` are scratch space of the chunk's size; ``chunk`` is only read.
        """
        largest, smallest = float(np.max(chunk)), float(np.min(chunk))
        if not (math.isfinite(largest) and math.isfinite(smallest)):  # a NaN or an inf: set apart
            finite = np.isfinite(chunk)
            with np.errstate(invalid="ignore"):
                self.nonfinite += float(np.sum(chunk[~finite]))
            chunk = chunk[finite]
            if chunk.size == 0:
                return 0
            largest, smallest = float(np.max(chunk)), float(np.min(chunk))
            quantized, leftover = quantized[: chunk.size], leftover[: chunk.size]
        return _extracted_units(chunk, max(largest, -smallest), quantized, leftover)


def exact_sum(values: object, float_type: type = np.float64) -> float:
    """Σ values, computed exactly and rounded once to ``float_type``."""
    return ExactSum().add(values).rounded(float_type)


def round_to(value: float, float_type: type = np.float64) -> float:
    """``value`` rounded to ``float_type`` (a no-op for float64), as a Python float."""
    return float(np.float32(value)) if np.dtype(float_type) == np.float32 else float(value)


def _float_units(value: float) -> int:
    """A finite float as an exact integer count of 2⁻¹⁰⁷⁴."""
    numerator, denominator = value.as_integer_ratio()  # denominator = 2**d with d ≤ 1074
    return numerator << (1075 - denominator.bit_length())


def _grid_units(total: float, grid_exponent: int) -> int:
    """``total`` (a multiple of 2**grid_exponent, at most 2**(grid_exponent + 53)) in units of 2⁻¹⁰⁷⁴."""
    grid_exponent = max(grid_exponent, UNIT_EXPONENT)
    return int(math.ldexp(total, -grid_exponent)) << (grid_exponent - UNIT_EXPONENT)


def _extract(source: np.ndarray, exponent: int, quantized: np.ndarray, leftover: np.ndarray) -> int:
    """One error-free extraction at σ = 2**exponent: Σ q in units of 2⁻¹⁰⁷⁴, and ``leftover`` = source − q.

    Needs |source| ≤ 2**exponent / (2 · len(source)); then every |leftover| ≤ 2**(exponent − 53).
    ``leftover`` may be ``source`` itself.
    """
    sigma = math.ldexp(1.0, exponent)
    np.add(source, sigma, out=quantized)
    np.subtract(quantized, sigma, out=quantized)  # q: source rounded to the grid 2**(exponent - 53), exactly
    np.subtract(source, quantized, out=leftover)  # the rounding error, exactly
    return _grid_units(float(np.sum(quantized)), exponent - 53)


def _extracted_units(chunk: np.ndarray, bound: float, quantized: np.ndarray, leftover: np.ndarray) -> int:
    """Σ chunk (finite float64, |values| ≤ bound) in units of 2⁻¹⁰⁷⁴, by error-free extractions."""
    if bound == 0.0:
        return 0
    count_bits = (chunk.size - 1).bit_length()  # chunk.size ≤ 2**count_bits
    exponent = math.frexp(bound)[1] + count_bits + 1  # σ = 2**exponent ≥ 2 · 2**count_bits · bound
    if exponent > HUGE_EXPONENT:  # σ would overflow: values near the largest float take the fallback
        np.copyto(leftover, chunk)
        return _exact_chunk(leftover, quantized)
    total = 0
    source = chunk
    for _ in range(SHORTLIST_PASS):
        total += _extract(source, exponent, quantized, leftover)
        source = leftover
        if exponent - 53 < UNIT_EXPONENT:  # the grid was finer than 2**-1074: nothing is left
            return total
        exponent += count_bits + 1 - 53  # the next σ from the bound on what is left
    return total + _leftover_units(leftover[leftover != 0.0])


def _leftover_units(rest: np.ndarray) -> int:
    """Σ rest (finite nonzero float64, fewer than CHUNK values, far below 2**1000) in units of 2⁻¹⁰⁷⁴."""
    total = 0
    for _ in range(SHORTLIST_PASSES):
        if rest.size <= FEW:
            return total + sum(_float_units(value) for value in rest.tolist())
        if rest.size > BINNED_LEFTOVERS:
            break
        bound = max(float(np.max(rest)), -float(np.min(rest)))
        exponent = math.frexp(bound)[1] + (rest.size - 1).bit_length() + 1
        total += _extract(rest, exponent, np.empty_like(rest), rest)
        rest = rest[rest != 0.0]
    return total + _binned_units(rest)


def _binned_units(values: np.ndarray) -> int:
    """Σ values (finite float64, at most CHUNK of them, all below 2**1000) in units of 2⁻¹⁰⁷⁴, per binade.

    Each value is split exactly into ``high`` (its sign, exponent and top 27 significant bits) and
    ``low = value − high`` (its low 26 bits).  With the same sign and exponent field E, the highs are
    multiples of 2**26 · u_E (u_E = 2**(max(E, 1) − 1075)) below 2**27 of them, the lows multiples of
    u_E below 2**26 of them: ``np.bincount`` sums at most 2**16 of each exactly, in any order.
    """
    if values.size == 0:
        return 0
    bits = np.ascontiguousarray(values).view(np.uint64)
    bins = (bits >> np.uint64(_MANTISSA_BITS)).view(np.int64)  # sign and biased exponent: 0 … 4095
    high = (bits & _HIGH_MASK).view(np.float64)
    low = values - high
    high_sums = np.bincount(bins, weights=high, minlength=_BINS)
    low_sums = np.bincount(bins, weights=low, minlength=_BINS)
    half = _BINS // 2  # positive and negative sums of one exponent, on one grid below 2**53 of it: exact
    high_sums = high_sums[:half] + high_sums[half:]
    low_sums = low_sums[:half] + low_sums[half:]
    unit_exponents = np.maximum(np.arange(half), 1) - 1075
    highs = np.ldexp(high_sums, -(unit_exponents + _LOW_BITS)).astype(np.int64)  # exact integers
    lows = np.ldexp(low_sums, -unit_exponents).astype(np.int64)
    # digit p counts 2**(p - 1074): E = 0 and E = 1 share u = 2**-1074; a high counts at 26 places up
    digits = np.zeros(-(-(half + _LOW_BITS) // _BIN_GROUP) * _BIN_GROUP, dtype=np.int64)
    digits[: half - 1] += lows[1:]
    digits[0] += lows[0]
    digits[_LOW_BITS : half - 1 + _LOW_BITS] += highs[1:]
    digits[_LOW_BITS] += highs[0]
    weights = np.left_shift(np.int64(1), np.arange(_BIN_GROUP, dtype=np.int64))
    groups = digits.reshape(-1, _BIN_GROUP) @ weights  # |digit| < 2**44: each group stays below 2**53
    return sum(int(group) << (_BIN_GROUP * index) for index, group in enumerate(groups.tolist()) if group)


def _exact_chunk(remainder: np.ndarray, integers: np.ndarray) -> int:
    """Σ remainder (finite float64 values, at most CHUNK of them) in units of 2⁻¹⁰⁷⁴.

    The fallback for chunks with values too large for an extraction: scaled to a grid of
    ``SLICE_BITS``-bit integers, rounded, summed and subtracted, a grid at a time.
    Overwrites both arrays (``integers`` is scratch space of the same size).
    """
    total = 0
    passes = 0
    while remainder.size:
        bound = max(float(np.max(remainder)), -float(np.min(remainder)))  # max |x| without a temporary
        if bound == 0.0:
            return total
        exponent = max(math.frexp(bound)[1] - SLICE_BITS, UNIT_EXPONENT)  # the grid u = 2**exponent
        if exponent >= -1022:
            np.multiply(remainder, math.ldexp(1.0, -exponent), out=integers)
        else:  # 2**-exponent would overflow a float: scale with ldexp (exact too)
            np.ldexp(remainder, -exponent, out=integers)
        np.rint(integers, out=integers)
        total += int(np.sum(integers)) << (exponent - UNIT_EXPONENT)
        if exponent >= -1022:
            integers *= math.ldexp(1.0, exponent)
        else:
            np.ldexp(integers, exponent, out=integers)
        remainder -= integers
        passes += 1
        if passes == SHORTLIST_PASS:
            remainder = remainder[remainder != 0.0]  # zeros add nothing: later passes read the few left
            integers = integers[: remainder.size]
    return total


def _round_scaled(scaled: int, precision: int, min_exponent: int) -> float:
    """scaled · 2⁻¹⁰⁷⁴ rounded to ``precision`` bits (ties to even), with subnormals below 2**min_exponent."""
    if scaled == 0:
        return 0.0
    magnitude = abs(scaled)
    shift = max(magnitude.bit_length() - precision, min_exponent - UNIT_EXPONENT)
    if shift > 0:
        quotient, rest = divmod(magnitude, 1 << shift)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and quotient & 1):
            quotient += 1
    else:
        quotient, shift = magnitude, 0
    try:
        value = math.ldexp(float(quotient), shift + UNIT_EXPONENT)
    except OverflowError:
        value = math.inf
    return value if scaled > 0 else -value
