"""Image and segmentation losses: total variation, weighted TV, PSNR, SSIM, Dice and Tversky.

Images are laid out as PyTorch lays them out: (H, W), (C, H, W) or (N, C, H, W)
(``--channels-last`` on the command line moves a trailing channel axis there).
Gradients are of the sum of the elements with respect to ``pred``, as
everywhere in lossctl; the elements are per pixel for TV, per image for PSNR
and Dice, and per image and channel for SSIM.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypedDict

import numpy as np

from lossctl.errors import InputError, LossctlWarning
from lossctl.losses._filters import as_batch, gaussian_taps, require_image, smooth, smooth_adjoint, unbroadcast
from lossctl.losses.checks import require
from lossctl.losses.spec import (
    REQUIRED,
    Array,
    EngineHooks,
    Example,
    Images,
    LossSpec,
    Param,
    ParamGrid,
    Teaching,
    Testing,
    Variant,
)
from lossctl.losses.wording import Numbers, elide, join

BY_HAND = "by hand"
TV_NORMS = ("l1", "l2sq", "isotropic")
DECIBEL = 10.0 / math.log(10.0)  # d(10 log10 u)/du = DECIBEL / u


def is_batch(image: Array) -> bool:
    """(N, C, H, W): images along the leading axis, independent of each other (block-wise evaluation)."""
    return image.ndim == 4


def default_data_range(pred: Array) -> dict[str, float]:
    """R from the input before conversion: its dtype's span for integers, 1 for floats in [0, 1].

    Float images with values outside [0, 1] have no safe default (a wrong R shifts PSNR by
    20·log10 of the ratio): they are refused with the ``--data-range`` to give, as
    scikit-image refuses to guess.
    """
    array = np.asarray(pred)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        return {"data_range": float(info.max) - float(info.min)}
    finite = array[np.isfinite(array)] if array.dtype.kind in "fc" else array
    if finite.size == 0:
        return {"data_range": 1.0}
    low, high = float(np.min(finite)), float(np.max(finite))
    if low >= 0.0 and high <= 1.0:
        return {"data_range": 1.0}
    raise InputError(
        f"--data-range: --pred holds floats in [{low:g}, {high:g}], not [0, 1]; {_range_advice(low, high)}"
    )


def _range_advice(low: float, high: float) -> str:
    """Which --data-range to give for float pixel values spanning [low, high]."""
    observed = f"--data-range {high - low:g} (the observed max − min)"
    if low >= -1.0 and high <= 1.0:
        return f"for images in [-1, 1] give --data-range 2, or {observed}"
    if low >= 0.0 and high <= 255.0:
        return f"for 8-bit pixel values give --data-range 255, or {observed}"
    if low >= 0.0 and high <= 65535.0:
        return f"for 16-bit pixel values give --data-range 65535, or {observed}"
    return f"give the span of the pixel values, e.g. {observed}"


DATA_RANGE = Param(
    "data_range",
    "float",
    None,
    "R, the span of pixel values (default: 255 for 8-bit images, 65535 for 16-bit, 1.0 for floats)",
    low=0.0,
    low_open=True,
)


# --- total variation -------------------------------------------------------------


def _differences(x: Array) -> tuple[Array, Array]:
    """Forward differences down (dv) and across (dh), zero on the last row / column; shape of x."""
    dv = np.zeros_like(x)
    dh = np.zeros_like(x)
    dv[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dh[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return dv, dh


def _difference_adjoint(cv: Array, ch: Array) -> Array:
    """∂/∂x of Σ cv·dv + Σ ch·dh (the transpose of :func:`_differences`)."""
    grad = -(cv + ch)
    grad[..., 1:, :] += cv[..., :-1, :]
    grad[..., :, 1:] += ch[..., :, :-1]
    return grad


def _magnitude(dv: Array, dh: Array, eps: float) -> Array:
    return np.sqrt(dv * dv + dh * dh + eps * eps)


def _tv_parts(x: Array, wv: Array | float, wh: Array | float, norm: str, eps: float):
    """Per-pixel terms, their derivatives by dv and dh, and by wv and wh (weights scale the differences).

    l1: wv|dv| + wh|dh|;  l2sq: wv dv² + wh dh²;  isotropic: √((wv dv)² + (wh dh)² + ε²) − ε.
    """
    dv, dh = _differences(as_batch(x))
    if norm == "l1":
        abs_v, abs_h = np.abs(dv), np.abs(dh)
        return wv * abs_v + wh * abs_h, (wv * np.sign(dv), wh * np.sign(dh)), (abs_v, abs_h)
    if norm == "l2sq":
        sq_v, sq_h = dv * dv, dh * dh
        return wv * sq_v + wh * sq_h, (2.0 * wv * dv, 2.0 * wh * dh), (sq_v, sq_h)
    scaled_v, scaled_h = wv * dv, wh * dh
    magnitude = _magnitude(scaled_v, scaled_h, eps)
    unit_v, unit_h = scaled_v / magnitude, scaled_h / magnitude
    return magnitude - eps, (wv * unit_v, wh * unit_h), (dv * unit_v, dh * unit_h)


def tv(pred: Array, target: None = None, *, norm: str = "l1", eps: float = 1e-8) -> Array:
    """Per-pixel TV terms |x[i+1,j] − x[i,j]| + |x[i,j+1] − x[i,j]| (or the chosen norm); they sum to TV."""
    return _tv_parts(pred, 1.0, 1.0, norm, eps)[0].reshape(pred.shape)


def tv_grad(pred: Array, target: None = None, *, norm: str = "l1", eps: float = 1e-8) -> Array:
    """Σ over the differences that contain each pixel of ±∂term/∂difference."""
    _, (cv, ch), _ = _tv_parts(pred, 1.0, 1.0, norm, eps)
    return _difference_adjoint(cv, ch).reshape(pred.shape)


def check_tv(pred: Array, target: None = None, **_: object) -> None:
    require_image(pred)


def sample_image(rng: np.random.Generator, smallest: int = 2) -> dict[str, Array]:
    """A random image of 2, 3 or 4 axes."""
    ndim = int(rng.integers(2, 5))
    spatial = tuple(int(n) for n in rng.integers(smallest, smallest + 3, size=2))
    leading = tuple(int(n) for n in rng.integers(1, 3, size=ndim - 2))
    return {"pred": rng.normal(size=leading + spatial)}


# --- weighted total variation -------------------------------------------------------


def split_weight(pred: Array, weight: Array) -> tuple[Array, Array, bool]:
    """(wv, wh) broadcastable over (N, C, H, W), and whether one map serves both directions.

    Accepted shapes: (H, W) or pred's shape for one map; (2, H, W) or (2, *pred.shape) for one
    map per direction (vertical first).  When pred is (2, H, W), a (2, H, W) map is read per channel.
    """
    spatial = pred.shape[-2:]
    if weight.shape in (spatial, pred.shape):
        shaped = weight if weight.shape == pred.shape else weight.reshape(spatial)
        mapped = as_batch(shaped) if shaped.shape == pred.shape else shaped
        return mapped, mapped, True
    if weight.shape in ((2, *spatial), (2, *pred.shape)):
        vertical, horizontal = (as_batch(m) if m.shape == pred.shape else m for m in (weight[0], weight[1]))
        return vertical, horizontal, False
    raise InputError(
        f"--tv-weight has shape {tuple(weight.shape)}; give one map of shape {tuple(spatial)} or "
        f"{tuple(pred.shape)}, or one per direction: {(2, *spatial)} (vertical, then horizontal)"
    )


def weighted_tv(pred: Array, target: None = None, *, tv_weight: Array, norm: str = "l1", eps: float = 1e-8) -> Array:
    """Per-pixel w[i,j]·|x[i+1,j] − x[i,j]| + w[i,j]·|x[i,j+1] − x[i,j]|."""
    wv, wh, _ = split_weight(pred, tv_weight)
    return _tv_parts(pred, wv, wh, norm, eps)[0].reshape(pred.shape)


def weighted_tv_grad(
    pred: Array, target: None = None, *, tv_weight: Array, norm: str = "l1", eps: float = 1e-8
) -> dict[str, Array]:
    """Weighted adjoint of the differences for pred; the unweighted pixel terms for the weight map."""
    wv, wh, single = split_weight(pred, tv_weight)
    _, (cv, ch), (by_wv, by_wh) = _tv_parts(pred, wv, wh, norm, eps)
    if single:
        weight_grad = unbroadcast(by_wv + by_wh, np.shape(wv)).reshape(tv_weight.shape)
    else:
        weight_grad = np.stack([unbroadcast(by_wv, np.shape(wv)), unbroadcast(by_wh, np.shape(wh))])
        weight_grad = weight_grad.reshape(tv_weight.shape)
    return {"pred": _difference_adjoint(cv, ch).reshape(pred.shape), "tv_weight": weight_grad}


def check_weighted_tv(pred: Array, target: None = None, *, tv_weight: Array, **_: object) -> None:
    require_image(pred)
    split_weight(pred, tv_weight)
    require(tv_weight >= 0, tv_weight, "--tv-weight", "must be ≥ 0")


def sample_weighted_image(rng: np.random.Generator) -> dict[str, Array]:
    inputs = sample_image(rng)
    pred = inputs["pred"]
    h, w = pred.shape[-2:]
    choice = int(rng.integers(0, 3))
    shape = {0: (h, w), 1: pred.shape, 2: (2, h, w)}[choice]
    return {**inputs, "tv_weight": rng.uniform(0.2, 2.0, size=shape)}


# --- PSNR ----------------------------------------------------------------------------


def _per_image_mse(pred: Array, target: Array) -> Array:
    error = as_batch(pred) - as_batch(target)
    return np.mean(error * error, axis=(1, 2, 3))


def psnr(pred: Array, target: Array, *, data_range: float) -> Array:
    """10 log10(R² / MSEₙ) per image n, in dB (inf for identical images)."""
    mse = _per_image_mse(pred, target)
    with np.errstate(divide="ignore"):
        return DECIBEL * (2.0 * math.log(data_range) - np.log(mse))


def psnr_grad(pred: Array, target: Array, *, data_range: float) -> Array:
    """−(10 / ln 10) · 2 (ŷ − y) / (M · MSEₙ) for the M = C·H·W pixels of image n; 0 where MSEₙ = 0."""
    error = as_batch(pred) - as_batch(target)
    mse = np.mean(error * error, axis=(1, 2, 3), keepdims=True)
    pixels = error[0].size
    scale = np.divide(-2.0 * DECIBEL / pixels, mse, out=np.zeros_like(mse), where=mse > 0)
    return (scale * error).reshape(pred.shape)


def psnr_loss(pred: Array, target: Array, *, data_range: float) -> Array:
    """−PSNR per image, for minimisation."""
    return -psnr(pred, target, data_range=data_range)


def psnr_loss_grad(pred: Array, target: Array, *, data_range: float) -> Array:
    """(10 / ln 10) · 2 (ŷ − y) / (M · MSEₙ), the negative of PSNR's gradient."""
    return -psnr_grad(pred, target, data_range=data_range)


def explain_psnr(result: Any, fmt: Numbers, *, negated: bool = False) -> list[str]:
    """Per image: MSEₙ from its squared errors, R, 10·log10(R² / MSEₙ) with the numbers, and the gradient's scale.

    ``negated``: psnr_loss, whose ℓₙ is −PSNRₙ.
    """
    pred, target = as_batch(result.pred), as_batch(result.target)
    error = pred - target
    data_range = float(result.params["data_range"])
    r = fmt(data_range)
    pixels = error[0].size
    lines = [f"data range R = {r} (--data-range: the span of possible pixel values), M = {pixels} pixels per image"]
    for n in elide(list(range(error.shape[0]))):
        if n == "…":
            lines.append("…")
            continue
        p, t, e = pred[n].ravel(), target[n].ravel(), error[n].ravel()
        mse = float(np.mean(e * e))
        squares = [f"({fmt.inner(a)} − {fmt.inner(b)})²" for a, b in zip(p, t, strict=True)]
        lines.append(f"image {n}: MSE_{n} = ({join(squares)}) / {pixels}")
        lines.append(f"  = ({join([fmt(v * v) for v in e])}) / {pixels} = {fmt(mse)}")
        if mse == 0:
            lines.append(f"  PSNR_{n} = 10·log10({r}² / 0) = inf: identical images (gradient 0)")
            if negated:
                lines.append(f"  ℓ_{n} = −PSNR_{n} = −inf")
            continue
        ratio = data_range * data_range / mse
        value = DECIBEL * (2.0 * math.log(data_range) - math.log(mse))
        lines.append(
            f"  PSNR_{n} = 10·log10(R² / MSE_{n}) = 10·log10({r}² / {fmt(mse)}) = 10·log10({fmt(ratio)}) "
            f"= {fmt(value)} dB"
        )
        scale = 2.0 * DECIBEL / (pixels * mse)
        sign, loss = ("", f"  ℓ_{n} = −PSNR_{n} = {fmt(-value)}") if negated else ("−", "")
        if loss:
            lines.append(loss)
        lines.append(
            f"  ∂ℓ_{n}/∂ŷ = {sign}(20 / ln 10)·(ŷ − y) / (M·MSE_{n}) = {sign}({fmt(2.0 * DECIBEL)} / "
            f"{fmt(pixels * mse)})·(ŷ − y) = {sign}{fmt(scale)}·(ŷ − y)"
        )
    return lines


def explain_psnr_loss(result: Any, fmt: Numbers) -> list[str]:
    """:func:`explain_psnr` for ℓₙ = −PSNRₙ."""
    return explain_psnr(result, fmt, negated=True)


def check_psnr(pred: Array, target: Array, **_: object) -> None:
    require_image(pred)
    identical = np.flatnonzero(_per_image_mse(pred, target) == 0)
    if identical.size:
        images = ", ".join(str(int(n)) for n in identical[:5]) + (" …" if identical.size > 5 else "")
        warnings.warn(
            f"--pred equals --target in image {images}: MSE = 0, so PSNR is infinite there "
            "(its gradient is reported as 0)",
            LossctlWarning,
            stacklevel=2,
        )


def sample_image_pair(rng: np.random.Generator) -> dict[str, Array]:
    """Float images in [0, 1] (the range the default data range of 1 assumes) and a noisy copy."""
    pred = rng.uniform(0.01, 0.99, size=sample_image(rng)["pred"].shape)  # finite differences stay in [0, 1]
    return {"pred": pred, "target": np.clip(pred + rng.normal(scale=0.3, size=pred.shape), 0.0, 1.0)}


# --- SSIM ------------------------------------------------------------------------------


def _ssim_parts(pred: Array, target: Array, window: int, sigma: float, k1: float, k2: float, data_range: float):
    taps = gaussian_taps(window, sigma)
    x, y = as_batch(pred), as_batch(target)
    ux, uy = smooth(x, taps), smooth(y, taps)
    uxx, uyy, uxy = smooth(x * x, taps), smooth(y * y, taps), smooth(x * y, taps)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    a1 = 2.0 * ux * uy + c1
    a2 = 2.0 * (uxy - ux * uy) + c2
    b1 = ux * ux + uy * uy + c1
    b2 = (uxx - ux * ux) + (uyy - uy * uy) + c2
    return taps, x, y, ux, uy, a1, a2, b1, b2


def _interior(shape: tuple[int, ...], window: int) -> tuple[slice, slice]:
    r = window // 2
    return slice(r, shape[-2] - r), slice(r, shape[-1] - r)


def ssim_map(
    pred: Array,
    target: Array,
    *,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 1.0,
) -> Array:
    """The local SSIM S = (2μₓμᵧ + C₁)(2σₓᵧ + C₂) / ((μₓ² + μᵧ² + C₁)(σₓ² + σᵧ² + C₂)), as (N, C, H, W)."""
    *_, a1, a2, b1, b2 = _ssim_parts(pred, target, window, sigma, k1, k2, data_range)
    return (a1 * a2) / (b1 * b2)


def ssim(
    pred: Array,
    target: Array,
    *,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 1.0,
) -> Array:
    """1 − mean SSIM over the interior (a border of window // 2 left out), per image and channel: (N, C)."""
    local = ssim_map(pred, target, window=window, sigma=sigma, k1=k1, k2=k2, data_range=data_range)
    rows, cols = _interior(local.shape, window)
    return 1.0 - local[..., rows, cols].mean(axis=(-2, -1))


def ssim_grad(
    pred: Array,
    target: Array,
    *,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 1.0,
) -> Array:
    """Chain rule through the filtered moments μₓ, E[x²], E[xy], whose filter's transpose is applied."""
    taps, x, y, ux, uy, a1, a2, b1, b2 = _ssim_parts(pred, target, window, sigma, k1, k2, data_range)
    denominator = b1 * b2
    local = (a1 * a2) / denominator
    rows, cols = _interior(local.shape, window)
    upstream = np.zeros_like(local)
    interior = (local.shape[-2] - 2 * (window // 2)) * (local.shape[-1] - 2 * (window // 2))
    upstream[..., rows, cols] = -1.0 / interior  # ∂(1 − mean S)/∂S
    # ∂S/∂μₓ, ∂S/∂E[x²], ∂S/∂E[xy] with q = A₁/D; at x = y the last two cancel exactly.
    q = a1 / denominator
    d_mean = (2.0 * uy * (a2 - a1) - 2.0 * ux * local * (b2 - b1)) / denominator
    d_square = -q * (a2 / b2)
    d_cross = 2.0 * q
    grad = (
        smooth_adjoint(upstream * d_mean, taps)
        + 2.0 * x * smooth_adjoint(upstream * d_square, taps)
        + y * smooth_adjoint(upstream * d_cross, taps)
    )
    return grad.reshape(pred.shape)


def ssim_pixels(pred: Array, target: Array, **params: Any) -> Array:
    """1 − S at every pixel, in pred's shape (what --save-elements writes)."""
    return (1.0 - ssim_map(pred, target, **params)).reshape(pred.shape)


def check_ssim(pred: Array, target: Array, *, window: int = 11, **_: object) -> None:
    require_image(pred)
    if window % 2 == 0:
        raise InputError(f"--window must be odd, got {window}")
    if min(pred.shape[-2:]) < window:
        raise InputError(
            f"--pred is {pred.shape[-2]}×{pred.shape[-1]} pixels, smaller than the {window}×{window} window; "
            "use a smaller --window (odd) or larger images"
        )


def sample_ssim(rng: np.random.Generator) -> dict[str, Array]:
    ndim = int(rng.integers(2, 4))
    shape = (1,) * (ndim - 2) + tuple(int(n) for n in rng.integers(11, 13, size=2))
    target = rng.uniform(size=shape)
    # pred stays inside [0, 1] by a margin, so finite differences keep the default data range of 1
    return {"pred": np.clip(target + rng.normal(scale=0.2, size=shape), 0.01, 0.99), "target": target}


# --- Dice and Tversky ------------------------------------------------------------------------


def _samples(x: Array, per_sample: bool) -> Array:
    """(samples, pixels): the images of an (N, C, H, W) batch, or everything as one sample."""
    n = x.shape[0] if per_sample and is_batch(x) else 1
    return x.reshape(n, -1)


def _overlap(pred: Array, target: Array, per_sample: bool) -> tuple[Array, Array, Array, Array]:
    p, t = _samples(pred, per_sample), _samples(target, per_sample)
    return p, t, np.sum(p * t, axis=1, keepdims=True), np.sum(p, axis=1, keepdims=True)


def dice(pred: Array, target: Array, *, smooth: float = 1.0, per_sample: bool = True) -> Array:
    """1 − (2 Σ p t + s) / (Σ p + Σ t + s) per sample."""
    _, t, inter, total_p = _overlap(pred, target, per_sample)
    total = total_p + np.sum(t, axis=1, keepdims=True) + smooth
    return (1.0 - (2.0 * inter + smooth) / total).reshape(-1)


def dice_grad(pred: Array, target: Array, *, smooth: float = 1.0, per_sample: bool = True) -> Array:
    """−(2 tₖ (Σp + Σt + s) − (2 Σ p t + s)) / (Σp + Σt + s)²."""
    _, t, inter, total_p = _overlap(pred, target, per_sample)
    total = total_p + np.sum(t, axis=1, keepdims=True) + smooth
    return (-(2.0 * t * total - (2.0 * inter + smooth)) / (total * total)).reshape(pred.shape)


def tversky(
    pred: Array, target: Array, *, alpha: float = 0.5, beta: float = 0.5, smooth: float = 1.0, per_sample: bool = True
) -> Array:
    """1 − (TP + s) / (TP + α FP + β FN + s) per sample, TP = Σ p t, FP = Σ p (1 − t), FN = Σ (1 − p) t."""
    p, t, inter, _ = _overlap(pred, target, per_sample)
    false_pos = np.sum(p * (1.0 - t), axis=1, keepdims=True)
    false_neg = np.sum((1.0 - p) * t, axis=1, keepdims=True)
    return (1.0 - (inter + smooth) / (inter + alpha * false_pos + beta * false_neg + smooth)).reshape(-1)


def tversky_grad(
    pred: Array, target: Array, *, alpha: float = 0.5, beta: float = 0.5, smooth: float = 1.0, per_sample: bool = True
) -> Array:
    """−(tₖ D − (TP + s)(tₖ + α (1 − tₖ) − β tₖ)) / D², D = TP + α FP + β FN + s."""
    p, t, inter, _ = _overlap(pred, target, per_sample)
    false_pos = np.sum(p * (1.0 - t), axis=1, keepdims=True)
    false_neg = np.sum((1.0 - p) * t, axis=1, keepdims=True)
    denominator = inter + alpha * false_pos + beta * false_neg + smooth
    d_denominator = t + alpha * (1.0 - t) - beta * t
    return (-(t * denominator - (inter + smooth) * d_denominator) / (denominator**2)).reshape(pred.shape)


def check_overlap(pred: Array, target: Array, *, smooth: float = 1.0, **_: object) -> None:
    in_unit = "must hold probabilities in [0, 1] (or use --activation sigmoid)"
    require((pred >= 0) & (pred <= 1), pred, "--pred", in_unit)
    require((target >= 0) & (target <= 1), target, "--target", "must be a mask with values in [0, 1]")
    if smooth == 0 and not (np.any(pred) or np.any(target)):
        raise InputError("--pred and --target are both empty masks, so Dice is 0 / 0; use --smooth > 0")


def sample_masks(rng: np.random.Generator) -> dict[str, Array]:
    shape = (int(rng.integers(1, 4)), 1, int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    return {"pred": rng.uniform(0.02, 0.98, size=shape), "target": (rng.random(size=shape) < 0.5).astype(float)}


# --- declarations -------------------------------------------------------------------------------

NORM = Param(
    "norm", "choice", "l1", "l1: |dx| + |dy|; l2sq: dx² + dy²; isotropic: √(dx² + dy² + ε²) − ε", choices=TV_NORMS
)
EPS = Param("eps", "float", 1e-8, "ε of the isotropic norm (keeps it differentiable at 0)", low=0.0, low_open=True)
TV_GRID: ParamGrid = ({}, {"norm": "l2sq"}, {"norm": "isotropic", "eps": 1e-3})
DIFFERENCES = "dv = x[i+1,j] − x[i,j], dh = x[i,j+1] − x[i,j]"
TV_VARIANTS = (
    Variant(
        {"norm": "l2sq"},
        "TV(x) = Σᵢⱼ (x[i+1,j] − x[i,j])² + Σᵢⱼ (x[i,j+1] − x[i,j])²  (per image and channel)",
        "∂TV/∂x[i,j] = 2 (x[i,j] − x[i−1,j]) − 2 (x[i+1,j] − x[i,j]) + (same across columns)",
    ),
    Variant(
        {"norm": "isotropic"},
        f"TV(x) = Σᵢⱼ (√(dv² + dh² + ε²) − ε),  {DIFFERENCES}  (per image and channel)",
        "∂TV/∂x[i,j] = −(dv + dh)/r at [i,j] + dv/r at [i−1,j] + dh/r at [i,j−1],  r = √(dv² + dh² + ε²)",
    ),
)
WEIGHTED_TV_VARIANTS = (
    Variant(
        {"norm": "l2sq"},
        "TV_w(x) = Σᵢⱼ w[i,j] (x[i+1,j] − x[i,j])² + Σᵢⱼ w[i,j] (x[i,j+1] − x[i,j])²",
        "∂TV_w/∂x[i,j] = 2 w[i−1,j] (x[i,j] − x[i−1,j]) − 2 w[i,j] (x[i+1,j] − x[i,j]) + (across)",
    ),
    Variant(
        {"norm": "isotropic"},
        f"TV_w(x) = Σᵢⱼ (√((w_v dv)² + (w_h dh)² + ε²) − ε),  {DIFFERENCES}",
        "∂TV_w/∂x[i,j] = −(w_v² dv + w_h² dh)/r at [i,j] + w_v² dv/r at [i−1,j] + w_h² dh/r at [i,j−1],  "
        "r = √((w_v dv)² + (w_h dh)² + ε²)",
    ),
)
TV_RELATIONS = (
    "Conventions differ between libraries: torchmetrics' TotalVariation is the same L1 sum per image "
    "(its reduction then sums or averages over images, not pixels); SRGAN-style TVLoss squares the "
    "differences and divides each direction by its own count, C·(H−1)·W and C·H·(W−1), then by N. "
    "Here --reduction sum gives the plain sum and mean divides it by N·C·H·W."
)

TV = LossSpec(
    name="tv",
    aliases=("total_variation",),
    family="image",
    summary="Total variation: how much neighbouring pixels differ; a smoothness prior that needs no target.",
    formula="TV(x) = Σᵢⱼ |x[i+1,j] − x[i,j]| + Σᵢⱼ |x[i,j+1] − x[i,j]|  (per image and channel)",
    gradient="∂TV/∂x[i,j] = sign(x[i,j] − x[i−1,j]) − sign(x[i+1,j] − x[i,j]) + (same across columns)",
    when="Regulariser for denoising, super-resolution, style transfer and inpainting: it favours "
    "piecewise-constant images and keeps edges. " + TV_RELATIONS,
    elements=tv,
    grad=tv_grad,
    params=(NORM, EPS),
    target="none",
    target_help="none: TV is a function of --pred alone",
    check=check_tv,
    variants=TV_VARIANTS,
    references=(
        "Rudin, Osher & Fatemi, Nonlinear total variation based noise removal algorithms, Physica D 1992",
        "torchmetrics.image.TotalVariation",
    ),
    examples=(
        Example(
            [[1.0, 2.0], [3.0, 5.0]],
            None,
            value=2.0,
            sum=8.0,
            elements=[[3.0, 3.0], [2.0, 0.0]],
            source="down |3 − 1| + |5 − 2| = 5, across |2 − 1| + |5 − 3| = 3; 8 / 4 pixels, " + BY_HAND,
        ),
        Example(
            [[1.0, 2.0], [3.0, 5.0]],
            None,
            reduction="sum",
            value=8.0,
            grad=[[-2.0, 0.0], [0.0, 2.0]],
            source="each pixel: signs of the differences it ends minus those it starts; " + BY_HAND,
        ),
        Example(
            [[1.0, 2.0], [3.0, 5.0]],
            None,
            params={"norm": "l2sq"},
            reduction="sum",
            value=18.0,
            source="2² + 3² + 1² + 2²; " + BY_HAND,
        ),
    ),
    see_also=("weighted_tv", "charbonnier"),
    testing=Testing(
        sample=sample_image,
        param_grid=TV_GRID,
    ),
    images=Images(),
    engine=EngineHooks(
        separable=lambda pred, **_: is_batch(pred),
    ),
)

WEIGHTED_TV = LossSpec(
    name="weighted_tv",
    family="image",
    summary="Total variation with a per-pixel weight on every difference (edge-aware smoothing).",
    formula="TV_w(x) = Σᵢⱼ w[i,j] |x[i+1,j] − x[i,j]| + Σᵢⱼ w[i,j] |x[i,j+1] − x[i,j]|",
    gradient="∂TV_w/∂x[i,j] = w[i−1,j] sign(x[i,j] − x[i−1,j]) − w[i,j] sign(x[i+1,j] − x[i,j]) + (across)",
    when="Smoothing that spares edges: small weights where the guide image has edges, large in flat "
    "regions. Each difference is weighted by the map at its own pixel; the widely copied blog snippet "
    "that multiplies the whole-image sums by the map computes something else (a map times a scalar, "
    "which ignores where the differences are). " + TV_RELATIONS,
    elements=weighted_tv,
    grad=weighted_tv_grad,
    params=(
        Param(
            "tv_weight",
            "tensor",
            REQUIRED,
            "per-pixel weights ≥ 0: shape (H, W) or --pred's, or (2, H, W) for vertical and horizontal maps",
        ),
        NORM,
        EPS,
    ),
    target="none",
    target_help="none: weighted TV is a function of --pred and --tv-weight",
    check=check_weighted_tv,
    variants=WEIGHTED_TV_VARIANTS,
    references=(
        "Rudin, Osher & Fatemi, Physica D 1992",
        "Candès, Wakin & Boyd, Enhancing sparsity by reweighted ℓ1 minimization, 2008 (reweighted TV)",
    ),
    examples=(
        Example(
            [[1.0, 2.0], [3.0, 5.0]],
            None,
            params={"tv_weight": [[1.0, 0.5], [2.0, 3.0]]},
            reduction="sum",
            value=8.5,
            elements=[[3.0, 1.5], [4.0, 0.0]],
            source="1·(|3 − 1| + |2 − 1|) + 0.5·|5 − 2| + 2·|5 − 3|: each difference weighted at its pixel; " + BY_HAND,
        ),
    ),
    see_also=("tv",),
    testing=Testing(
        sample=sample_weighted_image,
        param_grid=TV_GRID,
    ),
    images=Images(),
    engine=EngineHooks(
        separable=lambda pred, tv_weight, **_: is_batch(pred) and tv_weight.ndim <= pred.ndim,
    ),
)

PSNR_FORMULA = "PSNRₙ = 10 log10(R² / MSEₙ),  MSEₙ = mean over image n of (ŷ − y)²"
PSNR_WHEN = (
    "Reporting restoration quality in dB (denoising, super-resolution, compression). Per image, then "
    "averaged over the batch (--reduction mean); torchmetrics' default instead pools the MSE over "
    "the whole batch. Identical images have infinite PSNR, reported as inf."
)
PSNR_REFERENCES = ("skimage.metrics.peak_signal_noise_ratio", "torchmetrics.image.PeakSignalNoiseRatio")


def squared_errors(pred: Array, target: Array, **_: object) -> Array:
    """(ŷ − y)² per pixel: what --save-elements writes for PSNR."""
    return (pred - target) ** 2


class PsnrFields(TypedDict):
    """The :class:`LossSpec` fields psnr and psnr_loss share (``LossSpec(..., **PSNR_SHARED)``)."""

    params: tuple[Param, ...]
    infer: Callable[[Array], Mapping[str, Any]]
    check: Callable[..., None]
    finite: bool
    references: tuple[str, ...]
    engine: EngineHooks
    images: Images


PSNR_SHARED_TESTING = Testing(
    sample=sample_image_pair,
    zero_at_target=False,
)

PSNR_SHARED: PsnrFields = {
    "params": (DATA_RANGE,),
    "infer": default_data_range,
    "check": check_psnr,
    "finite": False,
    "references": PSNR_REFERENCES,
    "images": Images(
        pixel_map=squared_errors,
    ),
    "engine": EngineHooks(
        separable=lambda pred, **_: is_batch(pred),
    ),
}

PSNR = LossSpec(
    name="psnr",
    family="image",
    summary="Peak signal-to-noise ratio in dB (a metric: higher is better; psnr_loss is its negative).",
    formula=PSNR_FORMULA,
    gradient="∂PSNRₙ/∂ŷ = −(10 / ln 10) · 2 (ŷ − y) / (M · MSEₙ),  M = C·H·W",
    when=PSNR_WHEN,
    elements=psnr,
    grad=psnr_grad,
    teaching=Teaching(explain=explain_psnr),
    **PSNR_SHARED,
    examples=(
        Example(
            [[0.5, 0.5], [0.5, 0.5]],
            [[0.0, 0.0], [0.0, 0.0]],
            value=6.020599913279624,
            source="MSE = 0.25, 10·log10(1 / 0.25); " + BY_HAND,
        ),
        Example(
            [[0.0, 0.0], [0.0, 0.0]],
            [[10.0, 10.0], [10.0, 10.0]],
            params={"data_range": 255.0},
            value=28.130803608679106,
            source="MSE = 100, 10·log10(255² / 100); " + BY_HAND,
        ),
    ),
    see_also=("psnr_loss", "mse", "ssim"),
    testing=replace(
        PSNR_SHARED_TESTING,
        param_grid=({}, {"data_range": 255.0}),
    ),
)

PSNR_LOSS = LossSpec(
    name="psnr_loss",
    family="image",
    summary="−PSNR: the PSNR as a quantity to minimise.",
    formula="ℓₙ = −10 log10(R² / MSEₙ)",
    gradient="∂ℓₙ/∂ŷ = (10 / ln 10) · 2 (ŷ − y) / (M · MSEₙ)",
    when="Training directly for PSNR. Unlike MSE its gradient grows as the error shrinks "
    "(it is MSE's gradient divided by MSE): " + PSNR_WHEN,
    elements=psnr_loss,
    grad=psnr_loss_grad,
    teaching=Teaching(explain=explain_psnr_loss),
    **PSNR_SHARED,
    examples=(
        Example(
            [[0.5, 0.5], [0.5, 0.5]],
            [[0.0, 0.0], [0.0, 0.0]],
            value=-6.020599913279624,
            source="−10·log10(1 / 0.25); " + BY_HAND,
        ),
    ),
    see_also=("psnr", "mse"),
    testing=replace(
        PSNR_SHARED_TESTING,
        param_grid=({}, {"data_range": 2.0}),
    ),
)

SSIM = LossSpec(
    name="ssim",
    aliases=("ssim_loss",),
    family="image",
    summary="1 − SSIM: structural dissimilarity from local means, variances and covariance (Gaussian window).",
    formula="ℓ = 1 − mean over pixels of (2μₓμᵧ + C₁)(2σₓᵧ + C₂) / ((μₓ² + μᵧ² + C₁)(σₓ² + σᵧ² + C₂)), "
    "C₁ = (k₁R)², C₂ = (k₂R)², per image and channel",
    gradient="chain rule through μₓ = G∗x, E[x²] = G∗x², E[xy] = G∗(xy): ∂ℓ/∂x = Gᵀ∗a + 2x·Gᵀ∗b + y·Gᵀ∗c",
    when="Image restoration and compression where perceived structure matters more than per-pixel "
    "error; often mixed with L1. Matches scikit-image's structural_similarity(gaussian_weights=True, "
    "sigma=1.5, use_sample_covariance=False, data_range=R) (the published SSIM): reflected borders, "
    "the mean taken over the interior that excludes a border of window // 2. The Gaussian has "
    "--window taps; scikit-image's has 2·int(3.5σ + 0.5) + 1, the same for the defaults.",
    elements=ssim,
    grad=ssim_grad,
    params=(
        Param("window", "int", 11, "Gaussian window size in pixels (odd)", low=1.0),
        Param("sigma", "float", 1.5, "standard deviation of the Gaussian window", low=0.0, low_open=True),
        Param("k1", "float", 0.01, "C₁ = (k₁ R)² stabilises the luminance term", low=0.0, low_open=True),
        Param("k2", "float", 0.03, "C₂ = (k₂ R)² stabilises the contrast-structure term", low=0.0, low_open=True),
        DATA_RANGE,
    ),
    infer=default_data_range,
    check=check_ssim,
    references=(
        "Wang, Bovik, Sheikh & Simoncelli, Image quality assessment: from error visibility to structural "
        "similarity, IEEE TIP 2004",
        "skimage.metrics.structural_similarity",
    ),
    examples=(
        Example(
            [[0.0, 0.5, 1.0], [0.2, 0.4, 0.6], [1.0, 0.5, 0.0]],
            [[0.1, 0.4, 0.9], [0.3, 0.3, 0.7], [0.8, 0.6, 0.2]],
            params={"window": 3, "sigma": 0.3},
            value=1.0 - 0.7712202434697387,
            source="1 − scikit-image 0.26 structural_similarity(gaussian_weights=True, sigma=0.3, "
            "use_sample_covariance=False, data_range=1)",
        ),
    ),
    see_also=("psnr", "l1", "mse"),
    testing=Testing(
        sample=sample_ssim,
        param_grid=({}, {"window": 3, "sigma": 0.8, "data_range": 2.0}),
    ),
    images=Images(
        pixel_map=ssim_pixels,
    ),
    engine=EngineHooks(
        separable=lambda pred, **_: is_batch(pred),
    ),
)

OVERLAP_PARAMS = (
    Param("smooth", "float", 1.0, "s, added to numerator and denominator (keeps empty masks defined)", low=0.0),
    Param(
        "per_sample",
        "bool",
        True,
        "one score per image of an (N, C, H, W) batch, then the mean; --no-per-sample pools the whole batch",
    ),
)
OVERLAP_GRID: ParamGrid = ({}, {"per_sample": False}, {"smooth": 0.0})
OVERLAP_REFERENCES = (
    "Milletari, Navab & Ahmadi, V-Net, 3DV 2016",
    "Salehi, Erdogmus & Gholipour, Tversky loss function for image segmentation, 2017",
)

DICE = LossSpec(
    name="dice",
    aliases=("dice_loss", "soft_dice"),
    family="image",
    summary="Soft Dice loss: one minus the overlap of predicted probabilities and the mask.",
    formula="ℓ = 1 − (2 Σ p t + s) / (Σ p + Σ t + s)  per sample",
    gradient="∂ℓ/∂pₖ = −(2 tₖ (Σp + Σt + s) − (2 Σ p t + s)) / (Σp + Σt + s)²",
    when="Segmentation with small foregrounds, where pixel-wise cross-entropy is dominated by the "
    "background. Often added to BCE. Not zero-gradient at the target: it keeps pushing p towards 0 and 1.",
    elements=dice,
    grad=dice_grad,
    params=OVERLAP_PARAMS,
    target_help="the mask, values in [0, 1], same shape as --pred",
    check=check_overlap,
    variants=(
        Variant(
            {"per_sample": False},
            "ℓ = 1 − (2 Σ p t + s) / (Σ p + Σ t + s)  pooled over the whole batch (one score)",
            "∂ℓ/∂pₖ = −(2 tₖ (Σp + Σt + s) − (2 Σ p t + s)) / (Σp + Σt + s)²,  sums over the whole batch",
        ),
    ),
    references=OVERLAP_REFERENCES,
    examples=(
        Example(
            [[0.9, 0.1], [0.8, 0.3]],
            [[1.0, 0.0], [1.0, 0.0]],
            value=1.0 - 4.4 / 5.1,
            source="Σpt = 1.7, Σp = 2.1, Σt = 2: 1 − (3.4 + 1)/(2.1 + 2 + 1); " + BY_HAND,
        ),
    ),
    see_also=("tversky", "bce"),
    testing=Testing(
        sample=sample_masks,
        param_grid=OVERLAP_GRID,
        zero_at_target=False,
    ),
    images=Images(),
    engine=EngineHooks(
        separable=lambda pred, per_sample, **_: is_batch(pred) and per_sample,
    ),
)

TVERSKY = LossSpec(
    name="tversky",
    aliases=("tversky_loss",),
    family="image",
    summary="Tversky loss: Dice with separate weights on false positives (α) and false negatives (β).",
    formula="ℓ = 1 − (TP + s) / (TP + α FP + β FN + s),  TP = Σ p t, FP = Σ p (1 − t), FN = Σ (1 − p) t",
    gradient="∂ℓ/∂pₖ = −(tₖ D − (TP + s)(tₖ + α (1 − tₖ) − β tₖ)) / D²,  D = TP + α FP + β FN + s",
    when="Segmentation where missing foreground costs more than false alarms (β > α, e.g. 0.3 / 0.7 for "
    "lesions). α = β = 0.5 is Dice, except that s enters once instead of twice.",
    elements=tversky,
    grad=tversky_grad,
    params=(
        Param("alpha", "float", 0.5, "weight of false positives", low=0.0),
        Param("beta", "float", 0.5, "weight of false negatives", low=0.0),
        *OVERLAP_PARAMS,
    ),
    target_help="the mask, values in [0, 1], same shape as --pred",
    check=check_overlap,
    variants=(
        Variant(
            {"per_sample": False},
            "ℓ = 1 − (TP + s) / (TP + α FP + β FN + s)  pooled over the whole batch,  TP = Σ p t, "
            "FP = Σ p (1 − t), FN = Σ (1 − p) t",
            "∂ℓ/∂pₖ = −(tₖ D − (TP + s)(tₖ + α (1 − tₖ) − β tₖ)) / D²,  D = TP + α FP + β FN + s over the batch",
        ),
    ),
    references=OVERLAP_REFERENCES,
    examples=(
        Example(
            [[0.9, 0.1], [0.8, 0.3]],
            [[1.0, 0.0], [1.0, 0.0]],
            params={"alpha": 0.3, "beta": 0.7},
            value=1.0 - 2.7 / 3.03,
            source="TP = 1.7, FP = 0.4, FN = 0.3: 1 − 2.7/(1.7 + 0.12 + 0.21 + 1); " + BY_HAND,
        ),
    ),
    see_also=("dice",),
    testing=Testing(
        sample=sample_masks,
        param_grid=(*OVERLAP_GRID, {"alpha": 0.3, "beta": 0.7}),
        zero_at_target=False,
    ),
    images=Images(),
    engine=EngineHooks(
        separable=lambda pred, per_sample, **_: is_batch(pred) and per_sample,
    ),
)

LOSSES = (TV, WEIGHTED_TV, PSNR, PSNR_LOSS, SSIM, DICE, TVERSKY)


# --- input scaling: 8-bit masks and --scale ------------------------------------------------

MASK_LOSSES = ("dice", "tversky")
SCALE_HELP = (
    "Multiply every input read as integers (8/16-bit images, integer .npy) by this number before the loss, "
    "e.g. 1/255 for 0–255 pixels; float inputs are left as they are. Default: 8-bit masks of 0/255 are read "
    "as 0/1 by dice and tversky, nothing else is rescaled"
)


def parse_scale(text: str) -> float:
    """``--scale 0.5`` or ``--scale 1/255``: a finite positive number."""
    numerator, slash, denominator = text.strip().partition("/")
    try:
        value = float(numerator) / float(denominator) if slash else float(numerator)
    except (ValueError, ZeroDivisionError) as exc:
        raise InputError(f"--scale takes a number or a fraction such as 1/255, got {text!r}") from exc
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"--scale must be a finite number > 0, got {text!r}")
    return value


def scale_inputs(loss: str, arrays: dict[str, Array], scale: str | None) -> tuple[dict[str, Array], dict[str, float]]:
    """Inputs as the loss sees them, and the factor applied to each rescaled one (by option name).

    With ``scale``, every integer-typed input is multiplied by it.  Without, dice and tversky read an
    integer mask holding only 0 and 255 as 0/1, and refuse other integer values than 0/1 (a soft mask
    saved as 8-bit), naming the ``--scale`` to give.
    """
    factor = None if scale is None else parse_scale(scale)
    scaled: dict[str, Array] = {}
    factors: dict[str, float] = {}
    for option, array in arrays.items():
        raw = np.asarray(array)
        if not np.issubdtype(raw.dtype, np.integer):
            scaled[option] = array
            continue
        applied = factor if factor is not None else _mask_factor(loss, option, raw)
        if applied is None or applied == 1.0:
            scaled[option] = array
            continue
        scaled[option] = raw * applied
        factors[option] = applied
    return scaled, factors


def _mask_factor(loss: str, option: str, raw: Array) -> float | None:
    """1/255 for a 0/255 mask of a mask loss, None for 0/1 masks and other losses; refuses the rest."""
    if loss not in MASK_LOSSES or raw.size == 0:
        return None
    values = np.unique(raw)
    if np.all(np.isin(values, (0, 1))):
        return None
    if np.all(np.isin(values, (0, 255))):
        return 1.0 / 255.0
    odd = ", ".join(str(int(v)) for v in values[~np.isin(values, (0, 1, 255))][:3])
    full = {1: 255, 2: 65535}.get(raw.dtype.itemsize, int(values.max()))
    raise InputError(
        f"{option}: an integer mask holds 0/1 or 0/255, this one also holds {odd}; "
        f"give --scale 1/{full} to read its values as probabilities"
    )


# --- one very large image, band by band ------------------------------------------------------------
#
# A single (H, W) or (C, H, W) image is one block for the block engine, and its losses need every
# temporary at full size (SSIM about fifteen).  These functions compute the same numbers on bands
# of rows with a halo: a band's extended rows are its core rows and ``halo`` more on each side
# (clipped at the image's borders, where the band's own reflect padding is the image's).  Every
# value the core rows need is computed from rows at least one filter radius inside the band, so it
# is the untiled computation's value, bit for bit; only the sums are combined from band totals.

TILED_LOSSES = ("tv", "psnr", "psnr_loss", "ssim")
BAND_VALUES = 1 << 19  # values in a band with its halo (4 MiB of float64 per temporary)


def band_halo(loss: str, params: dict) -> int:
    """Rows a band needs beyond its own: TV's forward difference reads 1; SSIM's gradient 2 radii
    (the local statistics at the rows a core row's adjoint filter reads, which read a radius more)."""
    if loss == "tv":
        return 1
    if loss == "ssim":
        return 2 * (int(params["window"]) // 2)
    return 0


def bands(height: int, row_values: int, halo: int, band_values: int | None = None) -> list[tuple[int, int, int, int]]:
    """(start, stop, extended start, extended stop) of bands of rows covering ``height``."""
    budget = band_values or BAND_VALUES
    core = max(1, budget // max(1, row_values) - 2 * halo)
    return [
        (start, min(start + core, height), max(0, start - halo), min(height, start + core + halo))
        for start in range(0, height, core)
    ]


def tv_band(x: Array, core: slice, *, norm: str, eps: float, want_grad: bool) -> tuple[Array, Array | None]:
    """TV's per-pixel terms and their gradient at the core rows of a (C, rows, W) band."""
    elements = tv(x, norm=norm, eps=eps)[..., core, :]
    grad = tv_grad(x, norm=norm, eps=eps)[..., core, :] if want_grad else None
    return elements, grad


def squared_error_band(x: Array, y: Array) -> float:
    """Σ (ŷ − y)² over a band (PSNR's first pass)."""
    error = x - y
    return float(np.sum(error * error))


def psnr_from_total(total: float, pixels: int, data_range: float) -> float:
    """PSNR of one image from its summed squared error (inf for identical images)."""
    mse = total / pixels
    with np.errstate(divide="ignore"):
        return float(DECIBEL * (2.0 * math.log(data_range) - np.log(mse)))


def psnr_grad_band(x: Array, y: Array, total: float, pixels: int) -> Array:
    """∂PSNR/∂ŷ at a band, given the whole image's Σ (ŷ − y)²: −(10 / ln 10)·2(ŷ − y)/(M·MSE)."""
    mse = np.array(total / pixels)
    scale = np.divide(-2.0 * DECIBEL / pixels, mse, out=np.zeros_like(mse), where=mse > 0)
    return scale * (x - y)


def ssim_pixels_band(x: Array, y: Array, core: slice, params: dict) -> Array:
    """1 − S at the core rows of a band: :func:`ssim_pixels` of the whole image at those rows (the halo
    rows around the core give every core pixel the neighbourhood it has in the whole image)."""
    *_, a1, a2, b1, b2 = _ssim_parts(
        x, y, int(params["window"]), params["sigma"], params["k1"], params["k2"], params["data_range"]
    )
    return (1.0 - (a1 * a2) / (b1 * b2)).reshape(x.shape)[..., core, :]


def ssim_band(
    x: Array,
    y: Array,
    core: slice,
    first_row: int,
    shape: tuple[int, int],
    params: dict,
    upstream_value: float | None,
) -> tuple[Array, Array | None]:
    """Per channel, Σ S over the core rows' interior pixels; with ``upstream_value`` (∂value/∂S at interior
    pixels), ∂value/∂ŷ at the core rows.  ``first_row`` is the band's first row in the image of ``shape``."""
    window = int(params["window"])
    r = window // 2
    height, width = shape
    taps, xb, yb, ux, uy, a1, a2, b1, b2 = _ssim_parts(
        x, y, window, params["sigma"], params["k1"], params["k2"], params["data_range"]
    )
    local = (a1 * a2) / (b1 * b2)
    rows = np.arange(first_row, first_row + x.shape[-2])
    in_core = np.zeros(x.shape[-2], dtype=bool)
    in_core[core] = True
    interior_rows = (rows >= r) & (rows < height - r)
    summed = local[..., in_core & interior_rows, r : width - r].sum(axis=(-2, -1)).reshape(-1)
    if upstream_value is None:
        return summed, None
    reach = (rows >= first_row + core.start - r) & (rows < first_row + core.stop + r)  # rows a core row's filter reads
    upstream = np.zeros_like(local)
    upstream[..., reach & interior_rows, r : width - r] = upstream_value
    denominator = b1 * b2
    q = a1 / denominator
    d_mean = (2.0 * uy * (a2 - a1) - 2.0 * ux * local * (b2 - b1)) / denominator
    d_square = -q * (a2 / b2)
    d_cross = 2.0 * q
    grad = (
        smooth_adjoint(upstream * d_mean, taps)
        + 2.0 * xb * smooth_adjoint(upstream * d_square, taps)
        + yb * smooth_adjoint(upstream * d_cross, taps)
    )
    return summed, grad.reshape(x.shape)[..., core, :]
