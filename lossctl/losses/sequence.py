"""Sequence losses: connectionist temporal classification (CTC), as PyTorch's ``ctc_loss``.

``--pred`` holds log-probabilities laid out as PyTorch lays them out: (T, N, C)
(time, batch, classes) or (T, C) for one sequence.  ``--target`` holds the label
sequences padded to (N, S) — or one sequence (S,) — with their lengths in
``--target-lengths``; without it, each row ends at its first negative entry
(pad with −1).  ``--input-lengths`` gives each sequence's number of time steps
(default: all T).

The value is −log p(l | x) from the forward recursion in log space (Graves et
al. 2006, eq. 5–8).  The gradient is the true derivative of the loss with respect
to the given log-probabilities, −γₜ(c) (the posterior occupancy of class c at time
t, from the forward–backward product).  PyTorch's backward returns exp(log_probs) −
γ instead, which assumes the inputs came out of log_softmax: the two agree after
the chain rule through log_softmax (Σ_c γₜ(c) = 1), which is how the tests compare
them.
"""

from __future__ import annotations

import numpy as np

from lossctl.errors import InputError
from lossctl.losses.checks import require
from lossctl.losses.spec import Array, EngineHooks, Example, LossSpec, Param, Reductions, Testing

NEG_INF = -np.inf


def _as_batch(pred: Array) -> Array:
    """(T, C) → (T, 1, C)."""
    return pred if pred.ndim == 3 else pred[:, None, :]


def _label_rows(pred: Array, target: Array) -> Array:
    """Targets as an (N, S) integer array."""
    rows = target.reshape(1, -1) if pred.ndim == 2 else target
    return rows.astype(np.int64)


def _target_lengths(labels: Array, target_lengths: Array | None) -> Array:
    if target_lengths is not None:
        return np.asarray(target_lengths).reshape(-1).astype(np.int64)
    negative = labels < 0
    return np.where(negative.any(axis=1), np.argmax(negative, axis=1), labels.shape[1]).astype(np.int64)


def _input_lengths(log_probs: Array, input_lengths: Array | None) -> Array:
    if input_lengths is None:
        return np.full(log_probs.shape[1], log_probs.shape[0], dtype=np.int64)
    return np.asarray(input_lengths).reshape(-1).astype(np.int64)


def _extended(labels: Array, lengths: Array, blank: int) -> tuple[Array, Array, Array]:
    """l′ = (blank, l₁, blank, l₂, …, blank) per row, padded with blanks; the valid positions; the skip mask."""
    n, width = labels.shape[0], 2 * int(lengths.max(initial=0)) + 1
    extended = np.full((n, width), blank, dtype=np.int64)
    positions = np.arange(1, width, 2)
    inside = (positions[None, :] - 1) // 2 < lengths[:, None]
    if positions.size:
        take = np.where(inside, labels[:, : positions.size], blank)
        extended[:, positions] = take
    valid = np.arange(width)[None, :] < 2 * lengths[:, None] + 1
    skip = np.zeros((n, width), dtype=bool)  # s may be reached from s − 2: a label differing from l′ₛ₋₂
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    return extended, valid, skip


def _shift(a: Array, by: int) -> Array:
    """a[..., s − by], −inf where that falls outside (by > 0: before the start; by < 0: past the end)."""
    out = np.full_like(a, NEG_INF)
    if by > 0:
        out[..., by:] = a[..., :-by]
    else:
        out[..., :by] = a[..., -by:]
    return out


def _ctc_parts(pred, target, blank, input_lengths, target_lengths):
    """Emissions, log α, log β (β includes the emission at t, as PyTorch), the loss per sequence and l′."""
    log_probs = _as_batch(pred)
    steps, n, _ = log_probs.shape
    labels = _label_rows(pred, target)
    lengths = _target_lengths(labels, target_lengths)
    times = _input_lengths(log_probs, input_lengths)
    extended, valid, skip = _extended(labels, lengths, blank)
    emit = np.take_along_axis(log_probs, np.broadcast_to(extended[None], (steps, *extended.shape)), axis=2)
    emit = np.where(valid[None], emit, NEG_INF)
    alpha = np.full(emit.shape, NEG_INF)
    alpha[0, :, :2] = emit[0, :, :2]
    for t in range(1, steps):
        previous = alpha[t - 1]
        two_back = np.where(skip, _shift(previous, 2), NEG_INF)
        alpha[t] = emit[t] + np.logaddexp(np.logaddexp(previous, _shift(previous, 1)), two_back)
    rows = np.arange(n)
    last = alpha[times - 1, rows]  # (N, width) at each sequence's final step
    end = last[rows, 2 * lengths]
    before_end = np.where(lengths > 0, last[rows, np.maximum(2 * lengths - 1, 0)], NEG_INF)
    loss = -np.logaddexp(end, before_end)

    beta = np.full(emit.shape, NEG_INF)
    ends = (np.arange(emit.shape[2])[None, :] == 2 * lengths[:, None]) | (
        (np.arange(emit.shape[2])[None, :] == 2 * lengths[:, None] - 1) & (lengths[:, None] > 0)
    )
    skip_ahead = np.zeros_like(skip)  # s + 2 may be reached from s
    skip_ahead[:, :-2] = skip[:, 2:]
    for t in range(steps - 1, -1, -1):
        start = np.where(ends, emit[t], NEG_INF)
        if t + 1 < steps:
            following = beta[t + 1]
            two_ahead = np.where(skip_ahead, _shift(following, -2), NEG_INF)
            step = emit[t] + np.logaddexp(np.logaddexp(following, _shift(following, -1)), two_ahead)
        else:
            step = start
        beta[t] = np.where((t == times - 1)[:, None], start, np.where((t < times - 1)[:, None], step, NEG_INF))
    return log_probs, emit, alpha, beta, loss, extended


def ctc(
    pred: Array,
    target: Array,
    *,
    blank: int = 0,
    zero_infinity: bool = False,
    input_lengths: Array | None = None,
    target_lengths: Array | None = None,
) -> Array:
    """ℓₙ = −log Σ_{π ∈ B⁻¹(lₙ)} Πₜ y_{πₜ}ᵗ = −log(αₜ₋₁(|l′|) + αₜ₋₁(|l′| − 1)) in log space."""
    loss = _ctc_parts(pred, target, blank, input_lengths, target_lengths)[4]
    if zero_infinity:
        loss = np.where(np.isinf(loss), 0.0, loss)
    return loss.reshape(()) if pred.ndim == 2 else loss


def ctc_grad(
    pred: Array,
    target: Array,
    *,
    blank: int = 0,
    zero_infinity: bool = False,
    input_lengths: Array | None = None,
    target_lengths: Array | None = None,
    element_weights: Array | None = None,
) -> Array:
    """∂ℓₙ/∂log yₜ(c) = −exp(logsumexp_{s: l′ₛ = c}(log αₜ(s) + log βₜ(s) − log yₜ(c)) + ℓₙ), 0 for t ≥ Tₙ."""
    log_probs, emit, alpha, beta, loss, extended = _ctc_parts(pred, target, blank, input_lengths, target_lengths)
    finite = np.isfinite(loss)
    occupancy = np.exp(alpha + beta - emit + np.where(finite, loss, 0.0)[None, :, None])
    occupancy = np.where(np.isfinite(emit), occupancy, 0.0)
    classes = log_probs.shape[2]
    one_hot = np.eye(classes, dtype=log_probs.dtype)[extended]  # (N, width, C)
    grad = -np.einsum("tns,nsc->tnc", occupancy, one_hot)
    grad = np.where(finite[None, :, None], grad, 0.0)  # zero_infinity: an impossible sequence contributes 0
    if element_weights is not None:
        grad = grad * np.asarray(element_weights).reshape(1, -1, 1)
    return grad.reshape(pred.shape)


def ctc_mean_weights(pred: Array, target: Array, *, target_lengths: Array | None = None, **_: object) -> Array:
    """PyTorch's mean divides each sequence's loss by its target length (at least 1)."""
    lengths = _target_lengths(_label_rows(pred, target), target_lengths)
    weights = 1.0 / np.maximum(lengths, 1).astype(pred.dtype)
    return weights.reshape(()) if pred.ndim == 2 else weights


def _require_whole(values: Array, option: str) -> None:
    require(values == np.round(values), values, option, "must hold whole numbers")


def check_ctc(
    pred: Array,
    target: Array,
    *,
    blank: int = 0,
    zero_infinity: bool = False,
    input_lengths: Array | None = None,
    target_lengths: Array | None = None,
) -> None:
    """Shapes as PyTorch's ctc_loss, labels in range and not blank, lengths that fit, alignments that exist."""
    if pred.ndim not in (2, 3):
        raise InputError(f"--pred has shape {pred.shape}; give log-probabilities as (T, N, C) or (T, C)")
    steps, n, classes = _as_batch(pred).shape
    if blank >= classes:
        raise InputError(f"--blank is {blank} but --pred has {classes} classes; the blank must be a class index")
    expected = "(S,)" if pred.ndim == 2 else f"({n}, S)"
    if (pred.ndim == 2 and target.ndim != 1) or (pred.ndim == 3 and (target.ndim != 2 or target.shape[0] != n)):
        raise InputError(f"--target has shape {target.shape}; ctc needs padded label sequences of shape {expected}")
    _require_whole(target, "--target")
    for option, lengths in (("--input-lengths", input_lengths), ("--target-lengths", target_lengths)):
        if lengths is not None:
            if lengths.size != n or lengths.ndim > 1:
                raise InputError(f"{option} has {lengths.size} values but there are {n} sequences; give one each")
            _require_whole(lengths, option)
    labels = _label_rows(pred, target)
    lengths = _target_lengths(labels, target_lengths)
    times = _input_lengths(_as_batch(pred), input_lengths)
    require((times >= 1) & (times <= steps), times, "--input-lengths", f"must be between 1 and T = {steps}")
    require((lengths >= 0) & (lengths <= labels.shape[1]), lengths, "--target-lengths", "must be between 0 and S")
    used = np.arange(labels.shape[1])[None, :] < lengths[:, None]
    label_ok = (labels >= 0) & (labels < classes) & (labels != blank)
    require(~used | label_ok, labels, "--target", f"labels must be classes 0…{classes - 1} other than the blank")
    if not zero_infinity:
        repeats = np.sum(used[:, 1:] & (labels[:, 1:] == labels[:, :-1]), axis=1)
        needed = lengths + repeats
        require(
            times >= needed,
            times,
            "--input-lengths",
            "must allow an alignment (target length + repeated labels); the loss would be infinite "
            "(--zero-infinity counts it as 0)",
        )


def sample_ctc(rng: np.random.Generator) -> dict[str, Array]:
    """Log-softmax outputs and feasible padded targets, batched or single."""
    steps, n, classes = int(rng.integers(6, 10)), int(rng.integers(1, 4)), int(rng.integers(3, 6))
    logits = rng.normal(size=(steps, n, classes)) * 1.5
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=2, keepdims=True))
    lengths = rng.integers(0, 4, size=n)
    lengths[0] = max(lengths[0], 1)
    labels = rng.integers(1, classes, size=(n, 3)).astype(float)
    inputs = {"pred": log_probs, "target": labels}
    if rng.integers(0, 2):
        inputs["target_lengths"] = lengths.astype(float)
    else:
        labels[np.arange(3)[None, :] >= lengths[:, None]] = -1.0
    if rng.integers(0, 2):
        inputs["input_lengths"] = rng.integers(steps - 1, steps + 1, size=n).astype(float)
    if rng.integers(0, 4) == 0:  # one unbatched (T, C) sequence
        keep = int(lengths[0])
        return {"pred": log_probs[:, 0], "target": labels[0, :keep]}
    return inputs


UNIFORM = float(np.log(0.5))

CTC = LossSpec(
    name="ctc",
    aliases=("ctc_loss", "connectionist_temporal_classification"),
    family="sequence",
    summary="Connectionist temporal classification: −log of the total probability of all alignments.",
    formula="ℓₙ = −log Σ_{π: B(π) = lₙ} Πₜ yₜ(πₜ),  by the forward recursion αₜ(s) over l′ = (∅, l₁, ∅, …, ∅)",
    gradient="∂ℓₙ/∂log yₜ(c) = −γₜ(c) = −Σ_{s: l′ₛ = c} αₜ(s) βₜ(s) / (yₜ(c) p(lₙ|x))  (PyTorch returns "
    "yₜ(c) − γₜ(c): this gradient carried through log_softmax to the logits)",
    when="Sequence labelling without frame alignments (speech recognition, handwriting, OCR): --pred holds "
    "log-probabilities (T, N, C) as from log_softmax, --target the padded label sequences (N, S). "
    "The mean divides each sequence's loss by its target length, then averages (PyTorch); sum adds them. "
    "The gradient is the true derivative w.r.t. the given log-probabilities, unlike PyTorch's backward, "
    "which presumes log_softmax inputs. Impossible alignments are an error unless --zero-infinity. "
    "Per-frame cross_entropy / nll need a label per frame; CTC marginalises over alignments.",
    elements=ctc,
    grad=ctc_grad,
    params=(
        Param("blank", "int", 0, "the class index of the blank symbol", low=0),
        Param("zero_infinity", "bool", False, "count impossible alignments (infinite losses) as 0, gradient 0"),
        Param("input_lengths", "tensor", None, "time steps used by each sequence (default: all T)"),
        Param("target_lengths", "tensor", None, "labels used in each --target row (default: up to the first −1)"),
    ),
    target="class",
    target_help="padded label sequences (N, S) (or one (S,) for a (T, C) input); pad with −1 or give --target-lengths",
    torch="ctc_loss",
    torch_agreement="values match it; gradients differ by design: lossctl's is the derivative w.r.t. the given "
    "log-probabilities, PyTorch's backward returns yₜ(c) − γₜ(c), which presumes log_softmax inputs",
    check=check_ctc,
    class_axis=lambda pred: pred.ndim - 1,
    references=(
        "Graves, Fernández, Gomez & Schmidhuber, Connectionist Temporal Classification, ICML 2006, eq. (5)–(16)",
        "PyTorch torch.nn.functional.ctc_loss (aten/src/ATen/native/LossCTC.cpp)",
    ),
    examples=(
        Example(
            [[UNIFORM, UNIFORM], [UNIFORM, UNIFORM]],
            [1.0],
            value=-float(np.log(0.75)),
            source="by hand: T = 2, uniform over {∅, a}: paths aa, ∅a, a∅ give 'a', p = 3/4",
        ),
        Example(
            [[[UNIFORM, UNIFORM], [UNIFORM, UNIFORM]]] * 3,
            [[1.0, -1.0], [1.0, 1.0]],
            value=(-float(np.log(0.75)) / 1 + float(np.log(8.0)) / 2) / 2,
            sum=-float(np.log(0.75)) + float(np.log(8.0)),
            source="by hand: T = 3 uniform: 'a' has 6 of 8 paths, 'aa' only a∅a (1/8); mean divides by lengths 1, 2",
        ),
    ),
    see_also=("nll", "cross_entropy"),
    reductions=Reductions(
        mean_weights=ctc_mean_weights,
    ),
    engine=EngineHooks(
        separable=lambda pred, **_: False,
    ),
    testing=Testing(
        zero_at_target=False,
        sample=sample_ctc,
        param_grid=({}, {"zero_infinity": True}),
    ),
)

LOSSES = (CTC,)
