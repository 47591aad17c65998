"""tv, psnr, psnr_loss and ssim on one large image: bands of rows with halos give the untiled numbers.

BAND_VALUES is lowered so that small images span many bands (down to one core row), with odd
sizes so that the last band is ragged; borders are where SSIM's reflect padding and TV's last
row/column matter.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_usage_error

import lossctl.cli.commands
from lossctl import compute
from lossctl.cli.tiled import evaluate_tiled
from lossctl.evaluation.engine import Outputs
from lossctl.losses import image
from lossctl.losses.registry import LOSSES

SHAPES = [((67, 53), False), ((3, 41, 37), False), ((41, 37, 3), True), ((1, 2, 29, 31), False)]
SETTINGS = [
    ("tv", {}),
    ("tv", {"norm": "l2sq"}),
    ("tv", {"norm": "isotropic"}),
    ("psnr", {}),
    ("psnr_loss", {"data_range": 2.0}),
    ("ssim", {}),
    ("ssim", {"window": 7, "sigma": 1.1}),
    ("ssim", {"window": 3, "sigma": 0.5, "k1": 0.02}),
]


def _pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.random(shape)
    return pred, np.clip(pred + rng.normal(scale=0.2, size=shape), 0.0, 1.0)


def _channels_first(array, channels_last):
    return np.moveaxis(array, -1, -3) if channels_last else array


@pytest.mark.parametrize(("shape", "channels_last"), SHAPES)
@pytest.mark.parametrize(("loss", "params"), SETTINGS)
@pytest.mark.parametrize(("reduction", "band_values"), [("mean", 300), ("sum", 1100)])
def test_bands_give_the_untiled_numbers(tmp_path, shape, channels_last, loss, params, reduction, band_values):
    pred, target = _pair(shape)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "t.npy", target)
    mapped_pred = np.load(tmp_path / "p.npy", mmap_mode="r")
    mapped_target = None if loss == "tv" else np.load(tmp_path / "t.npy", mmap_mode="r")
    grad = np.full(shape, np.nan)
    saved: dict[str, np.ndarray] = {}

    def make_elements(element_shape, dtype):
        saved["elements"] = np.full(element_shape, np.nan, dtype=dtype)
        return saved["elements"]

    summary = evaluate_tiled(
        LOSSES[loss],
        mapped_pred,
        mapped_target,
        reduction=reduction,
        dtype="float64",
        allow_nonfinite=False,
        outputs=Outputs(grad=grad, make_elements=make_elements),
        channels_last=channels_last,
        band_values=band_values,
        **params,
    )
    reference = compute(
        loss,
        _channels_first(pred, channels_last),
        None if loss == "tv" else _channels_first(target, channels_last),
        reduction=reduction,
        **params,
    )
    assert summary.blocks > 1
    assert summary.value == pytest.approx(reference.value, rel=1e-12)
    assert summary.sum == pytest.approx(reference.sum, rel=1e-12)
    assert summary.count == reference.count
    expected_grad = np.moveaxis(reference.grad, -3, -1) if channels_last else reference.grad
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-300)
    elements = saved["elements"]
    expected = np.moveaxis(reference.elements, -3, -1) if channels_last and loss == "tv" else reference.elements
    np.testing.assert_allclose(elements.reshape(-1), np.asarray(expected).reshape(-1), rtol=1e-12)


@pytest.mark.parametrize("loss", ["tv", "ssim"])
def test_every_band_stays_within_its_budget(monkeypatch, loss) -> None:
    pred, target = _pair((2, 90, 40), seed=3)
    seen: list[int] = []
    band = image.tv_band if loss == "tv" else image.ssim_band
    name = "tv_band" if loss == "tv" else "ssim_band"

    def spy(x, *args, **kwargs):
        seen.append(x.size)
        return band(x, *args, **kwargs)

    monkeypatch.setattr(image, name, spy)
    evaluate_tiled(
        LOSSES[loss],
        pred,
        None if loss == "tv" else target,
        reduction="mean",
        dtype="float64",
        allow_nonfinite=False,
        outputs=Outputs(grad=np.zeros(pred.shape)),
        band_values=2000,
    )
    assert len(seen) > 3 and max(seen) <= 2000


@pytest.fixture
def one_image(monkeypatch, tmp_path):
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    monkeypatch.setattr(image, "BAND_VALUES", 900)
    pred, target = _pair((3, 45, 31), seed=9)
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "t.npy", target)
    return tmp_path, pred, target


@pytest.mark.parametrize(("loss", "extra"), [("tv", []), ("psnr", []), ("ssim", ["--window", "5"])])
def test_the_command_line_tiles_one_large_image(cli, one_image, loss, extra) -> None:
    folder, pred, target = one_image
    argv = [loss, "--pred", str(folder / "p.npy"), *([] if loss == "tv" else ["--target", str(folder / "t.npy")])]
    saves = ["--save-grad", str(folder / "g.npy"), "--save-elements", str(folder / "e.npy")]
    out = cli([*argv, *extra, *saves, "-f", "json"]).json()
    params = {"window": 5} if extra else {}
    reference = compute(loss, pred, None if loss == "tv" else target, **params)
    assert "arrays" in out or "grad" in out  # the block-wise summary
    assert out["value"] == pytest.approx(reference.value, rel=1e-12)
    np.testing.assert_allclose(np.load(folder / "g.npy"), reference.grad, rtol=1e-12, atol=1e-300)
    saved = np.load(folder / "e.npy")  # what the in-memory path saves: the per-pixel map
    assert saved.shape == pred.shape
    np.testing.assert_allclose(saved, reference.pixel_map(), rtol=1e-12)
    table = cli([*argv, *extra])
    assert table.code == 0 and "blocks" in table.stdout


def test_expect_grad_and_explain_on_one_large_image(cli, one_image) -> None:
    folder, pred, _ = one_image
    np.save(folder / "answer.npy", compute("tv", pred).grad)
    run = cli(["tv", "--pred", str(folder / "p.npy"), "--expect-grad", str(folder / "answer.npy"), "--explain"])
    assert run.code == 0 and "✓ --expect-grad: all 4,185 entries match" in run.stdout and "Σ ℓ" in run.stdout


def test_a_nonfinite_pixel_is_named_by_its_place_in_the_image(cli, one_image) -> None:
    folder, pred, _ = one_image
    pred[2, 40, 7] = np.nan
    np.save(folder / "bad.npy", pred)
    run = cli(["ssim", "--pred", str(folder / "bad.npy"), "--target", str(folder / "t.npy"), "--window", "3"])
    assert_usage_error(run, "--pred[2, 40, 7] is nan")


def test_ssim_refuses_an_even_window_or_a_window_larger_than_the_image(cli, one_image) -> None:
    folder = one_image[0]
    argv = ["ssim", "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy")]
    assert_usage_error(cli([*argv, "--window", "4"]), "--window must be odd")
    assert_usage_error(cli([*argv, "--window", "33"]), "smaller than the 33×33 window")
