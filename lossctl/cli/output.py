"""What a loss command shows and saves: one writer for every format, the --expect verdicts, warnings.

Everything is computed (and staged) before anything is printed; :func:`publish` prints, then renames
the staged files into place.  Human lines (derivations, ✓/✗) go after the table, or to stderr when
stdout is machine-readable.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from lossctl.errors import InputError, LossctlWarning
from lossctl.evaluation.result import LossResult
from lossctl.homework.hints import answer_hints, refusal_hint
from lossctl.io.outputs import OutputSet
from lossctl.io.process import PipeClosed
from lossctl.losses.spec import LossSpec

if TYPE_CHECKING:
    from lossctl.evaluation.block import Outputs
    from lossctl.evaluation.table_result import TableSummary
    from lossctl.homework.verdict import AnyVerdict

SAVED_AS = {"--save-elements": "elements", "--save-grad": "grad"}  # the JSON keys that say where arrays went


def emit(
    result: LossResult,
    output_format: str,
    precision: int,
    *,
    explained: str = "",
    verdicts: list[AnyVerdict] | None = None,
) -> None:
    """Write the result to stdout in the chosen format; verdicts close the human formats.

    ``explained`` (``--explain``'s derivation) replaces the table; with csv and value it goes to stderr
    (stdout stays machine-readable), and JSON carries it as a list of lines under ``explain``.  A result
    without its arrays in memory shows its summary and where the arrays were saved.
    """
    verdicts = verdicts or []
    lines = verdict_lines(verdicts, precision)
    if output_format == "table":
        if explained:
            sys.stdout.write(explained)
        else:
            from lossctl.render.table import print_table

            print_table(result, precision, marks=_wrong_rows(result, verdicts))
        if lines:
            sys.stdout.write(("\n" if explained else "") + "\n".join(lines) + "\n")
        return
    from lossctl.render import machine

    if output_format == "json":
        extra: dict[str, Any] = {}
        if explained:
            extra["explain"] = explained.rstrip("\n").split("\n")
        if verdicts:
            extra["expect"] = [v.as_dict() for v in verdicts]
        sys.stdout.write(machine.to_json(result, extra))
        close_with([])
        return
    render = {"csv": machine.to_csv, "value": machine.to_value}[output_format]
    sys.stdout.write(render(result))
    close_with(([explained.rstrip("\n")] if explained else []) + lines)


def close_with(lines: list[str]) -> None:
    """Flush the machine-readable output, then the lines for people (derivation, ✓/✗) on stderr.

    Never before a broken pipe is known.
    """
    sys.stdout.flush()
    if lines:
        sys.stderr.write("\n".join(lines) + "\n")


def verdict_lines(verdicts: list[AnyVerdict], precision: int) -> list[str]:
    """The ✓/✗ lines of each --expect check (wrong array entries listed), and a count when there are several."""
    lines = [line for v in verdicts for line in v.lines(precision + 1)]
    if len(verdicts) > 1:
        lines.append(f"{sum(v.ok for v in verdicts)} of {len(verdicts)} checks right")
    return lines


def verdicts(
    result: LossResult | TableSummary, options: dict[str, Any], arrays: Outputs | None = None
) -> list[AnyVerdict]:
    """--expect and --expect-grad, checked before anything is printed.

    A single number is checked against the reduced value; an array (or any answer with ``--reduction
    none``) entry by entry against the elements, and ``--expect-grad`` against the gradient.  Arrays
    not kept in memory (``arrays``: the working files of a large input) are checked a block at a time.
    """
    found: list[AnyVerdict] = []
    expect, tol = options.get("expect"), options.get("tol")
    if expect is None and options.get("expect_grad") is None:
        return found  # nothing to check: start-up does not import the checker (Decimal, Fraction, the parser)
    from lossctl.homework.verdict import check_answer, check_array, check_array_blocks, is_array_answer

    elements = getattr(result, "elements", None)
    if expect is not None:
        if result.reduction == "none" or is_array_answer(expect):
            context = (
                ""
                if result.reduction == "none"
                else f"(an array answer is checked against the elements, not the {result.reduction})"
            )
            if elements is not None:
                found.append(check_array(expect, elements, tol, "--expect", "elements", context, result.dtype))
            elif arrays is not None and arrays.elements is not None:
                found.append(
                    check_array_blocks(expect, arrays.elements, tol, "--expect", "elements", context, result.dtype)
                )
            else:
                raise InputError("--expect with an array needs the elements: drop --format value for this input")
        else:
            found.append(check_answer(expect, float(result.value), tol, dtype=result.dtype))
    grad_answer = options.get("expect_grad")
    if grad_answer is not None:
        from lossctl.homework.verdict import check_gradient

        grad = getattr(result, "grad", None)
        if grad is not None:
            found.append(check_gradient(grad_answer, grad, tol, result.dtype))
        elif arrays is not None and arrays.grad is not None:
            found.append(
                check_array_blocks(grad_answer, arrays.grad, tol, "--expect-grad", "gradient", "", result.dtype)
            )
    return found


def _wrong_rows(result: LossResult, verdicts: list[AnyVerdict]) -> np.ndarray | None:
    """One bool per table row, True where an --expect / --expect-grad entry of it is wrong; None if none is."""
    if not result.in_memory or not verdicts:
        return None
    from lossctl.homework.verdict import ArrayVerdict
    from lossctl.render.rows import per_element

    rows: np.ndarray | None = None
    for verdict in verdicts:
        mask = verdict.wrong_mask() if isinstance(verdict, ArrayVerdict) else None
        if mask is None or result.spec.images:
            continue
        per_row = per_element(result, mask)
        if per_row is None:
            continue
        wrong = np.asarray(per_row.any(axis=1))  # an array: NumPy types any() as maybe returning a scalar
        rows = wrong if rows is None else rows | wrong
    return rows if rows is not None and rows.any() else None


def save_results(result: LossResult, outputs: OutputSet) -> None:
    """Per-pixel losses and the gradient, in the user's layout (.npy, .csv) or as heat maps (.png), staged."""
    for option, array, signed in (
        ("--save-elements", result.pixel_map, False),
        ("--save-grad", lambda: result.arrays()[3], True),
    ):
        staged = outputs.get(option)
        if staged is None:
            continue
        values = array()
        if staged.suffix != ".png":
            values = result.in_user_layout(values)
        outputs.save(option, values, signed=signed)


def publish(outputs: OutputSet, show: Callable[[], None]) -> None:
    """Print, then rename the staged files into place.

    A standard output that cannot be written (closed, a full disk) fails the run, so no file
    appears; a reader that went away (``| head``) is its own choice, not a failure: the files
    are still saved and the status is 141.
    """
    try:
        show()
        sys.stdout.flush()
    except PipeClosed:
        outputs.commit()
        raise
    outputs.commit()


def report_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Each warning once, as one ``warning: …`` line (never Python's format with a source line).

    Blocks repeat a warning for each block they find it in: the first is shown, then how many more.
    NumPy's RuntimeWarnings are not shown: results are checked for inf and NaN instead."""
    shown: dict[type, int] = {}
    for warning in caught:
        category = warning.category
        if issubclass(category, RuntimeWarning) and not issubclass(category, LossctlWarning):
            continue
        shown[category] = shown.get(category, 0) + 1
        if shown[category] == 1:
            sys.stderr.write(f"warning: {str(warning.message).splitlines()[0]}\n")
    for times in shown.values():
        if times > 1:
            sys.stderr.write(f"warning: … and {times - 1} more like it\n")


@contextmanager
def refusal_hints(spec: LossSpec, pred: Any, target: Any, options: dict[str, Any]) -> Iterator[None]:
    """An input error whose cause is a classic confusion gains a ``hint:`` line."""
    try:
        yield
    except InputError as exc:
        hint = refusal_hint(spec.name, pred, target, options.get("activation"), spec.target)
        if hint is None:
            raise
        raise InputError(f"{exc}\nhint: {hint}") from exc


def report_answer_hints(spec: LossSpec, pred: Any, target: Any, options: dict[str, Any]) -> None:
    """A ``hint:`` line on stderr for each input the loss accepted but that was probably meant differently."""
    for hint in answer_hints(spec.name, pred, target, options.get("activation"), spec.target):
        sys.stderr.write(f"hint: {hint}\n")
