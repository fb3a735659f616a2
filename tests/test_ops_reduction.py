"""sum, mean, var, std, max/min, amax/amin, argmax/argmin: forward against NumPy, check_op."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from fastgrad import Tensor
from fastgrad.testing import check_op

# (shape, dim) with dim None (all), an int, a negative int or a tuple of dims.
CASES = [
    ((), None),
    ((), 0),
    ((4,), None),
    ((4,), 0),
    ((4,), -1),
    ((2, 3), 1),
    ((2, 3), (0, 1)),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, 0)),
    ((2, 1, 3), 1),
    ((3, 1), (1,)),
    ((0, 3), 1),
    ((2, 0), 0),
]


def _distinct(shape, rng):
    """Values with no two closer than 0.1: max/min are differentiable and tie-free there."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape) - 0.5 * n * 0.1


def _np_axis(dim):
    return tuple(dim) if isinstance(dim, list) else dim


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", CASES)
def test_sum_mean(name, shape, dim, keepdim, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    # NumPy's mean has no axis 0 for a 0-d array; PyTorch accepts dim 0 (or -1) there.
    expected = getattr(np, name)(a, axis=dim if a.ndim else None, keepdims=keepdim)
    for out in (getattr(x, name)(dim, keepdim=keepdim),
                getattr(fastgrad, name)(x, dim=dim, keepdim=keepdim),
                getattr(x, name)(axis=dim, keepdims=keepdim)):
        assert out.shape == np.shape(expected) and out.dtype == np.float64
        np.testing.assert_allclose(out.arr, expected, rtol=1e-12)
    check_op(lambda t: getattr(t, name)(dim, keepdim=keepdim), a)


def test_sum_and_mean_hand_computed_gradients():
    x = fastgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    x.mean().backward()
    np.testing.assert_allclose(x.grad.arr, np.full((2, 3), 1 / 6))
    x.grad = None
    x.mean(1).sum().backward()
    np.testing.assert_allclose(x.grad.arr, np.full((2, 3), 1 / 3))
    assert x.grad.dtype == np.float32
    x.grad = None
    (x.sum(0) * fastgrad.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std"])
@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_empty_dim_list_reduces_over_all_dims(name, dim, keepdim, rng):
    # PyTorch: dim=() or dim=[] is every dim (torch.ones(2, 3).sum(dim=()) has shape ()),
    # not none of them.
    a = _distinct((2, 3), rng)
    reference = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min,
                 "var": lambda a, keepdims: np.var(a, ddof=1, keepdims=keepdims),
                 "std": lambda a, keepdims: np.std(a, ddof=1, keepdims=keepdims)}
    expected = reference[name](a, keepdims=keepdim)
    x = Tensor(a, dtype=np.float64)
    for out in (getattr(x, name)(dim, keepdim=keepdim),
                getattr(fastgrad, name)(x, axis=dim, keepdims=keepdim)):
        assert out.shape == ((1, 1) if keepdim else ())
        np.testing.assert_allclose(out.arr, expected, rtol=1e-12)
    # The gradient is the full reduction's (for var / std: 2 (x - mean) / (n - 1), chained).
    check_op(lambda t: getattr(t, name)(dim, keepdim=keepdim), a)
    # A 0-d input: one element (the population variance of one element is 0).
    kwargs = {"correction": 0} if name in ("var", "std") else {}
    zero_d = getattr(fastgrad.tensor(2.0), name)(dim, **kwargs)
    assert zero_d.shape == () and zero_d.item() == (0.0 if kwargs else 2.0)


def test_sum_of_opposite_infinities_is_nan_without_a_warning():
    # PyTorch's sum gives nan (and inf on float32 overflow) silently; NumPy's reduce warns.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(fastgrad.tensor([np.inf, -np.inf, 1.0]).sum().item())
        big = fastgrad.tensor([3e38, 3e38]).sum()
        assert big.dtype == np.float32 and big.item() == np.inf


@st.composite
def _shape_and_dims(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1,
                         max_size=len(shape)))
    # Mix in negative spellings of the same dims.
    negative = draw(st.lists(st.booleans(), min_size=len(dims), max_size=len(dims)))
    dims = tuple(d - len(shape) if neg else d for d, neg in zip(dims, negative))
    return shape, dims


@pytest.mark.filterwarnings("ignore:Degrees of freedom <= 0:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NumPy's var of 1
@pytest.mark.parametrize("name", ["sum", "mean", "var", "amax"])
@settings(max_examples=30, deadline=None)
@given(case=_shape_and_dims(), keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_reductions_random_shapes_and_dims(name, case, keepdim, seed):
    shape, dims = case
    rng = np.random.default_rng(seed)
    a = _distinct(shape, rng)
    reference = {"sum": np.sum, "mean": np.mean, "amax": np.max,
                 "var": lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1)}
    expected = reference[name](a, axis=dims, keepdims=keepdim)
    out = getattr(Tensor(a, dtype=np.float64), name)(dims, keepdim=keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.arr, expected, rtol=1e-10)
    if name != "var" or np.prod([shape[d] for d in dims]) > 1:  # var of one element is nan
        check_op(lambda t: getattr(t, name)(dims, keepdim=keepdim), a)


# ------------------------------------------------------------------------------ var / std
@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("shape,dim", [c for c in CASES if c[0] != () and 0 not in c[0]])
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std_corrections(name, shape, dim, correction, rng):
    a = rng.standard_normal(shape)
    count = a.size if dim is None else np.prod([shape[d] for d in np.atleast_1d(dim)])
    if count <= correction:
        return  # a divisor <= 0 is checked separately below
    x = Tensor(a, dtype=np.float64)
    expected = getattr(np, name)(a, axis=dim, ddof=correction)
    out = getattr(x, name)(dim, correction=correction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.arr, expected, rtol=1e-12)
    check_op(lambda t: getattr(t, name)(dim, correction=correction, keepdim=True), a)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_unbiased_flag_and_default(name, rng):
    a = rng.standard_normal((3, 4))
    x = Tensor(a, dtype=np.float64)
    np_fn = getattr(np, name)
    # PyTorch's default is Bessel's correction (unbiased); unbiased=False is the population one.
    np.testing.assert_allclose(getattr(x, name)().arr, np_fn(a, ddof=1))
    np.testing.assert_allclose(getattr(x, name)(unbiased=False).arr, np_fn(a, ddof=0))
    np.testing.assert_allclose(getattr(x, name)(1, True).arr, np_fn(a, axis=1, ddof=1))
    np.testing.assert_allclose(getattr(x, name)(0, False, True).arr,
                               np_fn(a, axis=0, ddof=0, keepdims=True))
    np.testing.assert_allclose(getattr(fastgrad, name)(x, axis=0, keepdims=True).arr,
                               np_fn(a, axis=0, ddof=1, keepdims=True))
    with pytest.raises(TypeError, match="not both"):
        getattr(x, name)(unbiased=True, correction=1)


def test_var_hand_computed():
    # [1, 2, 3, 6]: mean 3, squared deviations 4, 1, 0, 9 -> sum 14; var 14/3 unbiased.
    x = fastgrad.tensor([1.0, 2.0, 3.0, 6.0], requires_grad=True)
    v = x.var()
    assert v.dtype == np.float32
    np.testing.assert_allclose(v.item(), 14 / 3, rtol=1e-6)
    v.backward()
    np.testing.assert_allclose(x.grad.arr, 2 * np.array([-2.0, -1.0, 0.0, 3.0]) / 3, rtol=1e-6)


def test_var_of_one_element_is_nan_like_pytorch():
    # Like PyTorch, a warning says the divisor n - correction is <= 0.
    with pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0"):
        assert np.isnan(fastgrad.tensor([2.0]).var().item())
    assert fastgrad.tensor([2.0]).var(unbiased=False).item() == 0.0


def test_std_of_constant_data_has_zero_gradient():
    # PyTorch masks d std = d var / (2 std) to 0 where std is 0, instead of 0 * inf = nan.
    x = fastgrad.tensor([[1.0, 1.0], [2.0, 3.0]], requires_grad=True)
    s = x.std(1, unbiased=False)
    np.testing.assert_array_equal(s.arr, [0.0, 0.5])
    s.sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[0.0, 0.0], [-0.5, 0.5]])


NAN, INF = np.nan, np.inf


# (name, input, kwargs, output, gradient of output.sum()) where n - correction <= 0: PyTorch's
# values. Its full reduction (no dim, or a 0-d input) gives the gradient nan where x equals the
# mean and +inf elsewhere; with a dim, 2 (x - mean) / (n - correction) is kept (2 / 0 = inf,
# a negative divisor is finite). std's is var's times 1 / (2 std): 1 / inf = 0, 0 * inf = nan.
NO_DEGREES_OF_FREEDOM = [
    ("var", [3.0], {}, NAN, [NAN]),
    ("std", [3.0], {}, NAN, [NAN]),
    ("var", 3.0, {}, NAN, NAN),
    ("std", 3.0, {"dim": 0}, NAN, NAN),
    ("var", [[1.0], [2.0]], {"dim": 1}, [NAN, NAN], [[NAN], [NAN]]),
    ("std", [[1.0], [2.0]], {"dim": 1}, [NAN, NAN], [[NAN], [NAN]]),
    ("var", [1.0, 2.0, 4.0], {"correction": 3}, INF, [INF, INF, INF]),
    ("std", [1.0, 2.0, 4.0], {"correction": 3}, INF, [NAN, NAN, NAN]),
    ("var", [2.0, 2.0, 2.0], {"correction": 3}, NAN, [NAN, NAN, NAN]),
    ("var", [1.0, 2.0, 4.0], {"dim": 0, "correction": 3}, INF, [-INF, -INF, INF]),
    ("std", [1.0, 2.0, 4.0], {"dim": 0, "correction": 3}, INF, [NAN, NAN, NAN]),
    # correction > n
    ("var", [3.0], {"correction": 2}, NAN, [NAN]),
    ("var", [1.0, 2.0, 4.0], {"correction": 4}, INF, [INF, INF, INF]),
    ("std", [1.0, 2.0, 4.0], {"correction": 4}, INF, [NAN, NAN, NAN]),
    ("var", [1.0, 2.0, 4.0], {"dim": 0, "correction": 4}, INF, [8 / 3, 2 / 3, -10 / 3]),
    ("std", [1.0, 2.0, 4.0], {"dim": 0, "correction": 4}, INF, [0.0, 0.0, 0.0]),
    ("var", [[1.0, 2.0], [4.0, 4.0]], {"dim": 1, "correction": 2}, [INF, NAN],
     [[-INF, INF], [NAN, NAN]]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,value,kwargs,expected,expected_grad", NO_DEGREES_OF_FREEDOM)
def test_var_std_without_degrees_of_freedom(name, value, kwargs, expected, expected_grad, dtype):
    x = fastgrad.tensor(value, dtype=dtype, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0"):  # PyTorch warns too
        out = getattr(x, name)(**kwargs)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.arr, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ZeroDivisionError, no NumPy warning
        out.sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.arr, expected_grad, rtol=1e-6)


def test_var_std_of_no_degrees_of_freedom_correction_zero_is_exact():
    # correction=0 of one element: 0, gradient 0 (std masks 1 / (2 * 0)), and no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("var", "std"):
            x = fastgrad.tensor([3.0], requires_grad=True)
            out = getattr(x, name)(correction=0)
            out.backward()
            assert out.item() == 0.0 and x.grad.tolist() == [0.0]


@pytest.mark.parametrize("dim", [None, 0])
def test_float32_var_std_do_not_overflow_or_underflow(dim):
    # The squared deviations (1e60, 4e-60) are out of float32's range; PyTorch's std is finite.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = fastgrad.tensor([1e30, -1e30, 3.0, 1e-30], requires_grad=True)
        s = x.std(dim)
        assert s.dtype == np.float32
        mean = (3.0 + 1e-30) / 4
        centered = np.array([1e30, -1e30, 3.0, 1e-30]) - mean
        expected = np.sqrt(np.sum(centered ** 2) / 3)  # 8.1649658e29
        np.testing.assert_allclose(s.item(), expected, rtol=1e-6)
        s.backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_allclose(x.grad.arr, centered / (3 * expected), rtol=1e-5)
        # Its variance, 6.7e59, is beyond float32: inf, as in PyTorch.
        assert x.var(dim).item() == np.inf
        tiny = fastgrad.tensor([1e-30, -1e-30, 3e-30])
        np.testing.assert_allclose(tiny.std(dim).item(), 2e-30, rtol=1e-6)


# -------------------------------------------------------------------------------- max / min
@pytest.mark.parametrize("name,np_fn,np_arg", [("max", np.max, np.argmax),
                                               ("min", np.min, np.argmin)])
@pytest.mark.parametrize("shape,dim", [((4,), 0), ((4,), -1), ((2, 3), 1), ((2, 3), 0),
                                       ((2, 3, 4), 1), ((2, 1, 3), -2), ((0, 3), 1), ((), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim(name, np_fn, np_arg, shape, dim, keepdim, rng):
    a = _distinct(shape, rng)
    x = Tensor(a, dtype=np.float64)
    result = getattr(x, name)(dim, keepdim=keepdim)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert type(result).__name__ == name
    np.testing.assert_array_equal(values.arr, np_fn(a, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.arr, np_arg(a, axis=dim, keepdims=keepdim))
    assert indices.dtype == np.int64 and not indices.requires_grad
    same = getattr(fastgrad, name)(x, dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(same.values.arr, values.arr)
    by_axis = getattr(x, name)(axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(by_axis.indices.arr, indices.arr)
    check_op(lambda t: getattr(t, name)(dim, keepdim=keepdim).values, a)
    check_op(lambda t: getattr(t, name)(dim, keepdim=keepdim), a)  # tuple output


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_full_reduction(name, shape, rng):
    a = _distinct(shape, rng)
    out = getattr(Tensor(a, dtype=np.float64), name)()
    assert out.shape == ()
    assert out.item() == (a.max() if "max" in name else a.min())
    check_op(lambda t: getattr(t, name)(), a)


@pytest.mark.parametrize("name,np_fn", [("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("shape,dim", [c for c in CASES if c[1] is not None])
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin(name, np_fn, shape, dim, keepdim, rng):
    a = _distinct(shape, rng)
    x = Tensor(a, dtype=np.float64)
    out = getattr(x, name)(dim, keepdim=keepdim)
    np.testing.assert_array_equal(out.arr, np_fn(a, axis=dim, keepdims=keepdim))
    by_axis = getattr(fastgrad, name)(x, axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(by_axis.arr, out.arr)
    check_op(lambda t: getattr(t, name)(dim, keepdim=keepdim), a)


def test_ties_share_the_gradient_evenly():
    # As PyTorch's amax/amin and full max()/min(): each tied extremum gets grad / count.
    x = fastgrad.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.arr, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()
    np.testing.assert_allclose(x.grad.arr, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.amin((0, 1)).backward()
    np.testing.assert_allclose(x.grad.arr, [[1.0, 0, 0], [0, 0, 0]])
    x.grad = None
    x.min().backward()
    np.testing.assert_allclose(x.grad.arr, [[1.0, 0, 0], [0, 0, 0]])
    assert x.grad.dtype == np.float32


def test_max_with_dim_sends_the_gradient_to_the_returned_index():
    x = fastgrad.tensor([[1.0, 3.0, 3.0], [5.0, 2.0, 5.0]], requires_grad=True)
    values, indices = x.max(1)
    values.sum().backward()
    expected = np.zeros((2, 3), dtype=np.float32)
    expected[[0, 1], indices.arr] = 1.0
    np.testing.assert_array_equal(x.grad.arr, expected)
    assert x.grad.arr.sum() == 2.0


def test_max_min_on_integers():
    i = fastgrad.tensor([[3, 1], [2, 7]])
    assert i.max().item() == 7 and i.min().item() == 1
    assert i.max(0).values.tolist() == [3, 7] and i.max(0).indices.tolist() == [0, 1]
    assert i.amin(1).tolist() == [1, 2]


def test_max_rejects_tuple_dims():
    with pytest.raises(TypeError, match="single int dim"):
        fastgrad.tensor([[1.0]]).max((0, 1))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_nan_route_the_gradient_to_the_nan(name):
    # PyTorch: NaN is the result, and the gradient goes to the NaN elements (shared evenly).
    x = fastgrad.tensor([1.0, np.nan, 0.5], requires_grad=True)
    out = getattr(x, name)()
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 1.0, 0.0])
    x = fastgrad.tensor([[1.0, np.nan], [0.5, np.nan]], requires_grad=True)
    getattr(x, name)().backward()
    np.testing.assert_array_equal(x.grad.arr, [[0.0, 0.5], [0.0, 0.5]])
    # With dim: the index (and the gradient) of the first NaN of each slice.
    x = fastgrad.tensor([[1.0, np.nan, 0.5, np.nan], [1.0, 2.0, 3.0, 4.0]], requires_grad=True)
    values, indices = getattr(x, name)(1)
    np.testing.assert_array_equal(values.arr, [np.nan, 4.0 if name == "max" else 1.0])
    np.testing.assert_array_equal(indices.arr, [1, 3 if name == "max" else 0])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[0, 1, 0, 0], [0, 0, 0, 1] if name == "max"
                                               else [1, 0, 0, 0]])


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_gradient_is_nan_on_a_nan_slice(name):
    # PyTorch's amax / amin backward is grad / count * (x == result): no element equals a NaN
    # result, so that slice's gradient is 0 / 0 = NaN; other slices are unaffected.
    x = fastgrad.tensor([[1.0, np.nan, 0.5], [1.0, 2.0, 3.0]], requires_grad=True)
    out = getattr(x, name)(1)
    np.testing.assert_array_equal(out.arr, [np.nan, 3.0 if name == "amax" else 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out.sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[np.nan] * 3, [0, 0, 1] if name == "amax"
                                               else [1, 0, 0]])
    assert x.grad.dtype == np.float32
    x.grad = None
    getattr(x, name)().backward()
    assert np.isnan(x.grad.arr).all()


@pytest.mark.parametrize("name", ["amax", "amin", "max", "min", "argmax", "argmin"])
def test_empty_inputs_as_pytorch(name):
    indexed = name in ("max", "min")

    def values(result):
        return result.values if indexed else result

    # Reducing a non-empty dim of an empty tensor gives an empty result.
    x = fastgrad.ones(0, 3, requires_grad=name not in ("argmax", "argmin"))
    out = getattr(x, name)(1)
    assert values(out).shape == (0,)
    assert values(out).dtype == (np.int64 if name.startswith("arg") else np.float32)
    if indexed:
        assert out.indices.shape == (0,) and out.indices.dtype == np.int64
    assert values(getattr(x, name)(-1, keepdim=True)).shape == (0, 1)
    assert values(getattr(fastgrad.ones(2, 0, 3), name)(0)).shape == (0, 3)
    if x.requires_grad:
        values(out).sum().backward()
        assert x.grad.shape == (0, 3)
    # Reducing a dim of size 0 is an IndexError, as PyTorch's; and so is an arg without dim.
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        getattr(x, name)(0)
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        getattr(fastgrad.ones(3, 0), name)(1)
    full_error = IndexError if name.startswith("arg") else RuntimeError
    with pytest.raises(full_error, match="Expected reduction dim to be specified"):
        getattr(fastgrad.ones(0), name)()
    if name in ("amax", "amin"):
        with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
            getattr(x, name)((1, 0))
        with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
            getattr(x, name)(())


# ------------------------------------------------------------------------------ argmax / min
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("shape,dim", [((5,), None), ((2, 3), None), ((2, 3), 0), ((2, 3), -1),
                                       ((2, 3, 4), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(name, shape, dim, keepdim, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, requires_grad=True)
    out = getattr(x, name)(dim, keepdim=keepdim)
    if dim is None:
        expected = getattr(np, name)(a)
        if keepdim:
            expected = np.reshape(expected, (1,) * len(shape))
    else:
        expected = getattr(np, name)(a, axis=dim, keepdims=keepdim)
    assert out.dtype == np.int64
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.arr, expected)
    # No gradient: an index is not differentiable.
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_array_equal(getattr(fastgrad, name)(x, dim, keepdim).arr, out.arr)


# ----------------------------------------------------------------------------------- dtypes
def test_integer_and_bool_sums_are_int64():
    assert fastgrad.tensor([1, 2, 3], dtype=fastgrad.int32).sum().dtype == np.int64
    b = fastgrad.tensor([True, False, True]).sum()
    assert b.dtype == np.int64 and b.item() == 2


def test_sum_dtype_argument():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    s = x.sum(dtype=fastgrad.float64)
    assert s.dtype == np.float64
    s.backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_integer_mean_var_std_are_errors(name):
    with pytest.raises(RuntimeError, match="Got: int64"):
        getattr(fastgrad.tensor([1, 2, 3]), name)()


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin"])
def test_float32_reductions_stay_float32(name):
    x = fastgrad.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    out = getattr(x, name)(0)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_repeated_dims_are_an_error():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        fastgrad.ones(2, 3).sum((1, -1))


def test_both_spellings_at_once_is_an_error():
    with pytest.raises(TypeError, match="both dim= and axis="):
        fastgrad.ones(2, 3).sum(0, axis=1)


def test_changing_std_in_place_before_its_backward_raises():
    # its backward reads the output: a silent wrong gradient otherwise
    x = fastgrad.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = x.std()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
