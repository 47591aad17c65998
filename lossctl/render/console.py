"""The Rich console every table and listing is printed through.

On a standard output that cannot encode Unicode (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``),
:mod:`lossctl.io.process` spells maths symbols in ASCII as they are written (``ŷᵢ`` →
``y_hat_i``), which makes them wider than the cell Rich measured: columns no longer line
up.  Here the texts are spelled in ASCII *before* Rich lays them out, by a render hook
that rewrites every cell, header, title and line of what is printed; Rich then measures
the ASCII text itself (and draws ASCII borders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleRenderable, Group, RenderableType, RenderHook
from rich.table import Table
from rich.text import Text

from lossctl.io.process import spell_ascii, unicode_stdout


def make_console(**settings: Any) -> Console:
    """A Console for standard output (``highlight=False`` unless told), spelling texts in ASCII when it must."""
    settings.setdefault("highlight", False)
    console = Console(**settings)
    if not settings.get("stderr") and not unicode_stdout():
        console.push_render_hook(AsciiCells())
    return console


class AsciiCells(RenderHook):
    """Rewrites each renderable's texts in ASCII before layout."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [ascii_renderable(renderable) for renderable in renderables]  # type: ignore[misc]


def ascii_text(text: Text) -> Text:
    """``text`` spelled in ASCII, piece by piece so that each style stays on its own words."""
    if text.plain.isascii():
        return text
    cuts = sorted({offset for span in text.spans for offset in (span.start, span.end)})
    spelled = Text(style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end)
    for piece in text.divide(cuts):
        start = len(spelled)
        spelled.append(spell_ascii(piece.plain))
        for span in piece.spans:
            spelled.stylize(span.style, start, len(spelled))
    return spelled


def ascii_renderable(renderable: RenderableType) -> RenderableType:
    """Strings, Text, Tables (cells, headers, title, caption) and Groups spelled in ASCII; other things as they are."""
    if isinstance(renderable, str):
        return spell_ascii(renderable)
    if isinstance(renderable, Text):
        return ascii_text(renderable)
    if isinstance(renderable, Table):
        _ascii_table(renderable)
        return renderable
    if isinstance(renderable, Group):
        return Group(*_each(renderable.renderables))
    return renderable


def _each(renderables: Sequence[RenderableType]) -> list[RenderableType]:
    return [ascii_renderable(item) for item in renderables]


def _ascii_table(table: Table) -> None:
    for attribute in ("title", "caption"):
        value = getattr(table, attribute)
        if value is not None:
            setattr(table, attribute, ascii_renderable(value))
    for column in table.columns:
        column.header = ascii_renderable(column.header)
        column.footer = ascii_renderable(column.footer)
        column._cells = _each(column._cells)


def prepared(console: Console, renderable: RenderableType) -> RenderableType:
    """What ``console`` will lay out: spelled in ASCII already when it spells, so measuring it is exact."""
    if any(isinstance(hook, AsciiCells) for hook in console._render_hooks):
        return ascii_renderable(renderable)
    return renderable
