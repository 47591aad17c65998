"""The loss families; each module ends with a ``LOSSES`` tuple of declarations."""

from __future__ import annotations

from lossctl.losses import boxes, classification, embedding, image, margin, regression, sequence

FAMILIES = (regression, classification, margin, image, embedding, boxes, sequence)
