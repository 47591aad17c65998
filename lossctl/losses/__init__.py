"""The loss families; each module ends with a ``LOSSES`` tuple of declarations."""

from __future__ import annotations

from lossctl.losses import classification, image, margin, probabilistic, ranking, regression, segmentation

FAMILIES = (regression, classification, probabilistic, margin, ranking, image, segmentation)
