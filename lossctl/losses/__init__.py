"""The loss families; each module ends with a ``LOSSES`` tuple of declarations."""

from __future__ import annotations

from lossctl.losses import (
    boxes,
    classification,
    embedding,
    image,
    margin,
    probabilistic,
    ranking,
    regression,
    segmentation,
    sequence,
)

FAMILIES = (regression, classification, probabilistic, margin, ranking, embedding, image, segmentation, boxes, sequence)
