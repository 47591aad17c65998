"""Renderers: a LossResult as a Rich table, JSON, CSV or a bare value.

``json``, ``csv`` and ``value`` never import Rich, to keep pipelines fast.
"""

from __future__ import annotations

FORMATS = ("table", "json", "csv", "value")
