"""Plain-data descriptions of declared losses, for ``list``, ``info``, docs and tests.

Nothing here imports Rich; the Rich views format these dictionaries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.losses.spec import Example, LossSpec, Param


def literal(values: Any) -> str:
    """A value as the shortest command-line literal: ``2,3,4,5``, ``1,2;3,4`` or JSON."""
    array = np.asarray(values, dtype=float)

    def number(x: float) -> str:
        text = repr(float(x))
        return text[:-2] if text.endswith(".0") else text

    if array.ndim == 0:
        return number(float(array))
    if array.ndim == 1:
        return ",".join(number(x) for x in array)
    if array.ndim == 2 and min(array.shape) > 1:
        return ";".join(",".join(number(x) for x in row) for row in array)
    return str(array.tolist()).replace(" ", "")


def option_value(param: Param, value: Any) -> list[str]:
    """Command-line words that set ``param`` to ``value``."""
    if param.kind == "bool":
        return [param.option if value else "--no-" + param.option[2:]]
    if param.kind == "tensor":
        return [param.option, literal(value)]
    return [param.option, str(value)]


def example_argv(spec: LossSpec, example: Example) -> list[str]:
    """The argv (after ``lossctl``) that reproduces a worked example."""
    argv = [spec.name, "--pred", literal(example.pred)]
    if example.target is not None:
        argv += ["--target", literal(example.target)]
    for name, value in example.params.items():
        argv += option_value(spec.param(name), value)
    if example.reduction != "mean":
        argv += ["--reduction", example.reduction]
    return argv


def quote(word: str) -> str:
    """Shell-quote a word only when it needs it."""
    if word and all(c.isalnum() or c in "-_.,=/+:" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def example_command(spec: LossSpec, example: Example | None = None) -> str:
    example = example or spec.examples[0]
    return "lossctl " + " ".join(quote(w) for w in example_argv(spec, example))


def describe_param(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "option": param.option if param.kind != "bool" else f"{param.option}/--no-{param.option[2:]}",
        "kind": param.kind,
        "default": param.default,
        "range": param.range_text(),
        "help": param.help,
    }


def describe(spec: LossSpec) -> dict[str, Any]:
    """Everything ``lossctl info`` shows, as JSON-able data."""
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "family": spec.family,
        "summary": spec.summary,
        "formula": spec.formula,
        "gradient": spec.gradient,
        "when": spec.when,
        "target": spec.target_help if spec.target != "none" else "none (computed from --pred alone)",
        "params": [describe_param(p) for p in spec.params],
        "reductions": ["mean", "sum", "none", *spec.reductions.extra],
        "pytorch": f"torch.nn.functional.{spec.torch}" if spec.torch else None,
        "related": list(spec.see_also),
        "example": example_command(spec),
        "examples": [
            {"command": example_command(spec, ex), "value": ex.value, "source": ex.source} for ex in spec.examples
        ],
        "references": list(spec.references),
    }


def markdown_table(specs: list[LossSpec]) -> str:
    """The README's table of losses, generated from the registry."""
    lines = [
        "| loss | aliases | family | formula | parameters | PyTorch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for spec in specs:
        params = ", ".join(
            f"`{p.option}` ({p.default_text})" if p.kind != "tensor" else f"`{p.option}`" for p in spec.params
        )
        cells = [
            f"`{spec.name}`",
            ", ".join(f"`{a}`" for a in spec.aliases),
            spec.family,
            spec.formula.replace("|", "\\|"),
            params,
            f"`{spec.torch}`" if spec.torch else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
