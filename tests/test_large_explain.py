"""--explain on the large-input path: the first elements worked out from a head slice, the sums from the blocks.

The derivation's numbers for the shown elements must be the in-memory path's; memory holds a few rows.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import lossctl.cli.commands
import lossctl.evaluation.engine
import lossctl.render.explain_large
from lossctl import compute
from lossctl.losses.wording import Numbers

CASES = [
    ("mse", (1003, 2), [], {}),
    ("huber", (1003,), ["--delta", "0.3"], {"delta": 0.3}),
    ("l1", (1003, 3), ["-r", "sum"], {"reduction": "sum"}),
    ("rmse", (1003, 2), [], {}),
    ("mse", (1003, 2), ["--activation", "tanh"], {"activation": "tanh"}),
    ("ce", (1003, 4), ["--weight", "1,2,0.5,3"], {"weight": [1, 2, 0.5, 3]}),
    ("bce", (1003, 2), ["--activation", "sigmoid"], {"activation": "sigmoid"}),
]


def _inputs(folder, loss, shape, seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=shape)
    if loss == "ce":
        target = rng.integers(0, shape[1], size=shape[0]).astype(float)
    elif loss == "bce":
        target = rng.integers(0, 2, size=shape).astype(float)
    else:
        target = rng.normal(size=shape)
    np.save(folder / "p.npy", pred)
    np.save(folder / "t.npy", target)
    return pred, target, [loss, "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy")]


@pytest.mark.parametrize(("loss", "shape", "extra", "params"), CASES)
def test_the_shown_numbers_are_the_in_memory_ones(cli, monkeypatch, tmp_path, loss, shape, extra, params) -> None:
    pred, target, argv = _inputs(tmp_path, loss, shape)
    memory = cli([*argv, *extra, "--explain"])
    assert memory.code == 0, memory.stderr
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)
    large = cli([*argv, *extra, "--explain", "-f", "json"])
    assert large.code == 0, large.stderr
    out = large.json()
    assert "elements" not in out and "arrays" in out  # the block-wise summary
    text = "\n".join(out["explain"])
    reference = compute(loss, pred, target, **params)
    fmt = Numbers(6)
    grad_line = next(line for line in text.splitlines() if line.startswith("  ∂L/∂") and "[" in line)
    shown = re.search(r"\[(.*), …\]", grad_line).group(1).split(", ")
    assert shown == [fmt(g) for g in reference.grad.ravel()[:3]]
    for number in shown:  # the in-memory derivation prints the same digits
        assert number in memory.stdout
    assert f"= {fmt(reference.value)}" in text and f"= {fmt(reference.value)}" in memory.stdout
    worked = [line for line in text.splitlines() if line.startswith("  ℓ[")]
    if loss != "ce":  # element-wise: ℓ[i] = substituted term = value
        assert len(worked) == 3
        for line, element in zip(worked, reference.elements.ravel()[:3], strict=True):
            term, value = line.split(" = ", 1)[1].rsplit(" = ", 1)
            assert value == fmt(element)
            assert term in memory.stdout  # the same substitution as the in-memory derivation
    else:
        assert "sample 0" in text and "sample 3" not in text


def test_table_value_and_json_place_the_derivation_as_in_memory(cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    _, _, argv = _inputs(tmp_path, "mse", (1003, 2))
    table = cli([*argv, "--explain"])
    assert table.code == 0 and table.stdout.startswith("mse: ") and "Σ ℓ = " in table.stdout
    value = cli([*argv, "--explain", "-f", "value"])
    assert value.code == 0 and float(value.stdout) > 0 and "Σ ℓ = " in value.stderr
    expect = cli([*argv, "--explain", "--expect", "0.5"])
    assert expect.code == 1 and "✗ your answer 0.5" in expect.stdout


def test_only_the_head_rows_are_computed_in_memory(cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    seen: list[tuple[int, ...]] = []
    real = lossctl.render.explain_large.compute

    def spy(spec, pred, *args, **kwargs):
        seen.append(np.shape(pred))
        return real(spec, pred, *args, **kwargs)

    monkeypatch.setattr(lossctl.render.explain_large, "compute", spy)
    _, _, argv = _inputs(tmp_path, "mse", (5000, 3))
    assert cli([*argv, "--explain", "-f", "value"]).code == 0
    assert seen == [(3, 3)]


@pytest.mark.parametrize(("loss", "extra"), [("psnr", []), ("ssim", ["--window", "3"])])
def test_image_batches_show_the_first_images_and_channels_last_is_followed(cli, monkeypatch, tmp_path, loss, extra):
    rng = np.random.default_rng(5)
    pred, target = rng.random((40, 6, 7, 3)), rng.random((40, 6, 7, 3))  # N, H, W, C
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "t.npy", target)
    argv = [loss, "--pred", str(tmp_path / "p.npy"), "--target", str(tmp_path / "t.npy"), *extra, "--channels-last"]
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    out = cli([*argv, "--explain", "-f", "json"]).json()
    params = {"window": 3} if extra else {}
    reference = compute(loss, np.moveaxis(pred, -1, -3), np.moveaxis(target, -1, -3), **params)
    text = "\n".join(out["explain"])
    fmt = Numbers(6)
    for element in reference.elements.ravel()[:3]:
        assert f"= {fmt(element)}" in text
    user_layout = np.moveaxis(reference.grad, -3, -1).ravel()[:3]
    assert "[" + ", ".join(fmt(g) for g in user_layout) + ", …]" in text


def test_a_single_large_image_is_summarised_without_a_head(cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    np.save(tmp_path / "one.npy", np.random.default_rng(2).random((30, 31)))
    run = cli(["tv", "--pred", str(tmp_path / "one.npy"), "--explain"])
    assert run.code == 0 and "none is worked out alone" in run.stdout and "Σ ℓ = " in run.stdout
