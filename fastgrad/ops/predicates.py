"""Predicates, which have no gradient: the float classes (isinf, isfinite, isposinf,
isneginf), isclose, and the logical reductions all / any.

Each gives a new bool tensor (``all`` / ``any`` of a uint8 tensor give uint8, as PyTorch keeps
for old code); an integer or bool input is finite, never inf.
"""
import numpy as np

from fastgrad import dtypes
from fastgrad._scalar_types import scalar_type_name
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, broadcast_error, normalize_dims


def _float_class(ufunc, name, doc):
    def predicate(input):
        arr = as_tensor(input).arr
        if arr.dtype.kind != "f":
            # No integer or bool is inf or NaN; NumPy's isposinf would refuse a bool.
            return Tensor._wrap(np.full(arr.shape, ufunc is np.isfinite))
        return Tensor._wrap(np.asarray(ufunc(arr)))

    predicate.__name__ = name
    predicate.__doc__ = doc
    return tensor_method()(predicate)


isinf = _float_class(np.isinf, "isinf", "Elementwise ``input`` is +inf or -inf (bool tensor).")
isfinite = _float_class(np.isfinite, "isfinite",
                        "Elementwise ``input`` is neither inf nor NaN (bool tensor).")
isposinf = _float_class(np.isposinf, "isposinf", "Elementwise ``input`` is +inf (bool tensor).")
isneginf = _float_class(np.isneginf, "isneginf", "Elementwise ``input`` is -inf (bool tensor).")


@tensor_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (broadcast), or equal (so
    inf is close to inf); NaN is close to NaN only with ``equal_nan``.

    Both must have one dtype (RuntimeError, as PyTorch); integers are compared in the default
    float dtype. ``rtol`` and ``atol`` must be >= 0.
    """
    a, b = as_tensor(input).arr, as_tensor(other).arr
    if a.dtype != b.dtype:
        raise RuntimeError(f"{scalar_type_name(a.dtype)} did not match {scalar_type_name(b.dtype)}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {value}")
    try:
        close = np.asarray(a == b)
    except ValueError:
        raise broadcast_error(a.shape, b.shape) from None
    if equal_nan and a.dtype.kind == "f":
        close |= np.isnan(a) & np.isnan(b)
    if rtol == 0 and atol == 0:
        return Tensor._wrap(close)
    if a.dtype.kind != "f":
        a, b = a.astype(dtypes.DEFAULT_FLOAT), b.astype(dtypes.DEFAULT_FLOAT)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, which is not close
        error = np.abs(a - b)
        close |= np.isfinite(error) & (error <= atol + np.abs(rtol * b))
    return Tensor._wrap(close)


def _logical_reduction(ufunc, name):
    def reduce(input, dim=None, keepdim=False):
        arr = as_tensor(input).arr
        axes = normalize_dims(dim, arr.ndim)
        if axes is None and dim is not None:
            axes = ()  # a 0-d input: nothing to reduce
        out = np.asarray(ufunc(arr, axis=axes, keepdims=keepdim))
        # uint8 in, uint8 out: PyTorch's rule, kept from before it had bool tensors.
        return Tensor._wrap(out.astype(np.uint8) if arr.dtype == np.uint8 else out)

    reduce.__name__ = name
    reduce.__doc__ = (f"Whether {name} elements of ``input`` are nonzero, over ``dim`` (an int or "
                      f"a tuple; all dims when None, none when ``()``), kept as size 1 with "
                      f"``keepdim``. A bool tensor (uint8 for a uint8 input).")
    return tensor_method()(reduce)


all = _logical_reduction(np.all, "all")
any = _logical_reduction(np.any, "any")
