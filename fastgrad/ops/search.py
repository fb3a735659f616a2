"""Index-valued ops, which have no gradient: nonzero / argwhere, where with one argument,
argsort and searchsorted. Every result is a new int64 tensor (int32 on request)."""
import numpy as np

from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim
from fastgrad.ops.select import where as _where3


@tensor_method()
def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements of ``input``, in row-major order: an int64 tensor
    of shape (count, input.ndim), or with ``as_tuple`` one 1-D tensor per dim (a 0-d input
    counts as 1-D there, as in PyTorch)."""
    arr = as_tensor(input).arr
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(arr)))
    return Tensor._wrap(np.argwhere(arr).astype(np.int64))


@tensor_method()
def argwhere(input):
    """``nonzero(input)``: the (count, ndim) int64 indices of the nonzero elements."""
    return nonzero(input)


def where(condition, input=None, other=None):
    """``where(condition)`` is ``nonzero(condition, as_tuple=True)``; with ``input`` and
    ``other``, the elementwise choice of ``fastgrad.ops.select.where`` (differentiable)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() takes a condition alone or a condition, input and other")
    return _where3(condition, input, other)


def _where_method(self, condition, other):
    """``x.where(condition, y)`` is ``where(condition, x, y)``: PyTorch's method takes the
    tensor it is called on as the values where ``condition`` holds."""
    return _where3(condition, self, other)


Tensor.where = _where_method  # not a tensor_method: the function's argument order differs


def _stable_argsort(arr, axis, descending):
    """Stable argsort along ``axis``; descending keeps equal elements in their input order
    (sorting the reversed array ascending and reversing back), and NaN counts as the
    largest value either way, as in PyTorch."""
    if not descending:
        return np.argsort(arr, axis=axis, kind="stable")
    n = arr.shape[axis]
    flipped = np.argsort(np.flip(arr, axis), axis=axis, kind="stable")
    return n - 1 - np.flip(flipped, axis)


@tensor_method()
def argsort(input, dim=-1, descending=False, stable=False):
    """The int64 indices that sort ``input`` along ``dim`` (ascending unless ``descending``).

    The sort is always stable (PyTorch allows any order of ties without ``stable=True``);
    NaN sorts as the largest value.
    """
    arr = as_tensor(input).arr
    axis = normalize_dim(dim, arr.ndim)
    if arr.ndim == 0:
        return Tensor._wrap(np.zeros((), dtype=np.int64))
    return Tensor._wrap(_stable_argsort(arr, axis, descending).astype(np.int64))


def _side(right, side):
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise RuntimeError(
            f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if right and side == "left":
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got "
                           "side of left while right was True")
    return side


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """For each value of ``input``, the index in ``sorted_sequence`` (ascending along its last
    dim, NaN last) where inserting it keeps the order: before equal values (``side='left'``)
    or after them (``side='right'`` or ``right=True``).

    ``sorted_sequence`` is 1-D, or N-D with its leading dims equal to ``input``'s (one row of
    boundaries for each row of values). ``sorter`` gives the indices that sort an unsorted
    ``sorted_sequence``. ``input`` may be a number (a 0-d result). int64, or int32 with
    ``out_int32``.
    """
    boundaries = as_tensor(sorted_sequence).arr
    values = input.arr if isinstance(input, Tensor) else np.asarray(input)
    side = _side(right, side)
    if boundaries.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if boundaries.ndim > 1 and boundaries.shape[:-1] != values.shape[:-1]:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(boundaries.shape)} and input value tensor "
            f"{list(values.shape)}")
    if sorter is not None:
        order = as_tensor(sorter).arr
        if order.shape != boundaries.shape:
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got "
                f"boundary tensor {list(boundaries.shape)}and got sorter tensor "
                f"{list(order.shape)}")
        boundaries = np.take_along_axis(boundaries, order.astype(np.intp), axis=-1)
    dtype = np.int32 if out_int32 else np.int64
    if boundaries.ndim == 1:
        return Tensor._wrap(np.asarray(np.searchsorted(boundaries, values, side=side), dtype=dtype))
    out = np.empty(values.shape, dtype=dtype)
    for row in np.ndindex(values.shape[:-1]):  # one search per row of boundaries
        out[row] = np.searchsorted(boundaries[row], values[row], side=side)
    return Tensor._wrap(out)
