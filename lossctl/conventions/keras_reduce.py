"""Keras' reductions (``keras/src/losses/loss.py``): its divisors, sample-weight broadcasting and masks.

Source: keras 3.15.1 ``keras/src/losses/loss.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossctl.conventions.base import Array, unbroadcast
from lossctl.errors import InputError


def squeeze_or_expand(values: Array, weight: Array) -> tuple[Array, Array]:
    """loss.py:119 squeeze_or_expand_to_same_rank: fix a rank difference of one trailing axis of size 1."""
    if values.ndim == weight.ndim + 1 and values.shape[-1] == 1:
        if weight.ndim == 1:
            weight = weight[..., None]
        else:
            values = values[..., 0]
    if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
        if values.ndim == 1:
            values = values[..., None]
        else:
            weight = weight[..., 0]
    return values, weight


def apply_mask(weight: Array | None, mask: Array | None, reduction: str, dtype: np.dtype) -> Array | None:
    """loss.py:197 apply_mask: masked entries weigh 0, kept ones total/valid under the mean reductions."""
    if mask is None:
        return weight
    if reduction in ("mean", "sum_over_batch_size"):
        valid = float(np.sum(mask))
        scale = mask.size / valid if valid else 0.0
        float_mask = np.where(mask, dtype.type(scale), dtype.type(0))
    else:
        float_mask = mask.astype(dtype)
    if weight is None:
        return float_mask
    float_mask, weight = squeeze_or_expand(float_mask, weight.astype(dtype))
    return weight * float_mask


def reduce(elements: Array, sample_weight: Array | None, mask: Array | None, reduction: str) -> tuple[Any, Array]:
    """loss.py:139 reduce_values and :164 reduce_weighted_values, with ∂value/∂elements.

    sum_over_batch_size (and mean) divide the weighted sum by the number of losses, whatever the weights;
    mean_with_sample_weight divides by Σ sample_weight; a 0-d loss is returned as it is.
    """
    dtype = elements.dtype
    weight = apply_mask(sample_weight, mask, reduction, dtype)
    values, factor = elements, None
    if weight is not None:
        values, factor = squeeze_or_expand(elements, weight.astype(dtype))
        try:
            values = values * factor
        except ValueError as exc:
            raise InputError(
                f"--sample-weight has shape {factor.shape} and the Keras losses shape {elements.shape}: "
                "they do not broadcast; give one weight per sample"
            ) from exc
    ones = np.ones(values.shape, dtype=dtype)
    if reduction == "none" or values.ndim == 0 or values.size == 0:
        return values, _back(ones, factor, elements.shape)
    total = np.sum(values, dtype=dtype)
    if reduction == "sum":
        return dtype.type(total), _back(ones, factor, elements.shape)
    if reduction == "mean_with_sample_weight" and factor is not None:
        divisor = dtype.type(np.sum(factor, dtype=dtype))
    else:
        divisor = dtype.type(values.size)
    if divisor == 0:  # ops.divide_no_nan
        return dtype.type(0), np.zeros(elements.shape, dtype=dtype)
    return dtype.type(total / divisor), _back(ones / divisor, factor, elements.shape)


def _back(cot: Array, factor: Array | None, shape: tuple[int, ...]) -> Array:
    """∂value/∂elements from ∂value/∂(weighted values): times the weights, summed back to the elements' shape."""
    if factor is not None:
        cot = cot * factor
    return unbroadcast(np.asarray(cot), shape).reshape(shape)
