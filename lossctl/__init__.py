"""lossctl: machine-learning losses, their reductions and gradients, from the command line.

>>> from lossctl import compute
>>> compute("mse", [2, 3, 4, 5], [4, 5, 6, 7]).value
4.0
"""

from __future__ import annotations

__version__ = "0.1.0"

from lossctl.evaluation.core import LossResult, compute
from lossctl.losses.registry import LOSSES as losses

__all__ = ["LossResult", "__version__", "compute", "losses"]
