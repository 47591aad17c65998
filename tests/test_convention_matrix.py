"""The differential matrix, generated from the convention declarations, against the real libraries.

Every convention × its parameter grid × the library's reductions × with and without sample weights.
Nothing here is hand-listed per loss: the cases come from ``LIBRARIES`` (names, parameters, reductions,
sample-weight rule) and the parameter values from each ``Param`` (a bool flipped, a float moved inside
its range; integer and free-form parameters take the values in ``BY_PARAMETER``).  Keras runs on its
torch backend with torch autograd for gradients, optax with ``jax.value_and_grad``, torchmetrics with
torch autograd, scikit-learn with central differences of scikit-learn itself.  A library that is not
installed skips its cases.  Besides the matrix: every library-owned name selects its library.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import run_cli
from gradcheck import numeric_gradient
from test_conventions import NO_SAMPLE_WEIGHT, POOLED, RNG_SEED, SHAPES, _applies, inputs

from lossctl.conventions.base import Convention
from lossctl.conventions.registry import BY_NAME, LIBRARIES, TORCH_NAMES, _torch_functional_names
from lossctl.conventions.run import compute_convention
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Param

os.environ.setdefault("KERAS_BACKEND", "torch")

# values for parameters whose range the declaration cannot give (integers, labels, weights per output)
BY_PARAMETER: dict[str, list] = {
    "axis": [0],
    "ignore_class": [1],
    "ignore_index": [1],
    "power": [1.5],  # Tweedie: ≤ 0 or ≥ 1
    "scale_by_half": ["false"],
    "num_outputs": [3],  # with the (4, 3) shape
    "num_classes": [3],
    "adjusted": [1],
    "multiclass_mode": ["one-vs-all"],
    "task": ["multiclass"],
}
CHOICE_ALPHA = ["0.2,0.5,1.0"]  # Keras CategoricalFocalCrossentropy: α per class (three classes)


def _multioutput(param: Param) -> list:
    """What the declaration's help offers: raw_values, variance_weighted, weights per output (three outputs)."""
    offered = [choice for choice in ("raw_values", "variance_weighted") if choice in param.help]
    return offered + (["0.2,0.3,0.5"] if "W1,W2" in param.help else [])


def moved(param: Param) -> list:
    """A value other than the default, inside the declared range (none when the declaration cannot tell)."""
    if param.name in BY_PARAMETER:
        return BY_PARAMETER[param.name]
    if param.name == "multioutput":
        return _multioutput(param)
    if param.kind == "bool":
        return [not param.default]
    if param.kind == "choice" and param.name == "alpha":
        return CHOICE_ALPHA
    if param.kind != "float":
        return []
    value = 0.3 if not param.default else 0.6 * float(param.default)
    if param.high is not None:
        value = min(value, float(param.high))
    if param.low is not None:
        value = max(value, float(param.low))
    return [] if value == param.default else [value]


def grid(convention: Convention) -> list[dict]:
    """The defaults, each parameter moved on its own, and all of them moved together."""
    single = [{p.name: v} for p in convention.params for v in moved(p)]
    together = {k: v for setting in single for k, v in setting.items()}
    return [{}, *single, *([together] if len(single) > 1 else [])]


def _case_applies(convention: Convention, shape: tuple[int, ...], settings: dict) -> bool:
    if shape != (4, 3) and (settings.get("num_outputs", 1) > 1 or "," in str(settings.get("multioutput", ""))):
        return False
    return _applies(convention.library, convention.name, shape)


def _cases(library: str, skip: set[str] = frozenset()) -> list:
    """Every convention × shape × setting; the quick loop (-m "not slow") keeps each convention's first case."""
    cases = []
    for c in LIBRARIES[library].conventions:
        applying = [(shape, settings) for shape in SHAPES for settings in grid(c) if _case_applies(c, shape, settings)]
        for index, (shape, settings) in enumerate([] if c.name in skip else applying):
            case_id = f"{c.name}-{'x'.join(map(str, shape))}-{settings}"
            cases.append(pytest.param(c.name, shape, settings, id=case_id, marks=[pytest.mark.slow] if index else []))
    return cases


def _convention(library: str, name: str) -> Convention:
    return next(c for c in LIBRARIES[library].conventions if name in c.names)


def _inputs(library: str, name: str, shape: tuple[int, ...], settings: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    pred, target = inputs(library, _convention(library, name).name, rng, shape)
    if settings.get("from_logits"):
        pred = np.log(pred / (1 - pred)) if "Binary" in name else np.log(pred)
    if "ignore_class" in settings:
        target[0] = settings["ignore_class"]
    return pred, target


def _ours(library: str, name: str, pred, target, reduction: str, weight, settings: dict, dtype=None):
    convention = _convention(library, name)
    return compute_convention(
        LOSSES[convention.loss],
        convention,
        pred,
        target,
        reduction=reduction,
        dtype=dtype,
        sample_weight=weight,
        settings={k: str(v) for k, v in settings.items()},
    )


def _weights(library: str, name: str, pred: np.ndarray, settings: dict) -> list:
    if not LIBRARIES[library].sample_weight or name in NO_SAMPLE_WEIGHT or "axis" in settings:
        return [None]
    return [None, np.random.default_rng(RNG_SEED + 7).uniform(0.5, 2.0, size=pred.shape[0])]


def _numbers(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


# --- Keras (torch backend, torch autograd) ------------------------------------------------------------

KERAS_REDUCTIONS = ("sum_over_batch_size", "sum", "mean_with_sample_weight", "none")


def _keras_kwargs(settings: dict) -> dict:
    return {k: (_numbers(v) if isinstance(v, str) else v) for k, v in settings.items()}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "shape", "settings"), _cases("keras", POOLED))
def test_keras_matrix(name, shape, settings):
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras differential tests run on its torch backend")
    pred, target = _inputs("keras", name, shape, settings)
    for reduction in KERAS_REDUCTIONS:
        for weight in _weights("keras", name, pred, settings):
            loss = getattr(keras.losses, name)(reduction=reduction, **_keras_kwargs(settings))
            p = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
            w = None if weight is None else torch.tensor(weight, dtype=torch.float32)
            out = loss(torch.tensor(target, dtype=torch.float32), p, sample_weight=w)
            out.sum().backward()
            ours = _ours("keras", name, pred, target, reduction, weight, settings)
            where = f"{name} {settings} {reduction} weight={weight is not None}"
            np.testing.assert_allclose(
                np.asarray(ours.value), out.detach().numpy(), rtol=2e-5, atol=1e-6, err_msg=where
            )
            np.testing.assert_allclose(ours.grad, p.grad.numpy(), rtol=2e-4, atol=1e-6, err_msg=where)


# --- optax (jax.value_and_grad, float32) ------------------------------------------------------------------

INTEGER_LABELS = {
    "softmax_cross_entropy_with_integer_labels",
    "multiclass_hinge_loss",
    "ntxent",
    "multiclass_sparsemax_loss",
    "sparsemax_loss",
}
OPTAX_CASES = [
    pytest.param(name, shape, settings, id=f"{name}-{'x'.join(map(str, shape))}-{settings}")
    for c in LIBRARIES["optax"].conventions
    for name in c.names
    for shape in SHAPES
    for settings in grid(c)
    if _case_applies(c, shape, settings)
    and not (c.loss in ("cross_entropy", "categorical_hinge", "kl_div", "poly1_cross_entropy") and len(shape) < 2)
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "shape", "settings"), OPTAX_CASES)
def test_optax_matrix(name, shape, settings):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    pred, target = _inputs("optax", name, shape, settings)
    if name == "softmax_cross_entropy_with_integer_labels":
        target = np.argmax(target, axis=-1).astype(float) if target.ndim == pred.ndim else target
    function = getattr(optax.losses, name)
    labels = jnp.asarray(target, dtype=jnp.int32 if name in INTEGER_LABELS else jnp.float32)
    if name == "multiclass_hinge_loss" and target.ndim == pred.ndim:
        labels = jnp.asarray(np.argmax(target, axis=-1), dtype=jnp.int32)
    for reduction, reduce in (("mean", jnp.mean), ("sum", jnp.sum), ("none", jnp.sum)):

        def library(x, reduce=reduce):
            return reduce(function(x, labels, **settings))

        value, grad = jax.value_and_grad(library)(jnp.asarray(pred, dtype=jnp.float32))
        ours = _ours("optax", name, pred, target, reduction, None, settings)
        assert ours.dtype == "float32"
        where = f"{name} {settings} {reduction}"
        if reduction == "none":
            unreduced = np.asarray(function(jnp.asarray(pred, dtype=jnp.float32), labels, **settings))
            expected = np.sum(unreduced) if _convention("optax", name).contributions else unreduced
            actual = np.sum(ours.value) if _convention("optax", name).contributions else ours.value
            np.testing.assert_allclose(actual, expected, rtol=2e-6, atol=1e-6, err_msg=where)
        else:
            np.testing.assert_allclose(float(ours.value), float(value), rtol=2e-6, atol=1e-6, err_msg=where)
        np.testing.assert_allclose(ours.grad, np.asarray(grad), rtol=2e-5, atol=1e-6, err_msg=where)


# --- scikit-learn (float64; gradients by central differences of scikit-learn) ---------------------------


def _sklearn_kwargs(settings: dict) -> dict:
    out = {}
    for key, value in settings.items():
        if key in ("multioutput", "labels"):
            out[key] = value if value in ("raw_values", "variance_weighted") else _numbers(value)
        elif key == "scale_by_half":
            out[key] = value == "true"
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(("name", "shape", "settings"), _cases("sklearn"))
def test_sklearn_matrix(name, shape, settings):
    metrics = pytest.importorskip("sklearn.metrics")
    function = getattr(metrics, name)
    pred, target = _inputs("sklearn", name, shape, settings)
    convention = _convention("sklearn", name)
    reductions = [r for r in (convention.reductions or LIBRARIES["sklearn"].reductions) if r != "none"]
    for reduction in reductions:
        for weight in _weights("sklearn", name, pred, settings):
            kwargs = _sklearn_kwargs(settings)
            if weight is not None:
                kwargs["sample_weight"] = weight
            if reduction == "sum":  # log_loss(normalize=False)
                kwargs["normalize"] = False

            def theirs(x, kwargs=kwargs):
                return np.sum(function(target, x, **kwargs))  # raw_values: the gradient is that of their sum

            ours = _ours("sklearn", name, pred, target, reduction, weight, settings, dtype="float64")
            where = f"{name} {settings} {reduction} weight={weight is not None}"
            expected = np.atleast_1d(function(target, pred, **kwargs))
            np.testing.assert_allclose(np.atleast_1d(ours.value), expected, rtol=1e-12, atol=1e-14, err_msg=where)
            np.testing.assert_allclose(ours.grad, numeric_gradient(theirs, pred), rtol=1e-5, atol=1e-8, err_msg=where)


# --- torchmetrics (float64, torch autograd) ----------------------------------------------------------------

TORCHMETRICS_REQUIRED = {"minkowski_distance": {"p": 2.0}}  # lossctl's default for a required argument


# the task wrapper and kl_divergence have their own grid in tests/test_torchmetrics_tasks.py
@pytest.mark.parametrize(("name", "shape", "settings"), _cases("torchmetrics", skip={"hinge_loss", "kl_divergence"}))
def test_torchmetrics_matrix(name, shape, settings):
    pytest.importorskip("torchmetrics")
    torch = pytest.importorskip("torch")
    import torchmetrics.functional.classification as classification
    import torchmetrics.functional.regression as regression

    functional = classification if "hinge" in name else regression
    pred, target = _inputs("torchmetrics", name, shape, settings)
    p = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    kwargs = {**TORCHMETRICS_REQUIRED.get(name, {}), **settings}
    labels = torch.tensor(target, dtype=torch.long if "hinge" in name else torch.float64)
    if name == "multiclass_hinge_loss":
        kwargs.setdefault("num_classes", pred.shape[1])
    out = getattr(functional, name)(p, labels, **kwargs)
    out.sum().backward()  # one value per output: the gradient of their sum
    ours = _ours("torchmetrics", name, pred, target, "mean", None, settings, dtype="float64")
    expected = np.atleast_1d(out.detach().numpy())
    np.testing.assert_allclose(np.atleast_1d(ours.value), expected, rtol=1e-12, atol=1e-15, err_msg=str(settings))
    np.testing.assert_allclose(ours.grad, p.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=str(settings))


# --- names: every library-owned name selects its library ---------------------------------------------------


def expected_library(name: str) -> str:
    """lossctl's canonical names and PyTorch's names stay PyTorch's; a name one library alone uses selects it."""
    if name in LOSSES or name in TORCH_NAMES or name in _torch_functional_names():
        return "torch"
    libraries = {c.library for c in BY_NAME[name]}
    return libraries.pop() if len(libraries) == 1 else "torch"


def _cli_inputs(convention: Convention) -> list[str]:
    shape = (5,) if _applies(convention.library, convention.name, (5,)) else (4, 3)
    pred, target = inputs(convention.library, convention.name, np.random.default_rng(RNG_SEED), shape)
    required = ["--task", "binary"] if convention.names == ("hinge_loss", "HingeLoss") else []
    return ["--pred", str(pred.tolist()), "--target", str(target.tolist()), *required]


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_library_name_selects_its_library(name):
    convention = BY_NAME[name][0]
    run = run_cli([name, *_cli_inputs(convention), "-f", "json"])
    assert run.code == 0, run.stderr
    out = run.json()
    library = expected_library(name)
    assert out.get("convention", "torch") == library, name
    if library != "torch":
        assert out["loss"] == next(c.loss for c in BY_NAME[name] if c.library == library)


def test_names_lossctl_also_uses_as_aliases():
    """sigmoid_binary_cross_entropy (optax) and log_loss (scikit-learn) are library-owned; huber_loss is also
    torch.nn.functional's, mean_squared_error is shared: both stay PyTorch's."""
    assert expected_library("sigmoid_binary_cross_entropy") == "optax"
    assert expected_library("log_loss") == "sklearn"
    assert expected_library("binary_crossentropy") == "keras"
    assert expected_library("huber_loss") == "torch"
    assert expected_library("mean_squared_error") == "torch"
    assert expected_library("hinge") == "torch"  # lossctl's own canonical name


def test_the_grid_moves_every_declared_parameter_it_can():
    """Each parameter of each convention is moved by the grid, except labels/pos_label (data-dependent)."""
    unmoved = {
        (c.library, c.name, p.name)
        for library in LIBRARIES.values()
        for c in library.conventions
        for p in c.params
        if not moved(p)
    }
    assert {name for _, _, name in unmoved} <= {"labels", "pos_label"}, unmoved
