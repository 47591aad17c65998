"""Regression metrics, deviances and scores of scikit-learn and torchmetrics.

Two kinds live here:

* row-wise deviances (Tweedie, Poisson, Gamma) and RMSLE, whose elements are per-value losses like
  any regression loss;
* whole-column metrics (median and max absolute error, R², explained variance, the D² scores,
  relative squared error, WMAPE, Minkowski distance), whose value needs every row of a column at once.
  Their elements are each value's *contribution*: the value is the sum of the elements, so 'mean'
  and 'sum' both give the metric (``denominator`` is 1), and the gradient is ∂metric/∂ŷ.  They are
  not row-separable: the engine evaluates them as one block.

Inputs of the column metrics are (n_samples,) or (n_samples, n_outputs); several outputs are
averaged with equal weights, as scikit-learn's ``multioutput='uniform_average'``.  Scores (R²,
explained variance, D²) are higher-is-better: 1 is perfect, 0 is a constant prediction at the mean
(median, quantile).
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np

from lossctl.errors import InputError, ParameterError
from lossctl.losses.checks import require
from lossctl.losses.regression import (
    SQUARE_ROOT,
    check_log1p_domain,
    msle,
    msle_grad,
    quantile,
    quantile_grad,
    sample_log1p_domain,
)
from lossctl.losses.spec import Array, EngineHooks, Example, LossSpec, Param, Reductions, Testing, Variant

SKLEARN = "scikit-learn 1.9.1 sklearn/metrics/_regression.py"
TORCHMETRICS = "torchmetrics 1.9.0 src/torchmetrics/functional/regression"
BY_HAND = "by hand"


def _one(*_: object, **__: object) -> float:
    """The 'mean' of a metric given as contributions divides by 1: mean = sum = the metric."""
    return 1.0


def _not_separable(pred: Array, **_: object) -> bool:
    return False


class WholeColumnFields(TypedDict):
    """The :class:`LossSpec` fields of a whole-column metric (``LossSpec(..., **WHOLE_COLUMN)``)."""

    reductions: Reductions
    engine: EngineHooks


# The elements are contributions whose sum is the metric (count 1), and rows are not independent.
WHOLE_COLUMN: WholeColumnFields = {
    "reductions": Reductions(denominator=_one),
    "engine": EngineHooks(separable=_not_separable),
}


# --- Tweedie deviances ---------------------------------------------------------------------------


def tweedie(pred: Array, target: Array, *, power: float = 0.0) -> Array:
    """Unit Tweedie deviance d_p(y, ŷ) (scikit-learn's _mean_tweedie_deviance, _regression.py:1365-1397)."""
    y, mu, p = target, pred, power
    if p == 0:
        return (y - mu) ** 2
    if p == 1:
        safe = np.where(y > 0, y, 1.0)
        return 2.0 * (np.where(y > 0, y * np.log(safe / mu), 0.0) - y + mu)
    if p == 2:
        return 2.0 * (np.log(mu / y) + y / mu - 1.0)
    deviance = 2.0 * (
        np.maximum(y, 0.0) ** (2 - p) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p)
    )
    return np.where(mu == y, 0.0, deviance)  # the closed form cancels to 0 there only up to rounding


def tweedie_grad(pred: Array, target: Array, *, power: float = 0.0) -> Array:
    """∂d_p/∂ŷ = 2 (ŷ − y) ŷ^(−p) for every power."""
    if power == 0:
        return 2.0 * (pred - target)
    return 2.0 * (pred - target) * pred ** (-power)


def check_tweedie(pred: Array, target: Array, *, power: float = 0.0, **_: object) -> None:
    """scikit-learn's domains (_regression.py:1474-1497); powers in (0, 1) have no Tweedie distribution."""
    if 0 < power < 1:
        raise ParameterError(f"--power must be ≤ 0 or ≥ 1 (no Tweedie distribution has 0 < p < 1), got {power:g}")
    if power == 0:
        return
    require(pred > 0, pred, "--pred", f"must be > 0 for the Tweedie deviance with power {power:g}")
    if 1 <= power < 2:
        require(target >= 0, target, "--target", f"must be ≥ 0 for the Tweedie deviance with power {power:g}")
    elif power >= 2:
        require(target > 0, target, "--target", f"must be > 0 for the Tweedie deviance with power {power:g}")


def sample_positive(rng: np.random.Generator) -> dict[str, Array]:
    shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 3)))
    return {"pred": rng.uniform(0.2, 3.0, size=shape), "target": rng.uniform(0.2, 3.0, size=shape)}


POWER = Param(
    "power",
    "float",
    0.0,
    "Tweedie power p: ≤ 0, 0 (normal), 1 (Poisson), (1, 2) compound Poisson, 2 (Gamma), 3 (inverse Gaussian)…; "
    "not in (0, 1)",
)
TWEEDIE_DOCTEST = ([0.5, 0.5, 2.0, 2.0], [2.0, 0.0, 1.0, 4.0])  # scikit-learn's docstring example (pred, target)

TWEEDIE = LossSpec(
    name="tweedie_deviance",
    aliases=("tweedie",),
    family="regression",
    summary="Tweedie deviance with power p: squared error (0), Poisson (1), compound Poisson (1, 2), Gamma (2).",
    formula="ℓᵢ = 2 (max(yᵢ, 0)^(2−p) / ((1−p)(2−p)) − yᵢ ŷᵢ^(1−p) / (1−p) + ŷᵢ^(2−p) / (2−p));  "
    "p = 0: (yᵢ − ŷᵢ)²;  p = 1: 2 (yᵢ log(yᵢ/ŷᵢ) − yᵢ + ŷᵢ);  p = 2: 2 (log(ŷᵢ/yᵢ) + yᵢ/ŷᵢ − 1)",
    gradient="∂ℓᵢ/∂ŷᵢ = 2 (ŷᵢ − yᵢ) ŷᵢ^(−p)",
    when="Evaluating (or training) regressions of counts, claims or durations whose variance grows as mean^p: "
    "the deviance of the matching exponential-dispersion model. p = 1 for counts, 1 < p < 2 for claim "
    "amounts with exact zeros, p = 2 for positive durations. Needs ŷ > 0 unless p = 0.",
    elements=tweedie,
    grad=tweedie_grad,
    params=(POWER,),
    check=check_tweedie,
    references=(f"{SKLEARN}:1410 mean_tweedie_deviance", f"{TORCHMETRICS}/tweedie_deviance.py:22"),
    examples=(
        Example(
            *TWEEDIE_DOCTEST,
            params={"power": 1.0},
            value=1.4260151319598084,
            source="scikit-learn 1.9.1 mean_tweedie_deviance docstring (1.4260…)",
        ),
        Example(
            [4.0, 3.0, 2.0, 1.0],
            [1.0, 2.0, 3.0, 4.0],
            params={"power": 2.0},
            value=4.833333333333333 / 4,
            sum=4.833333333333333,
            source="torchmetrics 1.9.0 _tweedie_deviance_score_update docstring: sum 4.8333 over 4",
        ),
        Example([1.0, 3.0], [2.0, 2.0], value=1.0, source="power 0 is the squared error; " + BY_HAND),
    ),
    see_also=("poisson_deviance", "gamma_deviance", "poisson_nll", "mse"),
    testing=Testing(
        sample=sample_positive,
        param_grid=({}, {"power": 1.0}, {"power": 1.5}, {"power": 2.0}, {"power": 3.0}, {"power": -1.0}),
    ),
)


def poisson_deviance(pred: Array, target: Array) -> Array:
    """2 (y log(y/ŷ) − y + ŷ): the Tweedie deviance at p = 1."""
    return tweedie(pred, target, power=1.0)


def poisson_deviance_grad(pred: Array, target: Array) -> Array:
    """2 (1 − y/ŷ) = 2 (ŷ − y)/ŷ."""
    return tweedie_grad(pred, target, power=1.0)


def check_poisson_deviance(pred: Array, target: Array, **_: object) -> None:
    check_tweedie(pred, target, power=1.0)


def gamma_deviance(pred: Array, target: Array) -> Array:
    """2 (log(ŷ/y) + y/ŷ − 1): the Tweedie deviance at p = 2."""
    return tweedie(pred, target, power=2.0)


def gamma_deviance_grad(pred: Array, target: Array) -> Array:
    """2 (ŷ − y)/ŷ²."""
    return tweedie_grad(pred, target, power=2.0)


def check_gamma_deviance(pred: Array, target: Array, **_: object) -> None:
    check_tweedie(pred, target, power=2.0)


POISSON_DEVIANCE = LossSpec(
    name="poisson_deviance",
    family="regression",
    summary="Poisson deviance: the Tweedie deviance with p = 1, for counts.",
    formula="ℓᵢ = 2 (yᵢ log(yᵢ/ŷᵢ) − yᵢ + ŷᵢ)  (yᵢ log(yᵢ/ŷᵢ) = 0 at yᵢ = 0)",
    gradient="∂ℓᵢ/∂ŷᵢ = 2 (1 − yᵢ/ŷᵢ)",
    when="Count regression evaluated on the scale of a Poisson GLM: twice poisson_nll(log_input=False) minus its "
    "value at ŷ = y, so it is 0 for a perfect fit. Needs y ≥ 0 and ŷ > 0.",
    elements=poisson_deviance,
    grad=poisson_deviance_grad,
    check=check_poisson_deviance,
    references=(f"{SKLEARN}:1503 mean_poisson_deviance",),
    examples=(
        Example([1.0], [2.0], value=4 * math.log(2.0) - 2.0, source="2 (2 log(2/1) − 2 + 1); " + BY_HAND),
        Example(
            [0.5, 0.5, 2.0, 2.0],
            [2.0, 0.0, 1.0, 4.0],
            value=1.4260151319598084,
            source="scikit-learn 1.9.1 mean_poisson_deviance docstring (1.4260…)",
        ),
    ),
    see_also=("tweedie_deviance", "poisson_nll"),
    testing=Testing(
        sample=sample_positive,
    ),
)

GAMMA_DEVIANCE = LossSpec(
    name="gamma_deviance",
    family="regression",
    summary="Gamma deviance: the Tweedie deviance with p = 2, scale-free.",
    formula="ℓᵢ = 2 (log(ŷᵢ/yᵢ) + yᵢ/ŷᵢ − 1)",
    gradient="∂ℓᵢ/∂ŷᵢ = 2 (1/ŷᵢ − yᵢ/ŷᵢ²)",
    when="Positive, skewed targets (durations, amounts) where only the ratio ŷ/y matters: multiplying both by "
    "the same factor leaves it unchanged. Needs y > 0 and ŷ > 0.",
    elements=gamma_deviance,
    grad=gamma_deviance_grad,
    check=check_gamma_deviance,
    references=(f"{SKLEARN}:1546 mean_gamma_deviance",),
    examples=(
        Example(
            [0.5, 0.5, 2.0, 2.0],
            [2.0, 0.5, 1.0, 4.0],
            value=1.0568528194400546,
            source="scikit-learn 1.9.1 mean_gamma_deviance docstring (1.0568…)",
        ),
    ),
    see_also=("tweedie_deviance", "gaussian_nll"),
    testing=Testing(
        sample=sample_positive,
    ),
)

RMSLE = LossSpec(
    name="rmsle",
    family="regression",
    summary="Root mean squared logarithmic error: MSLE's square root.",
    formula="ℓᵢ = (log(1 + ŷᵢ) − log(1 + yᵢ))²;  value = sqrt(mean ℓ)",
    gradient="∂value/∂ŷᵢ = (log(1 + ŷᵢ) − log(1 + yᵢ)) / ((1 + ŷᵢ) · n · value)  (0 when value = 0)",
    when="Reporting msle on the scale of log(1 + y) (a Kaggle favourite for prices and counts). Inputs must exceed −1.",
    elements=msle,
    grad=msle_grad,
    check=check_log1p_domain,
    references=(f"{SKLEARN}:790 root_mean_squared_log_error",),
    examples=(
        Example(
            [2.5, 5.0, 4.0, 8.0],
            [3.0, 5.0, 2.5, 7.0],
            value=0.19932416558108,
            source="scikit-learn 1.9.1 root_mean_squared_log_error docstring (0.199…)",
        ),
    ),
    see_also=("msle", "rmse"),
    reductions=Reductions(
        transform=SQUARE_ROOT,
    ),
    testing=Testing(
        sample=sample_log1p_domain,
    ),
)


# --- whole-column metrics -------------------------------------------------------------------------


def columns(array: Array) -> Array:
    """(n,) → (n, 1); (n, m) unchanged: one column per output."""
    return array.reshape(-1, 1) if array.ndim == 1 else array


def check_columns(pred: Array, target: Array, *, least: int = 1, name: str = "this metric") -> None:
    """Same shape, (n_samples,) or (n_samples, n_outputs), and at least ``least`` samples."""
    if target.shape != pred.shape:
        raise InputError(f"--target has shape {target.shape} but --pred has {pred.shape}; they must match")
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; {name} takes (n_samples,) or (n_samples, n_outputs)")
    if pred.shape[0] < least:
        raise InputError(f"{name} needs at least {least} samples (rows of --pred); got {pred.shape[0]}")


def sample_columns(rng: np.random.Generator) -> dict[str, Array]:
    """2–6 samples of 1 or 2 outputs: the column metrics need two samples for a spread."""
    rows = int(rng.integers(2, 7))
    shape = (rows,) if rng.random() < 0.5 else (rows, int(rng.integers(1, 3)))
    return {"pred": rng.normal(size=shape) * 2.0, "target": rng.normal(size=shape) * 2.0}


def explained_fraction(terms: Array, numerator: Array, denominator: Array) -> tuple[Array, Array]:
    """Contributions to mean over outputs of (1 − Σᵢ termsᵢ / denominator): (n, m) each, and the scale −1/(m·den).

    scikit-learn's force_finite rule (_regression.py:946-977): a zero denominator gives 1 when the
    numerator is 0 too (a perfect fit of a constant column) and 0 otherwise; the gradient there is 0.
    """
    n, m = terms.shape
    valid = (denominator != 0) & (numerator != 0)
    safe = np.where(denominator != 0, denominator, 1.0)
    score_when_invalid = np.where(numerator == 0, 1.0, 0.0)
    contributions = np.where(valid, 1.0 / n - terms / safe, score_when_invalid / n) / m
    scale = np.where(valid, -1.0 / safe, 0.0) / m
    return contributions, np.broadcast_to(scale, terms.shape)


def check_score(pred: Array, target: Array, **_: object) -> None:
    check_columns(pred, target, least=2, name="this score")


# R²


def _r2_parts(pred: Array, target: Array) -> tuple[Array, Array, Array, Array]:
    y, e = columns(target), columns(pred - target)
    total = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return y, e, np.sum(e * e, axis=0), total


def r2(pred: Array, target: Array) -> Array:
    """Contributions 1/n − (ŷᵢ − yᵢ)²/SS_tot per output, averaged over outputs."""
    _, e, residual, total = _r2_parts(pred, target)
    contributions, _ = explained_fraction(e * e, residual, total)
    return contributions.reshape(pred.shape)


def r2_grad(pred: Array, target: Array) -> Array:
    """−2 (ŷᵢ − yᵢ) / (m SS_tot)."""
    _, e, residual, total = _r2_parts(pred, target)
    _, scale = explained_fraction(e * e, residual, total)
    return (2.0 * e * scale).reshape(pred.shape)


SCORE_WHEN = (
    " A score, not a loss: higher is better, 1 is perfect, 0 is what a constant prediction scores, and it has no "
    "lower bound. The elements are each value's contribution (value = their sum; 'mean' and 'sum' both give the "
    "score). Several outputs (columns) are averaged with equal weights (scikit-learn's 'uniform_average'); a "
    "constant target column scores 1 if predicted exactly, else 0 (scikit-learn's force_finite)."
)

R2 = LossSpec(
    name="r2",
    aliases=("r_squared", "coefficient_of_determination"),
    family="regression",
    summary="Coefficient of determination R² = 1 − SS_res/SS_tot (a score: higher is better).",
    formula="R² = 1 − Σᵢ (yᵢ − ŷᵢ)² / Σᵢ (yᵢ − ȳ)²;  elements 1/n − (yᵢ − ŷᵢ)²/SS_tot (they sum to R²)",
    gradient="∂R²/∂ŷᵢ = −2 (ŷᵢ − yᵢ) / Σⱼ (yⱼ − ȳ)²",
    when="Reporting how much of the target's variance a regression explains." + SCORE_WHEN,
    elements=r2,
    grad=r2_grad,
    check=check_score,
    references=(f"{SKLEARN}:1157 r2_score", "torchmetrics.functional.r2_score"),
    examples=(
        Example(
            [2.5, 0.0, 2.0, 8.0],
            [3.0, -0.5, 2.0, 7.0],
            value=0.9486081370449679,
            source="scikit-learn 1.9.1 r2_score docstring (0.948…)",
        ),
        Example(
            [[0.0, 2.0], [-1.0, 2.0], [8.0, -5.0]],
            [[0.5, 1.0], [-1.0, 1.0], [7.0, -6.0]],
            value=0.9368005266622779,
            source="scikit-learn 1.9.1 r2_score docstring, multioutput uniform_average (0.936…)",
        ),
        Example([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], value=1.0, source="scikit-learn 1.9.1 r2_score docstring"),
        Example([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], value=0.0, source="scikit-learn 1.9.1 r2_score docstring"),
    ),
    see_also=("explained_variance", "relative_squared_error", "mse"),
    **WHOLE_COLUMN,
    testing=Testing(
        zero_at_target=False,
        sample=sample_columns,
    ),
)


# explained variance


def _ev_parts(pred: Array, target: Array) -> tuple[Array, Array, Array]:
    y, d = columns(target), columns(pred - target)
    centred = d - d.mean(axis=0)
    return centred, np.sum(centred * centred, axis=0), np.sum((y - y.mean(axis=0)) ** 2, axis=0)


def explained_variance(pred: Array, target: Array) -> Array:
    """Contributions 1/n − (dᵢ − d̄)²/SS_tot, d = ŷ − y."""
    centred, numerator, total = _ev_parts(pred, target)
    contributions, _ = explained_fraction(centred * centred, numerator, total)
    return contributions.reshape(pred.shape)


def explained_variance_grad(pred: Array, target: Array) -> Array:
    """−2 (dᵢ − d̄) / (m SS_tot): the mean's own derivative cancels since Σ (dⱼ − d̄) = 0."""
    centred, numerator, total = _ev_parts(pred, target)
    _, scale = explained_fraction(centred * centred, numerator, total)
    return (2.0 * centred * scale).reshape(pred.shape)


EXPLAINED_VARIANCE = LossSpec(
    name="explained_variance",
    family="regression",
    summary="Explained variance 1 − Var(y − ŷ)/Var(y) (a score: higher is better; ignores a constant bias).",
    formula="EV = 1 − Σᵢ (dᵢ − d̄)² / Σᵢ (yᵢ − ȳ)²,  dᵢ = ŷᵢ − yᵢ;  elements 1/n − (dᵢ − d̄)²/SS_tot",
    gradient="∂EV/∂ŷᵢ = −2 (dᵢ − d̄) / Σⱼ (yⱼ − ȳ)²",
    when="Like r2 but blind to a constant offset: a prediction shifted by c scores the same. r2 equals it "
    "when the residuals average 0." + SCORE_WHEN,
    elements=explained_variance,
    grad=explained_variance_grad,
    check=check_score,
    references=(f"{SKLEARN}:1009 explained_variance_score", "torchmetrics.functional.explained_variance"),
    examples=(
        Example(
            [2.5, 0.0, 2.0, 8.0],
            [3.0, -0.5, 2.0, 7.0],
            value=0.9571734475374732,
            source="scikit-learn 1.9.1 explained_variance_score docstring (0.957…)",
        ),
        Example(
            [[0.0, 2.0], [-1.0, 2.0], [8.0, -5.0]],
            [[0.5, 1.0], [-1.0, 1.0], [7.0, -6.0]],
            value=0.9838709677419355,
            source="scikit-learn 1.9.1 explained_variance_score docstring, uniform_average (0.983…)",
        ),
        Example([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], value=1.0, source="a constant offset is fully explained; " + BY_HAND),
    ),
    see_also=("r2",),
    **WHOLE_COLUMN,
    testing=Testing(
        zero_at_target=False,
        sample=sample_columns,
    ),
)


# D² pinball / absolute error


def _d2_pinball_parts(pred: Array, target: Array, alpha: float) -> tuple[Array, Array, Array]:
    y, p = columns(target), columns(pred)
    # any α-quantile of y minimises Σ ρ_α(y − c) over constants c, so the denominator does not depend on
    # which quantile definition is used (scikit-learn's _weighted_percentile gives one of them)
    best = np.broadcast_to(np.quantile(y, alpha, axis=0, method="averaged_inverted_cdf"), y.shape)
    terms = quantile(p, y, q=alpha)
    return terms, np.sum(terms, axis=0), np.sum(quantile(best, y, q=alpha), axis=0)


def d2_pinball(pred: Array, target: Array, *, alpha: float = 0.5) -> Array:
    """Contributions 1/n − ρ_α(yᵢ − ŷᵢ)/Σⱼ ρ_α(yⱼ − q_α(y))."""
    terms, numerator, denominator = _d2_pinball_parts(pred, target, alpha)
    contributions, _ = explained_fraction(terms, numerator, denominator)
    return contributions.reshape(pred.shape)


def d2_pinball_grad(pred: Array, target: Array, *, alpha: float = 0.5) -> Array:
    """−ρ′_α(ŷᵢ) / (m Σⱼ ρ_α(yⱼ − q_α)): ρ′ = −α below the target, 1 − α above, 0 at it."""
    terms, numerator, denominator = _d2_pinball_parts(pred, target, alpha)
    _, scale = explained_fraction(terms, numerator, denominator)
    return (quantile_grad(columns(pred), columns(target), q=alpha) * scale).reshape(pred.shape)


def d2_absolute_error(pred: Array, target: Array) -> Array:
    """Contributions 1/n − |yᵢ − ŷᵢ|/Σⱼ |yⱼ − median(y)|: d2_pinball at α = ½ (the ½ cancels)."""
    return d2_pinball(pred, target, alpha=0.5)


def d2_absolute_error_grad(pred: Array, target: Array) -> Array:
    """−sign(ŷᵢ − yᵢ) / Σⱼ |yⱼ − median(y)| per output (over m outputs)."""
    return d2_pinball_grad(pred, target, alpha=0.5)


D2_WHEN = " Subgradient at ŷᵢ = yᵢ: 0 (as the pinball loss's). A 1-sample column is refused (scikit-learn gives NaN)."

D2_PINBALL = LossSpec(
    name="d2_pinball",
    family="regression",
    summary="D² pinball score: fraction of the α-quantile's pinball loss explained (higher is better).",
    formula="D² = 1 − Σᵢ ρ_α(yᵢ − ŷᵢ) / Σᵢ ρ_α(yᵢ − q_α(y)),  ρ_α(r) = max(α r, (α − 1) r)",
    gradient="∂D²/∂ŷᵢ = −ρ′_α / Σⱼ ρ_α(yⱼ − q_α(y)),  ρ′_α = −α if ŷᵢ < yᵢ, 1 − α if ŷᵢ > yᵢ, 0 at ŷᵢ = yᵢ",
    when="R²'s analogue for quantile regression: 0 for predicting y's own α-quantile everywhere."
    + SCORE_WHEN
    + D2_WHEN,
    elements=d2_pinball,
    grad=d2_pinball_grad,
    params=(Param("alpha", "float", 0.5, "the quantile level α", low=0.0, high=1.0),),
    check=check_score,
    references=(f"{SKLEARN}:1711 d2_pinball_score", "Koenker & Machado, JASA 1999, eq. (7)"),
    examples=(
        Example([1.0, 3.0, 3.0], [1.0, 2.0, 3.0], value=0.5, source="scikit-learn 1.9.1 d2_pinball_score docstring"),
        Example(
            [1.0, 3.0, 3.0],
            [1.0, 2.0, 3.0],
            params={"alpha": 0.9},
            value=0.6666666666666667,
            source="scikit-learn 1.9.1 d2_pinball_score docstring (0.666…)",
        ),
        Example(
            [1.0, 2.0, 3.0],
            [1.0, 2.0, 3.0],
            params={"alpha": 0.1},
            value=1.0,
            source="scikit-learn 1.9.1 d2_pinball_score docstring",
        ),
    ),
    see_also=("d2_absolute_error", "quantile", "r2"),
    **WHOLE_COLUMN,
    testing=Testing(
        zero_at_target=False,
        sample=sample_columns,
        param_grid=({}, {"alpha": 0.1}, {"alpha": 0.95}),
    ),
)

D2_ABSOLUTE_ERROR = LossSpec(
    name="d2_absolute_error",
    family="regression",
    summary="D² absolute-error score: fraction of the median's absolute error explained (higher is better).",
    formula="D² = 1 − Σᵢ |yᵢ − ŷᵢ| / Σᵢ |yᵢ − median(y)|",
    gradient="∂D²/∂ŷᵢ = −sign(ŷᵢ − yᵢ) / Σⱼ |yⱼ − median(y)|  (0 at ŷᵢ = yᵢ)",
    when="A robust R²: 0 for predicting the median everywhere. d2_pinball with α = 0.5." + SCORE_WHEN + D2_WHEN,
    elements=d2_absolute_error,
    grad=d2_absolute_error_grad,
    check=check_score,
    references=(f"{SKLEARN}:1882 d2_absolute_error_score",),
    examples=(
        Example(
            [2.5, 0.0, 2.0, 8.0],
            [3.0, -0.5, 2.0, 7.0],
            value=0.7647058823529411,
            source="scikit-learn 1.9.1 d2_absolute_error_score docstring (0.764…)",
        ),
        Example(
            [[0.0, 2.0], [-1.0, 2.0], [8.0, -5.0]],
            [[0.5, 1.0], [-1.0, 1.0], [7.0, -6.0]],
            value=0.6919642857142857,
            source="scikit-learn 1.9.1 d2_absolute_error_score docstring, uniform_average (0.691…)",
        ),
    ),
    see_also=("d2_pinball", "l1", "r2"),
    **WHOLE_COLUMN,
    testing=Testing(
        zero_at_target=False,
        sample=sample_columns,
    ),
)


# D² Tweedie


def _d2_tweedie_parts(pred: Array, target: Array, power: float) -> tuple[Array, Array, Array]:
    y, p = columns(target), columns(pred)
    terms = tweedie(p, y, power=power)
    baseline = np.broadcast_to(y.mean(axis=0), y.shape)
    return terms, np.sum(terms, axis=0), np.sum(tweedie(baseline, y, power=power), axis=0)


def d2_tweedie(pred: Array, target: Array, *, power: float = 0.0) -> Array:
    """Contributions 1/n − d_p(yᵢ, ŷᵢ)/Σⱼ d_p(yⱼ, ȳ)."""
    terms, numerator, denominator = _d2_tweedie_parts(pred, target, power)
    contributions, _ = explained_fraction(terms, numerator, denominator)
    return contributions.reshape(pred.shape)


def d2_tweedie_grad(pred: Array, target: Array, *, power: float = 0.0) -> Array:
    """−2 (ŷᵢ − yᵢ) ŷᵢ^(−p) / Σⱼ d_p(yⱼ, ȳ)."""
    terms, numerator, denominator = _d2_tweedie_parts(pred, target, power)
    _, scale = explained_fraction(terms, numerator, denominator)
    return (tweedie_grad(columns(pred), columns(target), power=power) * scale).reshape(pred.shape)


def check_d2_tweedie(pred: Array, target: Array, *, power: float = 0.0, **_: object) -> None:
    check_score(pred, target)
    check_tweedie(pred, target, power=power)


def sample_positive_columns(rng: np.random.Generator) -> dict[str, Array]:
    rows = int(rng.integers(2, 7))
    return {"pred": rng.uniform(0.2, 3.0, size=rows), "target": rng.uniform(0.2, 3.0, size=rows)}


D2_TWEEDIE = LossSpec(
    name="d2_tweedie",
    family="regression",
    summary="D² Tweedie score: fraction of the Tweedie deviance explained (higher is better; p = 0 is R²).",
    formula="D² = 1 − Σᵢ d_p(yᵢ, ŷᵢ) / Σᵢ d_p(yᵢ, ȳ)  (d_p: tweedie_deviance's elements)",
    gradient="∂D²/∂ŷᵢ = −2 (ŷᵢ − yᵢ) ŷᵢ^(−p) / Σⱼ d_p(yⱼ, ȳ)",
    when="Goodness of fit of a GLM on its own deviance scale: 0 for predicting the mean everywhere." + SCORE_WHEN,
    elements=d2_tweedie,
    grad=d2_tweedie_grad,
    params=(POWER,),
    check=check_d2_tweedie,
    references=(f"{SKLEARN}:1594 d2_tweedie_score", "Hastie, Tibshirani & Wainwright 2015, eq. (3.11)"),
    examples=(
        Example(
            [2.5, 0.0, 2.0, 8.0],
            [3.0, -0.5, 2.0, 7.0],
            value=0.9486081370449679,
            source="power 0 equals r2_score's docstring value (0.948…)",
        ),
        Example(
            [0.5, 0.5, 2.0, 2.0],
            [2.0, 0.0, 1.0, 4.0],
            params={"power": 1.0},
            value=0.053789764558056286,
            source="scikit-learn 1.9.1 mean_tweedie_deviance docstring inputs, p = 1: 1 − 1.4260…/1.5070…",
        ),
    ),
    see_also=("tweedie_deviance", "r2"),
    **WHOLE_COLUMN,
    testing=Testing(
        zero_at_target=False,
        sample=sample_positive_columns,
        param_grid=({}, {"power": 1.0}, {"power": 1.5}, {"power": 2.0}, {"power": -1.0}),
    ),
)


# median and max absolute error


def _median_weights(abs_error: Array) -> Array:
    """1 on each column's middle value, ½ on each of the two middle ones for an even count (stable order)."""
    n = abs_error.shape[0]
    order = np.argsort(abs_error, axis=0, kind="stable")
    weights = np.zeros_like(abs_error)
    middle = [(n - 1) // 2] if n % 2 else [n // 2 - 1, n // 2]
    for rank in middle:
        np.put_along_axis(weights, order[rank : rank + 1], 1.0 / len(middle), axis=0)
    return weights


def median_absolute_error(pred: Array, target: Array) -> Array:
    """|eᵢ| on the median position(s) of each column (weights 1 or ½), 0 elsewhere; averaged over outputs."""
    e = np.abs(columns(pred - target))
    return (_median_weights(e) * e / e.shape[1]).reshape(pred.shape)


def median_absolute_error_grad(pred: Array, target: Array) -> Array:
    """sign(eᵢ) times the median weight: only the middle value(s) move the median."""
    e = columns(pred - target)
    return (_median_weights(np.abs(e)) * np.sign(e) / e.shape[1]).reshape(pred.shape)


def check_columns_any(pred: Array, target: Array, **_: object) -> None:
    check_columns(pred, target)


MEDIAN_ABSOLUTE_ERROR = LossSpec(
    name="median_absolute_error",
    aliases=("medae",),
    family="regression",
    summary="Median of |ŷ − y|: an error level that ignores up to half the values being outliers.",
    formula="value = median |ŷᵢ − yᵢ| per output (the mean of the two middle values for an even count)",
    gradient="∂value/∂ŷᵢ = sign(ŷᵢ − yᵢ) on the middle value (½ each on the two middle values), 0 elsewhere",
    when="A robust summary of the error size. Subgradient convention: ties are broken by position (the stable "
    "sort order), and sign(0) = 0. The elements are each value's contribution (the median value(s), weighted, "
    "0 elsewhere); value = their sum, for 'mean' and 'sum' alike.",
    elements=median_absolute_error,
    grad=median_absolute_error_grad,
    check=check_columns_any,
    references=(f"{SKLEARN}:869 median_absolute_error",),
    examples=(
        Example(
            [2.5, 0.0, 2.0, 8.0],
            [3.0, -0.5, 2.0, 7.0],
            value=0.5,
            source="scikit-learn 1.9.1 median_absolute_error docstring",
        ),
        Example(
            [[0.0, 2.0], [-1.0, 2.0], [8.0, -5.0]],
            [[0.5, 1.0], [-1.0, 1.0], [7.0, -6.0]],
            value=0.75,
            source="scikit-learn 1.9.1 median_absolute_error docstring",
        ),
    ),
    see_also=("l1", "max_error"),
    **WHOLE_COLUMN,
    testing=Testing(
        sample=sample_columns,
    ),
)


def _max_position(abs_error: Array) -> Array:
    flat = np.zeros(abs_error.size, dtype=abs_error.dtype)
    flat[int(np.argmax(abs_error))] = 1.0
    return flat.reshape(abs_error.shape)


def max_error(pred: Array, target: Array) -> Array:
    """|eᵢ| at the first largest error, 0 elsewhere."""
    e = np.abs(pred - target)
    return _max_position(e) * e


def max_error_grad(pred: Array, target: Array) -> Array:
    """sign(eᵢ) at the first largest error, 0 elsewhere."""
    e = pred - target
    return _max_position(np.abs(e)) * np.sign(e)


MAX_ERROR = LossSpec(
    name="max_error",
    family="regression",
    summary="The largest absolute error: the worst case.",
    formula="value = maxᵢ |ŷᵢ − yᵢ| over every value",
    gradient="∂value/∂ŷᵢ = sign(ŷᵢ − yᵢ) at the largest error, 0 elsewhere",
    when="Guarantees (no prediction is off by more than this). Subgradient convention: among equal largest "
    "errors the first (in row-major order) takes the gradient. The elements are each value's contribution "
    "(the largest error where it is, 0 elsewhere); value = their sum, for 'mean' and 'sum' alike.",
    elements=max_error,
    grad=max_error_grad,
    references=(f"{SKLEARN}:1328 max_error",),
    examples=(
        Example([4.0, 2.0, 7.0, 1.0], [3.0, 2.0, 7.0, 1.0], value=1.0, source="scikit-learn 1.9.1 max_error docstring"),
    ),
    see_also=("l1", "median_absolute_error"),
    **WHOLE_COLUMN,
)


# torchmetrics: relative squared error, WMAPE, SMAPE, Minkowski


def relative_squared_error(pred: Array, target: Array) -> Array:
    """Contributions (ŷᵢ − yᵢ)² / (m SS_tot), SS_tot floored at the dtype's ε (torchmetrics rse.py:47-48)."""
    e, total = columns(pred - target), _floored_total(target)
    return (e * e / total / e.shape[1]).reshape(pred.shape)


def relative_squared_error_grad(pred: Array, target: Array) -> Array:
    """2 (ŷᵢ − yᵢ) / (m max(SS_tot, ε))."""
    e, total = columns(pred - target), _floored_total(target)
    return (2.0 * e / total / e.shape[1]).reshape(pred.shape)


def _floored_total(target: Array) -> Array:
    y = columns(target)
    return np.maximum(np.sum((y - y.mean(axis=0)) ** 2, axis=0), np.finfo(target.dtype).eps)


RELATIVE_SQUARED_ERROR = LossSpec(
    name="relative_squared_error",
    aliases=("rse",),
    family="regression",
    summary="Relative squared error Σ(ŷ − y)²/Σ(y − ȳ)² = 1 − R² (lower is better).",
    formula="RSE = Σᵢ (ŷᵢ − yᵢ)² / max(Σᵢ (yᵢ − ȳ)², ε) per output, averaged over outputs",
    gradient="∂RSE/∂ŷᵢ = 2 (ŷᵢ − yᵢ) / max(Σⱼ (yⱼ − ȳ)², ε)",
    when="The squared error relative to predicting the mean: 1 − r2 as a loss. ε is the dtype's machine epsilon "
    "(torchmetrics), so a constant target gives a huge, finite value. Elements are contributions summing to "
    "the value ('mean' and 'sum' alike).",
    elements=relative_squared_error,
    grad=relative_squared_error_grad,
    check=check_columns_any,
    references=(f"{TORCHMETRICS}/rse.py:22-51",),
    examples=(
        Example(
            [[0.0, 2.0], [-1.0, 2.0], [8.0, -5.0]],
            [[0.5, 1.0], [-1.0, 1.0], [7.0, -6.0]],
            value=0.06319947333772219,
            source="torchmetrics 1.9.0 _relative_squared_error_compute docstring (tensor(0.0632))",
        ),
    ),
    see_also=("r2", "mse"),
    **WHOLE_COLUMN,
    testing=Testing(
        sample=sample_columns,
    ),
)


def wmape(pred: Array, target: Array) -> Array:
    """|ŷᵢ − yᵢ| / max(Σⱼ |yⱼ|, ε)."""
    return np.abs(pred - target) / _abs_total(target)


def wmape_grad(pred: Array, target: Array) -> Array:
    """sign(ŷᵢ − yᵢ) / max(Σⱼ |yⱼ|, ε)."""
    return np.sign(pred - target) / _abs_total(target)


TORCHMETRICS_EPSILON = 1.17e-06  # wmape.py:45, symmetric_mape.py:25


def _abs_total(target: Array) -> float:
    return max(float(np.sum(np.abs(target))), TORCHMETRICS_EPSILON)


WMAPE = LossSpec(
    name="wmape",
    aliases=("weighted_mape",),
    family="regression",
    summary="Weighted MAPE: Σ|ŷ − y| / Σ|y|, a fraction (defined when some y are 0).",
    formula="WMAPE = Σᵢ |ŷᵢ − yᵢ| / max(Σᵢ |yᵢ|, ε),  ε = 1.17e-6",
    gradient="∂WMAPE/∂ŷᵢ = sign(ŷᵢ − yᵢ) / max(Σⱼ |yⱼ|, ε)  (0 at ŷᵢ = yᵢ)",
    when="Forecast accuracy across series of different size where MAPE blows up on zeros: one ratio of totals. "
    "Elements are contributions summing to the value ('mean' and 'sum' alike).",
    elements=wmape,
    grad=wmape_grad,
    references=(f"{TORCHMETRICS}/wmape.py:21-55",),
    examples=(
        Example([110.0, 90.0, 5.0], [100.0, 100.0, 0.0], value=25.0 / 200.0, source="(10 + 10 + 5) / 200; " + BY_HAND),
    ),
    see_also=("mape", "smape", "l1"),
    **WHOLE_COLUMN,
)


def smape(pred: Array, target: Array) -> Array:
    """2 |ŷᵢ − yᵢ| / max(|yᵢ| + |ŷᵢ|, ε) (torchmetrics symmetric_mape.py:40, the factor 2 of its formula)."""
    return 2.0 * np.abs(pred - target) / _smape_scale(pred, target)


def _smape_scale(pred: Array, target: Array) -> Array:
    return np.maximum(np.abs(target) + np.abs(pred), TORCHMETRICS_EPSILON)


def smape_grad(pred: Array, target: Array) -> Array:
    """2 sign(e)/s − 2|e| sign(ŷ)/s² where s = |y| + |ŷ| > ε; 2 sign(e)/ε on the floor."""
    e, scale = pred - target, _smape_scale(pred, target)
    above = np.abs(target) + np.abs(pred) > TORCHMETRICS_EPSILON
    return 2.0 * np.sign(e) / scale - np.where(above, 2.0 * np.abs(e) * np.sign(pred) / (scale * scale), 0.0)


SMAPE = LossSpec(
    name="smape",
    aliases=("symmetric_mape",),
    family="regression",
    summary="Symmetric MAPE: 2|ŷ − y| / (|y| + |ŷ|), a fraction in [0, 2].",
    formula="ℓᵢ = 2 |ŷᵢ − yᵢ| / max(|yᵢ| + |ŷᵢ|, ε),  ε = 1.17e-6 (torchmetrics)",
    gradient="∂ℓᵢ/∂ŷᵢ = 2 sign(eᵢ)/sᵢ − 2 |eᵢ| sign(ŷᵢ)/sᵢ²,  sᵢ = |yᵢ| + |ŷᵢ|  (sign(0) = 0)",
    when="Relative error that is bounded and symmetric in y and ŷ (unlike MAPE); it is 2 whenever one of them "
    "is 0 and the other is not.",
    elements=smape,
    grad=smape_grad,
    references=(f"{TORCHMETRICS}/symmetric_mape.py:22-65",),
    examples=(
        Example([110.0, 0.0], [100.0, 5.0], value=(20.0 / 210.0 + 2.0) / 2, source="2·10/210 and 2·5/5; " + BY_HAND),
    ),
    see_also=("mape", "wmape"),
)


def _minkowski_parts(pred: Array, target: Array, p: float) -> tuple[Array, Array, float]:
    e = pred - target
    powered = np.abs(e) ** p
    total = float(np.sum(powered))
    return e, powered, total


def minkowski(pred: Array, target: Array, *, p: float = 2.0) -> Array:
    """Contributions |eᵢ|^p · S^(1/p − 1), S = Σ |eⱼ|^p: they sum to S^(1/p)."""
    _, powered, total = _minkowski_parts(pred, target, p)
    if total == 0.0:
        return np.zeros_like(powered)
    return powered * total ** (1.0 / p - 1.0)


def minkowski_grad(pred: Array, target: Array, *, p: float = 2.0) -> Array:
    """S^(1/p − 1) |eᵢ|^(p−1) sign(eᵢ); 0 when every error is 0."""
    e, _, total = _minkowski_parts(pred, target, p)
    if total == 0.0:
        return np.zeros_like(e)
    return total ** (1.0 / p - 1.0) * np.abs(e) ** (p - 1.0) * np.sign(e)


MINKOWSKI = LossSpec(
    name="minkowski",
    aliases=("lp_distance",),
    family="regression",
    summary="Minkowski distance (Σ|ŷ − y|^p)^(1/p): the L^p norm of the error.",
    formula="value = (Σᵢ |ŷᵢ − yᵢ|^p)^(1/p);  elements |eᵢ|^p · S^(1/p − 1), which sum to it",
    gradient="∂value/∂ŷᵢ = S^(1/p − 1) |eᵢ|^(p−1) sign(eᵢ),  S = Σⱼ |eⱼ|^p  (0 when S = 0)",
    when="A single distance between prediction and target; p = 1 sums absolute errors, p = 2 is the Euclidean "
    "norm (rmse·√n), large p approaches max_error. Not an average: it grows with the number of values.",
    elements=minkowski,
    grad=minkowski_grad,
    params=(Param("p", "float", 2.0, "the order p of the norm (torchmetrics requires p ≥ 1)", low=1.0),),
    variants=(
        Variant(
            {"p": 1.0},
            "value = Σᵢ |ŷᵢ − yᵢ|  (p = 1: the L1 distance; the elements are |eᵢ|)",
            "∂value/∂ŷᵢ = sign(eᵢ)  (0 at eᵢ = 0)",
        ),
        Variant(
            {"p": 3.0},
            "value = (Σᵢ |ŷᵢ − yᵢ|³)^(1/3);  elements |eᵢ|³ · S^(−2/3), which sum to it",
            "∂value/∂ŷᵢ = S^(−2/3) eᵢ² sign(eᵢ),  S = Σⱼ |eⱼ|³  (0 when S = 0)",
        ),
        Variant(
            {"p": 1.5},
            "value = (Σᵢ |ŷᵢ − yᵢ|^1.5)^(1/1.5);  elements |eᵢ|^1.5 · S^(−1/3), which sum to it",
            "∂value/∂ŷᵢ = S^(−1/3) |eᵢ|^0.5 sign(eᵢ),  S = Σⱼ |eⱼ|^1.5  (0 when S = 0)",
        ),
    ),
    references=(f"{TORCHMETRICS}/minkowski.py:21-84",),
    examples=(
        Example(
            [1.0, 2.0, 3.0, 4.0],
            [1.0, 2.0, 3.0, 1.0],
            params={"p": 4.0},
            value=3.0,
            source="torchmetrics 1.9.0 minkowski_distance docstring (tensor(3.))",
        ),
        Example([3.0, 4.0], [0.0, 0.0], value=5.0, source="Euclidean: sqrt(9 + 16); " + BY_HAND),
    ),
    see_also=("rmse", "l1", "max_error"),
    **WHOLE_COLUMN,
    testing=Testing(
        param_grid=({}, {"p": 1.0}, {"p": 3.0}, {"p": 1.5}),
    ),
)

LOSSES = (
    TWEEDIE,
    POISSON_DEVIANCE,
    GAMMA_DEVIANCE,
    RMSLE,
    MEDIAN_ABSOLUTE_ERROR,
    MAX_ERROR,
    R2,
    EXPLAINED_VARIANCE,
    D2_ABSOLUTE_ERROR,
    D2_PINBALL,
    D2_TWEEDIE,
    RELATIVE_SQUARED_ERROR,
    WMAPE,
    SMAPE,
    MINKOWSKI,
)
