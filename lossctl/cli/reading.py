"""Reading a loss command's inputs: --pred, --target, tensor options or a --data table; the image layout."""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.cli.options import INPUT_FORMS
from lossctl.errors import InputError
from lossctl.io.inputs import read_array, read_columns
from lossctl.losses.spec import LossSpec


def read_inputs(spec: LossSpec, options: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """pred, target and tensor parameters, from literals, files, stdin or --data."""
    tensor_names = [p.name for p in spec.tensor_params]
    sources = {"pred": options.get("pred"), "target": options.get("target"), "data": options.get("data")}
    sources.update({name: options.get(name) for name in tensor_names})
    dashes = [f"--{k.replace('_', '-')}" for k, v in sources.items() if v is not None and v.strip() == "-"]
    if len(dashes) > 1:
        raise InputError(f"{' and '.join(dashes)} both read standard input; only one input can be '-'")

    data = options.get("data")
    pred: np.ndarray
    target: np.ndarray | None
    if data is not None:
        if sources["pred"] is not None or sources["target"] is not None:
            raise InputError("--data replaces --pred and --target; give one or the other")
        if options.get("pred_col") is None or options.get("target_col") is None:
            raise InputError("--data needs --pred-col and --target-col (column names or 0-based indices)")
        pred, target = read_columns(data, options["pred_col"], options["target_col"], options.get("delimiter"))
    else:
        if options.get("pred_col") is not None or options.get("target_col") is not None:
            raise InputError("--pred-col and --target-col need --data FILE")
        if options.get("delimiter") is not None:
            raise InputError("--delimiter applies to --data tables; files given to --pred are detected")
        if sources["pred"] is None:
            raise InputError(f"--pred is required: {INPUT_FORMS}")
        pred = read_array(sources["pred"], "--pred")
        target = None if sources["target"] is None else read_array(sources["target"], "--target")
    tensors = {
        name: read_array(text, f"--{name.replace('_', '-')}")
        for name in tensor_names
        if (text := sources[name]) is not None
    }
    return pred, target, tensors


def channels_first(pred: Any, target: Any, tensors: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Move a trailing channel axis to PyTorch's place: (…, H, W, C) → (…, C, H, W); (H, W) stays."""
    pred = np.asarray(pred)
    if pred.ndim < 3:
        return pred, target, tensors

    def move(array: Any) -> Any:
        array = np.asarray(array)
        if array.ndim >= pred.ndim and array.shape[-pred.ndim :] == pred.shape:
            return np.moveaxis(array, -1, -3)
        return array

    moved = {name: move(tensor) for name, tensor in tensors.items()}
    return np.moveaxis(pred, -1, -3), None if target is None else move(target), moved
