"""The command-line side of ``--convention``: choose, read, compute, print (glue for lossctl.command)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from lossctl.conventions.compare import Row, compute_all, matching_conventions, mismatch_note
from lossctl.conventions.explain import explain
from lossctl.conventions.registry import DEFAULT, TITLES
from lossctl.conventions.run import choose, evaluate_convention, parse_settings
from lossctl.errors import ExitStatus, InputError
from lossctl.io.outputs import OutputSet
from lossctl.losses.spec import LossSpec

PYTORCH_LAYOUT_ONLY = {  # lossctl's own pre-processing for PyTorch's losses; the libraries take their own inputs
    "activation": "--activation applies an activation before PyTorch's loss; under {lib} give the library's "
    "own input (Keras and optax losses take logits or probabilities by their own parameters, e.g. "
    "--set from_logits=true)",
    "channels_last": "--channels-last moves the class axis to PyTorch's axis 1; {lib} reads its own layout "
    "(classes last; Keras: --set axis=…)",
}


def run_convention(spec: LossSpec, options: dict[str, Any], invoked: str | None, outputs: OutputSet) -> int | None:
    """Run under another library's convention; None when PyTorch's (lossctl's own path) applies."""
    choice = choose(spec, invoked, options.get("convention"))
    library_options = options.get("library_options") or {}
    settings = {**library_options, **parse_settings(options.get("set"))}
    if library_options and (choice.library == DEFAULT or choice.convention is not None):
        _refuse_library_options(library_options, invoked, choice.convention)
    if choice.library == DEFAULT:
        if settings:
            raise InputError("--set is for other libraries' parameters; PyTorch's are options (lossctl info LOSS)")
        if options.get("sample_weight") is not None:
            own = " (its --weight is PyTorch's nearest)" if any(p.name == "weight" for p in spec.params) else ""
            raise InputError(
                f"--sample-weight: PyTorch's {spec.name} takes no sample weights{own}; "
                "use --convention keras or sklearn for theirs"
            )
        return None
    for name, message in PYTORCH_LAYOUT_ONLY.items():
        if options.get(name):
            raise InputError(message.format(lib=TITLES[choice.library]))
    if options.get("explain") and choice.library == "all":
        raise InputError("--explain shows one library's derivation: choose one --convention, not all")
    from lossctl.cli.reading import read_inputs
    from lossctl.io.inputs import read_array

    pred, target, tensors = read_inputs(spec, options)
    _refuse_torch_tensors(tensors, choice)
    weight = options.get("sample_weight")
    sample_weight = None if weight is None else read_array(weight, "--sample-weight")
    given = {p.name: options.get(p.name) for p in spec.hyper_params}
    if choice.library == "all" or choice.convention is None:  # None only for "all": torch returned above
        return _run_all(spec, options, invoked, pred, target, tensors, sample_weight, settings, given)
    evaluation = evaluate_convention(
        spec,
        choice.convention,
        pred,
        target,
        reduction=options["reduction"],
        dtype=_dtype(options),
        sample_weight=sample_weight,
        settings=settings,
        given=given,
        allow_nonfinite=options.get("allow_nonfinite", False),
    )
    result = evaluation.result
    text = explain(choice.convention, evaluation, options["precision"]) if options.get("explain") else ""
    if isinstance(result.value, np.ndarray) and result.reduction != "none" and options.get("expect") is not None:
        raise InputError(
            f"--expect checks one value, and {choice.convention.name} gives one per output here "
            "(raw values): read them with --format json"
        )
    context = (pred, target, tensors, sample_weight, settings)
    return _emit_result(spec, options, result, choice.library, context, outputs, text)


def _refuse_library_options(given: dict[str, Any], invoked: str | None, convention: Any) -> None:
    """A library's option (``--task``) under PyTorch's convention, or under a library whose loss lacks it."""
    from lossctl.conventions.registry import owners_of_param

    foreign = sorted(name for name in given if convention is None or convention.param(name) is None)
    if not foreign:
        return
    name = foreign[0]
    owners = owners_of_param(invoked or "", name)
    here = "PyTorch's" if convention is None else f"{TITLES[convention.library]}'s"
    raise InputError(
        f"--{name.replace('_', '-')} is a parameter of {' and '.join(TITLES[o] for o in owners)}'s {invoked}, "
        f"not of {here}; use --convention {owners[0] if owners else 'LIBRARY'}"
    )


def _refuse_torch_tensors(tensors: dict[str, Any], choice: Any) -> None:
    """A PyTorch tensor option (--weight, --pred2 …) the library's loss has no place for is an error, not ignored."""
    if choice.convention is None or not tensors:
        return
    name = sorted(tensors)[0]
    raise InputError(
        f"--{name.replace('_', '-')} is PyTorch's parameter; {TITLES[choice.library]}'s {choice.convention.name} "
        "does not take it (see lossctl info and --set for its own parameters)"
    )


def _dtype(options: dict[str, Any]) -> str | None:
    """--dtype when the user chose one; else the library's own (Keras and optax: float32)."""
    return options.get("dtype_given", options.get("dtype"))


def _emit_result(
    spec: LossSpec, options: dict[str, Any], result: Any, library: str, context: tuple, outputs: OutputSet, text: str
) -> int:
    """Print the result (or the derivation ``text`` of --explain), save files, judge --expect."""
    from lossctl.cli.output import emit, publish, save_results, verdicts

    found = verdicts(result, options)
    save_results(result, outputs)
    publish(outputs, lambda: emit(result, options["format"], options["precision"], explained=text, verdicts=found))
    if found and not all(v.ok for v in found):
        rows = _rows_quietly(spec, options, *context)
        _note(library, found[0], rows)
        return ExitStatus.MISMATCH
    return ExitStatus.OK


def _rows_quietly(spec, options, pred, target, tensors, sample_weight, settings, invoked=None) -> list[Row]:
    hyper = {p.name: options.get(p.name) for p in spec.hyper_params}
    try:
        return compute_all(
            spec,
            pred,
            target,
            reduction=options["reduction"] if options["reduction"] in ("mean", "sum") else "mean",
            dtype=_dtype(options),
            invoked=invoked,
            settings=settings,
            given=hyper,
            torch_params={**{k: v for k, v in hyper.items() if v is not None}, **tensors},
            sample_weight=sample_weight,
        )
    except Exception:  # a note is a courtesy: it never turns a verdict into an error
        return []


def _note(library: str, verdict: Any, rows: list[Row]) -> None:
    if not hasattr(verdict, "answer"):  # an array answer is checked against the elements: no library's value
        return
    note = mismatch_note(library, matching_conventions(rows, verdict.answer, verdict.tolerance))
    if note:
        sys.stderr.write(note + "\n")


def note_other_conventions(
    spec: LossSpec, options: dict[str, Any], pred: Any, target: Any, verdicts: list, hyper: dict, tensors: dict
) -> None:
    """After a failed --expect under PyTorch's convention: say which library's number the answer is."""
    if options.get("expect") is None or options.get("reduction") not in ("mean", "sum"):
        return
    if _matches_float32(spec, options, pred, target, verdicts[0], hyper, tensors):
        sys.stderr.write(
            "note: your answer matches PyTorch computed in float32 (torch.tensor's default), not in float64; "
            "rerun with --dtype float32 to check it there\n"
        )
        return
    rows = _rows_quietly(spec, options, pred, target, tensors, None, {})
    _note(DEFAULT, verdicts[0], rows)


def _matches_float32(
    spec: LossSpec, options: dict[str, Any], pred: Any, target: Any, verdict: Any, hyper: dict, tensors: dict
) -> bool:
    """Whether a scalar answer is PyTorch's number in float32 (a precision question, not a convention)."""
    from lossctl.errors import LossctlError
    from lossctl.evaluation.core import compute
    from lossctl.homework.tolerance import rounding_floor

    if options.get("dtype") != "float64" or not hasattr(verdict, "answer"):
        return False
    try:
        single = compute(
            spec,
            pred,
            target,
            reduction=options["reduction"],
            dtype="float32",
            allow_nonfinite=options.get("allow_nonfinite", False),
            activation=options.get("activation"),
            **hyper,
            **tensors,
        )
    except LossctlError:
        return False
    value = float(single.value)
    return abs(verdict.answer - value) <= max(verdict.tolerance, rounding_floor(verdict.answer, value, "float32"))


def _run_all(
    spec: LossSpec,
    options: dict[str, Any],
    invoked: str | None,
    pred: Any,
    target: Any,
    tensors: dict[str, Any],
    sample_weight: Any,
    settings: dict[str, str],
    given: dict[str, Any],
) -> int:
    from lossctl.homework.verdict import check_answer

    rows = compute_all(
        spec,
        pred,
        target,
        reduction=options["reduction"],
        dtype=_dtype(options),
        invoked=invoked,
        settings=settings,
        given=given,
        torch_params={**{k: v for k, v in given.items() if v is not None}, **tensors},
        sample_weight=sample_weight,
    )
    matches: list[str] | None = None
    if options.get("expect") is not None:
        verdict = check_answer(options["expect"], 0.0, options.get("tol"))
        matches = matching_conventions(rows, verdict.answer, verdict.tolerance)
    output_format = options["format"]
    if output_format == "json":
        from lossctl.numbers import jsonable
        from lossctl.render.machine import json_line

        out: dict[str, Any] = {"loss": spec.name, "convention": "all", "conventions": [r.as_dict() for r in rows]}
        if matches is not None:
            out["expect"] = {"answer": float(options["expect"]), "matches": matches}
        sys.stdout.write(json_line(jsonable(out)))
    elif output_format == "table":
        from lossctl.conventions.render import print_all

        print_all(spec.name, rows, options["precision"])
    elif output_format == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["convention", "name", "value", "reduction", "dtype", "reason", "error"])
        for r in rows:
            writer.writerow(
                [
                    r.library,
                    r.name,
                    "" if r.value is None else repr(r.value),
                    r.reduction,
                    r.dtype,
                    r.reason,
                    r.error or "",
                ]
            )
    else:
        raise InputError("--convention all prints one value per library: use --format table, json or csv")
    if matches is None:
        return ExitStatus.OK
    stream = sys.stdout if output_format == "table" else sys.stderr
    if matches:
        stream.write(f"✓ your answer {options['expect']} matches {', '.join(TITLES[m] for m in matches)}\n")
        return ExitStatus.OK
    stream.write(f"✗ your answer {options['expect']} matches none of these conventions\n")
    return ExitStatus.MISMATCH


def list_library(name: str, output_format: str) -> None:
    """``lossctl list --convention LIB``: the library's losses, lossctl's equivalents, and what lossctl lacks."""
    from lossctl.conventions.registry import library

    lib = library(name)
    if output_format == "json":
        from lossctl.render.machine import json_line

        known = [
            {"names": list(c.names), "lossctl": c.loss, "reason": c.reason, "source": c.source} for c in lib.conventions
        ]
        missing = [{"names": [n], "lossctl": None, "reason": what} for n, what in lib.missing.items()]
        sys.stdout.write(json_line({"convention": name, "losses": known + missing}))
    elif output_format == "table":
        from lossctl.conventions.render import print_library

        print_library(lib)
    else:
        raise InputError(f"--format must be table or json with --convention, got {output_format!r}")


def conventions_of(loss: str) -> list[dict[str, Any]]:
    """``lossctl info``: how each library computes this loss, with the source line."""
    from lossctl.conventions.registry import LIBRARIES

    rows = []
    for name, lib in LIBRARIES.items():
        for convention in lib.conventions:
            if convention.loss == loss:
                rows.append(
                    {
                        "convention": name,
                        "names": list(convention.names),
                        "params": [p.name for p in convention.params],
                        "reason": convention.reason,
                        "source": convention.source,
                    }
                )
    return rows
