"""The quick loop's table (QUICK_LOOP_LEAVES_OUT in tests/conftest.py) names tests that exist.

A renamed or deleted test would otherwise leave a stale rule behind, and a rule whose kept parameters
match nothing would silently send the whole test to the full suite.
"""

from __future__ import annotations

import fnmatch
import importlib

import pytest
from conftest import QUICK_LOOP_LEAVES_OUT


def _function(rule: str):
    file, *path = rule.split("::")
    target = importlib.import_module(file.removesuffix(".py"))
    for name in path:
        target = getattr(target, name)
    return target


@pytest.mark.parametrize("rule", sorted(r for r in QUICK_LOOP_LEAVES_OUT if not r.endswith("::*")))
def test_every_rule_names_a_test_function(rule: str) -> None:
    function = _function(rule)
    assert callable(function) and function.__name__.startswith("test_"), rule


@pytest.mark.parametrize("rule", sorted(r for r in QUICK_LOOP_LEAVES_OUT if r.endswith("::*")))
def test_whole_file_rules_keep_tests_that_exist(rule: str) -> None:
    module = importlib.import_module(rule.split("::")[0].removesuffix(".py"))
    for kept in QUICK_LOOP_LEAVES_OUT[rule]:
        assert callable(getattr(module, kept.split("[")[0])), kept


def test_kept_parameters_match_collected_tests(request: pytest.FixtureRequest) -> None:
    """Each pattern kept in the quick loop names at least one collected case of its test."""
    session_items = request.session.items
    by_function: dict[str, list[str]] = {}
    for item in session_items:
        parameters = getattr(getattr(item, "callspec", None), "id", None)
        if parameters is not None:
            by_function.setdefault(item.nodeid.split("[", 1)[0].rsplit("/", 1)[-1], []).append(parameters)
    checked = 0
    for rule, keep in QUICK_LOOP_LEAVES_OUT.items():
        ids = by_function.get(rule)
        if rule.endswith("::*") or ids is None:  # a whole file, or a test this run did not collect
            continue
        for pattern in keep:
            assert any(fnmatch.fnmatchcase(i, pattern) for i in ids), (rule, pattern)
        checked += 1
    if checked == 0:
        pytest.skip("none of the table's parametrised tests was collected in this run")
