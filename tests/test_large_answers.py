"""--expect-grad and array --expect on the large-input path: checked block by block against memory maps.

INLINE_LIMIT, BLOCK_ELEMENTS and ANSWER_BLOCK are lowered so that small files take the block path
and the comparison spans many blocks with a ragged last one.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import lossctl.cli.commands
import lossctl.evaluation.engine
import lossctl.homework.verdict as verdict_module
from lossctl import compute
from lossctl.homework.verdict import LISTED_WRONG, check_array, check_array_blocks


@pytest.fixture
def large(monkeypatch, tmp_path):
    monkeypatch.setattr(lossctl.cli.commands, "INLINE_LIMIT", 100)
    monkeypatch.setattr(lossctl.evaluation.request, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(verdict_module, "ANSWER_BLOCK", 50)
    rng = np.random.default_rng(7)
    pred, target = rng.normal(size=(1003, 2)), rng.normal(size=(1003, 2))
    np.save(tmp_path / "p.npy", pred)
    np.save(tmp_path / "t.npy", target)
    return tmp_path, pred, target


def _argv(folder, loss="mse"):
    return [loss, "--pred", str(folder / "p.npy"), "--target", str(folder / "t.npy")]


@pytest.mark.parametrize(
    ("loss", "extra", "params"),
    [
        ("mse", [], {}),
        ("huber", ["--delta", "0.5"], {"delta": 0.5}),
        ("l1", ["-r", "sum"], {"reduction": "sum"}),
        ("mse", ["--activation", "sigmoid"], {"activation": "sigmoid"}),
        ("log_cosh", ["--activation", "tanh"], {"activation": "tanh"}),
    ],
)
def test_a_right_gradient_file_matches_block_by_block(cli, large, loss, extra, params) -> None:
    folder, pred, target = large
    reference = compute(loss, pred, target, **params)
    np.save(folder / "answer.npy", reference.grad)
    run = cli([*_argv(folder, loss), *extra, "--expect-grad", str(folder / "answer.npy"), "-f", "json"])
    assert run.code == 0, run.stderr
    out = run.json()
    assert "elements" not in out  # the block-wise summary, not the in-memory result
    (check,) = out["expect"]
    assert check["ok"] and check["checked"] == pred.size and check["wrong_count"] == 0
    assert sorted(p.name for p in folder.iterdir()) == ["answer.npy", "p.npy", "t.npy"]  # no working file left


@pytest.mark.parametrize("wrong", [1, LISTED_WRONG, LISTED_WRONG + 1, 357])
def test_wrong_entries_are_counted_and_the_first_ones_listed(cli, large, wrong: int) -> None:
    folder, pred, target = large
    answer = compute("mse", pred, target).grad.copy()
    rng = np.random.default_rng(wrong)
    positions = np.sort(rng.choice(answer.size, size=wrong, replace=False))
    answer.reshape(-1)[positions] += 0.5
    np.save(folder / "answer.npy", answer)
    run = cli([*_argv(folder), "--expect-grad", str(folder / "answer.npy")])
    assert run.code == 1, run.stderr
    assert f"✗ --expect-grad: {wrong:,} of 2,006 entries differ from the gradient" in run.stdout
    listed = [line for line in run.stdout.splitlines() if line.startswith("  ✗ ")]
    assert len(listed) == min(wrong, LISTED_WRONG)
    first = np.unravel_index(positions[0], answer.shape)
    assert listed[0].startswith(f"  ✗ ({first[0]}, {first[1]}) you ")
    assert ("more wrong entries" in run.stdout) == (wrong > LISTED_WRONG)
    assert f"{2006 - wrong:,} of 2,006 entries right" in run.stdout
    json_run = cli([*_argv(folder), "--expect-grad", str(folder / "answer.npy"), "-f", "json"])
    assert json_run.code == 1
    out = json.loads(json_run.stdout)
    (check,) = out["expect"]
    assert check["wrong_count"] == wrong and len(check["wrong"]) == min(wrong, LISTED_WRONG)
    got = [tuple(w["index"]) for w in check["wrong"]]
    assert got == [tuple(int(i) for i in np.unravel_index(p, answer.shape)) for p in positions[:LISTED_WRONG]]


def test_the_gradient_is_saved_and_checked_in_one_run(cli, large) -> None:
    folder, pred, target = large
    reference = compute("mse", pred, target)
    np.save(folder / "answer.npy", reference.grad)
    argv = [*_argv(folder), "--expect-grad", str(folder / "answer.npy"), "--save-grad", str(folder / "g.npy")]
    assert cli([*argv, "-f", "value"]).code == 0
    np.testing.assert_allclose(np.load(folder / "g.npy"), reference.grad, rtol=1e-13)


def test_a_flat_file_is_read_row_by_row_and_a_wrong_shape_is_a_cross(cli, large) -> None:
    folder, pred, target = large
    grad = compute("mse", pred, target).grad
    np.save(folder / "flat.npy", grad.ravel())
    run = cli([*_argv(folder), "--expect-grad", str(folder / "flat.npy")])
    assert run.code == 0 and "read row by row as shape (1003, 2)" in run.stdout
    np.save(folder / "short.npy", grad.ravel()[:-1])
    np.save(folder / "transposed.npy", grad.T)
    for name, shape in (("short.npy", "(2005,)"), ("transposed.npy", "(2, 1003)")):
        run = cli([*_argv(folder), "--expect-grad", str(folder / name)])
        assert run.code == 1 and f"your answer has shape {shape} but the gradient has shape (1003, 2)" in run.stdout


def test_tol_widens_every_entry(cli, large) -> None:
    folder, pred, target = large
    answer = compute("mse", pred, target).grad + 1e-6
    np.save(folder / "answer.npy", answer)
    argv = [*_argv(folder), "--expect-grad", str(folder / "answer.npy")]
    assert cli(argv).code == 1
    assert cli([*argv, "--tol", "2e-6"]).code == 0


def test_typed_answers_keep_their_own_tolerance_on_the_block_path(cli, large, monkeypatch) -> None:
    folder = large[0]
    rng = np.random.default_rng(3)
    pred, target = rng.normal(size=120), rng.normal(size=120)
    np.save(folder / "p.npy", pred)
    np.save(folder / "t.npy", target)
    grad = compute("l1", pred, target, reduction="sum").grad  # ±1: typed as integers, exact
    typed = [str(int(g)) for g in grad]
    run = cli(["l1", *_argv(folder)[1:], "-r", "sum", "--expect-grad", ",".join(typed), "-f", "json"])
    assert run.code == 0 and "elements" not in run.json()
    typed[17] = str(-int(grad[17]))
    run = cli(["l1", *_argv(folder)[1:], "-r", "sum", "--expect-grad", ",".join(typed)])
    assert run.code == 1 and "  ✗ 17 you " in run.stdout and "1 of 120 entries differ" in run.stdout


def test_an_array_expect_is_checked_against_the_elements_block_by_block(cli, large) -> None:
    folder, pred, target = large
    elements = (pred - target) ** 2
    np.save(folder / "e.npy", elements)
    run = cli([*_argv(folder), "--expect", str(folder / "e.npy"), "-f", "json"])
    assert run.code == 0 and run.json()["expect"][0]["checked"] == pred.size
    elements[500, 1] += 1.0
    np.save(folder / "e.npy", elements)
    run = cli([*_argv(folder), "--expect", str(folder / "e.npy")])
    assert run.code == 1 and "  ✗ (500, 1) you " in run.stdout


def test_an_expect_file_works_on_the_in_memory_path_too(cli, tmp_path) -> None:
    np.save(tmp_path / "g.npy", np.array([-1.0, -1.0, -1.0, -1.0]))
    argv = ["mse", "--pred", "2,3,4,5", "--target", "4,5,6,7", "--expect-grad"]
    assert cli([*argv, str(tmp_path / "g.npy")]).code == 0
    np.save(tmp_path / "g.npy", np.array([-1.0, -1.0, 1.0, -1.0]))
    run = cli([*argv, str(tmp_path / "g.npy")])
    assert run.code == 1 and "  ✗ 2 you 1, computed -1" in run.stdout


@pytest.mark.parametrize("seed", range(4))
def test_blockwise_verdicts_equal_the_in_memory_ones(monkeypatch, seed: int) -> None:
    """Same answer text, same computed array: the same wrong entries, with the same tolerances."""
    monkeypatch.setattr(verdict_module, "ANSWER_BLOCK", 7)
    rng = np.random.default_rng(seed)
    computed = rng.normal(size=(6, 5))
    digits = rng.integers(1, 6, size=computed.size)
    texts = [f"{v:.{d}f}" for v, d in zip(computed.ravel(), digits, strict=True)]
    for i in rng.choice(computed.size, size=4, replace=False):
        texts[i] = f"{computed.ravel()[i] + 10.0 ** -int(digits[i]):.{digits[i]}f}"
    texts[3] = "1/3"  # a fraction: relative 1e-9
    text = ";".join(",".join(texts[r * 5 : (r + 1) * 5]) for r in range(6))
    for tol in (None, 1e-3):
        memory, blocks = check_array(text, computed, tol), check_array_blocks(text, computed, tol)
        assert [i for i, _ in memory.wrong] == [i for i, _ in blocks.listed]
        assert [v.tolerance for _, v in memory.wrong] == [v.tolerance for _, v in blocks.listed]
        assert memory.ok == blocks.ok and memory.right == blocks.right
