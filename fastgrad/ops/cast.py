"""dtype casts: ``to``, ``astype``, ``float()``, ``long()``, ... (differentiable between floats).

The function names shadow builtins (``float``, ``int``, ``bool``, ``type``) on purpose, to
mirror the Tensor methods; this module therefore uses none of those builtins.
"""
import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor


class CastGradFn(GradFn):
    def backward(self, grad_output):
        return (grad_output.astype(self.input_dtypes[0]),)


def to(x, dtype=None, copy=False):
    """Cast to ``dtype`` (``x.to(fastgrad.float64)``); a device string is accepted and ignored.

    Float-to-float casts are differentiable; a cast to an integer or bool dtype is not.
    """
    x = as_tensor(x)
    if dtype is None or isinstance(dtype, str) and dtype in ("cpu",):
        return x
    dtype = dtypes.as_dtype(dtype)
    if dtype == x.arr.dtype and not copy:
        return x
    out = x.arr.astype(dtype)
    fn = CastGradFn(x) if dtypes.is_floating(dtype) and needs_grad(x) else None
    return Tensor._wrap(out, fn)


def astype(x, dtype):
    return to(x, dtype)


def float(x):
    return to(x, np.float32)


def double(x):
    return to(x, np.float64)


def half(x):
    return to(x, np.float16)


def long(x):
    return to(x, np.int64)


def int(x):
    return to(x, np.int32)


def bool(x):
    return to(x, np.bool_)


def type(x, dtype=None):
    if dtype is None:
        return f"fastgrad.{x.arr.dtype}"
    return to(x, dtype)
