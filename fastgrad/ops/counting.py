"""Counting ops, which have no gradient: count_nonzero, bincount, histc, unique."""
import numpy as np

from fastgrad._scalar_types import not_implemented
from fastgrad.autograd.tensor import Tensor
from fastgrad.creation import linspace_array
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim, normalize_dims


@tensor_method()
def count_nonzero(input, dim=None):
    """The number of nonzero elements of ``input`` over ``dim`` (an int or a tuple; all when
    None), as an int64 tensor without the reduced dims."""
    arr = as_tensor(input).arr
    axes = normalize_dims(dim, arr.ndim)
    return Tensor._wrap(np.asarray(np.count_nonzero(arr, axis=axes), dtype=np.int64))


@tensor_method()
def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, ..., max(input) occurs in the 1-D non-negative integer
    tensor ``input`` (int64), or the sum of ``weights`` at each value (float32 weights sum to
    float32, any other dtype to float64, as PyTorch). At least ``minlength`` long."""
    arr = as_tensor(input).arr
    if arr.dtype.kind not in "iu":
        raise not_implemented("bincount_cpu", arr.dtype)
    if arr.ndim != 1 or (arr.size and arr.min() < 0):
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got shape "
                           f"{tuple(arr.shape)}, min {arr.min() if arr.size else None})")
    if minlength < 0:
        raise RuntimeError(f"minlength should be >= 0, got {minlength}")
    if weights is None:
        return Tensor._wrap(np.bincount(arr, minlength=minlength).astype(np.int64))
    w = as_tensor(weights).arr
    if w.shape != arr.shape:
        raise RuntimeError(f"weights should be 1-d and have the same length as input (got "
                           f"weights of shape {tuple(w.shape)}, input of shape {tuple(arr.shape)})")
    out_dtype = np.float32 if w.dtype == np.float32 else np.float64
    return Tensor._wrap(np.bincount(arr, weights=w, minlength=minlength).astype(out_dtype))


@tensor_method()
def histc(input, bins=100, min=0, max=0):
    """Counts of ``input``'s elements in ``bins`` equal bins over [min, max] (the last bin
    closed), in ``input``'s float dtype; elements outside, and NaN, are not counted.

    ``min == max`` takes the data's range instead (widened by 1 on both sides when that is
    one value too). A value's bin is computed as PyTorch computes it, in ``input``'s dtype,
    so a value on a bin edge falls in the same bin as in PyTorch.
    """
    arr = as_tensor(input).arr
    if arr.dtype.kind != "f":
        raise not_implemented("histogram_cpu", arr.dtype)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    if low == high and arr.size:
        low, high = float(arr.min()), float(arr.max())
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError(f"torch.histc: max must be larger than min (min={min}, max={max})")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"torch.histc: range of [{low:g}, {high:g}] is not finite")
    edges = linspace_array(low, high, bins + 1, arr.dtype)
    first, last = edges[0], edges[-1]
    values = arr.ravel()
    values = values[(values >= first) & (values <= last)]  # NaN drops out here
    # PyTorch's bin: (x - min) * bins / (max - min) in the input's dtype, truncated; max
    # itself goes to the last bin.
    index = ((values - first) * arr.dtype.type(bins) / (last - first)).astype(np.int64)
    index = np.minimum(index, bins - 1)
    return Tensor._wrap(np.bincount(index, minlength=bins).astype(arr.dtype))


@tensor_method()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements of ``input`` (flattened; or its distinct slices along ``dim``),
    sorted ascending, in ``input``'s dtype; each NaN is distinct, as in PyTorch.

    With ``return_inverse``, also where each element (slice) went, shaped as ``input``
    (``(input.shape[dim],)``); with ``return_counts``, how often each occurs: both int64. One
    tensor when neither is asked for, else a tuple in that order. ``sorted=False`` still
    sorts (PyTorch permits it).
    """
    arr = as_tensor(input).arr
    if dim is not None:
        axis = normalize_dim(dim, arr.ndim)
        values, inverse, counts = np.unique(arr, return_inverse=True, return_counts=True,
                                            axis=axis, equal_nan=False)
        inverse_shape = (arr.shape[axis],)
    else:
        values, inverse, counts = np.unique(arr.ravel(), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse_shape = arr.shape
    result = [Tensor._wrap(values)]
    if return_inverse:
        result.append(Tensor._wrap(inverse.reshape(inverse_shape).astype(np.int64)))
    if return_counts:
        result.append(Tensor._wrap(counts.astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)
