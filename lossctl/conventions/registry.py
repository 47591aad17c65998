"""Every library convention, by library and by the library's own names.

A name that exactly one library uses (``BinaryCrossentropy``, ``mean_pinball_loss``,
``l2_loss``) and that lossctl does not already spell the same way selects that
library; names are matched with their case, so Keras' ``Huber`` is Keras while
lossctl's ``huber`` stays PyTorch's.
"""

from __future__ import annotations

from collections.abc import Mapping

from lossctl.conventions import keras, optax, sklearn, torchmetrics
from lossctl.conventions.base import Convention, Library
from lossctl.errors import InputError
from lossctl.losses.spec import Param

DEFAULT = "torch"
LIBRARIES: Mapping[str, Library] = {
    lib.name: lib for lib in (keras.LIBRARY, sklearn.LIBRARY, torchmetrics.LIBRARY, optax.LIBRARY)
}
TITLES = {"torch": "PyTorch", **{name: lib.title for name, lib in LIBRARIES.items()}}
CHOICES = (DEFAULT, *LIBRARIES, "all")

# torch.nn module names → lossctl losses (PyTorch is lossctl's own convention)
TORCH_NAMES: Mapping[str, str] = {
    "L1Loss": "l1",
    "MSELoss": "mse",
    "HuberLoss": "huber",
    "SmoothL1Loss": "smooth_l1",
    "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll",
    "BCELoss": "bce",
    "BCEWithLogitsLoss": "bce_with_logits",
    "KLDivLoss": "kl_div",
    "PoissonNLLLoss": "poisson_nll",
    "GaussianNLLLoss": "gaussian_nll",
    "SoftMarginLoss": "soft_margin",
    "MultiLabelSoftMarginLoss": "multilabel_soft_margin",
    "MultiMarginLoss": "multi_margin",
    "MultiLabelMarginLoss": "multilabel_margin",
    "HingeEmbeddingLoss": "hinge_embedding",
    "MarginRankingLoss": "margin_ranking",
    "CosineEmbeddingLoss": "cosine_embedding",
    "TripletMarginLoss": "triplet_margin",
}


def _index() -> dict[str, list[Convention]]:
    names: dict[str, list[Convention]] = {}
    for library in LIBRARIES.values():
        for convention in library.conventions:
            for name in convention.names:
                names.setdefault(name, []).append(convention)
    return names


BY_NAME = _index()


def library_params(name: str, taken: set[str]) -> tuple[Param, ...]:
    """The parameters of every convention called ``name`` (the first of each name), except those in ``taken``."""
    found: dict[str, Param] = {}
    for convention in BY_NAME.get(name, []):
        for param in convention.params:
            if param.name not in taken:
                found.setdefault(param.name, param)
    return tuple(found.values())


def owners_of_param(name: str, param: str) -> list[str]:
    """The libraries whose convention called ``name`` has the parameter ``param``."""
    return sorted({c.library for c in BY_NAME.get(name, []) if c.param(param) is not None})


def library(name: str) -> Library:
    if name not in LIBRARIES:
        raise InputError(f"--convention must be one of {', '.join(CHOICES)}, got {name!r}")
    return LIBRARIES[name]


def _torch_functional_names() -> dict[str, str]:
    """torch.nn.functional names (``huber_loss``, ``mse_loss`` …) → lossctl losses: PyTorch owns these too."""
    from lossctl.losses.registry import LOSSES

    return {spec.torch: spec.name for spec in LOSSES.values() if spec.torch}


def library_of_name(name: str) -> tuple[str, str] | None:
    """(library, lossctl loss) for a name only one library uses, or None (matched with its case).

    PyTorch counts as a library here: its module names (``BCELoss``) select it, and a name it shares with
    another library (``huber_loss`` is torch.nn.functional's and optax's) takes the default.
    """
    if name in TORCH_NAMES:
        return DEFAULT, TORCH_NAMES[name]
    owners = BY_NAME.get(name, [])
    functional = _torch_functional_names()
    if owners and name in functional:
        return DEFAULT, functional[name]
    libraries = {c.library for c in owners}
    if len(libraries) == 1:
        return owners[0].library, owners[0].loss
    per_library = [{c.loss for c in owners if c.library == name} for name in libraries]
    shared = set.intersection(*per_library) if per_library else set()
    if shared:  # shared by several libraries: PyTorch's unless --convention says
        return DEFAULT, next(c.loss for c in owners if c.loss in shared)
    return None


def convention_for(library_name: str, loss: str, invoked: str | None = None) -> Convention | None:
    """The library's convention for a lossctl loss; the invoked name picks among several (optax l2_loss)."""
    lib = library(library_name)
    if invoked is not None:
        for convention in BY_NAME.get(invoked, []):
            if convention.library == library_name and convention.loss == loss:
                return convention
    return lib.for_loss(loss)


def libraries_for(loss: str) -> list[str]:
    """torch, then every library that declares ``loss``."""
    return [DEFAULT, *(name for name, lib in LIBRARIES.items() if lib.for_loss(loss) is not None)]
