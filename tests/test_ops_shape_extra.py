"""flip ... broadcast_tensors (fastgrad/ops/shape_extra.py) and view(dtype): the op contract
(gradcheck, gradgradcheck, dtypes, fresh outputs) on ordinary, size-1, empty and 0-d shapes,
and the view semantics PyTorch gives them. PyTorch's values and errors:
test_shapelin_torch.py."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad.testing import check_op


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


ONE_INPUT = [
    ("flip", lambda x: fastgrad.flip(x, [0, -1]), (3, 4), [((1, 1),), ((0, 4),)]),
    ("flip0d", lambda x: fastgrad.flip(x, []), (), []),
    ("fliplr", fastgrad.fliplr, (3, 4), [((3, 0),)]),
    ("flipud", fastgrad.flipud, (3,), [((1,),), ((0,),)]),
    ("roll", lambda x: fastgrad.roll(x, 2), (3, 4), [((1, 1),), ((0, 4),)]),
    ("roll_dims", lambda x: fastgrad.roll(x, (1, -3), (0, 1)), (3, 4), [((1, 1),), ((0, 4),)]),
    ("tril", lambda x: fastgrad.tril(x, 1), (2, 3, 4), [((1, 1),), ((0, 4),)]),
    ("triu", lambda x: x.triu(-1), (4, 3), [((1, 1),), ((2, 0, 3),)]),
    ("diag_matrix", lambda x: fastgrad.diag(x, 1), (3, 4), [((1, 1),), ((0, 4),)]),
    ("diag_vector", lambda x: fastgrad.diag(x, -2), (3,), [((1,),), ((0,),)]),
    ("diagonal", lambda x: x.diagonal(1, 2, 0), (2, 3, 4), [((1, 1, 1),), ((0, 3, 4),)]),
    ("diag_embed", lambda x: fastgrad.diag_embed(x, -1, 0, 2), (2, 3), [((1, 1),), ((0, 3),)]),
    ("trace", fastgrad.trace, (3, 4), [((1, 1),), ((0, 4),)]),
    ("split", lambda x: fastgrad.split(x, 2, 1), (3, 5), [((1, 1),), ((0, 5),)]),
    ("split_sizes", lambda x: fastgrad.split(x, [1, 0, 2]), (3, 2), [((3, 0),)]),
    ("chunk", lambda x: x.chunk(2, 0), (5, 2), [((1, 1),), ((0, 2),)]),
    ("tensor_split", lambda x: fastgrad.tensor_split(x, 3, 1), (2, 7), [((1, 1),), ((0, 7),)]),
    ("tensor_split_indices", lambda x: fastgrad.tensor_split(x, [1, 5, 3]), (6, 2), [((0, 2),)]),
    ("unbind", lambda x: fastgrad.unbind(x, 1), (2, 3), [((1, 1),), ((0, 3),)]),
    ("narrow", lambda x: x.narrow(1, -3, 2), (2, 4), [((1, 3),), ((0, 4),)]),
    ("unfold", lambda x: x.unfold(1, 3, 2), (2, 8), [((1, 3),), ((0, 8),)]),
    ("unfold_overlap", lambda x: x.unfold(0, 2, 1), (5,), [((2,),)]),
    ("unfold_0d", lambda x: x.unfold(0, 1, 1), (), []),
    ("repeat_interleave", lambda x: fastgrad.repeat_interleave(x, 3), (2, 3), [((), ), ((0, 3),)]),
    ("repeat_interleave_dim", lambda x: x.repeat_interleave(fastgrad.tensor([2, 0, 1]), 1),
     (2, 3), [((0, 3),)]),
    ("movedim", lambda x: fastgrad.movedim(x, (0, 2), (1, 0)), (2, 3, 4), [((1, 1, 1),), ((0, 3, 1),)]),
    ("atleast_3d", fastgrad.atleast_3d, (3,), [((),), ((0,),)]),
    ("atleast_1d", fastgrad.atleast_1d, (2, 3), [((),)]),
]


@pytest.mark.parametrize("name, op, shape, extra", ONE_INPUT, ids=[c[0] for c in ONE_INPUT])
def test_op_contract(name, op, shape, extra):
    check_op(op, _x(*shape), name=name, extra_shapes=extra)


def test_meshgrid_and_broadcast_tensors_contract():
    check_op(lambda a, b: fastgrad.meshgrid(a, b, indexing="xy"), _x(2), _x(3, seed=1),
             extra_shapes=[((), (0,)), ((1,), (1,))])
    check_op(lambda a, b: fastgrad.broadcast_tensors(a, b), _x(3, 1), _x(4, seed=1),
             extra_shapes=[((), (0,)), ((1, 1), ())])


def test_meshgrid_without_indexing_warns_as_pytorch_and_means_ij():
    with pytest.warns(UserWarning, match="indexing"):
        a, b = fastgrad.meshgrid(fastgrad.arange(2), fastgrad.arange(3))
    assert a.shape == (2, 3) and b.tolist() == [[0, 1, 2], [0, 1, 2]]


def test_views_share_memory_and_writes_reach_the_base():
    base = fastgrad.arange(12.0).reshape(3, 4)
    base.diagonal().mul_(0)  # PyTorch's diagonal is a view one can write through
    assert base.arr[[0, 1, 2], [0, 1, 2]].tolist() == [0, 0, 0]
    base.unfold(1, 2, 2)[0, 0, 1] = -1.0
    assert base.arr[0, 1] == -1.0
    first, _ = fastgrad.split(base, 2)
    first[0, 3] = 7.0
    assert base.arr[0, 3] == 7.0
    # with grad: a write into a piece is recorded in the base's graph (as PyTorch's CopySlices)
    w = fastgrad.tensor(2.0, dtype=fastgrad.float64, requires_grad=True)
    buf = fastgrad.zeros(4, 2, dtype=fastgrad.float64)
    buf.narrow(0, 1, 2)[0, 1] = w * 3
    top, bottom = buf.chunk(2)
    (bottom.sum() * 5 + top.sum()).backward()
    assert w.grad.item() == 3.0  # buf[1, 1] is in `top`


def test_a_saved_view_changed_in_place_raises():
    x = fastgrad.randn(3, 3, dtype=fastgrad.float64, requires_grad=True)
    y = x * 1
    d = y.diagonal()
    out = (d * d).sum()
    y.add_(1)  # changes d's memory: mul saved d
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


@pytest.mark.parametrize("op", [lambda x: fastgrad.atleast_1d(x), lambda x: fastgrad.atleast_2d(x),
                                lambda x: fastgrad.movedim(x, 0, 0), lambda x: x.swapaxes(0, 0),
                                lambda x: x.narrow(0, 0, 2), lambda x: fastgrad.flip(x, []),
                                lambda x: fastgrad.broadcast_tensors(x)[0],
                                lambda x: fastgrad.split(x, 5)[0], lambda x: fastgrad.tril(x, 5),
                                lambda x: x.mT.mT, lambda x: x.reshape(2, 2)])
def test_no_op_returns_its_input(op):
    x = fastgrad.randn(2, 2, requires_grad=True)
    out = op(x)
    assert out is not x and out.grad_fn is not None
    assert fastgrad.tensor(1.0).mT is not None


def test_mT_of_0d_is_a_new_tensor():
    x = fastgrad.tensor(2.0, requires_grad=True)
    assert x.mT is not x and x.mT.item() == 2.0


def test_view_dtype_reinterprets_bits_and_shares_memory():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float32)
    bits = x.view(fastgrad.int32)
    assert bits.tolist() == [1065353216, 1073741824]
    bits[0] = 0
    assert x.tolist() == [0.0, 2.0]
    assert x.view(fastgrad.uint8).shape == (8,) and x.view(fastgrad.float64).shape == (1,)
    assert x.view(2, 1).shape == (2, 1) and x.view((2,)).shape == (2,)
    assert x.view(-1).shape == (2,)


def test_repeat_interleave_counts_alone():
    out = fastgrad.repeat_interleave(fastgrad.tensor([2, 0, 3]))
    assert out.tolist() == [0, 0, 2, 2, 2] and out.dtype == fastgrad.int64
    with pytest.raises(RuntimeError, match="negative"):
        fastgrad.repeat_interleave(fastgrad.tensor([1.0]), fastgrad.tensor([-1]))


def test_view_as_the_same_dtype_keeps_the_graph():
    x = fastgrad.randn(2, 3, dtype=fastgrad.float64, requires_grad=True)
    y = x.view(fastgrad.float64)
    assert y is not x and y.grad_fn is not None
    (y * 2).sum().backward()
    assert (x.grad.arr == 2).all()


@pytest.mark.parametrize("make_view", [lambda y: y.diagonal(), lambda y: y.unfold(0, 2, 1)])
def test_a_grad_recording_write_into_a_strided_view_raises_before_writing(make_view):
    # as for reshape / transpose views (ARCHITECTURE.md, "Views"): refused, never a wrong graph
    x = fastgrad.randn(3, 3, requires_grad=True)
    y = x * 1
    before = y.arr.copy()
    with pytest.raises(RuntimeError, match="not supported"):
        make_view(y).mul_(fastgrad.tensor(2.0, requires_grad=True))
    np.testing.assert_array_equal(y.arr, before)


@st.composite
def _shaped(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=2, max_size=4)))
    return shape, draw(st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(spec=_shaped(), k=st.integers(-5, 5), d=st.integers(0, 1))
def test_random_shapes_match_numpy(spec, k, d):
    shape, seed = spec
    a = np.random.default_rng(seed).standard_normal(shape)
    x = fastgrad.tensor(a, dtype=fastgrad.float64)
    ndim = len(shape)
    dim = d % ndim
    np.testing.assert_array_equal(fastgrad.flip(x, [0, -1]).arr, np.flip(a, (0, ndim - 1)))
    np.testing.assert_array_equal(fastgrad.roll(x, k, dim).arr, np.roll(a, k, dim))
    np.testing.assert_array_equal(fastgrad.roll(x, k).arr, np.roll(a, k))
    np.testing.assert_array_equal(fastgrad.tril(x, k).arr, np.tril(a, k))
    np.testing.assert_array_equal(fastgrad.triu(x, k).arr, np.triu(a, k))
    np.testing.assert_array_equal(x.diagonal(k, 0, -1).arr, np.diagonal(a, k, 0, ndim - 1))
    pieces = fastgrad.tensor_split(x, abs(k) + 1, dim)
    for p, q in zip(pieces, np.array_split(a, abs(k) + 1, dim)):
        np.testing.assert_array_equal(p.arr, q)
    size, step = min(abs(k), shape[dim]), d + 1
    windows = np.lib.stride_tricks.sliding_window_view(a, size, dim)
    np.testing.assert_array_equal(x.unfold(dim, size, step).arr,
                                  windows[(slice(None),) * dim + (slice(None, None, step),)])
    np.testing.assert_array_equal(fastgrad.repeat_interleave(x, abs(k), dim).arr,
                                  np.repeat(a, abs(k), dim))


def test_repeat_interleave_refuses_a_list_of_repeats():
    with pytest.raises(TypeError, match="repeats"):
        fastgrad.repeat_interleave(fastgrad.ones(2), [1, 2])
