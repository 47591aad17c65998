"""Domain messages name values to their last digit and no empty index; ``info ctc`` tells the truth about its
gradient; ``psnr --explain`` shows its working (red-team items 3, 7 and 8)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl.evaluation.core import compute
from lossctl.losses.checks import value_text
from lossctl.losses.registry import LOSSES

# --- item 3: values to the last digit, a sensible index ---------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["bce", "--pred", "1.0000000000000002", "--target", "1"], "--pred[0] is 1.0000000000000002"),
        (["bce", "--pred", "0.5", "--target", "1.0000001"], "--target[0] is 1.0000001"),
        (["bce", "--pred", "0.5,-1e-300", "--target", "1,1"], "--pred[1] is -1e-300"),
        (["bce", "--pred", "0.5", "--target", "1.0000001", "--dtype", "float32"], "--target[0] is 1.0000001"),
        (["bce", "--pred", "[[0.5]]", "--target", "[[1.5]]"], "--target[0, 0] is 1.5"),
        (["gaussian_nll", "--pred", "1", "--target", "1", "--var", "-1e-300"], "--var[0] is -1e-300"),
        (["poisson_nll", "--pred", "1", "--target", "-0.5", "--no-log-input"], "--target[0] is -0.5"),
        (["hinge", "--pred", "1,2", "--target", "1,2"], "--target[1] is 2"),
    ],
)
def test_domain_errors_print_the_value_as_typed(cli, argv: list[str], fragment: str) -> None:
    assert_usage_error(cli(argv), fragment)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["cross_entropy", "--pred", "1,2,3", "--target", "5"], "but --target is 5"),
        (["cross_entropy", "--pred", "1,2,3", "--target", "-2"], "but --target is -2"),
        (["nll", "--pred", "0.1,0.9", "--target", "3"], "but --target is 3"),
        (["multi_margin", "--pred", "1,2,3", "--target", "3"], "but --target is 3"),
        (["cross_entropy", "--pred", "0.1,0.9", "--target", "0.5"], "but --target is 0.5"),
    ],
)
def test_a_single_target_has_no_empty_index(cli, argv: list[str], fragment: str) -> None:
    run = cli(argv)
    assert_usage_error(run, fragment)
    assert "[]" not in run.stderr


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float64(1.0000000000000002), "1.0000000000000002"),
        (np.float64(5.0), "5"),
        (np.float64(-2.0), "-2"),
        (np.float64(1.5), "1.5"),
        (np.float32(1.0000001), "1.0000001"),
        (np.float64(1e300), "1e+300"),
        (np.int64(7), "7"),
        (np.float64("nan"), "nan"),
    ],
)
def test_value_text(value, text: str) -> None:
    assert value_text(value) == text


# --- item 7: what info says about PyTorch is true ---------------------------------------------------


def test_info_ctc_says_its_gradient_differs_from_pytorch(cli) -> None:
    run = cli(["info", "ctc"])
    assert run.code == 0
    flat = " ".join(run.stdout.split())
    assert "values and gradients match" not in flat
    assert "values match it; gradients differ by design" in flat
    assert "presumes log_softmax inputs" in flat


@pytest.mark.parametrize("name", sorted(name for name, spec in LOSSES.items() if spec.torch and name != "ctc"))
def test_info_of_other_pytorch_losses_keeps_saying_they_match(cli, name: str) -> None:
    flat = " ".join(cli(["info", name]).stdout.split())
    assert f"torch.nn.functional.{LOSSES[name].torch} (values and gradients match it)" in flat


# --- item 8: psnr --explain --------------------------------------------------------------------------

PSNR_CASES = [
    ("psnr", "[[0.1,0.5],[0.9,0.3]]", "[[0,0.5],[1,0.25]]", []),
    ("psnr", "[[[[1,2],[3,4]]],[[[0,2],[5,4]]]]", "[[[[0,2],[3,6]]],[[[1,2],[3,4]]]]", ["--data-range", "255"]),
    ("psnr", "[[[0.2,0.4,0.6],[0.8,0.1,0.3]]]", "[[[0.25,0.4,0.5],[0.8,0.2,0.3]]]", ["--data-range", "2"]),
    ("psnr_loss", "[[0.1,0.5],[0.9,0.3]]", "[[0,0.5],[1,0.25]]", []),
]


def _numbers(line: str) -> list[float]:
    return [float(x.replace("−", "-")) for x in re.findall(r"−?\d+(?:\.\d+)?(?:e[+−-]?\d+)?", line)]


@pytest.mark.parametrize(
    ("name", "pred", "target", "extra"), PSNR_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(PSNR_CASES)]
)
def test_psnr_explain_shows_each_images_working(cli, name: str, pred: str, target: str, extra: list[str]) -> None:
    run = cli([name, "--pred", pred, "--target", target, *extra, "--explain"])
    assert run.code == 0, run.stderr
    text = run.stdout
    p, t = np.array(json.loads(pred), dtype=float), np.array(json.loads(target), dtype=float)
    batch = p.reshape((-1, *p.shape[-3:])) if p.ndim == 4 else p.reshape(1, -1)
    batch_t = t.reshape(batch.shape)
    data_range = float(extra[1]) if extra else 1.0
    pixels = batch[0].size
    assert f"data range R = {data_range:g}" in text and f"M = {pixels} pixels" in text
    grad = compute(name, p, t, data_range=data_range).grad.reshape(batch.shape)
    for n in range(batch.shape[0]):
        mse = float(np.mean((batch[n] - batch_t[n]) ** 2))
        mse_line = next(line for line in text.splitlines() if line.startswith(f"image {n}: MSE_{n} = ("))
        assert mse_line.count("²") == pixels  # every squared difference written out
        sums = next(line for line in text.splitlines()[text.splitlines().index(mse_line) + 1 :] if "/ " in line)
        assert _numbers(sums)[-1] == pytest.approx(mse, rel=1e-5)
        if mse == 0:
            assert f"PSNR_{n} = 10·log10({data_range:g}² / 0) = inf" in text
            continue
        psnr = 10 * math.log10(data_range**2 / mse)
        step = next(line for line in text.splitlines() if line.strip().startswith(f"PSNR_{n} = 10·log10(R² / MSE_{n})"))
        assert f"10·log10({data_range:g}² / " in step and step.endswith("dB")
        assert _numbers(step)[-1] == pytest.approx(psnr, rel=1e-5)
        if name == "psnr_loss":
            assert f"ℓ_{n} = −PSNR_{n} = −" in text
        scale_line = next(line for line in text.splitlines() if line.strip().startswith(f"∂ℓ_{n}/∂ŷ"))
        scale = _numbers(scale_line)[-1]
        moved = (batch[n] - batch_t[n]).ravel()
        # the per-image scale times (ŷ − y), divided by the number of images for the mean, is the gradient
        expected = grad[n].ravel() * batch.shape[0]
        mask = moved != 0
        assert np.allclose(scale * moved[mask], expected[mask], rtol=1e-5)


def test_psnr_explain_elides_long_sums(cli) -> None:
    rng = np.random.default_rng(3)
    pred, target = rng.uniform(size=(8, 8)), rng.uniform(size=(8, 8))
    literal = lambda a: ";".join(",".join(repr(float(v)) for v in row) for row in a)  # noqa: E731
    run = cli(["psnr", "--pred", literal(pred), "--target", literal(target), "--explain"])
    assert run.code == 0
    mse_line = next(line for line in run.stdout.splitlines() if line.startswith("image 0: MSE_0"))
    assert "…" in mse_line and mse_line.count("²") == 4 and "/ 64" in mse_line
