"""--convention: other libraries' losses, checked against the libraries themselves when they are installed.

Library-independent tests (always run): every convention's gradient against central differences of its
own value, the libraries' docstring examples, the issue's numbers through the CLI.  Differential tests
import Keras (torch backend), scikit-learn, torchmetrics and optax+jax with ``pytest.importorskip`` and
are skipped cleanly without them.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import assert_usage_error, run_cli
from gradcheck import numeric_gradient

from lossctl.conventions.registry import LIBRARIES
from lossctl.conventions.run import compute_convention
from lossctl.losses.embedding import sample_unit_embeddings
from lossctl.losses.registry import LOSSES

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any import of keras

RNG_SEED = 14


# --- inputs each convention takes ---------------------------------------------------------


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.05, 0.95, size=shape)


def _one_hot(rng: np.random.Generator, rows: int, classes: int) -> np.ndarray:
    return np.eye(classes)[rng.integers(0, classes, size=rows)]


def inputs(library: str, name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """pred and target that the library's loss accepts (shape: (N,) or (N, D))."""
    convention = next(c for c in LIBRARIES[library].conventions if c.name == name)
    loss = convention.loss
    rows = shape[0]
    classes = shape[1] if len(shape) > 1 else 3
    if loss == "circle":
        sample = sample_unit_embeddings(rng)
        return sample["pred"], sample["target"]
    if name == "multiclass_hinge_loss" and library == "torchmetrics":
        return rng.normal(size=(rows, classes)) * 2, np.arange(rows, dtype=float) % classes
    if name in ("log_loss",):
        return _probabilities(rng, (rows,)), np.array([0.0, 1.0] * rows)[:rows]
    if loss in ("bce",):
        return _probabilities(rng, shape), rng.integers(0, 2, size=shape).astype(float)
    if loss == "bce_with_logits":
        return rng.normal(size=shape) * 2, rng.integers(0, 2, size=shape).astype(float)
    if name in ("CategoricalCrossentropy",):
        return rng.uniform(0.1, 2.0, size=(rows, classes)), _one_hot(rng, rows, classes)
    if name in ("SparseCategoricalCrossentropy", "softmax_cross_entropy_with_integer_labels"):
        pred = rng.uniform(0.1, 2.0, size=(rows, classes)) if library == "keras" else rng.normal(size=(rows, classes))
        return pred, rng.integers(0, classes, size=rows).astype(float)
    if loss in ("cross_entropy", "categorical_hinge"):
        return rng.normal(size=(rows, classes)) * 2, _one_hot(rng, rows, classes)
    if loss == "generalized_cross_entropy":
        return rng.dirichlet(np.ones(classes), size=rows) * 0.9 + 0.1 / classes, np.arange(rows, dtype=float) % classes
    if loss == "poly1_cross_entropy":
        return rng.normal(size=(rows, classes)) * 2, rng.dirichlet(np.ones(classes), size=rows)
    if loss == "kl_div":
        target = rng.dirichlet(np.ones(classes), size=rows)
        pred = rng.dirichlet(np.ones(classes), size=rows)
        if name == "kl_divergence_with_log_targets":
            return np.log(pred), np.log(target)
        return (pred if library in ("keras", "torchmetrics") else np.log(pred)), target
    if name == "BinaryFocalCrossentropy":
        return _probabilities(rng, shape), rng.integers(0, 2, size=shape).astype(float)
    if name == "CategoricalFocalCrossentropy":
        return rng.uniform(0.1, 2.0, size=(rows, classes)), _one_hot(rng, rows, classes)
    if name == "binary_hinge_loss" or (library == "torchmetrics" and name == "hinge_loss"):
        return rng.normal(size=shape) * 2, rng.integers(0, 2, size=shape).astype(float)
    if name == "sparsemax_loss":
        return rng.normal(size=shape) * 1.5, rng.integers(0, 2, size=shape).astype(float)
    if name == "multiclass_sparsemax_loss":
        return rng.normal(size=(rows, classes)), np.arange(rows, dtype=float) % classes
    if name == "sigmoid_focal_loss":
        return rng.normal(size=shape) * 2, rng.integers(0, 2, size=shape).astype(float)
    if name == "ntxent":
        embeddings = rng.normal(size=(2 * rows, classes))
        return embeddings, (np.arange(2 * rows) % rows).astype(float)
    if library == "sklearn" and name in ("brier_score_loss", "d2_brier_score", "d2_log_loss_score"):
        if len(shape) == 1:
            return _probabilities(rng, shape), np.array([0.0, 1.0] * rows)[:rows]
        return rng.dirichlet(np.ones(classes), size=rows), np.arange(rows, dtype=float) % classes
    if library == "sklearn" and name == "hinge_loss":
        if len(shape) == 1:
            return rng.normal(size=shape) * 2, np.array([-1.0, 1.0] * rows)[:rows]
        return rng.normal(size=(rows, classes)) * 2, np.arange(rows, dtype=float) % classes
    if loss in ("tweedie_deviance", "poisson_deviance", "gamma_deviance", "rmsle", "d2_tweedie"):
        return rng.uniform(0.2, 3.0, size=shape), rng.uniform(0.2, 3.0, size=shape)
    if loss in ("msle", "poisson_nll"):
        return rng.uniform(0.1, 3.0, size=shape), rng.uniform(0.0, 3.0, size=shape)
    if loss in ("hinge", "squared_hinge"):
        labels = rng.integers(0, 2, size=shape).astype(float)
        return rng.normal(size=shape), labels if library == "keras" else 2 * labels - 1
    pred = rng.normal(size=shape) * 2
    target = rng.normal(size=shape) * 2
    if loss == "mape":
        target = np.where(np.abs(target) < 0.2, 0.5, target)
    return pred, target


ALL = [(lib, c.name) for lib, library in LIBRARIES.items() for c in library.conventions]
SHAPES = [(4, 3), (5,)]


def _reductions(library: str, name: str) -> list[str]:
    convention = next(c for c in LIBRARIES[library].conventions if c.name == name)
    return list(convention.reductions or LIBRARIES[library].reductions)


REQUIRED_SETTINGS = {("torchmetrics", "hinge_loss"): {"task": "binary"}}  # arguments without a default


def _value(library: str, name: str, pred, target, reduction="mean", weight=None, dtype="float64", **settings):
    settings = {**REQUIRED_SETTINGS.get((library, name), {}), **settings}
    convention = next(c for c in LIBRARIES[library].conventions if c.name == name)
    spec = LOSSES[convention.loss]
    return compute_convention(
        spec, convention, pred, target, reduction=reduction, dtype=dtype, sample_weight=weight, settings=settings
    )


ONE_D_ONLY = {
    "log_loss",
    "log_cosh_error",
    "max_error",
    "mean_tweedie_deviance",
    "mean_poisson_deviance",
    "mean_gamma_deviance",
    "d2_tweedie_score",
}
NO_SAMPLE_WEIGHT = {"max_error", "Dice", "Tversky"}  # max_error has none; Keras' pooled ratios: not weighted
POOLED = {"Dice", "Tversky"}  # one ratio over the whole batch: tests/test_library_losses.py checks them


def _applies(library: str, name: str, shape: tuple[int, ...]) -> bool:
    one_d_only = ONE_D_ONLY
    two_d_only = {
        "multiclass_hinge_loss",
        "multiclass_sparsemax_loss",
        "CategoricalCrossentropy",
        "CategoricalFocalCrossentropy",
        "ntxent",
        "SparseCategoricalCrossentropy",
        "CategoricalHinge",
        "KLDivergence",
        "CategoricalGeneralizedCrossEntropy",
        "Circle",
    }
    return not ((name in one_d_only and len(shape) > 1) or (name in two_d_only and len(shape) < 2))


# --- every convention: gradient = central differences of its own value ------------------------


@pytest.mark.parametrize(("library", "name"), ALL)
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_matches_central_differences(library, name, shape):
    rng = np.random.default_rng(RNG_SEED)
    pred, target = inputs(library, name, rng, shape)
    if not _applies(library, name, shape) and name not in ("CategoricalCrossentropy", "SparseCategoricalCrossentropy"):
        pytest.skip("the library takes another shape")
    weighted = LIBRARIES[library].sample_weight and name not in NO_SAMPLE_WEIGHT
    weights = [None] + ([rng.uniform(0.5, 2.0, size=pred.shape[0])] if weighted else [])
    for reduction in [r for r in _reductions(library, name) if r != "none"]:
        for weight in weights:
            result = _value(library, name, pred, target, reduction, weight)

            def value(x, reduction=reduction, weight=weight):
                return float(_value(library, name, x, target, reduction, weight).value)

            numeric = numeric_gradient(value, pred)
            np.testing.assert_allclose(result.grad, numeric, rtol=1e-5, atol=1e-7, err_msg=f"{reduction} {weight}")


@pytest.mark.parametrize(("library", "name"), ALL)
def test_reduction_none_gradient_is_that_of_the_sum(library, name):
    rng = np.random.default_rng(RNG_SEED + 1)
    shape = (5,) if name in ONE_D_ONLY else (4, 3)
    pred, target = inputs(library, name, rng, shape)
    none = _value(library, name, pred, target, "none")
    numeric = numeric_gradient(lambda x: float(np.sum(_value(library, name, x, target, "none").value)), pred)
    np.testing.assert_allclose(none.grad, numeric, rtol=1e-5, atol=1e-7)


# --- the libraries' own numbers, as their docstrings and the issue print them -------------------

WORKED = [
    # (library, name, pred, target, settings, expected, source)
    (
        "keras",
        "BinaryCrossentropy",
        [[0.6, 0.4], [0.4, 0.6]],
        [[0, 1], [0, 0]],
        {},
        (0.916 + 0.714) / 2,
        "keras/src/losses/losses.py:2406 binary_crossentropy docstring [0.916, 0.714]",
    ),
    (
        "keras",
        "CategoricalCrossentropy",
        [[0.05, 0.95, 0], [0.1, 0.8, 0.1]],
        [[0, 1, 0], [0, 0, 1]],
        {},
        (0.0513 + 2.303) / 2,
        "keras/src/losses/losses.py:2180 categorical_crossentropy docstring [0.0513, 2.303]",
    ),
    (
        "keras",
        "SparseCategoricalCrossentropy",
        [[0.05, 0.95, 0], [0.1, 0.8, 0.1]],
        [1, 2],
        {},
        (0.0513 + 2.303) / 2,
        "keras/src/losses/losses.py:2341 sparse_categorical_crossentropy docstring",
    ),
    ("keras", "CategoricalCrossentropy", [[0.2, 0.2]], [[1, 0]], {}, np.log(2), "issue 14: renormalised row → log 2"),
    ("keras", "CategoricalHinge", [[-2, -3, -0.5]], [[0, 0, 1]], {}, 1.5, "issue 14: 0 for the true class in the max"),
    ("optax", "multiclass_hinge_loss", [[-2, -3, -0.5]], [2], {}, 0.0, "issue 14: optax gives 0"),
    ("keras", "BinaryCrossentropy", [0, 0.9, 1], [1, 1, 0], {}, 10.7219, "issue 14 (float32)"),
    (
        "sklearn",
        "log_loss",
        [0.9, 0.1, 0.2, 0.65],
        [1, 0, 0, 1],
        {},
        0.21616,
        "sklearn/metrics/_classification.py:3411-3414 log_loss docstring (spam = 1, ham = 0)",
    ),
    ("sklearn", "log_loss", [0, 0.9, 1], [1, 1, 0], {}, 24.0642, "issue 14"),
    (
        "keras",
        "BinaryFocalCrossentropy",
        [-18.6, 0.51, 2.94, -12.8],
        [0, 1, 0, 0],
        {"gamma": "2", "from_logits": "true"},
        0.691,
        "keras/src/losses/losses.py:799-805 BinaryFocalCrossentropy docstring",
    ),
    (
        "keras",
        "BinaryFocalCrossentropy",
        [-18.6, 0.51, 2.94, -12.8],
        [0, 1, 0, 0],
        {"gamma": "2", "from_logits": "true", "apply_class_balancing": "true"},
        0.51,
        "keras/src/losses/losses.py:807-811 docstring (apply_class_balancing)",
    ),
    (
        "keras",
        "BinaryFocalCrossentropy",
        [[-18.6, 0.51], [2.94, -12.8]],
        [[0, 1], [0, 0]],
        {"gamma": "3", "from_logits": "true"},
        0.647,
        "keras/src/losses/losses.py:813-820 docstring",
    ),
    (
        "keras",
        "BinaryFocalCrossentropy",
        [[-18.6, 0.51], [2.94, -12.8]],
        [[0, 1], [0, 0]],
        {"gamma": "3", "from_logits": "true", "apply_class_balancing": "true"},
        0.482,
        "keras/src/losses/losses.py:822-826 docstring",
    ),
    (
        "keras",
        "BinaryFocalCrossentropy",
        [[0.6, 0.4], [0.4, 0.6]],
        [[0, 1], [0, 0]],
        {"gamma": "2"},
        (0.330 + 0.206) / 2,
        "keras/src/losses/losses.py:2479-2485 binary_focal_crossentropy docstring [0.330, 0.206]",
    ),
    (
        "keras",
        "CategoricalFocalCrossentropy",
        [[0.05, 0.95, 0], [0.1, 0.8, 0.1]],
        [[0, 1, 0], [0, 0, 1]],
        {},
        0.23315276,
        "keras/src/losses/losses.py:1100-1104 CategoricalFocalCrossentropy docstring",
    ),
    (
        "keras",
        "CategoricalFocalCrossentropy",
        [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]],
        [[0, 1, 0], [0, 0, 1]],
        {},
        (2.63401289e-04 + 6.75912094e-01) / 2,
        "keras/src/losses/losses.py:2253-2258 categorical_focal_crossentropy docstring",
    ),
    (
        "optax",
        "ntxent",
        [[0.08969027], [1.6291292], [0.8622629], [0.13612625]],
        [0, 0, 1, 1],
        {},
        1.0986123,
        "optax/losses/_self_supervised.py:35-60 ntxent docstring (log 3: every cosine is 1)",
    ),
    (
        "sklearn",
        "mean_pinball_loss",
        [0, 2, 3],
        [1, 2, 3],
        {"alpha": "0.1"},
        0.0333,
        "sklearn/metrics/_regression.py mean_pinball_loss docstring 0.03…",
    ),
    ("sklearn", "mean_pinball_loss", [1, 2, 4], [1, 2, 3], {"alpha": "0.1"}, 0.3, "mean_pinball_loss docstring 0.3…"),
    ("sklearn", "mean_pinball_loss", [0, 2, 3], [1, 2, 3], {"alpha": "0.9"}, 0.3, "mean_pinball_loss docstring 0.3…"),
    (
        "sklearn",
        "mean_absolute_percentage_error",
        [2.5, 0.0, 2, 8],
        [3, -0.5, 2, 7],
        {},
        0.3273,
        "sklearn/metrics/_regression.py:473 docstring 0.3273…",
    ),
    (
        "sklearn",
        "mean_absolute_percentage_error",
        [[0, 2], [-1, 2], [8, -5]],
        [[0.5, 1], [-1, 1], [7, -6]],
        {},
        0.5515,
        "sklearn/metrics/_regression.py:477 docstring 0.5515…",
    ),
    (
        "sklearn",
        "mean_absolute_percentage_error",
        [[0, 2], [-1, 2], [8, -5]],
        [[0.5, 1], [-1, 1], [7, -6]],
        {"multioutput": "0.3,0.7"},
        0.6198,
        "sklearn/metrics/_regression.py:479 docstring 0.6198…",
    ),
    (
        "sklearn",
        "mean_absolute_percentage_error",
        [1, 1],
        [0, 2],
        {},
        112589990684262.48 / 2 * 2,
        "sklearn/metrics/_regression.py:485 docstring (y_true [1, 0, 2.4, 3] style: a zero target)",
    ),
]


@pytest.mark.parametrize(("library", "name", "pred", "target", "settings", "expected", "source"), WORKED)
def test_library_worked_examples(library, name, pred, target, settings, expected, source):
    if name == "mean_absolute_percentage_error" and target == [0, 2]:
        expected = (1 / np.finfo(float).eps + 0.5) / 2  # |1 − 0| / eps, |1 − 2| / 2
    result = _value(library, name, np.array(pred, float), np.array(target, float), dtype=None, **settings)
    digits = max(len(repr(expected).split(".")[-1]) if "." in repr(expected) else 0, 1)
    tolerance = 1e-3 if abs(expected) < 100 else abs(expected) * 1e-12
    assert float(result.value) == pytest.approx(expected, abs=max(tolerance, 10.0 ** -min(digits, 6) / 2)), source


def test_keras_reductions_follow_its_divisors():
    """loss.py:139-160: sum_over_batch_size divides by the number of losses even with weights; the other by Σw."""
    pred = np.array([[0.6, 0.4], [0.4, 0.6]])
    target = np.array([[0, 1], [0, 0]], float)
    elements = np.array([0.91629076, 0.71355818])
    weight = np.array([0.8, 0.2])
    cases = {
        "sum_over_batch_size": elements @ weight / 2,
        "sum": elements @ weight,
        "mean_with_sample_weight": elements @ weight / weight.sum(),
    }
    for reduction, expected in cases.items():
        result = _value("keras", "BinaryCrossentropy", pred, target, reduction, weight, dtype="float64")
        assert float(result.value) == pytest.approx(expected, rel=1e-7), reduction
    plain = _value("keras", "BinaryCrossentropy", pred, target, "sum", dtype="float64")
    assert float(plain.value) == pytest.approx(elements.sum(), rel=1e-7)  # issue 14: Keras 0.598·2 vs torch 1.196·…


def test_keras_focal_docstring_reductions_and_weights():
    """losses.py:828-838 and 1106-1114: the docstrings' weighted and summed values."""
    logits, labels = np.array([[-18.6, 0.51], [2.94, -12.8]]), np.array([[0, 1], [0, 0.0]])
    weight = np.array([0.8, 0.2])
    cases = [
        ({"gamma": "3", "from_logits": "true"}, 0.133),
        ({"gamma": "3", "from_logits": "true", "apply_class_balancing": "true"}, 0.097),
    ]
    for settings, expected in cases:
        result = _value(
            "keras", "BinaryFocalCrossentropy", logits, labels, "sum_over_batch_size", weight, None, **settings
        )
        assert float(result.value) == pytest.approx(expected, abs=5e-4), settings
    pred, hot = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]), np.array([[0, 1, 0], [0, 0, 1.0]])
    weighted = _value("keras", "CategoricalFocalCrossentropy", pred, hot, "sum_over_batch_size", np.array([0.3, 0.7]))
    assert float(weighted.value) == pytest.approx(0.1632, abs=5e-5)
    assert float(_value("keras", "CategoricalFocalCrossentropy", pred, hot, "sum").value) == pytest.approx(
        0.46631, abs=5e-6
    )


def test_focal_alpha_defaults_differ_by_library():
    """issue 14: Keras' binary focal has no α unless apply_class_balancing, optax's α is None, torchvision 0.25."""
    logits, labels = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.0, 1.0])
    optax = _value("optax", "sigmoid_focal_loss", logits, labels, dtype="float64")
    keras = _value("keras", "BinaryFocalCrossentropy", logits, labels, dtype="float64", from_logits="true")
    torch_alpha_none = LOSSES["focal"].elements(logits, labels, alpha=-1.0, gamma=2.0).mean()
    torch_default = LOSSES["focal"].elements(logits, labels, alpha=0.25, gamma=2.0).mean()
    assert float(optax.value) == pytest.approx(torch_alpha_none, rel=1e-12)
    assert float(keras.value) == pytest.approx(torch_alpha_none, rel=1e-9)  # no clipping reached here
    assert float(optax.value) != pytest.approx(torch_default, rel=1e-3)
    balanced = _value("optax", "sigmoid_focal_loss", logits, labels, dtype="float64", alpha="0.25")
    assert float(balanced.value) == pytest.approx(torch_default, rel=1e-12)


def test_keras_categorical_axis_and_label_smoothing_over_the_last_axis():
    """losses.py:2201-2206: axis= picks the class axis; label smoothing still divides by the LAST axis' size."""
    pred = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    target = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    result = _value("keras", "CategoricalCrossentropy", pred, target, dtype="float64", axis="0", label_smoothing="0.3")
    smoothed = target * 0.7 + 0.3 / 3
    expected = -np.sum(smoothed * np.log(pred / pred.sum(axis=0)), axis=0)
    np.testing.assert_allclose(result.elements, expected, rtol=1e-12)
    assert result.class_axis == 0
    assert_usage_error(
        run_cli(["CategoricalCrossentropy", "--pred", "[[0.2,0.8]]", "--target", "[[0,1]]", "--set", "axis=2"]), "axis"
    )


def test_keras_float32_by_default_and_float64_on_request():
    pred, target = np.array([0, 0.9, 1.0]), np.array([1, 1, 0.0])
    assert _value("keras", "BinaryCrossentropy", pred, target, dtype=None).dtype == "float32"
    clip64 = _value("keras", "BinaryCrossentropy", pred, target, dtype="float64")
    assert float(clip64.value) == pytest.approx((2 * -np.log(1e-7) - np.log(0.9)) / 3, rel=1e-9)


def test_ignore_class_leaves_the_mean():
    pred = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    target = np.array([0, 1, 1.0])
    kept = _value("keras", "SparseCategoricalCrossentropy", pred[:2], target[:2], dtype="float64")
    ignored = _value(
        "keras", "SparseCategoricalCrossentropy", pred, np.array([0, 1, -1.0]), dtype="float64", ignore_class="-1"
    )
    assert float(ignored.value) == pytest.approx(float(kept.value), rel=1e-12)
    assert np.all(ignored.grad[2] == 0)


def test_msle_where_keras_clips_and_sklearn_computes():
    """issue 14: a prediction in (−1, 0): Keras clips it to ε, scikit-learn computes log1p; below −1 it raises."""
    keras = _value("keras", "MeanSquaredLogarithmicError", np.array([-0.5]), np.array([0.5]), dtype="float64")
    sklearn = _value("sklearn", "mean_squared_log_error", np.array([-0.5]), np.array([0.5]))
    assert float(keras.value) == pytest.approx((np.log1p(1e-7) - np.log1p(0.5)) ** 2, rel=1e-9)
    assert float(sklearn.value) == pytest.approx((np.log1p(-0.5) - np.log1p(0.5)) ** 2, rel=1e-12)
    with pytest.raises(Exception, match="≤ −1"):
        _value("sklearn", "mean_squared_log_error", np.array([-1.5]), np.array([0.5]))


def test_log_loss_labels_give_the_missing_class():
    """y_true with one label needs labels= (scikit-learn raises otherwise)."""
    result = _value("sklearn", "log_loss", np.array([0.8, 0.6]), np.array([1.0, 1.0]), labels="0,1")
    assert float(result.value) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2, rel=1e-12)
    with pytest.raises(Exception, match="only one label"):
        _value("sklearn", "log_loss", np.array([0.8, 0.6]), np.array([1.0, 1.0]))


def test_msle_issue_numbers():
    """issue 14: Keras clips a prediction in (−1, 0) to ε (0.0), scikit-learn computes it (0.240)."""
    pred, target = np.array([-0.5, 0.0]), np.array([0.0, 0.0])
    keras = _value("keras", "MeanSquaredLogarithmicError", pred, target, dtype=None)
    sklearn = _value("sklearn", "mean_squared_log_error", pred, target)
    assert float(keras.value) == 0.0
    assert float(sklearn.value) == pytest.approx(np.log(0.5) ** 2 / 2, rel=1e-12)
    assert round(float(sklearn.value), 3) == 0.240


def test_mape_three_ways():
    """issue 14: y = [0, 2, 4]: Keras ×100 with ε 1e-7, scikit-learn machine ε, torchmetrics ε 1.17e-6."""
    pred, target = np.array([1.0, 1.0, 1.0]), np.array([0.0, 2.0, 4.0])
    rest = 0.5 + 0.75
    keras = _value("keras", "MeanAbsolutePercentageError", pred, target, dtype="float64")
    sklearn = _value("sklearn", "mean_absolute_percentage_error", pred, target)
    torchmetrics = _value("torchmetrics", "mean_absolute_percentage_error", pred, target)
    assert float(keras.value) == pytest.approx(100 * (1 / 1e-7 + rest) / 3, rel=1e-9)
    assert float(sklearn.value) == pytest.approx((1 / np.finfo(float).eps + rest) / 3, rel=1e-12)
    assert float(torchmetrics.value) == pytest.approx((1 / 1.17e-6 + rest) / 3, rel=1e-12)


def test_hinge_label_mapping():
    """Keras maps {0, 1} to ±1 (losses.py:1616); optax takes the labels as they are."""
    pred, target = np.array([[0.3, -0.8]]), np.array([[1.0, 0.0]])
    keras = _value("keras", "Hinge", pred, target, dtype="float64")
    optax = _value("optax", "hinge_loss", pred, target, dtype="float64")
    assert float(keras.value) == pytest.approx((0.7 + 0.2) / 2)
    assert float(optax.value) == pytest.approx((0.7 + 1.0) / 2)


def test_optax_l2_loss_is_half_the_squared_error():
    pred, target = np.array([1.0, 3.0]), np.array([0.0, 0.0])
    assert float(_value("optax", "l2_loss", pred, target).value) == pytest.approx(2.5)
    assert float(_value("optax", "squared_error", pred, target).value) == pytest.approx(5.0)


# --- the command line -----------------------------------------------------------------------------


def test_done_means_numbers():
    keras = run_cli(["BinaryCrossentropy", "--pred", "0,0.9,1", "--target", "1,1,0", "-f", "value"])
    sklearn = run_cli(["log_loss", "--convention", "sklearn", "--pred", "0,0.9,1", "--target", "1,1,0", "-f", "value"])
    torch = run_cli(["bce", "--pred", "0,0.9,1", "--target", "1,1,0", "-f", "value"])
    assert keras.stdout.startswith("10.72"), keras.stderr
    assert sklearn.stdout.startswith("24.06"), sklearn.stderr
    assert torch.stdout.startswith("66.70"), torch.stderr


def test_convention_all_lists_every_library_with_its_reason():
    run = run_cli(["bce", "--pred", "0,0.9,1", "--target", "1,1,0", "--convention", "all", "-f", "json"])
    rows = {row["convention"]: row for row in run.json()["conventions"]}
    assert set(rows) == {"torch", "keras", "sklearn"}
    assert rows["torch"]["value"] == pytest.approx(66.7018, abs=1e-4)
    assert rows["keras"]["value"] == pytest.approx(10.7219, abs=1e-4)
    assert rows["sklearn"]["value"] == pytest.approx(24.0642, abs=1e-4)
    assert "1e-7" in rows["keras"]["reason"] and "eps" in rows["sklearn"]["reason"]
    table = run_cli(["bce", "--pred", "0,0.9,1", "--target", "1,1,0", "--convention", "all"])
    assert table.code == 0 and "BinaryCrossentropy" in table.stdout and "[eps, 1 − eps]" in table.stdout


def test_json_names_the_convention_only_when_one_was_chosen():
    base = ["mse", "--pred", "1,2", "--target", "0,0", "-f", "json"]
    assert "convention" not in run_cli(base).json()
    assert run_cli([*base, "--convention", "keras"]).json()["convention"] == "keras"
    table = run_cli(["mse", "--pred", "1,2", "--target", "0,0", "--convention", "keras"])
    assert "convention=keras" in table.stdout


def test_default_output_is_unchanged_by_the_new_options():
    args = ["huber", "--pred", "2,3,4,5", "--target", "4,5,6,7", "-f", "json"]
    assert run_cli(args).stdout == run_cli([*args, "--convention", "torch"]).stdout


@pytest.mark.parametrize(
    ("name", "expected_library"),
    [("mean_pinball_loss", "sklearn"), ("l2_loss", "optax"), ("Huber", "keras"), ("log_cosh_error", "torchmetrics")],
)
def test_a_name_only_one_library_uses_selects_it(name, expected_library):
    run = run_cli([name, "--pred", "1,2,3", "--target", "0,2,4", "-f", "json"])
    assert run.json()["convention"] == expected_library


def test_lowercase_lossctl_name_stays_pytorch():
    assert "convention" not in run_cli(["huber", "--pred", "1,2", "--target", "0,0", "-f", "json"]).json()


def test_library_parameters_pass_through_set():
    args = ["BinaryCrossentropy", "--pred", "0.5,-1", "--target", "1,0", "--set", "from_logits=true", "-f", "json"]
    out = run_cli(args).json()
    assert out["params"]["from_logits"] is True
    z = np.array([0.5, -1.0])
    expected = np.mean([np.log1p(np.exp(-z[0])), np.log1p(np.exp(z[1]))])
    assert out["value"] == pytest.approx(expected, rel=1e-6)
    assert_usage_error(run_cli([*args[:-2], "--set", "nonsense=1"]), "--set", "nonsense")


def test_sample_weight_and_keras_reduction_names():
    args = ["mse", "--convention", "keras", "--pred", "[[1,2],[3,4]]", "--target", "[[0,0],[0,0]]"]
    out = run_cli([*args, "--sample-weight", "1,3", "--reduction", "mean_with_sample_weight", "-f", "json"]).json()
    assert out["value"] == pytest.approx((2.5 * 1 + 12.5 * 3) / 4, rel=1e-6)
    none = run_cli([*args, "--sample-weight", "1,3", "--reduction", "none", "-f", "json"]).json()
    assert none["elements"] == pytest.approx([2.5, 37.5]) and none["sum"] == pytest.approx(40.0)
    assert_usage_error(run_cli(["mse", "--pred", "1", "--target", "0", "--sample-weight", "1"]), "--sample-weight")
    assert_usage_error(run_cli([*args, "--reduction", "batchmean"]), "--reduction")


def test_expect_says_which_convention_the_answer_matches():
    run = run_cli(["bce", "--pred", "0,0.9,1", "--target", "1,1,0", "--expect", "10.72"])
    assert run.code == 1
    assert "matches Keras's convention, not PyTorch's" in run.stderr
    ok = run_cli(["bce", "--convention", "keras", "--pred", "0,0.9,1", "--target", "1,1,0", "--expect", "10.72"])
    assert ok.code == 0
    other = run_cli(
        ["log_loss", "--convention", "sklearn", "--pred", "0,0.9,1", "--target", "1,1,0", "--expect", "66.70"]
    )
    assert other.code == 1 and "PyTorch's convention, not scikit-learn's" in other.stderr


def test_list_convention_shows_equivalents_and_gaps():
    out = run_cli(["list", "--convention", "keras", "--format", "json"]).json()
    by_name = {row["names"][0]: row for row in out["losses"]}
    assert by_name["BinaryCrossentropy"]["lossctl"] == "bce"
    assert by_name["CTC"]["lossctl"] is None
    table = run_cli(["list", "--convention", "sklearn"])
    assert table.code == 0 and "mean_pinball_loss" in table.stdout and "d2_brier_score" in table.stdout
    keras = run_cli(["list", "--convention", "keras"])  # Keras' CTC and Circle are not in lossctl yet
    assert keras.code == 0 and "not in lossctl yet" in keras.stdout and "CategoricalFocalCrossentropy" in keras.stdout


def test_convention_errors_are_usage_errors():
    assert_usage_error(run_cli(["mse", "--pred", "1", "--target", "0", "--convention", "tensorflow"]), "--convention")
    assert_usage_error(run_cli(["ssim", "--pred", "1", "--target", "0", "--convention", "keras"]), "--convention")
    assert_usage_error(
        run_cli(["log_loss", "--convention", "sklearn", "--pred", "0.2,0.3", "--target", "1,1"]), "only one label"
    )
    assert_usage_error(run_cli(["msle", "--convention", "sklearn", "--pred", "-2,1", "--target", "1,1"]), "≤ −1")
    assert_usage_error(
        run_cli(["r2_score", "--convention", "sklearn", "--pred", "1,2", "--target", "1,3", "--explain"]),
        "--explain",
        "whole-column",
    )


# --- differential tests against the libraries themselves (skipped when they are not installed) ---------

# The full matrix (every convention × parameter grid × reductions × sample weights) is generated from the
# declarations in tests/test_convention_matrix.py; here the cases it cannot generate.


def test_sklearn_log_loss_multiclass_and_edges_agree():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(RNG_SEED)
    pred = rng.dirichlet(np.ones(4), size=6)
    target = np.array([0, 1, 2, 3, 1, 2.0])
    assert float(_value("sklearn", "log_loss", pred, target).value) == pytest.approx(
        metrics.log_loss(target, pred), rel=1e-12
    )
    for p, t in (([0, 0.9, 1], [1, 1, 0]), ([0.0, 1.0], [0, 1]), ([1e-20, 0.5], [1, 0])):
        p, t = np.array(p, float), np.array(t, float)
        assert float(_value("sklearn", "log_loss", p, t).value) == pytest.approx(metrics.log_loss(t, p), rel=1e-12)


def test_info_lists_the_conventions_of_a_loss():
    out = run_cli(["info", "bce", "-f", "json"]).json()
    assert {row["convention"] for row in out["conventions"]} == {"keras", "sklearn"}
    assert all(row["source"] for row in out["conventions"])
    table = run_cli(["info", "categorical_hinge"])
    assert table.code == 0 and "CategoricalHinge" in table.stdout and "multiclass_hinge_loss" in table.stdout
    assert run_cli(["info", "ssim", "-f", "json"]).json()["conventions"] == []
