"""Did-you-mean for unknown options: the loss's own options, other losses', other libraries' names.

``quantile --tau 0.3`` → ``did you mean --q?``; ``mse --delta 2`` → ``mse has no --delta; huber,
smooth_l1 have it``; ``bce --from-logits`` → ``use bce_with_logits``.  :data:`FOREIGN_NAMES` is the
small table of parameter names other libraries (PyTorch, Keras, scikit-learn, Optax …) use for what
lossctl calls otherwise.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from lossctl.losses.spec import LossSpec


@dataclass(frozen=True)
class ForeignName:
    """A parameter name of another library and lossctl's option for it (on ``losses``, or any loss)."""

    name: str
    option: str | None  # lossctl's option ("--q"), or None when another loss is the answer
    where: str  # which library uses the name, for the message
    losses: tuple[str, ...] = ()  # the lossctl losses it applies to (empty: any loss with ``option``)
    use_loss: str | None = None  # the loss to use instead (from_logits → bce_with_logits)


FOREIGN_NAMES: tuple[ForeignName, ...] = (
    ForeignName("tau", "--q", "scikit-learn / papers call the quantile level τ", ("quantile",)),
    ForeignName("quantile", "--q", "torchmetrics calls it quantile", ("quantile",)),
    ForeignName("alpha", "--q", "scikit-learn's mean_pinball_loss calls it alpha", ("quantile",)),
    ForeignName("epsilon", "--eps", "Keras / Optax call it epsilon"),
    ForeignName("beta", "--delta", "huber's threshold is delta; beta is smooth_l1's", ("huber",)),
    ForeignName("delta", "--beta", "smooth_l1's threshold is beta; delta is huber's", ("smooth_l1",)),
    ForeignName("from_logits", None, "Keras' from_logits=True", ("bce",), "bce_with_logits"),
    ForeignName("from_logits", None, "Keras' from_logits=False", ("bce_with_logits",), "bce"),
    ForeignName("sample_weight", "--weight", "scikit-learn / Keras call it sample_weight"),
    ForeignName("weights", "--weight", "weights is --weight here"),
    ForeignName("reduce", "--reduction", "PyTorch's old reduce/size_average became reduction"),
    ForeignName("size_average", "--reduction", "PyTorch's old reduce/size_average became reduction"),
    ForeignName("smoothing", "--label-smoothing", "label smoothing is --label-smoothing"),
    ForeignName("ignore_label", "--ignore-index", "PyTorch calls it ignore_index"),
    ForeignName("pos_weights", "--pos-weight", "PyTorch calls it pos_weight"),
    ForeignName("max_val", "--data-range", "the peak value is --data-range here"),
    ForeignName("data_range", "--data-range", "the peak value is --data-range"),
    ForeignName("win_size", "--window", "scikit-image's win_size is --window"),
    ForeignName("gaussian_sigma", "--sigma", "the Gaussian window's width is --sigma"),
    ForeignName("y_true", "--target", "y_true is --target here"),
    ForeignName("y_pred", "--pred", "y_pred is --pred here"),
    ForeignName("input", "--pred", "PyTorch's input is --pred here"),
    ForeignName("labels", "--target", "labels are --target here"),
    ForeignName("predictions", "--pred", "predictions are --pred here"),
)


def _key(option: str) -> str:
    return option.strip().lstrip("-").split("=")[0].lower().replace("-", "_")


def loss_options(spec: LossSpec, command_options: Iterable[str]) -> list[str]:
    """Every long option of the loss's command."""
    return sorted({o for o in command_options if o.startswith("--")})


def suggest_option(spec: LossSpec, unknown: str, command_options: Iterable[str]) -> str:
    """One clause to follow ``no such option``: the best guess, or '' when there is none."""
    from lossctl.losses.registry import LOSSES

    key = _key(unknown)
    options = loss_options(spec, command_options)
    for foreign in FOREIGN_NAMES:
        if foreign.name != key or (foreign.losses and spec.name not in foreign.losses):
            continue
        if foreign.use_loss is not None:
            return f"{foreign.where} is a loss of its own here: lossctl {foreign.use_loss}"
        if foreign.option in options:
            return f"did you mean {foreign.option}? ({foreign.where})"
        if foreign.option is not None and not foreign.losses:
            owned = _owners(spec, _key(foreign.option), LOSSES.values())
            if owned:
                return f"{foreign.where}; {owned}"
    owned = _owners(spec, key, LOSSES.values())
    if owned:
        return owned
    close = difflib.get_close_matches("--" + key.replace("_", "-"), options, n=1, cutoff=0.75)
    return f"did you mean {close[0]}?" if close else ""


def _owners(spec: LossSpec, key: str, specs: Iterable[LossSpec]) -> str:
    """``mse has no --delta; huber has it`` when other losses have that parameter, else ''."""
    owners = [other.name for other in specs if any(p.name == key for p in other.params)]
    if not owners:
        return ""
    shown = ", ".join(owners[:4]) + (" …" if len(owners) > 4 else "")
    return f"{spec.name} has no --{key.replace('_', '-')}; {shown} {'has' if len(owners) == 1 else 'have'} it"


def suggest_name(unknown: str, names: Iterable[str]) -> list[str]:
    """Close matches of a command or parameter name (case-insensitive, - and _ alike)."""
    pool = {name.lower().replace("-", "_"): name for name in names}
    matches = difflib.get_close_matches(_key(unknown), list(pool), n=3, cutoff=0.6)
    return [pool[m] for m in matches]
