"""Listwise and pairwise ranking losses (filled in below)."""

LOSSES = ()
