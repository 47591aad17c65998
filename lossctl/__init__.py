"""lossctl: machine-learning losses, their reductions and gradients, from the command line.

>>> from lossctl import compute
>>> compute("mse", [2, 3, 4, 5], [4, 5, 6, 7]).value
4.0
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

from lossctl.evaluation.core import LossResult, compute
from lossctl.losses.registry import LOSSES as losses


def value_and_grad(loss: Any, pred: Any, target: Any = None, **options: Any) -> tuple[Any, Any]:
    """(value, ∂value/∂pred) without per-element arrays; see :func:`lossctl.evaluation.engine.value_and_grad`."""
    from lossctl.evaluation.engine import value_and_grad as blockwise  # imported on first use: fast start-up

    return blockwise(loss, pred, target, **options)


__all__ = ["LossResult", "__version__", "compute", "losses", "value_and_grad"]
