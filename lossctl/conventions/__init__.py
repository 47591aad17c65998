"""Other libraries' conventions: Keras, scikit-learn, torchmetrics and optax, beside lossctl's PyTorch.

One module per library declares, for each loss it shares with lossctl, the
library's names, parameters, unreduced losses, their gradient and the source
line each rule comes from (:mod:`.keras`, :mod:`.sklearn`, :mod:`.torchmetrics`,
:mod:`.optax`); :mod:`.registry` finds them by name and :mod:`.run` computes.
"""

from __future__ import annotations

from lossctl.conventions.registry import CHOICES, DEFAULT, LIBRARIES, TITLES

__all__ = ["CHOICES", "DEFAULT", "LIBRARIES", "TITLES"]
