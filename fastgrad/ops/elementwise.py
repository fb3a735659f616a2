"""Elementwise unary ops: exp, log, sqrt, abs, sigmoid, tanh, relu, clamp (also with tensor bounds).

Each node saves what its derivative needs (usually the output, saved by
``wrap_saving_output`` once it is a Tensor) and multiplies the incoming gradient by the local
derivative; the products are fresh arrays (``fresh_grads``).
"""
import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, needs_grad, unbroadcast
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels.relu import relu_backward, relu_forward
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops.inplace import tensor_inplace_method
from fastgrad.ops._operands import as_tensor, fix_result_dtype, float_array, wrap_saving_output


class ExpGradFn(GradFn):
    fresh_grads = True

    def backward(self, grad_output):
        out, = self.saved_tensors
        return (grad_output * out,)


@tensor_method()
def exp(x):
    x = as_tensor(x)
    with np.errstate(over="ignore"):
        out = np.exp(float_array(x))
    return wrap_saving_output(out, ExpGradFn(x) if needs_grad(x) else None)


class LogGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x):
        super().__init__(x)
        self.save_for_backward(x)

    def backward(self, grad_output):
        x, = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return (grad_output / x,)


@tensor_method()
def log(x):
    x = as_tensor(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(float_array(x))
    return Tensor._wrap(out, LogGradFn(x) if needs_grad(x) else None)


class SqrtGradFn(GradFn):
    fresh_grads = True

    def backward(self, grad_output):
        out, = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return (grad_output / (2 * out),)


@tensor_method()
def sqrt(x):
    x = as_tensor(x)
    with np.errstate(invalid="ignore"):
        out = np.sqrt(float_array(x))
    return wrap_saving_output(out, SqrtGradFn(x) if needs_grad(x) else None)


class AbsGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x):
        super().__init__(x)
        # PyTorch's sgn: 0 at 0, and 0 at NaN too (NumPy's sign(NaN) is NaN)
        self.save_for_backward(np.nan_to_num(np.sign(x.arr), nan=0.0))

    def backward(self, grad_output):
        sign, = self.saved_tensors
        return (grad_output * sign,)


@tensor_method("abs", "__abs__")
def abs(x):
    x = as_tensor(x)
    out = np.abs(x.arr)
    return Tensor._wrap(out, AbsGradFn(x) if needs_grad(x) else None)


class SigmoidGradFn(GradFn):
    fresh_grads = True

    def backward(self, grad_output):
        out, = self.saved_tensors
        return (grad_output * out * (1 - out),)


@tensor_method()
def sigmoid(x):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so that no exp overflows for large |x|."""
    x = as_tensor(x)
    arr = float_array(x)
    out = backend.sigmoid_of_array(arr)
    return wrap_saving_output(out, SigmoidGradFn(x) if needs_grad(x) else None)


class TanhGradFn(GradFn):
    fresh_grads = True

    def backward(self, grad_output):
        out, = self.saved_tensors
        return (grad_output * (1 - out * out),)


@tensor_method()
def tanh(x):
    x = as_tensor(x)
    out = np.tanh(float_array(x))
    return wrap_saving_output(out, TanhGradFn(x) if needs_grad(x) else None)


_KERNEL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # what kernels/relu.py compiles for


class ReluGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, passes):
        super().__init__(x)
        # PyTorch's threshold_backward: the gradient passes unless out <= 0 (a NaN input, a
        # NaN out, passes it too).
        self.save_for_backward(passes)

    def backward(self, grad_output):
        passes, = self.saved_tensors
        if (isinstance(grad_output, np.ndarray) and grad_output.dtype in _KERNEL_FLOATS
                and grad_output.shape == passes.shape and grad_output.flags.c_contiguous):
            grad = np.empty_like(grad_output)
            relu_backward(grad_output, passes, grad)
            return (grad,)
        # a recorded backward (a Tensor), or a broadcast / strided gradient: 0 where it stops
        return (backend.where(passes, grad_output, 0),)


@tensor_method()
def relu(x):
    """max(x, 0) as PyTorch: relu(-0.0) is -0.0 and NaN passes; the gradient passes where
    out > 0 or out is NaN (``kernels/relu.py``)."""
    x = as_tensor(x)
    arr = x.arr
    if arr.dtype == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    if arr.dtype in _KERNEL_FLOATS:
        if not arr.flags.c_contiguous:
            arr = arr.copy()  # C order; np.ascontiguousarray would make a 0-d array 1-d
        out = np.empty(arr.shape, arr.dtype)
        passes = np.empty(arr.shape, np.bool_)
        relu_forward(arr, out, passes)
    elif arr.dtype.kind == "f":  # float16: the kernels' rule in NumPy (numba has no float16)
        out = np.where(arr < 0, arr.dtype.type(0), arr)
        passes = ~(out <= 0)
    else:  # integers
        out = np.maximum(arr, 0).astype(arr.dtype, copy=False)
        passes = out > 0
    return Tensor._wrap(out, ReluGradFn(x, passes) if needs_grad(x) else None)


class ClampGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, inside):
        super().__init__(x)
        self.save_for_backward(inside)

    def backward(self, grad_output):
        inside, = self.saved_tensors
        return (grad_output * inside,)


@tensor_method("clamp", "clip")
def clamp(x, min=None, max=None):
    """Limit to [min, max]; the gradient passes where min <= x <= max (PyTorch's rule).

    ``min`` / ``max``: numbers, or tensors that broadcast with ``x`` (both of one kind, as
    PyTorch's two overloads); with tensors, min > max gives max, as in PyTorch.
    """
    x = as_tensor(x)
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of min and max must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensors(x, min, max)
    dtype = x.arr.dtype
    if dtype.kind in "biu" and any(isinstance(b, float) for b in (min, max)):
        dtype = dtypes.DEFAULT_FLOAT  # an int tensor with a float bound: PyTorch's promotion
    out = np.clip(x.arr.astype(dtype, copy=False), min, max).astype(dtype, copy=False)
    fn = None
    if needs_grad(x):
        inside = np.ones(x.arr.shape, dtype=bool)
        if min is not None:
            inside &= x.arr >= min
        if max is not None:
            inside &= x.arr <= max
        fn = ClampGradFn(x, inside)
    return Tensor._wrap(out, fn)


class ClampTensorsGradFn(GradFn):
    """clamp with tensor bounds: each element's gradient goes to whichever of x, min, max
    gave its value (PyTorch's clamp_backward and clamp_backward_min_max)."""

    fresh_grads = True

    def __init__(self, x, low, high, masks):
        super().__init__(x, low, high)
        self.shapes = tuple(None if t is None else t.arr.shape for t in (x, low, high))
        self.save_for_backward(*masks)  # (to x, to min, to max), None where none is needed

    def backward(self, grad_output):
        return tuple(None if mask is None else unbroadcast(grad_output * mask, shape)
                     for mask, shape in zip(self.saved_tensors, self.shapes))


def _clamp_tensors(x, low, high):
    for bound in (low, high):
        if bound is not None and not isinstance(bound, Tensor):
            raise TypeError(
                "clamp() received an invalid combination of arguments: min and max must both "
                f"be tensors (or None) when one is, got {type(low).__name__} and "
                f"{type(high).__name__}"
            )
    shapes = [t.shape for t in (x, low, high) if t is not None]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"clamp: shapes {shapes} do not broadcast") from None
    out = x.arr
    if low is not None:
        out = np.maximum(out, low.arr)
    if high is not None:
        out = np.minimum(out, high.arr)
    out = fix_result_dtype(np.asarray(out), x.arr, (low if low is not None else high).arr)
    fn = None
    if needs_grad(x, low, high):
        xa, lo, hi = x.arr, low.arr if low is not None else None, high.arr if high is not None else None
        to_x = to_low = to_high = None
        if x.requires_grad:
            to_x = np.ones(out.shape, dtype=bool)
            if lo is not None:
                to_x = to_x & (xa >= lo)
            if hi is not None:
                to_x = to_x & (xa <= hi)
        if low is not None and low.requires_grad:
            to_low = (xa < lo) & (lo < hi) if hi is not None else (xa < lo)
        if high is not None and high.requires_grad:
            to_high = (xa > hi) | (hi < lo) if lo is not None else (xa > hi)
        fn = ClampTensorsGradFn(x, low, high, (to_x, to_low, to_high))
    return Tensor._wrap(out, fn)


clip = clamp

tensor_inplace_method(exp, "exp_")
tensor_inplace_method(sigmoid, "sigmoid_")
tensor_inplace_method(tanh, "tanh_")
tensor_inplace_method(relu, "relu_")
tensor_inplace_method(clamp, "clamp_")
