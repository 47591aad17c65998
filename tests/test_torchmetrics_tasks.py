"""torchmetrics' hinge_loss / HingeLoss task wrappers and kl_divergence / KLDivergence, against torchmetrics itself.

Values to 1e-12 relative in float64, gradients against torch autograd through torchmetrics' own functional,
over seeds × shapes × the task / num_classes / squared / multiclass_mode / ignore_index grid, log_prob and
every reduction; torchmetrics' refusals (task missing or unknown, num_classes missing, < 2 or not the class
count) are refusals here too, one line naming the option.  Skipped without torchmetrics
(``pip install 'lossctl[reference]'``).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from conftest import assert_usage_error, run_cli

from lossctl.conventions.registry import LIBRARIES
from lossctl.conventions.run import compute_convention
from lossctl.errors import InputError
from lossctl.losses.registry import LOSSES

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")
from torchmetrics.classification import HingeLoss  # noqa: E402
from torchmetrics.functional import kl_divergence  # noqa: E402
from torchmetrics.functional.classification import hinge_loss  # noqa: E402
from torchmetrics.regression import KLDivergence  # noqa: E402

SEEDS = (0, 1, 2)
WRAPPER = next(c for c in LIBRARIES["torchmetrics"].conventions if c.name == "hinge_loss")
KL = next(c for c in LIBRARIES["torchmetrics"].conventions if c.name == "kl_divergence")


def _ours(convention, pred, target, reduction="mean", **settings):
    return compute_convention(
        LOSSES[convention.loss],
        convention,
        pred,
        target,
        reduction=reduction,
        dtype="float64",
        settings={k: str(v) for k, v in settings.items()},
    )


def _close(ours, theirs, grad_ours=None, grad_theirs=None, where=""):
    np.testing.assert_allclose(np.atleast_1d(ours), np.atleast_1d(theirs), rtol=1e-12, atol=1e-15, err_msg=where)
    if grad_ours is not None:
        np.testing.assert_allclose(grad_ours, grad_theirs, rtol=1e-10, atol=1e-14, err_msg=where)


# --- hinge_loss(task="binary") ------------------------------------------------------------------------------

BINARY_GRID = [
    {"squared": squared, **({} if ignore is None else {"ignore_index": ignore})}
    for squared, ignore in itertools.product((False, True), (None, -1))
]


def _binary_inputs(seed: int, shape: tuple[int, ...], logits: bool):
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=shape) * 2 if logits else rng.uniform(0.02, 0.98, size=shape)
    target = rng.integers(0, 2, size=shape).astype(float)
    return pred, target


@pytest.mark.parametrize("settings", BINARY_GRID, ids=str)
@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("seed", SEEDS)
def test_binary_task_matches_torchmetrics(seed, logits, shape, settings):
    pred, target = _binary_inputs(seed, shape, logits)
    if "ignore_index" in settings:
        target.flat[0] = settings["ignore_index"]
    p = torch.tensor(pred, requires_grad=True)
    out = hinge_loss(p, torch.tensor(target, dtype=torch.long), task="binary", **settings)
    out.backward()
    ours = _ours(WRAPPER, pred, target, task="binary", **settings)
    _close(ours.value, out.item(), ours.grad, p.grad.numpy(), f"{seed} {shape} {settings}")
    metric = HingeLoss(task="binary", **settings).set_dtype(torch.float64)  # the class (float32 states by default)
    assert float(metric(torch.tensor(pred), torch.tensor(target, dtype=torch.long))) == pytest.approx(
        float(ours.value), rel=1e-12
    )


# --- hinge_loss(task="multiclass") --------------------------------------------------------------------------

MULTICLASS_GRID = [
    {"squared": squared, "multiclass_mode": mode, **({} if ignore is None else {"ignore_index": ignore})}
    for squared, mode, ignore in itertools.product((False, True), ("crammer-singer", "one-vs-all"), (None, -1))
]


def _multiclass_inputs(seed: int, rows: int, classes: int, logits: bool):
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=(rows, classes)) * 2 if logits else rng.dirichlet(np.ones(classes), size=rows)
    return pred, (np.arange(rows) % classes).astype(float)


@pytest.mark.parametrize("settings", MULTICLASS_GRID, ids=str)
@pytest.mark.parametrize(("rows", "classes"), [(5, 3), (6, 2), (4, 5)], ids=str)
@pytest.mark.parametrize("logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_task_matches_torchmetrics(seed, logits, rows, classes, settings):
    pred, target = _multiclass_inputs(seed, rows, classes, logits)
    if "ignore_index" in settings:
        target[0] = settings["ignore_index"]
    p = torch.tensor(pred, requires_grad=True)
    labels = torch.tensor(target, dtype=torch.long)
    out = hinge_loss(p, labels, task="multiclass", num_classes=classes, **settings)
    out.sum().backward()  # one-vs-all: one value per class, the gradient of their sum
    ours = _ours(WRAPPER, pred, target, task="multiclass", num_classes=classes, **settings)
    _close(ours.value, out.detach().numpy(), ours.grad, p.grad.numpy(), f"{seed} {rows}x{classes} {settings}")
    metric = HingeLoss(task="multiclass", num_classes=classes, **settings).set_dtype(torch.float64)
    np.testing.assert_allclose(np.atleast_1d(ours.value), metric(torch.tensor(pred), labels).numpy(), rtol=1e-12)


def test_docstring_examples_of_the_wrapper():
    """hinge.py:263-278 (functional) and classification/hinge.py:337-353 (class): 0.9000, 1.5551, one-vs-all."""
    assert float(_ours(WRAPPER, [0.5, 0.7, 0.1], [0, 1, 1], task="binary").value) == pytest.approx(0.9, abs=5e-5)
    scores = [[-1.0, 0.9, 0.2], [0.5, -1.1, 0.8], [2.2, -0.5, 0.3]]
    crammer = _ours(WRAPPER, scores, [0, 1, 2], task="multiclass", num_classes=3)
    assert float(crammer.value) == pytest.approx(1.5551, abs=5e-5)
    ova = _ours(WRAPPER, scores, [0, 1, 2], task="multiclass", num_classes=3, multiclass_mode="one-vs-all")
    np.testing.assert_allclose(ova.value, [1.3743, 1.1945, 1.2359], atol=5e-5)


# --- torchmetrics' refusals are refusals here ----------------------------------------------------------------

SCORES = [[-1.0, 0.9, 0.2], [0.5, -1.1, 0.8], [2.2, -0.5, 0.3]]
REFUSED = [  # (settings, pred, target, the option the message names)
    ({}, [0.5, 0.7, 0.1], [0, 1, 1], "--task"),
    ({"task": "multilabel"}, [0.5, 0.7, 0.1], [0, 1, 1], "--task"),
    ({"task": "multi-class"}, SCORES, [0, 1, 2], "--task"),
    ({"task": "multiclass"}, SCORES, [0, 1, 2], "--num-classes"),
    ({"task": "multiclass", "num_classes": 1}, SCORES, [0, 1, 2], "--num-classes"),
    ({"task": "multiclass", "num_classes": 4}, SCORES, [0, 1, 2], "--num-classes"),
    ({"task": "binary"}, [0.5, 0.7, 0.1], [0, 2, 1], "--target"),
]


def _torchmetrics_raises(settings, pred, target) -> bool:
    try:
        hinge_loss(torch.tensor(pred), torch.tensor(target), **settings)
    except (TypeError, ValueError, RuntimeError):
        return True
    return False


@pytest.mark.parametrize(("settings", "pred", "target", "option"), REFUSED, ids=lambda v: str(v)[:30])
def test_refused_where_torchmetrics_raises(settings, pred, target, option):
    assert _torchmetrics_raises(settings, pred, target)
    with pytest.raises(InputError, match=option):
        _ours(WRAPPER, pred, target, **settings)
    args = ["HingeLoss", "--pred", json.dumps(pred), "--target", json.dumps(target)]
    for name, value in settings.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    assert_usage_error(run_cli(args), option)


def test_task_is_case_insensitive_as_in_torchmetrics():
    assert float(_ours(WRAPPER, [0.5, 0.7, 0.1], [0, 1, 1], task="Binary").value) == pytest.approx(
        float(hinge_loss(torch.tensor([0.5, 0.7, 0.1], dtype=torch.float64), torch.tensor([0, 1, 1]), task="Binary")),
        rel=1e-12,
    )


# --- the command line ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["hinge_loss", "--convention", "torchmetrics", "--task", "binary"],
        ["HingeLoss", "--task", "binary"],
        ["HingeLoss", "--set", "task=binary"],
        ["hinge_loss", "--convention", "torchmetrics", "--set", "task=binary", "--squared"],
    ],
    ids=" ".join,
)
def test_cli_task_options(args):
    pred, target = [0.5, 0.7, 0.1, -0.3], [0, 1, 1, 0]
    run = run_cli([*args, "--pred", json.dumps(pred), "--target", json.dumps(target), "-f", "json"])
    assert run.code == 0, run.stderr
    out = run.json()
    expected = hinge_loss(
        torch.tensor(pred, dtype=torch.float64), torch.tensor(target), task="binary", squared="--squared" in args
    )
    assert out["convention"] == "torchmetrics" and out["value"] == pytest.approx(float(expected), rel=1e-12)


def test_cli_multiclass_one_value_per_class():
    run = run_cli(
        [
            *("HingeLoss", "--task", "multiclass", "--num-classes", "3", "--multiclass-mode", "one-vs-all"),
            *("--pred", json.dumps(SCORES), "--target", "0,1,2", "-f", "json"),
        ]
    )
    assert run.code == 0, run.stderr
    np.testing.assert_allclose(run.json()["value"], [1.3743, 1.1945, 1.2359], atol=5e-5)


def test_a_library_option_under_pytorch_is_refused():
    """hinge_loss is PyTorch's by default (several libraries share the name): --task needs --convention."""
    run = run_cli(["hinge_loss", "--task", "binary", "--pred", "0.5,0.7", "--target", "0,1"])
    assert_usage_error(run, "--task", "--convention torchmetrics")
    run = run_cli(["hinge_loss", "--convention", "sklearn", "--task", "binary", "--pred", "0.5,0.7", "--target", "0,1"])
    assert_usage_error(run, "--task", "scikit-learn", "--convention torchmetrics")


def test_the_table_of_a_hinge_convention_renders():
    """lossctl's own table columns (the margin) describe PyTorch's hinge, not torchmetrics': not shown."""
    for args in (["binary_hinge_loss"], ["HingeLoss", "--task", "binary"]):
        run = run_cli([*args, "--pred", "0.5,0.7,0.1", "--target", "0,1,1"])
        assert run.code == 0, run.stderr
        assert "convention=torchmetrics" in run.stdout


# --- kl_divergence(p, q) ---------------------------------------------------------------------------------------


def _distributions(seed: int, rows: int, classes: int, log_prob: bool, zeros: bool):
    rng = np.random.default_rng(seed)
    p, q = rng.uniform(0.05, 3.0, size=(rows, classes)), rng.uniform(0.05, 3.0, size=(rows, classes))
    if zeros:
        p[0, 0] = 0.0  # xlogy: a zero of p contributes 0
    if log_prob:
        p, q = np.log(p / p.sum(1, keepdims=True) + 1e-300), np.log(q / q.sum(1, keepdims=True))
    return p, q


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("log_prob", [False, True])
@pytest.mark.parametrize(("rows", "classes", "zeros"), [(1, 3, False), (4, 3, False), (5, 7, True), (3, 2, True)])
@pytest.mark.parametrize("seed", SEEDS)
def test_kl_divergence_matches_torchmetrics(seed, rows, classes, zeros, log_prob, reduction):
    p, q = _distributions(seed, rows, classes, log_prob, zeros and not log_prob)
    q_torch = torch.tensor(q, requires_grad=True)
    out = kl_divergence(torch.tensor(p), q_torch, log_prob=log_prob, reduction=reduction)
    out.sum().backward()
    ours = _ours(KL, q, p, reduction, log_prob=log_prob)  # --pred is q, --target is p
    theirs = q_torch.grad.numpy()
    # A zero of p: torchmetrics' _safe_xlogy masks the value (0 · log 0 → 0) but its backward is 0 · (0/0) = nan,
    # spread over the row by the normalisation; lossctl gives the derivative of the value (−p̂/q + 1/Σq).
    torn = np.any(p == 0, axis=1)
    assert np.all(np.isnan(theirs[torn])) and np.all(np.isfinite(ours.grad))
    _close(ours.value, out.detach().numpy(), ours.grad[~torn], theirs[~torn], f"{seed} {log_prob} {reduction}")
    if torn.any():  # there: central differences of torchmetrics' own (finite) value
        from gradcheck import numeric_gradient

        def value(x):
            return float(kl_divergence(torch.tensor(p), torch.tensor(x), reduction=reduction).sum())

        np.testing.assert_allclose(ours.grad, numeric_gradient(value, q), rtol=1e-6, atol=1e-8)
    if reduction != "none":
        metric = KLDivergence(log_prob=log_prob, reduction=reduction).set_dtype(torch.float64)
        assert float(metric(torch.tensor(p), torch.tensor(q))) == pytest.approx(float(ours.value), rel=1e-12)


UNIFORM_TARGET = ("--target", "[[0.36,0.48,0.16]]", "-f", "json")


def test_kl_divergence_docstring_and_cli():
    """kl_divergence.py:106-111: p = [[0.36, 0.48, 0.16]], q = uniform → 0.0853; q is --pred."""
    for name in (["kl_divergence", "--convention", "torchmetrics"], ["KLDivergence", "--convention", "torchmetrics"]):
        run = run_cli(
            [*name, "--pred", "[[0.3333333333333333,0.3333333333333333,0.3333333333333333]]", *UNIFORM_TARGET]
        )
        assert run.code == 0, run.stderr
        assert run.json()["value"] == pytest.approx(0.0853, abs=5e-5)
        assert "batchmean" in KL.reason and "kl_divergence.py" in KL.source


def test_kl_divergence_refuses_what_torchmetrics_refuses():
    with pytest.raises(ValueError, match="2D"):
        kl_divergence(torch.tensor([0.2, 0.8]), torch.tensor([0.5, 0.5]))
    run = run_cli(["kl_divergence", "--convention", "torchmetrics", "--pred", "0.5,0.5", "--target", "0.2,0.8"])
    assert_usage_error(run, "2-D")
