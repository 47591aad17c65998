"""Checks of the user's inputs and options, shared by every evaluation: one wording whatever the path.

Arrays are checked for what NumPy cannot tell by itself (ragged rows, text, complex numbers, empty
inputs, NaN and ±inf, shapes that would broadcast silently); options for their ranges and kinds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lossctl.errors import ComputationError, InputError, ParameterError
from lossctl.losses.checks import count, position
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Array, LossSpec, Param

REDUCTIONS = ("mean", "sum", "none")
DTYPES: dict[str, type[np.floating[Any]]] = {"float64": np.float64, "float32": np.float32}
INT64_RANGE = (-(2**63), 2**63 - 1)


def numeric_array(values: Any, argument: str) -> Array:
    """``values`` as an array of real numbers, not yet converted (a memory map stays a memory map)."""
    try:
        array = values if isinstance(values, np.ndarray) else np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise InputError(f"{argument} is ragged: every row must have the same number of values") from exc
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"{argument} must hold numbers, got an array of {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{argument} must hold real numbers, got complex values")
    if array.size == 0:
        raise InputError(f"{argument} is empty: give at least one value")
    return array


def as_array(values: Any, argument: str, dtype: type = np.float64, *, allow_nonfinite: bool = False) -> Array:
    """Coerce a user-supplied array-like to a numeric array of ``dtype``, or raise InputError."""
    array: Array = numeric_array(values, argument).astype(dtype, copy=False)
    if not allow_nonfinite:
        require_finite(array, argument)
    return array


def require_finite(array: Array, argument: str, row_offset: int = 0) -> None:
    """NaN and ±inf are refused, naming the first; one sum usually shows there are none."""
    with np.errstate(all="ignore"):
        if math.isfinite(float(np.sum(array))):
            return
    bad = ~np.isfinite(array)
    if not bad.any():
        return  # the sum overflowed; the values are finite
    first = int(np.flatnonzero(bad.ravel())[0])
    value = array.ravel()[first]
    where = position(array, first, row_offset)
    raise InputError(f"{argument}{where} is {value}: inputs must be finite (pass --allow-nonfinite to allow it)")


def _describe_shape(array: Array) -> str:
    return count(array.size) if array.ndim == 1 else f"shape {tuple(array.shape)}"


def require_same_shape(pred: Array, other: Array, argument: str) -> None:
    """No silent broadcasting: ``other`` must have exactly ``pred``'s shape."""
    if other.shape != pred.shape:
        if pred.ndim == 1 and other.ndim == 1:
            raise InputError(f"{argument} has {count(other.size)} but --pred has {pred.size}")
        raise InputError(
            f"{argument} has {_describe_shape(other)} but --pred has {_describe_shape(pred)}; they must match"
        )


def resolve_params(spec: LossSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """Hyper-parameters with defaults filled in and ranges checked."""
    known = {p.name for p in spec.params}
    unknown = sorted(set(given) - known)
    if unknown:
        valid = ", ".join(p.name for p in spec.params) or "none"
        raise ParameterError(f"{spec.name} has no parameter {unknown[0]!r} (its parameters: {valid})")
    resolved: dict[str, Any] = {}
    for param in spec.hyper_params:
        value = given.get(param.name, param.default)
        if value is None:
            value = param.default
        if param.kind == "float":
            value = float(value)
        elif param.kind == "int":
            value = _whole_number(value, param.option)
        elif param.kind == "bool":
            value = bool(value)
        param.check(value)
        resolved[param.name] = value
    return resolved


def _whole_number(value: Any, option: str) -> int:
    """An integer parameter: whole, and within int64 (what NumPy compares class indices in)."""
    try:
        whole = int(value)
        exact = float(value) == whole if not isinstance(value, int) else True
    except (OverflowError, ValueError):
        exact = False
    if not exact:
        raise ParameterError(f"{option} must be a whole number, got {value!r}")
    if not INT64_RANGE[0] <= whole <= INT64_RANGE[1]:
        raise ParameterError(f"{option} must be between −2⁶³ and 2⁶³ − 1 (a 64-bit integer), got {whole}")
    return whole


def resolve_options(
    loss: str | LossSpec, dtype: str, reduction: str, *, reducing: bool = False
) -> tuple[LossSpec, type[np.floating[Any]]]:
    """The declaration and the float type, once ``dtype`` and ``reduction`` are known to be valid for it.

    ``reducing``: the caller keeps no per-element value, so ``none`` is refused.
    """
    spec = loss if isinstance(loss, LossSpec) else LOSSES.resolve(loss)
    if dtype not in DTYPES:
        raise ParameterError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    reductions = (*REDUCTIONS, *spec.reductions.extra)
    if reducing:
        if reduction not in reductions or reduction == "none":
            choices = ", ".join(r for r in reductions if r != "none")
            raise ParameterError(f"chunked evaluation reduces: --reduction must be one of {choices}")
    elif reduction not in reductions:
        raise ParameterError(f"--reduction must be one of {', '.join(reductions)}, got {reduction!r}")
    return spec, DTYPES[dtype]


def check_target_given(spec: LossSpec, target: object) -> None:
    """A target exactly when the loss takes one (the same message from every path)."""
    if spec.target == "none":
        if target is not None:
            inputs = ["--pred", *(p.option for p in spec.tensor_params)]
            listed = inputs[0] if len(inputs) == 1 else ", ".join(inputs[:-1]) + " and " + inputs[-1]
            raise InputError(f"{spec.name} takes no --target; it is computed from {listed}")
    elif target is None:
        raise InputError(f"{spec.name} needs --target: {spec.target_help}")


def missing_tensor(spec: LossSpec, param: Param) -> InputError:
    """The error for a required tensor parameter that was not given."""
    return InputError(f"{spec.name} needs {param.option}: {param.help}")


def empty_mean(spec: LossSpec, hyper: Mapping[str, Any]) -> ComputationError:
    """The error for a weighted mean whose weights sum to 0 (sum and none are defined: they are 0)."""
    fix = "use --reduction sum or none (PyTorch gives 0 for both, NaN for the mean)"
    if "ignore_index" in hyper:
        return ComputationError(
            f"--reduction mean: every --target equals --ignore-index ({hyper['ignore_index']}) or has --weight 0, "
            f"so the mean is 0/0; {fix}"
        )
    return ComputationError(f"--reduction mean: every target of {spec.name} has weight 0, so the mean is 0/0; {fix}")


def overflow_message(spec: LossSpec, float_type: type, *, gradient: bool = False) -> str:
    """Why a loss (or its gradient) became inf or NaN on finite inputs, with the fix for this dtype."""
    dtype = np.dtype(float_type).name
    what = f"{spec.name}: the gradient" if gradient else f"{spec.name}"
    if dtype == "float32":
        return f"{what} overflows float32 on these inputs (a value is inf or NaN); use --dtype float64"
    return (
        f"{what} overflows float64 on these inputs (beyond ±{np.finfo(np.float64).max:.3g}, or NaN), "
        "the widest type lossctl has; rescale the inputs"
    )
