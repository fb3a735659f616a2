"""gather / scatter and the index_* / masked_* / take ops: the op contract (gradcheck and
gradgradcheck in float64, 0-d / empty / size-1 shapes), NumPy oracles on random shapes,
errors before any bad read. (PyTorch's own values and gradients: test_indexsort_torch.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
from fastgrad.testing import check_op

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
INDEX = fastgrad.tensor([[0, 2, 1, 2], [1, 1, 0, 0]])


def _f64(values):
    return fastgrad.tensor(values, dtype=fastgrad.float64)


def _long(values):
    return fastgrad.tensor(np.asarray(values, dtype=np.int64))


def test_gather_contract():
    check_op(lambda x: fastgrad.gather(x, 0, INDEX), X)
    check_op(lambda x: x.gather(1, _long([[3, 3], [0, 1], [2, 0]])), X)
    check_op(lambda x: fastgrad.gather(x, 0, _long(0)), np.array(1.5))  # 0-d
    check_op(lambda x: fastgrad.gather(x, 0, _long(np.zeros((0, 4)))), X)  # empty index
    check_op(lambda x: fastgrad.gather(x, 1, _long([[0]])), X[:1, :1])  # size 1


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_contract(reduce, include_self):
    index = _long([[0, 2, 1, 2], [0, 0, 1, 1]])
    x, src = X, RNG.standard_normal((2, 4))  # distinct values: extrema are not tied
    if reduce == "prod":  # zeros in self and src
        x, src = X.copy(), src.copy()
        x[0, 0], src[1, 0], src[0, 1], src[1, 1] = 0, 0, 0, 0  # (0, 0): a zero of each

    def op(a, b):
        return a.scatter_reduce(0, index, b, reduce, include_self=include_self)

    check_op(op, x, src)
    check_op(lambda a, b: fastgrad.scatter_reduce(a, 0, _long(0), b, reduce,
                                                  include_self=include_self),
             np.array(1.5), np.array(-0.5))


def test_scatter_reduce_prod_refuses_a_wrong_second_derivative():
    # two zeros of src reduced into one place: PyTorch's double backward raises there
    x = fastgrad.tensor(X, dtype=fastgrad.float64, requires_grad=True)
    src = fastgrad.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 1.0, 1.0]], dtype=fastgrad.float64,
                          requires_grad=True)
    out = x.scatter_reduce(0, _long([[0, 2, 1, 2], [0, 0, 1, 1]]), src, "prod")
    grad_src, = fastgrad.autograd.grad(out.sum(), [src], create_graph=True)
    np.testing.assert_array_equal(grad_src.arr[:, 0], [0.0, 0.0])  # first order: right
    with pytest.raises(RuntimeError, match="Double backward"):
        grad_src.sum().backward()


def test_scatter_forms_contract():
    src = RNG.standard_normal((2, 4))
    index = _long([[0, 2, 1, 2], [1, 0, 0, 1]])  # no place twice: the value written is defined
    check_op(lambda x, s: fastgrad.scatter(x, 0, index, s), X, src)
    check_op(lambda x: x.scatter(0, index, 2.5), X)
    check_op(lambda x: x.scatter(0, index, value=-1.0), X)
    check_op(lambda x, s: x.scatter(0, INDEX, s, reduce="add"), X, src)
    check_op(lambda x, s: x.scatter_add(1, _long([[0, 0], [3, 3], [1, 2]]), s), X,
             RNG.standard_normal((3, 2)))


def test_index_and_masked_ops_contract():
    mask = fastgrad.tensor(RNG.random((3, 4)) > 0.5)
    check_op(lambda x: x.index_select(1, _long([3, 0, 0])), X)
    check_op(lambda x: x.index_select(0, _long([])), X)
    check_op(lambda x: fastgrad.index_select(x, 0, _long(0)), np.array(2.0))
    check_op(lambda x, s: x.index_add(1, _long([3, 0, 0]), s, alpha=2), X,
             RNG.standard_normal((3, 3)))
    check_op(lambda x: x.index_fill(1, _long([3, 0]), -1.0), X)
    check_op(lambda x, v: x.index_fill(0, _long([1]), v), X, np.array(0.25))
    check_op(lambda x: x.masked_fill(mask, 3.0), X, extra_shapes=[((1, 4),)])
    check_op(lambda x, v: x.masked_fill(mask, v), X, np.array(0.25))
    check_op(lambda x: x.masked_select(mask), X, extra_shapes=[((4,),), ((1, 1),)])
    check_op(lambda x, s: x.masked_scatter(mask, s), X, RNG.standard_normal(12))
    check_op(lambda x: x.take(_long([[0, -1], [5, 5]])), X)
    check_op(lambda x: fastgrad.take(x, _long([])), X)
    check_op(lambda x: fastgrad.take_along_dim(x, _long([[0], [2], [1]]), 1), X)
    check_op(lambda x: fastgrad.take_along_dim(x, _long([[0, 1, 0, 2]]), 0), X)  # broadcast
    check_op(lambda x: fastgrad.take_along_dim(x, _long([11, 0])), X)


def test_scatter_and_gather_backwards_are_each_other():
    # d/dx of gather is a scatter_add of the gradient; d/dsrc of scatter_add is a gather
    x = fastgrad.tensor(X, dtype=fastgrad.float64, requires_grad=True)
    g = RNG.standard_normal((2, 4))
    fastgrad.gather(x, 0, INDEX).backward(_f64(g))
    np.testing.assert_allclose(x.grad.arr, fastgrad.zeros(3, 4, dtype=fastgrad.float64)
                               .scatter_add(0, INDEX, _f64(g)).arr)
    src = fastgrad.tensor(g, dtype=fastgrad.float64, requires_grad=True)
    gy = RNG.standard_normal((3, 4))
    fastgrad.zeros(3, 4, dtype=fastgrad.float64).scatter_add(0, INDEX, src).backward(
        _f64(gy))
    np.testing.assert_allclose(src.grad.arr, np.take_along_axis(gy, INDEX.arr, 0))


def test_changing_the_index_after_the_forward_does_not_change_the_gradient():
    x = fastgrad.tensor(X, dtype=fastgrad.float64, requires_grad=True)
    index = _long([[0, 2, 1, 2], [1, 1, 0, 0]])
    out = fastgrad.gather(x, 0, index)
    index[...] = 0
    out.backward(fastgrad.ones(2, 4, dtype=fastgrad.float64))
    np.testing.assert_array_equal(x.grad.arr, [[1, 0, 1, 1], [1, 1, 1, 0], [0, 1, 0, 1]])


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_gather_and_scatter_add_match_numpy(shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    index_shape = [data.draw(st.integers(0, s)) for s in shape]
    index_shape[dim] = data.draw(st.integers(0, 5))
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    index = rng.integers(0, shape[dim], index_shape)
    got = fastgrad.gather(_f64(x), dim, fastgrad.tensor(index)).arr
    region = tuple(slice(0, s) if d != dim else slice(None) for d, s in enumerate(index_shape))
    np.testing.assert_array_equal(got, np.take_along_axis(x[region], index, dim))
    src = rng.standard_normal(index_shape)
    expected = x.copy()
    grid = list(np.indices(index_shape, sparse=True))
    grid[dim] = index
    np.add.at(expected, tuple(grid), src)
    got = fastgrad.scatter_add(_f64(x), dim, fastgrad.tensor(index), _f64(src)).arr
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(0, 12), seed=st.integers(0, 2**16),
       reduce=st.sampled_from(["prod", "amax", "amin"]), include_self=st.booleans())
def test_scatter_reduce_kernel_matches_ufunc_at(n, m, seed, reduce, include_self):
    rng = np.random.default_rng(seed)
    x, src = rng.integers(-3, 4, n).astype(np.float64), rng.integers(-3, 4, m).astype(np.float64)
    index = rng.integers(0, n, m)
    ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    expected = x.copy()
    if not include_self:
        expected[index] = {"prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
    ufunc.at(expected, index, src)
    got = fastgrad.scatter_reduce(_f64(x), 0, fastgrad.tensor(index), _f64(src), reduce,
                                  include_self=include_self)
    np.testing.assert_array_equal(got.arr, expected)


@pytest.mark.parametrize("call, error, words", [
    (lambda x: x.gather(0, _long([[3, 0, 0, 0]])), RuntimeError, "index 3 is out of bounds"),
    (lambda x: x.gather(0, _long([[-1, 0, 0, 0]])), RuntimeError, "index -1 is out of bounds"),
    (lambda x: x.gather(0, fastgrad.tensor([[0.0]])), RuntimeError, "int32 or int64"),
    (lambda x: x.gather(1, _long([0, 1])), RuntimeError, "same number of dimensions"),
    (lambda x: x.gather(0, _long(np.zeros((2, 5)))), RuntimeError, "[2, 5]"),
    (lambda x: x.scatter(0, _long([[3, 0, 0, 0]]), 1.0), RuntimeError, "index 3"),
    (lambda x: x.scatter(0, INDEX, x.double()[:2] * 0 + 1, reduce="max"), RuntimeError,
     "add or multiply"),
    (lambda x: x.scatter_reduce(0, INDEX, x, "avg"), RuntimeError, "got avg"),
    (lambda x: x.scatter_add(0, _long([[0, 9, 0, 0]]), x), RuntimeError, "index 9"),
    (lambda x: x.index_select(1, _long([4])), RuntimeError, "index 4"),
    (lambda x: x.index_select(1, _long([[1]])), IndexError, "vector"),
    (lambda x: x.index_fill(0, _long([3]), 1.0), IndexError, "index 3"),
    (lambda x: x.index_add(1, _long([0, 9]), fastgrad.ones(3, 2)), RuntimeError, "index 9"),
    (lambda x: x.masked_fill(fastgrad.tensor([1, 0, 0, 1]), 0.0), RuntimeError, "boolean"),
    (lambda x: x.masked_scatter(x > -10, fastgrad.zeros(3)), RuntimeError, "source"),
    (lambda x: x.take(_long([12])), IndexError, "index 12 on a tensor of 12"),
    (lambda x: fastgrad.take_along_dim(x, _long([[4], [0], [0]]), 1), RuntimeError, "index 4"),
])
def test_bad_indices_raise_before_any_read(call, error, words):
    x = fastgrad.tensor(X.astype(np.float32))
    with pytest.raises(error) as info:
        call(x)
    assert words in str(info.value)


@pytest.mark.parametrize("name, args", [
    ("scatter", (0, INDEX, 2.0)),
    ("scatter_add", (0, INDEX, fastgrad.ones(2, 4, dtype=fastgrad.float64))),
    ("scatter_reduce", (0, INDEX, fastgrad.ones(2, 4, dtype=fastgrad.float64), "amax")),
    ("index_add", (1, _long([0, 0]), fastgrad.ones(3, 2, dtype=fastgrad.float64))),
    ("index_fill", (1, _long([0, 3]), -1.0)),
    ("masked_fill", (fastgrad.tensor(X > 0), 0.0)),
    ("masked_scatter", (fastgrad.tensor(X > 0), fastgrad.zeros(12, dtype=fastgrad.float64))),
])
def test_inplace_variants_write_the_out_of_place_result_and_keep_the_gradient(name, args):
    leaf = fastgrad.tensor(X, dtype=fastgrad.float64, requires_grad=True)
    expected = getattr(leaf, name)(*args)
    cotangent = _f64(RNG.standard_normal((3, 4)))
    (expected_grad,) = fastgrad.autograd.grad(expected, [leaf], cotangent)
    x = leaf.clone()
    assert getattr(x, name + "_")(*args) is x
    np.testing.assert_array_equal(x.arr, expected.arr)
    x.backward(cotangent)
    np.testing.assert_array_equal(leaf.grad.arr, expected_grad.arr)
