"""Activation functions (``nn.functional``'s gelu, silu, elu, ... and the ``nn`` modules'
ops), each its NumPy forward and its derivative written once (``ops/pointwise.py``).

Every forward and derivative is written so that no intermediate overflows: an exp is only
taken of a non-positive number (``where(x > 0, 0, x)`` first: that also keeps the branch
not taken from putting 0 * inf = NaN into a second derivative), softplus is ``logaddexp``.
Piecewise-constant slopes are constant arrays in the input's dtype.
"""
import math

import numpy as np

from fastgrad.kernels import special
from fastgrad.ops import backend
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.backend import either
from fastgrad.ops.inplace import apply_inplace
from fastgrad.ops.pointwise import (_refuse_integers, apply_unary, either_exp, either_sigmoid,
                                    either_tanh, erfc, unary_node)

SQRT_2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_CUBIC = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _slope(x, condition, if_true, if_false):
    """A piecewise-constant derivative as a constant array in x's dtype."""
    return np.where(condition, if_true, if_false).astype(backend.value(x).dtype)


def _non_positive(x):
    """x where x <= 0, else 0: safe to exponentiate, and differentiable where it is x."""
    return backend.where(backend.value(x) > 0, 0, x)


def _linear_part(x):
    """Where the elus take x itself: not x <= 0, so NaN too (PyTorch passes grad * scale there)."""
    return ~(backend.value(x) <= 0)


def _maybe_inplace(op, input, inplace, **params):
    return apply_inplace(input, op, **params) if inplace else op(input, **params)


either_erfc = either(special.erfc, erfc)


# --------------------------------------------------------------------------------- gelu
def _gelu_array(a, approximate):
    if approximate == "tanh":
        inner = SQRT_2_OVER_PI * (a + GELU_TANH_CUBIC * a * a * a)
        return 0.5 * a * (1 + np.tanh(inner))
    return 0.5 * a * special.erfc(-a / SQRT_2)  # Phi(x) without 1 + erf's cancellation at x << 0


def _gelu_derivative(x, approximate):
    if approximate == "tanh":
        t = either_tanh(SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (
            1 + 3 * GELU_TANH_CUBIC * x * x)
    return 0.5 * either_erfc(-x / SQRT_2) + x * INV_SQRT_2PI * either_exp(-0.5 * (x * x))


GeluGradFn = unary_node("gelu", _gelu_derivative)


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF, through erfc); ``approximate="tanh"``:
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Floats only, as in PyTorch."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return apply_unary(GeluGradFn, input, _gelu_array, "refuse", approximate=approximate)


# ------------------------------------------------------------------ sigmoid-based, smooth
SiluGradFn = unary_node("silu", lambda x: _silu_derivative(x))


def _silu_derivative(x):
    s = either_sigmoid(x)
    return s * (1 + x * (1 - s))


def silu(input, inplace=False):
    """x * sigmoid(x) (swish). Floats only."""
    return _maybe_inplace(_silu, input, inplace)


def _silu(input):
    return apply_unary(SiluGradFn, input, lambda a: a * backend.sigmoid_of_array(a), "refuse")


def _softplus_array(a, beta, threshold):
    return np.where(a * beta > threshold, a, np.logaddexp(0, a * beta) / beta)


SoftplusGradFn = unary_node(
    "softplus", lambda x, beta, threshold: backend.where(
        backend.value(x) * beta > threshold, 1, either_sigmoid(x * beta)))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    linear tail); no overflow for any x."""
    return apply_unary(SoftplusGradFn, input, _softplus_array, "refuse", beta=beta,
                       threshold=threshold)


either_softplus = either(lambda a: np.logaddexp(0, a), lambda t: softplus(t))


def _mish_derivative(x):
    t = either_tanh(either_softplus(x))
    return t + x * either_sigmoid(x) * (1 - t * t)


MishGradFn = unary_node("mish", _mish_derivative)


def _mish(input):
    return apply_unary(MishGradFn, input, lambda a: a * np.tanh(np.logaddexp(0, a)), "refuse")


def mish(input, inplace=False):
    """x * tanh(softplus(x)). Floats only."""
    return _maybe_inplace(_mish, input, inplace)


LogsigmoidGradFn = unary_node("logsigmoid", lambda x: either_sigmoid(-x))


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): finite for every finite x."""
    return apply_unary(LogsigmoidGradFn, input,
                       lambda a: np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a))), "refuse")


SoftsignGradFn = unary_node("softsign", lambda x: 1 / ((1 + abs(x)) * (1 + abs(x))))


def softsign(input):
    """x / (1 + |x|); integers give the default float (bool is refused, as PyTorch's abs)."""
    if as_tensor(input).arr.dtype == np.bool_:
        raise _refuse_integers("abs", np.dtype(np.bool_))
    return apply_unary(SoftsignGradFn, input, lambda a: a / (1 + np.abs(a)))


TanhshrinkGradFn = unary_node("tanhshrink", lambda x: either_tanh(x) * either_tanh(x))


def tanhshrink(input):
    """x - tanh(x); integers give the default float."""
    return apply_unary(TanhshrinkGradFn, input, lambda a: a - np.tanh(a))


# ------------------------------------------------------------------------- exponential
EluGradFn = unary_node(
    "elu", lambda x, alpha, scale: scale * backend.where(
        _linear_part(x), 1, alpha * either_exp(_non_positive(x))))


def _elu(input, alpha, scale=1.0):
    def forward(a, alpha, scale):
        return scale * np.where(a > 0, a, alpha * np.expm1(np.where(a > 0, 0, a)))

    return apply_unary(EluGradFn, input, forward, "refuse", alpha=alpha, scale=scale)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (exp(x) - 1) otherwise. Floats only."""
    return _maybe_inplace(_elu, input, inplace, alpha=alpha)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. 2017."""
    return _maybe_inplace(_elu, input, inplace, alpha=SELU_ALPHA, scale=SELU_SCALE)


CeluGradFn = unary_node(
    "celu",
    lambda x, alpha: backend.where(_linear_part(x), 1, either_exp(_non_positive(x) / alpha)))


def _celu_array(a, alpha):
    return np.where(a > 0, a, alpha * np.expm1(np.where(a > 0, 0, a) / alpha))


def _celu(input, alpha):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError (celu with alpha=0)")
    return apply_unary(CeluGradFn, input, _celu_array, "refuse", alpha=alpha)


def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (exp(x / alpha) - 1) otherwise (continuously differentiable elu)."""
    return _maybe_inplace(_celu, input, inplace, alpha=alpha)


# ------------------------------------------------------------------------ piecewise linear
LeakyReluGradFn = unary_node(
    "leaky_relu", lambda x, negative_slope: _slope(x, backend.value(x) > 0, 1, negative_slope))


def _leaky_relu(input, negative_slope):
    return apply_unary(LeakyReluGradFn, input,
                       lambda a, negative_slope: np.where(a > 0, a, a * negative_slope),
                       "refuse", negative_slope=negative_slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise (slope 1 at x > 0 only, as PyTorch)."""
    return _maybe_inplace(_leaky_relu, input, inplace, negative_slope=negative_slope)


def _hardtanh_slope(x, min_val, max_val):
    # PyTorch's hardtanh_backward: zero at or beyond a limit, so a NaN input passes the gradient
    x = backend.value(x)
    return ~((x <= min_val) | (x >= max_val))


HardtanhGradFn = unary_node("hardtanh", _hardtanh_slope)


def _hardtanh(input, min_val, max_val):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    dtype = as_tensor(input).arr.dtype
    if dtype == np.bool_:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if dtype.kind == "u" and (min_val < 0 or max_val < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    return apply_unary(HardtanhGradFn, input,
                       lambda a, min_val, max_val: np.clip(a, min_val, max_val).astype(a.dtype),
                       "compute", min_val=min_val, max_val=max_val)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; gradient 1 strictly inside (PyTorch's rule); integers
    stay integers."""
    return _maybe_inplace(_hardtanh, input, inplace, min_val=min_val, max_val=max_val)


def relu6(input, inplace=False):
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


HardsigmoidGradFn = unary_node(  # 1/6 strictly inside (-3, 3), 0 elsewhere and at NaN
    "hardsigmoid",
    lambda x: _slope(x, (backend.value(x) > -3) & (backend.value(x) < 3), 1.0 / 6.0, 0))


def _hardsigmoid(input):
    return apply_unary(HardsigmoidGradFn, input, lambda a: np.clip(a / 6 + 0.5, 0, 1), "refuse")


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6; slope 1/6 strictly inside (-3, 3)."""
    return _maybe_inplace(_hardsigmoid, input, inplace)


def _hardswish_derivative(x):
    a = backend.value(x)
    return backend.where(a <= -3, 0, backend.where(a < 3, x / 3 + 0.5, 1))


HardswishGradFn = unary_node("hardswish", _hardswish_derivative)


def _hardswish(input):
    return apply_unary(HardswishGradFn, input, lambda a: a * np.clip(a + 3, 0, 6) / 6, "refuse")


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    return _maybe_inplace(_hardswish, input, inplace)


# ------------------------------------------------------------------------ over a dimension
def glu(input, dim=-1):
    """a * sigmoid(b) for the halves a, b of ``input`` along ``dim`` (whose size must be even)."""
    from fastgrad.ops._operands import normalize_dim
    from fastgrad.ops.elementwise import sigmoid

    x = as_tensor(input)
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if x.arr.dtype.kind != "f":
        raise _refuse_integers("glu", x.arr.dtype)
    axis = normalize_dim(dim, x.ndim)
    size = x.shape[axis]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size {size}")
    lead = (slice(None),) * axis
    with np.errstate(all="ignore"):
        return x[lead + (slice(0, size // 2),)] * sigmoid(x[lead + (slice(size // 2, size),)])


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input, dim); ``dim`` None takes PyTorch's legacy implicit dim."""
    from fastgrad.ops.softmax import softmax

    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
    with np.errstate(all="ignore"):
        return softmax(-x, dim)
