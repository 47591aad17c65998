"""Compute a loss: validate inputs, evaluate elements, reduce, differentiate.

This is the one place where reductions happen.  ``compute`` returns the
:class:`LossResult` that the command line renders and the Python API returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossctl.errors import ComputationError, InputError, ParameterError
from lossctl.evaluation.exact import ExactSum, round_to
from lossctl.losses.checks import count, position
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Array, LossSpec, Param

REDUCTIONS = ("mean", "sum", "none")
ACTIVATIONS = ("sigmoid", "softmax", "tanh")
DTYPES: dict[str, type[np.floating[Any]]] = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class LossResult:
    """Everything computed for one loss on one set of inputs."""

    loss: str
    params: dict[str, Any]
    reduction: str
    dtype: str
    pred: Array
    target: Array | None
    elements: Array
    sum: float
    mean: float
    value: float | Array
    grad: Array
    count: float
    divisor: float = 1.0  # value = sum / divisor (before any transform)
    tensors: dict[str, Array] = field(default_factory=dict)
    extra_grads: dict[str, Array] = field(default_factory=dict)
    details: dict[str, Array] = field(default_factory=dict)
    class_axis: int | None = None
    activation: str | None = None
    pre_activation: Array | None = None  # z when --activation was given (pred then holds a(z))
    activation_derivative: Array | None = None  # a′(z) for element-wise activations
    channels_last: bool = False  # arrays are (…, C, H, W) here; the user's were (…, H, W, C)
    convention: str | None = None  # the library whose convention computed it, when --convention was given
    declaration: LossSpec | None = None  # the spec that computed it (it may not be registered)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.pred.shape)

    @property
    def spec(self) -> LossSpec:
        """The declaration that computed this result (looked up by name only when none was kept)."""
        return self.declaration if self.declaration is not None else LOSSES[self.loss]

    def pixel_map(self) -> Array:
        """Per-pixel losses (the local 1 − SSIM map, squared errors for PSNR), or else the elements."""
        spec = self.spec
        if spec.pixel_map is None:
            return self.elements
        return np.asarray(spec.pixel_map(self.pred, self.target, **self.params, **self.tensors))

    def in_user_layout(self, array: Array) -> Array:
        """``array`` with the channel axis back where the user had it (for image-shaped arrays)."""
        if self.channels_last and array.ndim >= 3 and array.shape == self.pred.shape:
            return np.moveaxis(array, -3, -1)
        return array

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/architecture.md §4 (plain Python numbers and lists)."""
        user = self.in_user_layout
        params: dict[str, Any] = dict(self.params)
        for name, tensor in self.tensors.items():
            params[name] = user(tensor).tolist()
        value = user(self.value) if isinstance(self.value, np.ndarray) else self.value
        out: dict[str, Any] = {
            "loss": self.loss,
            **({"convention": self.convention} if self.convention else {}),
            "params": params,
            "reduction": self.reduction,
            "shape": list(user(self.pred).shape),
            "dtype": self.dtype,
            "value": value.tolist() if isinstance(value, np.ndarray) else value,
            "sum": self.sum,
            "mean": self.mean,
            "count": self.count,
            "elements": user(self.elements).tolist(),
            "grad": user(self.grad).tolist(),
        }
        for name, grad in self.extra_grads.items():
            out[f"grad_{name}"] = user(grad).tolist()
        if self.channels_last:
            out["channels_last"] = True
        if self.activation is not None:
            out["activation"] = self.activation
            out["activated"] = user(self.pred).tolist()
        return out


def as_array(values: Any, argument: str, dtype: type = np.float64, *, allow_nonfinite: bool = False) -> Array:
    """Coerce a user-supplied array-like to a numeric array, or raise InputError."""
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise InputError(f"{argument} is ragged: every row must have the same number of values") from exc
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"{argument} must hold numbers, got an array of {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{argument} must hold real numbers, got complex values")
    if array.size == 0:
        raise InputError(f"{argument} is empty: give at least one value")
    array = array.astype(dtype, copy=False)
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


INT64_RANGE = (-(2**63), 2**63 - 1)


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


@np.errstate(all="ignore")  # NumPy RuntimeWarnings never reach the user: results are checked
def compute(
    loss: str | LossSpec,
    pred: Any,
    target: Any = None,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    allow_nonfinite: bool = False,
    activation: str | None = None,
    **params: Any,
) -> LossResult:
    """Evaluate ``loss`` on ``pred`` and ``target``.

    Args:
        loss: a registered name or alias (``"mse"``, ``"mae"`` …) or a LossSpec.
        pred: predictions, any array-like of numbers.
        target: targets (``None`` for losses that take none).
        reduction: ``"mean"``, ``"sum"``, ``"none"`` or a loss-specific one
            (``"batchmean"`` for ``kl_div``); chooses ``value`` and ``grad``.
        dtype: ``"float64"`` (default) or ``"float32"``.
        allow_nonfinite: accept NaN and ±inf in the inputs.
        activation: ``"sigmoid"``, ``"softmax"`` or ``"tanh"``: ``pred`` holds pre-activations z,
            the loss sees a(z) and ``grad`` is ∂value/∂z by the chain rule.
        **params: the loss's hyper-parameters and tensor parameters.

    Returns:
        A :class:`LossResult`; ``grad`` is ∂value/∂pred for the chosen reduction
        (for ``"none"``, the gradient of the sum of the elements).
    """
    spec, float_type = resolve_options(loss, dtype, reduction)

    # defaults that depend on the input (PSNR's data range), only when not given: inference may refuse
    if spec.infer is not None and any(params.get(p.name) is None for p in spec.hyper_params if p.default is None):
        inferred = spec.infer(np.asarray(pred))
        params = {**params, **{k: v for k, v in inferred.items() if params.get(k) is None}}
    hyper = resolve_params(spec, params)
    tensors: dict[str, Array] = {}
    for param in spec.tensor_params:
        given = params.get(param.name)
        if given is not None:
            tensors[param.name] = as_array(given, param.option, float_type, allow_nonfinite=allow_nonfinite)
        elif param.required:
            raise missing_tensor(spec, param)

    pred_array = as_array(pred, "--pred", float_type, allow_nonfinite=allow_nonfinite)
    pre_activation = None
    if activation is not None:
        check_activation(activation)
        pre_activation = pred_array
        pred_array = activate(activation, pred_array, activation_axis(spec, pred_array))
    target_array: Array | None = None
    check_target_given(spec, target)
    if target is not None:
        target_array = as_array(target, "--target", float_type, allow_nonfinite=allow_nonfinite)
        if spec.target == "same":
            require_same_shape(pred_array, target_array, "--target")

    arguments = {**hyper, **tensors}
    if spec.check is not None:
        spec.check(pred_array, target_array, **arguments)

    with np.errstate(all="ignore"):
        elements = np.asarray(spec.elements(pred_array, target_array, **arguments), dtype=float_type)
        weights = mean_weights(spec, pred_array, target_array, arguments, float_type)
        raw_grads = spec.grad(pred_array, target_array, **arguments, **weighted(weights, reduction))
        details = dict(spec.details(pred_array, target_array, **arguments)) if spec.details else {}
    grads = dict(raw_grads) if isinstance(raw_grads, Mapping) else {"pred": raw_grads}
    grads = {name: np.asarray(g, dtype=float_type) for name, g in grads.items()}

    total = ExactSum().add(elements).rounded(float_type)
    count = count_of(spec, pred_array, target_array, arguments, elements.size).rounded(float_type)
    if count == 0.0 and reduction == "mean":
        raise empty_mean(spec, hyper)
    mean_total = total if weights is None else ExactSum().add(weights * elements).rounded(float_type)
    mean = mean_of(mean_total, count, float_type)

    value: float | Array
    divisor = 1.0
    if reduction == "none":
        value, scale = elements, 1.0
    else:
        if reduction not in REDUCTIONS:
            divisor = float(spec.extra_reductions[reduction](pred_array, target_array, **arguments))
        reduced = mean_total if reduction == "mean" else total
        value, scale, divisor = reduce_total(spec, reduction, reduced, count, divisor, float_type)
    if scale != 1.0:
        grads = {name: g * float_type(scale) for name, g in grads.items()}

    derivative = None
    if pre_activation is not None and activation is not None:
        axis = activation_axis(spec, pre_activation)
        grads["pred"], derivative = chain(activation, pred_array, grads["pred"], axis)
    if not allow_nonfinite:
        _require_finite(spec, elements, grads, total)

    return LossResult(
        loss=spec.name,
        params=hyper,
        reduction=reduction,
        dtype=dtype,
        pred=pred_array,
        target=target_array,
        elements=elements,
        sum=total,
        mean=mean,
        value=value,
        grad=grads.pop("pred"),
        count=count,
        divisor=divisor,
        tensors=tensors,
        extra_grads=grads,
        details=details,
        class_axis=spec.class_axis(pred_array) if spec.class_axis else None,
        activation=activation,
        pre_activation=pre_activation,
        activation_derivative=derivative,
        declaration=spec,
    )


def resolve_options(
    loss: str | LossSpec, dtype: str, reduction: str, *, reducing: bool = False
) -> tuple[LossSpec, type[np.floating[Any]]]:
    """The declaration and the float type, once ``dtype`` and ``reduction`` are known to be valid for it.

    ``reducing``: the caller computes no per-element value, so ``none`` is refused (the block engine).
    """
    spec = loss if isinstance(loss, LossSpec) else LOSSES.resolve(loss)
    if dtype not in DTYPES:
        raise ParameterError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    reductions = (*REDUCTIONS, *spec.extra_reductions)
    if reducing:
        if reduction not in reductions or reduction == "none":
            choices = ", ".join(r for r in reductions if r != "none")
            raise ParameterError(f"chunked evaluation reduces: --reduction must be one of {choices}")
    elif reduction not in reductions:
        raise ParameterError(f"--reduction must be one of {', '.join(reductions)}, got {reduction!r}")
    return spec, DTYPES[dtype]


def check_activation(activation: str | None) -> None:
    """``--activation``: one of ACTIVATIONS, or none."""
    if activation is not None and activation not in ACTIVATIONS:
        raise ParameterError(f"--activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")


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


def mean_weights(
    spec: LossSpec, pred: Array, target: Array | None, arguments: Mapping[str, Any], dtype: type
) -> Array | None:
    """The per-element weights of the mean (CTC's 1 / target length), or None for a plain mean."""
    if spec.mean_weights is None:
        return None
    return np.asarray(spec.mean_weights(pred, target, **arguments), dtype=dtype)


def weighted(weights: Array | None, reduction: str) -> dict[str, Array]:
    """The keyword that asks ``grad`` for the gradient of Σ wᵢ ℓᵢ (the weighted mean) instead of Σ ℓᵢ."""
    return {} if weights is None or reduction != "mean" else {"element_weights": weights}


def reduce_total(
    spec: LossSpec, reduction: str, total: float, count: float, divisor: float, float_type: type = np.float64
) -> tuple[float, float, float]:
    """(value, ∂value/∂sum, divisor) for mean, sum or a loss-specific divisor, then any transform (RMSE's √).

    ``total`` is the exactly computed sum rounded once to ``float_type``; every later step is
    rounded to ``float_type`` too, so float32 results are what float32 arithmetic gives (PyTorch's
    ``sum / N`` in float32), whichever path computed the sum.
    """
    if reduction == "sum":
        value, scale, divisor = total, 1.0, 1.0
    elif reduction == "mean":
        value, scale, divisor = mean_of(total, count, float_type), 1.0 / count, count
    else:
        value, scale = round_to(total / divisor, float_type), 1.0 / divisor
    if spec.transform is not None:
        scale *= spec.transform.derivative(float(value))
        value = round_to(spec.transform.forward(float(value)), float_type)
    return value, scale, divisor


def count_of(spec: LossSpec, pred: Array, target: Array | None, arguments: Mapping[str, Any], size: int) -> ExactSum:
    """What the mean divides by (the number of elements, or the loss's weighted count), summed exactly."""
    if spec.denominator is None:
        return ExactSum().add(float(size))
    return ExactSum().add(spec.denominator(pred, target, **arguments))


def mean_of(total: float, count: float, float_type: type = np.float64) -> float:
    """total / count in ``float_type``; NaN when nothing counts (all targets ignored or weighted 0), as PyTorch."""
    if count == 0.0:
        return math.nan
    return round_to(total / count, float_type)


def empty_mean(spec: LossSpec, hyper: Mapping[str, Any]) -> ComputationError:
    """The error for a weighted mean whose weights sum to 0 (sum and none are defined: they are 0)."""
    fix = "use --reduction sum or none (PyTorch gives 0 for both, NaN for the mean)"
    if "ignore_index" in hyper:
        return ComputationError(
            f"--reduction mean: every --target equals --ignore-index ({hyper['ignore_index']}) or has --weight 0, "
            f"so the mean is 0/0; {fix}"
        )
    return ComputationError(f"--reduction mean: every target of {spec.name} has weight 0, so the mean is 0/0; {fix}")


def activation_axis(spec: LossSpec, pred: Array) -> int:
    """Softmax runs over the loss's class axis, or the last axis for element-wise losses."""
    axis = spec.class_axis(pred) if spec.class_axis else None
    return pred.ndim - 1 if axis is None else axis


def activate(name: str, z: Array, axis: int) -> Array:
    """a(z) for the activations ``--activation`` offers, in stable forms."""
    if name == "tanh":
        return np.asarray(np.tanh(z))
    if name == "sigmoid":
        e = np.exp(-np.abs(z))  # exponent ≤ 0: no overflow for large |z|
        return np.asarray(np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))
    shifted = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return np.asarray(shifted / np.sum(shifted, axis=axis, keepdims=True))


def chain(name: str, a: Array, grad_a: Array, axis: int) -> tuple[Array, Array | None]:
    """∂L/∂z from ∂L/∂a: a′(z) element-wise, or the softmax Jacobian a ⊙ (g − Σ g ⊙ a)."""
    if name == "softmax":
        return a * (grad_a - np.sum(grad_a * a, axis=axis, keepdims=True)), None
    derivative = a * (1.0 - a) if name == "sigmoid" else 1.0 - a * a
    return grad_a * derivative, derivative


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


def _require_finite(spec: LossSpec, elements: Array, grads: Mapping[str, Array], total: float) -> None:
    """Finite inputs must give finite results (or ±inf where the loss allows it); never NaN."""
    valid = ~np.isnan(elements) if not spec.finite else np.isfinite(elements)
    if not valid.all() or not (np.isfinite(total) or (not spec.finite and not np.isnan(total))):
        raise ComputationError(overflow_message(spec, elements.dtype.type))
    for grad in grads.values():
        if not np.isfinite(grad).all():
            raise ComputationError(overflow_message(spec, grad.dtype.type, gradient=True))
