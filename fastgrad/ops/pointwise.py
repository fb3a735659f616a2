"""Pointwise math: trigonometric, hyperbolic, rounding, logs and exps, erf, and the binary
atan2, copysign, hypot, logaddexp, lerp.

An op is its NumPy forward and its derivative, written once. ``unary_node`` makes the node
class (``SinGradFn``: viz and fastgrad.onnx key on it) from a derivative that is an expression
of the saved input ``x`` and/or output ``out``, built from operators and ``either`` functions
(NumPy on ndarrays, the differentiable op on Tensors): the same expression is the first-order
backward (arrays) and the recorded one (``create_graph``, Tensors). ``apply_unary`` runs a
forward with PyTorch's dtype rule for integer input. ``fastgrad.ops.activation`` uses both.
"""
import math

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, needs_grad, unbroadcast
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import special
from fastgrad.ops import backend, elementwise
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, operand
from fastgrad.ops.backend import either
from fastgrad.ops.arithmetic import BinaryGradFn, _binary, _partial
from fastgrad.ops.inplace import tensor_inplace_method


# ------------------------------------------------------------------------------ mechanism
class UnaryGradFn(GradFn):
    """``grad_input = grad_output * derivative(*saved, **params)``; ``saved`` is (x,), (out,)
    or (x, out) as the subclass's ``saves`` says; ``derivative`` None is a zero gradient
    (floor, sign: PyTorch's zeros)."""

    fresh_grads = True  # a product the backward makes
    saves = ()
    derivative = None

    def __init__(self, x, params):
        super().__init__(x)
        self.params = params  # numbers only (alpha, beta, approximate): kept after release
        if "x" in self.saves:
            self.save_for_backward(x)

    def backward(self, grad_output):
        if self.derivative is None:
            return (grad_output * 0,)
        with np.errstate(all="ignore"):  # inf and NaN slopes at the domain's edges, silently
            return (grad_output * self.derivative(*self.saved_tensors, **self.params),)


def unary_node(name, derivative, saves="x"):
    """The node class ``<Name>GradFn`` of a unary op whose derivative is
    ``derivative(x)``, ``derivative(out)`` or ``derivative(x, out)`` (``saves`` = "x", "out",
    "x,out"), plus the op's keyword parameters; None for a zero derivative."""
    class_name = "".join(part.capitalize() for part in name.split("_")) + "GradFn"
    saves = tuple(saves.split(",")) if derivative is not None else ()
    return type(class_name, (UnaryGradFn,), {
        "saves": saves, "derivative": None if derivative is None else staticmethod(derivative),
        "__module__": __name__, "__doc__": f"The node of {name}."})


def _refuse_integers(name, dtype):
    return NotImplementedError(f'"{name}_cpu" not implemented for \'{_torch_name(dtype)}\'')


def _torch_name(dtype):
    return {"b": "Bool", "u": "Byte"}.get(dtype.kind) or {
        1: "Char", 2: "Short", 4: "Int", 8: "Long"}[dtype.itemsize]


def apply_unary(node_class, input, on_array, integers="float", **params):
    """``on_array(array, **params)`` on ``input``'s data, recording ``node_class``.

    ``integers`` is PyTorch's rule for bool / integer input: "float" computes in the default
    float dtype (sin); "copy" returns a copy (nan_to_num); "copy_ints" too but refuses bool
    (floor); "compute" keeps the dtype (sign, hardtanh); "refuse" raises NotImplementedError
    (frac, gelu). Floating results keep the input's dtype. No NumPy warning escapes: PyTorch
    gives none.
    """
    x = as_tensor(input)
    arr = x.arr
    if arr.dtype.kind in "biu":
        if integers == "float":
            arr = arr.astype(dtypes.DEFAULT_FLOAT)
        elif integers == "copy" or (integers == "copy_ints" and arr.dtype != np.bool_):
            return Tensor._wrap(arr.copy())
        elif integers in ("refuse", "copy_ints"):
            raise _refuse_integers(node_class.__name__[:-len("GradFn")].lower(), arr.dtype)
    with np.errstate(all="ignore"):
        out = np.asarray(on_array(arr, **params))
    if arr.dtype.kind == "f":
        out = out.astype(arr.dtype, copy=False)
    fn = node_class(x, params) if needs_grad(x) else None
    result = Tensor._wrap(out, fn)
    if fn is not None and "out" in fn.saves:
        fn.save_for_backward(result)  # after x: saved_tensors is (x, out)
    return result


def unary(name, on_array, derivative, saves="x", integers="float", doc=""):
    """A parameterless unary op: its node, its function ``name(input)``, registered as the
    Tensor method ``name`` with the in-place ``name_`` (PyTorch has both for each of these)."""
    node_class = unary_node(name, derivative, saves)

    def op(input):
        return apply_unary(node_class, input, on_array, integers)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    op.node_class = node_class
    tensor_method(name)(op)
    tensor_inplace_method(op, name + "_")
    return op


either_sigmoid = backend.sigmoid
either_tanh = either(np.tanh, elementwise.tanh)
either_exp = backend.exp
LN2, LN10 = math.log(2.0), math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# -------------------------------------------------------------------- trigonometric, hyperbolic
# Derivatives read x or out; constants are Python floats, so float32 stays float32.
sin = unary("sin", np.sin, lambda x: either_cos(x), doc="sin(input) (radians); d/dx = cos(x).")
cos = unary("cos", np.cos, lambda x: -either_sin(x), doc="cos(input) (radians); d/dx = -sin(x).")
tan = unary("tan", np.tan, lambda out: 1 + out * out, "out",
            doc="tan(input) (radians); d/dx = 1 + tan(x)^2.")
asin = unary("asin", np.arcsin, lambda x: either_rsqrt(1 - x * x),
             doc="arcsin(input), NaN outside [-1, 1]; d/dx = 1 / sqrt(1 - x^2).")
acos = unary("acos", np.arccos, lambda x: -either_rsqrt(1 - x * x),
             doc="arccos(input), NaN outside [-1, 1]; d/dx = -1 / sqrt(1 - x^2).")
atan = unary("atan", np.arctan, lambda x: 1 / (1 + x * x),
             doc="arctan(input); d/dx = 1 / (1 + x^2).")
sinh = unary("sinh", np.sinh, lambda x: either_cosh(x), doc="sinh(input); d/dx = cosh(x).")
cosh = unary("cosh", np.cosh, lambda x: either_sinh(x), doc="cosh(input); d/dx = sinh(x).")
asinh = unary("asinh", np.arcsinh, lambda x: either_rsqrt(x * x + 1),
              doc="arsinh(input); d/dx = 1 / sqrt(x^2 + 1).")
# PyTorch's formula (also where acosh itself is NaN, x < 1: its gradient is finite there)
acosh = unary("acosh", np.arccosh, lambda x: either_rsqrt(x * x - 1),
              doc="arcosh(input), NaN below 1; d/dx = 1 / sqrt(x^2 - 1).")
atanh = unary("atanh", np.arctanh, lambda x: 1 / (1 - x * x),
              doc="artanh(input), NaN outside [-1, 1]; d/dx = 1 / (1 - x^2).")

# ------------------------------------------------------------------------------- rounding
floor = unary("floor", np.floor, None, integers="copy_ints", doc="Round down; zero gradient.")
ceil = unary("ceil", np.ceil, None, integers="copy_ints", doc="Round up; zero gradient.")
trunc = unary("trunc", np.trunc, None, integers="copy_ints",
              doc="Round toward zero; zero gradient.")
frac = unary("frac", lambda a: a - np.trunc(a), lambda x: 1, integers="refuse",
             doc="input - trunc(input), with input's sign; d/dx = 1. Floats only, as in PyTorch.")


def _sign_array(a):
    if a.dtype == np.bool_:
        return a.copy()
    return np.where(np.isnan(a), 0, np.sign(a)) if a.dtype.kind == "f" else np.sign(a)


sign = unary("sign", _sign_array, None, integers="compute",
             doc="-1, 0 or 1, and 0 for NaN as PyTorch (bool stays bool); zero gradient.")
sgn = unary("sgn", _sign_array, None, integers="compute",
            doc="sign for real tensors (PyTorch's sgn is x / |x| for complex ones); zero gradient.")
_RoundGradFn = unary_node("round", None)


@tensor_method()
def round(input, *, decimals=0):
    """Round half to even, to ``decimals`` places (negative: to tens, hundreds, ...); zero
    gradient. Integers are returned as they are without ``decimals``; PyTorch refuses them with."""
    arr = as_tensor(input).arr
    if decimals != 0 and arr.dtype.kind in "biu":
        raise _refuse_integers("round", arr.dtype)
    return apply_unary(_RoundGradFn, input, _round_array, "copy_ints", decimals=int(decimals))


def _round_array(a, decimals):
    if decimals == 0:
        return np.rint(a)
    if decimals > 0:  # PyTorch: nearbyint(x * 10^d) / 10^d, in the input's dtype
        scale = a.dtype.type(10.0 ** decimals)
        return np.rint(a * scale) / scale
    scale = a.dtype.type(10.0 ** -decimals)
    return np.rint(a / scale) * scale


tensor_inplace_method(round, "round_")

# ------------------------------------------------------------------------ powers, logs, exps
rsqrt = unary("rsqrt", lambda a: 1 / np.sqrt(a), lambda out: -0.5 * out * out * out, "out",
              doc="1 / sqrt(input); d/dx = -rsqrt(x)^3 / 2.")
reciprocal = unary("reciprocal", lambda a: 1 / a, lambda out: -(out * out), "out",
                   doc="1 / input (integers give the default float); d/dx = -1 / x^2.")


def _square_array(a):
    return np.square(a.astype(np.int64) if a.dtype == np.bool_ else a)


square = unary("square", _square_array, lambda x: 2 * x, integers="compute",
               doc="input * input (integers stay integers, bool gives int64); d/dx = 2x.")
log2 = unary("log2", np.log2, lambda x: 1 / (x * LN2), doc="Base-2 logarithm; d/dx = 1 / (x ln 2).")
log10 = unary("log10", np.log10, lambda x: 1 / (x * LN10),
              doc="Base-10 logarithm; d/dx = 1 / (x ln 10).")
log1p = unary("log1p", np.log1p, lambda x: 1 / (1 + x),
              doc="log(1 + input), exact for small input; d/dx = 1 / (1 + x).")
exp2 = unary("exp2", np.exp2, lambda out: out * LN2, "out", doc="2 ** input; d/dx = 2^x ln 2.")
expm1 = unary("expm1", np.expm1, lambda out: out + 1, "out",
              doc="exp(input) - 1, exact for small input; d/dx = exp(x).")
erf = unary("erf", special.erf, lambda x: TWO_OVER_SQRT_PI * either_exp(-(x * x)),
            doc="The error function; d/dx = 2 / sqrt(pi) exp(-x^2).")
erfc = unary("erfc", special.erfc, lambda x: -TWO_OVER_SQRT_PI * either_exp(-(x * x)),
             doc="1 - erf(input), without cancellation for large input; "
                 "d/dx = -2 / sqrt(pi) exp(-x^2).")
erfinv = unary("erfinv", special.erfinv,
               lambda out: (math.sqrt(math.pi) / 2) * either_exp(out * out), "out",
               doc="The inverse of erf on (-1, 1), +-inf at +-1, NaN beyond; "
                   "d/dx = sqrt(pi) / 2 exp(erfinv(x)^2).")

either_cos = either(np.cos, cos)
either_sin = either(np.sin, sin)
either_cosh = either(np.cosh, cosh)
either_sinh = either(np.sinh, sinh)
either_rsqrt = either(lambda a: 1 / np.sqrt(a), rsqrt)

_NanToNumGradFn = unary_node("nan_to_num", lambda x, **_: np.isfinite(backend.value(x)))


@tensor_method()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf, -inf replaced by ``nan``, ``posinf``, ``neginf`` (default: 0 and the dtype's
    greatest / least finite value); integers are returned as they are. The gradient passes
    where the input is finite (PyTorch's rule)."""
    return apply_unary(_NanToNumGradFn, input, np.nan_to_num, "copy", nan=nan, posinf=posinf,
                       neginf=neginf)


tensor_inplace_method(nan_to_num, "nan_to_num_")

# --------------------------------------------------------------------------------- binary
def binary_node(name, d_input, d_other):
    """A ``BinaryGradFn`` subclass ``<Name>GradFn`` whose partials are ``d_input(a, b)`` and
    ``d_other(a, b)``, derived (recomputed on Tensors with create_graph)."""

    def __init__(self, a, b, a_val, b_val, out):
        partials = [None, None]
        for i, (t, d) in enumerate(((a, d_input), (b, d_other))):
            if t is not None and t.requires_grad:
                partials[i] = _partial(d, a_val, b_val, out, a, b)
        BinaryGradFn.__init__(self, a, b, np.shape(a_val), np.shape(b_val), *partials)

    class_name = "".join(part.capitalize() for part in name.split("_")) + "GradFn"
    return type(class_name, (BinaryGradFn,), {"__init__": __init__, "__module__": __name__})


def apply_binary(node_class, input, other, on_arrays, floats_only=False, tensor_other=True):
    """``on_arrays(a, b)`` broadcasting, with PyTorch's promotion (integers give the default
    float), recording ``node_class``; ``tensor_other``: ``other`` must be a Tensor (PyTorch's
    signature of atan2, hypot, logaddexp)."""
    name = node_class.__name__[:-len("GradFn")].lower()
    if tensor_other and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    if floats_only:  # refused when the promoted dtype is an integer one (hypot(int, 2.5) is not)
        values = [operand(v)[0] for v in (input, other)]
        if not any(np.asarray(v).dtype.kind == "f" for v in values):
            dtype = next((v.dtype for v in values if isinstance(v, np.ndarray)), np.dtype(np.int64))
            raise _refuse_integers(name, dtype)

    def compute(a, b):
        if not any(np.asarray(v).dtype.kind == "f" for v in (a, b)):
            # integers compute in the default float (NumPy: float16 for uint8, float64 for int64)
            a, b = (np.asarray(v, dtype=dtypes.DEFAULT_FLOAT) for v in (a, b))
        with np.errstate(all="ignore"):
            return on_arrays(a, b)

    a_val, a_t, b_val, b_t, out = _binary(input, other, compute)
    fn = node_class(a_t, b_t, a_val, b_val, out) if needs_grad(a_t, b_t) else None
    return Tensor._wrap(out, fn)


def _is_tensor(*values):
    return any(isinstance(v, Tensor) for v in values)


_Atan2GradFn = binary_node("atan2", lambda a, b: b / (a * a + b * b),
                           lambda a, b: -a / (a * a + b * b))


@tensor_method("atan2", "arctan2")
def atan2(input, other):
    """The angle of the point (other, input), in (-pi, pi]; broadcasting."""
    return apply_binary(_Atan2GradFn, input, other, np.arctan2)


def _hypot_d(a, b):
    return a / either_hypot(a, b)


_HypotGradFn = binary_node("hypot", _hypot_d, lambda a, b: _hypot_d(b, a))


@tensor_method()
def hypot(input, other):
    """sqrt(input^2 + other^2) without overflow or underflow; floats only, as in PyTorch."""
    return apply_binary(_HypotGradFn, input, other, np.hypot, floats_only=True)


def _logaddexp_d(a, b):
    return either_sigmoid(a - b)  # exp(a) / (exp(a) + exp(b)), with no overflow


_LogaddexpGradFn = binary_node("logaddexp", _logaddexp_d, lambda a, b: _logaddexp_d(b, a))


@tensor_method()
def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow; floats only, as in PyTorch."""
    return apply_binary(_LogaddexpGradFn, input, other, np.logaddexp, floats_only=True)


class CopysignGradFn(BinaryGradFn):
    """d/da = copysign(a, b) / a: +-1, 0 at a = 0 and NaN at a = +-inf or NaN (PyTorch's
    result / self), a constant of the backward; d/db = 0."""

    def __init__(self, a, b, a_val, b_val, out):
        d_a = None
        if a is not None and a.requires_grad:
            a_arr = np.asarray(a_val, out.dtype)
            with np.errstate(invalid="ignore", divide="ignore"):
                d_a = np.where(a_arr == 0, 0, out / a_arr).astype(out.dtype, copy=False)
        super().__init__(a, b, np.shape(a_val), np.shape(b_val), d_a, 0)


@tensor_method()
def copysign(input, other):
    """|input| with the sign of ``other`` (its sign bit: -0.0 counts as negative); integers
    give the default float. The gradient to ``other`` is zero, as in PyTorch."""
    return apply_binary(CopysignGradFn, input, other, np.copysign, tensor_other=False)


# (a partial's recipe may get a constant ndarray as ``other``, which hypot() itself refuses)
either_hypot = either(np.hypot, lambda a, b: apply_binary(_HypotGradFn, a, b, np.hypot,
                                                          tensor_other=False))


class LerpGradFn(GradFn):
    """lerp: d/d input = 1 - weight, d/d end = weight, d/d weight = end - input."""

    fresh_grads = True

    def __init__(self, start, end, weight, weight_value):
        super().__init__(start, end, weight)
        self.shapes = (start.shape, end.shape, np.shape(weight_value))
        self.save_for_backward(start, end, weight if weight is not None else weight_value)

    def backward(self, grad_output):
        start, end, weight = self.saved_tensors
        with np.errstate(all="ignore"):
            partials = (1 - weight, weight, end - start)
            return tuple(unbroadcast(grad_output * d, shape) if need else None
                         for d, shape, need in zip(partials, self.shapes, self.needs_input_grad))


@tensor_method()
def lerp(input, end, weight):
    """input + weight * (end - input), broadcasting; ``weight`` a number or tensor.

    Computed as PyTorch does, from the nearer end (``end - (end - input) * (1 - weight)``
    for |weight| >= 0.5), so lerp(a, b, 1) is b exactly; floats of one dtype only.
    """
    start, end = as_tensor(input), as_tensor(end)
    for t in (start, end):
        if t.arr.dtype.kind != "f":
            raise _refuse_integers("lerp_kernel", t.arr.dtype)
    if end.arr.dtype != start.arr.dtype:
        raise RuntimeError(f"expected dtype {_float_name(start.arr.dtype)} for `end` but got "
                           f"dtype {_float_name(end.arr.dtype)}")
    if isinstance(weight, Tensor) and weight.arr.dtype != start.arr.dtype:
        raise RuntimeError(f"expected dtype {_float_name(start.arr.dtype)} for `weight` but "
                           f"got dtype {_float_name(weight.arr.dtype)}")
    w, weight_t = operand(weight)
    a, b = start.arr, end.arr
    try:
        np.broadcast_shapes(a.shape, b.shape, np.shape(w))
    except ValueError:
        shapes = [a.shape, b.shape, np.shape(w)]
        raise RuntimeError(f"lerp: the shapes of input, end and weight {shapes} do not "
                           "broadcast") from None
    with np.errstate(all="ignore"):
        diff = b - a
        out = np.where(np.abs(w) < 0.5, a + w * diff, b - diff * (1 - w)).astype(a.dtype)
    fn = LerpGradFn(start, end, weight_t, w) if needs_grad(start, end, weight_t) else None
    return Tensor._wrap(out, fn)


def _float_name(dtype):
    return {2: "c10::Half", 4: "float", 8: "double"}.get(dtype.itemsize, str(dtype))


tensor_inplace_method(lerp, "lerp_")

# PyTorch's NumPy-style aliases (functions and methods): one implementation each
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
arctan2, fix = atan2, trunc
for _alias, _op in {"arcsin": asin, "arccos": acos, "arctan": atan, "arcsinh": asinh,
                    "arccosh": acosh, "arctanh": atanh, "fix": trunc}.items():
    tensor_method(_alias)(_op)
    tensor_inplace_method(_op, _alias + "_")
tensor_inplace_method(atan2, "atan2_", "arctan2_")
tensor_inplace_method(hypot, "hypot_")
tensor_inplace_method(copysign, "copysign_")
