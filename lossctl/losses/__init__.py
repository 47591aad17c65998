"""The loss families; each module ends with a ``LOSSES`` tuple of declarations."""

from __future__ import annotations

from lossctl.losses import (
    boxes,
    classification,
    embedding,
    image,
    library_classification,
    margin,
    metrics,
    probabilistic,
    ranking,
    regression,
    segmentation,
    sequence,
)

FAMILIES = (
    regression,
    metrics,
    classification,
    library_classification,
    probabilistic,
    margin,
    ranking,
    embedding,
    image,
    segmentation,
    boxes,
    sequence,
)
