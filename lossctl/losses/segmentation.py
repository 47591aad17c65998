"""Segmentation overlap losses (filled in below)."""

LOSSES = ()
