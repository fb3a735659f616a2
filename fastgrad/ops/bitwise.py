"""Bitwise ops on integer and bool tensors (``&``, ``|``, ``^``, ``<<``, ``>>``) and the logical
ops on any tensor; none has a gradient.

The result dtype follows PyTorch's promotion, not NumPy's: a dimensioned tensor's dtype stands
against a 0-d tensor or a Python number of the same category (int8 & 300 is int8, the 300
wrapped as C would cast it), a bool tensor with an int gives the int's dtype. A float result
is refused with PyTorch's NotImplementedError. Shifts by a negative amount or by the width of
the type or more are defined as PyTorch defines them (<< gives 0, >> fills with the sign).
"""
import numbers

import numpy as np

from fastgrad import dtypes
from fastgrad._scalar_types import not_implemented, scalar_type_name
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import broadcast_error, operand
from fastgrad.ops.inplace import apply_inplace, tensor_inplace_method


def _promote(a, b):
    """PyTorch's promote_types for bool, integer and float dtypes (a float beats an integer)."""
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return np.promote_types(a, b)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < float, PyTorch's order


def _combine(higher, lower):
    """PyTorch's combine_categories: ``higher`` (from dimensioned tensors) stands unless it is
    bool or ``lower`` is of a higher category."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or _CATEGORY[lower.kind] > _CATEGORY[higher.kind]:
        return _promote(higher, lower)
    return higher


def result_dtype(*values):
    """The dtype PyTorch gives an elementwise op of ``values`` (arrays or Python numbers)."""
    kinds = {"dim": None, "zero": None, "scalar": None}
    for value in values:
        if isinstance(value, np.ndarray):
            key, dtype = ("zero" if value.ndim == 0 else "dim"), value.dtype
        elif isinstance(value, bool):
            key, dtype = "scalar", np.dtype(np.bool_)
        elif isinstance(value, numbers.Integral):
            key, dtype = "scalar", np.dtype(np.int64)
        else:
            key, dtype = "scalar", dtypes.DEFAULT_FLOAT
        kinds[key] = dtype if kinds[key] is None else _promote(kinds[key], dtype)
    return _combine(kinds["dim"], _combine(kinds["zero"], kinds["scalar"]))


def _as(value, dtype):
    """``value`` as an array of ``dtype``; a Python int out of range wraps (as C's cast)."""
    return np.asarray(value).astype(dtype, copy=False)


def _shift_left(a, b):
    bits = a.dtype.itemsize * 8
    in_range = (b >= 0) & (b < bits)
    # Shift as unsigned, so a 1 pushed into the sign bit is no overflow, then view back.
    unsigned = a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "i" else a
    shifted = np.left_shift(unsigned, np.where(in_range, b, 0).astype(unsigned.dtype))
    return np.where(in_range, shifted.view(a.dtype), np.zeros((), a.dtype))


def _shift_right(a, b):
    bits = a.dtype.itemsize * 8
    in_range = (b >= 0) & (b < bits)
    # Out of range: a signed value keeps only its sign (0 or -1), an unsigned one becomes 0.
    past = np.right_shift(a, bits - 1) if a.dtype.kind == "i" else np.zeros((), a.dtype)
    return np.where(in_range, np.right_shift(a, np.where(in_range, b, 0).astype(a.dtype)), past)


def _bitwise(kernel, kernel_name, name, torch_name, symbol, reflected):
    """The integer op ``name`` (operator ``symbol``) as a function, method and operators."""

    def op(input, other):
        a, _ = operand(input)
        b, _ = operand(other)
        dtype = result_dtype(*(v if isinstance(v, numbers.Number) else np.asarray(v)
                               for v in (a, b)))
        if dtype.kind == "f" or (dtype.kind == "b" and kernel_name.endswith("shift_cpu")):
            raise not_implemented(kernel_name, dtype)
        a, b = _as(a, dtype), _as(b, dtype)
        try:
            out = kernel(a, b)  # a new array: NumPy's ufuncs and np.where never alias
        except ValueError:
            raise broadcast_error(a.shape, b.shape) from None
        return Tensor._wrap(np.asarray(out, dtype=dtype))

    op.__name__ = name
    op.__doc__ = (f"``input {symbol} other`` elementwise on integer or bool tensors (broadcast), "
                  f"in PyTorch's promoted dtype; floats raise NotImplementedError.")
    def inplace(self, other):
        # PyTorch checks the result fits self's dtype before it looks for a kernel:
        # int32 &= float32 is a RuntimeError about the cast, not a missing float kernel.
        value, _ = operand(other)
        dtype = result_dtype(self.arr, value if isinstance(value, numbers.Number)
                             else np.asarray(value))
        if not np.can_cast(dtype, self.arr.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {scalar_type_name(dtype)} can't be cast to the "
                               f"desired output type {scalar_type_name(self.arr.dtype)}")
        return apply_inplace(self, op, other)

    tensor_method(name, torch_name, reflected=reflected)(op)
    inplace.__name__ = name + "_"
    for inplace_name in (name + "_", "__i" + torch_name[2:]):
        setattr(Tensor, inplace_name, inplace)
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and_cpu", "bitwise_and", "__and__", "&",
                       "__rand__")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or_cpu", "bitwise_or", "__or__", "|", "__ror__")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor_cpu", "bitwise_xor", "__xor__", "^",
                       "__rxor__")
bitwise_left_shift = _bitwise(_shift_left, "lshift_cpu", "bitwise_left_shift", "__lshift__",
                              "<<", "__rlshift__")
bitwise_right_shift = _bitwise(_shift_right, "rshift_cpu", "bitwise_right_shift", "__rshift__",
                               ">>", "__rrshift__")


def _logical(ufunc, name):
    def op(input, other):
        a, _ = operand(input)
        b, _ = operand(other)
        try:
            return Tensor._wrap(np.asarray(ufunc(a, b)))
        except ValueError:
            raise broadcast_error(np.shape(a), np.shape(b)) from None

    op.__name__ = name
    op.__doc__ = (f"Elementwise {name.split('_')[1]} of the truth (nonzero) of ``input`` and "
                  f"``other`` (broadcast): a bool tensor for any input dtype.")
    tensor_method(name)(op)
    # In place, the bool result is cast to self's dtype (1.0 / 0.0 for a float tensor).
    tensor_inplace_method(op, name + "_")
    return op


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")
