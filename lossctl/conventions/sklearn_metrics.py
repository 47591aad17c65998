"""scikit-learn's metrics beyond the per-sample averages: deviances, Brier, hinge, RMSE per output, medians, R², D².

Sources are scikit-learn 1.9.1, ``sklearn/metrics/_regression.py``, ``_classification.py`` and
``sklearn/utils/stats.py``.  Row-wise metrics (deviances, Brier, hinge) give per-sample losses that
the library's weighted average reduces.  Whole-column metrics are declared with
``contributions=True``: their elements are each value's contribution, computed with the sample
weights, and the value is their sum; ``vjp`` then receives a cotangent of ones and gives the
gradient of that sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention
from lossctl.errors import InputError
from lossctl.losses import metrics
from lossctl.losses.spec import Param

REGRESSION = "scikit-learn 1.9.1 sklearn/metrics/_regression.py"
CLASSIFICATION = "scikit-learn 1.9.1 sklearn/metrics/_classification.py"
STATS = "scikit-learn 1.9.1 sklearn/utils/stats.py"

# --- shared checks and weights -------------------------------------------------------------------------


def _check(pred: Array, target: Array, **_: Any) -> None:
    if pred.shape != target.shape:
        raise InputError(
            f"--target has shape {target.shape} but --pred has {pred.shape}; scikit-learn needs them equal"
        )
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; scikit-learn takes (n_samples,) or (n_samples, n_outputs)")


def _check_one_output(pred: Array, target: Array, **_: Any) -> None:
    """_regression.py:1466, 1336, 1665: 'Multioutput not supported'."""
    _check(pred, target)
    if pred.ndim == 2 and pred.shape[1] != 1:
        raise InputError("scikit-learn raises 'Multioutput not supported' here: give one column")


def _check_two_samples(pred: Array, target: Array, **_: Any) -> None:
    """_regression.py:1290, 1654, 1826: fewer than two samples give NaN with a warning; lossctl refuses."""
    _check(pred, target)
    if pred.shape[0] < 2:
        raise InputError("scikit-learn's score is not well-defined with less than two samples (it returns nan)")


def _weights(rows: int, sample_weight: Array | None, dtype: np.dtype) -> Array:
    """Per-sample weights (ones without them), validated as scikit-learn validates them."""
    if sample_weight is None:
        return np.ones(rows, dtype=dtype)
    w = np.asarray(sample_weight, dtype=dtype).ravel()
    if w.size != rows:
        raise InputError(f"--sample-weight has {w.size} values but there are {rows} samples; give one per sample")
    if np.any(w < 0):
        raise InputError("--sample-weight must be non-negative (scikit-learn raises on negative weights)")
    if w.sum() == 0:
        raise InputError("--sample-weight sums to 0: scikit-learn's weighted average is undefined (it raises)")
    return w


def _output_weights(outputs: int, multioutput: Any, dtype: np.dtype) -> Array:
    """multioutput: None (uniform_average) or one weight per output, normalised to sum 1."""
    if multioutput is None:
        return np.full(outputs, 1.0 / outputs, dtype=dtype)
    v = np.asarray(multioutput, dtype=dtype).ravel()
    if v.size != outputs:
        raise InputError(f"--set multioutput has {v.size} weights but there are {outputs} outputs")
    return v / v.sum()


def _shape_back(array: Array, pred: Array) -> Array:
    return array.reshape(pred.shape)


# --- RMSE / RMSLE per output: _regression.py:616-698, 790-866 --------------------------------------------


def _root_mean(values: Array, slopes: Array, pred: Array, sample_weight: Array | None, multioutput: Any):
    """Contributions of Σⱼ vⱼ sqrt(Σᵢ wᵢ uᵢⱼ² / Σw) (u = values), and the gradient given ∂u/∂ŷ = slopes."""
    u = metrics.columns(values)
    w = _weights(u.shape[0], sample_weight, pred.dtype)
    w = (w / w.sum())[:, None]
    v = _output_weights(u.shape[1], multioutput, pred.dtype)
    root = np.sqrt(np.sum(w * u * u, axis=0))
    scale = np.where(root > 0, v / np.where(root > 0, root, 1.0), 0.0)
    contributions = w * u * u * scale
    gradient = w * u * metrics.columns(slopes) * scale
    return _shape_back(contributions, pred), _shape_back(gradient, pred)


def rmse_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None) -> Array:
    return _root_mean(pred - target, np.ones_like(pred), pred, sample_weight, multioutput)[0]


def rmse_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _root_mean(pred - target, np.ones_like(pred), pred, sample_weight, multioutput)[1]


def _log_error(pred: Array, target: Array) -> tuple[Array, Array]:
    return np.log1p(pred) - np.log1p(target), 1.0 / (1.0 + pred)


def rmsle_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _root_mean(*_log_error(pred, target), pred, sample_weight, multioutput)[0]


def rmsle_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _root_mean(*_log_error(pred, target), pred, sample_weight, multioutput)[1]


def _check_rmsle(pred: Array, target: Array, **_: Any) -> None:
    _check(pred, target)
    if np.any(target <= -1) or np.any(pred <= -1):
        raise InputError("scikit-learn's root_mean_squared_log_error raises for values ≤ −1")


# --- median absolute error: _regression.py:869-943 with utils/stats.py _weighted_percentile -------------


def weighted_median_weights(values: Array, w: Array) -> Array:
    """Which values _weighted_percentile(average=True) returns at rank 50: 1 on one, or ½ on two (stats.py:130-214)."""
    n = values.shape[0]
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(w[order])
    rank = 0.5 * cdf[-1]
    i = min(int(np.searchsorted(cdf, rank)), n - 1)
    picks = np.zeros(n, dtype=values.dtype)
    if cdf[i] - rank > np.finfo(values.dtype).eps:
        picks[order[i]] = 1.0
        return picks
    following = min(i + 1, n - 1)
    if w[order[following]] == 0:
        following = int(np.searchsorted(cdf, cdf[i], side="right"))
        following = i if following > n - 1 else following
    picks[order[i]] += 0.5
    picks[order[following]] += 0.5
    return picks


def _median_parts(pred: Array, target: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    e = metrics.columns(pred - target)
    w = _weights(e.shape[0], sample_weight, pred.dtype)
    v = _output_weights(e.shape[1], multioutput, pred.dtype)
    picks = np.stack([weighted_median_weights(np.abs(e[:, j]), w) for j in range(e.shape[1])], axis=1) * v
    return picks * np.abs(e), picks * np.sign(e)


def median_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _shape_back(_median_parts(pred, target, sample_weight, multioutput)[0], pred)


def median_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _shape_back(_median_parts(pred, target, sample_weight, multioutput)[1], pred)


# --- max error: _regression.py:1328-1362 (no sample weights) -------------------------------------------


def _no_weights(sample_weight: Array | None, name: str) -> None:
    if sample_weight is not None:
        raise InputError(f"--sample-weight: scikit-learn's {name} takes no sample weights")


def max_error_elements(pred: Array, target: Array, *, sample_weight: Array | None = None) -> Array:
    _no_weights(sample_weight, "max_error")
    return metrics.max_error(pred, target)


def max_error_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None) -> Array:
    return metrics.max_error_grad(pred, target)


# --- R² and explained variance: _regression.py:946-1320 ------------------------------------------------


def _fraction(terms: Array, slopes: Array, numerator: Array, denominator: Array, w: Array, v: Array):
    """Contributions of Σⱼ vⱼ (1 − numⱼ/denⱼ) with numⱼ = Σᵢ termsᵢⱼ, and its gradient given ∂num/∂ŷ = slopes.

    force_finite (_regression.py:958-977): a zero denominator scores 1 with a zero numerator, else 0.
    """
    valid = (denominator != 0) & (numerator != 0)
    safe = np.where(denominator != 0, denominator, 1.0)
    share = (w / w.sum())[:, None]
    fixed = np.where(numerator == 0, 1.0, 0.0)
    contributions = np.where(valid, share - terms / safe, share * fixed) * v
    gradient = np.where(valid, -slopes / safe, 0.0) * v
    return contributions, gradient


def _r2(pred: Array, target: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    y, e = metrics.columns(target), metrics.columns(pred - target)
    w = _weights(y.shape[0], sample_weight, pred.dtype)
    v = _output_weights(y.shape[1], multioutput, pred.dtype)
    mean = np.sum(w[:, None] * y, axis=0) / w.sum()
    terms = w[:, None] * e * e
    denominator = np.sum(w[:, None] * (y - mean) ** 2, axis=0)
    parts = _fraction(terms, 2 * w[:, None] * e, np.sum(terms, axis=0), denominator, w, v)
    return _shape_back(parts[0], pred), _shape_back(parts[1], pred)


def r2_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _r2(pred, target, sample_weight, multioutput)[0]


def r2_vjp(pred: Array, target: Array, cot: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _r2(pred, target, sample_weight, multioutput)[1]


def _explained(pred: Array, target: Array, sample_weight: Array | None, multioutput: Any) -> tuple[Array, Array]:
    y, d = metrics.columns(target), metrics.columns(pred - target)
    w = _weights(y.shape[0], sample_weight, pred.dtype)
    v = _output_weights(y.shape[1], multioutput, pred.dtype)
    total = w.sum()
    centred = d - np.sum(w[:, None] * d, axis=0) / total
    terms = w[:, None] * centred * centred
    denominator = np.sum(w[:, None] * (y - np.sum(w[:, None] * y, axis=0) / total) ** 2, axis=0)
    # scikit-learn compares averages (Σ/Σw), lossctl sums: the same ratio, the same zero tests
    parts = _fraction(terms, 2 * w[:, None] * centred, np.sum(terms, axis=0), denominator, w, v)
    return _shape_back(parts[0], pred), _shape_back(parts[1], pred)


def explained_elements(pred: Array, target: Array, *, sample_weight: Array | None = None, multioutput: Any = None):
    return _explained(pred, target, sample_weight, multioutput)[0]


def explained_vjp(pred: Array, target: Array, cot: Array, *, sample_weight=None, multioutput: Any = None):
    return _explained(pred, target, sample_weight, multioutput)[1]


# --- D² pinball / absolute error: _regression.py:1711-1879; D² Tweedie: 1594-1708 ------------------------


def _pinball(pred: Array, target: Array, alpha: float) -> Array:
    diff = target - pred
    return np.maximum(alpha * diff, (alpha - 1) * diff)


def _pinball_slope(pred: Array, target: Array, alpha: float) -> Array:
    """_regression.py:391-395: sign = (y − ŷ ≥ 0), so the slope at ŷ = y is −α (scikit-learn's side)."""
    return np.where(target - pred >= 0, -alpha, 1 - alpha)


def _d2_pinball(pred: Array, target: Array, alpha: float, sample_weight: Array | None, multioutput: Any):
    """The denominator is Σ w ρ_α(y − q) at the weighted α-percentile q, which minimises that sum over constants;
    the minimum of a convex piecewise-linear sum is attained at a data point, so it is taken over those."""
    y, p = metrics.columns(target), metrics.columns(pred)
    w = _weights(y.shape[0], sample_weight, pred.dtype)
    v = _output_weights(y.shape[1], multioutput, pred.dtype)
    terms = w[:, None] * _pinball(p, y, alpha)
    candidates = _pinball(y[None, :, :], y[:, None, :], alpha)  # [i, k, j]: ρ(y_i − y_k) in column j
    denominator = np.min(np.sum(w[:, None, None] * candidates, axis=0), axis=0)
    slopes = w[:, None] * _pinball_slope(p, y, alpha)
    parts = _fraction(terms, slopes, np.sum(terms, axis=0), denominator, w, v)
    return _shape_back(parts[0], pred), _shape_back(parts[1], pred)


def d2_pinball_elements(pred, target, *, alpha: float = 0.5, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, alpha, sample_weight, multioutput)[0]


def d2_pinball_vjp(pred, target, cot, *, alpha: float = 0.5, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, alpha, sample_weight, multioutput)[1]


def d2_absolute_elements(pred, target, *, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, 0.5, sample_weight, multioutput)[0]


def d2_absolute_vjp(pred, target, cot, *, sample_weight=None, multioutput: Any = None):
    return _d2_pinball(pred, target, 0.5, sample_weight, multioutput)[1]


def _d2_tweedie(pred: Array, target: Array, power: float, sample_weight: Array | None) -> tuple[Array, Array]:
    """1 − mean_w d(y, ŷ) / mean_w d(y, ȳ_w): no force_finite here, so a zero denominator is refused."""
    y, p = target.ravel(), pred.ravel()
    w = _weights(y.size, sample_weight, pred.dtype)
    baseline = np.full_like(y, np.sum(w * y) / w.sum())
    denominator = np.sum(w * metrics.tweedie(baseline, y, power=power))
    if denominator == 0:
        raise InputError("scikit-learn's d2_tweedie_score divides by 0 here (every target is equal): it gives nan")
    contributions = w / w.sum() - w * metrics.tweedie(p, y, power=power) / denominator
    gradient = -w * metrics.tweedie_grad(p, y, power=power) / denominator
    return contributions.reshape(pred.shape), gradient.reshape(pred.shape)


def d2_tweedie_elements(pred, target, *, power: float = 0.0, sample_weight=None):
    return _d2_tweedie(pred, target, power, sample_weight)[0]


def d2_tweedie_vjp(pred, target, cot, *, power: float = 0.0, sample_weight=None):
    return _d2_tweedie(pred, target, power, sample_weight)[1]


def _check_d2_tweedie(pred: Array, target: Array, *, power: float = 0.0, **_: Any) -> None:
    _check_two_samples(pred, target)
    _check_one_output(pred, target)
    metrics.check_tweedie(pred, target, power=power)


# --- deviances (row-wise): _regression.py:1365-1591 ------------------------------------------------------


def _tweedie_pair(power_of: Any) -> tuple[Any, Any]:
    def elements(pred: Array, target: Array, **params: Any) -> Array:
        return metrics.tweedie(pred, target, power=power_of(params))

    def vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
        return cot * metrics.tweedie_grad(pred, target, power=power_of(params))

    return elements, vjp


def _tweedie_check(power_of: Any) -> Any:
    def check(pred: Array, target: Array, **params: Any) -> None:
        _check_one_output(pred, target)
        metrics.check_tweedie(pred, target, power=power_of(params))

    return check


def _given_power(params: dict) -> float:
    return float(params.get("power", 0.0))


# --- Brier score: _classification.py:3713-3863 ------------------------------------------------------------


def _sorted_labels(target: Array, labels: Any) -> Array:
    if isinstance(labels, str):
        try:
            labels = [float(label) for label in labels.split(",")]
        except ValueError as exc:
            raise InputError(f"--set labels must be comma-separated numbers, got {labels!r}") from exc
    return np.unique(target) if labels is None else np.unique(np.asarray(labels, dtype=float))


def _positive_label(target: Array, pos_label: Any) -> float:
    """_classification.py _check_pos_label_consistency: 1 for {0, 1} or {−1, 1}, else the larger label."""
    if pos_label is not None and pos_label != "":
        return float(pos_label)
    classes = np.unique(target)
    if classes.size > 2:
        raise InputError("--target holds more than two labels: give (n, classes) probabilities for multiclass")
    if np.all(np.isin(classes, [0.0, 1.0])) or np.all(np.isin(classes, [-1.0, 1.0])):
        return 1.0
    if classes.size < 2:
        raise InputError("--target holds one label that is not 0, 1 or −1: give --set pos_label=…")
    return float(classes[-1])


def _brier_truth(pred: Array, target: Array, pos_label: Any, labels: Any) -> tuple[Array, Array, float]:
    """(outcomes in pred's layout, probabilities, the factor scale_by_half gives) before it is chosen."""
    if pred.ndim == 1 or pred.shape[1] == 1:
        outcome = (target.ravel() == _positive_label(target.ravel(), pos_label)).astype(pred.dtype)
        return outcome.reshape(pred.shape), pred, 2.0  # the two columns [1 − p, p] count the error twice
    classes = _sorted_labels(target.ravel(), labels)
    if classes.size != pred.shape[1]:
        raise InputError(
            f"--pred has {pred.shape[1]} class columns but --target holds {classes.size} labels; "
            "give every label with --set labels=…"
        )
    if not np.all(np.isin(target, classes)):
        raise InputError("--target holds labels outside --set labels")
    return (target.reshape(-1, 1) == classes[None, :]).astype(pred.dtype), pred, 1.0


def _brier_factor(pred: Array, scale_by_half: Any, base: float) -> float:
    if scale_by_half in (None, "auto"):
        halve = pred.ndim == 1 or pred.shape[1] < 3
    else:
        halve = str(scale_by_half).lower() in ("true", "1", "yes")
    return base * (0.5 if halve else 1.0)


def brier_elements(pred: Array, target: Array, *, pos_label: Any = None, labels: Any = None, scale_by_half="auto"):
    truth, p, base = _brier_truth(pred, target, pos_label, labels)
    squared = (p - truth) ** 2
    per_sample = squared if squared.ndim == 1 else squared.sum(axis=1)
    return _brier_factor(pred, scale_by_half, base) * per_sample


def brier_vjp(pred, target, cot, *, pos_label: Any = None, labels: Any = None, scale_by_half="auto"):
    truth, p, base = _brier_truth(pred, target, pos_label, labels)
    local = 2.0 * _brier_factor(pred, scale_by_half, base) * (p - truth)
    return local * (cot if local.ndim == 1 else cot[:, None])


def _check_brier(pred: Array, target: Array, **_: Any) -> None:
    """_classification.py:272-275: probabilities in [0, 1]; one label per sample."""
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; brier_score_loss takes (n_samples,) or (n, classes)")
    if target.size != pred.shape[0]:
        raise InputError(f"--target must hold one label per sample ({pred.shape[0]} labels), got {target.size}")
    if np.any(pred < 0) or np.any(pred > 1):
        raise InputError("--pred must hold probabilities in [0, 1] (scikit-learn's brier_score_loss raises otherwise)")


# --- hinge_loss: _classification.py:3470-3600 --------------------------------------------------------------


def _hinge_margins(pred: Array, target: Array, labels: Any) -> tuple[Array, Array]:
    """(margins, ∂margin/∂pred) — binary: y·d with y = ±1 from the sorted labels of y_true; multiclass:
    d_true − max over the other classes (Crammer–Singer, _classification.py:3557-3563)."""
    y = target.ravel()
    classes = _sorted_labels(y, labels)
    if classes.size > 2:
        if pred.ndim != 2 or pred.shape[1] != classes.size:
            raise InputError(
                f"--pred must have one column per label ({classes.size}) for scikit-learn's multiclass hinge_loss"
            )
        index = np.searchsorted(classes, y)
        rows = np.arange(y.size)
        others = pred.copy()
        others[rows, index] = -np.inf
        rival = np.argmax(others, axis=1)
        slope = np.zeros_like(pred)
        slope[rows, index] = 1.0
        slope[rows, rival] -= 1.0
        return pred[rows, index] - others[rows, rival], slope
    if pred.ndim == 2 and pred.shape[1] != 1:
        raise InputError("--pred must be one decision value per sample for a binary target (scikit-learn)")
    seen = np.unique(y)
    if seen.size < 2:
        raise InputError("--target holds one label: scikit-learn's binary hinge_loss needs both (its LabelBinarizer)")
    signs = np.where(y == seen[-1], 1.0, -1.0).reshape(pred.shape)
    return signs * pred, signs


def hinge_elements(pred: Array, target: Array, *, labels: Any = None) -> Array:
    margins, _ = _hinge_margins(pred, target, labels)
    return np.maximum(1.0 - margins, 0.0).ravel()


def hinge_vjp(pred: Array, target: Array, cot: Array, *, labels: Any = None) -> Array:
    """−∂margin/∂pred where 1 − margin > 0 (np.clip's backward passes nothing at 0 from above)."""
    margins, slope = _hinge_margins(pred, target, labels)
    active = (1.0 - margins > 0).astype(pred.dtype).ravel() * cot.ravel()
    return -slope * active.reshape(-1, *([1] * (slope.ndim - 1)))


def _check_hinge(pred: Array, target: Array, **_: Any) -> None:
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; hinge_loss takes (n_samples,) or (n_samples, n_classes)")
    if target.size != pred.shape[0]:
        raise InputError(f"--target must hold one label per sample ({pred.shape[0]} labels), got {target.size}")


# --- declarations ----------------------------------------------------------------------------------------

MULTIOUTPUT = Param("multioutput", "choice", "uniform_average", "uniform_average, or output weights W1,W2,…")
LABELS = Param("labels", "choice", None, "the class labels, when y_true lacks some (comma-separated)")
ALPHA = Param("alpha", "float", 0.5, "the quantile level α", low=0.0, high=1.0)
POWER = Param("power", "float", 0.0, "Tweedie power: ≤ 0 or ≥ 1")
WHOLE = "a whole-column metric: "


def _declare(loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, source: str, **more: Any):
    return Convention("sklearn", loss, names, pair[0], pair[1], reason, source, **more)


CONVENTIONS = (
    _declare(
        "brier_score",
        ("brier_score_loss",),
        (brier_elements, brier_vjp),
        "labels read off y_true (pos_label 1 or the larger label); halves the sum over classes only for 2 classes",
        f"{CLASSIFICATION}:3713, 3843-3862",
        params=(
            Param("pos_label", "choice", None, "the positive label for a 1-D --pred"),
            LABELS,
            Param("scale_by_half", "choice", "auto", "auto | true | false"),
        ),
        check=_check_brier,
    ),
    _declare(
        "hinge",
        ("hinge_loss",),
        (hinge_elements, hinge_vjp),
        "labels mapped to ±1 by LabelBinarizer (the larger is +1); 2-D decisions: Crammer–Singer, margin 1",
        f"{CLASSIFICATION}:3470, 3531-3581",
        params=(LABELS,),
        check=_check_hinge,
    ),
    _declare(
        "categorical_hinge",
        ("hinge_loss",),
        (hinge_elements, hinge_vjp),
        "labels encoded by their sorted order (LabelEncoder); margin = d_true − max of the others, loss 1 − margin",
        f"{CLASSIFICATION}:3470, 3531-3563",
        params=(LABELS,),
        check=_check_hinge,
    ),
    _declare(
        "tweedie_deviance",
        ("mean_tweedie_deviance",),
        _tweedie_pair(_given_power),
        "power 0 by default (the squared error); refuses several outputs",
        f"{REGRESSION}:1365-1500",
        params=(POWER,),
        check=_tweedie_check(_given_power),
    ),
    _declare(
        "poisson_deviance",
        ("mean_poisson_deviance",),
        _tweedie_pair(lambda _: 1.0),
        "mean_tweedie_deviance with power 1",
        f"{REGRESSION}:1503-1543",
        check=_tweedie_check(lambda _: 1.0),
    ),
    _declare(
        "gamma_deviance",
        ("mean_gamma_deviance",),
        _tweedie_pair(lambda _: 2.0),
        "mean_tweedie_deviance with power 2",
        f"{REGRESSION}:1546-1591",
        check=_tweedie_check(lambda _: 2.0),
    ),
    _declare(
        "rmse",
        ("root_mean_squared_error",),
        (rmse_elements, rmse_vjp),
        "the square root per output, then the average over outputs (not the root of the overall mean)",
        f"{REGRESSION}:616, 686-698",
        params=(MULTIOUTPUT,),
        check=_check,
        contributions=True,
    ),
    _declare(
        "rmsle",
        ("root_mean_squared_log_error",),
        (rmsle_elements, rmsle_vjp),
        "the square root per output, then the average; raises for values ≤ −1",
        f"{REGRESSION}:790, 848-866",
        params=(MULTIOUTPUT,),
        check=_check_rmsle,
        contributions=True,
    ),
    _declare(
        "median_absolute_error",
        ("median_absolute_error",),
        (median_elements, median_vjp),
        WHOLE + "np.median per output; with weights the averaged weighted percentile",
        f"{REGRESSION}:869-943; {STATS}:130-214",
        params=(MULTIOUTPUT,),
        check=_check,
        contributions=True,
    ),
    _declare(
        "max_error",
        ("max_error",),
        (max_error_elements, max_error_vjp),
        WHOLE + "one output only, no sample weights",
        f"{REGRESSION}:1328-1362",
        check=_check_one_output,
        contributions=True,
    ),
    _declare(
        "r2",
        ("r2_score",),
        (r2_elements, r2_vjp),
        WHOLE + "force_finite: a constant target scores 1 if predicted exactly, else 0; nan below 2 samples",
        f"{REGRESSION}:1157, 1290-1320, 946-977",
        params=(MULTIOUTPUT,),
        check=_check_two_samples,
        contributions=True,
    ),
    _declare(
        "explained_variance",
        ("explained_variance_score",),
        (explained_elements, explained_vjp),
        WHOLE + "weighted variances; force_finite as r2_score",
        f"{REGRESSION}:1009, 1113-1137",
        params=(MULTIOUTPUT,),
        check=_check,
        contributions=True,
    ),
    _declare(
        "d2_absolute_error",
        ("d2_absolute_error_score",),
        (d2_absolute_elements, d2_absolute_vjp),
        WHOLE + "baseline: the weighted median of y_true; force_finite",
        f"{REGRESSION}:1882-1990",
        params=(MULTIOUTPUT,),
        check=_check_two_samples,
        contributions=True,
    ),
    _declare(
        "d2_pinball",
        ("d2_pinball_score",),
        (d2_pinball_elements, d2_pinball_vjp),
        WHOLE + "baseline: the weighted α-percentile of y_true; the slope at ŷ = y is −α (its sign = (y − ŷ ≥ 0))",
        f"{REGRESSION}:1711, 1826-1879",
        params=(ALPHA, MULTIOUTPUT),
        check=_check_two_samples,
        contributions=True,
    ),
    _declare(
        "d2_tweedie",
        ("d2_tweedie_score",),
        (d2_tweedie_elements, d2_tweedie_vjp),
        WHOLE + "baseline: the weighted mean of y_true; one output; no force_finite",
        f"{REGRESSION}:1594, 1654-1708",
        params=(POWER,),
        check=_check_d2_tweedie,
        contributions=True,
    ),
)
