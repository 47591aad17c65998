"""Compute a loss the way a library does, every library's way side by side, and which one an answer matches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossctl.conventions.base import Convention, Library, contributions_reduce
from lossctl.conventions.registry import DEFAULT, LIBRARIES, convention_for, library
from lossctl.errors import ComputationError, InputError, ParameterError
from lossctl.losses.spec import LossSpec, Param

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off"}
REDUCE_PARAMS = {"multioutput"}  # scikit-learn: these shape the average, not the elements


def parse_settings(settings: list[str] | None) -> dict[str, str]:
    """``--set name=value`` pairs (names with - or _)."""
    parsed: dict[str, str] = {}
    for item in settings or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set: {item!r} is not NAME=VALUE (e.g. --set from_logits=true)")
        parsed[name.strip().replace("-", "_")] = value.strip()
    return parsed


def _parse(param: Param, text: Any) -> Any:
    if not isinstance(text, str):
        return text
    option = f"--set {param.name}"
    if param.kind == "bool":
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ParameterError(f"{option} must be true or false, got {text!r}")
    if param.kind in ("float", "int"):
        try:
            number = float(text)
        except ValueError as exc:
            raise ParameterError(f"{option} must be a number, got {text!r}") from exc
        if param.kind == "int":
            if number != int(number):
                raise ParameterError(f"{option} must be a whole number, got {text!r}")
            return int(number)
        return number
    return text


def resolve_params(
    convention: Convention, settings: Mapping[str, str], given: Mapping[str, Any], spec: LossSpec
) -> dict[str, Any]:
    """--set values first, then lossctl options of the same name that were changed, then the library's defaults."""
    known = {p.name for p in convention.params}
    unknown = sorted(set(settings) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise ParameterError(f"--set: {convention.name} has no parameter {unknown[0]!r} (its parameters: {names})")
    resolved: dict[str, Any] = {}
    for param in convention.params:
        value = param.default
        if param.name in settings:
            value = _parse(param, settings[param.name])
        elif param.name in given and given[param.name] is not None:
            try:
                default = spec.param(param.name).default
            except KeyError:
                default = param.default
            if given[param.name] != default:
                value = given[param.name]
        if param.kind in ("float", "int") and value is not None:
            param.check(value)
        resolved[param.name] = value
    return resolved


def _multioutput(text: Any, option: str) -> np.ndarray | str | None:
    """uniform_average → None; raw_values and variance_weighted as they are; else one weight per output."""
    if text is None or text == "uniform_average":
        return None
    if text in ("raw_values", "variance_weighted"):
        return text
    try:
        return np.array([float(v) for v in str(text).split(",")])
    except ValueError as exc:
        raise InputError(
            f"{option} must be uniform_average, raw_values, variance_weighted or comma-separated numbers, got {text!r}"
        ) from exc


def per_output(elements: np.ndarray, cot: np.ndarray) -> np.ndarray:
    """The value of each output column: Σ over the samples of its elements times their weight in the value."""
    weighted = np.asarray(elements) * np.asarray(cot)
    return weighted.reshape(weighted.shape[0], -1).sum(axis=0) if weighted.ndim > 1 else np.atleast_1d(weighted.sum())


def _vector_valued(convention: Convention, multioutput: Any, params: Mapping[str, Any], reduction: str) -> bool:
    """Whether the library returns one value per output here (raw_values, num_outputs > 1, one-vs-all)."""
    vector = isinstance(multioutput, str) and multioutput == "raw_values"
    vector = vector or (convention.vector_value is not None and convention.vector_value(**params))
    if vector and reduction not in ("mean", "sum_over_batch_size"):
        raise ParameterError(
            f"--reduction: {convention.name} gives one value per output here; it comes with --reduction mean only"
        )
    return vector


def _reductions(lib: Library, convention: Convention) -> tuple[str, ...]:
    return convention.reductions or lib.reductions


@dataclass(frozen=True)
class Choice:
    """The convention a command runs under."""

    library: str  # torch, keras, …, or all
    convention: Convention | None  # None for torch and all


def choose(spec: LossSpec, invoked: str | None, option: str | None) -> Choice:
    """--convention, else the library that owns the invoked name, else PyTorch."""
    from lossctl.conventions.registry import library_of_name

    name = option
    if name is None:
        owner = library_of_name(invoked) if invoked else None
        name = owner[0] if owner and owner[1] == spec.name else DEFAULT
    if name in (DEFAULT, "all"):
        return Choice(name, None)
    lib = library(name)
    convention = convention_for(name, spec.name, invoked)
    if convention is None:
        has = ", ".join(sorted({c.loss for c in lib.conventions}))
        raise InputError(
            f"--convention {name}: lossctl does not know {lib.title}'s {spec.name} (it has {has}); "
            f"see lossctl list --convention {name}"
        )
    return Choice(name, convention)


@dataclass(frozen=True)
class Evaluation:
    """A convention's result with what its derivation needs: the unreduced losses and their coefficients."""

    result: Any  # the LossResult
    elements: np.ndarray  # the library's unreduced losses, before any sample weight
    coefficients: np.ndarray  # ∂value/∂elements: value = Σ coefficients · elements
    vector: bool  # one value per output


def compute_convention(spec: LossSpec, convention: Convention, pred: Any, target: Any, **options: Any) -> Any:
    """The library's value, elements and gradient as a LossResult (options: those of evaluate_convention)."""
    return evaluate_convention(spec, convention, pred, target, **options).result


def _arrays(convention: Convention, lib: Library, pred, target, sample_weight, float_type, allow_nonfinite: bool):
    """pred, target (or the library's default one) and sample weights as arrays of the computing dtype."""
    from lossctl.evaluation.validate import as_array

    pred_array = as_array(pred, "--pred", float_type, allow_nonfinite=allow_nonfinite)
    if target is None:
        if convention.default_target is None:
            raise InputError(f"{convention.name} needs --target")
        target_array = convention.default_target(pred_array)
    else:
        target_array = as_array(target, "--target", float_type, allow_nonfinite=allow_nonfinite)
    weight = None
    if sample_weight is not None:
        if not lib.sample_weight:
            raise InputError(f"--sample-weight: {lib.title} takes no sample weights (Keras and scikit-learn do)")
        weight = as_array(sample_weight, "--sample-weight", float_type)
    return pred_array, target_array, weight


def evaluate_convention(
    spec: LossSpec,
    convention: Convention,
    pred: Any,
    target: Any,
    *,
    reduction: str = "mean",
    dtype: str | None = None,
    sample_weight: Any = None,
    settings: Mapping[str, str] | None = None,
    given: Mapping[str, Any] | None = None,
    allow_nonfinite: bool = False,
) -> Evaluation:
    """Compute as the library does: check, unreduced losses, the library's reduction, the gradient through both."""
    from lossctl.evaluation.result import LossResult
    from lossctl.evaluation.validate import DTYPES

    lib = LIBRARIES[convention.library]
    dtype = dtype or lib.dtype
    if dtype not in DTYPES:
        raise ParameterError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    reduction = library_reduction(lib.name, reduction)
    reductions = _reductions(lib, convention)
    if reduction not in reductions:
        raise ParameterError(
            f"--reduction: {lib.title}'s {convention.name} takes {' | '.join(reductions)}, got {reduction!r}"
        )
    float_type = DTYPES[dtype]
    params = resolve_params(convention, settings or {}, given or {}, spec)
    reduce_params = {k: params.pop(k) for k in list(params) if k in REDUCE_PARAMS}
    pred_array, target_array, weight = _arrays(
        convention, lib, pred, target, sample_weight, float_type, allow_nonfinite
    )
    if convention.check is not None:
        convention.check(pred_array, target_array, **params)

    extra = {}
    if "multioutput" in reduce_params:
        extra["multioutput"] = _multioutput(reduce_params["multioutput"], "--set multioutput")
    vector = _vector_valued(convention, extra.get("multioutput"), params, reduction)
    if convention.contributions:  # whole-column metrics weigh samples and outputs themselves
        params = {**params, "sample_weight": weight, **extra}
    with np.errstate(all="ignore"):
        elements = np.asarray(convention.elements(pred_array, target_array, **params), dtype=float_type)
        mask = convention.mask(pred_array, target_array, **params) if convention.mask else None
        if convention.contributions:
            value, cot = contributions_reduce(elements, reduction)
        else:
            value, cot = lib.reduce(elements, weight, mask, reduction, **extra)
        grad = np.asarray(
            convention.vjp(pred_array, target_array, np.asarray(cot, dtype=float_type), **params), dtype=float_type
        ).reshape(pred_array.shape)
        if vector:  # one value per output; grad stays that of their sum
            value = per_output(elements, cot).astype(float_type)
    shown = value if reduction == "none" else elements
    if not allow_nonfinite and not (np.all(np.isfinite(shown)) and np.all(np.isfinite(grad))):
        raise ComputationError(
            f"{lib.title}'s {convention.name} gives a non-finite result on these inputs "
            f"({convention.reason}); lossctl reports it as an error, not a number"
        )
    shown = np.asarray(shown, dtype=float_type)  # with reduction none, Keras' elements carry the sample weights
    total = float(np.sum(shown, dtype=float_type))
    # a whole-column metric's elements are contributions: its mean, like its sum, is the metric (count 1)
    count = 1.0 if convention.contributions else float(max(shown.size, 1))
    params.pop("sample_weight", None)
    params.pop("multioutput", None)
    result = LossResult(
        loss=spec.name,
        params={**params, **reduce_params},
        reduction=reduction,
        dtype=dtype,
        shape=tuple(pred_array.shape),
        pred=pred_array,
        target=target_array,
        elements=shown,
        sum=total,
        mean=total / count,
        value=np.asarray(value) if reduction == "none" or vector else float(value),
        grad=grad,
        count=count,
        tensors={} if weight is None else {"sample_weight": weight},
        class_axis=_reduced_axis(pred_array, elements, params),
        convention=convention.library,
    )
    return Evaluation(result, elements, np.asarray(cot, dtype=float_type), vector)


def _reduced_axis(pred: np.ndarray, elements: np.ndarray, params: Mapping[str, Any]) -> int | None:
    """The axis of --pred the library's elements have lost (Keras' ``axis``, else the last), or None."""
    if elements.ndim >= pred.ndim:
        return None
    axis = params.get("axis", -1)
    return int(axis) % pred.ndim if isinstance(axis, int) else pred.ndim - 1


def library_reduction(lib_name: str, reduction: str) -> str:
    if lib_name == "keras" and reduction == "mean":
        return "sum_over_batch_size"
    return reduction
