"""Shape ops: reshape / view / flatten / squeeze / unsqueeze (one node: reshape back),
transpose / permute / T, expand / broadcast_to, repeat, clone, contiguous.

View-like results share the input's memory and version counter, as PyTorch's views do.
"""
import math

import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad, unbroadcast
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim, normalize_dims


def _shape_args(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"shape entries must be ints, got {shape}")
    return tuple(int(s) for s in shape)


class ReshapeGradFn(GradFn):
    """Every op that only changes the shape: the gradient is reshaped back."""

    def __init__(self, x):
        super().__init__(x)
        self.in_shape = x.arr.shape

    def backward(self, grad_output):
        return (grad_output.reshape(self.in_shape),)


def _reshaped(x, arr):
    fn = ReshapeGradFn(x) if needs_grad(x) else None
    return Tensor._wrap(arr, fn, base=x if np.may_share_memory(arr, x.arr) else None)


@tensor_method()
def reshape(x, *shape):
    x = as_tensor(x)
    shape = _shape_args(shape)
    try:
        arr = x.arr.reshape(shape)
    except ValueError:
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {x.arr.size} (input shape "
            f"{x.shape})"
        ) from None
    return _reshaped(x, arr)


_TORCH_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                      "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                      "bool": "Bool"}


@tensor_method()
def view(x, *shape_or_dtype):
    """``x.view(*shape)`` is ``reshape`` (a view); ``x.view(dtype)`` reinterprets the bits as
    ``dtype`` (no gradient), the last dim scaled by the ratio of the element sizes, with
    PyTorch's rules: a 0-d or non-contiguous last dim, or a last size / offset the new element
    does not divide, cannot change the element size."""
    x = as_tensor(x)
    if len(shape_or_dtype) != 1 or isinstance(shape_or_dtype[0], (int, np.integer, tuple, list)):
        return reshape(x, *shape_or_dtype)
    from fastgrad import dtypes

    old, new = x.arr.dtype, np.dtype(dtypes.as_dtype(shape_or_dtype[0]))
    if new == old:
        return reshape(x, x.arr.shape)  # an alias that keeps the graph, as PyTorch's
    if old.itemsize != new.itemsize:
        names = (f"{_TORCH_DTYPE_NAMES.get(old.name, old.name)} as "
                 f"{_TORCH_DTYPE_NAMES.get(new.name, new.name)} (different element sizes)")
        if x.arr.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to view {names}")
        if x.arr.shape[-1] != 1 and x.arr.strides[-1] != old.itemsize:
            raise RuntimeError(f"self.stride(-1) must be 1 to view {names}, but got "
                               f"{x.arr.strides[-1] // old.itemsize}")
        ratio = max(old.itemsize, new.itemsize) // min(old.itemsize, new.itemsize)
        if new.itemsize > old.itemsize and x.arr.shape[-1] % ratio:
            raise RuntimeError(f"self.size(-1) must be divisible by {ratio} to view {names}, "
                               f"but got {x.arr.shape[-1]}")
        root = x._base.arr if x._base is not None else x.arr
        offset = (x.arr.__array_interface__["data"][0] - root.__array_interface__["data"][0])
        if new.itemsize > old.itemsize and offset % new.itemsize:
            raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} to view "
                               f"{names}, but got {offset // old.itemsize}")
    arr = x.arr
    if x.arr.ndim and x.arr.shape[-1] == 1 and arr.strides[-1] != old.itemsize:
        arr = np.lib.stride_tricks.as_strided(arr, strides=arr.strides[:-1] + (old.itemsize,))
    return Tensor._wrap(arr.view(new), base=x)


@tensor_method()
def view_as(x, other):
    return reshape(x, other.shape)


@tensor_method()
def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one; a 0-d input becomes shape (1,)."""
    x = as_tensor(x)
    if x.arr.ndim == 0:
        return reshape(x, 1)
    start = normalize_dim(start_dim, x.arr.ndim)
    end = normalize_dim(end_dim, x.arr.ndim)
    if start > end:
        raise RuntimeError(f"flatten() has invalid args: start_dim {start_dim} cannot come after end_dim {end_dim}")
    shape = x.arr.shape
    new_shape = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    return _reshaped(x, x.arr.reshape(new_shape))


@tensor_method()
def unflatten(x, dim, sizes):
    x = as_tensor(x)
    d = normalize_dim(dim, x.arr.ndim)
    shape = x.arr.shape
    return reshape(x, shape[:d] + tuple(sizes) + shape[d + 1:])


@tensor_method()
def squeeze(x, dim=None):
    """Remove size-1 dims (all, or those in ``dim``; a listed dim of size > 1 is kept)."""
    x = as_tensor(x)
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.arr.shape) if s == 1)
    else:
        axes = tuple(a for a in normalize_dims(dim, x.arr.ndim) or () if x.arr.shape[a] == 1)
    return _reshaped(x, np.squeeze(x.arr, axis=axes) if axes else x.arr.view())


@tensor_method()
def unsqueeze(x, dim):
    x = as_tensor(x)
    d = normalize_dim(dim, x.arr.ndim + 1)
    return _reshaped(x, np.expand_dims(x.arr, d))


class PermuteGradFn(GradFn):
    def __init__(self, x, axes):
        super().__init__(x)
        self.inverse = tuple(np.argsort(axes))

    def backward(self, grad_output):
        return (backend.permute(grad_output, self.inverse),)


@tensor_method()
def permute(x, *dims):
    x = as_tensor(x)
    dims = _shape_args(dims)
    if len(dims) != x.arr.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.arr.ndim} is "
            f"not equal to len(dims) = {len(dims)}"
        )
    axes = normalize_dims(dims, x.arr.ndim) or ()
    arr = np.transpose(x.arr, axes)
    return Tensor._wrap(arr, PermuteGradFn(x, axes) if needs_grad(x) else None, base=x)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(x, dim0, dim1):
    """Swap two dims (PyTorch's transpose, not NumPy's)."""
    x = as_tensor(x)
    if x.arr.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return permute(x, tuple(range(x.arr.ndim)))  # a new tensor (a view), as PyTorch's
    axes = list(range(x.arr.ndim))
    d0, d1 = normalize_dim(dim0, x.arr.ndim), normalize_dim(dim1, x.arr.ndim)
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(x, axes)


swapaxes = swapdims = transpose


def numpy_T(x):
    """``x.T``: all dims reversed (a matrix transpose for 2-D)."""
    return permute(x, tuple(reversed(range(x.ndim))))


def matrix_transpose(x):
    """``x.mT``: the last two dims swapped; PyTorch refuses it on 1-D (0-d: an alias of x)."""
    if x.arr.ndim == 0:
        return permute(x, ())  # a new tensor (a view), never x itself
    if x.arr.ndim == 1:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {x.arr.ndim}-D tensor.")
    return transpose(x, -2, -1)


Tensor.T = property(numpy_T)
Tensor.mT = property(matrix_transpose)


@tensor_method()
def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return numpy_T(x)


class ExpandGradFn(GradFn):
    def __init__(self, x):
        super().__init__(x)
        self.in_shape = x.arr.shape

    def backward(self, grad_output):
        return (unbroadcast(grad_output, self.in_shape),)


@tensor_method("broadcast_to", "expand")
def broadcast_to(x, *shape):
    """A read-only broadcast view of ``x`` with ``shape`` (-1 keeps a dim, as in ``expand``)."""
    x = as_tensor(x)
    shape = _shape_args(shape)
    lead = len(shape) - x.arr.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({x.arr.ndim})"
        )
    target = tuple(x.arr.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    try:
        arr = np.broadcast_to(x.arr, target)
    except ValueError:
        raise RuntimeError(
            f"The expanded size of the tensor ({target}) must match the existing size "
            f"({x.shape}) at non-singleton dimensions"
        ) from None
    return Tensor._wrap(arr, ExpandGradFn(x) if needs_grad(x) else None, base=x)


expand = broadcast_to


@tensor_method()
def expand_as(x, other):
    return broadcast_to(x, other.shape)


class RepeatGradFn(GradFn):
    def __init__(self, x, reps):
        super().__init__(x)
        self.padded_shape = (1,) * (len(reps) - x.arr.ndim) + x.arr.shape
        self.in_shape = x.arr.shape
        self.reps = reps

    def backward(self, grad_output):
        # Split every dim into (repeat, size) and sum over the repeats.
        split = []
        for r, s in zip(self.reps, self.padded_shape):
            split += [r, s]
        g = grad_output.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (g.reshape(self.in_shape),)


@tensor_method()
def repeat(x, *sizes):
    """Tile ``x``: ``sizes`` gives the repeats per dim (at least ``x.ndim`` of them)."""
    x = as_tensor(x)
    reps = _shape_args(sizes)
    if len(reps) < x.arr.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
            f"tensor ({len(reps)} < {x.arr.ndim})"
        )
    arr = np.tile(x.arr.reshape((1,) * (len(reps) - x.arr.ndim) + x.arr.shape), reps)
    return Tensor._wrap(arr, RepeatGradFn(x, reps) if needs_grad(x) else None)


class CloneGradFn(GradFn):
    def backward(self, grad_output):
        return (grad_output,)


@tensor_method()
def clone(x):
    x = as_tensor(x)
    return Tensor._wrap(x.arr.copy(), CloneGradFn(x) if needs_grad(x) else None)


@tensor_method()
def contiguous(x):
    x = as_tensor(x)
    return x if x.arr.flags.c_contiguous else clone(x)
