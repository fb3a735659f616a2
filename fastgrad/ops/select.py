"""where(condition, x, y) and the comparisons (which have no gradient)."""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad, unbroadcast
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import broadcast_error, fix_result_dtype, operand


class WhereGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, y, condition, x_shape, y_shape):
        super().__init__(x, y)
        self.save_for_backward(condition)  # an array (a bool Tensor's array is not checked)
        self.shapes = (x_shape, y_shape)

    def backward(self, grad_output):
        condition, = self.saved_tensors
        need_x, need_y = self.needs_input_grad
        x_shape, y_shape = self.shapes
        # (a Python 0 keeps the gradient's dtype)
        gx = unbroadcast(backend.where(condition, grad_output, 0), x_shape) if need_x else None
        gy = unbroadcast(backend.where(condition, 0, grad_output), y_shape) if need_y else None
        return gx, gy


def where(condition, x, y):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (all three broadcast)."""
    cond = condition.arr if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype}")
    x_val, x_t = operand(x)
    y_val, y_t = operand(y)
    try:
        out = np.where(cond, x_val, y_val)
    except ValueError:
        try:
            values_shape = np.broadcast_shapes(np.shape(x_val), np.shape(y_val))
        except ValueError:
            raise broadcast_error(np.shape(x_val), np.shape(y_val)) from None
        # x and y agree: it is the condition that does not broadcast with them.
        raise broadcast_error(cond.shape, values_shape) from None
    out = fix_result_dtype(np.asarray(out), x_val, y_val)
    fn = None
    if needs_grad(x_t, y_t):
        fn = WhereGradFn(x_t, y_t, cond, np.shape(x_val), np.shape(y_val))
    return Tensor._wrap(out, fn)


def _comparison(ufunc, name):
    """The comparison ``name`` as a function and Tensor method, and as the operator
    ``__name__``, which gives NotImplemented for an operand that is no number or array, so
    ``x == None`` is False (Python's fallback) as in PyTorch, instead of a TypeError."""

    def compare(a, b):
        a_val, _ = operand(a)
        b_val, _ = operand(b)
        try:
            return Tensor._wrap(np.asarray(ufunc(a_val, b_val)))
        except ValueError:
            raise broadcast_error(np.shape(a_val), np.shape(b_val)) from None

    def operator(self, other):
        try:
            return compare(self, other)
        except TypeError:
            return NotImplemented

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` as a bool tensor (no gradient)."
    operator.__name__ = f"__{name}__"
    tensor_method(operator.__name__)(operator)
    return tensor_method()(compare)


eq = _comparison(np.equal, "eq")
ne = _comparison(np.not_equal, "ne")
lt = _comparison(np.less, "lt")
le = _comparison(np.less_equal, "le")
gt = _comparison(np.greater, "gt")
ge = _comparison(np.greater_equal, "ge")


@tensor_method()
def logical_not(x):
    val, _ = operand(x)
    return Tensor._wrap(np.asarray(np.logical_not(val)))


@tensor_method("bitwise_not", "__invert__")
def bitwise_not(x):
    """``~x``: bitwise NOT of an integer tensor, logical NOT of a bool one (as PyTorch)."""
    val, _ = operand(x)
    val = np.asarray(val)
    if val.dtype.kind not in "biu":
        raise TypeError(f"~ (bitwise_not) is only implemented on integer and bool tensors, "
                        f"got dtype {val.dtype}")
    return Tensor._wrap(np.asarray(np.invert(val)))


@tensor_method()
def isnan(x):
    val, _ = operand(x)
    return Tensor._wrap(np.asarray(np.isnan(val)))


@tensor_method()
def equal(a, b):
    """True when both have the same shape and elements (``torch.equal``)."""
    a_val, _ = operand(a)
    b_val, _ = operand(b)
    return bool(np.shape(a_val) == np.shape(b_val) and np.array_equal(a_val, b_val))


@tensor_method()
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a_val, _ = operand(a)
    b_val, _ = operand(b)
    return bool(np.allclose(a_val, b_val, rtol=rtol, atol=atol, equal_nan=equal_nan))
