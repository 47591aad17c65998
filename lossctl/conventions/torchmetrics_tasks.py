"""torchmetrics' task wrappers: ``hinge_loss(preds, target, task, num_classes, …)`` and ``HingeLoss(task=…)``.

Source: torchmetrics 1.9.0 ``src/torchmetrics/functional/classification/hinge.py:245-288`` (the
functional) and ``src/torchmetrics/classification/hinge.py:356-380`` (the class).  ``task`` is required
(``utilities/enums.py:27-52``: ``ClassificationTaskNoMultilabel.from_str``, any case, ``-`` read as ``_``);
``binary`` calls ``binary_hinge_loss`` and ignores ``num_classes``; ``multiclass`` needs an integer
``num_classes`` (raises otherwise), then ``multiclass_hinge_loss``.  Unlike the task-specific
functionals (``validate_args=False`` by default), the wrappers validate their arguments
(``validate_args=True``): ``num_classes`` must be ≥ 2 and equal to ``preds.shape[1]``
(``hinge.py:126-148``, ``confusion_matrix.py:250-294``).  The arithmetic is that of
:mod:`lossctl.conventions.torchmetrics_hinge`.
"""

from __future__ import annotations

from typing import Any

from lossctl.conventions import torchmetrics_hinge as hinge
from lossctl.conventions.base import Array, Convention
from lossctl.errors import InputError
from lossctl.losses.spec import Param

TASKS = ("binary", "multiclass")
SOURCE = "torchmetrics 1.9.0 src/torchmetrics"


def task_of(task: str | None) -> str:
    """enums.py:27-52: the task as torchmetrics reads it (any case, ``-`` as ``_``), or an error naming --task."""
    if task is None:
        raise InputError(
            "--task is required by torchmetrics' hinge_loss / HingeLoss (its task argument has no default); "
            "give --task binary or --task multiclass"
        )
    key = str(task).strip().lower().replace("-", "_")
    if key not in TASKS:
        raise InputError(f"--task must be binary or multiclass for torchmetrics' hinge_loss, got {task!r}")
    return key


def _binary_params(params: dict[str, Any]) -> dict[str, Any]:
    return {"squared": params.get("squared", False), "ignore_index": params.get("ignore_index")}


def _multiclass_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params.get(k) for k in ("squared", "multiclass_mode", "ignore_index") if params.get(k) is not None}


def check(pred: Array, target: Array, **params: Any) -> None:
    """hinge.py:281-288 and the validation the wrapper switches on (validate_args=True)."""
    if task_of(params.get("task")) == "binary":
        hinge._check_binary(pred, target, ignore_index=params.get("ignore_index"))
        return
    num_classes = params.get("num_classes")
    if num_classes is None:
        raise InputError(
            "--num-classes is required with --task multiclass (torchmetrics raises: num_classes is expected to "
            "be int); give the number of class columns of --pred"
        )
    if num_classes < 2:
        raise InputError(f"--num-classes must be an integer larger than 1 (torchmetrics raises), got {num_classes}")
    hinge._check_multiclass(pred, target, num_classes=num_classes, **_multiclass_params(params))


def elements(pred: Array, target: Array, **params: Any) -> Array:
    if task_of(params.get("task")) == "binary":
        return hinge.binary_elements(pred, target, **_binary_params(params))
    return hinge.multiclass_elements(pred, target, **_multiclass_params(params))


def vjp(pred: Array, target: Array, cot: Array, **params: Any) -> Array:
    if task_of(params.get("task")) == "binary":
        return hinge.binary_vjp(pred, target, cot, **_binary_params(params))
    return hinge.multiclass_vjp(pred, target, cot, **_multiclass_params(params))


def one_value_per_class(task: str | None = None, multiclass_mode: str = "crammer-singer", **_: Any) -> bool:
    """multiclass with one-vs-all returns one value per class (hinge.py:164-175)."""
    return task is not None and task_of(task) == "multiclass" and multiclass_mode == "one-vs-all"


CONVENTIONS = (
    Convention(
        "torchmetrics",
        "hinge",
        ("hinge_loss", "HingeLoss"),
        elements,
        vjp,
        "task= is required: binary → binary_hinge_loss (labels 0/1 as −1/+1), multiclass → multiclass_hinge_loss "
        "(Crammer–Singer or one-vs-all); probabilities unless a value is outside [0, 1], then sigmoid / softmax",
        f"{SOURCE}/functional/classification/hinge.py:245-288; {SOURCE}/classification/hinge.py:356-380",
        params=(
            Param("task", "choice", None, "binary or multiclass (required, as torchmetrics requires it)"),
            Param("num_classes", "int", None, "the number of classes (required with task=multiclass)"),
            hinge.SQUARED,
            Param("multiclass_mode", "choice", "crammer-singer", "crammer-singer or one-vs-all (one value per class)"),
            hinge.IGNORE_INDEX,
        ),
        reductions=("mean", "none"),
        check=check,
        contributions=True,
        vector_value=one_value_per_class,
    ),
)
