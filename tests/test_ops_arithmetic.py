"""+ - * / ** @ and unary minus: forward against NumPy, the op contract by check_op, dtype rules."""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from fastgrad import Tensor
from fastgrad.testing import check_op

# (shape of a, shape of b): scalars, 1-D, broadcasting both ways, size-1 axes, extra leading dims.
SHAPE_PAIRS = [
    ((), ()),
    ((3,), ()),
    ((), (3,)),
    ((4,), (4,)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (2, 1)),
    ((1,), (2, 3)),
    ((2, 3, 1), (2, 3, 4)),
    ((0,), ()),
    ((2, 0), (1,)),
    ((0, 3), (2, 1, 3)),
]

BINARY = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "div": (operator.truediv, np.true_divide),
    "pow": (operator.pow, np.power),
}


def _operands(name, a_shape, b_shape, rng):
    """Inputs away from the op's singular points: positive bases for **, |b| >= 0.5 for /."""
    a = rng.standard_normal(a_shape)
    b = rng.standard_normal(b_shape)
    if name == "pow":
        a = rng.uniform(0.5, 2.0, a_shape)
        b = rng.uniform(-2.0, 2.0, b_shape)
    if name == "div":
        b = rng.uniform(0.5, 2.0, b_shape) * rng.choice([-1.0, 1.0], b_shape)
    return a, b


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("a_shape,b_shape", SHAPE_PAIRS)
def test_binary_forward_matches_numpy(name, a_shape, b_shape, rng):
    op, np_op = BINARY[name]
    a, b = _operands(name, a_shape, b_shape, rng)
    out = op(Tensor(a, dtype=np.float64), Tensor(b, dtype=np.float64))
    expected = np_op(a, b)
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.arr, expected, rtol=1e-12)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("a_shape,b_shape", SHAPE_PAIRS)
def test_binary_gradients(name, a_shape, b_shape, rng):
    op = BINARY[name][0]
    a, b = _operands(name, a_shape, b_shape, rng)
    check_op(op, a, b, name=name)  # also checks each gradient has its input's shape


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_binary_random_broadcast(name, shapes, seed):
    op, np_op = BINARY[name]
    a_shape, b_shape = shapes.input_shapes
    a, b = _operands(name, a_shape, b_shape, np.random.default_rng(seed))
    out = op(Tensor(a, dtype=np.float64), Tensor(b, dtype=np.float64))
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.arr, np_op(a, b), rtol=1e-12)
    check_op(op, a, b)


def test_unary_minus(rng):
    a = rng.standard_normal((2, 3))
    np.testing.assert_array_equal((-Tensor(a)).arr, -a.astype(np.float32))
    np.testing.assert_array_equal(fastgrad.neg(Tensor(a)).arr, -a.astype(np.float32))
    check_op(lambda x: -x, a, name="neg")
    # d(-x)/dx = -1, so the gradient is minus the cotangent.
    x = Tensor(a, dtype=np.float64, requires_grad=True)
    cotangent = np.random.default_rng(0).standard_normal((2, 3))
    (-x).backward(cotangent)
    np.testing.assert_allclose(x.grad.arr, -cotangent)


# Reversed forms: a Python scalar or an ndarray on the left of a Tensor.
REVERSED = [
    ("2 + x", lambda x: 2 + x, lambda a: 2 + a),
    ("2 - x", lambda x: 2 - x, lambda a: 2 - a),
    ("2.5 * x", lambda x: 2.5 * x, lambda a: 2.5 * a),
    ("2 / x", lambda x: 2 / x, lambda a: 2 / a),
    ("2 ** x", lambda x: 2 ** x, lambda a: 2 ** a),
    ("x - 2", lambda x: x - 2, lambda a: a - 2),
    ("x / 4", lambda x: x / 4, lambda a: a / 4),
    ("x ** 3", lambda x: x ** 3, lambda a: a ** 3),
    ("x ** 0.5", lambda x: x ** 0.5, lambda a: a ** 0.5),
    ("x ** -2", lambda x: x ** -2, lambda a: a ** -2.0),
    ("c - x", lambda x: np.array([1.0, -2.0, 3.0]) - x, lambda a: np.array([1.0, -2.0, 3.0]) - a),
    ("c / x", lambda x: np.array([1.0, -2.0, 3.0]) / x, lambda a: np.array([1.0, -2.0, 3.0]) / a),
    ("c ** x", lambda x: np.array([1.5, 2.0, 3.0]) ** x, lambda a: np.array([1.5, 2.0, 3.0]) ** a),
    ("c * x", lambda x: np.array([1.0, -2.0, 3.0]) * x, lambda a: np.array([1.0, -2.0, 3.0]) * a),
    ("c + x", lambda x: np.array([1.0, -2.0, 3.0]) + x, lambda a: np.array([1.0, -2.0, 3.0]) + a),
]


@pytest.mark.parametrize("expr,fn,np_fn", REVERSED, ids=[r[0] for r in REVERSED])
def test_reversed_and_scalar_forms(expr, fn, np_fn):
    a = np.array([0.7, 1.3, 2.1])
    out = fn(Tensor(a, dtype=np.float64))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.arr, np_fn(a), rtol=1e-12)
    # A float64 ndarray operand makes the result float64 (as a float64 tensor would in PyTorch).
    check_op(fn, a, name=expr, check_dtype=not expr.startswith("c "))


def test_reversed_forms_hand_computed_gradients():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    (2 - x).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [-1.0, -1.0])
    x.grad = None
    (8 / x).sum().backward()  # d/dx 8/x = -8/x^2
    np.testing.assert_array_equal(x.grad.arr, [-8.0, -2.0])
    x.grad = None
    (2 ** x).sum().backward()  # d/dx 2^x = 2^x ln 2
    np.testing.assert_allclose(x.grad.arr, [2 * np.log(2), 4 * np.log(2)])


def test_tensor_both_sides_same_object():
    # x * x and x / x see the same tensor twice; both gradients must be summed.
    a = np.array([0.5, -1.5, 2.0])
    check_op(lambda x: x * x + x / (x * x) - x.abs() ** x, a)


def test_add_sub_alpha(rng):
    a, b = rng.standard_normal(3), rng.standard_normal((2, 3))
    np.testing.assert_allclose(fastgrad.add(Tensor(a), Tensor(b), alpha=2).arr,
                               (a + 2 * b).astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(fastgrad.sub(Tensor(a), Tensor(b), alpha=3).arr,
                               (a - 3 * b).astype(np.float32), rtol=1e-6)
    check_op(lambda a, b: fastgrad.add(a, b, alpha=2), a, b)
    check_op(lambda a, b: fastgrad.sub(a, b, alpha=-0.5), a, b)


def test_functional_aliases(rng):
    a, b = Tensor(rng.uniform(1, 2, 3)), Tensor(rng.uniform(1, 2, 3))
    for name, op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                     ("div", operator.truediv), ("pow", operator.pow), ("multiply", operator.mul),
                     ("subtract", operator.sub), ("divide", operator.truediv),
                     ("true_divide", operator.truediv)]:
        np.testing.assert_array_equal(getattr(fastgrad, name)(a, b).arr, op(a, b).arr)
        np.testing.assert_array_equal(getattr(a, name)(b).arr, op(a, b).arr)


# ----------------------------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (5, 3, 4)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((1, 2, 3), (4, 3, 2)),
    ((0, 3), (3, 4)),
    ((2, 0), (0, 4)),  # an empty contraction: zeros out, empty gradients
]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
def test_matmul_forward_and_gradient(a_shape, b_shape, rng):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = Tensor(a, dtype=np.float64) @ Tensor(b, dtype=np.float64)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.arr, expected, rtol=1e-12)
    check_op(operator.matmul, a, b)
    check_op(fastgrad.matmul, a, b)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4,
                                                max_side=3),
       seed=st.integers(0, 2**16))
def test_matmul_random_shapes(shapes, seed):
    # NumPy's matmul signature: 1-D operands on either side, broadcast batch dims.
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = Tensor(a, dtype=np.float64) @ Tensor(b, dtype=np.float64)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.arr, np.matmul(a, b), rtol=1e-12, atol=1e-14)
    check_op(operator.matmul, a, b)


def test_matmul_with_an_ndarray_on_either_side(rng):
    m, v = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    out = m @ Tensor(v, dtype=np.float64)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.arr, m @ v)
    # The float64 ndarray operand makes the result float64, as a float64 tensor would.
    check_op(lambda x: m @ x, v, check_dtype=False)
    check_op(lambda x: x @ v, m, check_dtype=False)


def test_matmul_hand_computed_gradient():
    a = fastgrad.tensor([[1.0, 2.0]], requires_grad=True)  # (1, 2)
    b = fastgrad.tensor([[3.0], [4.0]], requires_grad=True)  # (2, 1)
    (a @ b).sum().backward()
    np.testing.assert_array_equal(a.grad.arr, [[3.0, 4.0]])
    np.testing.assert_array_equal(b.grad.arr, [[1.0], [2.0]])
    assert a.grad.dtype == np.float32


# --------------------------------------------------------------------------------- dtypes
def test_float32_stays_float32_with_python_scalars():
    x = fastgrad.tensor([1.0, 2.0])
    assert x.dtype == np.float32
    for out in (x * 2.5, x / 3, x + 1, 1 - x, x ** 2, 2 ** x, 2.5 / x, -x, x @ x):
        assert out.dtype == np.float32


def test_float64_stays_float64():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64)
    for out in (x * 2.5, x / 3, x + 1, 1 - x, x ** 2, 2 ** x, 2.5 / x, -x, x @ x):
        assert out.dtype == np.float64


def test_integer_results():
    i = fastgrad.tensor([1, 2, 3])
    assert i.dtype == np.int64
    assert (i + 1).dtype == np.int64
    assert (i * i).dtype == np.int64
    assert (i @ i).dtype == np.int64 and (i @ i).item() == 14
    # True division and int * float follow PyTorch: the default float32, not NumPy's float64.
    assert (i / i).dtype == np.float32
    assert (i / 2).dtype == np.float32
    assert (i * 2.5).dtype == np.float32
    np.testing.assert_array_equal((i / 2).arr, [0.5, 1.0, 1.5])


def test_mixed_float_widths_promote_to_float64():
    x32 = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    x64 = fastgrad.tensor([3.0, 4.0], dtype=fastgrad.float64, requires_grad=True)
    y = x32 * x64
    assert y.dtype == np.float64
    y.sum().backward()
    # Each gradient has its own input's dtype.
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64
    np.testing.assert_array_equal(x32.grad.arr, [3.0, 4.0])
    np.testing.assert_array_equal(x64.grad.arr, [1.0, 2.0])


# (int/bool dtype, float dtype): PyTorch keeps the float tensor's dtype; NumPy would widen.
@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("float_dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.truediv])
def test_integer_with_float_tensor_keeps_the_float_dtype(int_dtype, float_dtype, op):
    i = fastgrad.tensor(np.array([1, 0, 1], dtype=int_dtype), dtype=int_dtype)
    f = fastgrad.tensor([2.0, 4.0, 8.0], dtype=float_dtype, requires_grad=True)
    for y in (op(i, f), op(f, i)):
        assert y.dtype == float_dtype
    op(i, f).sum().backward()
    assert f.grad.dtype == float_dtype


# (dimensioned dtype, 0-d dtype, op, PyTorch's result): a 0-d tensor decides the dtype only
# when its category (bool < integer < float) is higher, as a Python scalar would.
@pytest.mark.parametrize("dim_dtype,zero_dtype,op,expected", [
    (np.float32, np.float64, operator.add, np.float32),   # NumPy: float64
    (np.float16, np.float32, operator.truediv, np.float16),
    (np.int8, np.int64, operator.mul, np.int8),            # NumPy: int64
    (np.uint8, np.int8, operator.add, np.uint8),
    (np.int64, np.float64, operator.add, np.float64),      # higher category: the 0-d decides
    (np.int32, np.int64, operator.truediv, np.float32),    # ints divided: the default float
    (np.bool_, np.int64, operator.mul, np.int64),
])
def test_a_0d_tensor_promotes_like_a_scalar_of_its_category(dim_dtype, zero_dtype, op, expected):
    dim = fastgrad.tensor(np.array([1, 2], dtype=dim_dtype), dtype=dim_dtype)
    zero = fastgrad.tensor(np.array(3, dtype=zero_dtype), dtype=zero_dtype)
    for y in (op(dim, zero), op(zero, dim)):
        assert y.dtype == expected and y.shape == (2,)
    np.testing.assert_allclose(op(dim, zero).arr, op(dim.arr.astype(np.float64), 3.0), rtol=1e-3)


def test_gradients_have_the_input_dtype():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    ((2 ** x) * 1.5 / 3 + x @ x).sum().backward()
    assert x.grad.dtype == np.float32


# ---------------------------------------------------------------------- special values
def test_division_by_python_zero_gives_inf_like_pytorch():
    x = fastgrad.tensor([1.0, -2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x / 0
    (y * fastgrad.tensor([1.0, 0.5])).backward(fastgrad.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(y.arr, [np.inf, -np.inf])
    np.testing.assert_array_equal(x.grad.arr, [np.inf, np.inf])


def test_pow_zero_exponent_has_zero_gradient_at_zero():
    # PyTorch: d(x ** 0)/dx = 0 everywhere, including x = 0 (not 0 * 0 ** -1 = nan).
    x = fastgrad.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 0.0])


def test_pow_zero_base_has_zero_exponent_gradient():
    # d(0 ** y)/dy is 0 for y >= 0 by PyTorch's convention (not 0 * log 0 = nan).
    y = fastgrad.tensor([0.0, 2.0], requires_grad=True)
    (fastgrad.tensor([0.0, 0.0]) ** y).sum().backward()
    np.testing.assert_array_equal(y.grad.arr, [0.0, 0.0])


def test_pow_integer_negative_exponent_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        fastgrad.tensor([2, 3]) ** -1


# ------------------------------------------------------------------ maximum / minimum
@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (4,)), ((), (3,)), ((2, 1), (1, 3)),
                                             ((0, 4), (4,)), ((), ())])
def test_maximum_minimum_with_broadcasting(name, a_shape, b_shape, rng):
    a = fastgrad.tensor(rng.standard_normal(a_shape), dtype=fastgrad.float64, requires_grad=True)
    b = fastgrad.tensor(rng.standard_normal(b_shape), dtype=fastgrad.float64, requires_grad=True)
    op = getattr(fastgrad, name)
    np.testing.assert_array_equal(op(a, b).arr, getattr(np, name)(a.arr, b.arr))
    check_op(op, a, b, name=name)
    assert getattr(a, name)(b).shape == np.broadcast_shapes(a_shape, b_shape)


def test_maximum_splits_ties_and_sends_nan_both_ways_as_pytorch():
    a = fastgrad.tensor([1.0, 2.0, 3.0, np.nan], requires_grad=True)
    b = fastgrad.tensor([2.0, 2.0, 1.0, 0.0], requires_grad=True)
    out = fastgrad.maximum(a, b)
    np.testing.assert_array_equal(out.arr, [2.0, 2.0, 3.0, np.nan])
    (out * fastgrad.tensor([10.0, 20.0, 30.0, 40.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.arr, [0.0, 10.0, 30.0, 40.0])  # tie: half each
    np.testing.assert_array_equal(b.grad.arr, [10.0, 10.0, 0.0, 40.0])  # NaN: both get it
    a.grad = b.grad = None
    (fastgrad.minimum(a, b) * fastgrad.tensor([10.0, 20.0, 30.0, 40.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.arr, [10.0, 10.0, 0.0, 40.0])
    np.testing.assert_array_equal(b.grad.arr, [0.0, 10.0, 30.0, 40.0])
    assert fastgrad.maximum(fastgrad.tensor([1, 5]), fastgrad.tensor([3, 2])).tolist() == [3, 5]


def test_max_and_min_of_two_tensors_are_maximum_and_minimum():
    a, b = fastgrad.tensor([1.0, 5.0]), fastgrad.tensor([3.0, 2.0])
    assert fastgrad.max(a, b).tolist() == [3.0, 5.0] and a.max(b).tolist() == [3.0, 5.0]
    assert fastgrad.min(a, b).tolist() == [1.0, 2.0]
