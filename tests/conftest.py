"""Shared helpers: run the CLI in-process with separate stdout and stderr; a summary of the reference errors."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lossctl.cli import app
from lossctl.losses.registry import LOSSES


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def run_cli(args: list[str], stdin: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    result = CliRunner().invoke(app, args, input=stdin, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli():
    return run_cli


def assert_usage_error(run: Run, *fragments: str) -> None:
    """Exit 2, nothing on stdout, a short message on stderr naming the problem, no traceback."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert run.stdout == ""
    assert run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 2, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, (fragment, run.stderr)


# --- the quick loop: `python -m pytest -m "not slow"` -------------------------------------------------------
#
# Tests marked slow still run in the full suite (`python -m pytest`, what CI runs); the quick loop leaves them
# out.  Besides the `@pytest.mark.slow` written on a test, this table marks slow, in one place, the expensive
# members of the suite, keeping a representative of each in the quick loop:  "file::[Class::]function" ->
# the parameter ids (fnmatch patterns) that stay in the quick loop; an empty tuple sends the whole function
# to the full suite only ("file::*": the whole file but the tests listed).  Why each leaves: a subprocess per
# case (process behaviour: pipes, signals, terminals, encodings, start-up imports), a Dask cluster, large or
# memory-measuring inputs, a library differential grid beyond its first seed or a representative subset, a
# reference library's import time.  tests/test_quick_loop.py checks that every name here exists.


def _first_of_each_family() -> tuple[str, ...]:
    """The first declared loss of each family: the quick loop's sample of the per-loss rendering tests."""
    first: dict[str, str] = {}
    for spec in LOSSES.values():
        first.setdefault(spec.family, spec.name)
    return tuple(first.values())


QUICK_LOOP_LEAVES_OUT: dict[str, tuple[str, ...]] = {
    # Rich rendering of every loss's --help, info and --explain (~15-55 ms each): one loss of each family stays;
    # the contract, example and reference tests keep every loss in the quick loop
    "test_render.py::test_help_shows_formula_verbatim": _first_of_each_family(),
    "test_render.py::test_info_shows_formula_and_gradient_verbatim": _first_of_each_family(),
    "test_homework.py::test_explain_runs_for_every_loss_and_ends_at_the_json_value": _first_of_each_family(),
    # subprocesses: every case starts Python and lossctl (~0.5-1 s each); one representative of each behaviour stays
    "test_process.py::test_broken_pipe_ends_quietly": (),
    "test_process.py::test_ctrl_c_exits_130_without_traceback": (),  # SIGINT stays below (signal-2-130)
    "test_process.py::test_dash_on_a_terminal_is_refused": (),
    "test_process.py::test_standard_input_redirected_from_a_file_is_that_file": (),
    "test_process.py::TestFailedRunWritesNothing::test_stdout_failing_writes_no_file_and_a_closed_pipe_still_saves": (),
    "test_process.py::TestEndingSignalsRemoveStagedFiles::test_signal_while_reading_standard_input": ("2-130",),
    "test_process.py::TestEndingSignalsRemoveStagedFiles::test_signal_in_the_middle_of_the_block_path": (),
    "test_process.py::TestBrokenPipeAndUnwritableStdout::test_reader_gone_before_the_output": ("value",),
    "test_process.py::TestBrokenPipeAndUnwritableStdout::test_reader_leaving_after_one_byte": (),
    "test_process.py::TestBrokenPipeAndUnwritableStdout::test_broken_pipe_wins_over_the_expect_mismatch": (),
    "test_process.py::TestBrokenPipeAndUnwritableStdout::test_closed_stdout_and_full_disk": ("*/dev/full*-value",),
    "test_process.py::TestBrokenPipeAndUnwritableStdout::test_large_writes_are_never_cut_silently": (),
    "test_process.py::TestStdoutWithoutUnicode::test_every_text_command": ("explain-ascii",),
    "test_process.py::TestStdoutWithoutUnicode::test_table_and_explain_use_readable_spellings": (),
    "test_process.py::TestStdoutWithoutUnicode::test_latin1_keeps_what_it_can": (),
    "test_process.py::TestStdoutWithoutUnicode::test_json_escapes_instead_of_spelling": (),
    "test_process.py::TestStdoutWithoutUnicode::test_error_messages_on_an_ascii_stderr": (),
    "test_ascii_tables.py::test_columns_line_up": ("ascii-result-200",),
    "test_ascii_tables.py::test_the_list_spells_formulas_inside_their_cells": (),
    "test_ascii_tables.py::test_a_unicode_stdout_is_left_unicode": (),
    "test_tables.py::test_one_csv_file_does_not_import_pyarrow_dataset": (),
    "test_tables.py::test_start_up_does_not_import_pyarrow_or_dask": (),
    "test_scale.py::test_machine_formats_import_neither_rich_nor_pydantic": ("value",),
    "test_arrow_numpy.py::test_reading_a_table_does_not_import_pandas": ("extra0",),
    "test_tables.py::test_one_parquet_file_is_read_without_the_dataset_module": (),
    "test_cli.py::test_python_dash_m_is_a_real_process": (),  # the process tests above run `python -m lossctl`
    # fuzzing: 1,500 and 500 hypothesis examples
    "test_input_fuzz.py::test_literal_parser_returns_an_array_or_an_input_error": (),
    "test_input_fuzz.py::test_stdin_bytes_give_an_array_or_an_input_error": (),
    # a Dask LocalCluster of worker processes: one bit-for-bit comparison stays
    "test_dask.py::*": ("test_dask_equals_the_local_engine_bit_for_bit[mse-mean]",),
    # Dask arrays (~0.3 s a case, 2.5 s in 144 chunks of 7): every loss in one chunking, mse in misaligned chunks
    "test_dask_api.py::test_dask_arrays_equal_compute_bit_for_bit": ("same-mean-*", "whole-pred-sum-mse"),
    "test_dask_api.py::test_dask_dataframe_columns_equal_compute": ("4",),
    # memory measured on large inputs
    "test_scale.py::TestCsvSavedBlockByBlock::test_peak_memory_does_not_grow_with_the_csv": (),
    "test_pipeline.py::test_value_and_grad_builds_no_per_element_array": ("mse",),
    # PNG plots drawn by matplotlib (~1 s each): test_homework's plot --save stays
    "test_pictures.py::test_plot_png_has_a_panel_row_per_axis": (),
    "test_pictures.py::test_plot_save_without_suffix_writes_and_names_the_png": (),
    # block and thread grids on 10^5-10^6 values (~1-2 s a case): one stays
    "test_streaming.py::test_value_sum_and_mean_are_bit_identical_across_blocks_threads_and_gradients": (
        "float64-mse",
    ),
    # library differential tests looping over every seed: the library matrices keep a case of each in the quick loop
    "test_library_losses.py::test_sklearn_brier_agrees": (),
    "test_library_losses.py::test_sklearn_hinge_agrees": (),
    "test_library_losses.py::test_keras_pooled_overlap_losses_agree": (),  # importing Keras alone takes ~5 s
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow what QUICK_LOOP_LEAVES_OUT names, before `-m` selects (tests/test_quick_loop.py checks the names)."""
    for item in items:
        function = item.nodeid.split("[", 1)[0].rsplit("/", 1)[-1]
        parameters = getattr(getattr(item, "callspec", None), "id", None)
        for rule, keep in QUICK_LOOP_LEAVES_OUT.items():
            if not fnmatch.fnmatchcase(function, rule):
                continue
            name = item.name if rule.endswith("::*") else parameters
            if name is None or not any(fnmatch.fnmatchcase(name, pattern) for pattern in keep):
                item.add_marker(pytest.mark.slow)


def slow_after_first_seed(cases: list[tuple], ids: list[str]) -> list[Any]:
    """Cases ending in a seed as pytest params: seed 0 in the quick run (-m "not slow"), the others marked slow."""
    return [pytest.param(c, id=i, marks=[pytest.mark.slow] if c[-1] else []) for c, i in zip(cases, ids, strict=True)]


def refused_combination(spec, params, pred, target) -> str | None:
    """Parameter settings a loss refuses for some input layouts (as PyTorch does), with the reason."""
    if spec.name in ("cross_entropy", "softmax_focal", "poly1_cross_entropy") and "ignore_index" in params:
        from lossctl.losses.classification import is_index_target

        if not is_index_target(pred, target):
            return "ignore_index is refused with probability targets, as in PyTorch"
    if spec.family == "segmentation" and "ignore_index" in params and getattr(target, "shape", None) == pred.shape:
        return "ignore_index applies to class-index targets, not to masks"
    return None


def surrogate_gradient(spec, params) -> bool:
    """Whether the declared gradient is a library's convention rather than the derivative (CIoU's detached α)."""
    return spec.testing.gradient_is_derivative is not None and not spec.testing.gradient_is_derivative(**params)


def mean_numerator(spec, result) -> float:
    """What ``mean × count`` must equal: the sum, or Σ wᵢ ℓᵢ for a loss with a weighted mean (CTC)."""
    if spec.reductions.mean_weights is None:
        return result.sum
    weights = spec.reductions.mean_weights(result.pred, result.target, **result.params, **result.tensors)
    return float(np.sum(weights * result.elements))


# --- the largest relative errors against the reference libraries, printed after the run -------------------

RELATIVE_ERRORS: dict[str, dict[str, float]] = {}


def record_relative_error(subject: str, kind: str, error: float) -> None:
    """Keep the largest relative error seen against a reference library, per subject (a loss) and kind."""
    slot = RELATIVE_ERRORS.setdefault(subject, {"value": 0.0, "grad": 0.0})
    slot[kind] = max(slot.get(kind, 0.0), error)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After the run: the worst relative error of every subject compared with a reference library."""
    if not RELATIVE_ERRORS:
        return
    terminalreporter.section("worst relative errors against the reference libraries")
    for subject, errors in sorted(RELATIVE_ERRORS.items()):
        kinds = "  ".join(f"{kind} {error:.3g}" for kind, error in errors.items())
        terminalreporter.write_line(f"{subject:32s} {kinds}")


def keras_on_torch() -> tuple[Any, Any]:
    """Keras on its torch backend and torch, or the test is skipped (the Keras differential tests)."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras differential tests run on its torch backend")
    return keras, torch
