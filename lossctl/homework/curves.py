"""Loss and derivative curves over one variable, for ``lossctl plot``.

A declaration's ``plot`` maps the x grid to inputs; losses whose target has
pred's shape default to the residual (pred = x, target = 0).  The x-axis is
what a student reasons about: the residual, the logit, or the margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossctl.errors import InputError
from lossctl.evaluation.core import resolve_params
from lossctl.losses.spec import Array, LossSpec


@dataclass(frozen=True)
class Curve:
    loss: str
    axis: str
    x: Array
    value: Array
    derivative: Array


def curve(spec: LossSpec, x: Array, params: dict) -> Curve:
    """ℓ(x) and dℓ/dx on the grid (points outside the loss's domain are NaN and not drawn)."""
    if spec.plot is not None:
        pred, target, tensors = spec.plot(x)
    elif spec.target == "same" and not any(p.default == "required" for p in spec.tensor_params):
        pred, target, tensors = x, np.zeros_like(x), {}
    else:
        raise InputError(
            f"lossctl plot has no one-variable view of {spec.name}; try a regression, binary or hinge loss"
        )
    hyper = resolve_params(spec, {k: v for k, v in params.items() if k in {p.name for p in spec.hyper_params}})
    with np.errstate(all="ignore"):
        elements = np.asarray(spec.elements(pred, target, **hyper, **tensors), dtype=float)
        grads = spec.grad(pred, target, **hyper, **tensors)
    grad = np.asarray(grads["pred"] if isinstance(grads, dict) else grads, dtype=float)
    if grad.shape != x.shape:  # [x, 0, …] rows: the derivative along x is the first column
        grad = grad.reshape(x.shape[0], -1)[:, 0]
    return Curve(spec.name, spec.plot_axis, x, elements.reshape(x.shape), grad)


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


def parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"--range takes two numbers A,B (e.g. --range -3,3), got {text!r}") from exc
    if not low < high:
        raise InputError(f"--range needs A < B, got {text!r}")
    return low, high


def render_terminal(curves: list[Curve], width: int = 100, height: int = 30, color: bool = False) -> str:
    try:
        import plotext as plt
    except ImportError as exc:
        raise InputError("terminal plots need plotext: pip install 'lossctl[plot]'") from exc
    plt.clear_figure()
    plt.subplots(1, 2)
    plt.plot_size(width, height)
    for column, (title, attribute) in enumerate((("loss", "value"), ("derivative", "derivative")), start=1):
        plt.subplot(1, column)
        plt.title(title)
        plt.xlabel(curves[0].axis)
        for item in curves:
            y = getattr(item, attribute)
            keep = np.isfinite(y)
            plt.plot(item.x[keep].tolist(), y[keep].tolist(), label=item.loss)
    text = plt.build()
    return text if color else plt.uncolorize(text)


def save_png(curves: list[Curve], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("--save needs matplotlib: pip install 'lossctl[plot]'") from exc
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for item in curves:
        left.plot(item.x, item.value, label=item.loss)
        right.plot(item.x, item.derivative, label=item.loss)
    for axes, title in ((left, "loss"), (right, "derivative")):
        axes.set_title(title)
        axes.set_xlabel(curves[0].axis)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.savefig(path, dpi=120)
    plt.close(figure)
