"""Every declaration is complete and consistent (a new loss gets these checks for free)."""

from __future__ import annotations

import inspect

import pytest

from lossctl.losses.registry import LOSSES, Registry
from lossctl.losses.spec import LossSpec

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
