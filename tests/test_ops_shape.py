"""reshape/view/flatten/squeeze/unsqueeze, transpose/permute/T, expand, repeat, clone."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from fastgrad import Tensor
from fastgrad.testing import check_op


def _arange(*shape):
    return np.arange(float(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("shape,new", [((6,), (2, 3)), ((2, 3), (3, 2)), ((2, 3), (-1,)),
                                       ((2, 3, 4), (4, -1)), ((), (1, 1)), ((1,), ()),
                                       ((2, 3), (1, 6, 1)), ((0, 3), (3, 0)), ((2, 0), (-1,))])
def test_reshape_view(shape, new, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    expected = a.reshape(new)
    for out in (x.reshape(new), x.reshape(*new), x.view(new), x.view(*new),
                fastgrad.reshape(x, new), x.view_as(Tensor(np.zeros(expected.shape)))):
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.arr, expected)
    check_op(lambda t: t.reshape(new), a)
    check_op(lambda t: t.view(*new), a)


def test_reshape_is_a_view_sharing_memory():
    x = fastgrad.tensor([1.0, 2.0, 3.0, 4.0])
    v = x.view(2, 2)
    v[0, 1] = 10.0
    assert x.arr[1] == 10.0
    assert x._version == v._version == 1


# ---------------------------------------------------------------------- transpose / permute
@pytest.mark.parametrize("shape,d0,d1", [((2, 3), 0, 1), ((2, 3), 1, 0), ((2, 3), -1, -2),
                                         ((2, 3, 4), 0, 2), ((2, 3, 4), 1, -1), ((2, 3, 4), 1, 1),
                                         ((3,), 0, -1)])
def test_transpose_swaps_two_dims_like_pytorch(shape, d0, d1, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    expected = np.swapaxes(a, d0, d1)  # not NumPy's transpose, which takes a full permutation
    for out in (x.transpose(d0, d1), fastgrad.transpose(x, d0, d1), x.swapaxes(d0, d1)):
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.arr, expected)
    check_op(lambda t: t.transpose(d0, d1), a)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_permute_random_permutations(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3))
    perm = data.draw(st.permutations(range(len(shape))))
    negative = data.draw(st.lists(st.booleans(), min_size=len(perm), max_size=len(perm)))
    dims = [p - len(shape) if neg else p for p, neg in zip(perm, negative)]
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    expected = np.transpose(a, perm)
    np.testing.assert_array_equal(x.permute(*dims).arr, expected)
    np.testing.assert_array_equal(x.permute(dims).arr, expected)
    np.testing.assert_array_equal(fastgrad.permute(x, tuple(dims)).arr, expected)
    check_op(lambda t: t.permute(*dims), a)


def test_permute_gradient_goes_back_to_the_right_elements():
    x = fastgrad.tensor(_arange(2, 3, 4), requires_grad=True)
    weights = fastgrad.tensor(_arange(4, 2, 3))
    (x.permute(2, 0, 1) * weights).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, np.transpose(weights.arr, (1, 2, 0)))


def test_T_t_and_mT(rng):
    a = rng.standard_normal((2, 3))
    x = Tensor(a, dtype=np.float64)
    np.testing.assert_array_equal(x.T.arr, a.T)
    np.testing.assert_array_equal(x.t().arr, a.T)
    np.testing.assert_array_equal(fastgrad.t(x).arr, a.T)
    b = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(Tensor(b).T.arr, b.T.astype(np.float32))  # all dims reversed
    np.testing.assert_array_equal(Tensor(b).mT.arr, np.swapaxes(b, -1, -2).astype(np.float32))
    check_op(lambda t: t.T, b)
    check_op(lambda t: t.mT, b)
    check_op(lambda t: t.t(), a)
    v = Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(v.t().arr, v.arr)
    with pytest.raises(RuntimeError, match="mT is only supported on matrices.*Got 1-D"):
        v.mT  # PyTorch refuses it on 1-D (there are no dims -2, -1 to swap)
    scalar = Tensor(np.array(2.0))
    assert scalar.mT.tolist() == 2.0  # and keeps 0-d as it is
    with pytest.raises(RuntimeError, match="<= 2 dimensions, but self is 3D"):
        Tensor(b).t()


# ------------------------------------------------------------------------ flatten / squeeze
@pytest.mark.parametrize("shape,start,end,expected", [
    ((2, 3, 4), 0, -1, (24,)),
    ((2, 3, 4), 1, -1, (2, 12)),
    ((2, 3, 4), 0, 1, (6, 4)),
    ((2, 3, 4), 1, 1, (2, 3, 4)),
    ((2, 3, 4, 5), -3, -2, (2, 12, 5)),
    ((5,), 0, 0, (5,)),
    ((), 0, -1, (1,)),
])
def test_flatten(shape, start, end, expected, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    out = x.flatten(start, end)
    assert out.shape == expected
    np.testing.assert_array_equal(out.arr, a.reshape(expected))
    assert fastgrad.flatten(x, start, end).shape == expected
    assert fastgrad.flatten(x, start_dim=start, end_dim=end).shape == expected
    check_op(lambda t: t.flatten(start, end), a)


def test_flatten_defaults_and_errors():
    x = fastgrad.ones(2, 3, 4)
    assert x.flatten().shape == (24,)
    assert fastgrad.flatten(x, 1).shape == (2, 12)
    with pytest.raises(RuntimeError, match="start_dim 2 cannot come after end_dim 1"):
        x.flatten(2, 1)


def test_unflatten(rng):
    a = rng.standard_normal((2, 12))
    out = Tensor(a, dtype=np.float64).unflatten(1, (3, -1))
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.arr, a.reshape(2, 3, 4))
    check_op(lambda t: fastgrad.unflatten(t, -1, (4, 3)), a)


@pytest.mark.parametrize("shape,dim,expected", [
    ((1, 3, 1), None, (3,)),
    ((1, 3, 1), 0, (3, 1)),
    ((1, 3, 1), -1, (1, 3)),
    ((1, 3, 1), 1, (1, 3, 1)),  # a dim of size > 1 is left alone, as in PyTorch
    ((1, 3, 1), (0, 2), (3,)),
    ((1, 1), None, ()),
    ((), None, ()),
    ((), 0, ()),
    ((0, 1), None, (0,)),
])
def test_squeeze(shape, dim, expected, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    out = x.squeeze() if dim is None else x.squeeze(dim)
    assert out.shape == expected
    np.testing.assert_array_equal(out.arr, a.reshape(expected))
    assert fastgrad.squeeze(x, dim).shape == expected
    check_op(lambda t: t.squeeze(dim), a)


@pytest.mark.parametrize("shape,dim,expected", [
    ((3,), 0, (1, 3)), ((3,), 1, (3, 1)), ((3,), -1, (3, 1)), ((3,), -2, (1, 3)),
    ((2, 3), 1, (2, 1, 3)), ((), 0, (1,)), ((), -1, (1,)),
])
def test_unsqueeze(shape, dim, expected, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    assert x.unsqueeze(dim).shape == expected
    assert fastgrad.unsqueeze(x, dim).shape == expected
    np.testing.assert_array_equal(x.unsqueeze(dim).arr, a.reshape(expected))
    check_op(lambda t: t.unsqueeze(dim), a)


# ---------------------------------------------------------------------- expand / repeat
@pytest.mark.parametrize("shape,target,expected", [
    ((3,), (2, 3), (2, 3)),
    ((2, 1), (2, 4), (2, 4)),
    ((2, 1), (-1, 4), (2, 4)),
    ((1,), (3, 2, 5), (3, 2, 5)),
    ((), (2, 2), (2, 2)),
    ((2, 1, 3), (4, 2, 5, -1), (4, 2, 5, 3)),
    ((1, 3), (0, 3), (0, 3)),  # expanded to nothing: a zero gradient
])
def test_expand_broadcast_to(shape, target, expected, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    for out in (x.expand(*target), x.expand(target), x.broadcast_to(target),
                fastgrad.broadcast_to(x, target), fastgrad.expand(x, target),
                x.expand_as(Tensor(np.zeros(expected)))):
        assert out.shape == expected
        np.testing.assert_array_equal(out.arr, np.broadcast_to(a, expected))
    check_op(lambda t: t.expand(*target), a)


def test_expand_gradient_sums_over_the_copies():
    x = fastgrad.tensor([[1.0], [2.0]], requires_grad=True)
    (x.expand(2, 3) * fastgrad.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[6.0], [6.0]])


@pytest.mark.parametrize("shape,reps", [((3,), (2,)), ((2, 3), (2, 1)), ((2, 3), (1, 3)),
                                        ((2,), (3, 2)), ((2, 1, 2), (2, 3, 1)), ((), (3,)),
                                        ((2, 3), (2, 2, 2))])
def test_repeat_matches_tile(shape, reps, rng):
    a = rng.standard_normal(shape)
    x = Tensor(a, dtype=np.float64)
    expected = np.tile(a, reps)
    for out in (x.repeat(*reps), x.repeat(reps), fastgrad.repeat(x, reps)):
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.arr, expected)
    check_op(lambda t: t.repeat(*reps), a)


def test_repeat_needs_a_repeat_per_dim():
    with pytest.raises(RuntimeError, match=r"\(1 < 2\)"):
        fastgrad.ones(2, 3).repeat(2)


# ---------------------------------------------------------------------- clone / contiguous
def test_clone_copies_and_passes_the_gradient():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(y.arr, x.arr)
    np.testing.assert_array_equal(y.arr, x.arr)
    (y * fastgrad.tensor([3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [3.0, 4.0])
    check_op(fastgrad.clone, [[1.0, 2.0]])


def test_contiguous():
    x = fastgrad.tensor(_arange(2, 3))
    assert x.contiguous() is x
    xt = x.t()
    assert not xt.is_contiguous()
    c = xt.contiguous()
    assert c.is_contiguous()
    np.testing.assert_array_equal(c.arr, _arange(2, 3).T)
    check_op(lambda t: t.t().contiguous(), _arange(2, 3))


def test_shape_ops_keep_dtype_and_gradient_dtype():
    x = fastgrad.tensor(_arange(2, 3), dtype=fastgrad.float32, requires_grad=True)
    y = x.reshape(3, 2).t().unsqueeze(0).expand(2, 2, 3).flatten().repeat(2)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.arr, np.full((2, 3), 4.0))
