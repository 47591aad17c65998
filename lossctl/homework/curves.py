"""Loss and derivative curves over one variable, for ``lossctl plot``.

A declaration's ``plot`` maps the x grid to inputs; losses whose target has
pred's shape default to the residual (pred = x, target = 0).  The x-axis is
what a student reasons about: the residual, the logit, or the margin.  Losses
with different x-axes are drawn in separate panels, one row per axis, each
labelled with its own axis; legends name the parameters (``huber δ=2``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lossctl.errors import InputError
from lossctl.evaluation.block import Outputs
from lossctl.evaluation.engine import in_memory, run
from lossctl.evaluation.request import prepare
from lossctl.losses.spec import Array, LossSpec
from lossctl.numbers import short

SYMBOLS = {"delta": "δ", "beta": "β", "alpha": "α", "gamma": "γ", "eps": "ε", "margin": "Δ"}
MARKERS = ("•", "+", "x", "o", "*", "#", "@", "%")  # curves stay apart without colour
RANGE_EXAMPLE = "e.g. --range -3,3"
# The gradient is taken w.r.t. --pred, which is x itself except where the axis maps x to pred (bce: p = σ(x)).
DERIVATIVE = "derivative ∂ℓ/∂pred"


@dataclass(frozen=True)
class Curve:
    loss: str
    axis: str
    x: Array
    value: Array
    derivative: Array
    params: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``huber δ=2``: the loss and its numeric parameters."""
        settings = " ".join(f"{SYMBOLS.get(name, name)}={short(value)}" for name, value in self.params.items())
        return f"{self.loss} {settings}".strip()


def _element_wise(spec: LossSpec) -> bool:
    """A loss of one prediction against one target at a time, that a residual axis can show."""
    return (
        spec.target == "same"
        and spec.family in ("regression", "probabilistic", "margin")
        and spec.class_axis is None
        and spec.images is None
        and spec.engine.separable is None
        and not any(p.required for p in spec.tensor_params)
    )


def curve(spec: LossSpec, x: Array, params: dict) -> Curve:
    """ℓ(x) and dℓ/dx on the grid (points outside the loss's domain are NaN and not drawn)."""
    if spec.teaching.plot is not None:
        pred, target, tensors = spec.teaching.plot(x)
    elif _element_wise(spec):
        pred, target, tensors = x, np.zeros_like(x), {}
    else:
        why = " (a whole-column metric: one point's share depends on every other)" if spec.engine.separable else ""
        raise InputError(
            f"lossctl plot has no one-variable view of {spec.name}{why}; try a regression, binary or hinge loss"
        )
    given: dict[str, Any] = {k: v for k, v in params.items() if k in {p.name for p in spec.hyper_params}}
    given.update(tensors)
    # the evaluation path, without domain checks (points outside the domain are NaN) and with the
    # unreduced losses' gradient: the derivative of each point's loss
    request = prepare(spec, pred, target, given, reduction="none", allow_nonfinite=True, check_domain=False)
    outputs = Outputs(make_elements=in_memory)
    _, gradient = run(request, outputs)
    assert gradient is not None and outputs.elements is not None
    elements, grad, hyper = outputs.elements, gradient, request.params
    if grad.shape != x.shape:  # [x, 0, …] rows: the derivative along x is the first column
        grad = grad.reshape(x.shape[0], -1)[:, 0]
    if elements.size != x.size or not np.isfinite(elements).any():
        raise InputError(
            f"lossctl plot: {spec.name} is undefined everywhere on this --range (or has no value per point); "
            "try another --range"
        )
    numeric = {p.name: hyper[p.name] for p in spec.hyper_params if p.kind in ("float", "int") and p.name in hyper}
    return Curve(spec.name, spec.teaching.plot_axis, x, elements.reshape(x.shape), grad, numeric)


def by_axis(curves: list[Curve]) -> list[tuple[str, list[Curve]]]:
    """Curves grouped by their x-axis, in the order the axes first appear."""
    groups: dict[str, list[Curve]] = {}
    for item in curves:
        groups.setdefault(item.axis, []).append(item)
    return list(groups.items())


def parse_settings(items: list[str]) -> dict[str, float]:
    """``--set delta=2`` → {"delta": 2.0}."""
    settings: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            settings[name.strip().replace("-", "_")] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"--set takes NAME=NUMBER (e.g. --set delta=2), got {item!r}")
    return settings


def parse_range(text: str, points: int = 401) -> tuple[float, float]:
    """``A,B`` with finite A < B whose ``points`` grid points are distinct numbers."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"--range takes two numbers A,B ({RANGE_EXAMPLE}), got {text!r}") from exc
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"--range needs finite numbers, got {text!r}; {RANGE_EXAMPLE}")
    if not low < high:
        raise InputError(f"--range needs A < B, got {text!r}; {RANGE_EXAMPLE}")
    span = high - low
    if not math.isfinite(span):
        raise InputError(f"--range {text!r} spans more than the largest float; {RANGE_EXAMPLE}")
    grid = np.linspace(low, high, points)
    if span < sys.float_info.min or np.unique(grid).size < points:
        raise InputError(
            f"--range {text!r} is too narrow to draw {points} distinct points (span {span:.3g}); widen it, "
            f"{RANGE_EXAMPLE}"
        )
    return low, high


def render_terminal(curves: list[Curve], width: int = 100, height: int = 30, color: bool = False) -> str:
    """Loss and derivative side by side, one figure per x-axis under a line naming that axis.

    Each curve keeps one marker in every panel, so curves stay apart without colour.
    """
    try:
        import plotext as plt
    except ImportError as exc:
        raise InputError("terminal plots need plotext: pip install 'lossctl[plot]'") from exc
    markers = {item.label: MARKERS[i % len(MARKERS)] for i, item in enumerate(curves)}
    figures = []
    for axis, members in by_axis(curves):
        plt.main()  # back to the whole figure: clear_figure clears only the active subplot
        plt.clear_figure()
        plt.subplots(1, 2)
        plt.plot_size(width, height)
        for column, (title, attribute) in enumerate((("loss", "value"), (DERIVATIVE, "derivative")), start=1):
            plt.subplot(1, column)
            plt.title(title)
            plt.xlabel(axis)
            for item in members:
                y = getattr(item, attribute)
                keep = np.isfinite(y)
                plt.plot(item.x[keep].tolist(), y[keep].tolist(), label=item.label, marker=markers[item.label])
        text = plt.build()
        figures.append(f"x: {axis}\n" + (text if color else plt.uncolorize(text)))
    return "\n".join(figures)


def png_path(text: str) -> Path:
    """Where ``--save`` writes: the name given, with ``.png`` added when it has no suffix.

    Refuses, before anything is drawn, a suffix matplotlib cannot write and a missing folder.
    """
    path = Path(text.strip())
    if text.strip() == "" or path.name in ("", ".", ".."):
        raise InputError(f"--save needs a file name such as plot.png, got {text!r}")
    if path.is_dir():
        raise InputError(f"--save: {path} is a folder; give a file name such as {path / 'plot.png'}")
    if path.suffix == "":
        path = path.with_name(path.name + ".png")
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in _writable_formats():
        known = ", ".join(f".{s}" for s in sorted(_writable_formats()))
        raise InputError(f"--save: cannot write {path.name!r}: the suffix must be one of {known}")
    if not path.parent.is_dir():
        raise InputError(f"--save: folder {path.parent} does not exist; create it or choose another")
    if path.is_dir():
        raise InputError(f"--save: {path} is a folder; give a file name such as {path / 'plot.png'}")
    return path


def _matplotlib_pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("--save needs matplotlib: pip install 'lossctl[plot]'") from exc
    return plt


def _writable_formats() -> set[str]:
    """The suffixes matplotlib can write (png, pdf, svg, …)."""
    _matplotlib_pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


def save_png(curves: list[Curve], path: Path) -> None:
    """Loss and derivative panels, one row per x-axis, written atomically to ``path``."""
    import os
    import tempfile

    plt = _matplotlib_pyplot()
    groups = by_axis(curves)
    figure, axes = plt.subplots(len(groups), 2, figsize=(10, 4 * len(groups)), constrained_layout=True, squeeze=False)
    for (axis, members), (left, right) in zip(groups, axes, strict=True):
        for item in members:
            left.plot(item.x, item.value, label=item.label)
            right.plot(item.x, item.derivative, label=item.label)
        for panel, title in ((left, "loss"), (right, DERIVATIVE)):
            panel.set_title(title)
            panel.set_xlabel(axis)
            panel.grid(alpha=0.3)
            panel.legend()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # a new file follows the umask, as `>` would
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, dpi=120, format=path.suffix.lower().lstrip("."))
        os.replace(temporary, path)
    except OSError as exc:
        raise InputError(f"--save: cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)
        plt.close(figure)
