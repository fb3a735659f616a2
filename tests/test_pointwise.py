"""Pointwise math ops: the op contract (gradcheck and gradgradcheck in float64, inputs left
alone, dtypes kept) on ordinary, broadcast, size-1, empty and 0-d shapes; methods, in-place
variants and aliases sharing one implementation; PyTorch's errors. (PyTorch's own values at
edge inputs: test_pointwise_torch.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad.ops import pointwise
from fastgrad.testing import check_op

RNG = np.random.default_rng(0)
SHAPES_1 = [((),), ((0, 3),), ((1,),)]


def _uniform(low, high, shape=(3, 4)):
    return RNG.uniform(low, high, shape)


# name -> (op, input values in the op's domain, away from kinks)
UNARY = {
    "sin": (fastgrad.sin, _uniform(-3, 3)), "cos": (fastgrad.cos, _uniform(-3, 3)),
    "tan": (fastgrad.tan, _uniform(-1.2, 1.2)), "asin": (fastgrad.asin, _uniform(-0.9, 0.9)),
    "acos": (fastgrad.acos, _uniform(-0.9, 0.9)), "atan": (fastgrad.atan, _uniform(-3, 3)),
    "sinh": (fastgrad.sinh, _uniform(-3, 3)), "cosh": (fastgrad.cosh, _uniform(-3, 3)),
    "asinh": (fastgrad.asinh, _uniform(-3, 3)), "acosh": (fastgrad.acosh, _uniform(1.2, 4)),
    "atanh": (fastgrad.atanh, _uniform(-0.9, 0.9)), "rsqrt": (fastgrad.rsqrt, _uniform(0.3, 3)),
    "reciprocal": (fastgrad.reciprocal, _uniform(0.5, 3) * RNG.choice([-1, 1], (3, 4))),
    "square": (fastgrad.square, _uniform(-3, 3)), "log2": (fastgrad.log2, _uniform(0.2, 4)),
    "log10": (fastgrad.log10, _uniform(0.2, 4)), "log1p": (fastgrad.log1p, _uniform(-0.8, 4)),
    "exp2": (fastgrad.exp2, _uniform(-3, 3)), "expm1": (fastgrad.expm1, _uniform(-3, 3)),
    "erf": (fastgrad.erf, _uniform(-2, 2)), "erfc": (fastgrad.erfc, _uniform(-2, 2)),
    "erfinv": (fastgrad.erfinv, _uniform(-0.9, 0.9)), "frac": (fastgrad.frac, _uniform(-3, 3)),
    "floor": (fastgrad.floor, _uniform(-3, 3)), "ceil": (fastgrad.ceil, _uniform(-3, 3)),
    "round": (fastgrad.round, _uniform(-3, 3)), "trunc": (fastgrad.trunc, _uniform(-3, 3)),
    "sign": (fastgrad.sign, _uniform(-3, 3)), "sgn": (fastgrad.sgn, _uniform(-3, 3)),
    "round_decimals": (lambda x: fastgrad.round(x, decimals=1), _uniform(-3, 3)),
    "nan_to_num": (fastgrad.nan_to_num, _uniform(-3, 3)),
}
BINARY = {
    "atan2": (fastgrad.atan2, _uniform(-3, 3), _uniform(0.5, 3, (4,))),
    "hypot": (fastgrad.hypot, _uniform(-3, 3), _uniform(0.5, 3, (4,))),
    "logaddexp": (fastgrad.logaddexp, _uniform(-3, 3), _uniform(-3, 3, (4,))),
    "copysign": (fastgrad.copysign, _uniform(0.5, 3) * RNG.choice([-1, 1], (3, 4)),
                 _uniform(0.5, 3, (4,)) * RNG.choice([-1, 1], 4)),
    "fmod": (fastgrad.fmod, _uniform(-3, 3), _uniform(0.7, 2, (4,))),
    "remainder": (fastgrad.remainder, _uniform(-3, 3), _uniform(0.7, 2, (4,))),
    "lerp": (lambda a, b: fastgrad.lerp(a, b, 0.3), _uniform(-3, 3), _uniform(-3, 3, (4,))),
    "div_trunc": (lambda a, b: fastgrad.div(a, b, rounding_mode="trunc"), _uniform(-3, 3),
                  _uniform(0.7, 2, (4,))),
}


def _away_from_kinks(values, step=1.0):
    """Values at least 0.05 from a multiple of ``step``: finite differences across a jump of
    floor / fmod would see a slope where the op has none."""
    frac = np.mod(values, step)
    return np.where(np.minimum(frac, step - frac) < 0.05, values + 0.1, values)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_contract(name):
    op, values = UNARY[name]
    if name in ("floor", "ceil", "round", "trunc", "frac", "round_decimals"):
        values = _away_from_kinks(values, 0.1 if name == "round_decimals" else 0.5)
    check_op(op, values, name=name, extra_shapes=SHAPES_1)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_contract(name):
    op, a, b = BINARY[name]
    if name in ("fmod", "remainder", "div_trunc"):
        a = _away_from_kinks(a / b) * b  # no quotient near an integer, where these jump
    check_op(op, a, b, name=name,
             extra_shapes=[((), ()), ((0, 4), (4,)), ((1, 1), (1,)), ((2, 1, 3), (4, 1))])


def test_lerp_with_a_tensor_weight_differentiates_all_three():
    start, end, weight = _uniform(-3, 3, (2, 3)), _uniform(-3, 3, (3,)), _uniform(-1, 2, (2, 1))
    check_op(fastgrad.lerp, start, end, weight,
             extra_shapes=[((), (), ()), ((0, 3), (3,), (1,)), ((2, 1), (1, 3), (3,))])


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 3), max_size=3), other=st.lists(st.integers(1, 3), max_size=2),
       name=st.sampled_from(["atan2", "hypot", "logaddexp", "copysign"]), seed=st.integers(0, 99))
def test_binary_ops_broadcast_and_unbroadcast_as_numpy(shape, other, name, seed):
    # other's shape broadcasts with shape's trailing dims (size 1 where they differ)
    rng = np.random.default_rng(seed)
    other = [1 if (len(shape) > i and shape[-1 - i] != o) else o
             for i, o in enumerate(reversed(other))][::-1]
    op, _, _ = BINARY[name]
    a = fastgrad.tensor(rng.uniform(0.5, 2, shape), dtype=fastgrad.float64, requires_grad=True)
    b = fastgrad.tensor(rng.uniform(0.5, 2, other), dtype=fastgrad.float64, requires_grad=True)
    out = op(a, b)
    reference = {"atan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp,
                 "copysign": np.copysign}[name](a.arr, b.arr)
    np.testing.assert_allclose(out.arr, reference, rtol=1e-15)
    out.backward(fastgrad.ones_like(out))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_erfinv_inverts_erf(values):
    x = np.clip(np.asarray(values) / 1e6, -0.999999, 0.999999)
    y = fastgrad.erfinv(fastgrad.tensor(x, dtype=fastgrad.float64))
    np.testing.assert_allclose(fastgrad.erf(y).arr, x, rtol=0, atol=4e-16)


def test_methods_inplace_and_aliases_are_the_same_op():
    x = fastgrad.tensor([0.25, -0.5, 0.75], dtype=fastgrad.float64)
    for name in ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh",
                 "floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "rsqrt", "reciprocal",
                 "square", "log2", "log10", "log1p", "exp2", "expm1", "erf", "erfc", "erfinv",
                 "nan_to_num", "fix"]:
        expected = getattr(fastgrad, name)(x).arr
        np.testing.assert_array_equal(getattr(x, name)().arr, expected, err_msg=name)
        y = x.clone()
        assert getattr(y, name + "_")() is y
        np.testing.assert_array_equal(y.arr, expected, err_msg=name + "_")
    for alias, name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
                        ("arcsinh", "asinh"), ("arctanh", "atanh"), ("fix", "trunc")]:
        assert getattr(fastgrad, alias) is getattr(fastgrad, name)
        assert getattr(fastgrad.Tensor, alias) is getattr(fastgrad.Tensor, name)
    assert fastgrad.arctan2 is fastgrad.atan2 and fastgrad.Tensor.arctan2 is fastgrad.Tensor.atan2
    y = fastgrad.tensor([3.0, -4.0])
    assert y.atan2_(fastgrad.tensor([1.0, 1.0])) is y and y.hypot_(y).shape == (2,)


def test_inplace_on_a_leaf_that_requires_grad_raises():
    x = fastgrad.tensor([0.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.sin_()


def test_an_inplace_change_of_a_saved_input_is_detected():
    x = fastgrad.tensor([0.5, 0.25], requires_grad=True)
    h = x * 1
    y = fastgrad.sin(h)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = fastgrad.tan(x * 1)  # tan saves its output
    z.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_integer_inputs_follow_pytorch_dtypes():
    i = fastgrad.tensor([1, -2, 3])
    assert fastgrad.sin(i).dtype == fastgrad.float32
    fastgrad.set_default_dtype(fastgrad.float64)
    try:
        assert fastgrad.sin(i).dtype == fastgrad.float64  # the default float, not float32
    finally:
        fastgrad.set_default_dtype(fastgrad.float32)
    for name in ("floor", "ceil", "round", "trunc", "sign", "square", "nan_to_num"):
        out = getattr(fastgrad, name)(i)
        assert out.dtype == fastgrad.int64, name
        assert not np.shares_memory(out.arr, i.arr), name  # a new tensor, not the input
    with pytest.raises(NotImplementedError, match="frac"):
        fastgrad.frac(i)
    with pytest.raises(NotImplementedError, match="round"):
        fastgrad.round(i, decimals=1)


def test_zero_gradient_ops_give_zeros_and_a_node():
    x = fastgrad.tensor([1.5, -0.5], dtype=fastgrad.float64, requires_grad=True)
    for op in (fastgrad.floor, fastgrad.ceil, fastgrad.round, fastgrad.trunc, fastgrad.sign,
               fastgrad.sgn):
        y = op(x)
        assert y.requires_grad and y.grad_fn is not None
        y.backward(fastgrad.tensor([2.0, 3.0], dtype=fastgrad.float64))
        assert x.grad.tolist() == [0.0, 0.0]
        x.grad = None


def test_bad_arguments_raise_pytorch_errors():
    x = fastgrad.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="atan2\\(\\): argument 'other'.*must be Tensor, not float"):
        fastgrad.atan2(x, 2.0)
    with pytest.raises(RuntimeError, match="size of tensor a \\(2\\) must match.*\\(3\\)"):
        fastgrad.atan2(x, fastgrad.ones(3))
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        fastgrad.lerp(x, fastgrad.ones(2, dtype=fastgrad.float64), 0.5)
    with pytest.raises(RuntimeError, match="shapes"):
        fastgrad.lerp(x, fastgrad.ones(3), 0.5)
    with pytest.raises(NotImplementedError, match="hypot"):
        fastgrad.hypot(fastgrad.tensor([3]), fastgrad.tensor([4]))


def test_create_graph_gives_second_derivatives_of_the_formulas():
    x = fastgrad.tensor([0.3, -0.7], dtype=fastgrad.float64, requires_grad=True)
    (g,) = fastgrad.autograd.grad(fastgrad.sin(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.arr, np.cos(x.arr))
    (h,) = fastgrad.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.arr, -np.sin(x.arr))
    (g,) = fastgrad.autograd.grad(fastgrad.erf(x).sum(), [x], create_graph=True)
    (h,) = fastgrad.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.arr, -2 * x.arr * 2 / np.sqrt(np.pi) * np.exp(-x.arr ** 2))


def test_the_node_names_say_the_op():
    x = fastgrad.tensor([0.5], requires_grad=True)
    assert type(fastgrad.sin(x).grad_fn).__name__ == "SinGradFn"
    assert type(fastgrad.nan_to_num(x).grad_fn).__name__ == "NanToNumGradFn"
    assert type(fastgrad.atan2(x, x).grad_fn).__name__ == "Atan2GradFn"
    assert pointwise.sin.node_class.__name__ == "SinGradFn"


def test_floor_divide_and_remainder_operators_as_python():
    a = fastgrad.tensor([7, -7, 7, -7])
    b = fastgrad.tensor([2, 2, -2, -2])
    assert (a // b).tolist() == [7 // 2, -7 // 2, 7 // -2, -7 // -2]
    assert (a % b).tolist() == [7 % 2, -7 % 2, 7 % -2, -7 % -2]
    assert (-9 // b).tolist() == [-5, -5, 4, 4] and (9 % b).tolist() == [1, 1, -1, -1]
    assert fastgrad.div(a, b, rounding_mode="trunc").tolist() == [3, -3, -3, 3]
    assert fastgrad.fmod(a, b).tolist() == [1, -1, 1, -1]
    assert (a // b).dtype == fastgrad.int64 and fastgrad.div(a, b).dtype == fastgrad.float32
    c = a.clone()
    c //= 3
    assert c.tolist() == [2, -3, 2, -3]
    c %= 2
    assert c.tolist() == [0, 1, 0, 1]
    assert a.clone().div_(b, rounding_mode="floor").tolist() == [3, -4, -4, 3]
    for op in (lambda: a // 0, lambda: a % fastgrad.tensor([1, 0, 1, 1]),
               lambda: fastgrad.fmod(a, 0), lambda: fastgrad.div(a, 0, rounding_mode="trunc")):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op()
    with pytest.raises(RuntimeError, match="rounding_mode to be one of None, 'trunc', or 'floor'"):
        fastgrad.div(a, b, rounding_mode="round")


def test_rounded_division_has_a_zero_gradient():
    a = fastgrad.tensor([7.5, -2.0], requires_grad=True)
    b = fastgrad.tensor([2.0, 3.0], requires_grad=True)
    fastgrad.div(a, b, rounding_mode="floor").sum().backward()
    assert a.grad.tolist() == [0.0, 0.0] and b.grad.tolist() == [0.0, 0.0]


def test_second_derivatives_with_a_constant_array_operand():
    # the partials' recipes get the constant as an ndarray: hypot's must not refuse it
    b = np.array([0.5, -2.0])
    for op in (fastgrad.hypot, fastgrad.atan2, fastgrad.logaddexp):
        check_op(lambda x: op(fastgrad.tensor(b, dtype=x.dtype), x), np.array([1.5, 0.7]))
        check_op(lambda x: op(b, x) if op is not fastgrad.logaddexp else op(x, x),
                 np.array([1.5, 0.7]), check_dtype=False)


def test_every_name_of_the_task_is_there():
    """Issue 11's pointwise and activation names: functions, Tensor methods where PyTorch has
    them, in-place methods, nn.functional functions and nn modules."""
    from fastgrad import nn
    from fastgrad.nn import functional as F

    math_names = ["sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh",
                  "asinh", "acosh", "atanh", "floor", "ceil", "round", "trunc", "frac", "sign",
                  "sgn", "copysign", "rsqrt", "reciprocal", "square", "log2", "log10", "log1p",
                  "exp2", "expm1", "erf", "erfc", "erfinv", "lerp", "logaddexp", "hypot", "fmod",
                  "remainder", "isnan", "nan_to_num", "floor_divide", "arcsin", "arccos",
                  "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "fix"]
    for name in math_names:
        assert callable(getattr(fastgrad, name)), name
        assert callable(getattr(fastgrad.Tensor, name)), name
        if name not in ("isnan", "logaddexp"):  # PyTorch has no in-place form of these two
            assert callable(getattr(fastgrad.Tensor, name + "_")), name + "_"
    for dunder in ("__floordiv__", "__rfloordiv__", "__ifloordiv__", "__mod__", "__rmod__",
                   "__imod__"):
        assert callable(getattr(fastgrad.Tensor, dunder)), dunder
    for name in ["gelu", "silu", "elu", "celu", "selu", "leaky_relu", "relu6", "hardtanh",
                 "hardsigmoid", "hardswish", "softplus", "mish", "logsigmoid", "softsign",
                 "tanhshrink", "glu", "softmin"]:
        assert name in F.__all__ and callable(getattr(F, name)), name
    for name in ["GELU", "SiLU", "ELU", "CELU", "SELU", "LeakyReLU", "ReLU6", "Hardtanh",
                 "Hardsigmoid", "Hardswish", "Softplus", "Mish", "LogSigmoid", "Softsign",
                 "Tanhshrink", "GLU", "Softmin"]:
        assert issubclass(getattr(nn, name), nn.Module), name


NUMPY_REFERENCE = {"sin": np.sin, "cos": np.cos, "tan": np.tan, "atan": np.arctan,
                   "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh, "floor": np.floor,
                   "ceil": np.ceil, "trunc": np.trunc, "square": np.square, "exp2": np.exp2,
                   "expm1": np.expm1, "log1p": lambda a: np.log1p(np.abs(a)), "sign": np.sign}


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=4), name=st.sampled_from(sorted(NUMPY_REFERENCE)),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 999))
def test_unary_ops_keep_shape_and_dtype_and_match_numpy(shape, name, dtype, seed):
    values = np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)
    op = getattr(fastgrad, name)
    if name == "log1p":
        values = np.abs(values)
    x = fastgrad.tensor(values, dtype=getattr(fastgrad, dtype), requires_grad=True)
    out = op(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_allclose(out.arr, NUMPY_REFERENCE[name](values), rtol=1e-6)
    out.backward(fastgrad.ones_like(out))
    assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
