"""Scans along a dim: cumsum, cumprod, cummax / cummin (values and int64 indices),
logcumsumexp.

cumsum is linear (its backward is the reversed cumsum: a ``linear_map``); cummax / cummin's
values are a ``gather`` at their indices; cumprod and logcumsumexp have nodes whose create_graph
backwards call the ops themselves.
"""
import collections

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import scan
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim, wrap_saving_output
from fastgrad.ops.gather_scatter import gather
from fastgrad.ops.linear_map import linear_map

CummaxResult = collections.namedtuple("cummax", ["values", "indices"])
CumminResult = collections.namedtuple("cummin", ["values", "indices"])


def _reversed(v, axis):
    """``v`` reversed along ``axis`` (a view; for a Tensor, a differentiable one)."""
    axis %= v.ndim
    return v[(slice(None),) * axis + (slice(None, None, -1),)]


def _scan_input(input, dim, dtype):
    """(x, axis): the input in the requested dtype; integers and bool scan in int64, as
    PyTorch's cumsum / cumprod."""
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    if dtype is not None:
        x = x.to(dtypes.as_dtype(dtype))
    elif x.dtype.kind in "biu":
        x = x.to(np.int64)
    return x, axis


@tensor_method()
def cumsum(input, dim, *, dtype=None):
    """Running sums along ``dim``; integer and bool inputs sum in int64. The gradient is the
    reversed running sum of the gradient."""
    x, axis = _scan_input(input, dim, dtype)
    if x.ndim == 0:
        return x.clone()

    def forward(a):
        return np.cumsum(a, axis=axis, dtype=a.dtype)

    def adjoint(g):
        return np.ascontiguousarray(_reversed(np.cumsum(_reversed(g, axis), axis=axis), axis))

    if x.dtype.kind != "f":
        return Tensor._wrap(forward(x.arr))
    return linear_map(x, forward, adjoint)


class CumprodGradFn(GradFn):
    """grad_i = sum over j >= i of g_j * prod_{k <= j, k != i} x_k, right where x has zeros:
    first-order from the first zero of each slice; with create_graph as a cumprod of the
    slices with one element set to 1 each (n^2 values per slice of length n)."""

    fresh_grads = True

    def __init__(self, x, axis):
        super().__init__(x)
        self.axis = axis
        self.save_for_backward(x)

    def backward(self, grad_output):
        x, out = self.saved_tensors
        if isinstance(grad_output, Tensor):
            return (_cumprod_grad_recorded(x, grad_output, self.axis),)
        return (_cumprod_grad(x, out, grad_output, self.axis),)


def _cumprod_grad(x, out, g, axis):
    if not x.size:
        return np.zeros(x.shape, dtype=x.dtype)
    x, out, g = (np.moveaxis(a, axis, -1) for a in (x, out, g))
    n = x.shape[-1]
    position = np.arange(n)
    is_zero = x == 0
    first_zero = np.where(is_zero.any(-1), is_zero.argmax(-1), n)[..., None]
    before = position < first_zero
    # before the first zero: sum_{i <= j < z} g_j out_j / x_i
    terms = np.where(before, g * out, 0)
    grad = np.where(before, _reversed(np.cumsum(_reversed(terms, -1), -1), -1)
                    / np.where(before, x, 1), 0)
    # at the first zero z: out_{z-1} * sum_{j >= z} g_j prod_{z < k <= j} x_k
    after = np.cumprod(np.where(position <= first_zero, 1, x), -1)
    at_zero = np.sum(np.where(position >= first_zero, g * after, 0), -1, keepdims=True)
    prefix = np.take_along_axis(out, np.maximum(first_zero - 1, 0), -1)
    prefix = np.where(first_zero > 0, prefix, 1)
    grad = np.where(position == first_zero, prefix * at_zero, grad)
    return np.ascontiguousarray(np.moveaxis(grad, -1, axis))


def _cumprod_grad_recorded(x, g, axis):
    """The same gradient from recorded ops: row i of a (..., n, n) stack is x with x_i set to
    1, whose cumprod at j >= i is prod_{k <= j, k != i} x_k."""
    moved = list(range(x.ndim))
    moved.append(moved.pop(axis))
    xm, gm = backend.permute(x, moved), backend.permute(g, moved)
    n = xm.shape[-1]
    eye = np.eye(n, dtype=bool)
    others = cumprod(backend.where(eye, 1, xm.reshape(xm.shape[:-1] + (1, n))), -1)
    upper = np.triu(np.ones((n, n), dtype=bool))  # j >= i
    grad = backend.where(upper, others * gm.reshape(gm.shape[:-1] + (1, n)), 0).sum(axis=-1)
    return backend.permute(grad, list(np.argsort(moved)))


@tensor_method()
def cumprod(input, dim, *, dtype=None):
    """Running products along ``dim``; integer and bool inputs multiply in int64. The gradient
    is right where the input has zeros (no division by them)."""
    x, axis = _scan_input(input, dim, dtype)
    if x.ndim == 0:
        return x.clone()
    out = np.cumprod(x.arr, axis=axis, dtype=x.dtype)
    if x.dtype.kind != "f" or not needs_grad(x):
        return Tensor._wrap(out)
    return wrap_saving_output(out, CumprodGradFn(x, axis))


def _running_extremum(input, dim, take_max, result_type, name):
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    if x.dtype == np.bool_:
        rows_arr = x.arr.astype(np.uint8)
    else:
        rows_arr = x.arr
    if x.ndim == 0:
        return result_type(x.clone(), Tensor._wrap(np.zeros((), dtype=np.int64)))
    moved = np.ascontiguousarray(np.moveaxis(rows_arr, axis, -1))
    rows = moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, 1)
    indices = np.empty(rows.shape, dtype=np.int64)
    if moved.size:
        scan.running_extremum_indices(rows, indices, take_max)
    indices = np.moveaxis(indices.reshape(moved.shape), -1, axis)
    index = Tensor._wrap(np.ascontiguousarray(indices))
    return result_type(gather(x, axis, index), index)


@tensor_method()
def cummax(input, dim):
    """(values, indices): the running maximum along ``dim`` and, as int64, where it was taken
    (the last of equal elements; NaN propagates). The gradient goes to those elements."""
    return _running_extremum(input, dim, True, CummaxResult, "cummax")


@tensor_method()
def cummin(input, dim):
    """(values, indices): the running minimum along ``dim``, as ``cummax``."""
    return _running_extremum(input, dim, False, CumminResult, "cummin")


def _logcumsumexp_any(v, axis):
    """logcumsumexp of an ndarray (NumPy) or a Tensor (recorded)."""
    if isinstance(v, Tensor):
        return logcumsumexp(v, axis)
    with np.errstate(invalid="ignore"):
        return np.logaddexp.accumulate(v, axis=axis)


class LogcumsumexpGradFn(GradFn):
    """grad_i = sum_{j >= i} g_j exp(x_i - out_j), summed for the positive and the negative
    parts of g separately in log space (a reversed logcumsumexp), so nothing overflows."""

    fresh_grads = True

    def __init__(self, x, axis):
        super().__init__(x)
        self.axis = axis
        self.save_for_backward(x)

    def backward(self, grad_output):
        x, out = self.saved_tensors
        g = grad_output
        # out_j = -inf only where every x_k (k <= j) is -inf: those terms are 0 (log: -inf),
        # computed without inf - inf, whose NaN a recorded backward would carry
        empty = backend.value(out) == -np.inf
        out_safe = backend.where(empty, 0, out)
        grad = 0
        for sign in (1, -1):
            part = (backend.value(g) * sign > 0) & ~empty
            log_g = backend.log(backend.where(part, g * sign, 1))
            log_terms = backend.where(part, log_g - out_safe, -np.inf)
            summed = _reversed(_logcumsumexp_any(_reversed(log_terms, self.axis), self.axis),
                               self.axis)
            grad = grad + sign * backend.exp(x + summed)
        return (grad,)


@tensor_method()
def logcumsumexp(input, dim):
    """log(cumsum(exp(input))) along ``dim``, computed without overflow (a running
    logaddexp); floating input only, as PyTorch."""
    x = as_tensor(input)
    axis = normalize_dim(dim, x.ndim)
    if x.dtype.kind != "f":
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for {x.dtype}')
    if x.ndim == 0:
        return x.clone()
    out = np.asarray(_logcumsumexp_any(x.arr, axis), dtype=x.dtype)
    return wrap_saving_output(out, LogcumsumexpGradFn(x, axis) if needs_grad(x) else None)
