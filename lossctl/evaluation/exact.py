"""Exact sums of floating-point arrays, so that a total never depends on how it was computed.

A float64 is an integer multiple of 2⁻¹⁰⁷⁴ (the smallest subnormal), so any sum of
float64 (or float32) values is an integer multiple of it too.  :class:`ExactSum` keeps
that integer in a Python int: sums of blocks are combined by integer addition, which
is associative, so the total is the same whatever the block size, the thread count
or the order, and it is rounded to the output type once, at the end — more accurate
than NumPy's pairwise summation (whose error grows with log n and with
cancellation).

Each chunk of at most 2¹⁶ values is cut without rounding into slices on a common
grid (Rump, Ogita and Oishi's error-free extraction): for n ≤ 2ᵏ values below
2ˢ⁻ʰ in magnitude (h = max(k − 10, 2)), ``t = x + 1.5·2ˢ`` lies in [2ˢ, 2ˢ⁺¹), so
t − 1.5·2ˢ is x rounded to the grid 2ˢ⁻⁵² and, t's bits being linear in t across
that binade, the sum of those slices is read off the integer sum of t's bit patterns
(wrapping int64 arithmetic; the true sum stays below 2⁶³).  ``x − (t − 1.5·2ˢ)``
is the exact rounding error, at most 2ˢ⁻⁵³: a second extraction takes the next
46 bits, and only values far below the chunk's largest (2⁻⁴¹ of it, or finer than
a float32's 24 bits allow) can have bits left; those are found by one comparison,
replayed and summed alone.  About 8–11 NumPy passes over a chunk in cache.  Chunks
whose leftovers span hundreds of binades are summed per binade instead
(:func:`_binned_units`): each value is split into its top 27 significant bits and
the rest, and ``np.bincount`` sums each part per sign and exponent, where every
partial sum is exact.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

UNIT_EXPONENT = -1074  # every finite float64 is an integer multiple of 2**UNIT_EXPONENT
CHUNK = 1 << 16  # values summed together: a chunk and one scratch buffer stay in the CPU's L2 cache across passes
FLOAT32_MAX = float(np.finfo(np.float32).max)
FEW = 32  # at most this many values: converted one by one in Python, cheaper than a dozen NumPy calls
LOWEST_EXPONENT = -1022  # σ = 1.5·2**s is normal for s ≥ -1022; at s = -1022 its grid is 2**-1074: nothing is left
HIGHEST_EXPONENT = 1023  # σ = 1.5·2**s and x + σ stay finite up to s = 1023; larger values take the fallback
SHORTLIST_PASSES = 3  # extractions tried on a chunk's leftovers before summing them per binade
BINNED_LEFTOVERS = CHUNK // 16  # more leftovers than this: they span many binades, sum them per binade
BINNED_LIMIT = 2.0**1000  # per binade, 2**16 values below this sum without overflow
HUGE_SCALE = 128  # chunks with values near the largest float: those above 2**-800 are summed scaled by 2**-128
_WRAP = 1 << 64
_LOW_BITS = 26  # bits a binned value keeps apart: its top 27 and its low 26 significant bits sum separately
_HIGH_MASK = np.uint64(((1 << 64) - 1) ^ ((1 << _LOW_BITS) - 1))
_BINS = 1 << 12  # sign and biased exponent of a float64
_BIN_GROUP = 8  # digits (below 2**45) combined in int64 before Python takes over: 2**45 · 2**8 < 2**63
_UNIT_EXPONENTS = np.maximum(np.arange(_BINS // 2, dtype=np.int32), 1) - 1075  # u_E = 2**(max(E, 1) - 1075)
_HIGH_SCALES = -(_UNIT_EXPONENTS + _LOW_BITS)  # int32 exponents: np.ldexp takes them on every platform
_LOW_SCALES = -_UNIT_EXPONENTS
_GROUP_WEIGHTS = np.left_shift(np.int64(1), np.arange(_BIN_GROUP, dtype=np.int64))

_scratch = threading.local()  # per thread: CHUNK buffers, reused (fresh ones would be page-faulted in each time)


def _buffers() -> tuple[np.ndarray, np.ndarray]:
    buffers: tuple[np.ndarray, np.ndarray] | None = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = (np.empty(CHUNK), np.empty(CHUNK))
        _scratch.buffers = buffers
    return buffers


@dataclass
class ExactSum:
    """A sum held exactly: ``scaled`` · 2⁻¹⁰⁷⁴, plus the sum of any ±inf/NaN terms."""

    scaled: int = 0
    nonfinite: float = 0.0

    def add(self, values: object) -> ExactSum:
        """Add every value of an array (or a number) exactly; returns self."""
        if isinstance(values, float):  # one number (a count, say): no array needed
            self._add_few([float(values)])
            return self
        array = np.asarray(values)
        if array.dtype != np.float64 and array.dtype != np.float32:
            array = array.astype(np.float64)  # integers, booleans, float16, other floats: as float64
        precision = 24 if array.dtype == np.float32 else 53  # significant bits of every value
        array = array.reshape(-1)
        if array.size <= FEW:
            self._add_few(array.tolist())
            return self
        converted, scratch = _buffers()
        wide = False  # the last chunk's values spanned hundreds of binades: sum the next one per binade
        for start in range(0, array.size, CHUNK):
            chunk = array[start : start + CHUNK]
            if chunk.dtype != np.float64:  # float32: converted (exactly) a chunk at a time
                np.copyto(converted[: chunk.size], chunk)
                chunk = converted[: chunk.size]
            units, wide = self._chunk_units(chunk, precision, scratch[: chunk.size], wide)
            self.scaled += units
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
        """Add a handful of Python floats exactly, in Python."""
        finite = [value for value in values if math.isfinite(value)]
        if len(finite) < len(values):
            self.nonfinite += sum(value for value in values if not math.isfinite(value))
        self.scaled += _float_units(finite)

    def _chunk_units(self, chunk: np.ndarray, precision: int, scratch: np.ndarray, wide: bool) -> tuple[int, bool]:
        """Σ chunk (float64, at most CHUNK values) in units of 2⁻¹⁰⁷⁴, and whether it spanned many binades.

        ±inf and NaN go to ``nonfinite``.  ``scratch`` has the chunk's size; ``chunk`` is only read.
        ``wide``: the previous chunk spanned many binades, so this one is summed per binade directly.
        """
        largest, smallest = float(np.maximum.reduce(chunk)), float(np.minimum.reduce(chunk))
        if not (math.isfinite(largest) and math.isfinite(smallest)):  # a NaN or an inf: set apart
            finite = np.isfinite(chunk)
            with np.errstate(invalid="ignore"):
                self.nonfinite += float(np.sum(chunk[~finite]))
            chunk = chunk[finite]
            if chunk.size == 0:
                return 0, wide
            largest, smallest = float(np.maximum.reduce(chunk)), float(np.minimum.reduce(chunk))
            scratch = scratch[: chunk.size]
        bound = max(largest, -smallest)
        if wide and bound < BINNED_LIMIT:
            return _binned_units(chunk), True
        return _extracted_units(chunk, bound, smallest, precision, scratch)


def exact_sum(values: object, float_type: type = np.float64) -> float:
    """Σ values, computed exactly and rounded once to ``float_type``."""
    return ExactSum().add(values).rounded(float_type)


def round_to(value: float, float_type: type = np.float64) -> float:
    """``value`` rounded to ``float_type`` (a no-op for float64), as a Python float."""
    return float(np.float32(value)) if np.dtype(float_type) == np.float32 else float(value)


def _float_units(values: list[float]) -> int:
    """Σ values (finite Python floats) in units of 2⁻¹⁰⁷⁴, in Python integers."""
    total = 0
    for value in values:
        numerator, denominator = value.as_integer_ratio()  # denominator = 2**d with d ≤ 1074
        total += numerator << (1075 - denominator.bit_length())
    return total


def _headroom(count: int) -> int:
    """h such that ``count`` slices of |x| ≤ 2**(s − h) on the grid 2**(s − 52) sum below 2**63 grid steps."""
    return max((count - 1).bit_length() - 10, 2)  # count ≤ 2**k: count · 2**(52 − h) ≤ 2**62


def _captured_above(exponent: int, precision: int) -> float:
    """The smallest magnitude from which every value of ``precision`` bits is a multiple of 2**(exponent − 52)."""
    return math.ldexp(1.0, exponent - 52 + precision - 1)


def _extract(source: np.ndarray, exponent: int, buffer: np.ndarray, leftover: np.ndarray | None = None) -> int:
    """Σ source rounded to the grid 2**(exponent − 52), exactly, in units of 2⁻¹⁰⁷⁴.

    Needs |source| ≤ 2**(exponent − _headroom(source.size)) and LOWEST_EXPONENT ≤ exponent ≤
    HIGHEST_EXPONENT.  Then ``t = source + σ`` (σ = 1.5·2**exponent) lies in [2**exponent, 2**(exponent + 1)),
    where a float's bit pattern grows by one per grid step: Σ (t − σ) in grid steps is Σ bits(t) −
    n·bits(σ), summed in wrapping int64 and exact because the true value is below 2**63.
    ``buffer`` (contiguous; may be ``source`` when no leftover is asked for) is overwritten.  With
    ``leftover`` (may be ``source`` or ``buffer``), it receives source − (t − σ): the exact rounding
    error, at most 2**(exponent − 53) in magnitude.
    """
    sigma = math.ldexp(1.5, exponent)
    np.add(source, sigma, out=buffer)
    bit_sum = int(np.add.reduce(buffer.view(np.int64)))
    sigma_bits = ((exponent + 1023) << 52) | (1 << 51)
    steps = (bit_sum - source.size * sigma_bits) % _WRAP
    if steps >= _WRAP // 2:
        steps -= _WRAP
    if leftover is not None:
        np.subtract(buffer, sigma, out=buffer)  # the slices: exact (Sterbenz)
        np.subtract(source, buffer, out=leftover)
    return steps << (exponent - 52 - UNIT_EXPONENT)


def _replay(values: np.ndarray, first: int, second: int) -> np.ndarray:
    """What extractions at 2**first then 2**second leave of ``values`` (overwritten with it): the same arithmetic."""
    rounded = np.empty_like(values)
    for exponent in (first, second):
        sigma = math.ldexp(1.5, exponent)
        np.add(values, sigma, out=rounded)
        np.subtract(rounded, sigma, out=rounded)
        np.subtract(values, rounded, out=values)
    return values


def _extracted_units(
    chunk: np.ndarray, bound: float, smallest: float, precision: int, scratch: np.ndarray
) -> tuple[int, bool]:
    """Σ chunk (finite float64 of ``precision`` significant bits, |values| ≤ bound) in units of 2⁻¹⁰⁷⁴.

    Two extractions over the whole chunk (``smallest`` is its minimum; ``scratch`` is a buffer of its
    size); what the second leaves is not written: only values below ``_captured_above`` its grid can
    have bits left, and those few are found and replayed.  Also says whether they were many (values
    spread over hundreds of binades), in which case they were summed per binade.
    """
    if bound == 0.0:
        return 0, False
    headroom = _headroom(chunk.size)
    first = max(math.frexp(bound)[1] + headroom, LOWEST_EXPONENT)  # bound < 2**(first - headroom)
    if first > HIGHEST_EXPONENT:  # values near the largest float: σ would overflow
        return _huge_units(chunk, precision), False
    total = _extract(chunk, first, scratch, leftover=scratch)
    if first == LOWEST_EXPONENT or smallest >= _captured_above(first, precision):
        return total, False  # nothing left (e.g. float32 values within 22 binades of the largest)
    second = max(first - 53 + headroom, LOWEST_EXPONENT)  # |leftover| ≤ 2**(first - 53)
    total += _extract(scratch, second, scratch)
    threshold = _captured_above(second, precision)
    if second == LOWEST_EXPONENT or smallest >= threshold:
        return total, False
    below = np.less(chunk if smallest >= 0.0 else np.abs(chunk, out=scratch), threshold)
    count = int(np.count_nonzero(below))
    if count > BINNED_LEFTOVERS:  # zero the others (no branchy compress of a dense mask), sum per binade
        return total + _binned_units(_replay(np.multiply(chunk, below, out=scratch), first, second)), True
    if count == 0:
        return total, False
    rest = _replay(chunk[below], first, second)
    return total + _leftover_units(rest[rest != 0.0]), False


def _huge_units(chunk: np.ndarray, precision: int) -> int:
    """Σ chunk (finite float64, some near the largest float) in units of 2⁻¹⁰⁷⁴.

    Values of at least 2**-800 are scaled by 2**-128 (exact: they stay normal) and summed apart from
    the smaller ones, which need no scaling.
    """
    large = np.abs(chunk) >= math.ldexp(1.0, -800)
    scaled = chunk[large] * math.ldexp(1.0, -HUGE_SCALE)
    return (_array_units(scaled, precision) << HUGE_SCALE) + _array_units(chunk[~large], precision)


def _array_units(values: np.ndarray, precision: int) -> int:
    """Σ values (finite float64 below 2**1000, at most CHUNK of them) in units of 2⁻¹⁰⁷⁴, on a fresh buffer."""
    if values.size <= FEW:
        return _float_units(values.tolist())
    smallest = float(np.minimum.reduce(values))
    bound = max(float(np.maximum.reduce(values)), -smallest)
    return _extracted_units(values, bound, smallest, precision, np.empty_like(values))[0]


def _leftover_units(rest: np.ndarray) -> int:
    """Σ rest (finite nonzero float64, at most CHUNK values, far below 2**1000) in units of 2⁻¹⁰⁷⁴."""
    total = 0
    for _ in range(SHORTLIST_PASSES):
        if rest.size <= FEW:
            return total + _float_units(rest.tolist())
        bound = max(float(np.maximum.reduce(rest)), -float(np.minimum.reduce(rest)))
        exponent = max(math.frexp(bound)[1] + _headroom(rest.size), LOWEST_EXPONENT)
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
    bins = (bits >> np.uint64(52)).view(np.int64)  # sign and biased exponent: 0 … 4095
    high = (bits & _HIGH_MASK).view(np.float64)
    low = values - high
    high_sums = np.bincount(bins, weights=high, minlength=_BINS)
    low_sums = np.bincount(bins, weights=low, minlength=_BINS)
    half = _BINS // 2  # positive and negative sums of one exponent, on one grid below 2**53 of it: exact
    high_sums = high_sums[:half] + high_sums[half:]
    low_sums = low_sums[:half] + low_sums[half:]
    highs = np.ldexp(high_sums, _HIGH_SCALES).astype(np.int64)  # exact integers
    lows = np.ldexp(low_sums, _LOW_SCALES).astype(np.int64)
    # digit p counts 2**(p - 1074): E = 0 and E = 1 share u = 2**-1074; a high counts 26 places up
    digits = np.zeros(-(-(half + _LOW_BITS) // _BIN_GROUP) * _BIN_GROUP, dtype=np.int64)
    digits[: half - 1] += lows[1:]
    digits[0] += lows[0]
    digits[_LOW_BITS : half - 1 + _LOW_BITS] += highs[1:]
    digits[_LOW_BITS] += highs[0]
    groups = digits.reshape(-1, _BIN_GROUP) @ _GROUP_WEIGHTS  # |digit| < 2**45: each group stays below 2**53
    return _base256_value(np.concatenate([groups, np.zeros(8, dtype=np.int64)]))


def _base256_value(digits: np.ndarray) -> int:
    """Σ digits[j] · 256**j (int64 digits below 2**62, the top one zero) as a Python int.

    Carries are propagated in NumPy until every digit but the top one lies in 0 … 255 (arithmetic
    shifts floor, so a negative total ends as a negative top digit); then the bytes make the integer
    at once, instead of a Python addition per digit.
    """
    while True:
        carries = digits[:-1] >> 8
        if not carries.any():
            break
        digits[:-1] &= 255
        digits[1:] += carries
    body = int.from_bytes(digits[:-1].astype(np.uint8).tobytes(), "little")
    return body + (int(digits[-1]) << (8 * (digits.size - 1)))


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
