"""The declaration of a loss: everything the CLI, docs and tests need to know.

A loss is declared once, as a frozen :class:`LossSpec` next to its value and
gradient functions.  The command line, ``lossctl list`` / ``info``, the README
table and the parametrised tests are all generated from these declarations.

Conventions for the functions a spec holds:

* ``elements(pred, target, **params)`` returns the unreduced losses;
* ``grad(pred, target, **params)`` returns the analytic gradient of the *sum*
  of those elements with respect to ``pred`` (shape of ``pred``); the core
  scales it for the reduction.  Losses with further differentiable tensors may
  return a mapping ``{"pred": ..., "<tensor>": ...}`` instead;
* hyper-parameters and tensor parameters arrive as keyword arguments named as
  the :class:`Param` declarations name them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lossctl.errors import ParameterError

Array = np.ndarray
ParamKind = Literal["float", "int", "bool", "choice", "tensor"]
# What --target holds: "same" (shape of --pred, checked before the loss runs), "class" (class indices or
# probabilities, told apart by shape), "none" (no target), or "checked" (any shape: the loss's own ``check``
# validates it against --pred and the tensor parameters, as gaussian_nll's broadcastable variances).
TargetKind = Literal["same", "class", "none", "checked"]
Family = Literal[
    "regression",
    "classification",
    "probabilistic",
    "margin",
    "ranking",
    "embedding",
    "image",
    "segmentation",
    "box",
    "sequence",
]


class Requirement(str, enum.Enum):
    """The default of a tensor parameter that must be given (a one-member enum: a typed sentinel).

    It is a ``str`` equal to ``"required"`` so that code comparing with that word keeps working; new code
    tests ``param.required`` (or ``param.default is REQUIRED``).
    """

    REQUIRED = "required"

    def __str__(self) -> str:
        return self.value


REQUIRED = Requirement.REQUIRED

_PYTHON_TYPES: dict[str, type] = {"float": float, "int": int, "bool": bool, "choice": str, "tensor": str}


@dataclass(frozen=True)
class Param:
    """One parameter of a loss, named as PyTorch names it where it has one."""

    name: str
    kind: ParamKind
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the range excludes ``low``
    high_open: bool = False  # True: the range excludes ``high``
    choices: tuple[str, ...] = ()
    per_row: bool = False  # a tensor with one entry per row of --pred even when it has fewer axes

    @property
    def option(self) -> str:
        """The command-line option, e.g. ``--label-smoothing``."""
        return "--" + self.name.replace("_", "-")

    @property
    def required(self) -> bool:
        """True for a tensor parameter the loss cannot do without (``default=REQUIRED``)."""
        return self.default is REQUIRED

    @property
    def python_type(self) -> type:
        return _PYTHON_TYPES[self.kind]

    @property
    def default_text(self) -> str:
        """The default as shown in help and docs; ``auto`` when it is read off the input."""
        return "auto" if self.default is None else str(self.default)

    def range_text(self) -> str:
        """The valid range in interval notation, or '' when unrestricted."""
        if self.choices:
            return "{" + ", ".join(self.choices) + "}"
        if self.low is None and self.high is None:
            return ""
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{left}{low}, {high}{right}"

    def check(self, value: Any) -> None:
        """Raise :class:`ParameterError` when ``value`` is outside the valid range."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ParameterError(f"{self.option} must be one of {', '.join(self.choices)}, got {value!r}")
            return
        if self.kind not in ("float", "int") or value is None:
            return
        if self.choices:
            if str(value) not in self.choices:
                raise ParameterError(f"{self.option} must be {' or '.join(self.choices)}, got {value!r}")
            return
        number = float(value)
        if not math.isfinite(number):
            raise ParameterError(f"{self.option} must be a finite number, got {value!r}")
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        if too_low or too_high:
            raise ParameterError(f"{self.option} must be in {self.range_text()}, got {value!r}")


@dataclass(frozen=True)
class Example:
    """A worked example with a known answer, and where that answer came from."""

    pred: Any
    target: Any
    value: float
    source: str
    params: Mapping[str, Any] = field(default_factory=dict)
    reduction: str = "mean"
    sum: float | None = None
    elements: Any = None
    grad: Any = None


@dataclass(frozen=True)
class Transform:
    """A smooth function applied after the reduction (RMSE's square root)."""

    name: str
    forward: Callable[[float], float]
    derivative: Callable[[float], float]


@dataclass(frozen=True)
class Variant:
    """The formula and gradient of the loss under some parameter settings (``--explain`` shows them).

    ``when`` maps parameter names to the value they must have, or to a predicate of that value;
    the first variant of a declaration whose ``when`` holds replaces the declaration's own
    ``formula`` and ``gradient`` (which describe the defaults).
    """

    when: Mapping[str, Any]
    formula: str
    gradient: str

    def applies(self, params: Mapping[str, Any]) -> bool:
        for name, wanted in self.when.items():
            value = params.get(name)
            if callable(wanted):
                if not wanted(value):
                    return False
            elif str(value) != str(wanted) and value != wanted:
                return False
        return True


Sampler = Callable[["np.random.Generator"], dict[str, Array]]  # a string: numpy.random loads lazily
ParamGrid = tuple[Mapping[str, Any], ...]  # parameter settings the generated tests try


def sample_same_shape(rng: np.random.Generator) -> dict[str, Array]:
    """Random pred and target of one random shape, for element-wise losses."""
    shape = tuple(rng.integers(1, 5, size=rng.integers(1, 3)))
    return {"pred": rng.normal(size=shape) * 2.0, "target": rng.normal(size=shape) * 2.0}


@dataclass(frozen=True)
class Reductions:
    """How the total of the elements becomes the value, when it is not Σℓ / n."""

    # what "mean" divides the sum by: a number, or per-element terms the evaluation sums exactly
    denominator: Callable[..., float | Array] | None = None
    # The tensor parameters the denominator reads (None: any input); without any of them given it is the
    # number of elements, known before the inputs are read (mse's Σw without --weight).
    denominator_reads: tuple[str, ...] | None = None
    # Per-element weights wᵢ of the mean: mean = Σ wᵢ ℓᵢ / count (CTC: 1 / target length, as PyTorch).  With
    # it, ``grad`` takes ``element_weights`` (None: the gradient of the plain sum).
    mean_weights: Callable[..., Array] | None = None
    extra: Mapping[str, Callable[..., float]] = field(default_factory=dict)  # reduction name -> divisor
    transform: Transform | None = None  # a smooth function of the reduced value (RMSE's √)


@dataclass(frozen=True)
class Teaching:
    """What ``--explain``, the table and ``lossctl plot`` show beyond the formula."""

    # ``term(p, t, error, **params)`` writes one element's loss with the numbers substituted (p and t
    # already formatted); ``explain(result, fmt)`` replaces the generic derivation entirely.
    term: Callable[..., str] | None = None
    explain: Callable[..., list[str]] | None = None
    details: Callable[..., Mapping[str, Array]] | None = None  # extra per-element table columns
    plot: Callable[[Array], tuple[Array, Array | None, dict[str, Array]]] | None = None  # x -> inputs
    plot_axis: str = "residual ŷ − y"


@dataclass(frozen=True)
class Testing:
    """What the generated tests need: random inputs, the settings to try, the properties that hold."""

    sample: Sampler = sample_same_shape
    param_grid: ParamGrid = ({},)  # settings the generated tests try
    zero_at_target: bool = True  # loss(pred=target) == 0
    # False for parameter settings whose declared gradient is a library's surrogate rather than the derivative
    # of the value (CIoU's α under no_grad): the finite-difference tests skip those settings.
    gradient_is_derivative: Callable[..., bool] | None = None


@dataclass(frozen=True)
class EngineHooks:
    """Optional help for the block engine (lossctl.evaluation)."""

    # Whether rows of the leading axis are independent samples; None: yes, unless the class axis is axis 0.
    separable: Callable[..., bool] | None = None
    # (elements, grad) in one pass, or None when it does not apply to these parameters.  Must agree with
    # ``elements`` and ``grad`` (tests/test_streaming.py checks).  The engine passes ``buffers``: buffers(i, shape)
    # is its i-th scratch array of that shape and the block's float type, reused block after block (fresh
    # arrays of a block's size are page-faulted in each time, which costs more than the arithmetic).
    fused: Callable[..., tuple[Array, Array] | None] | None = None


Buffers = Callable[[int, tuple[int, ...]], Array]  # (index, shape) -> a scratch array (EngineHooks.fused)


def fresh_buffers(like: Array) -> Buffers:
    """Scratch arrays allocated on demand, of ``like``'s float type (when no engine lends its own)."""
    return lambda _, shape: np.empty(shape, dtype=like.dtype)


@dataclass(frozen=True)
class Images:
    """An image loss: ``--channels-last``, a per-image table, per-pixel maps and heat maps for the saves."""

    pixel_map: Callable[..., Array] | None = None  # per-pixel losses when the elements are per image


@dataclass(frozen=True)
class LossSpec:
    """Everything lossctl knows about one loss: its mathematics and documentation, its parameters, and
    small groups of optional fields (reductions, teaching, testing, engine hooks, images)."""

    name: str
    family: Family
    summary: str
    formula: str
    gradient: str
    when: str
    elements: Callable[..., Array]
    grad: Callable[..., Array | Mapping[str, Array]]
    references: tuple[str, ...]
    examples: tuple[Example, ...]
    aliases: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    target: TargetKind = "same"
    target_help: str = "targets, same shape as --pred"
    torch: str | None = None  # name in torch.nn.functional, when PyTorch has the loss
    # How lossctl's numbers compare with that PyTorch function (``lossctl info`` prints it beside the name).
    torch_agreement: str = "values and gradients match it"
    check: Callable[..., None] | None = None  # domain checks, raise InputError
    class_axis: Callable[[Array], int | None] | None = None
    infer: Callable[[Array], Mapping[str, Any]] | None = None  # defaults read off the raw input (its dtype)
    finite: bool = True  # False: an infinite value is a legitimate answer (PSNR of identical images)
    see_also: tuple[str, ...] = ()  # neighbours that ``info`` compares it with
    variants: tuple[Variant, ...] = ()  # formula and gradient of settings that change the mathematics
    reductions: Reductions = Reductions()
    teaching: Teaching = Teaching()
    testing: Testing = Testing()
    engine: EngineHooks = EngineHooks()
    images: Images | None = None  # set for image losses

    def formulas(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """(formula, gradient) of the setting ``params``: the first variant that applies, or the defaults."""
        for variant in self.variants:
            if variant.applies(params):
                return variant.formula, variant.gradient
        return self.formula, self.gradient

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def plain_count(self, given: Mapping[str, Any]) -> bool:
        """Whether the mean divides by the number of elements for these tensor parameters (``given``)."""
        rules = self.reductions
        if rules.denominator is None:
            return True
        reads = rules.denominator_reads
        return reads is not None and all(given.get(name) is None for name in reads)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def hyper_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind != "tensor")

    @property
    def tensor_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind == "tensor")
