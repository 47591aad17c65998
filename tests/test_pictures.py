"""Images, heat maps, compare and plot: refusals instead of silent wrong numbers, pictures people can read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_usage_error

from lossctl import compute
from lossctl.errors import InputError
from lossctl.io.heatmap import BAR_GAP, BAR_WIDTH, MIN_SIDE, along_colormap, mosaic, upscale_factor
from lossctl.losses.image import parse_scale

PIL = pytest.importorskip("PIL.Image")

RNG = np.random.default_rng(7)
CLEAN = RNG.uniform(0, 255, size=(16, 16))
NOISY = np.clip(CLEAN + RNG.normal(scale=12, size=CLEAN.shape), 0, 255)


def _literal(array: np.ndarray) -> str:
    return json.dumps(np.asarray(array).tolist())


# --- PSNR / SSIM data range ---------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["psnr", "psnr_loss", "ssim"])
@pytest.mark.parametrize(
    ("scale", "offset", "advice"),
    [
        (255.0, 0.0, "--data-range 255"),  # 0–255 pixel values stored as floats
        (2.0, -1.0, "--data-range 2"),  # images normalised to [-1, 1]
        (4000.0, 0.0, "--data-range 65535"),  # 16-bit values as floats
        (1e6, -5e5, "the observed max − min"),  # anything else
    ],
)
def test_float_images_outside_unit_range_are_refused_with_the_range_to_give(loss, scale, offset, advice, cli) -> None:
    pred = CLEAN / 255 * scale + offset
    target = NOISY / 255 * scale + offset
    run = cli([loss, "--pred", _literal(pred), "--target", _literal(target)])
    assert_usage_error(run, "--data-range", advice)


@pytest.mark.parametrize("loss", ["psnr", "psnr_loss", "ssim"])
def test_float_images_in_unit_range_keep_data_range_one(loss) -> None:
    pred, target = CLEAN / 255, NOISY / 255
    assert compute(loss, pred, target).value == pytest.approx(compute(loss, pred, target, data_range=1.0).value)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_images_use_their_dtype_range(dtype) -> None:
    pred, target = CLEAN.astype(dtype), NOISY.astype(dtype)
    span = float(np.iinfo(dtype).max)
    expected = compute("psnr", pred.astype(float), target.astype(float), data_range=span).value
    assert compute("psnr", pred, target).value == pytest.approx(expected, rel=1e-12)


def test_given_data_range_matches_scikit_image(cli) -> None:
    metrics = pytest.importorskip("skimage.metrics")
    got = cli(["psnr", "--pred", _literal(NOISY), "--target", _literal(CLEAN), "--data-range", "255", "-f", "value"])
    assert got.code == 0, got.stderr
    reference = metrics.peak_signal_noise_ratio(CLEAN, NOISY, data_range=255)
    assert float(got.stdout) == pytest.approx(reference, rel=1e-12)
    assert float(got.stdout) > 20  # the wrong default (R = 1) gave a negative number here


# --- 8-bit masks and --scale ----------------------------------------------------------------


def _mask(tmp_path, name: str, values: np.ndarray) -> str:
    path = tmp_path / name
    PIL.fromarray(values.astype(np.uint8)).save(path)
    return str(path)


MASK = np.zeros((6, 6))
MASK[1:4, 2:5] = 1
PROBS = np.clip(MASK * 0.8 + 0.1 + RNG.uniform(-0.05, 0.05, size=MASK.shape), 0, 1)


@pytest.mark.parametrize("loss", ["dice", "tversky"])
def test_mask_of_0_255_reads_as_0_1(loss, cli, tmp_path) -> None:
    np.save(tmp_path / "p.npy", PROBS)
    wide = _mask(tmp_path, "m255.png", MASK * 255)
    unit = _mask(tmp_path, "m1.png", MASK)
    by_255 = cli([loss, "--pred", str(tmp_path / "p.npy"), "--target", wide, "-f", "json"]).json()
    by_1 = cli([loss, "--pred", str(tmp_path / "p.npy"), "--target", unit, "-f", "json"]).json()
    expected = compute(loss, PROBS, MASK).value
    assert by_255["value"] == pytest.approx(expected, rel=1e-12) == by_1["value"]
    assert by_255["params"]["input_scale"] == {"--target": 1 / 255}
    assert "input_scale" not in by_1["params"]
    table = cli([loss, "--pred", str(tmp_path / "p.npy"), "--target", wide])
    assert "--target read ×1/255" in table.stdout.splitlines()[0]


def test_both_masks_0_255(cli, tmp_path) -> None:
    pred = _mask(tmp_path, "p.png", np.roll(MASK, 1, axis=1) * 255)
    target = _mask(tmp_path, "t.png", MASK * 255)
    got = cli(["dice", "--pred", pred, "--target", target, "-f", "value"])
    assert float(got.stdout) == pytest.approx(compute("dice", np.roll(MASK, 1, axis=1), MASK).value, rel=1e-12)


@pytest.mark.parametrize("odd", [128, 2, 254])
def test_other_8_bit_masks_are_refused_suggesting_scale(odd, cli, tmp_path) -> None:
    values = MASK * 255
    values[0, 0] = odd
    run = cli(["dice", "--pred", "0.5", "--target", _mask(tmp_path, "soft.png", values)])
    assert_usage_error(run, "--target", str(odd), "--scale 1/255")


def test_scale_rescales_integer_inputs(cli, tmp_path) -> None:
    values = MASK * 255
    values[0, 0] = 128
    target = _mask(tmp_path, "soft.png", values)
    np.save(tmp_path / "p.npy", PROBS)
    got = cli(["dice", "--pred", str(tmp_path / "p.npy"), "--target", target, "--scale", "1/255", "-f", "value"])
    assert float(got.stdout) == pytest.approx(compute("dice", PROBS, values / 255).value, rel=1e-12)
    psnr = cli(["psnr", "--pred", target, "--target", _mask(tmp_path, "m.png", MASK * 255), "--scale", "1/255"])
    assert psnr.code == 0 and "read ×1/255" in psnr.stdout


@pytest.mark.parametrize("text", ["0", "-1", "abc", "1/0", "inf", "nan"])
def test_bad_scale_is_refused(text) -> None:
    with pytest.raises(InputError, match="--scale"):
        parse_scale(text)


@pytest.mark.parametrize(("text", "value"), [("0.5", 0.5), ("1/255", 1 / 255), (" 2 ", 2.0), ("3/4", 0.75)])
def test_scale_takes_numbers_and_fractions(text, value) -> None:
    assert parse_scale(text) == value


# --- heat maps ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (2, 7), (2, 300), (2, 3, 4, 5)])
def test_heat_maps_are_enlarged_with_a_colour_bar(shape, cli, tmp_path) -> None:
    values = np.random.default_rng(1).normal(size=shape)
    np.save(tmp_path / "x.npy", values)
    out, grad = tmp_path / "tv.png", tmp_path / "g.png"
    run = cli(["tv", "--pred", str(tmp_path / "x.npy"), "--save-elements", str(out), "--save-grad", str(grad)])
    assert run.code == 0, run.stderr
    canvas = mosaic(compute("tv", values).elements)
    zoom = upscale_factor(*canvas.shape)
    for path, signed in ((out, False), (grad, True)):
        picture = np.asarray(PIL.open(path).convert("RGB"))
        assert max(picture.shape[:2]) >= MIN_SIDE
        height, width = canvas.shape[0] * zoom, canvas.shape[1] * zoom
        assert max(height, width) >= MIN_SIDE
        # nearest enlargement: each map pixel is a zoom × zoom block of one colour
        blocks = picture[:height, :width].reshape(canvas.shape[0], zoom, canvas.shape[1], zoom, 3)
        assert (blocks == blocks[:, :1, :, :1]).all()
        # the colour bar: a column running through the colour map from its top colour to its bottom one
        bar = picture[:, width + BAR_GAP + BAR_WIDTH // 2]
        assert tuple(bar[0]) == tuple(along_colormap(np.array(1.0), signed))
        assert tuple(bar[-1]) == tuple(along_colormap(np.array(0.0), signed))
        assert len({tuple(p) for p in bar}) > 20
        # its labels: dark text right of the bar
        labels = picture[:, width + BAR_GAP + BAR_WIDTH + 2 :]
        assert (labels.sum(axis=-1) < 200).any()


@pytest.mark.parametrize(("height", "width", "zoom"), [(3, 3, 86), (1, 256, 1), (300, 2, 1), (10, 20, 13)])
def test_upscale_factor(height, width, zoom) -> None:
    assert upscale_factor(height, width) == zoom
    assert max(height, width) * zoom >= MIN_SIDE


# --- compare ------------------------------------------------------------------------------


def test_compare_with_nothing_applicable_exits_2_with_the_reason_per_loss(cli) -> None:
    run = cli(["compare", "--pred", "1,2", "--target", "3,4,5"])
    assert_usage_error(run, "no loss takes these inputs", "--target has 3 values but --pred has 2")
    named = cli(["compare", "--pred", "1,2", "--target", "3,4,5", "mse", "l1"])
    assert_usage_error(named, "mse, l1: --target has 3 values")
    nan = cli(["compare", "--pred", "1,nan", "--target", "3,4", "-f", "json"])
    assert_usage_error(nan, "--pred[1] is nan")


@pytest.mark.parametrize(
    ("pred", "target", "left_out", "kept"),
    [
        ("0.2,0.8;0.6,0.4", "1,0", "nll", "cross_entropy"),  # probabilities, not log-probabilities
        ("0.9,0.1;0.6,0.4", "0,1", "nll", "multi_margin"),
        ("0.5,0.2;0.3,0.7", "0.3,0.7;0.6,0.4", "kl_div", "mse"),
    ],
)
def test_losses_outside_their_domain_are_left_out_with_a_note(cli, pred, target, left_out, kept) -> None:
    run = cli(["compare", "--pred", pred, "--target", target, left_out, kept])
    assert run.code == 0, run.stderr
    assert left_out not in run.stdout.split()
    assert f"note: {left_out} left out: its value" in run.stderr and "log-probabilities" in run.stderr
    rows = cli(["compare", "--pred", pred, "--target", target, left_out, kept, "-f", "json"]).json()
    assert [row["loss"] for row in rows] == [kept]


def test_compare_never_leaks_a_python_warning(cli) -> None:
    for pred, target in (("0,1e308", "1e308,0"), ("1e-320,1", "0,1"), ("0.5,0.5", "1,0")):
        run = cli(["compare", "--pred", pred, "--target", target])
        assert "Warning:" not in run.stderr and ".py:" not in run.stderr, run.stderr
        assert all(line.startswith(("note:", "warning:", "error:")) for line in run.stderr.splitlines())


# --- plot -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-inf,inf", "finite"),
        ("0,inf", "finite"),
        ("nan,1", "finite"),
        ("0,1e-320", "too narrow"),
        ("1,1.0000000000000002", "too narrow"),
        ("-1e308,1e308", "largest float"),
        ("3,1", "A < B"),
        ("2,2", "A < B"),
        ("a,b", "two numbers"),
        ("1,2,3", "two numbers"),
    ],
)
def test_plot_range_is_refused_in_one_line(cli, text, fragment) -> None:
    assert_usage_error(cli(["plot", "mse", f"--range={text}"]), "--range", fragment)


def test_plot_save_refuses_missing_folders_and_unknown_suffixes(cli, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    assert_usage_error(cli(["plot", "mse", "--save", str(tmp_path / "no" / "p.png")]), "--save", "does not exist")
    assert_usage_error(cli(["plot", "mse", "--save", str(tmp_path / "p.xyz")]), "--save", ".png")
    assert_usage_error(cli(["plot", "mse", "--save", str(tmp_path)]), "--save")
    assert list(tmp_path.iterdir()) == []


def test_plot_save_without_suffix_writes_and_names_the_png(cli, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    run = cli(["plot", "mse", "--save", str(tmp_path / "plotout")])
    assert run.code == 0, run.stderr
    assert run.stdout == f"wrote {tmp_path / 'plotout.png'}\n"
    assert (tmp_path / "plotout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plotout.png"]  # no temporary left behind
    svg = cli(["plot", "mse", "bce", "--save", str(tmp_path / "p.svg")])
    assert svg.code == 0 and (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")


def test_plot_draws_one_panel_row_per_axis(cli) -> None:
    pytest.importorskip("plotext")
    run = cli(["plot", "mse", "bce", "hinge", "huber", "--set", "delta=2"])
    assert run.code == 0, run.stderr
    axes = [line for line in run.stdout.splitlines() if line.startswith("x: ")]
    assert axes == [
        "x: residual ŷ − y",
        "x: σ⁻¹(p): the logit of the predicted probability (label 1)",
        "x: score s (label 1): margin y·s",
    ]
    first, second, third = run.stdout.split("\nx: ")
    assert "bce" not in first and "mse" not in second and "hinge Δ=1" in third
    assert "huber δ=2" in first


def test_plot_curves_have_distinct_markers(cli) -> None:
    pytest.importorskip("plotext")
    run = cli(["plot", "mse", "l1", "log_cosh"])
    legend = [line for line in run.stdout.splitlines() if "mse" in line or " l1" in line or "log_cosh" in line]
    markers = set()
    for name in ("mse", "l1", "log_cosh"):
        line = next(line for line in legend if f" {name}" in line)
        before = line.split(f" {name}")[0].rstrip()
        markers.add(before[-1])
    assert len(markers) == 3 and "\x1b[" not in run.stdout


def test_plot_png_has_a_panel_row_per_axis(cli, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    assert cli(["plot", "mse", "huber", "--save", str(one)]).code == 0
    assert cli(["plot", "mse", "bce", "--save", str(two)]).code == 0
    height_one = PIL.open(one).size[1]
    height_two = PIL.open(two).size[1]
    assert height_two == pytest.approx(2 * height_one, rel=0.05)


def test_legend_labels_name_parameters() -> None:
    from lossctl.homework.curves import curve
    from lossctl.losses.registry import LOSSES

    x = np.linspace(-1, 1, 5)
    assert curve(LOSSES["huber"], x, {"delta": 2.0}).label == "huber δ=2"
    assert curve(LOSSES["smooth_l1"], x, {"beta": 0.5}).label == "smooth_l1 β=0.5"
    assert curve(LOSSES["mse"], x, {}).label == "mse"
