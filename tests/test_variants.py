"""--explain shows the formula of the setting computed (issue 13): every loss × every param_grid setting."""

from __future__ import annotations

import numpy as np
import pytest

from lossctl import compute
from lossctl.errors import LossctlError
from lossctl.losses.registry import LOSSES
from lossctl.losses.spec import Variant
from lossctl.render.explain import explain

# Parameters whose value changes the mathematics (not only a constant in it).
MATH_CHANGING = {
    "norm",
    "p",
    "log_input",
    "full",
    "log_target",
    "swap",
    "per_sample",
    "distance",
    "soft",
    "detach_alpha",
}


def _settings():
    for spec in LOSSES.values():
        for number, setting in enumerate(spec.testing.param_grid):
            yield pytest.param(spec, setting, id=f"{spec.name}-{number}")


def _result(spec, setting):
    """The setting on sampled inputs (the first seed whose inputs the setting accepts)."""
    for seed in range(20):
        inputs = spec.testing.sample(np.random.default_rng(seed))
        pred, target = inputs.pop("pred"), inputs.pop("target", None)
        try:
            return compute(spec, pred, target, **{**inputs, **setting})
        except LossctlError:
            continue  # e.g. --ignore-index with probability targets
    raise AssertionError(f"no sampled input suits {spec.name} {setting}")


def _changes_maths(spec, setting) -> bool:
    return any(k in MATH_CHANGING and str(v) != str(spec.param(k).default) for k, v in setting.items())


@pytest.mark.parametrize(("spec", "setting"), list(_settings()))
def test_explain_shows_the_formula_and_gradient_of_the_setting(spec, setting) -> None:
    result = _result(spec, setting)
    text = explain(result)
    formula, gradient = spec.formulas(result.params)
    assert f"  {formula}\n" in text and f"  {gradient}\n" in text
    if _changes_maths(spec, setting):
        default = spec.formulas(_result(spec, {}).params)
        assert (formula, gradient) != default


@pytest.mark.parametrize("spec", list(LOSSES.values()), ids=lambda s: s.name)
def test_settings_that_change_the_maths_have_their_own_texts(spec) -> None:
    """Distinct values of the maths-changing parameters give distinct formulas."""
    texts: dict[tuple, tuple[str, str]] = {}
    for setting in spec.testing.param_grid:
        result = _result(spec, setting)
        key = tuple(sorted((k, str(v)) for k, v in result.params.items() if k in MATH_CHANGING))
        texts[key] = spec.formulas(result.params)
    assert len(set(texts.values())) == len(texts), texts


def test_tv_isotropic_shows_its_own_formula_not_l1(cli) -> None:
    text = cli(["tv", "--pred", "1,2;3,5", "--norm", "isotropic", "--explain"]).stdout
    assert "√(dv² + dh² + ε²) − ε" in text and "sign(" not in text and "|x[i+1,j] − x[i,j]|" not in text
    l2sq = cli(["tv", "--pred", "1,2;3,5", "--norm", "l2sq", "--explain"]).stdout
    assert "(x[i+1,j] − x[i,j])²" in l2sq and "sign(" not in l2sq
    l1 = cli(["tv", "--pred", "1,2;3,5", "--explain"]).stdout
    assert "|x[i+1,j] − x[i,j]|" in l1 and "sign(" in l1


def test_variant_matching() -> None:
    variant = Variant({"p": 2, "swap": lambda v: bool(v)}, "f", "g")
    assert variant.applies({"p": 2, "swap": True}) and variant.applies({"p": 2.0, "swap": 1})
    assert not variant.applies({"p": 1, "swap": True}) and not variant.applies({"p": 2, "swap": False})
