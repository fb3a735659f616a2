"""+ - * / // % ** @ and unary minus (and div's rounding modes, fmod), as functions, Tensor
methods and operators.

Elementwise binary nodes save their partial derivatives, read back as ``f_d``, and share one
backward: ``grad_i = unbroadcast(grad_output * f_d[i], shape_i)``. A partial that is not an
operand or a number is one function of the operands (``_div_d_a``, ``_pow_d_base``, ...),
evaluated on arrays by the forward and, for a create_graph backward, again on the Tensors.

The reversed forms (``2 - x``, ``a_ndarray @ x``) reuse the same nodes with the operands in
their mathematical order; a constant operand is an input of ``None``.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, derived, needs_grad, unbroadcast
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend, gemm
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import broadcast_error, fix_result_dtype, operand
from fastgrad.ops.inplace import tensor_inplace_method


class BinaryGradFn(GradFn):
    """Elementwise binary op with partial derivatives ``f_d = (d out/d a, d out/d b)``.

    A partial is an operand Tensor (mul: d(a*b)/da = b; version-checked when read), an array
    broadcastable to the output, a number, or None where that input needs no gradient. The
    partials are what the node saves: ``f_d`` reads them back.
    """

    fresh_grads = True  # products and sums, or grad_output itself (which the engine copies)

    def __init__(self, a, b, a_shape, b_shape, d_a, d_b):
        super().__init__(a, b)
        self.shapes = (a_shape, b_shape)
        need_a, need_b = self.needs_input_grad
        self.save_for_backward(d_a if need_a else None, d_b if need_b else None)

    @property
    def f_d(self):
        return self.saved_tensors

    def backward(self, grad_output):
        grads = []
        for partial, shape in zip(self.f_d, self.shapes):
            if partial is None:
                grads.append(None)
            elif isinstance(partial, (int, float)) and partial == 1:
                grads.append(unbroadcast(grad_output, shape))
            elif isinstance(partial, (int, float)) and partial == -1:
                grads.append(unbroadcast(-grad_output, shape))
            else:
                grads.append(unbroadcast(grad_output * partial, shape))
        return tuple(grads)


class AddGradFn(BinaryGradFn):
    def __init__(self, a, b, a_val, b_val, alpha=1):
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), 1, alpha)


class SubGradFn(BinaryGradFn):
    def __init__(self, a, b, a_val, b_val, alpha=1):
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), 1, -alpha)


class MulGradFn(BinaryGradFn):
    def __init__(self, a, b, a_val, b_val):
        # d(a*b)/da = b: the operand itself (its Tensor when it has one, so that an in-place
        # change of it before the backward is detected)
        super().__init__(a, b, np.shape(a_val), np.shape(b_val),
                         b_val if b is None else b, a_val if a is None else a)


def _partial(function, a, b, out, a_t, b_t):
    """``derived`` partial ``function(a, b)``: computed now on the operands' arrays (in the
    output's dtype, so a Python 0 divisor gives inf as the forward does, not an error), and
    from the operand Tensors (constants stay arrays) by a create_graph backward."""
    a_arr = np.asarray(a, dtype=out.dtype)
    b_arr = np.asarray(b, dtype=out.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = np.asarray(function(a_arr, b_arr)).astype(out.dtype, copy=False)
    return derived(value, function, a_arr if a_t is None else a_t, b_arr if b_t is None else b_t)


def _div_d_a(a, b):
    return 1 / b


def _div_d_b(a, b):
    return -(a / b) / b


class DivGradFn(BinaryGradFn):
    def __init__(self, a, b, a_val, b_val, out):
        need_a, need_b = a is not None and a.requires_grad, b is not None and b.requires_grad
        d_a = _partial(_div_d_a, a_val, b_val, out, a, b) if need_a else None
        d_b = _partial(_div_d_b, a_val, b_val, out, a, b) if need_b else None
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), d_a, d_b)


def _pow_d_base(a, b):
    # a ** 0 is constant: derivative 0 even at a = 0 (PyTorch), not 0 * 0 ** -1 = nan.
    return backend.where(backend.value(b) == 0, 0, b * a ** (b - 1))


def _pow_d_exponent(a, b):
    # 0 ** b with b >= 0 has derivative 0 in b (PyTorch's convention), not nan.
    a_val, b_val = backend.value(a), backend.value(b)
    return backend.where((a_val == 0) & (b_val >= 0), 0, a ** b * backend.log(a))


class PowGradFn(BinaryGradFn):
    def __init__(self, a, b, a_val, b_val, out):
        need_a, need_b = a is not None and a.requires_grad, b is not None and b.requires_grad
        d_a = _partial(_pow_d_base, a_val, b_val, out, a, b) if need_a else None
        d_b = _partial(_pow_d_exponent, a_val, b_val, out, a, b) if need_b else None
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), d_a, d_b)


def _binary(a, b, compute):
    a_val, a_t = operand(a)
    b_val, b_t = operand(b)
    try:
        out = compute(a_val, b_val)
    except ValueError as exc:
        try:
            np.broadcast_shapes(np.shape(a_val), np.shape(b_val))
        except ValueError:
            raise broadcast_error(np.shape(a_val), np.shape(b_val)) from None
        # The shapes are fine: NumPy refused the values (e.g. an integer to a negative power).
        raise RuntimeError(str(exc)) from None
    out = np.asarray(fix_result_dtype(np.asarray(out), a_val, b_val))
    return a_val, a_t, b_val, b_t, out


@tensor_method("add", "__add__", reflected="__radd__")
def add(a, b, alpha=1):
    """a + alpha * b, broadcasting."""
    a_val, a_t, b_val, b_t, out = _binary(a, b, lambda x, y: x + y if alpha == 1 else x + alpha * y)
    fn = AddGradFn(a_t, b_t, a_val, b_val, alpha) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


def _refuse_bool(operands, what):
    """PyTorch refuses - on bool tensors; checked on the arguments as given (no conversion)."""
    if any(getattr(getattr(v, "arr", v), "dtype", None) == np.bool_ for v in operands):
        raise RuntimeError(
            f"{what}, the `-` operator, with a bool tensor is not supported; to invert a mask "
            "use `~` or logical_not()"
        )


@tensor_method("sub", "subtract", "__sub__", reflected="__rsub__")
def sub(a, b, alpha=1):
    """a - alpha * b, broadcasting."""
    _refuse_bool((a, b), "Subtraction")
    a_val, a_t, b_val, b_t, out = _binary(a, b, lambda x, y: x - y if alpha == 1 else x - alpha * y)
    fn = SubGradFn(a_t, b_t, a_val, b_val, alpha) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


@tensor_method("mul", "multiply", "__mul__", reflected="__rmul__")
def mul(a, b):
    a_val, a_t, b_val, b_t, out = _binary(a, b, np.multiply)
    fn = MulGradFn(a_t, b_t, a_val, b_val) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


@tensor_method("div", "divide", "__truediv__", reflected="__rtruediv__")
def div(a, b, *, rounding_mode=None):
    """a / b, broadcasting. ``rounding_mode``: None, true division (integers give the default
    float); "trunc", rounded toward zero; "floor", rounded down (``floor_divide``, ``//``).
    A rounded quotient keeps an integer dtype, refuses an integer division by zero as PyTorch
    does, and has a zero gradient."""
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or "
                               f"'floor' but found '{rounding_mode}'")
        return _rounded_division(a, b, rounding_mode)
    return true_divide(a, b)


@tensor_method("true_divide")
def true_divide(a, b):
    """True division; integer inputs give the default float, as in PyTorch."""

    def divide(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide(x, y)

    a_val, a_t, b_val, b_t, out = _binary(a, b, divide)
    fn = DivGradFn(a_t, b_t, a_val, b_val, out) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


@tensor_method("pow", "__pow__", reflected="__rpow__")
def pow(a, b):
    def power(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(x, y)

    a_val, a_t, b_val, b_t, out = _binary(a, b, power)
    fn = PowGradFn(a_t, b_t, a_val, b_val, out) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


def _integer_division(a_val, b_val, out, what):
    """PyTorch's error for an integer division by zero (NumPy would give 0 and a warning)."""
    if out.dtype.kind in "biu" and np.any(np.asarray(b_val) == 0):
        raise RuntimeError(f"ZeroDivisionError ({what} of integers by a zero divisor)")


def _trunc_divide(x, y):
    if np.result_type(x, y).kind == "f":
        return np.trunc(np.true_divide(x, y))
    quotient = np.floor_divide(x, y)
    # floor and trunc differ where the division is inexact and the signs differ
    return quotient + ((np.remainder(x, y) != 0) & ((np.asarray(x) < 0) != (np.asarray(y) < 0)))


class RoundedDivGradFn(BinaryGradFn):
    """div with a rounding_mode: piecewise constant, so a zero gradient (PyTorch's)."""

    def __init__(self, a, b, a_val, b_val):
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), 0, 0)


class FloorDivideGradFn(GradFn):
    """floor_divide / ``//``: PyTorch has no derivative for it and raises in the backward."""

    def backward(self, grad_output):
        raise RuntimeError("the derivative for 'floor_divide' is not implemented.")


def _rounded_division(a, b, rounding_mode, node_class=RoundedDivGradFn):
    rounding = _trunc_divide if rounding_mode == "trunc" else np.floor_divide

    def compute(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return rounding(x, y)

    _refuse_bool_division(a, b, rounding_mode)
    a_val, a_t, b_val, b_t, out = _binary(a, b, compute)
    _integer_division(a_val, b_val, out, f"division with rounding_mode='{rounding_mode}'")
    fn = None
    if needs_grad(a_t, b_t):
        fn = (node_class(a_t, b_t) if node_class is FloorDivideGradFn
              else node_class(a_t, b_t, a_val, b_val))
    return Tensor._wrap(out, fn)


def _refuse_bool_division(a, b, rounding_mode):
    if all(getattr(getattr(v, "arr", v), "dtype", None) == np.bool_ or isinstance(v, bool)
           for v in (a, b)):
        raise NotImplementedError(f'"div_{rounding_mode}_cpu" not implemented for \'Bool\'')


@tensor_method("floor_divide", "__floordiv__", reflected="__rfloordiv__")
def floor_divide(input, other):
    """input // other rounded down (Python's rule, as PyTorch); integers stay integers and a
    zero integer divisor raises. Not differentiable in PyTorch: its backward raises."""
    return _rounded_division(input, other, "floor", FloorDivideGradFn)


_floor_quotient = backend.either(np.floor_divide, lambda a, b: div(a, b, rounding_mode="floor"))
_trunc_quotient = backend.either(_trunc_divide, lambda a, b: div(a, b, rounding_mode="trunc"))


class RemainderGradFn(BinaryGradFn):
    """d/da = 1, d/db = -floor(a / b) (a piecewise constant: PyTorch's)."""

    def __init__(self, a, b, a_val, b_val, out):
        d_b = None
        if b is not None and b.requires_grad:
            d_b = _partial(lambda x, y: -_floor_quotient(x, y), a_val, b_val, out, a, b)
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), 1, d_b)


class FmodGradFn(BinaryGradFn):
    """d/da = 1, d/db = -trunc(a / b)."""

    def __init__(self, a, b, a_val, b_val, out):
        d_b = None
        if b is not None and b.requires_grad:
            d_b = _partial(lambda x, y: -_trunc_quotient(x, y), a_val, b_val, out, a, b)
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), 1, d_b)


def _modulo(a, b, on_arrays, node_class, what):
    def compute(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return on_arrays(x, y)

    a_val, a_t, b_val, b_t, out = _binary(a, b, compute)
    _integer_division(a_val, b_val, out, what)
    fn = node_class(a_t, b_t, a_val, b_val, out) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


def _python_modulo(x, y):
    """PyTorch's remainder: fmod moved into ``y``'s sign (a zero result stays fmod's zero,
    where NumPy's remainder would give it ``y``'s sign)."""
    if np.result_type(x, y).kind != "f":
        return np.remainder(x, y)
    mod = np.fmod(x, y)
    return np.where((mod != 0) & ((np.asarray(y) < 0) != (mod < 0)), mod + y, mod)


@tensor_method("remainder", "__mod__", reflected="__rmod__")
def remainder(input, other):
    """input - floor(input / other) * other: the sign of ``other`` (Python's ``%``, as
    PyTorch); a zero integer divisor raises, a zero float divisor gives NaN."""
    for value in (input, other):
        if getattr(getattr(value, "arr", None), "dtype", None) == np.bool_:
            raise NotImplementedError('"remainder_cpu" not implemented for \'Bool\'')
    return _modulo(input, other, _python_modulo, RemainderGradFn, "remainder")


@tensor_method()
def fmod(input, other):
    """input - trunc(input / other) * other: the sign of ``input`` (C's fmod)."""
    return _modulo(input, other, np.fmod, FmodGradFn, "fmod")


class MaximumMinimumGradFn(BinaryGradFn):
    """maximum / minimum: the gradient goes to the operand that won, half to each on a tie
    (PyTorch's rule); where a NaN took part both operands get it, as in PyTorch."""

    def __init__(self, a, b, a_val, b_val, out, a_loses):
        with np.errstate(invalid="ignore"):
            tie = np.asarray(a_val == b_val)
            half = np.asarray(0.5, dtype=out.dtype)
            d_a = np.where(tie, half, np.where(a_loses(a_val, b_val), 0, 1)).astype(out.dtype)
            d_b = np.where(tie, half, np.where(a_loses(b_val, a_val), 0, 1)).astype(out.dtype)
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), d_a, d_b)


@tensor_method()
def maximum(a, b):
    """Elementwise maximum of two tensors, broadcasting; NaN propagates."""
    a_val, a_t, b_val, b_t, out = _binary(a, b, np.maximum)
    fn = MaximumMinimumGradFn(a_t, b_t, a_val, b_val, out, np.less) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


@tensor_method()
def minimum(a, b):
    """Elementwise minimum of two tensors, broadcasting; NaN propagates."""
    a_val, a_t, b_val, b_t, out = _binary(a, b, np.minimum)
    fn = MaximumMinimumGradFn(a_t, b_t, a_val, b_val, out, np.greater) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


class NegGradFn(GradFn):
    fresh_grads = True

    def backward(self, grad_output):
        return (-grad_output,)


@tensor_method("neg", "negative", "__neg__")
def neg(x):
    _refuse_bool((x,), "Negation")
    x_val, x_t = operand(x)
    out = np.negative(x_val)
    return Tensor._wrap(np.asarray(out), NegGradFn(x_t) if needs_grad(x_t) else None)


def _reshaped(arr, shape):
    """``arr`` in ``shape``; itself when it has that shape already (a base array stays one,
    so a leaf can take it without a copy)."""
    return arr if arr.shape == shape else arr.reshape(shape)


class MatMulGradFn(GradFn):
    """a @ b with NumPy's matmul rules (1-D promotion, broadcast batch dims); saves (b, a)."""

    fresh_grads = True  # matmul results (reshaped only where the operand's shape needs it)

    def __init__(self, a, b, a_val, b_val):
        super().__init__(a, b)
        need_a, need_b = self.needs_input_grad
        self.shapes = (np.shape(a_val), np.shape(b_val))
        self.save_for_backward((b_val if b is None else b) if need_a else None,
                               (a_val if a is None else a) if need_b else None)

    def backward(self, grad_output):
        b_val, a_val = self.saved_tensors
        a_shape, b_shape = self.shapes
        # Work with the 1-D operands promoted to matrices, as matmul itself does.
        g = grad_output
        if len(a_shape) == 1 and len(b_shape) == 1:
            g = g.reshape(1, 1)
        elif len(a_shape) == 1:
            g = g[..., None, :]
        elif len(b_shape) == 1:
            g = g[..., :, None]
        grad_a = grad_b = None
        if b_val is not None:
            b2 = b_val[:, None] if len(b_shape) == 1 else b_val
            grad_a = backend.matmul(g, b2.swapaxes(-1, -2))
            a2_shape = (1,) + a_shape if len(a_shape) == 1 else a_shape
            grad_a = _reshaped(unbroadcast(grad_a, a2_shape), a_shape)
        if a_val is not None:
            a2 = a_val[None, :] if len(a_shape) == 1 else a_val
            grad_b = backend.matmul(a2.swapaxes(-1, -2), g)
            b2_shape = b_shape + (1,) if len(b_shape) == 1 else b_shape
            grad_b = _reshaped(unbroadcast(grad_b, b2_shape), b_shape)
        return grad_a, grad_b


@tensor_method("matmul", "__matmul__", reflected="__rmatmul__")
def matmul(a, b):
    a_val, a_t = operand(a)
    b_val, b_t = operand(b)
    a_val, b_val = np.asarray(a_val), np.asarray(b_val)
    if a_val.ndim == 0 or b_val.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a_val.ndim}D and "
            f"{b_val.ndim}D"
        )
    try:
        out = gemm.matmul(a_val, b_val)
    except ValueError:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a_val.shape))} and "
            f"{'x'.join(map(str, b_val.shape))})"
        ) from None
    out = np.asarray(fix_result_dtype(np.asarray(out), a_val, b_val))
    fn = MatMulGradFn(a_t, b_t, a_val, b_val) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


divide = div
multiply = mul
subtract = sub
negative = neg

tensor_inplace_method(add, "add_", "__iadd__")
tensor_inplace_method(sub, "sub_", "__isub__")
tensor_inplace_method(mul, "mul_", "__imul__")
tensor_inplace_method(div, "div_", "divide_", "__itruediv__")
tensor_inplace_method(true_divide, "true_divide_")
tensor_inplace_method(floor_divide, "floor_divide_", "__ifloordiv__")
tensor_inplace_method(remainder, "remainder_", "__imod__")
tensor_inplace_method(fmod, "fmod_")
tensor_inplace_method(pow, "pow_", "__ipow__")
