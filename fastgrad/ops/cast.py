"""dtype casts: ``to``, ``astype``, ``float()``, ``long()``, ... (differentiable between floats).

The function names shadow builtins (``float``, ``int``, ``bool``, ``type``) on purpose, to
mirror the Tensor methods; this module therefore uses none of those builtins.
"""
import builtins

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.cuda import not_compiled
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor


class CastGradFn(GradFn):
    fresh_grads = True  # astype copies

    def backward(self, grad_output):
        return (grad_output.astype(self.input_dtypes[0]),)


_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


def _is_device(value):
    return isinstance(value, str) and value.split(":")[0] in _DEVICE_TYPES


@tensor_method()
def to(x, *args, device=None, dtype=None, non_blocking=False, copy=False):
    """``Tensor.to`` with PyTorch's forms: ``to(dtype)``, ``to(device, dtype)``, ``to(other)``
    (other's dtype), with ``device=``, ``dtype=``, ``non_blocking=``, ``copy=`` keywords.

    The device must be the CPU ("cpu" or "cpu:N"). Float-to-float casts are differentiable;
    a cast to an integer or bool dtype is not.
    """
    x = as_tensor(x)
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        dtype = rest.pop(0).dtype
    else:
        if rest and (rest[0] is None or _is_device(rest[0])):
            device = rest.pop(0)
        if rest and not isinstance(rest[0], builtins.bool):  # (non_blocking, copy) follow
            dtype = rest.pop(0)
    if rest:
        non_blocking = rest.pop(0)
    if rest:
        copy = rest.pop(0)
    if rest:
        raise TypeError(f"to() got unexpected positional arguments {tuple(rest)!r}")
    if device is not None and not (_is_device(device) and device.split(":")[0] == "cpu"):
        if _is_device(device) and device.split(":")[0] == "cuda":
            raise not_compiled()  # what a CPU-only PyTorch raises for .to("cuda")
        raise RuntimeError(f"fastgrad tensors live on the CPU only; cannot move to {device!r}")
    if dtype is None:
        return Tensor._wrap(x.arr.copy(), CastGradFn(x) if needs_grad(x) else None) if copy else x
    dtype = dtypes.as_dtype(dtype)
    if dtype == x.arr.dtype and not copy:
        return x
    out = x.arr.astype(dtype)
    fn = CastGradFn(x) if dtypes.is_floating(dtype) and needs_grad(x) else None
    return Tensor._wrap(out, fn)


@tensor_method()
def astype(x, dtype):
    return to(x, dtype)


@tensor_method()
def float(x):
    return to(x, np.float32)


@tensor_method()
def double(x):
    return to(x, np.float64)


@tensor_method()
def half(x):
    return to(x, np.float16)


@tensor_method()
def long(x):
    return to(x, np.int64)


@tensor_method()
def int(x):
    return to(x, np.int32)


@tensor_method()
def bool(x):
    return to(x, np.bool_)


@tensor_method()
def type(x, dtype=None):
    if dtype is None:
        return f"fastgrad.{x.arr.dtype}"
    return to(x, dtype)
