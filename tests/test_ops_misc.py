"""cat / stack, where, softmax / log_softmax / logsumexp, dtype casts, comparisons."""
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


# ------------------------------------------------------------------------------ cat / stack
@pytest.mark.parametrize("shapes,dim", [
    ([(2,), (3,)], 0),
    ([(2, 3), (1, 3), (4, 3)], 0),
    ([(2, 3), (2, 1)], 1),
    ([(2, 3), (2, 2)], -1),
    ([(2, 1, 4), (2, 3, 4)], 1),
    ([(2, 3)], 0),
    ([(0, 3), (2, 3)], 0),
])
def test_cat(shapes, dim, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    tensors = [Tensor(a, dtype=np.float64) for a in arrays]
    expected = np.concatenate(arrays, axis=dim)
    for out in (fastgrad.cat(tensors, dim), fastgrad.cat(tuple(tensors), dim=dim),
                fastgrad.concatenate(tensors, axis=dim)):
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.arr, expected)
    check_op(lambda *ts: fastgrad.cat(ts, dim), *arrays)


def test_cat_gradient_is_split_back():
    a = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    b = fastgrad.tensor([3.0], requires_grad=True)
    c = fastgrad.tensor([4.0, 5.0])  # a constant among the pieces
    (fastgrad.cat([a, c, b]) * fastgrad.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.arr, [1.0, 2.0])
    np.testing.assert_array_equal(b.grad.arr, [5.0])
    assert c.grad is None


@pytest.mark.parametrize("shape,dim", [((3,), 0), ((3,), 1), ((3,), -1), ((2, 3), 1),
                                       ((2, 3), -1), ((), 0), ((0, 2), 1)])
def test_stack(shape, dim, rng):
    arrays = [rng.standard_normal(shape) for _ in range(3)]
    tensors = [Tensor(a, dtype=np.float64) for a in arrays]
    expected = np.stack(arrays, axis=dim)
    out = fastgrad.stack(tensors, dim)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.arr, expected)
    np.testing.assert_array_equal(fastgrad.stack(tensors, axis=dim).arr, expected)
    check_op(lambda *ts: fastgrad.stack(ts, dim), *arrays)


def test_cat_and_stack_errors():
    with pytest.raises(RuntimeError, match="Expected size 3 but got size 2 for tensor number 1"):
        fastgrad.cat([fastgrad.ones(2, 3), fastgrad.ones(2, 2)], 0)
    with pytest.raises(RuntimeError, match="same number of dimensions: got 2 and 1"):
        fastgrad.cat([fastgrad.ones(2, 3), fastgrad.ones(3)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        fastgrad.cat([fastgrad.ones(()), fastgrad.ones(())])
    with pytest.raises(RuntimeError, match=r"equal size, but got \(2, 3\) at entry 0 and \(3, 2\)"):
        fastgrad.stack([fastgrad.ones(2, 3), fastgrad.ones(3, 2)])
    with pytest.raises(IndexError, match="got 2"):
        fastgrad.cat([fastgrad.ones(2, 3)], 2)
    with pytest.raises(TypeError, match="list or tuple"):
        fastgrad.cat(fastgrad.ones(2))
    with pytest.raises(RuntimeError, match="non-empty"):
        fastgrad.stack([])
    with pytest.raises(ValueError, match="non-empty"):  # PyTorch's class for cat
        fastgrad.cat([])
    with pytest.raises(RuntimeError, match="zero-dimensional"):  # before the dim is checked
        fastgrad.cat([fastgrad.ones(()), fastgrad.ones(())], 1)


@pytest.mark.parametrize("dtypes,expected", [
    ((np.int64, np.float32), np.float32),    # NumPy would give float64
    ((np.int32, np.float16), np.float16),
    ((np.float32, np.float64), np.float64),
    ((np.uint8, np.int8), np.int16),
    ((np.bool_, np.int64), np.int64),
])
def test_cat_and_stack_promote_as_pytorch(dtypes, expected):
    parts = [fastgrad.tensor([1, 0], dtype=d) for d in dtypes]
    assert fastgrad.cat(parts).dtype == expected
    assert fastgrad.stack(parts).dtype == expected
    assert fastgrad.cat(parts).tolist() == [1, 0, 1, 0]


def test_cat_of_mixed_float_dtypes_sends_each_its_own_gradient_dtype():
    a = fastgrad.tensor([1.0], dtype=fastgrad.float32, requires_grad=True)
    b = fastgrad.tensor([2.0, 3.0], dtype=fastgrad.float64, requires_grad=True)
    (fastgrad.cat([a, b]) * fastgrad.tensor([4.0, 5.0, 6.0], dtype=fastgrad.float64)).sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [4.0]
    assert b.grad.dtype == np.float64 and b.grad.tolist() == [5.0, 6.0]


# ------------------------------------------------------------------------------------ where
@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_where_random_broadcast(shapes, seed):
    rng = np.random.default_rng(seed)
    c_shape, x_shape, y_shape = shapes.input_shapes
    cond = rng.random(c_shape) < 0.5
    a, b = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    out = fastgrad.where(Tensor(cond), Tensor(a, dtype=np.float64), Tensor(b, dtype=np.float64))
    assert out.shape == shapes.result_shape
    np.testing.assert_array_equal(out.arr, np.where(cond, a, b))
    check_op(lambda x, y: fastgrad.where(cond, x, y), a, b)


def test_where_hand_computed_gradient_and_scalars():
    x = fastgrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    out = fastgrad.where(x > 0, x, 0.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.arr, [1.0, 0.0, 3.0])
    (out * fastgrad.tensor([2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [2.0, 0.0, 4.0])
    y = fastgrad.tensor([5.0], requires_grad=True)  # broadcast: its gradient sums the picks
    fastgrad.where(np.array([True, False, False]), 1.0, y).sum().backward()
    np.testing.assert_array_equal(y.grad.arr, [2.0])


def test_where_needs_a_bool_condition():
    with pytest.raises(RuntimeError, match="boolean tensor.*int64"):  # PyTorch's class
        fastgrad.where(fastgrad.tensor([1, 0]), 1.0, 2.0)


# -------------------------------------------------------------------------------- softmax
def _np_log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((5,), -1), ((3, 4), 1), ((3, 4), 0),
                                       ((2, 3, 4), 1), ((2, 1, 3), 1), ((), 0), ((0, 3), 1)])
def test_softmax_log_softmax(shape, dim, rng):
    a = rng.standard_normal(shape) * 3
    x = Tensor(a, dtype=np.float64)
    log_expected = _np_log_softmax(a, dim) if a.ndim else np.zeros(())
    for out in (x.softmax(dim), fastgrad.softmax(x, dim)):
        np.testing.assert_allclose(out.arr, np.exp(log_expected), rtol=1e-12)
    for out in (x.log_softmax(dim), fastgrad.log_softmax(x, dim)):
        np.testing.assert_allclose(out.arr, log_expected, rtol=1e-12, atol=1e-14)
    if a.ndim:
        np.testing.assert_allclose(x.softmax(dim).arr.sum(axis=dim), 1.0)
    check_op(lambda t: t.softmax(dim), a)
    check_op(lambda t: t.log_softmax(dim), a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_log_softmax_are_stable_at_1e4(dtype):
    x = fastgrad.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4, -1e4 + 1]], dtype=dtype,
                        requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = x.softmax(1)
        ls = x.log_softmax(1)
        (s.sum() + ls.sum()).backward()
    assert s.dtype == dtype and ls.dtype == dtype
    np.testing.assert_allclose(s.arr[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(s.arr[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(ls.arr[0], [0.0, -1e4, -2e4], rtol=1e-6)
    np.testing.assert_allclose(ls.arr[1], [-np.log(3)] * 3, rtol=1e-6)
    assert np.all(np.isfinite(ls.arr)) and np.all(np.isfinite(x.grad.arr))


def test_logsumexp(rng):
    a = rng.standard_normal((3, 4)) * 5
    x = Tensor(a, dtype=np.float64)
    expected = np.log(np.exp(a).sum(axis=1))
    np.testing.assert_allclose(x.logsumexp(1).arr, expected)
    np.testing.assert_allclose(fastgrad.logsumexp(x, 0, keepdim=True).arr,
                               np.log(np.exp(a).sum(axis=0, keepdims=True)))
    np.testing.assert_allclose(fastgrad.tensor([1e4, 1e4]).logsumexp(0).item(), 1e4 + np.log(2))
    check_op(lambda t: t.logsumexp(1), a)
    check_op(lambda t: t.logsumexp((0, 1)), a)


@pytest.mark.parametrize("values,expected,grad", [
    ([np.inf, 1.0], np.inf, [np.nan, 0.0]),           # PyTorch's values and gradients
    ([-np.inf, -np.inf], -np.inf, [np.nan, np.nan]),
    ([np.inf, -np.inf], np.inf, [np.nan, 0.0]),
    ([-np.inf, 1.0], 1.0, [0.0, 1.0]),
])
def test_logsumexp_with_infinities(values, expected, grad):
    x = fastgrad.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy warning either
        out = x.logsumexp(0)
        out.backward()
    assert out.item() == expected
    np.testing.assert_array_equal(x.grad.arr, grad)


def test_logsumexp_of_an_empty_dim_is_minus_inf_and_needs_a_dim():
    out = fastgrad.ones(0, 3).logsumexp(0)
    assert out.shape == (3,) and np.all(out.arr == -np.inf)
    with pytest.raises(RuntimeError, match="at least one dimension"):
        fastgrad.ones(2, 3).logsumexp(())


def test_softmax_of_integers_is_float32():
    assert fastgrad.tensor([1, 2, 3]).softmax(0).dtype == np.float32


# ---------------------------------------------------------------------------------- casts
@pytest.mark.parametrize("method,dtype", [("float", np.float32), ("double", np.float64),
                                          ("half", np.float16), ("long", np.int64),
                                          ("int", np.int32), ("bool", np.bool_)])
def test_cast_methods(method, dtype):
    x = fastgrad.tensor([0.0, 1.5, -2.5])
    out = getattr(x, method)()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.arr, x.arr.astype(dtype))


def test_to_and_astype():
    x = fastgrad.tensor([1.0, 2.0])
    assert x.to(fastgrad.float64).dtype == np.float64
    assert x.to("float64").dtype == np.float64
    assert x.astype(np.int16).dtype == np.int16
    assert x.to("cpu") is x and x.to() is x
    assert x.to(fastgrad.float32) is x and x.float() is x  # already that dtype: no copy
    assert x.type() == "fastgrad.float32"
    assert x.type(fastgrad.float64).dtype == np.float64
    with pytest.raises(TypeError, match="not a dtype"):
        x.to("not-a-dtype")
    # PyTorch's other forms: (device, dtype), keywords, another tensor's dtype, copy
    assert x.to("cpu", fastgrad.float64).dtype == np.float64
    assert x.to(device="cpu:0", dtype=fastgrad.float16).dtype == np.float16
    assert x.to(fastgrad.zeros(1, dtype=fastgrad.int32)).dtype == np.int32
    assert x.to(None, fastgrad.float64).dtype == np.float64
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.dtype == x.dtype and copied.tolist() == x.tolist()
    copied.arr[0] = 7
    assert x.tolist() == [1.0, 2.0]
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        x.to("cuda")  # as a CPU-only PyTorch
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        x.to(fastgrad.device("cuda", 0))
    with pytest.raises(RuntimeError, match="CPU only; cannot move to 'mps'"):
        x.to("mps")


@pytest.mark.parametrize("src,dst", [(np.float64, np.float32), (np.float32, np.float64),
                                     (np.float64, np.float16)])
def test_float_casts_are_differentiable(src, dst):
    x = fastgrad.tensor([1.0, 2.0, 3.0], dtype=src, requires_grad=True)
    for y in (x.to(dst), x.astype(dst), fastgrad.astype(x, dst)):
        assert y.dtype == dst and y.requires_grad and y.grad_fn is not None
        (y * fastgrad.tensor([1.0, 2.0, 4.0], dtype=dst)).sum().backward()
        assert x.grad.dtype == src  # the gradient has its input's dtype
        np.testing.assert_array_equal(x.grad.arr, [1.0, 2.0, 4.0])
        x.grad = None


def test_cast_gradcheck():
    # A float32 round trip is too coarse for eps = 1e-6: use a wide step (the map is linear).
    check_op(lambda t: t.float().double() * 2, [0.5, 1.25, -3.0], eps=1e-2, atol=1e-4,
             check_dtype=False)  # a cast to float64 by design


def test_casts_to_integer_or_bool_have_no_gradient():
    x = fastgrad.tensor([1.2, 2.7], requires_grad=True)
    for out in (x.long(), x.int(), x.bool(), x.to(fastgrad.int64)):
        assert out.grad_fn is None and not out.requires_grad
    assert x.long().tolist() == [1, 2]


# ---------------------------------------------------------------------------- comparisons
COMPARISONS = [("eq", operator.eq, np.equal), ("ne", operator.ne, np.not_equal),
               ("lt", operator.lt, np.less), ("le", operator.le, np.less_equal),
               ("gt", operator.gt, np.greater), ("ge", operator.ge, np.greater_equal)]


@pytest.mark.parametrize("name,op,np_op", COMPARISONS)
def test_comparisons(name, op, np_op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x = Tensor(a, requires_grad=True)
    y = Tensor(b)
    for out, expected in ((op(x, y), np_op(a, b)), (getattr(x, name)(y), np_op(a, b)),
                          (getattr(fastgrad, name)(x, y), np_op(a, b)),
                          (op(x, 2.0), np_op(a, 2.0)), (op(2.0, x), np_op(2.0, a)),
                          (op(b, x), np_op(b, a))):
        assert isinstance(out, Tensor) and out.dtype == np.bool_
        np.testing.assert_array_equal(out.arr, expected)
        assert out.grad_fn is None and not out.requires_grad  # comparisons have no gradient


def test_comparing_with_a_non_number_falls_back_like_pytorch():
    x = fastgrad.tensor([1.0, 2.0])
    assert (x == None) is False  # noqa: E711 (the operator itself is under test)
    assert (x != "a") is True
    with pytest.raises(TypeError, match="'<' not supported"):
        x < None
    with pytest.raises(TypeError, match="NoneType"):
        fastgrad.eq(x, None)  # the function form has no fallback


def test_comparison_broadcast_error_names_the_shapes():
    with pytest.raises(RuntimeError, match=r"\(2,\) and \(3,\)"):
        fastgrad.ones(2) == fastgrad.ones(3)


def test_bool_subtraction_and_negation_are_refused_as_in_pytorch():
    mask = fastgrad.tensor([True, False])
    for expr in (lambda: mask - mask, lambda: mask - 1, lambda: 1 - mask):
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor"):
            expr()
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, with a bool tensor"):
        -mask
    assert (fastgrad.tensor([3, 4]) - 1).tolist() == [2, 3]  # ints are fine


def test_logical_helpers():
    x = fastgrad.tensor([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(x.isnan().arr, [False, True, False])
    np.testing.assert_array_equal(fastgrad.isnan(x).arr, [False, True, False])
    m = fastgrad.tensor([True, False])
    np.testing.assert_array_equal((~m).arr, [False, True])
    np.testing.assert_array_equal(fastgrad.logical_not(m).arr, [False, True])
    # ~ is PyTorch's bitwise_not: bitwise on integers, refused on floats
    assert (~fastgrad.tensor([1, -3, 0])).tolist() == [-2, 2, -1]
    inverted = ~fastgrad.tensor([0, 5], dtype=fastgrad.uint8)
    assert inverted.dtype == np.uint8 and inverted.tolist() == [255, 250]
    assert fastgrad.bitwise_not(fastgrad.tensor([True])).tolist() == [False]
    with pytest.raises(TypeError, match="only implemented on integer and bool tensors, got dtype float32"):
        ~fastgrad.tensor([1.0])
    assert fastgrad.equal(fastgrad.tensor([1, 2]), fastgrad.tensor([1, 2])) is True
    assert fastgrad.tensor([1, 2]).equal(fastgrad.tensor([[1, 2]])) is False  # shapes differ
    assert fastgrad.allclose(fastgrad.tensor([1.0]), fastgrad.tensor([1.0 + 1e-7]))
    assert not fastgrad.tensor([1.0]).allclose(fastgrad.tensor([1.1]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_an_empty_tensor_is_empty(name):
    x = fastgrad.zeros(0, 3, requires_grad=True)
    for dim in (0, 1):
        y = getattr(x, name)(dim)
        assert y.shape == (0, 3)
        y.sum().backward()
        assert x.grad.shape == (0, 3)
