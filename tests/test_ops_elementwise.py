"""exp, log, sqrt, abs, sigmoid, tanh, relu, clamp: forward against NumPy, check_op, stability."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from fastgrad import Tensor
from fastgrad.testing import check_op


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


# name -> (NumPy reference, domain of the inputs): positive where the op needs it.
UNARY = {
    "exp": (np.exp, "any"),
    "log": (np.log, "positive"),
    "sqrt": (np.sqrt, "positive"),
    "abs": (np.abs, "any"),
    "sigmoid": (_np_sigmoid, "any"),
    "tanh": (np.tanh, "any"),
    "relu": (lambda a: np.maximum(a, 0), "any"),
}
SHAPES = [(), (1,), (4,), (2, 3), (2, 1, 3), (0,), (2, 0)]


def _values(shape, domain, rng):
    """Values at least 0.1 away from 0, where abs and relu have their kink."""
    magnitude = rng.uniform(0.1, 2.0, shape)
    if domain == "positive":
        return magnitude
    return magnitude * rng.choice([-1.0, 1.0], shape)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_forward_and_gradient(name, shape, rng):
    np_fn, domain = UNARY[name]
    a = _values(shape, domain, rng)
    x = Tensor(a, dtype=np.float64)
    for out in (getattr(fastgrad, name)(x), getattr(x, name)()):
        assert out.shape == shape and out.dtype == np.float64
        np.testing.assert_allclose(out.arr, np_fn(a), rtol=1e-12)
    check_op(getattr(fastgrad, name), a)


@pytest.mark.parametrize("name", UNARY)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_unary_random_shapes(name, data):
    np_fn, domain = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    magnitude = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.1, 3.0)))
    sign = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    a = magnitude if domain == "positive" else magnitude * sign
    np.testing.assert_allclose(getattr(fastgrad, name)(Tensor(a, dtype=np.float64)).arr, np_fn(a),
                               rtol=1e-12)
    check_op(getattr(fastgrad, name), a)


@pytest.mark.parametrize("name", UNARY)
def test_float32_in_float32_out(name):
    x = fastgrad.tensor([0.5, 1.5, 2.0], requires_grad=True)
    out = getattr(x, name)()
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sigmoid", "tanh"])
def test_integer_input_gives_float32(name):
    out = getattr(fastgrad, name)(fastgrad.tensor([1, 2, 3]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.arr, UNARY[name][0](np.array([1.0, 2.0, 3.0])), rtol=1e-6)


def test_hand_computed_derivatives():
    x = fastgrad.tensor([0.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    x.sigmoid().sum().backward()
    np.testing.assert_allclose(x.grad.arr, [0.25, _np_sigmoid(2.0) * (1 - _np_sigmoid(2.0))])
    x.grad = None
    x.tanh().sum().backward()
    np.testing.assert_allclose(x.grad.arr, [1.0, 1 - np.tanh(2.0) ** 2])


def test_abs_and_relu_have_zero_gradient_at_zero():
    # PyTorch: sign(0) = 0 for abs, and relu's gradient at 0 is 0.
    x = fastgrad.tensor([-1.0, 0.0, 3.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [-1.0, 0.0, 1.0])
    x.grad = None
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 0.0, 1.0])
    assert (abs(x)).arr.tolist() == [1.0, 0.0, 3.0]


def test_abs_has_zero_gradient_at_nan_as_pytorch():
    x = fastgrad.tensor([2.0, np.nan, -3.0], requires_grad=True)
    (x.abs() * fastgrad.tensor([5.0, 6.0, 7.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [5.0, 0.0, -7.0])


def test_relu_passes_the_gradient_at_nan_as_pytorch():
    # torch.relu's backward zeroes the gradient only where the output is <= 0.
    x = fastgrad.tensor([np.nan, -2.0, 0.0, 2.0], requires_grad=True)
    (x.relu() * fastgrad.tensor([5.0, 6.0, 7.0, 8.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [5.0, 0.0, 0.0, 8.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "0-d", "empty"])
def test_relu_kernel_keeps_the_gradient_rule_on_every_layout(dtype, layout):
    # kernels/relu.py: out = 0 where x < 0 else x; the gradient passes unless out <= 0, and a
    # stopped gradient is 0 even when the cotangent is NaN or negative (threshold_backward).
    rng = np.random.default_rng(3)
    base = {"contiguous": rng.standard_normal((6, 5)), "transposed": rng.standard_normal((5, 6)).T,
            "0-d": np.array(-1.5), "empty": np.zeros((0, 4))}[layout].astype(dtype)
    if base.size:
        base.flat[0] = np.nan
    x = fastgrad.tensor(base, requires_grad=True)
    out = x.relu()
    expected = np.where(base < 0, 0, base)
    np.testing.assert_array_equal(out.arr, expected)
    assert out.dtype == dtype and out.shape == base.shape
    cotangent = rng.standard_normal(base.shape).astype(dtype)
    cotangent[base < 0] = np.nan  # where the gradient stops, even a NaN gives 0
    out.backward(fastgrad.tensor(cotangent))
    want = np.where(expected > 0, cotangent, 0)
    want[np.isnan(expected)] = cotangent[np.isnan(expected)]
    np.testing.assert_array_equal(x.grad.arr, want)
    assert not np.any(np.signbit(x.grad.arr[~(expected > 0) & ~np.isnan(expected)]))


def test_relu_of_float16_follows_the_kernels_rule():
    base = np.array([-1.0, -0.0, 0.0, 2.0, np.nan], np.float16)
    x = fastgrad.tensor(base, requires_grad=True)
    out = x.relu()
    assert out.dtype == fastgrad.float16
    np.testing.assert_array_equal(out.arr, [0.0, -0.0, 0.0, 2.0, np.nan])
    assert np.signbit(out.arr[1]) and not np.signbit(out.arr[0])
    out.backward(fastgrad.tensor(np.array([np.nan, 1.0, 1.0, 3.0, 4.0], np.float16)))
    np.testing.assert_array_equal(x.grad.arr, [0.0, 0.0, 0.0, 3.0, 4.0])


def test_relu_of_a_broadcast_gradient_and_of_integers():
    x = fastgrad.tensor([[-1.0, 2.0, 0.0]], requires_grad=True)
    x.relu().sum().backward()  # sum's backward hands relu a broadcast (strided) gradient
    np.testing.assert_array_equal(x.grad.arr, [[0.0, 1.0, 0.0]])
    ints = fastgrad.tensor([3, -2, 0], dtype=fastgrad.int32)
    assert ints.relu().dtype == fastgrad.int32
    np.testing.assert_array_equal(ints.relu().arr, [3, 0, 0])
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        fastgrad.tensor([True, False]).relu()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_large_inputs(dtype):
    x = fastgrad.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        y = x.sigmoid()
        y.sum().backward()
    assert y.dtype == dtype
    assert y.arr[0] == 0.0 and y.arr[-1] == 1.0 and y.arr[2] == 0.5
    assert np.all(np.isfinite(x.grad.arr))
    assert x.grad.arr[0] == 0.0 and x.grad.arr[-1] == 0.0 and x.grad.arr[2] == 0.25


def test_tanh_is_stable_for_large_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        y = fastgrad.tensor([-1e4, 1e4]).tanh()
    np.testing.assert_array_equal(y.arr, [-1.0, 1.0])


def test_domain_edges_follow_pytorch_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        log0 = fastgrad.tensor([0.0, -1.0]).log()
        sqrt_neg = fastgrad.tensor([-1.0]).sqrt()
        exp_big = fastgrad.tensor([1e4]).exp()
    assert log0.arr[0] == -np.inf and np.isnan(log0.arr[1])
    assert np.isnan(sqrt_neg.arr[0])
    assert exp_big.arr[0] == np.inf


# ------------------------------------------------------------------------------------ clamp
def test_clamp_forward_matches_numpy(rng):
    a = rng.standard_normal((3, 4))
    x = Tensor(a)
    np.testing.assert_array_equal(x.clamp(-0.5, 0.5).arr, np.clip(a, -0.5, 0.5).astype(np.float32))
    np.testing.assert_array_equal(x.clamp(min=0.2).arr, np.maximum(a, 0.2).astype(np.float32))
    np.testing.assert_array_equal(x.clamp(max=0.2).arr, np.minimum(a, 0.2).astype(np.float32))
    np.testing.assert_array_equal(fastgrad.clip(x, -0.1, 0.1).arr, x.clamp(-0.1, 0.1).arr)
    assert x.clamp(-0.5, 0.5).dtype == np.float32


def test_clamp_gradient_passes_inside_the_closed_interval():
    # PyTorch: the gradient flows where min <= x <= max, the bounds included.
    x = fastgrad.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    x.clamp(0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 1.0, 1.0, 1.0, 0.0])
    x.grad = None
    x.clamp(min=0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 0.0, 1.0, 1.0, 1.0])
    x.grad = None
    x.clamp(max=0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [1.0, 1.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("shapes", [
    ((2, 3), (2, 3), (2, 3)),
    ((2, 3), (3,), (2, 1)),      # both bounds broadcast
    ((3,), (2, 3), None),        # the bound makes the output bigger; min only
    ((4, 1), None, (1, 5)),      # max only
])
def test_clamp_with_tensor_bounds_gradcheck(rng, shapes):
    # x below, inside and above the bounds, always 0.15 or more from them (where clamp is
    # not differentiable): bounds in [-0.7, -0.4] and [0.4, 0.7], x in {+-0.9, +-0.25}
    x_shape, low_shape, high_shape = shapes
    arrays = [rng.choice([-0.9, -0.25, 0.25, 0.9], size=x_shape)]
    if low_shape is not None:
        arrays.append(rng.uniform(-0.7, -0.4, low_shape))
    if high_shape is not None:
        arrays.append(rng.uniform(0.4, 0.7, high_shape))
    has_low, has_high = low_shape is not None, high_shape is not None

    def fn(x, *bounds):
        low = bounds[0] if has_low else None
        high = bounds[-1] if has_high else None
        return fastgrad.clamp(x, low, high)

    check_op(fn, *arrays)


def test_clamp_with_tensor_bounds_at_ties_and_crossed_bounds():
    # PyTorch's rule: x gets the gradient where min <= x <= max (ties included), min where
    # x < min < max, max where x > max or max < min (then the output is max).
    x = fastgrad.tensor([0.0, 1.0, 3.0, 4.0, 5.0], requires_grad=True)
    low = fastgrad.tensor([1.0, 1.0, 3.0, 5.0, 3.0], requires_grad=True)
    high = fastgrad.tensor([3.0, 3.0, 3.0, 4.0, 6.0], requires_grad=True)
    y = fastgrad.clamp(x, low, high)
    np.testing.assert_array_equal(y.arr, [1.0, 1.0, 3.0, 4.0, 5.0])
    y.backward(fastgrad.tensor([1.0, 2.0, 4.0, 8.0, 16.0]))
    np.testing.assert_array_equal(x.grad.arr, [0.0, 2.0, 4.0, 0.0, 16.0])
    np.testing.assert_array_equal(low.grad.arr, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(high.grad.arr, [0.0, 0.0, 0.0, 8.0, 0.0])


def test_clamp_with_one_tensor_and_one_number_bound_is_refused():
    x, low = fastgrad.zeros(3), fastgrad.zeros(3)
    with pytest.raises(TypeError, match="invalid combination"):
        fastgrad.clamp(x, low, 1.0)
    with pytest.raises(RuntimeError, match="do not broadcast"):
        fastgrad.clamp(x, fastgrad.zeros(2))


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.3, None)])
def test_clamp_gradcheck(bounds):
    # Values kept 0.05 away from both bounds, where the clamp is not differentiable.
    a = np.array([[-1.2, -0.7, -0.2, 0.1], [0.4, 0.8, 1.5, -0.05]])
    check_op(lambda x: x.clamp(*bounds), a)


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="at least one of min and max"):  # PyTorch's class
        fastgrad.tensor([1.0]).clamp()


def test_clamp_of_an_int_tensor_with_a_float_bound_is_float32():
    # PyTorch promotes: int tensor and float bound -> the default float dtype, not truncation
    out = fastgrad.tensor([0, 1, 4]).clamp(0.5, 3.5)
    assert out.dtype == np.float32 and out.tolist() == [0.5, 1.0, 3.5]
    assert fastgrad.tensor([0, 1, 4], dtype=fastgrad.int8).clamp(max=2.0).dtype == np.float32
    same = fastgrad.tensor([0, 1, 4]).clamp(1, 3)
    assert same.dtype == np.int64 and same.tolist() == [1, 1, 3]
    assert fastgrad.tensor([0.0, 4.0], dtype=fastgrad.float64).clamp(0.5).dtype == np.float64


# ------------------------------------------------------------------------- in-place forms
@pytest.mark.parametrize("name", ["exp", "relu", "sigmoid", "tanh"])
def test_inplace_unary_on_a_non_leaf(name):
    a = np.array([-0.5, 0.7, 1.3])
    x = fastgrad.tensor(a, dtype=fastgrad.float64, requires_grad=True)
    y = x * 2
    returned = getattr(y, name + "_")()
    assert returned is y
    expected = getattr(fastgrad, name)(fastgrad.tensor(2 * a, dtype=fastgrad.float64))
    np.testing.assert_allclose(y.arr, expected.arr)
    y.sum().backward()
    reference = fastgrad.tensor(a, dtype=fastgrad.float64, requires_grad=True)
    getattr(reference * 2, name)().sum().backward()
    np.testing.assert_allclose(x.grad.arr, reference.grad.arr)


def test_inplace_clamp_on_a_non_leaf():
    x = fastgrad.tensor([-2.0, 0.5, 2.0], requires_grad=True)
    y = x * 1
    y.clamp_(-1.0, 1.0)
    np.testing.assert_array_equal(y.arr, [-1.0, 0.5, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 1.0, 0.0])
