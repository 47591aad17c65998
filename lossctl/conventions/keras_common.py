"""What every Keras convention shares: ε, the source file, the common parameters and checks.

Sources are keras 3.15.1, ``keras/src/losses/losses.py`` and ``keras/src/backend/config.py``.
"""

from __future__ import annotations

from typing import Any

from lossctl.conventions.base import Array, Convention, require_same_shape
from lossctl.errors import InputError
from lossctl.losses.spec import Param

EPSILON = 1e-7  # keras/src/backend/config.py:10 _EPSILON
LOSSES_PY = "keras/src/losses/losses.py"
LAST = -1  # Keras reduces over the last axis first

FROM_LOGITS = Param("from_logits", "bool", False, "y_pred holds logits, not probabilities")
LABEL_SMOOTHING = Param("label_smoothing", "float", 0.0, "squeeze the labels towards uniform", low=0.0, high=1.0)
MEAN_AXIS = Param("axis", "int", -1, "the axis averaged before the reduction")
CLASS_AXIS = Param("axis", "int", -1, "the class axis the cross-entropy sums over")


def eps(x: Array) -> Any:
    """Keras' ε in the array's dtype (float32 by default)."""
    return x.dtype.type(EPSILON)


def declare(
    loss: str, names: tuple[str, ...], pair: tuple[Any, Any], reason: str, line: str, **more: Any
) -> Convention:
    """A Keras convention whose source is ``losses.py:line`` (``line`` may name other files after a ';')."""
    return Convention("keras", loss, names, pair[0], pair[1], reason, f"keras 3.15.1 {LOSSES_PY}:{line}", **more)


def check_same(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "Keras")


def check_axis(pred: Array, target: Array, *, axis: int = -1, **_: Any) -> None:
    if not -pred.ndim <= axis < pred.ndim:
        raise InputError(f"--set axis={axis} is out of range for --pred with {pred.ndim} axes")


def check_same_and_axis(pred: Array, target: Array, **params: Any) -> None:
    check_same(pred, target)
    check_axis(pred, target, **params)


def check_categorical(pred: Array, target: Array, **_: Any) -> None:
    require_same_shape(pred, target, "Keras categorical_crossentropy (one-hot or probability targets)")
