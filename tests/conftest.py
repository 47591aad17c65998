"""Shared helpers: run the CLI in-process with separate stdout and stderr; a summary of the reference errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lossctl.cli import app


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def run_cli(args: list[str], stdin: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    result = CliRunner().invoke(app, args, input=stdin, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli():
    return run_cli


def assert_usage_error(run: Run, *fragments: str) -> None:
    """Exit 2, nothing on stdout, a short message on stderr naming the problem, no traceback."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert run.stdout == ""
    assert run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 2, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, (fragment, run.stderr)


def slow_after_first_seed(cases: list[tuple], ids: list[str]) -> list[Any]:
    """Cases ending in a seed as pytest params: seed 0 in the quick run (-m "not slow"), the others marked slow."""
    return [pytest.param(c, id=i, marks=[pytest.mark.slow] if c[-1] else []) for c, i in zip(cases, ids, strict=True)]


def refused_combination(spec, params, pred, target) -> str | None:
    """Parameter settings a loss refuses for some input layouts (as PyTorch does), with the reason."""
    if spec.name in ("cross_entropy", "softmax_focal", "poly1_cross_entropy") and "ignore_index" in params:
        from lossctl.losses.classification import is_index_target

        if not is_index_target(pred, target):
            return "ignore_index is refused with probability targets, as in PyTorch"
    if spec.family == "segmentation" and "ignore_index" in params and getattr(target, "shape", None) == pred.shape:
        return "ignore_index applies to class-index targets, not to masks"
    return None


def surrogate_gradient(spec, params) -> bool:
    """Whether the declared gradient is a library's convention rather than the derivative (CIoU's detached α)."""
    return spec.testing.gradient_is_derivative is not None and not spec.testing.gradient_is_derivative(**params)


def mean_numerator(spec, result) -> float:
    """What ``mean × count`` must equal: the sum, or Σ wᵢ ℓᵢ for a loss with a weighted mean (CTC)."""
    if spec.reductions.mean_weights is None:
        return result.sum
    weights = spec.reductions.mean_weights(result.pred, result.target, **result.params, **result.tensors)
    return float(np.sum(weights * result.elements))


# --- the largest relative errors against the reference libraries, printed after the run -------------------

RELATIVE_ERRORS: dict[str, dict[str, float]] = {}


def record_relative_error(subject: str, kind: str, error: float) -> None:
    """Keep the largest relative error seen against a reference library, per subject (a loss) and kind."""
    slot = RELATIVE_ERRORS.setdefault(subject, {"value": 0.0, "grad": 0.0})
    slot[kind] = max(slot.get(kind, 0.0), error)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After the run: the worst relative error of every subject compared with a reference library."""
    if not RELATIVE_ERRORS:
        return
    terminalreporter.section("worst relative errors against the reference libraries")
    for subject, errors in sorted(RELATIVE_ERRORS.items()):
        kinds = "  ".join(f"{kind} {error:.3g}" for kind, error in errors.items())
        terminalreporter.write_line(f"{subject:32s} {kinds}")
