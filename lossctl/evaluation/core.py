"""``compute``: the Python API's entry, the one evaluation path with every array kept in memory.

``compute`` validates the call once (:func:`lossctl.evaluation.request.prepare`), runs the block engine
(:func:`lossctl.evaluation.engine.run`) with in-memory arrays for the elements and the gradient, and
returns the :class:`~lossctl.evaluation.result.LossResult` the command line renders.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lossctl.evaluation.activations import derivative
from lossctl.evaluation.block import Outputs
from lossctl.evaluation.engine import in_memory, run
from lossctl.evaluation.request import prepare
from lossctl.evaluation.result import LossResult
from lossctl.losses.spec import LossSpec


def compute(
    loss: str | LossSpec,
    pred: Any,
    target: Any = None,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    allow_nonfinite: bool = False,
    activation: str | None = None,
    **params: Any,
) -> LossResult:
    """Evaluate ``loss`` on ``pred`` and ``target``.

    Args:
        loss: a registered name or alias (``"mse"``, ``"mae"`` …) or a LossSpec.
        pred: predictions, any array-like of numbers.
        target: targets (``None`` for losses that take none).
        reduction: ``"mean"``, ``"sum"``, ``"none"`` or a loss-specific one
            (``"batchmean"`` for ``kl_div``); chooses ``value`` and ``grad``.
        dtype: ``"float64"`` (default) or ``"float32"``.
        allow_nonfinite: accept NaN and ±inf in the inputs.
        activation: ``"sigmoid"``, ``"softmax"`` or ``"tanh"``: ``pred`` holds pre-activations z,
            the loss sees a(z) and ``grad`` is ∂value/∂z by the chain rule.
        **params: the loss's hyper-parameters and tensor parameters.

    Returns:
        A :class:`LossResult`; ``grad`` is ∂value/∂pred for the chosen reduction
        (for ``"none"``, the gradient of the sum of the elements).
    """
    request = prepare(
        loss,
        pred,
        target,
        params,
        reduction=reduction,
        dtype=dtype,
        allow_nonfinite=allow_nonfinite,
        activation=activation,
    )
    outputs = Outputs(make_elements=in_memory)
    summary, grad = run(request, outputs)
    assert grad is not None and outputs.elements is not None  # in memory, with the gradient
    spec = request.spec
    return replace(
        summary,
        pred=request.pred,
        target=request.target,
        elements=outputs.elements,
        grad=grad,
        tensors=dict(request.tensors),
        extra_grads=outputs.extra_grads,
        class_axis=spec.class_axis(request.pred) if spec.class_axis else None,
        pre_activation=request.pre_activation,
        activation_derivative=None if activation is None else derivative(activation, request.pred),
    )


__all__ = ["LossResult", "compute"]
