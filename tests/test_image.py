"""Image and segmentation losses against hand computations, scikit-image, and through image files.

The registry-wide tests (examples, finite-difference gradients, properties)
cover these losses too; here are the worked numbers issue 5 asks for, the
SSIM comparison with scikit-image, the layouts and the image-file round trips.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl import compute
from lossctl.io.heatmap import upscale_factor

PIL = pytest.importorskip("PIL.Image", reason="the images extra (Pillow) is not installed")

# A fixed 1×3×3×3 image: channel k is base + k·step pattern, easy to difference by hand.
IMAGE = np.array(
    [
        [
            [[1.0, 2.0, 4.0], [0.0, 2.0, 2.0], [3.0, 1.0, 1.0]],
            [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
            [[5.0, 3.0, 1.0], [5.0, 3.0, 1.0], [5.0, 3.0, 1.0]],
        ]
    ]
)


def test_tv_matches_the_blog_formula_by_hand() -> None:
    # The blog formula: sum |x[:, :, 1:, :] − x[:, :, :-1, :]| + sum |x[:, :, :, 1:] − x[:, :, :, :-1]|.
    # channel 0: down |0−1| |2−2| |2−4| |3−0| |1−2| |1−2| = 1+0+2+3+1+1 = 8;
    #            across |2−1| |4−2| |2−0| |2−2| |1−3| |1−1| = 1+2+2+0+2+0 = 7
    # channel 1: down 1·3 + 1·3 = 6; across 0.   channel 2: down 0; across 2·6 = 12.
    total = 8 + 7 + 6 + 0 + 0 + 12
    summed = compute("tv", IMAGE, reduction="sum")
    assert summed.value == total
    assert compute("tv", IMAGE).value == total / IMAGE.size  # mean divides by N·C·H·W = 27
    per_channel = summed.elements.sum(axis=(2, 3))
    np.testing.assert_array_equal(per_channel, [[15.0, 6.0, 12.0]])


def test_tv_norms_by_hand() -> None:
    image = np.array([[0.0, 3.0], [4.0, 0.0]])
    # differences: down 4 and −3, across 3 and −4
    assert compute("tv", image, reduction="sum", norm="l2sq").value == 16 + 9 + 9 + 16
    iso = compute("tv", image, reduction="sum", norm="isotropic", eps=1e-12).value
    # pixel (0,0): √(4² + 3²) = 5; (0,1): down −3 only → 3; (1,0): across −4 only → 4
    assert iso == pytest.approx(12.0, abs=1e-9)


@pytest.mark.parametrize("norm", ["l1", "l2sq", "isotropic"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 5, 4), (3, 2, 5, 4)])
def test_weighted_tv_with_a_uniform_map_is_tv(norm: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(size=shape)
    plain = compute("tv", image, reduction="sum", norm=norm)
    for weight in (np.ones(shape[-2:]), np.ones(shape), np.ones((2, *shape[-2:]))):
        weighted = compute("weighted_tv", image, reduction="sum", norm=norm, tv_weight=weight)
        np.testing.assert_allclose(weighted.value, plain.value, rtol=1e-13)
        np.testing.assert_allclose(weighted.grad, plain.grad, rtol=1e-12, atol=1e-15)
    if norm != "isotropic":  # the isotropic ε does not scale with the weight
        scaled = compute("weighted_tv", image, reduction="sum", norm=norm, tv_weight=np.full(shape[-2:], 2.5))
        np.testing.assert_allclose(scaled.value, 2.5 * plain.value, rtol=1e-13)


def test_weighted_tv_weighs_each_difference_at_its_pixel_not_whole_sums() -> None:
    image = np.array([[1.0, 2.0], [3.0, 5.0]])
    weight = np.array([[1.0, 0.5], [2.0, 3.0]])
    got = compute("weighted_tv", image, tv_weight=weight, reduction="sum").value
    blog = float(np.sum(weight * (np.abs(np.diff(image, axis=0)).sum() + np.abs(np.diff(image, axis=1)).sum())))
    assert got == 1 * (2 + 1) + 0.5 * 3 + 2 * 2
    assert blog == 6.5 * 8 and got != blog  # the blog's map × whole-image sum is another quantity


def test_weighted_tv_rejects_a_map_of_the_wrong_shape(cli) -> None:
    run = cli(["weighted_tv", "--pred", "1,2;3,4", "--tv-weight", "1,2,3"])
    assert_usage_error(run, "--tv-weight has shape (3,)", "(2, 2)")


def test_psnr_by_hand_and_per_image_mean() -> None:
    pred = np.array([[0.1, 0.2], [0.3, 0.4]])
    target = np.array([[0.0, 0.2], [0.5, 0.4]])
    mse = (0.1**2 + 0.2**2) / 4
    assert compute("psnr", pred, target).value == pytest.approx(10 * math.log10(1 / mse), rel=1e-14)
    batch = np.stack([pred, pred * 2])[:, None]  # (2, 1, 2, 2)
    targets = np.stack([target, target])[:, None]
    per_image = [10 * math.log10(1 / np.mean((p - t) ** 2)) for p, t in zip(batch, targets, strict=True)]
    result = compute("psnr", batch, targets)
    np.testing.assert_allclose(result.elements, per_image, rtol=1e-14)
    assert result.value == pytest.approx(np.mean(per_image), rel=1e-14)
    assert compute("psnr_loss", batch, targets).value == pytest.approx(-np.mean(per_image), rel=1e-14)


def test_psnr_data_range_follows_the_pixel_type() -> None:
    pred = np.array([[10, 20], [30, 40]], dtype=np.uint8)
    target = np.array([[12, 20], [30, 36]], dtype=np.uint8)
    mse = (4 + 16) / 4
    assert compute("psnr", pred, target).params["data_range"] == 255.0
    assert compute("psnr", pred, target).value == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-14)
    wide = pred.astype(np.uint16)
    assert compute("psnr", wide, target.astype(np.uint16)).params["data_range"] == 65535.0
    assert compute("psnr", pred / 255.0, target / 255.0).params["data_range"] == 1.0
    assert compute("psnr", pred, target, data_range=100.0).params["data_range"] == 100.0


def test_identical_images_have_infinite_psnr_not_a_crash(cli) -> None:
    run = cli(["psnr", "--pred", "1,2;3,4", "--target", "1,2;3,4", "--data-range", "255", "-f", "json"])
    assert run.code == 0
    got = json.loads(run.stdout)
    assert got["value"] == "inf" and got["grad"] == [[0.0, 0.0], [0.0, 0.0]]
    assert "PSNR is infinite" in run.stderr
    assert (
        cli(["psnr_loss", "--pred", "1,2;3,4", "--target", "1,2;3,4", "--data-range", "3", "-f", "value"]).stdout
        == "-inf\n"
    )


def _skimage_ssim():
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image (reference extra) is not installed")
    return metrics.structural_similarity


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("shape", "data_range"), [((16, 16), 1.0), ((3, 24, 19), 1.0), ((1, 11, 11), 255.0)])
def test_ssim_agrees_with_scikit_image(seed: int, shape: tuple[int, ...], data_range: float) -> None:
    structural_similarity = _skimage_ssim()
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, data_range, size=shape)
    pred = np.clip(target + rng.normal(scale=0.2 * data_range, size=shape), 0, data_range)
    channel_axis = 0 if len(shape) == 3 else None
    expected = structural_similarity(
        pred,
        target,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=channel_axis,
    )
    got = compute("ssim", pred, target, data_range=data_range)
    assert abs((1.0 - got.value) - expected) <= 1e-14
    # skimage's `full` map is the local SSIM; lossctl saves 1 − that map.
    _, full = structural_similarity(
        pred[0] if channel_axis == 0 else pred,
        target[0] if channel_axis == 0 else target,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        full=True,
    )
    np.testing.assert_allclose(1.0 - got.pixel_map().reshape((-1, *shape[-2:]))[0], full, atol=1e-13)


def test_ssim_window_must_fit_the_image(cli) -> None:
    assert_usage_error(
        cli(["ssim", "--pred", "1,2;3,4", "--target", "1,2;3,4", "--data-range", "255"]),
        "smaller than the 11×11 window",
    )
    assert_usage_error(
        cli(["ssim", "--pred", "1,2;3,4", "--target", "1,2;3,4", "--window", "2", "--data-range", "255"]),
        "--window must be odd",
    )


def test_dice_and_tversky_on_masks_by_hand() -> None:
    pred = np.array([[[[1.0, 0.0], [1.0, 1.0]]], [[[0.5, 0.5], [0.0, 0.0]]]])  # (2, 1, 2, 2)
    target = np.array([[[[1.0, 0.0], [0.0, 1.0]]], [[[1.0, 0.0], [0.0, 0.0]]]])
    # image 0: Σpt = 2, Σp = 3, Σt = 2 → 1 − 5/6;  image 1: Σpt = 0.5, Σp = 1, Σt = 1 → 1 − 2/3
    per_image = compute("dice", pred, target, reduction="none")
    np.testing.assert_allclose(per_image.elements, [1 - 5 / 6, 1 - 2 / 3], rtol=1e-15)
    pooled = compute("dice", pred, target, per_sample=False)  # Σpt = 2.5, Σp = 4, Σt = 3 → 1 − 6/8
    assert pooled.value == pytest.approx(1 - 6 / 8, rel=1e-15)
    hard = compute("dice", target, target, smooth=0.0)
    assert hard.value == 0.0
    # Tversky with α = β = 0.5 and s = 0 is Dice with s = 0
    np.testing.assert_allclose(
        compute("tversky", pred, target, smooth=0.0).value, compute("dice", pred, target, smooth=0.0).value, rtol=1e-15
    )


def test_dice_refuses_values_outside_the_unit_interval(cli) -> None:
    assert_usage_error(cli(["dice", "--pred", "0.5,1.5", "--target", "1,0"]), "--pred must hold probabilities")
    assert_usage_error(cli(["dice", "--pred", "0.5,0.5", "--target", "2,0"]), "--target must be a mask")


def test_tv_takes_no_target_and_needs_an_image(cli) -> None:
    assert_usage_error(cli(["tv", "--pred", "1,2;3,4", "--target", "1,2;3,4"]), "tv takes no --target")
    assert_usage_error(cli(["tv", "--pred", "1,2,3"]), "--pred must be an image")


# --- files and layouts ------------------------------------------------------------------


def _rgb_pair(tmp_path, rng, dtype=np.uint8, size=(14, 17)):
    top = np.iinfo(dtype).max
    original = rng.integers(0, top, size=(*size, 3), dtype=dtype)
    noise = rng.integers(-top // 10, top // 10, size=original.shape)
    restored = np.clip(original.astype(np.int64) + noise, 0, top).astype(dtype)
    paths = tmp_path / "original.png", tmp_path / "restored.png"
    PIL.fromarray(original).save(paths[0])
    PIL.fromarray(restored).save(paths[1])
    return original, restored, paths


def test_png_inputs_round_trip_as_channels_last(cli, tmp_path) -> None:
    original, restored, (original_png, restored_png) = _rgb_pair(tmp_path, np.random.default_rng(0))
    got = cli(["psnr", "--pred", str(restored_png), "--target", str(original_png), "-f", "json"]).json()
    expected = compute("psnr", np.moveaxis(restored, -1, 0), np.moveaxis(original, -1, 0))
    assert got["params"]["data_range"] == 255.0 and got["value"] == expected.value
    assert got["shape"] == [14, 17, 3] and got["channels_last"] is True
    np.testing.assert_array_equal(np.array(got["grad"]), np.moveaxis(expected.grad, 0, -1))
    ssim = cli(["ssim", "--pred", str(restored_png), "--target", str(original_png), "-f", "value"])
    assert float(ssim.stdout) == compute("ssim", np.moveaxis(restored, -1, 0), np.moveaxis(original, -1, 0)).value


def test_grey_and_16_bit_png(cli, tmp_path) -> None:
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 255, size=(12, 12), dtype=np.uint8)
    PIL.fromarray(grey).save(tmp_path / "grey.png")
    got = cli(["tv", "--pred", str(tmp_path / "grey.png"), "-r", "sum", "-f", "value"])
    assert float(got.stdout) == compute("tv", grey.astype(float), reduction="sum").value
    deep = rng.integers(0, 65535, size=(12, 12), dtype=np.uint16)
    PIL.fromarray(deep).save(tmp_path / "deep.png")
    PIL.fromarray(deep // 2).save(tmp_path / "half.png")
    run = cli(["psnr", "--pred", str(tmp_path / "deep.png"), "--target", str(tmp_path / "half.png"), "-f", "json"])
    assert run.json()["params"]["data_range"] == 65535.0


def test_channels_last_arrays_match_channels_first(cli, tmp_path) -> None:
    rng = np.random.default_rng(3)
    first = rng.normal(size=(2, 3, 6, 5))
    last = np.moveaxis(first, 1, -1)
    np.save(tmp_path / "last.npy", last)
    np.save(tmp_path / "first.npy", first)
    saved = tmp_path / "grad.npy"
    pixels = tmp_path / "tv.npy"
    argv = ["tv", "--pred", str(tmp_path / "last.npy"), "--channels-last", "-f", "value"]
    run = cli([*argv, "--save-grad", str(saved), "--save-elements", str(pixels)])
    reference = compute("tv", first)
    assert float(run.stdout) == reference.value
    np.testing.assert_array_equal(np.load(saved), np.moveaxis(reference.grad, 1, -1))
    np.testing.assert_array_equal(np.load(pixels), np.moveaxis(reference.elements, 1, -1))


def test_elements_and_grad_heat_maps(cli, tmp_path) -> None:
    image = np.zeros((6, 8))
    image[2, 3] = 5.0  # one bright pixel: its differences dominate
    np.save(tmp_path / "x.npy", image)
    heat, grad = tmp_path / "tv.png", tmp_path / "grad.png"
    run = cli(["tv", "--pred", str(tmp_path / "x.npy"), "--save-elements", str(heat), "--save-grad", str(grad)])
    assert run.code == 0, run.stderr
    loss_map = compute("tv", image).elements
    zoom = upscale_factor(6, 8)  # each image pixel is a zoom × zoom block, top left

    def pixel(picture: np.ndarray, index: tuple) -> tuple:
        return tuple(int(v) for v in picture[index[0] * zoom, index[1] * zoom])

    picture = np.asarray(PIL.open(heat).convert("RGB"))
    hottest = np.unravel_index(np.argmax(loss_map), loss_map.shape)
    coldest = np.unravel_index(np.argmin(loss_map), loss_map.shape)
    assert pixel(picture, hottest) == (253, 231, 37)  # top of viridis
    assert pixel(picture, coldest) == (68, 1, 84)  # bottom of viridis
    gradient = np.asarray(PIL.open(grad).convert("RGB"))
    g = compute("tv", image).grad
    assert pixel(gradient, np.unravel_index(np.argmax(g), g.shape)) == (180, 4, 38)  # most positive: red end
    red, _, blue = pixel(gradient, np.unravel_index(np.argmin(g), g.shape))
    assert blue > red  # negative: the blue half (the scale is symmetric, ±max |grad|)
    assert pixel(gradient, (0, 0)) == (221, 220, 220)  # zero gradient: the neutral middle


def test_heat_map_mosaic_of_a_batch(cli, tmp_path) -> None:
    batch = np.random.default_rng(4).uniform(size=(2, 3, 11, 12))
    np.save(tmp_path / "p.npy", batch)
    np.save(tmp_path / "t.npy", np.clip(batch + 0.1, 0, 1))
    out = tmp_path / "ssim.png"
    run = cli(
        ["ssim", "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "t.npy"), "--save-elements", str(out)]
    )
    assert run.code == 0, run.stderr
    picture = np.asarray(PIL.open(out))
    height, width = 2 * 11 + 2, 3 * 12 + 2 * 2  # images in rows, channels in columns, 2-px gaps
    zoom = upscale_factor(height, width)
    assert picture.shape[0] >= height * zoom and picture.shape[1] > width * zoom
    assert (picture[11 * zoom : 13 * zoom, : width * zoom] == 255).all()


def test_heat_map_of_one_dimensional_values_is_refused(cli, tmp_path) -> None:
    run = cli(["mse", "--pred", "1,2", "--target", "2,2", "--save-elements", str(tmp_path / "m.png")])
    assert_usage_error(run, "--save-elements", "needs a 2-D to 4-D map")
    assert not (tmp_path / "m.png").exists()


def test_missing_pillow_is_one_line_naming_the_extra(cli, tmp_path, monkeypatch) -> None:
    PIL.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    run = cli(["tv", "--pred", str(tmp_path / "a.png")])
    assert_usage_error(run, "needs Pillow", "pip install 'lossctl[images]'")
    heat = cli(["tv", "--pred", "1,2;3,4", "--save-elements", str(tmp_path / "h.png")])
    assert_usage_error(heat, "--save-elements", "pip install 'lossctl[images]'")


def test_unreadable_image_is_a_clear_error(cli, tmp_path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    assert_usage_error(cli(["tv", "--pred", str(bad)]), "--pred", "not an image Pillow can read")
