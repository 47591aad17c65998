"""Every library's number side by side (``--convention all``), and which library's number an answer matches."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossctl.conventions.registry import DEFAULT, LIBRARIES, TITLES, convention_for, libraries_for
from lossctl.conventions.run import compute_convention, library_reduction
from lossctl.errors import InputError, LossctlError, ParameterError
from lossctl.losses.spec import LossSpec


@dataclass(frozen=True)
class Row:
    """One library's number for ``--convention all``."""

    library: str
    name: str
    value: float | None
    reduction: str
    dtype: str
    reason: str
    source: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "convention": self.library,
            "name": self.name,
            "value": self.value,
            "reduction": self.reduction,
            "dtype": self.dtype,
            "reason": self.reason,
            "source": self.source,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def compute_all(
    spec: LossSpec,
    pred: Any,
    target: Any,
    *,
    reduction: str = "mean",
    dtype: str | None = None,
    invoked: str | None = None,
    settings: Mapping[str, str] | None = None,
    given: Mapping[str, Any] | None = None,
    torch_params: Mapping[str, Any] | None = None,
    sample_weight: Any = None,
) -> list[Row]:
    """Every library's number on the same inputs (a library that refuses them gets its error instead)."""
    from lossctl.evaluation.core import compute

    if reduction == "none":
        raise InputError("--convention all shows one value per library: use --reduction mean or sum")
    settings = dict(settings or {})
    rows: list[Row] = []
    used: set[str] = set()
    for lib_name in libraries_for(spec.name):
        if lib_name == DEFAULT:
            name, reason, source = spec.torch or spec.name, "lossctl's reference (PyTorch's convention)", "lossctl"
            try:
                result = compute(
                    spec, pred, target, reduction=reduction, dtype=dtype or "float64", **(torch_params or {})
                )
                rows.append(Row(lib_name, name, float(result.value), reduction, result.dtype, reason, source))
            except LossctlError as exc:
                rows.append(Row(lib_name, name, None, reduction, dtype or "float64", reason, source, str(exc)))
            continue
        convention = convention_for(lib_name, spec.name, invoked)
        assert convention is not None
        own = {k: v for k, v in settings.items() if convention.param(k) is not None}
        used |= set(own)
        lib_reduction = library_reduction(lib_name, reduction)
        lib_dtype = dtype or LIBRARIES[lib_name].dtype
        try:
            result = compute_convention(
                spec,
                convention,
                pred,
                target,
                reduction=lib_reduction,
                dtype=dtype,
                settings=own,
                given=given,
                sample_weight=sample_weight if LIBRARIES[lib_name].sample_weight else None,
            )
            value: float | None = float(result.value) if not isinstance(result.value, np.ndarray) else None
            error = None if value is not None else f"one value per output here: run it with --convention {lib_name}"
        except LossctlError as exc:
            value, error = None, str(exc)
        rows.append(
            Row(lib_name, convention.name, value, lib_reduction, lib_dtype, convention.reason, convention.source, error)
        )
    unknown = sorted(set(settings) - used)
    if unknown:
        raise ParameterError(f"--set: no library's {spec.name} has a parameter {unknown[0]!r}")
    return rows


def matching_conventions(rows: list[Row], answer: float, tolerance: float) -> list[str]:
    """Libraries whose number the answer matches."""
    return [
        row.library
        for row in rows
        if row.value is not None and math.isfinite(row.value) and abs(row.value - answer) <= tolerance
    ]


def mismatch_note(chosen: str, matches: list[str]) -> str | None:
    """ "matches Keras's convention, not PyTorch's" when the answer fits another library."""
    others = [m for m in matches if m != chosen]
    if not others:
        return None
    names = " and ".join(f"{TITLES[m]}'s" for m in others)
    plural = "convention" if len(others) == 1 else "conventions"
    return (
        f"note: your answer matches {names} {plural}, not {TITLES[chosen]}'s "
        f"(rerun with --convention {others[0]} to check it there)"
    )
