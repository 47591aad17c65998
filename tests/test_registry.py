"""Every declaration is complete and consistent (a new loss gets these checks for free)."""

from __future__ import annotations

import inspect
import typing

import pytest

from lossctl.losses.registry import LOSSES, Registry
from lossctl.losses.spec import REQUIRED, Family, LossSpec, TargetKind

SPECS = list(LOSSES.values())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_declaration_is_complete(spec: LossSpec) -> None:
    assert spec.name.isidentifier() and spec.name == spec.name.lower()
    assert spec.summary.endswith(".") and len(spec.summary) < 120
    assert "=" in spec.formula and "∂" in spec.gradient
    assert spec.when and spec.references and spec.examples
    for function in (spec.elements, spec.grad):
        doc = inspect.getdoc(function)
        assert doc, f"{function.__name__} has no docstring with its formula"
    for param in spec.params:
        assert param.help and param.name.isidentifier()
        if param.kind not in ("tensor",):
            param.check(param.default)  # the default is inside its own range


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_examples_name_their_source(spec: LossSpec) -> None:
    for example in spec.examples:
        assert example.source.strip(), "every expected number says where it came from"


def test_aliases_resolve_to_their_loss() -> None:
    for spec in SPECS:
        for name in spec.names:
            assert LOSSES.resolve(name) is spec
            assert LOSSES.resolve(name.upper().replace("_", "-")) is spec


def test_duplicate_names_fail_at_construction() -> None:
    spec = LOSSES["mse"]
    with pytest.raises(RuntimeError, match="declared by both"):
        Registry([spec, LOSSES["rmse"].__class__(**{**spec.__dict__, "name": "other", "aliases": ("l2",)})])


def test_unknown_name_suggests_close_matches() -> None:
    from lossctl.errors import UnknownLossError

    with pytest.raises(UnknownLossError, match="did you mean 'huber'"):
        LOSSES.resolve("hubber")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_typed_fields_hold_declared_values(spec: LossSpec) -> None:
    """Family and target kind are among the declared Literals; a required tensor uses the REQUIRED sentinel."""
    assert spec.family in typing.get_args(Family)
    assert spec.target in typing.get_args(TargetKind)
    for param in spec.params:
        assert param.required == (param.default is REQUIRED)
        assert param.required or not (isinstance(param.default, str) and param.default == "required")
        assert not param.required or param.kind == "tensor"


def test_probabilistic_losses_are_filed_as_probabilistic() -> None:
    for name in ("kl_div", "poisson_nll", "gaussian_nll"):
        assert LOSSES[name].family == "probabilistic"
    assert LOSSES["gaussian_nll"].target == "checked"  # its check compares --target and --var with --pred
    assert LOSSES["gaussian_nll"].param("var").required and str(REQUIRED) == "required"
