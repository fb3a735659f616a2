"""Vector norms: ``linalg.vector_norm`` and ``Tensor.norm`` with a number ``p`` or 'fro'.

Each order is a composition of differentiable reductions (sum of abs, amax / amin of abs,
the p-th root of a sum of powers), so the gradients are PyTorch's: sign(x) for ord 1, shared
evenly between tied extrema for ord inf / -inf, zero for ord 0, and zero (not NaN) at a zero
vector for the others.
"""
import math

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dims, wrap_saving_output
from fastgrad.ops.elementwise import abs
from fastgrad.ops.reduction import amax, amin, sum


class RootGradFn(GradFn):
    """out = s ** (1 / p) for s >= 0: d out / d s = out / (p s), taken as 0 where s is 0 (a
    zero vector has a zero gradient in PyTorch, not NaN)."""

    fresh_grads = True

    def __init__(self, s, p):
        super().__init__(s)
        self.p = p
        self.save_for_backward(s)

    def backward(self, grad_output):
        s, out = self.saved_tensors
        zero = backend.value(s) == 0
        # both masked: out is inf at s = 0 for p < 0, and inf * 0 in a recorded backward is NaN
        safe_out, safe_s = backend.where(zero, 0, out), backend.where(zero, 1, s)
        return (backend.where(zero, 0, grad_output * safe_out / (self.p * safe_s)),)


class AbsPowGradFn(GradFn):
    """|x| ** p: d/dx = p sign(x) |x|^(p-1), taken as 0 at x = 0 for every p (PyTorch's
    norm gradient there), where the power rule gives inf * 0 for p < 1."""

    fresh_grads = True

    def __init__(self, x, p):
        super().__init__(x)
        self.p = p
        self.save_for_backward(x)

    def backward(self, grad_output):
        x, = self.saved_tensors
        zero = backend.value(x) == 0
        safe = backend.where(zero, 1, x)  # no inf in a recorded backward's own derivative
        slope = self.p * safe * (safe * safe) ** ((self.p - 2) / 2)  # p sign(x) |x|^(p-1)
        return (backend.where(zero, 0, grad_output * slope),)


def _abs_pow(x, p):
    with np.errstate(divide="ignore", over="ignore"):
        out = np.abs(x.arr) ** np.asarray(p, dtype=x.arr.dtype)
    return Tensor._wrap(out, AbsPowGradFn(x, p) if needs_grad(x) else None)


def _root(s, p):
    with np.errstate(over="ignore", divide="ignore"):  # 0 ** (1 / p) for p < 0: inf
        out = np.asarray(np.power(s.arr, 1.0 / p), dtype=s.arr.dtype)
    return wrap_saving_output(out, RootGradFn(s, p) if needs_grad(s) else None)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ``ord``-norm of ``x`` over ``dim`` (an int or tuple; all elements when None):
    (sum |x|^ord)^(1/ord); ord inf / -inf is the max / min of |x|, ord 0 the count of nonzero
    elements. Floating input only (RuntimeError, as PyTorch)."""
    x = as_tensor(x)
    if dtype is not None:
        x = x.to(dtypes.as_dtype(dtype))
    if x.arr.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {x.arr.dtype}")
    axes = normalize_dims(dim, x.ndim) if dim is not None else None
    if math.isinf(ord) and x.numel() == 0 and (axes is None or any(
            x.shape[a] == 0 for a in axes)):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor "
                           "because the operation does not have an identity")
    reduce_dim = axes if axes is not None else None
    magnitude = abs(x)
    if ord == math.inf:
        return amax(magnitude, reduce_dim, keepdim)
    if ord == -math.inf:
        return amin(magnitude, reduce_dim, keepdim)
    if ord == 0:
        # the count; a where that never picks x gives the zero gradient PyTorch's has
        count = sum(Tensor._wrap((x.arr != 0).astype(x.arr.dtype)), reduce_dim, keepdim)
        return count + sum(backend.where(np.zeros(x.shape, bool), x, 0), reduce_dim, keepdim)
    if ord == 1:
        return sum(magnitude, reduce_dim, keepdim)
    powers = x * x if ord == 2 else _abs_pow(x, ord)
    return _root(sum(powers, reduce_dim, keepdim), ord)


@tensor_method()
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """``linalg.vector_norm`` of order ``p`` (a number; 'fro' is 2) over ``dim``."""
    if p == "fro":
        p = 2
    if isinstance(p, str):
        raise NotImplementedError(f"norm(p={p!r}): only vector norms (a number, or 'fro') are "
                                  "supported")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)
