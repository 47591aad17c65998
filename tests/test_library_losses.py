"""The losses lossctl took from scikit-learn and torchmetrics, against those libraries (issue 14).

Every new declaration and convention is compared with the real library on random inputs of several
shapes, with and without sample weights, at the library's tolerance; gradients are compared with
central differences of the library's own value (scikit-learn has no autodiff) or with torch autograd
(torchmetrics).  Skipped cleanly when a library is absent.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numeric_gradient

from lossctl import compute
from lossctl.conventions.registry import LIBRARIES
from lossctl.conventions.run import compute_convention
from lossctl.losses.registry import LOSSES
from tests.conftest import keras_on_torch

SEEDS = range(4)


def convention(library: str, name: str, loss: str | None = None):
    return next(c for c in LIBRARIES[library].conventions if c.name == name and (loss is None or c.loss == loss))


def run(library: str, name: str, pred, target, weight=None, loss: str | None = None, reduction="mean", **settings):
    chosen = convention(library, name, loss)
    return compute_convention(
        LOSSES[chosen.loss],
        chosen,
        np.asarray(pred, float),
        np.asarray(target, float),
        reduction=reduction,
        sample_weight=weight,
        settings={k: str(v) for k, v in settings.items()},
    )


# --- inputs ---------------------------------------------------------------------------------------------


def regression_inputs(rng, shape, positive=False):
    if positive:
        return rng.uniform(0.2, 3.0, size=shape), rng.uniform(0.2, 3.0, size=shape)
    return rng.normal(size=shape) * 2, rng.normal(size=shape) * 2


# (sklearn function, lossctl name, settings, positive inputs, shapes)
SKLEARN_REGRESSION = [
    ("mean_tweedie_deviance", {"power": 0.0}, False, [(6,)]),
    ("mean_tweedie_deviance", {"power": 1.0}, True, [(6,)]),
    ("mean_tweedie_deviance", {"power": 1.5}, True, [(6,)]),
    ("mean_tweedie_deviance", {"power": 2.0}, True, [(6,)]),
    ("mean_tweedie_deviance", {"power": 3.0}, True, [(6,)]),
    ("mean_tweedie_deviance", {"power": -1.0}, True, [(6,)]),
    ("mean_poisson_deviance", {}, True, [(6,)]),
    ("mean_gamma_deviance", {}, True, [(6,)]),
    ("root_mean_squared_error", {}, False, [(6,), (5, 3)]),
    ("root_mean_squared_log_error", {}, True, [(6,), (5, 3)]),
    ("median_absolute_error", {}, False, [(6,), (7,), (5, 3)]),
    ("max_error", {}, False, [(6,)]),
    ("r2_score", {}, False, [(6,), (5, 3)]),
    ("explained_variance_score", {}, False, [(6,), (5, 3)]),
    ("d2_absolute_error_score", {}, False, [(6,), (7,), (5, 3)]),
    ("d2_pinball_score", {"alpha": 0.1}, False, [(6,), (5, 3)]),
    ("d2_pinball_score", {"alpha": 0.9}, False, [(7,), (5, 2)]),
    ("d2_tweedie_score", {"power": 0.0}, False, [(6,)]),
    ("d2_tweedie_score", {"power": 1.0}, True, [(6,)]),
    ("d2_tweedie_score", {"power": 1.5}, True, [(6,)]),
    ("d2_tweedie_score", {"power": 2.0}, True, [(6,)]),
]
NO_WEIGHTS = {"max_error"}
CASES = [
    (name, settings, positive, shape) for name, settings, positive, shapes in SKLEARN_REGRESSION for shape in shapes
]


def _case_id(case) -> str:
    name, settings, _, shape = case
    return f"{name}-{'-'.join(f'{k}{v}' for k, v in settings.items())}-{'x'.join(map(str, shape))}"


@pytest.mark.parametrize("seed", [pytest.param(s, marks=[pytest.mark.slow] if s else []) for s in SEEDS])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sklearn_regression_metrics_agree(case, weighted, seed):
    """Seed 0 in the quick loop (-m "not slow"), the other seeds in the full suite."""
    metrics = pytest.importorskip("sklearn.metrics")
    name, settings, positive, shape = case
    if weighted and name in NO_WEIGHTS:
        pytest.skip("scikit-learn's max_error takes no sample weights")
    function = getattr(metrics, name)
    rng = np.random.default_rng(seed)
    pred, target = regression_inputs(rng, shape, positive)
    weight = rng.uniform(0.2, 2.0, size=shape[0]) if weighted else None
    kwargs = {"sample_weight": weight} if weighted else {}
    expected = function(target, pred, **settings, **kwargs)
    got = run("sklearn", name, pred, target, weight, **settings)
    assert float(got.value) == pytest.approx(expected, rel=1e-10, abs=1e-12), (seed, name)

    def value(x):
        return function(target, x, **settings, **kwargs)

    np.testing.assert_allclose(got.grad, numeric_gradient(value, pred), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_lossctl_declarations_agree_with_sklearn_unweighted(case):
    """The lossctl declaration (not only the convention) gives scikit-learn's number where they coincide."""
    metrics = pytest.importorskip("sklearn.metrics")
    name, settings, positive, shape = case
    own = {
        "mean_tweedie_deviance": "tweedie_deviance",
        "mean_poisson_deviance": "poisson_deviance",
        "mean_gamma_deviance": "gamma_deviance",
        "root_mean_squared_log_error": "rmsle",
        "r2_score": "r2",
        "explained_variance_score": "explained_variance",
        "d2_absolute_error_score": "d2_absolute_error",
        "d2_pinball_score": "d2_pinball",
        "d2_tweedie_score": "d2_tweedie",
        "median_absolute_error": "median_absolute_error",
        "max_error": "max_error",
    }
    if name not in own or (name == "root_mean_squared_log_error" and len(shape) > 1):
        pytest.skip("lossctl's rmse/rmsle take the root of the overall mean, scikit-learn's per output")
    rng = np.random.default_rng(11)
    pred, target = regression_inputs(rng, shape, positive)
    expected = getattr(metrics, name)(target, pred, **settings)
    assert float(compute(own[name], pred, target, **settings).value) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_sklearn_multioutput_weights_and_raw_edges():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    pred, target = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    for name in ("r2_score", "root_mean_squared_error", "median_absolute_error", "d2_absolute_error_score"):
        expected = getattr(metrics, name)(target, pred, multioutput=[0.3, 0.7])
        got = run("sklearn", name, pred, target, multioutput="0.3,0.7")
        assert float(got.value) == pytest.approx(expected, rel=1e-10), name
    # force_finite: a constant target column
    constant = np.array([2.0, 2.0, 2.0])
    for name in ("r2_score", "explained_variance_score", "d2_absolute_error_score"):
        for guess in (constant, np.array([2.0, 2.5, 2.0])):
            expected = getattr(metrics, name)(constant, guess)
            assert float(run("sklearn", name, guess, constant).value) == expected, (name, guess)


def test_sklearn_weighted_median_with_zero_weights_and_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    target = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    pred = np.array([1.0, -3.0, 2.0, 4.0, -5.0, 6.0])
    for weight in ([1, 1, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0], [2, 1, 1, 2, 1, 1], [1, 1, 1, 1, 1, 0]):
        w = np.array(weight, float)
        expected = metrics.median_absolute_error(target, pred, sample_weight=w)
        assert float(run("sklearn", "median_absolute_error", pred, target, w).value) == pytest.approx(expected)


# --- Brier and hinge ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")
def test_sklearn_brier_agrees():
    metrics = pytest.importorskip("sklearn.metrics")
    count = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for classes in (1, 2, 3, 4):
            rows = 7
            labels = rng.integers(0, max(classes, 2), size=rows).astype(float)
            labels[: max(classes, 2)] = np.arange(max(classes, 2))  # every class appears, as sklearn needs
            pred = rng.uniform(0, 1, size=rows) if classes == 1 else rng.dirichlet(np.ones(classes), size=rows)
            if classes == 1:
                labels[2:] = rng.integers(0, 2, size=rows - 2)
            weight = rng.uniform(0.2, 2.0, size=rows)
            for scale in ("auto", "true", "false"):
                scale_arg = scale if scale == "auto" else scale == "true"
                for w in (None, weight):
                    expected = metrics.brier_score_loss(labels, pred, sample_weight=w, scale_by_half=scale_arg)
                    got = run("sklearn", "brier_score_loss", pred, labels, w, scale_by_half=scale)
                    assert float(got.value) == pytest.approx(expected, rel=1e-12)

                    def value(x, w=w, scale_arg=scale_arg, labels=labels):
                        return metrics.brier_score_loss(labels, x, sample_weight=w, scale_by_half=scale_arg)

                    np.testing.assert_allclose(got.grad, numeric_gradient(value, pred), rtol=1e-5, atol=1e-7)
                    count += 1
                own = compute("brier_score", pred, labels, scale_by_half=scale)
                expected = metrics.brier_score_loss(labels, pred, scale_by_half=scale_arg)
                assert float(own.value) == pytest.approx(expected, rel=1e-12)
    assert count == len(SEEDS) * 4 * 3 * 2
    # labels other than 0/1 and pos_label
    y = np.array([2.0, 5.0, 5.0, 2.0])
    p = np.array([0.1, 0.9, 0.8, 0.3])
    assert float(run("sklearn", "brier_score_loss", p, y).value) == pytest.approx(metrics.brier_score_loss(y, p))
    got = run("sklearn", "brier_score_loss", 1 - p, y, pos_label=2)
    assert float(got.value) == pytest.approx(metrics.brier_score_loss(y, 1 - p, pos_label=2))


def test_sklearn_hinge_agrees():
    metrics = pytest.importorskip("sklearn.metrics")
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for labels in ([0.0, 1.0], [-1.0, 1.0], [3.0, 7.0]):
            y = rng.choice(labels, size=8)
            y[:2] = labels
            d = rng.normal(size=8) * 2
            w = rng.uniform(0.2, 2.0, size=8)
            for weight in (None, w):
                got = run("sklearn", "hinge_loss", d, y, weight, loss="hinge")
                assert float(got.value) == pytest.approx(metrics.hinge_loss(y, d, sample_weight=weight), rel=1e-12)
                numeric = numeric_gradient(
                    lambda x, weight=weight, y=y: metrics.hinge_loss(y, x, sample_weight=weight), d
                )
                np.testing.assert_allclose(got.grad, numeric, rtol=1e-5, atol=1e-7)
        y = rng.integers(0, 4, size=9).astype(float)
        y[:4] = [0, 1, 2, 3]
        d = rng.normal(size=(9, 4)) * 2
        for loss in ("hinge", "categorical_hinge"):
            got = run("sklearn", "hinge_loss", d, y, loss=loss)
            assert float(got.value) == pytest.approx(metrics.hinge_loss(y, d), rel=1e-12)
            numeric = numeric_gradient(lambda x, y=y: metrics.hinge_loss(y, x), d)
            np.testing.assert_allclose(got.grad, numeric, rtol=1e-5, atol=1e-7)
        # the sklearn convention agrees with lossctl's own categorical_hinge (Crammer–Singer)
        own = compute("categorical_hinge", d, y)
        assert float(own.value) == pytest.approx(metrics.hinge_loss(y, d), rel=1e-12)


# --- torchmetrics ---------------------------------------------------------------------------------------

# (functional, settings, positive inputs)
TORCHMETRICS_GRID = [
    ("minkowski_distance", {"p": 1.0}, False),
    ("minkowski_distance", {"p": 1.5}, False),
    ("minkowski_distance", {"p": 2.0}, False),
    ("minkowski_distance", {"p": 4.0}, False),
    ("relative_squared_error", {"squared": True}, False),
    ("relative_squared_error", {"squared": False}, False),
    ("symmetric_mean_absolute_percentage_error", {}, False),
    ("weighted_mean_absolute_percentage_error", {}, False),
    ("tweedie_deviance_score", {"power": 0.0}, False),
    ("tweedie_deviance_score", {"power": 1.0}, True),
    ("tweedie_deviance_score", {"power": 1.5}, True),
    ("tweedie_deviance_score", {"power": 2.0}, True),
    ("tweedie_deviance_score", {"power": 3.0}, True),
    ("tweedie_deviance_score", {"power": -0.5}, True),
]
TM_SHAPES = [(7,), (5, 3)]


@pytest.mark.parametrize(("name", "settings", "positive"), TORCHMETRICS_GRID)
@pytest.mark.parametrize("shape", TM_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_torchmetrics_metrics_agree_with_autograd(name, settings, positive, shape):
    functional = pytest.importorskip("torchmetrics.functional")
    torch = pytest.importorskip("torch")
    for seed in SEEDS:
        pred, target = regression_inputs(np.random.default_rng(seed), shape, positive)
        x = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
        out = getattr(functional, name)(x, torch.tensor(target, dtype=torch.float64), **settings)
        out.backward()
        got = run("torchmetrics", name, pred, target, **settings)
        assert float(got.value) == pytest.approx(float(out.detach()), rel=1e-10), (seed, settings)
        np.testing.assert_allclose(got.grad, x.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_torchmetrics_declarations_agree_with_lossctl_own():
    """lossctl's own minkowski, relative_squared_error, smape, wmape and tweedie_deviance give torchmetrics' numbers."""
    functional = pytest.importorskip("torchmetrics.functional")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    pred, target = rng.uniform(0.2, 3.0, size=(6, 2)), rng.uniform(0.2, 3.0, size=(6, 2))
    t = (torch.tensor(pred, dtype=torch.float64), torch.tensor(target, dtype=torch.float64))
    pairs = [
        ("minkowski", {"p": 3.0}, functional.minkowski_distance(*t, p=3.0)),
        ("relative_squared_error", {}, functional.relative_squared_error(*t)),
        ("smape", {}, functional.symmetric_mean_absolute_percentage_error(*t)),
        ("wmape", {}, functional.weighted_mean_absolute_percentage_error(*t)),
        ("tweedie_deviance", {"power": 1.5}, functional.tweedie_deviance_score(*t, power=1.5)),
    ]
    for loss, params, expected in pairs:
        assert float(compute(loss, pred, target, **params).value) == pytest.approx(float(expected), rel=1e-10), loss


def test_torchmetrics_edges():
    """A constant target: RSE's denominator is floored at machine ε; zero targets: WMAPE's at 1.17e-6."""
    functional = pytest.importorskip("torchmetrics.functional")
    torch = pytest.importorskip("torch")
    pred, target = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    t = (torch.tensor(pred, dtype=torch.float64), torch.tensor(target, dtype=torch.float64))
    assert float(run("torchmetrics", "relative_squared_error", pred, target).value) == pytest.approx(
        float(functional.relative_squared_error(*t)), rel=1e-12
    )
    zeros = np.zeros(3)
    tz = (torch.tensor(pred, dtype=torch.float64), torch.tensor(zeros, dtype=torch.float64))
    assert float(run("torchmetrics", "weighted_mean_absolute_percentage_error", pred, zeros).value) == pytest.approx(
        float(functional.weighted_mean_absolute_percentage_error(*tz)), rel=1e-12
    )
    assert float(run("torchmetrics", "symmetric_mean_absolute_percentage_error", zeros, zeros).value) == 0.0
    with pytest.raises(Exception, match="power"):
        run("torchmetrics", "tweedie_deviance_score", pred, target, power=0.5)


# --- Keras: pooled Dice and Tversky -------------------------------------------------------------------


def _keras():
    return keras_on_torch()


KERAS_POOLED = [
    ("Dice", {}),
    ("Tversky", {}),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}),
    ("Tversky", {"alpha": 0.9, "beta": 0.1}),
]


@pytest.mark.parametrize(("name", "kwargs"), KERAS_POOLED)
@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 4)], ids=lambda s: "x".join(map(str, s)))
def test_keras_pooled_overlap_losses_agree(name, kwargs, shape):
    keras, torch = _keras()
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        pred = rng.uniform(0.0, 1.0, size=shape)
        target = rng.integers(0, 2, size=shape).astype(float)
        for reduction in ("sum_over_batch_size", "sum"):
            x = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
            out = getattr(keras.losses, name)(reduction=reduction, **kwargs)(
                torch.tensor(target, dtype=torch.float32), x
            )
            out.backward()
            got = run("keras", name, pred, target, reduction=reduction, **kwargs)
            assert got.dtype == "float32"
            assert float(got.value) == pytest.approx(float(out.detach()), rel=2e-6, abs=1e-6)
            np.testing.assert_allclose(got.grad, x.grad.numpy(), rtol=2e-4, atol=1e-6)


def test_keras_tversky_swaps_alpha_and_beta_against_lossctl():
    """Keras' α weighs Σ(1 − p)t, the paper's (and lossctl's) β: swapping them gives lossctl's pooled index."""
    pred = np.array([0.9, 0.2, 0.7, 0.4])
    target = np.array([1.0, 0.0, 0.0, 1.0])
    keras = float(run("keras", "Tversky", pred, target, alpha=0.3, beta=0.7).value)
    tp, fp, fn = np.sum(pred * target), np.sum(pred * (1 - target)), np.sum((1 - pred) * target)
    paper_swapped = 1 - tp / (tp + 0.7 * fp + 0.3 * fn + 1e-7)  # paper: α on FP, β on FN
    assert keras == pytest.approx(paper_swapped, rel=1e-6)
    assert keras != pytest.approx(1 - tp / (tp + 0.3 * fp + 0.7 * fn + 1e-7), rel=1e-3)


def test_whole_column_metrics_report_the_metric_as_sum_and_mean():
    """Elements are contributions: value, sum and mean are the metric, for lossctl's declaration and the convention."""
    pred, target = np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0])
    own = compute("r2", pred, target)
    library = run("sklearn", "r2_score", pred, target)
    for result in (own, library):
        assert result.value == pytest.approx(0.9486081370449679, rel=1e-12)
        assert result.sum == pytest.approx(result.value, rel=1e-12)
        assert result.mean == pytest.approx(result.value, rel=1e-12)
        assert np.sum(result.elements) == pytest.approx(result.value, rel=1e-12)
