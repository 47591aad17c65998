"""Review 3 of the one-evaluation-path refactor: reproducers of what it broke, or what was wrong before.

Each test fails on dd8101c.  Old behaviour is that of c86894f (the commit before the refactor).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_usage_error

import lossctl
import lossctl.cli.commands
import lossctl.evaluation.request
from lossctl.errors import LossctlError

EMPTY_MEAN = "so the mean is 0/0"


# --- 1. Regression (high): a mean over nothing on a single sample is a ZeroDivisionError (exit 70) ----------------
# c86894f: exit 2 with "every --target equals --ignore-index ... so the mean is 0/0".
# dd8101c: a single sample is one block ("whole"), prepare leaves count=None, and reduce_total divides 1.0 / 0.0
# before engine.run reaches its empty_mean check.


@pytest.mark.parametrize(
    "argv",
    [
        ["cross_entropy", "--pred", "1,2,3", "--target", "0", "--ignore-index", "0"],
        ["cross_entropy", "--pred", "[[1,2,3]]", "--target", "[1]", "--ignore-index", "1", "-f", "json"],
        ["cross_entropy", "--pred", "[[1,2,3]]", "--target", "[1]", "--weight", "1,0,1", "-f", "value"],
        ["nll_loss", "--pred", "[[-1,-2]]", "--target", "[0]", "--ignore-index", "0"],
        ["perplexity", "--pred", "[[1,2]]", "--target", "[0]", "--ignore-index", "0"],
        ["softmax_focal", "--pred", "[[1,2]]", "--target", "[0]", "--ignore-index", "0"],
        ["poly1_cross_entropy", "--pred", "[[1,2]]", "--target", "[0]", "--ignore-index", "0"],
        ["mse", "--pred", "1", "--target", "0", "--weight", "0"],
        ["ranknet", "--pred", "1,2", "--target", "1,1"],  # tied relevance: no pair counts (an ordinary input)
    ],
)
def test_single_sample_mean_over_nothing_is_a_usage_error_not_a_bug(cli, argv) -> None:
    assert_usage_error(cli(argv), EMPTY_MEAN)


@pytest.mark.parametrize("api", [lossctl.compute, lossctl.value_and_grad])
def test_single_sample_mean_over_nothing_raises_a_lossctl_error(api) -> None:
    with pytest.raises(LossctlError, match="0/0"):
        api("cross_entropy", [1.0, 2.0, 3.0], 0, ignore_index=0)


# --- 2. Regression (high): the block path without a gradient divides by a zero count (exit 70) ---------------------
# --format value on more than 65,536 values takes the block path with want_grad=False, so prepare does not
# count the denominator first; reduce_total then raises ZeroDivisionError.  No monkeypatching needed.


def test_value_format_on_a_large_all_ignored_batch_is_a_usage_error(cli, tmp_path) -> None:
    rows = 70_000
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(rows, 2)))
    np.save(tmp_path / "t.npy", np.zeros(rows, np.int64))
    argv = ["cross_entropy", "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "t.npy")]
    assert_usage_error(cli([*argv, "--ignore-index", "0", "-f", "value"]), EMPTY_MEAN)


@pytest.fixture
def large(monkeypatch, tmp_path):
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)
    return tmp_path


def _npy(folder, name, array) -> str:
    np.save(folder / name, array)
    return str(folder / name)


@pytest.mark.parametrize(
    ("loss", "target", "extra"),
    [
        ("cross_entropy", np.zeros(300, np.int64), ["--ignore-index", "0"]),
        ("cross_entropy", np.zeros(300, np.int64), ["--weight", "[0,1,1,1]"]),
        ("l1", np.zeros((300, 4)), ["--weight", "ZEROS"]),
    ],
)
def test_large_inputs_mean_over_nothing_is_a_usage_error(cli, large, loss, target, extra) -> None:
    pred = _npy(large, "p.npy", np.random.default_rng(1).normal(size=(300, 4)))
    extra = [_npy(large, "w.npy", np.zeros((300, 4))) if e == "ZEROS" else e for e in extra]
    run = cli([loss, "--pred", pred, "--target", _npy(large, "t.npy", target), *extra, "-f", "json"])
    assert_usage_error(run, EMPTY_MEAN)


# --- 3. Was pre-existing (medium): shape refusals on the block path named the first row's shape as --pred's ---------
# The in-memory path says "--pred has (300, 2)"; the block path checked the first row only and said "(1, 2)".


@pytest.mark.parametrize(
    ("argv", "pred_shape"),
    [
        (["cross_entropy", "--pred", "P4", "--target", "SHORT_IDX"], "(300,)"),
        (["margin_ranking", "--pred", "P1", "--pred2", "SHORT1", "--target", "SIGNS"], "(600,)"),
        (["triplet_margin", "--pred", "P", "--positive", "P", "--negative", "SHORT"], "(300, 2)"),
        (["gaussian_nll", "--pred", "P", "--target", "P", "--var", "SHORT"], "(300, 2)"),
        (["binary_cross_entropy", "--pred", "U", "--target", "U", "--weight", "SHORT"], "(300, 2)"),
        (["l1", "--pred", "P", "--target", "P", "--weight", "[0.5,2]"], "(300, 2)"),
        (["nll_loss", "--pred", "P4", "--target", "SHORT_IDX"], "(300,)"),
        (["multi_margin", "--pred", "P4", "--target", "SHORT_IDX"], "(300,)"),
        (["cosine_embedding", "--pred", "P", "--pred2", "P", "--target", "SHORT_SIGNS"], "(300,)"),
    ],
)
def test_large_shape_refusals_name_the_whole_pred_shape(cli, large, monkeypatch, argv, pred_shape) -> None:
    rng = np.random.default_rng(2)
    files = {
        "P": rng.normal(size=(300, 2)),
        "U": rng.uniform(size=(300, 2)),
        "P4": rng.normal(size=(300, 4)),
        "SHORT_IDX": rng.integers(0, 4, size=299),
        "P1": rng.normal(size=600),
        "SHORT1": rng.normal(size=599),
        "SIGNS": np.sign(rng.normal(size=600)),
        "SHORT_SIGNS": np.sign(rng.normal(size=299)),
        "SHORT": rng.uniform(0.1, 1, size=(299, 2)),
    }
    argv = [_npy(large, f"{a}.npy", files[a]) if a in files else a for a in argv]
    run = cli([*argv, "-f", "json"])
    assert_usage_error(run)
    assert pred_shape in run.stderr, run.stderr
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 1_000_000)
    assert cli([*argv, "-f", "json"]).stderr == run.stderr  # the in-memory path's very message


# --- 4. Low: a 0-d target's row is written as nothing ("row  sums") --------------------------------------------------
# c86894f wrote "--target row [] sums to 0"; dd8101c drops the brackets and leaves a double space.


def test_zero_dimensional_target_row_is_named(cli) -> None:
    run = cli(["cross_entropy", "--pred", "5", "--target", "0"])
    assert "row  sums" not in run.stderr, run.stderr


# --- 5. Low: other tensors' gradients come out in alphabetical, not declaration, order -------------------------------
# c86894f: pred, positive, negative … grad, grad_positive, grad_negative (the inputs' order);
# dd8101c sorts the names (engine._finish_extra_grads), so grad_negative precedes grad_positive.


def test_extra_gradients_follow_the_order_of_their_inputs(cli) -> None:
    argv = ["triplet_margin", "--pred", "[[0,0]]", "--positive", "[[3,4]]", "--negative", "[[0,1]]", "-f", "json"]
    keys = [k for k in json.loads(cli(argv).stdout) if k.startswith("grad_")]
    assert keys == ["grad_positive", "grad_negative"]


# --- 6. Pre-existing (medium): an image loss's --save-elements file depends on the input's size ----------------------
# Was: in memory, per-pixel maps in the user's layout ((4, 16, 16, 3) with --channels-last); block path, per-image
# values for psnr ((4,)), and total_variation's per-pixel map in channels-first layout although the user's images
# were channels-last.  Fixed: the blocks (and the bands of one large image) write the same per-pixel maps.


@pytest.mark.parametrize(
    ("loss", "shape", "channels_last"),
    [
        ("psnr", (4, 3, 16, 16), False),  # blocks of images
        ("psnr", (4, 16, 16, 3), True),
        ("total_variation", (4, 16, 16, 3), True),
        ("total_variation", (4, 3, 16, 16), False),
        ("ssim", (2, 3, 16, 16), False),
        ("ssim", (2, 16, 16, 3), True),
        ("dice", (4, 16, 16, 3), True),  # per-image elements: no map
        ("psnr", (3, 20, 24), False),  # one image: bands of rows
        ("psnr", (20, 24, 3), True),
        ("ssim", (3, 40, 24), False),
        ("ssim", (40, 24, 3), True),
        ("ssim", (40, 24), False),
        ("total_variation", (20, 24, 3), True),
    ],
)
def test_image_saved_elements_do_not_depend_on_the_path(cli, monkeypatch, tmp_path, loss, shape, channels_last) -> None:
    rng = np.random.default_rng(5)
    argv = [loss, "--pred", _npy(tmp_path, "p.npy", rng.uniform(size=shape))]
    if loss == "ssim":
        argv += ["--window", "5", "--data-range", "1"]
    if loss in ("psnr", "ssim", "dice"):
        argv += ["--target", _npy(tmp_path, "t.npy", rng.uniform(size=shape))]
    if channels_last:
        argv.append("--channels-last")
    saved = []
    for limit in (1_000_000, 100):
        monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", limit)
        out, grad = tmp_path / f"elements{limit}.npy", tmp_path / f"grad{limit}.npy"
        run = cli([*argv, "--save-elements", str(out), "--save-grad", str(grad), "-f", "value"])
        assert run.code == 0, run.stderr
        saved.append((np.load(out), np.load(grad)))
    (elements, grad), (block_elements, block_grad) = saved
    if loss != "dice":
        assert elements.shape == shape  # per-pixel, in the user's layout
    assert grad.shape == shape
    np.testing.assert_array_equal(elements, block_elements)
    np.testing.assert_allclose(grad, block_grad, rtol=1e-12, atol=1e-15)  # bands sum in another order


@pytest.mark.parametrize(
    ("shape", "channels_last"), [((4, 16, 16, 3), True), ((4, 3, 16, 16), False), ((40, 24, 3), True)]
)
def test_image_heat_maps_do_not_depend_on_the_path(cli, monkeypatch, tmp_path, shape, channels_last) -> None:
    pytest.importorskip("PIL")
    rng = np.random.default_rng(7)
    argv = ["psnr", "--pred", _npy(tmp_path, "p.npy", rng.uniform(size=shape))]
    argv += ["--target", _npy(tmp_path, "t.npy", rng.uniform(size=shape))] + ["--channels-last"] * channels_last
    pictures = []
    for limit in (1_000_000, 100):
        monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", limit)
        elements, grad = tmp_path / f"e{limit}.png", tmp_path / f"g{limit}.png"
        run = cli([*argv, "--save-elements", str(elements), "--save-grad", str(grad), "-f", "value"])
        assert run.code == 0, run.stderr
        pictures.append((elements.read_bytes(), grad.read_bytes()))
    assert pictures[0] == pictures[1]


# --- 7. Pre-existing (low): the block path's first-row probe repeats row 0's warnings -------------------------------
# prepare/_planned checks row 0 to learn the elements' shape, then block 0 checks it again: one row off gives
# "warning: … and 1 more like it" on the block path (and two identical warnings from value_and_grad), where the
# in-memory path gives one.


def test_one_bad_row_gives_one_warning_on_the_block_path(cli, large) -> None:
    rng = np.random.default_rng(6)
    pred = rng.dirichlet(np.ones(2), size=300)
    pred[0] *= 1.3
    argv = ["js_divergence", "--pred", _npy(large, "p.npy", pred)]
    run = cli([*argv, "--target", _npy(large, "t.npy", rng.dirichlet(np.ones(2), size=300)), "-f", "value"])
    assert run.code == 0, run.stderr
    assert run.stderr == "warning: --pred row [0] sums to 1.3, not 1; computed as given\n"


def test_value_and_grad_warns_once_per_problem() -> None:
    import warnings

    pred, target = [[0.4, 0.9], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lossctl.value_and_grad("js_divergence", pred, target)
    assert [str(w.message) for w in caught] == ["--pred row [0] sums to 1.3, not 1; computed as given"]


# --- 8. Regression (medium): compute's **params reach prepare's engine keywords -----------------------------------
# c86894f: lossctl.compute("mse", ..., want_grad=False) -> ParameterError "mse has no parameter 'want_grad'".
# dd8101c: compute forwards **params to prepare(), whose keyword-only options swallow them: want_grad=False is a
# bare AssertionError, check_domain=False turns BCE's domain error into NaN (with allow_nonfinite) or a false
# "overflows float64" message, in_memory/block_rows/channels_last are silently accepted as loss parameters.


@pytest.mark.parametrize("keyword", ["want_grad", "check_domain", "in_memory", "block_rows", "channels_last"])
def test_compute_refuses_engine_keywords_as_loss_parameters(keyword) -> None:
    value = {"want_grad": False, "check_domain": False, "in_memory": False, "block_rows": 1, "channels_last": True}
    with pytest.raises(LossctlError, match=f"no parameter '{keyword}'"):
        lossctl.compute("mse", [[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]], **{keyword: value[keyword]})


def test_compute_cannot_switch_off_the_domain_check() -> None:
    with pytest.raises(LossctlError, match=r"probabilities in|no parameter 'check_domain'"):
        lossctl.compute("binary_cross_entropy", [1.5], [0.0], check_domain=False, allow_nonfinite=True)


# --- 9. Regression (high): `lossctl plot` of a loss with a transform (RMSE's √) -------------------------------------
# curve() now runs the evaluation path with reduction="sum", so the gradient is ∂√(Σℓ)/∂pred over the whole grid,
# not each point's dℓ/dx: the derivative panel of rmse no longer matches its loss panel (ℓ = x², slope 2x), and for
# rmsle one NaN grid point (x < −1) makes every derivative NaN and plotext crashes: exit 70.  c86894f drew both.


def test_plot_rmsle_draws(cli) -> None:
    run = cli(["plot", "rmsle"])
    assert run.code == 0, run.stderr


@pytest.mark.parametrize("loss", ["rmse", "rmsle"])
def test_plot_derivative_is_each_points_derivative(loss) -> None:
    from lossctl.homework.curves import curve
    from lossctl.losses.registry import LOSSES

    spec = LOSSES[loss]
    x = np.linspace(0.0, 1.0, 5)
    drawn = curve(spec, x, {})
    pred, target = x, np.zeros_like(x)
    expected = np.asarray(spec.grad(pred, target), dtype=float)  # d(element)/dx, as c86894f drew it
    np.testing.assert_allclose(drawn.derivative, expected, rtol=1e-12)


# --- 10. Pre-existing (medium): `lossctl plot` of losses without a one-variable view is exit 70 -----------------------
# Expected: exit 2 "lossctl plot has no one-variable view of …" (the message curve() already has).


@pytest.mark.parametrize(
    ("loss", "extra"),
    [
        ("listnet", []),
        ("cosine_similarity", []),
        ("dice", []),
        ("iou", []),
        ("lovasz_hinge", []),
        ("gamma_deviance", []),
        ("psnr", ["--range", "0,1"]),  # ValueError: cannot reshape array of size 1 into shape (401,)
        ("ssim", ["--range", "0,1"]),  # NumPy's "Mean of empty slice" RuntimeWarning on stderr, then exit 70
    ],
)
def test_plot_without_a_view_is_a_usage_error(cli, loss, extra) -> None:
    run = cli(["plot", loss, *extra])
    assert run.code in (0, 2), run.stderr
    if run.code == 2:
        assert_usage_error(run)


# --- 11. Was pre-existing (low): the block path dropped the hint: lines (fixed: the same hints on both paths) ---
# Above 65,536 values --format value takes the block path (cli/blocks.py), which has no _refusal_hints and no
# answer_hints: the same input gives a hint with -f json and none with -f value.


@pytest.mark.parametrize(
    ("loss", "pred", "target", "code"),
    [
        ("mse", (70_000,), (70_000, 1), 2),  # refusal hint: "one as a column"
        ("nll_loss", (70_000, 3), (70_000,), 0),  # answer hint: "nll takes log-probabilities"
        ("mape", (70_000,), (70_000,), 0),  # answer hint: a zero target (targets drawn from 0, 1, 2)
        ("l1", (70_000, 1), (70_000,), 2),  # refusal hint: a column against a row
    ],
)
def test_value_format_keeps_the_hints(cli, tmp_path, loss, pred, target, code) -> None:
    rng = np.random.default_rng(8)
    argv = [loss, "--pred", _npy(tmp_path, "p.npy", rng.uniform(size=pred))]
    argv += ["--target", _npy(tmp_path, "t.npy", rng.integers(0, 3, size=target))]
    as_json, as_value = cli([*argv, "-f", "json"]), cli([*argv, "-f", "value"])
    assert as_json.code == as_value.code == code
    assert "hint: " in as_json.stderr
    assert "hint: " in as_value.stderr, as_value.stderr


# --- 12. Pre-existing (medium-high): the block path infers --data-range from the first image only ------------------
# prepare(in_memory=False) calls spec.infer on raw_pred[:1]: pixels outside [0, 1] in a later image are refused
# in memory ("--data-range: --pred holds floats in [...], not [0, 1]") but silently computed with R = 1 above
# INLINE_LIMIT -- a different, wrong PSNR instead of a refusal.


@pytest.mark.parametrize("loss", ["psnr", "ssim"])
def test_large_images_infer_the_data_range_from_every_image(cli, large, loss) -> None:
    rng = np.random.default_rng(9)
    pred = rng.uniform(size=(4, 3, 16, 16))
    pred[2] *= 2.0  # a later image in [0, 2]
    argv = [loss, "--pred", _npy(large, "p.npy", pred), "--target", _npy(large, "t.npy", rng.uniform(size=pred.shape))]
    if loss == "ssim":
        argv += ["--window", "5"]
    assert_usage_error(cli([*argv, "-f", "json"]), "--data-range")


def test_value_format_infers_the_data_range_like_json(cli, tmp_path) -> None:
    """No monkeypatching: 98,304 values take the block path with -f value only (BLOCKS_FOR_VALUE_FROM)."""
    rng = np.random.default_rng(9)
    pred = rng.uniform(size=(8, 3, 64, 64))
    pred[5] *= 2.0
    argv = [
        "psnr",
        "--pred",
        _npy(tmp_path, "p.npy", pred),
        "--target",
        _npy(tmp_path, "t.npy", rng.uniform(size=pred.shape)),
    ]
    assert_usage_error(cli([*argv, "-f", "json"]), "--data-range")
    assert_usage_error(cli([*argv, "-f", "value"]), "--data-range")  # dd8101c: exit 0, prints 7.0448…
