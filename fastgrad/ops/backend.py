"""What a backward needs beyond operators and shared methods, for ndarrays and Tensors alike.

A node's backward is written once and runs on ndarrays (first-order: the fast path) or on
Tensors (``create_graph=True``: the backward is recorded, ARCHITECTURE.md "Higher-order
gradients"). Operators (``+ - * / ** @``, unary ``-``, indexing) and the methods both share
with one meaning (``.reshape``, ``.sum(axis=, keepdims=)``, ``.T``, ``.swapaxes``,
``.astype``, ``.shape``, ``.dtype``) need nothing; everything else goes through these
functions, which call NumPy (or fastgrad's GEMM) for ndarrays and the differentiable op when
any argument is a Tensor.
"""
import numpy as np

from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import gemm


def either(on_array, op):
    """A function of ndarrays and Tensors for backward expressions: ``on_array`` (NumPy,
    warnings off) when every argument is an ndarray or number, else the differentiable ``op``."""

    def apply(*args, **kwargs):
        if any(isinstance(a, Tensor) for a in args):
            return op(*args, **kwargs)
        with np.errstate(all="ignore"):
            return on_array(*args, **kwargs)

    apply.__name__ = getattr(op, "__name__", "either")
    return apply


def sigmoid_of_array(a):
    """1 / (1 + exp(-a)) for an ndarray, computed from exp(-|a|) so that no exp overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


sigmoid = either(sigmoid_of_array, lambda x: x.sigmoid())


def value(x):
    """The ndarray of a Tensor (``x`` itself otherwise): for conditions and masks, which are
    constants of the backward (their derivative is zero where it exists)."""
    return x.arr if isinstance(x, Tensor) else x


def exp(x):
    if isinstance(x, Tensor):
        return x.exp()
    with np.errstate(over="ignore"):
        return np.exp(x)


def log(x):
    if isinstance(x, Tensor):
        return x.log()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def where(condition, x, y):
    """``x`` where ``condition`` (an array, or a bool Tensor's array) holds, else ``y``; a
    Python number keeps the other operand's dtype (0 in a float32 gradient stays float32)."""
    condition = value(condition)
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        from fastgrad.ops.select import where as tensor_where

        return tensor_where(condition, x, y)
    return np.where(condition, x, y)


def broadcast_to(x, shape):
    return x.broadcast_to(shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def permute(x, axes):
    """``x`` with its axes in the order ``axes`` (NumPy's ``transpose(x, axes)``)."""
    return x.permute(axes) if isinstance(x, Tensor) else np.transpose(x, axes)


def matmul(a, b):
    """``a @ b``; for ndarrays under fastgrad's thread policy (``ops/gemm.py``)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a @ b
    return gemm.matmul(a, b)


def split(x, bounds, axis):
    """``x`` cut along ``axis`` before each index of ``bounds`` (NumPy's ``split``)."""
    if not isinstance(x, Tensor):
        return np.split(x, bounds, axis=axis)
    edges = [0, *(int(b) for b in bounds), x.shape[axis]]
    lead = (slice(None),) * axis
    return [x[lead + (slice(lo, hi),)] for lo, hi in zip(edges[:-1], edges[1:])]
