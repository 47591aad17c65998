"""lossctl: machine-learning losses, their reductions and gradients, from the command line.

>>> from lossctl import compute
>>> compute("mse", [2, 3, 4, 5], [4, 5, 6, 7]).value
4.0
"""

from __future__ import annotations

__version__ = "0.1.0"

import functools
from typing import Any

from lossctl.evaluation.core import LossResult
from lossctl.evaluation.core import compute as _compute
from lossctl.losses.registry import LOSSES as losses


def _has_dask(*values: Any) -> bool:
    """Whether an argument is a Dask collection (told by its type's module: Dask is never imported here)."""
    return any(type(value).__module__.startswith("dask") for value in values)


@functools.wraps(_compute)
def compute(loss: Any, pred: Any, target: Any = None, **options: Any) -> Any:
    if _has_dask(pred, target, *options.values()):  # Dask arrays / DataFrame columns: block by block as Dask tasks
        from lossctl.evaluation.dask_arrays import compute_dask

        return compute_dask(loss, pred, target, **options)
    return _compute(loss, pred, target, **options)


compute.__doc__ = (_compute.__doc__ or "") + (
    "\n    Dask arrays or Dask DataFrame columns as inputs are evaluated block by block as Dask tasks\n"
    "    (:func:`lossctl.evaluation.dask_arrays.compute_dask`): the result is a summary with the same value,\n"
    "    sum and mean, and ``elements`` / ``grad`` as lazy Dask arrays.\n"
)


def value_and_grad(loss: Any, pred: Any, target: Any = None, **options: Any) -> tuple[Any, Any]:
    """(value, ∂value/∂pred) without per-element arrays; see :func:`lossctl.evaluation.engine.value_and_grad`.

    With Dask inputs the value is exact and the gradient a lazy Dask array
    (:func:`lossctl.evaluation.dask_arrays.value_and_grad_dask`).
    """
    if _has_dask(pred, target, *options.values()):
        from lossctl.evaluation.dask_arrays import value_and_grad_dask

        return value_and_grad_dask(loss, pred, target, **options)
    from lossctl.evaluation.engine import value_and_grad as blockwise  # imported on first use: fast start-up

    return blockwise(loss, pred, target, **options)


__all__ = ["LossResult", "__version__", "compute", "losses", "value_and_grad"]
