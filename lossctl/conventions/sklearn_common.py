"""What scikit-learn's metric conventions share: shape checks, sample and output weights, labels, parameters.

Sources are scikit-learn 1.9.1, ``sklearn/metrics/_regression.py`` and ``_classification.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, Convention
from lossctl.errors import InputError
from lossctl.losses.spec import Param

REGRESSION = "scikit-learn 1.9.1 sklearn/metrics/_regression.py"
CLASSIFICATION = "scikit-learn 1.9.1 sklearn/metrics/_classification.py"
STATS = "scikit-learn 1.9.1 sklearn/utils/stats.py"

# --- parameters ----------------------------------------------------------------------------------------

MULTIOUTPUT = Param(
    "multioutput", "choice", "uniform_average", "uniform_average, raw_values (one value per output) or weights W1,W2,…"
)
SCORE_MULTIOUTPUT = Param(
    "multioutput", "choice", "uniform_average", "uniform_average, raw_values, variance_weighted or weights W1,W2,…"
)
LABELS = Param("labels", "choice", None, "the class labels, when y_true lacks some (comma-separated)")
ALPHA = Param("alpha", "float", 0.5, "the quantile level α", low=0.0, high=1.0)
POWER = Param("power", "float", 0.0, "Tweedie power: ≤ 0 or ≥ 1")
WHOLE = "a whole-column metric: "


def declare(loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, source: str, **more: Any):
    return Convention("sklearn", loss, names, pair[0], pair[1], reason, source, **more)


# --- shared checks and weights -------------------------------------------------------------------------


def check(pred: Array, target: Array, **_: Any) -> None:
    if pred.shape != target.shape:
        raise InputError(
            f"--target has shape {target.shape} but --pred has {pred.shape}; scikit-learn needs them equal"
        )
    if pred.ndim > 2:
        raise InputError(f"--pred has {pred.ndim} axes; scikit-learn takes (n_samples,) or (n_samples, n_outputs)")


def check_one_output(pred: Array, target: Array, **_: Any) -> None:
    """_regression.py:1466, 1336, 1665: 'Multioutput not supported'."""
    check(pred, target)
    if pred.ndim == 2 and pred.shape[1] != 1:
        raise InputError("scikit-learn raises 'Multioutput not supported' here: give one column")


def check_two_samples(pred: Array, target: Array, **_: Any) -> None:
    """_regression.py:1290, 1654, 1826: fewer than two samples give NaN with a warning; lossctl refuses."""
    check(pred, target)
    if pred.shape[0] < 2:
        raise InputError("scikit-learn's score is not well-defined with less than two samples (it returns nan)")


def sample_weights(rows: int, sample_weight: Array | None, dtype: np.dtype) -> Array:
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


def output_weights(outputs: int, multioutput: Any, dtype: np.dtype, variances: Array | None = None) -> Array:
    """The weight of each output in the value (_regression.py:978-995).

    None (uniform_average): 1/outputs each; numbers: normalised to sum 1; raw_values: 1 each (the value is then
    one number per output); variance_weighted (R², explained variance): ``variances`` normalised, uniform when
    they are all 0.
    """
    if multioutput is None:
        return np.full(outputs, 1.0 / outputs, dtype=dtype)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return np.ones(outputs, dtype=dtype)
    if isinstance(multioutput, str):
        if variances is None:
            raise InputError(f"--set multioutput={multioutput} is for r2_score and explained_variance_score only")
        total = np.sum(variances)
        return np.full(outputs, 1.0 / outputs, dtype=dtype) if total == 0 else (variances / total).astype(dtype)
    v = np.asarray(multioutput, dtype=dtype).ravel()
    if v.size != outputs:
        raise InputError(f"--set multioutput has {v.size} weights but there are {outputs} outputs")
    return v / v.sum()


def shape_back(array: Array, pred: Array) -> Array:
    return array.reshape(pred.shape)


def no_weights(sample_weight: Array | None, name: str) -> None:
    if sample_weight is not None:
        raise InputError(f"--sample-weight: scikit-learn's {name} takes no sample weights")


def sorted_labels(target: Array, labels: Any) -> Array:
    if isinstance(labels, str):
        try:
            labels = [float(label) for label in labels.split(",")]
        except ValueError as exc:
            raise InputError(f"--set labels must be comma-separated numbers, got {labels!r}") from exc
    return np.unique(target) if labels is None else np.unique(np.asarray(labels, dtype=float))
