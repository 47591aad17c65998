"""Cheap conversion of the loss commands' option values (str, int, float, bool, Path).

Typer 0.29 converts every option through a Pydantic ``TypeAdapter``; importing
Pydantic and building the adapters costs more than everything else a tiny
call does.  The loss commands only take scalars, so their options get this
converter instead, with the same messages.  Typer versions without the hook
(``_runtime_param``, e.g. 0.27.2, which has no Pydantic) are left alone.

Typer has no public way around Pydantic: ``parser=`` is wrapped in a
``TypeAdapter`` too, and ``click_type=`` is gone in 0.29.  Without this hook
``lossctl mse … -f value`` starts in ~1.6× the time (Pydantic's import alone is
~100 ms), hence the private hook, inside the Typer range pinned in
pyproject.toml and tested at its lower bound in CI.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer import _click as click
from typer.core import TyperArgument, TyperOption

TyperParameter = TyperOption | TyperArgument  # what Typer's runtime-parameter hook is called with

SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
TRUE = {"1", "true", "t", "yes", "y", "on"}
FALSE = {"0", "false", "f", "no", "n", "off"}


@dataclass(frozen=True)
class ScalarCoercion:
    """Typer's runtime-parameter contract (``coerce``) for one scalar type."""

    kind: type

    def coerce(self, value: Any, param: TyperParameter, ctx: click.Context) -> Any:
        if value is None or (isinstance(value, self.kind) and not (self.kind is int and isinstance(value, bool))):
            converted = value
        else:
            converted = self._convert(value, param, ctx)
        if param.required and converted is None:
            raise click.exceptions.MissingParameter(ctx=ctx, param=param)
        return converted

    def _convert(self, value: Any, param: TyperParameter, ctx: click.Context) -> Any:
        text = str(value).strip()
        try:
            if self.kind is bool:
                if text.lower() in TRUE | FALSE:
                    return text.lower() in TRUE
                raise ValueError(text)
            if self.kind is int:
                return int(text)
            if self.kind is Path:  # the raw text: the output check strips it and names an empty one
                return Path(str(value))
            return self.kind(text)
        except ValueError:
            name = SCALARS[self.kind]
            raise click.exceptions.BadParameter(f"{value!r} is not a valid {name}", ctx=ctx, param=param) from None


@dataclass(frozen=True)
class TextListCoercion:
    """A repeatable text option (``--set A=1 --set B=2``): the values as a list of strings."""

    def coerce(self, value: Any, param: TyperParameter, ctx: click.Context) -> Any:
        if value is None:
            return None
        return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def _is_text_list(annotation: Any) -> bool:
    """``list[str]`` or ``list[str] | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else None
    return typing.get_origin(annotation) is list and typing.get_args(annotation) == (str,)


def _scalar_type(annotation: Any) -> type | None:
    """``int`` for ``int`` or ``int | None``; None for anything else."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else None
    return annotation if annotation in SCALARS else None


def use_scalar_coercion(command: click.Command) -> click.Command:
    """Give every scalar option of ``command`` the cheap converter (when Typer has the hook)."""
    names = command.context_settings.get("help_option_names", ["--help"])
    help_option = command.get_help_option(click.Context(command, help_option_names=names))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or not hasattr(param, "_runtime_param"):
            continue
        kind = _scalar_type(descriptor.annotation)
        if kind is not None:
            param._runtime_param = ScalarCoercion(kind)
        elif _is_text_list(descriptor.annotation):
            param._runtime_param = TextListCoercion()
    return command
