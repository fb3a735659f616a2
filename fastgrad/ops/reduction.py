"""Reductions: sum, mean, var, std, max / min (with ``dim``: values and indices), amax / amin,
argmax / argmin, prod, nansum / nanmean, var_mean / std_mean. ``dim`` / ``keepdim`` as in PyTorch; NumPy's ``axis`` / ``keepdims`` too.
"""
import collections
import warnings

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, derived, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import (as_tensor, normalize_dim, normalize_dims, resolve_alias,
                                     wrap_saving_output)
from fastgrad.ops.indexing import scatter

MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def _axes_and_keep(x, dim, keepdim, axis, keepdims):
    """(axes, keepdim): axes a tuple of non-negative dims, or None for all of them.

    An empty ``dim`` (``()`` or ``[]``) reduces over all dims, as in PyTorch.
    """
    dim = resolve_alias(dim, axis, "dim", "axis", None)
    keepdim = bool(resolve_alias(keepdim, keepdims, "keepdim", "keepdims", False))
    return normalize_dims(dim, x.arr.ndim) or None, keepdim


def _kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (all of them when ``axes`` is None)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class SumGradFn(GradFn):
    def __init__(self, x, axes):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.axes = axes

    def backward(self, grad_output):
        g = grad_output.reshape(_kept_shape(self.in_shape, self.axes))
        return (backend.broadcast_to(g, self.in_shape),)


@tensor_method()
def sum(x, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
    """Sum over ``dim`` (int, tuple or None for all). Integer and bool inputs sum to int64."""
    x = as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    arr = x.arr if dtype is None else x.arr.astype(dtypes.as_dtype(dtype))
    out_dtype = np.int64 if arr.dtype.kind in "biu" else arr.dtype
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is nan, silently (PyTorch)
        out = np.asarray(np.sum(arr, axis=axes, keepdims=keep, dtype=out_dtype))
    return Tensor._wrap(out, SumGradFn(x, axes) if needs_grad(x) else None)


def _count(shape, axes):
    if axes is None:
        return int(np.prod(shape))
    return int(np.prod([shape[a] for a in axes]))


class MeanGradFn(GradFn):
    def __init__(self, x, axes):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.axes = axes
        self.count = _count(x.arr.shape, axes)

    def backward(self, grad_output):
        g = grad_output.reshape(_kept_shape(self.in_shape, self.axes)) / self.count
        return (backend.broadcast_to(g, self.in_shape),)


def _require_float(x, op):
    if not dtypes.is_floating(x.arr.dtype):
        raise RuntimeError(
            f"{op}(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {x.arr.dtype}"
        )


@tensor_method()
def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    x = as_tensor(x)
    _require_float(x, "mean")
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(np.mean(x.arr, axis=axes, keepdims=keep), dtype=x.arr.dtype)
    return Tensor._wrap(out, MeanGradFn(x, axes) if needs_grad(x) else None)


class VarGradFn(GradFn):
    """d var = 2 (x - mean) / (n - correction), with PyTorch's values where n - correction <= 0.

    There PyTorch's full reduction (no dim, or a 0-d input) gives nan where x equals the mean
    and +inf elsewhere; with a dim it keeps the formula (2 / 0 = inf; a negative divisor gives
    finite values). No exception, no warning.
    """

    fresh_grads = True

    def __init__(self, x, centered, axes, divisor):
        super().__init__(x)
        self.save_for_backward(derived(centered, lambda x: _centered(x, axes), x))
        self.axes = axes
        self.divisor = divisor

    def backward(self, grad_output):
        return (self._var_backward(grad_output, self.saved_tensors[0]),)

    def _var_backward(self, grad_output, centered):
        g = grad_output.reshape(_kept_shape(centered.shape, self.axes))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if self.divisor > 0:
                return g * centered * (2.0 / self.divisor)
            if self.axes is None:
                scale = np.where(backend.value(centered) == 0, np.nan, np.inf)
                return g * scale.astype(centered.dtype)
            return g * centered * (np.inf if self.divisor == 0 else 2.0 / self.divisor)


def _centered(x, axes):
    """x - mean(x) over ``axes``: what var and std differentiate through (a create_graph
    backward recomputes it from x; the forward computes it in a wider dtype)."""
    return x - x.mean(axis=axes, keepdims=True)


def _variance(x, dim, unbiased, keepdim, correction, axis, keepdims, op):
    """(x, out, centered, axes, divisor) of the variance, shared by var and std.

    ``out`` is in the working precision: float64 for float16 / float32 input, so the squared
    deviations neither overflow nor underflow (as PyTorch's std of [1e30, -1e30] in float32 is
    finite); the caller casts it back. ``centered`` (x - mean) is in the input's dtype.
    """
    x = as_tensor(x)
    _require_float(x, op)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise TypeError(f"{op}: pass either unbiased= or correction=, not both")
    count = _count(x.arr.shape, axes)
    divisor = count - correction
    if divisor <= 0:
        # PyTorch warns too, and gives inf (or nan for 0 / 0): it divides by max(0, divisor).
        warnings.warn(f"Degrees of freedom <= 0 in {op}(): correction ({correction}) should be "
                      f"strictly less than the number of elements reduced ({count})",
                      RuntimeWarning, stacklevel=3)
    a = x.arr.astype(np.promote_types(x.arr.dtype, np.float64), copy=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        centered = a - np.sum(a, axis=axes, keepdims=True) / count
        squares = np.sum(centered * centered, axis=axes, keepdims=keep)
        out = np.asarray(squares / np.float64(divisor if divisor > 0 else 0))
    return x, out, centered.astype(x.arr.dtype, copy=False), axes, divisor


def _cast_back(out, dtype):
    with np.errstate(over="ignore"):  # a variance beyond float32's range is inf, as in PyTorch
        return np.asarray(out).astype(dtype, copy=False)  # (a 0-d result stays an array)


@tensor_method()
def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    x, out, centered, axes, divisor = _variance(
        x, dim, unbiased, keepdim, correction, axis, keepdims, "var")
    out = _cast_back(out, x.arr.dtype)
    return Tensor._wrap(out, VarGradFn(x, centered, axes, divisor) if needs_grad(x) else None)


class StdGradFn(VarGradFn):
    """std = sqrt(var): d std = d var / (2 std), and 0 where std is 0 (PyTorch), not nan.

    Saves (centered, out): ``std`` saves its output after making it."""

    def backward(self, grad_output):
        centered, out = self.saved_tensors
        out_kept = out.reshape(_kept_shape(centered.shape, self.axes))
        g = grad_output.reshape(out_kept.shape)
        zero = backend.value(out_kept) == 0
        # divided by 1 where std is 0, not 0: a 0 / 0 there would make the recorded backward's
        # own gradient nan, though ``where`` discards the value
        g_var = backend.where(zero, 0, g / (2 * backend.where(zero, 1, out_kept)))
        return (self._var_backward(g_var, centered),)


@tensor_method()
def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    x, out, centered, axes, divisor = _variance(
        x, dim, unbiased, keepdim, correction, axis, keepdims, "std")
    out = _cast_back(np.sqrt(out), x.arr.dtype)
    # The backward reads the output: an in-place change of it must make the backward raise.
    return wrap_saving_output(out, StdGradFn(x, centered, axes, divisor) if needs_grad(x) else None)


class ExtremumGradFn(GradFn):
    """amax / amin / full max / min: the gradient is shared evenly between tied extrema.

    A NaN result (NaN in the input) follows PyTorch: the full ``max()`` / ``min()`` share the
    gradient between the NaN elements (``nan_is_extremum``); ``amax`` / ``amin`` match no
    element there, and grad / 0 * 0 makes that whole slice's gradient NaN.
    """

    fresh_grads = True

    def __init__(self, x, out_kept, axes, nan_is_extremum):
        super().__init__(x)
        mask = x.arr == out_kept
        if nan_is_extremum and x.arr.dtype.kind == "f" and np.isnan(out_kept).any():
            mask |= np.isnan(x.arr)
        self.save_for_backward(mask)
        self.axes = axes

    def backward(self, grad_output):
        mask, = self.saved_tensors
        g = grad_output.reshape(_kept_shape(mask.shape, self.axes))
        count = mask.sum(axis=self.axes, keepdims=True).astype(g.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (mask * (g / count),)


def _check_nonempty(x, dim, full, name):
    """PyTorch's errors for an empty input: a reduced dim of size 0 is an IndexError, and so is
    a full reduction (``full``) for argmax / argmin, a RuntimeError for the others; reducing
    only non-empty dims of an empty input gives an empty result."""
    if x.arr.size:
        return
    if full:
        if name in ("argmax", "argmin"):
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        stop = "." if name in ("max", "min") else ""  # PyTorch's messages differ so
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           f"== 0. Specify the reduction dim with the 'dim' argument{stop}")
    for d in (tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)):
        if x.arr.shape[normalize_dim(d, x.arr.ndim)] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _extremum(x, dim, keepdim, axis, keepdims, reduce, name):
    x = as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    _check_nonempty(x, resolve_alias(dim, axis, "dim", "axis", None), axes is None, name)
    out_kept = reduce(x.arr, axis=axes, keepdims=True)
    out = out_kept if keep else out_kept.reshape(
        () if axes is None else tuple(s for i, s in enumerate(x.arr.shape) if i not in axes)
    )
    out = np.asarray(out)
    nan_is_extremum = name in ("max", "min")  # the full max() / min(), not amax / amin
    fn = ExtremumGradFn(x, out_kept, axes, nan_is_extremum) if needs_grad(x) else None
    return Tensor._wrap(out, fn)


@tensor_method()
def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _extremum(x, dim, keepdim, axis, keepdims, np.max, "amax")


@tensor_method()
def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _extremum(x, dim, keepdim, axis, keepdims, np.min, "amin")


class IndexedExtremumGradFn(GradFn):
    """max(dim) / min(dim): the gradient goes to the returned index of each slice."""

    fresh_grads = True

    def __init__(self, x, indices_kept, axis):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.save_for_backward(indices_kept)
        self.axis = axis

    def backward(self, grad_output):
        indices, = self.saved_tensors
        # the index of ``put_along_axis``: one element per slice, so no element twice
        index = tuple(indices if d == self.axis else
                      np.arange(size).reshape((-1,) + (1,) * (indices.ndim - d - 1))
                      for d, size in enumerate(indices.shape))
        g = grad_output.reshape(indices.shape)
        return (scatter(g, self.in_shape, index, accumulate=False),)


def _indexed_extremum(x, dim, keepdim, axis, keepdims, arg, result_type, name):
    x = as_tensor(x)
    dim = resolve_alias(dim, axis, "dim", "axis", None)
    keepdim = bool(resolve_alias(keepdim, keepdims, "keepdim", "keepdims", False))
    if dim is None:
        return _extremum(x, None, False, None, None, np.max if name == "max" else np.min, name)
    if isinstance(dim, Tensor):
        # max(a, b) / min(a, b) of two tensors: PyTorch's elementwise overload
        from fastgrad.ops.arithmetic import maximum, minimum

        return (maximum if name == "max" else minimum)(x, dim)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}() takes a single int dim; use a{name}() to reduce over {dim}")
    if x.arr.ndim == 0:
        normalize_dim(dim, 0)
        from fastgrad.ops.shape import clone

        return result_type(clone(x), Tensor._wrap(np.asarray(0, dtype=np.int64)))
    ax = normalize_dim(dim, x.arr.ndim)
    if x.arr.shape[ax] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {ax} to have non-zero size.")
    indices_kept = arg(x.arr, axis=ax, keepdims=True)
    values_kept = np.take_along_axis(x.arr, indices_kept, axis=ax)
    if keepdim:
        values, indices = values_kept, indices_kept
    else:
        values, indices = np.squeeze(values_kept, ax), np.squeeze(indices_kept, ax)
    fn = IndexedExtremumGradFn(x, indices_kept, ax) if needs_grad(x) else None
    return result_type(Tensor._wrap(values, fn), Tensor._wrap(indices.astype(np.int64)))


@tensor_method()
def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The maximum of all elements, or with ``dim`` the ``(values, indices)`` along it."""
    return _indexed_extremum(x, dim, keepdim, axis, keepdims, np.argmax, MaxResult, "max")


@tensor_method()
def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _indexed_extremum(x, dim, keepdim, axis, keepdims, np.argmin, MinResult, "min")


def _arg(x, dim, keepdim, axis, keepdims, func, name):
    x = as_tensor(x)
    dim = resolve_alias(dim, axis, "dim", "axis", None)
    keepdim = bool(resolve_alias(keepdim, keepdims, "keepdim", "keepdims", False))
    _check_nonempty(x, dim, dim is None, name)  # (NumPy's would be a ValueError)
    if dim is None:
        out = np.asarray(func(x.arr))
        if keepdim:
            out = out.reshape((1,) * x.arr.ndim)
    else:
        ax = normalize_dim(dim, x.arr.ndim)
        out = func(x.arr, axis=ax, keepdims=keepdim) if x.arr.ndim else np.asarray(0)
    return Tensor._wrap(np.asarray(out, dtype=np.int64))


@tensor_method()
def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the first maximum (flat index when ``dim`` is None); no gradient."""
    return _arg(x, dim, keepdim, axis, keepdims, np.argmax, "argmax")


@tensor_method()
def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _arg(x, dim, keepdim, axis, keepdims, np.argmin, "argmin")


class ProdGradFn(GradFn):
    """d prod / d x_i is the product of the other elements, right where x has zeros:
    first-order from the count of zeros per slice (no division by zero); with create_graph a
    prod of the slices with one element set to 1 each (n^2 values per slice of length n)."""

    fresh_grads = True

    def __init__(self, x, axis):
        super().__init__(x)
        self.axis = axis  # one dim, or None for all
        self.in_shape = x.arr.shape
        self.save_for_backward(x)

    def backward(self, grad_output):
        x, out = self.saved_tensors
        axes = None if self.axis is None else (self.axis,)
        g = grad_output.reshape(_kept_shape(self.in_shape, axes))
        if isinstance(grad_output, Tensor):
            return (g * _prod_of_others_recorded(x, self.axis),)
        return (g * _prod_of_others(x, out.reshape(g.shape), axes),)


def _prod_of_others(x, out_kept, axes):
    """For each element, the product of the others in its slice (arrays)."""
    is_zero = x == 0
    zeros = is_zero.sum(axis=axes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        no_zero = out_kept / np.where(is_zero, 1, x)
        nonzero_product = np.prod(np.where(is_zero, 1, x), axis=axes, keepdims=True)
    return np.where(zeros == 0, no_zero, np.where((zeros == 1) & is_zero, nonzero_product, 0))


def _prod_of_others_recorded(x, axis):
    """The same from recorded ops: row i of an (..., n, n) stack is the slice with x_i set to
    1; its product is the product of the others."""
    if axis is None:
        return _prod_of_others_recorded(x.reshape(-1), 0).reshape(x.shape)
    moved = list(range(x.ndim))
    moved.append(moved.pop(axis))
    xm = backend.permute(x, moved)
    n = xm.shape[-1]
    stack = backend.where(np.eye(n, dtype=bool), 1, xm.reshape(xm.shape[:-1] + (1, n)))
    return backend.permute(prod(stack, -1), list(np.argsort(moved)))


@tensor_method()
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """The product of all elements, or along one ``dim``; integer and bool inputs multiply
    in int64. The gradient is right where the input has zeros."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtypes.as_dtype(dtype))
    axis = None if dim is None or x.ndim == 0 else normalize_dim(dim, x.ndim)
    if dim is not None and x.ndim == 0:
        normalize_dim(dim, 0)
    out_dtype = np.int64 if x.arr.dtype.kind in "biu" else x.arr.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(np.prod(x.arr, axis=axis, keepdims=keepdim and dim is not None,
                                 dtype=out_dtype))
    if out_dtype != x.arr.dtype or not needs_grad(x):
        return Tensor._wrap(out)
    return wrap_saving_output(out, ProdGradFn(x, axis))


@tensor_method()
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """``sum`` with NaN counted as zero (which also takes its gradient)."""
    x = as_tensor(input)
    if x.arr.dtype.kind == "f":
        x = backend.where(np.isnan(x.arr), 0, x)
    return sum(x, dim, keepdim, dtype)


@tensor_method()
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the elements that are not NaN (NaN where there are none); floating input
    only, as PyTorch."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtypes.as_dtype(dtype))
    _require_float(x, "nanmean")
    count = sum(Tensor._wrap(~np.isnan(x.arr)), dim, keepdim).arr.astype(x.arr.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return nansum(x, dim, keepdim) / count


def var_mean(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """(var, mean) over ``dim`` (``correction=1`` by default), as two differentiable results."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """(std, mean) over ``dim`` (``correction=1`` by default), as two differentiable results."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))
