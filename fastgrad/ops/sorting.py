"""Order statistics along a dim: sort, topk, kthvalue, median, mode.

Each finds int64 indices without a gradient (a stable argsort; mode's runs in a numba scan)
and reads its values as ``gather(input, dim, indices)``: the values' gradient goes back to the
elements chosen, and is differentiable again, with no backward of its own.
"""
import collections

import numpy as np

from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import scan
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim
from fastgrad.ops.gather_scatter import gather
from fastgrad.ops.search import _stable_argsort

SortResult = collections.namedtuple("sort", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
KthvalueResult = collections.namedtuple("kthvalue", ["values", "indices"])
MedianResult = collections.namedtuple("median", ["values", "indices"])
ModeResult = collections.namedtuple("mode", ["values", "indices"])


def _picked(x, axis, indices, keepdim, result_type):
    """(values, indices) for int64 ``indices`` (size 1 along ``axis`` unless it is a sort)."""
    index = Tensor._wrap(np.ascontiguousarray(indices, dtype=np.int64))
    values = gather(x, axis, index)
    if not keepdim:
        values, index = values.squeeze(axis), index.squeeze(axis)
    return result_type(values, index)


def _zero_d(x, result_type):
    return result_type(x.clone(), Tensor._wrap(np.zeros((), dtype=np.int64)))


@tensor_method()
def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) of ``input`` sorted along ``dim``, ascending unless ``descending``.

    Always stable (equal elements keep their order; PyTorch promises it only with
    ``stable=True``); NaN sorts as the largest value.
    """
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return _zero_d(x, SortResult)
    return _picked(x, axis, _stable_argsort(x.arr, axis, descending), True, SortResult)


@tensor_method()
def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``, in order
    (``sorted=False`` still sorts, as PyTorch permits); ties keep their input order."""
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    size = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range (k = {k}, dimension {axis} has size "
                           f"{size})")
    if x.ndim == 0:
        return _zero_d(x, TopkResult)  # for k = 0 too, as PyTorch
    order = _stable_argsort(x.arr, axis, largest)
    return _picked(x, axis, np.take(order, np.arange(k), axis=axis), True, TopkResult)


def _check_reducible(x, axis, op):
    if x.ndim and x.shape[axis] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {axis} to have non-zero size.")


@tensor_method()
def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the ``k``-th smallest element (1-based) along ``dim``."""
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    _check_reducible(x, axis, "kthvalue")
    size = x.shape[axis] if x.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis} "
                           f"(k = {k}, size {size})")
    if x.ndim == 0:
        return _zero_d(x, KthvalueResult)
    order = _stable_argsort(x.arr, axis, False)
    return _picked(x, axis, np.take(order, [k - 1], axis=axis), keepdim, KthvalueResult)


def _median_indices(arr, axis):
    """Indices (size 1 along ``axis``) of the lower median of each slice; of the first NaN
    for a slice with NaN (the median is then NaN, as PyTorch)."""
    order = _stable_argsort(arr, axis, False)
    n = arr.shape[axis]
    position = np.full(arr.shape[:axis] + (1,) + arr.shape[axis + 1:], (n - 1) // 2)
    if arr.dtype.kind == "f":
        nans = np.isnan(arr).sum(axis=axis, keepdims=True)
        position = np.where(nans > 0, n - nans, position)  # NaN sorts last
    return np.take_along_axis(order, position, axis=axis)


@tensor_method()
def median(input, dim=None, keepdim=False):
    """The lower median: of all elements (a 0-d tensor; NaN for an empty input) when ``dim``
    is None, else (values, indices) along ``dim``. NaN in a slice makes its median NaN."""
    x = as_tensor(input)
    if dim is None:
        if x.numel() == 0:
            return Tensor._wrap(np.asarray(np.nan, dtype=x.dtype))
        flat = x.reshape(-1)
        return gather(flat, 0, Tensor._wrap(_median_indices(flat.arr, 0))).reshape(())
    axis = normalize_dim(dim, x.ndim)
    _check_reducible(x, axis, "median")
    if x.ndim == 0:
        return _zero_d(x, MedianResult)
    return _picked(x, axis, _median_indices(x.arr, axis), keepdim, MedianResult)


@tensor_method()
def mode(input, dim=-1, keepdim=False):
    """(values, indices) of the most frequent value along ``dim`` (the smallest of equally
    frequent ones) and the index of its last occurrence."""
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    _check_reducible(x, axis, "mode")
    if x.ndim == 0:
        return _zero_d(x, ModeResult)
    order = np.moveaxis(_stable_argsort(x.arr, axis, False), axis, -1)
    values = np.take_along_axis(np.moveaxis(x.arr, axis, -1), order, axis=-1)
    rows = values.reshape(-1, values.shape[-1])
    positions = np.empty(rows.shape[0], dtype=np.int64)
    if rows.size:
        scan.mode_of_sorted_rows(np.ascontiguousarray(rows),
                                 np.ascontiguousarray(order.reshape(rows.shape), dtype=np.int64),
                                 positions)
    positions = np.expand_dims(positions.reshape(values.shape[:-1]), axis)
    return _picked(x, axis, positions, keepdim, ModeResult)
