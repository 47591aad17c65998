"""Regression losses: element-wise functions of the residual e = pred - target.

Every value function returns one loss per element; every gradient function
returns d(sum of elements)/d(pred).  Reduction is the core's job.
PyTorch conventions are kept at the kinks: d|x|/dx = 0 at x = 0, and the
quadratic branch of Smooth L1 / Huber is taken only strictly inside it.
"""

from __future__ import annotations

import math

import numpy as np

from lossctl.errors import InputError
from lossctl.losses.checks import require
from lossctl.losses.spec import (
    REQUIRED,
    Array,
    Buffers,
    EngineHooks,
    Example,
    LossSpec,
    Param,
    Reductions,
    Teaching,
    Testing,
    Transform,
    fresh_buffers,
    sample_same_shape,
)

TEACHING = "worked example of the teaching material, checked by hand"


# --- per-element weights (PyTorch 2.13's ``weight`` of mse_loss, l1_loss, huber_loss) ----------


def weighted(values: Array, weight: Array | None) -> Array:
    """``values`` times the per-element weights, or unchanged without them."""
    return values if weight is None else values * weight


def weight_sum(pred: Array, target: Array, *, weight: Array | None = None, **_: object) -> float:
    """What PyTorch's mse_loss and l1_loss divide by for 'mean': Σ w with weights, else the element count."""
    return float(pred.size) if weight is None else float(np.sum(weight))


def check_weight(pred: Array, target: Array, *, weight: Array | None = None, **_: object) -> None:
    """PyTorch requires a weight of exactly the input's size; lossctl also refuses negative weights."""
    if weight is None:
        return
    if weight.shape != pred.shape:
        raise InputError(
            f"--weight has shape {tuple(weight.shape)} but --pred has shape {tuple(pred.shape)}; "
            "give one weight per element (PyTorch requires the same size)"
        )
    require(weight >= 0, weight, "--weight", "must be ≥ 0")


def sample_maybe_weighted(rng: np.random.Generator) -> dict[str, Array]:
    """Pred and target of one random shape; every other draw adds positive per-element weights."""
    inputs = sample_same_shape(rng)
    if rng.random() < 0.5:
        inputs["weight"] = rng.uniform(0.1, 2.0, size=inputs["pred"].shape)
    return inputs


WEIGHT_REFERENCE = "PyTorch 2.13 torch/nn/functional.py (mse_loss, l1_loss, huber_loss with weight)"
ELEMENT_WEIGHT = Param("weight", "tensor", None, "a weight per element, same shape as --pred (PyTorch 2.13)")
WEIGHT_NOTE = (
    " --weight w (PyTorch 2.13) multiplies each element's loss by wᵢ; 'mean' then divides by Σ wᵢ"
    " (a weighted average), as torch's mse_loss and l1_loss do."
)


# --- L1 / MAE ----------------------------------------------------------------


def l1(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """Absolute error |ŷ - y| (times wᵢ)."""
    return weighted(np.abs(pred - target), weight)


def l1_grad(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """wᵢ sign(ŷ - y), 0 at the kink as in PyTorch."""
    return weighted(np.sign(pred - target), weight)


def l1_fused(
    pred: Array, target: Array, *, weight: Array | None = None, buffers: Buffers | None = None
) -> tuple[Array, Array] | None:
    """(|e|, sign e) sharing e = ŷ − y (unweighted only)."""
    if weight is not None:
        return None
    take = buffers or fresh_buffers(pred)
    error = np.subtract(pred, target, out=take(0, pred.shape))
    return np.abs(error, out=take(1, pred.shape)), np.sign(error, out=error)


# --- MSE / L2 ----------------------------------------------------------------


def mse(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """Squared error (ŷ - y)² (times wᵢ)."""
    error = pred - target
    return weighted(error * error, weight)


def mse_grad(pred: Array, target: Array, *, weight: Array | None = None) -> Array:
    """2 wᵢ (ŷ - y)."""
    return weighted(2.0 * (pred - target), weight)


# --- RMSE --------------------------------------------------------------------


def _sqrt_derivative(value: float) -> float:
    # d sqrt(u)/du = 1 / (2 sqrt(u)); at u = 0 take the subgradient 0 instead of inf.
    root = math.sqrt(value)
    return 0.0 if root == 0.0 else 0.5 / root


SQUARE_ROOT = Transform(name="sqrt", forward=math.sqrt, derivative=_sqrt_derivative)


# --- Smooth L1 ---------------------------------------------------------------


def smooth_l1(pred: Array, target: Array, *, beta: float = 1.0) -> Array:
    """0.5 e²/β where |e| < β, else |e| - 0.5 β  (β = 0 is plain L1, as in PyTorch)."""
    abs_error = np.abs(pred - target)
    if beta == 0.0:
        return abs_error
    return np.where(abs_error < beta, 0.5 * abs_error * abs_error / beta, abs_error - 0.5 * beta)


def smooth_l1_grad(pred: Array, target: Array, *, beta: float = 1.0) -> Array:
    """e/β inside the quadratic zone, sign(e) outside."""
    error = pred - target
    if beta == 0.0:
        return np.sign(error)
    return np.where(np.abs(error) < beta, error / beta, np.sign(error))


# --- Huber -------------------------------------------------------------------


def huber(pred: Array, target: Array, *, delta: float = 1.0, weight: Array | None = None) -> Array:
    """0.5 e² where |e| < δ, else δ (|e| - 0.5 δ)  (PyTorch's branch test and formula), times wᵢ."""
    abs_error = np.abs(pred - target)
    return weighted(np.where(abs_error < delta, 0.5 * abs_error * abs_error, delta * (abs_error - 0.5 * delta)), weight)


def huber_grad(pred: Array, target: Array, *, delta: float = 1.0, weight: Array | None = None) -> Array:
    """e inside the quadratic zone, δ sign(e) outside: the error clipped to [-δ, δ], times wᵢ."""
    return weighted(np.clip(pred - target, -delta, delta), weight)


def huber_fused(
    pred: Array, target: Array, *, delta: float = 1.0, weight: Array | None = None, buffers: Buffers | None = None
) -> tuple[Array, Array] | None:
    """Elements and gradient in one pass: with c = clip(e, −δ, δ), ℓ = c (e − c/2) and ∂ℓ/∂ŷ = c."""
    if weight is not None:
        return None
    take = buffers or fresh_buffers(pred)
    error = np.subtract(pred, target, out=take(0, pred.shape))
    clipped = np.maximum(error, -delta, out=take(1, pred.shape))
    np.minimum(clipped, delta, out=clipped)
    half = np.multiply(clipped, 0.5, out=take(2, pred.shape))
    error -= half  # in place: e − c/2, then the elements c (e − c/2)
    error *= clipped
    return error, clipped


def mse_fused(
    pred: Array, target: Array, *, weight: Array | None = None, buffers: Buffers | None = None
) -> tuple[Array, Array] | None:
    """(e², 2e) sharing e = ŷ − y (unweighted only)."""
    if weight is not None:
        return None
    take = buffers or fresh_buffers(pred)
    error = np.subtract(pred, target, out=take(0, pred.shape))
    squares = np.multiply(error, error, out=take(1, pred.shape))
    return squares, np.multiply(error, 2.0, out=error)


# --- log-cosh ----------------------------------------------------------------

_LOG_COSH_SWITCH = 20.0  # beyond this, exp(-2|e|) < 5e-18 and the asymptotic form is exact


def log_cosh(pred: Array, target: Array) -> Array:
    """log(cosh(e)), accurate for tiny and for huge residuals.

    cosh overflows for |e| > 710, and log(cosh e) loses every digit to
    cancellation for tiny e when written as |e| + log1p(exp(-2|e|)) - log 2.
    So: log1p(2 sinh²(e/2)) for moderate |e| (cosh e - 1 = 2 sinh²(e/2) keeps
    the small values exact), and |e| - log 2 + log1p(exp(-2|e|)) beyond.
    """
    abs_error = np.abs(pred - target)
    moderate = np.minimum(abs_error, _LOG_COSH_SWITCH)  # keeps sinh finite on the unused branch
    half_sinh = np.sinh(0.5 * moderate)
    near = np.log1p(2.0 * half_sinh * half_sinh)
    far = abs_error - math.log(2.0) + np.log1p(np.exp(-2.0 * abs_error))
    return np.where(abs_error < _LOG_COSH_SWITCH, near, far)


def log_cosh_grad(pred: Array, target: Array) -> Array:
    """tanh(e), which saturates at ±1 without overflow."""
    return np.tanh(pred - target)


# --- quantile / pinball ------------------------------------------------------


def quantile(pred: Array, target: Array, *, q: float = 0.5) -> Array:
    """max(q r, (q - 1) r) with r = y - ŷ: under-prediction costs q, over-prediction 1 - q."""
    residual = target - pred
    return np.maximum(q * residual, (q - 1.0) * residual)


def quantile_grad(pred: Array, target: Array, *, q: float = 0.5) -> Array:
    """-q where ŷ < y, 1 - q where ŷ > y, 0 at the kink (as relu'(0) = 0)."""
    residual = target - pred
    return np.where(residual > 0, -q, np.where(residual < 0, 1.0 - q, 0.0)).astype(pred.dtype, copy=False)


# --- pseudo-Huber ------------------------------------------------------------


def pseudo_huber(pred: Array, target: Array, *, delta: float = 1.0) -> Array:
    """δ² (sqrt(1 + (e/δ)²) − 1), written δ² r² / (sqrt(1 + r²) + 1), r = |e|/δ: no cancellation near 0."""
    ratio = np.abs(pred - target) / delta
    return delta * delta * ratio * (ratio / (np.hypot(1.0, ratio) + 1.0))


def pseudo_huber_grad(pred: Array, target: Array, *, delta: float = 1.0) -> Array:
    """e / sqrt(1 + (e/δ)²): about e near 0, tending to δ sign(e) far away."""
    error = pred - target
    return error / np.hypot(1.0, error / delta)


# --- multi-quantile pinball --------------------------------------------------


def _quantile_residuals(pred: Array, target: Array) -> Array:
    """y − ŷ_k for every sample and quantile: the target broadcast along the last (quantile) axis."""
    return target.reshape((*pred.shape[:-1], 1)) - pred


def multi_quantile(pred: Array, target: Array, *, q: Array) -> Array:
    """max(q_k r_k, (q_k − 1) r_k), r_k = y − ŷ_k, one element per sample and quantile."""
    residual = _quantile_residuals(pred, target)
    return np.maximum(q * residual, (q - 1.0) * residual)


def multi_quantile_grad(pred: Array, target: Array, *, q: Array) -> Array:
    """−q_k where ŷ_k < y, 1 − q_k where ŷ_k > y, 0 at the kink."""
    residual = _quantile_residuals(pred, target)
    return np.where(residual > 0, -q, np.where(residual < 0, 1.0 - q, 0.0)).astype(pred.dtype, copy=False)


def check_multi_quantile(pred: Array, target: Array, *, q: Array) -> None:
    if q.ndim != 1:
        raise InputError(f"--q must be a list of quantiles such as 0.1,0.5,0.9, got shape {tuple(q.shape)}")
    require((q > 0) & (q < 1), q, "--q", "must hold quantiles in (0, 1)")
    if pred.shape[-1] != q.size:
        raise InputError(
            f"--pred has {pred.shape[-1]} values per sample (its last axis) but --q has {q.size} quantiles; "
            "give one prediction per quantile"
        )
    one_sample = pred.ndim == 1 and target.size == 1
    if target.shape != pred.shape[:-1] and not one_sample:
        raise InputError(
            f"--target has shape {tuple(target.shape)}; with --pred of shape {tuple(pred.shape)} "
            f"it needs one value per sample, shape {tuple(pred.shape[:-1])}"
        )


def sample_multi_quantile(rng: np.random.Generator) -> dict[str, Array]:
    n, k = int(rng.integers(2, 6)), int(rng.integers(1, 4))
    q = np.sort(rng.uniform(0.05, 0.95, size=k))
    return {"pred": rng.normal(size=(n, k)) * 2.0, "target": rng.normal(size=n) * 2.0, "q": q}


# --- Charbonnier -------------------------------------------------------------


def charbonnier(pred: Array, target: Array, *, eps: float = 1e-3) -> Array:
    """sqrt(e² + ε²): a differentiable L1."""
    error = pred - target
    return np.sqrt(error * error + eps * eps)


def charbonnier_grad(pred: Array, target: Array, *, eps: float = 1e-3) -> Array:
    """e / sqrt(e² + ε²)."""
    error = pred - target
    return error / np.sqrt(error * error + eps * eps)


# --- MSLE --------------------------------------------------------------------


def msle(pred: Array, target: Array) -> Array:
    """(log(1 + ŷ) - log(1 + y))², with log1p for accuracy near 0."""
    log_ratio = np.log1p(pred) - np.log1p(target)
    return log_ratio * log_ratio


def msle_grad(pred: Array, target: Array) -> Array:
    """2 (log(1 + ŷ) - log(1 + y)) / (1 + ŷ)."""
    return 2.0 * (np.log1p(pred) - np.log1p(target)) / (1.0 + pred)


def check_log1p_domain(pred: Array, target: Array, **_: object) -> None:
    require(pred > -1.0, pred, "--pred", "must be > -1 for msle (it takes log(1 + pred))")
    require(target > -1.0, target, "--target", "must be > -1 for msle (it takes log(1 + target))")


def sample_log1p_domain(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(1, 7)),)
    return {"pred": rng.exponential(2.0, size=shape) - 0.5, "target": rng.exponential(2.0, size=shape) - 0.5}


# --- MAPE --------------------------------------------------------------------

MAPE_EPSILON = 1e-7  # Keras' backend epsilon: guards the division where y = 0


def mape(pred: Array, target: Array) -> Array:
    """100 |ŷ - y| / max(|y|, ε), in percent (Keras' definition, ε = 1e-7)."""
    return 100.0 * np.abs(pred - target) / np.maximum(np.abs(target), MAPE_EPSILON)


def mape_grad(pred: Array, target: Array) -> Array:
    """100 sign(ŷ - y) / max(|y|, ε)."""
    return 100.0 * np.sign(pred - target) / np.maximum(np.abs(target), MAPE_EPSILON)


def sample_nonzero_target(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(1, 7)),)
    magnitude = rng.uniform(0.5, 3.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return {"pred": rng.normal(size=shape) * 2.0, "target": magnitude}


# --- declarations ------------------------------------------------------------

_SAME = [2.0, 3.0, 4.0, 5.0], [4.0, 5.0, 6.0, 7.0]
_HALF = [1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5]

L1 = LossSpec(
    name="l1",
    aliases=("mae", "l1_loss", "mean_absolute_error"),
    family="regression",
    summary="Mean absolute error: robust to outliers, gradient of constant size.",
    formula="ℓᵢ = |ŷᵢ − yᵢ|",
    gradient="∂ℓᵢ/∂ŷᵢ = sign(ŷᵢ − yᵢ)  (0 at ŷᵢ = yᵢ, as PyTorch)",
    when="Targets with outliers you do not want to dominate; estimates the median. "
    "Its gradient does not shrink near the optimum, so it converges less smoothly than MSE." + WEIGHT_NOTE,
    elements=l1,
    grad=l1_grad,
    params=(ELEMENT_WEIGHT,),
    check=check_weight,
    torch="l1_loss",
    references=("PyTorch torch.nn.L1Loss", "Keras keras.losses.MeanAbsoluteError", WEIGHT_REFERENCE),
    examples=(
        Example(*_SAME, value=2.0, sum=8.0, elements=[2.0, 2.0, 2.0, 2.0], grad=[-0.25] * 4, source=TEACHING),
        Example(*_HALF, value=0.5, sum=2.0, source=TEACHING),
        Example(
            [1.0, 2.0, 5.0],
            [0.0, 0.0, 0.0],
            params={"weight": [1.0, 0.5, 2.0]},
            value=12.0 / 3.5,
            sum=12.0,
            grad=[1.0 / 3.5, 0.5 / 3.5, 2.0 / 3.5],
            source="by hand: Σ w|e| = 1 + 1 + 10 = 12, divided by Σ w = 3.5 (torch 2.13 l1_loss source)",
        ),
    ),
    see_also=("mse", "huber", "smooth_l1", "quantile", "charbonnier"),
    reductions=Reductions(
        denominator=weight_sum,
        denominator_reads=("weight",),
    ),
    testing=Testing(
        sample=sample_maybe_weighted,
    ),
    teaching=Teaching(
        term=lambda p, t, e: f"|{p} − {t}|",
    ),
    engine=EngineHooks(fused=l1_fused),
)

MSE = LossSpec(
    name="mse",
    aliases=("l2", "mse_loss", "mean_squared_error"),
    family="regression",
    summary="Mean squared error: the maximum-likelihood loss under Gaussian noise.",
    formula="ℓᵢ = (ŷᵢ − yᵢ)²",
    gradient="∂ℓᵢ/∂ŷᵢ = 2 (ŷᵢ − yᵢ)",
    when="The default for regression with well-behaved noise; estimates the mean. "
    "Squaring lets a single outlier dominate: prefer huber or l1 when outliers are real." + WEIGHT_NOTE,
    elements=mse,
    grad=mse_grad,
    params=(ELEMENT_WEIGHT,),
    check=check_weight,
    torch="mse_loss",
    references=("PyTorch torch.nn.MSELoss", "Keras keras.losses.MeanSquaredError", WEIGHT_REFERENCE),
    examples=(
        Example(
            [1.0, 2.0, 5.0],
            [0.0, 0.0, 0.0],
            params={"weight": [1.0, 0.5, 2.0]},
            value=53.0 / 3.5,
            sum=53.0,
            elements=[1.0, 2.0, 50.0],
            grad=[2.0 / 3.5, 2.0 / 3.5, 20.0 / 3.5],
            source="by hand: Σ w e² = 1 + 2 + 50 = 53, divided by Σ w = 3.5 (torch 2.13 mse_loss source)",
        ),
        Example(*_SAME, value=4.0, sum=16.0, elements=[4.0] * 4, grad=[-1.0] * 4, source=TEACHING),
        Example(*_HALF, value=0.25, sum=1.0, source=TEACHING),
        Example(
            [[1.0, 2.0], [3.0, 4.0]],
            [[3.0, 5.0], [8.0, 6.0]],
            value=10.5,
            sum=42.0,
            elements=[[4.0, 9.0], [25.0, 4.0]],
            source=TEACHING,
        ),
    ),
    see_also=("l1", "rmse", "huber", "log_cosh"),
    engine=EngineHooks(
        fused=mse_fused,
    ),
    reductions=Reductions(
        denominator=weight_sum,
        denominator_reads=("weight",),
    ),
    testing=Testing(
        sample=sample_maybe_weighted,
    ),
    teaching=Teaching(
        term=lambda p, t, e: f"({p} − {t})²",
    ),
)

RMSE = LossSpec(
    name="rmse",
    aliases=("root_mean_squared_error",),
    family="regression",
    summary="Root mean squared error: MSE in the units of the target.",
    formula="ℓᵢ = (ŷᵢ − yᵢ)²;  value = sqrt(mean ℓ)  (sqrt(sum ℓ), the error's L2 norm, with --reduction sum)",
    gradient="∂value/∂ŷᵢ = (ŷᵢ − yᵢ) / (n · value)  (0 when value = 0)",
    when="Reporting an error in the target's own units. As a training loss it behaves like MSE "
    "with a step size that adapts to the current error.",
    elements=mse,
    grad=mse_grad,
    references=("Keras keras.metrics.RootMeanSquaredError", "torchmetrics MeanSquaredError(squared=False)"),
    examples=(
        Example(*_SAME, value=2.0, sum=16.0, source=TEACHING),
        Example([0.0, 0.0], [3.0, 4.0], value=math.sqrt(12.5), sum=25.0, source="sqrt((9 + 16) / 2), by hand"),
        Example([0.0, 0.0], [3.0, 4.0], value=5.0, reduction="sum", source="sqrt(9 + 16), by hand"),
    ),
    see_also=("mse", "l1"),
    reductions=Reductions(
        transform=SQUARE_ROOT,
    ),
    teaching=Teaching(
        term=lambda p, t, e: f"({p} − {t})²",
    ),
)

SMOOTH_L1 = LossSpec(
    name="smooth_l1",
    aliases=("smooth_l1_loss",),
    family="regression",
    summary="Quadratic near zero, linear beyond β: Huber divided by β.",
    formula="ℓᵢ = 0.5 eᵢ²/β if |eᵢ| < β else |eᵢ| − 0.5 β,  eᵢ = ŷᵢ − yᵢ  (β = 0: |eᵢ|)",
    gradient="∂ℓᵢ/∂ŷᵢ = eᵢ/β if |eᵢ| < β else sign(eᵢ)",
    when="Box regression (Fast R-CNN) and any regression with occasional outliers. Its linear part "
    "has slope 1 whatever β; huber's has slope δ (smooth_l1 = huber / β).",
    elements=smooth_l1,
    grad=smooth_l1_grad,
    params=(Param("beta", "float", 1.0, "where the quadratic zone ends (0 gives L1)", low=0.0),),
    torch="smooth_l1_loss",
    references=("Girshick, Fast R-CNN, ICCV 2015", "PyTorch torch.nn.SmoothL1Loss"),
    examples=(
        Example(
            [0.0, 0.5, 3.0],
            [0.0, 0.0, 0.0],
            value=0.875,
            sum=2.625,
            elements=[0.0, 0.125, 2.5],
            source="0.5·0.5², 3 − 0.5; by hand",
        ),
        Example([0.0, 3.0], [0.0, 0.0], params={"beta": 0.0}, value=1.5, source="β = 0 is L1; by hand"),
    ),
    see_also=("huber", "l1", "mse"),
    testing=Testing(
        param_grid=({}, {"beta": 0.5}, {"beta": 0.0}, {"beta": 2.5}),
    ),
    teaching=Teaching(
        term=lambda p, t, e, beta: f"0.5·({p} − {t})²/{beta:g}" if abs(e) < beta else f"|{p} − {t}| − 0.5·{beta:g}",
    ),
)

HUBER = LossSpec(
    name="huber",
    aliases=("huber_loss",),
    family="regression",
    summary="Quadratic near zero, linear with slope δ beyond: MSE's efficiency, L1's robustness.",
    formula="ℓᵢ = 0.5 eᵢ² if |eᵢ| < δ else δ (|eᵢ| − 0.5 δ),  eᵢ = ŷᵢ − yᵢ",
    gradient="∂ℓᵢ/∂ŷᵢ = clip(eᵢ, −δ, δ)",
    when="Regression with outliers where small errors should still be treated like MSE. "
    "δ sets where an error counts as an outlier; huber = β · smooth_l1 with β = δ. --weight w (PyTorch 2.13) "
    "multiplies each element's loss by wᵢ, but unlike mse and l1 'mean' still divides by the element count N, "
    "not by Σ wᵢ: torch's huber_loss takes .mean() of the weighted losses.",
    elements=huber,
    grad=huber_grad,
    params=(Param("delta", "float", 1.0, "where the quadratic zone ends", low=0.0, low_open=True), ELEMENT_WEIGHT),
    check=check_weight,
    torch="huber_loss",
    references=(
        "Huber, Robust Estimation of a Location Parameter, 1964",
        "PyTorch torch.nn.HuberLoss",
        WEIGHT_REFERENCE,
    ),
    examples=(
        Example(
            [0.5, 3.0],
            [0.0, 0.0],
            params={"weight": [2.0, 0.5]},
            value=(0.25 + 1.25) / 2,
            sum=1.5,
            grad=[0.5, 0.25],
            source="by hand: 2·0.5·0.5² = 0.25 and 0.5·1·(3 − 0.5) = 1.25, divided by N = 2 (torch 2.13 "
            "huber_loss source: weighted_loss.mean())",
        ),
        Example(
            [0.5, -0.5, 1.0, 1.25],
            [0.0, 0.0, 0.0, 0.0],
            value=0.375,
            sum=1.5,
            elements=[0.125, 0.125, 0.5, 0.75],
            source="0.5·0.5², 0.5·0.5², 1·(1 − 0.5), 1·(1.25 − 0.5); by hand",
        ),
        Example([0.0, 4.0], [0.0, 0.0], params={"delta": 2.0}, value=3.0, source="2·(4 − 1) / 2; by hand"),
    ),
    see_also=("smooth_l1", "log_cosh", "mse", "l1"),
    engine=EngineHooks(
        fused=huber_fused,
    ),
    testing=Testing(
        sample=sample_maybe_weighted,
        param_grid=({}, {"delta": 0.3}, {"delta": 2.5}),
    ),
    teaching=Teaching(
        term=lambda p, t, e, delta: (
            f"0.5·({p} − {t})²" if abs(e) < delta else f"{delta:g}·(|{p} − {t}| − 0.5·{delta:g})"
        ),
    ),
)

LOG_COSH = LossSpec(
    name="log_cosh",
    aliases=("logcosh",),
    family="regression",
    summary="log(cosh(e)): about e²/2 for small errors and |e| − log 2 for large ones, smooth everywhere.",
    formula="ℓᵢ = log(cosh(ŷᵢ − yᵢ))",
    gradient="∂ℓᵢ/∂ŷᵢ = tanh(ŷᵢ − yᵢ)",
    when="A twice-differentiable Huber-like loss (for second-order methods or smooth training). "
    "Naive implementations overflow for |e| > ~710; this one is stable for any residual.",
    elements=log_cosh,
    grad=log_cosh_grad,
    references=("Keras keras.losses.LogCosh", "optax.losses.log_cosh"),
    examples=(
        Example(
            [0.0, 1.0, -2.0],
            [0.0, 0.0, 0.0],
            value=(0.4337808304830271 + 1.3250027473578645) / 3,
            sum=0.4337808304830271 + 1.3250027473578645,
            source="math.log(math.cosh(e)) in Python",
        ),
        Example([1000.0], [0.0], value=999.3068528194401, source="1000 − log 2 (cosh overflows here)"),
    ),
    see_also=("huber", "mse"),
    teaching=Teaching(
        term=lambda p, t, e: f"log cosh({p} − {t})",
    ),
)

QUANTILE = LossSpec(
    name="quantile",
    aliases=("pinball",),
    family="regression",
    summary="Pinball loss: its minimiser is the q-th quantile of the target.",
    formula="ℓᵢ = max(q rᵢ, (q − 1) rᵢ),  rᵢ = yᵢ − ŷᵢ",
    gradient="∂ℓᵢ/∂ŷᵢ = −q if ŷᵢ < yᵢ, 1 − q if ŷᵢ > yᵢ, 0 at ŷᵢ = yᵢ",
    when="Prediction intervals and any forecast where under- and over-prediction cost differently; "
    "q = 0.5 is half the L1 loss.",
    elements=quantile,
    grad=quantile_grad,
    params=(Param("q", "float", 0.5, "the quantile to estimate", low=0.0, high=1.0, low_open=True, high_open=True),),
    references=("Koenker & Bassett, Regression Quantiles, Econometrica 1978", "Keras/TF Addons PinballLoss"),
    examples=(Example([1.0, 3.0], [2.0, 2.0], params={"q": 0.9}, value=0.5, source="0.9·1 and 0.1·1; by hand"),),
    see_also=("l1",),
    testing=Testing(
        param_grid=({}, {"q": 0.1}, {"q": 0.9}),
    ),
    teaching=Teaching(
        term=lambda p, t, e, q: f"{q:g}·({t} − {p})" if e < 0 else f"{1 - q:g}·({p} − {t})",
    ),
)

PSEUDO_HUBER = LossSpec(
    name="pseudo_huber",
    aliases=("pseudo_huber_loss", "smooth_huber"),
    family="regression",
    summary="Pseudo-Huber: a smooth Huber, e²/2 near zero and slope δ far away, differentiable everywhere.",
    formula="ℓᵢ = δ² (sqrt(1 + (eᵢ/δ)²) − 1),  eᵢ = ŷᵢ − yᵢ",
    gradient="∂ℓᵢ/∂ŷᵢ = eᵢ / sqrt(1 + (eᵢ/δ)²)",
    when="Where huber's robustness is wanted with a gradient and curvature that are smooth everywhere "
    "(second-order methods, the Ceres/optax robust losses). For |e| ≪ δ it is ≈ e²/2 like huber and mse/2; "
    "for |e| ≫ δ ≈ δ|e| − δ², huber's line shifted down by δ²/2. charbonnier is the same curve rescaled: "
    "sqrt(e² + ε²) = pseudo_huber/ε + ε with δ = ε.",
    elements=pseudo_huber,
    grad=pseudo_huber_grad,
    params=(Param("delta", "float", 1.0, "the scale where quadratic turns linear", low=0.0, low_open=True),),
    references=(
        "Charbonnier et al., Deterministic edge-preserving regularization, IEEE TIP 1997",
        "Hartley & Zisserman, Multiple View Geometry, 2nd ed., §A6.8",
        "optax.losses.huber_loss family; Ceres Solver PseudoHuberLoss",
    ),
    examples=(
        Example(
            [0.0, 1.0, -2.0],
            [0.0, 0.0, 0.0],
            value=(math.sqrt(2.0) - 1.0 + math.sqrt(5.0) - 1.0) / 3,
            sum=math.sqrt(2.0) + math.sqrt(5.0) - 2.0,
            grad=[0.0, 1.0 / math.sqrt(2.0) / 3, -2.0 / math.sqrt(5.0) / 3],
            source="by hand, δ = 1: sqrt(1 + 1) − 1 and sqrt(1 + 4) − 1; gradients e/sqrt(1 + e²) over n = 3",
        ),
        Example(
            [3.0],
            [0.0],
            params={"delta": 2.0},
            value=4.0 * (math.sqrt(1.0 + 2.25) - 1.0),
            source="by hand: 2²·(sqrt(1 + (3/2)²) − 1)",
        ),
    ),
    see_also=("huber", "charbonnier", "log_cosh"),
    testing=Testing(
        param_grid=({}, {"delta": 0.3}, {"delta": 2.5}),
    ),
    teaching=Teaching(
        term=lambda p, t, e, delta: f"{delta:g}²·(√(1 + (({p} − {t})/{delta:g})²) − 1)",
    ),
)

MULTI_QUANTILE = LossSpec(
    name="multi_quantile",
    aliases=("multi_pinball", "quantile_multi"),
    family="regression",
    summary="Pinball loss for several quantiles at once: one prediction per quantile and sample.",
    formula="ℓₙₖ = max(q_k rₙₖ, (q_k − 1) rₙₖ),  rₙₖ = yₙ − ŷₙₖ;  --pred (N, K), --target (N,), --q K quantiles",
    gradient="∂ℓₙₖ/∂ŷₙₖ = −q_k if ŷₙₖ < yₙ, 1 − q_k if ŷₙₖ > yₙ, 0 at ŷₙₖ = yₙ",
    when="Probabilistic forecasting that outputs several quantiles per sample (prediction intervals: "
    "--q 0.1,0.5,0.9), as pytorch-forecasting's QuantileLoss and the MQ-RNN do; each column is the quantile "
    "loss for its q_k, and 'mean' averages over all N·K elements (pytorch-forecasting's convention). "
    "Crossing quantiles are not penalised.",
    elements=multi_quantile,
    grad=multi_quantile_grad,
    params=(Param("q", "tensor", REQUIRED, "the K quantiles, e.g. 0.1,0.5,0.9, one per column of --pred"),),
    target="class",
    target_help="one value per sample: the shape of --pred without its last (quantile) axis",
    check=check_multi_quantile,
    references=(
        "Koenker & Bassett, Regression Quantiles, Econometrica 1978",
        "Wen et al., A Multi-Horizon Quantile Recurrent Forecaster (MQ-RNN), 2017",
        "pytorch-forecasting QuantileLoss",
    ),
    examples=(
        Example(
            [[1.0, 2.0, 4.0], [0.0, 3.0, 3.0]],
            [2.0, 3.0],
            params={"q": [0.1, 0.5, 0.9]},
            value=(0.1 + 0.0 + 0.2 + 0.3 + 0.0 + 0.0) / 6,
            elements=[[0.1, 0.0, 0.2], [0.3, 0.0, 0.0]],
            source="by hand: 0.1·(2 − 1), 0, 0.1·(4 − 2); 0.1·(3 − 0), 0, 0 — over N·K = 6",
        ),
    ),
    see_also=("quantile", "l1"),
    testing=Testing(
        sample=sample_multi_quantile,
        zero_at_target=False,
    ),
)

CHARBONNIER = LossSpec(
    name="charbonnier",
    family="regression",
    summary="sqrt(e² + ε²): a smooth L1 used in image restoration.",
    formula="ℓᵢ = sqrt((ŷᵢ − yᵢ)² + ε²)",
    gradient="∂ℓᵢ/∂ŷᵢ = (ŷᵢ − yᵢ) / sqrt((ŷᵢ − yᵢ)² + ε²)",
    when="Super-resolution and deblurring (LapSRN, EDVR): L1's robustness with a gradient defined at 0. "
    "Its minimum is ε, not 0.",
    elements=charbonnier,
    grad=charbonnier_grad,
    params=(Param("eps", "float", 1e-3, "smoothing constant ε", low=0.0, low_open=True),),
    references=(
        "Charbonnier et al., Two deterministic half-quadratic regularization algorithms, ICIP 1994",
        "Lai et al., LapSRN, CVPR 2017",
    ),
    examples=(Example([3.0, 0.0], [0.0, 0.0], params={"eps": 4.0}, value=4.5, source="sqrt(9 + 16) = 5 and 4"),),
    see_also=("l1", "smooth_l1"),
    testing=Testing(
        zero_at_target=False,
        param_grid=({}, {"eps": 0.5}),
    ),
    teaching=Teaching(
        term=lambda p, t, e, eps: f"√(({p} − {t})² + {eps:g}²)",
    ),
)

MSLE = LossSpec(
    name="msle",
    aliases=("mean_squared_logarithmic_error",),
    family="regression",
    summary="Squared error of log(1 + x): penalises relative rather than absolute error.",
    formula="ℓᵢ = (log(1 + ŷᵢ) − log(1 + yᵢ))²",
    gradient="∂ℓᵢ/∂ŷᵢ = 2 (log(1 + ŷᵢ) − log(1 + yᵢ)) / (1 + ŷᵢ)",
    when="Positive targets spanning orders of magnitude (counts, prices) where under-prediction "
    "should cost more than over-prediction. Inputs must exceed −1 (an error, not Keras' silent clipping).",
    elements=msle,
    grad=msle_grad,
    check=check_log1p_domain,
    references=("Keras keras.losses.MeanSquaredLogarithmicError", "scikit-learn mean_squared_log_error"),
    examples=(Example([1.0, 3.0], [0.0, 1.0], value=math.log(2.0) ** 2, source="(log 2)² twice; by hand"),),
    see_also=("mse", "mape"),
    testing=Testing(
        sample=sample_log1p_domain,
    ),
    teaching=Teaching(
        term=lambda p, t, e: f"(log(1 + {p}) − log(1 + {t}))²",
    ),
)

MAPE = LossSpec(
    name="mape",
    aliases=("mean_absolute_percentage_error",),
    family="regression",
    summary="Mean absolute percentage error, in percent.",
    formula="ℓᵢ = 100 |ŷᵢ − yᵢ| / max(|yᵢ|, ε),  ε = 1e-7",
    gradient="∂ℓᵢ/∂ŷᵢ = 100 sign(ŷᵢ − yᵢ) / max(|yᵢ|, ε)",
    when="Reporting error relative to the target's size. Undefined at y = 0 (ε makes it huge there) "
    "and asymmetric: it favours under-prediction.",
    elements=mape,
    grad=mape_grad,
    references=("Keras keras.losses.MeanAbsolutePercentageError",),
    examples=(Example([110.0, 90.0], [100.0, 100.0], value=10.0, source="10% each; by hand"),),
    see_also=("l1", "msle"),
    testing=Testing(
        sample=sample_nonzero_target,
    ),
    teaching=Teaching(
        term=lambda p, t, e: f"100·|{p} − {t}|/|{t}|",
    ),
)

LOSSES = (
    L1,
    MSE,
    RMSE,
    SMOOTH_L1,
    HUBER,
    PSEUDO_HUBER,
    LOG_COSH,
    QUANTILE,
    MULTI_QUANTILE,
    CHARBONNIER,
    MSLE,
    MAPE,
)
