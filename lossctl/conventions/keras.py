"""Keras 3 (``keras.losses``): last-axis means, ε = 1e-7 clipping, float32, its own reductions.

Sources are keras 3.15.1, ``keras/src/losses/losses.py`` (L) and ``loss.py``
(reductions), and the torch/numpy backends' ``nn.py`` for the cross-entropies.
Keras computes in ``floatx()`` = float32: ``Loss.__call__`` converts y_pred and
y_true to the loss dtype (loss.py:56-64), so this convention defaults to float32.
The conventions live by family: :mod:`.keras_crossentropy`, :mod:`.keras_focal`,
:mod:`.keras_regression` and :mod:`.keras_more`; the reductions in :mod:`.keras_reduce`.
"""

from __future__ import annotations

from lossctl.conventions import keras_crossentropy, keras_focal, keras_more, keras_regression
from lossctl.conventions.base import Library
from lossctl.conventions.keras_reduce import reduce

LIBRARY = Library(
    name="keras",
    title="Keras",
    reductions=("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none"),
    reduce=reduce,
    dtype="float32",
    sample_weight=True,
    conventions=(
        *keras_crossentropy.CONVENTIONS,
        *keras_focal.CONVENTIONS,
        *keras_regression.CONVENTIONS,
        *keras_more.CONVENTIONS,
    ),
    missing={
        "CTC": "connectionist temporal classification",
    },
    source="keras 3.15.1 keras/src/losses/loss.py:101-194",
)
