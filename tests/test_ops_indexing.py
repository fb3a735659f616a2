"""x[idx] and x[idx] = value: basic views, advanced copies, accumulation, gradients of both
sides."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from fastgrad import Tensor
from fastgrad.testing import check_op

BASIC = [
    1,
    -1,
    slice(1, 3),
    slice(None, None, -1),
    slice(3, 0, -2),
    (1, 2),
    (slice(None), 0),
    (Ellipsis, 1),
    (None, 1),
    (slice(None), None, slice(1, None)),
    (0, Ellipsis, None),
    (),
    Ellipsis,
    slice(2, 2),  # empty
    (slice(None), slice(3, 1)),  # empty along the second dim
]
ADVANCED = [
    [0, 2],
    [3, 3, 0, 3],  # repeated rows: their gradients must add up
    np.array([-1, 0]),
    np.array([[0, 1], [1, 0]]),
    (np.array([0, 3, 3]), np.array([1, 4, 4])),  # one element picked twice
    (slice(None), [4, 0, 4]),
    (1, [0, 0, 2]),
    (Ellipsis, [1, 1]),
    np.array([True, False, True, True]),
    (slice(1, None), np.array([True, False, False, True, True])),
    np.array([], dtype=np.int64),  # picks nothing: a zero gradient
    np.array([False, False, False, False]),
]


def _source(rng):
    return rng.standard_normal((4, 5))


@pytest.mark.parametrize("idx", BASIC + ADVANCED, ids=repr)
def test_getitem_forward_and_gradient(idx, rng):
    a = _source(rng)
    out = Tensor(a, dtype=np.float64)[idx]
    expected = a[idx]
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.arr, expected)
    check_op(lambda t: t[idx], a)


def test_repeated_indices_accumulate():
    x = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [3.0, 0.0, 1.0])
    m = fastgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (m[[1, 1], [0, 0]] * fastgrad.tensor([2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(m.grad.arr, [[0.0, 0.0], [7.0, 0.0]])


def test_tensor_indices_and_masks():
    a = np.array([[1.0, -2.0], [-3.0, 4.0]])
    x = fastgrad.tensor(a, requires_grad=True)
    idx = fastgrad.tensor([1, 0, 1])
    np.testing.assert_array_equal(x[idx].arr, a[[1, 0, 1]])
    positive = x > 0
    assert positive.dtype == np.bool_
    picked = x[positive]
    np.testing.assert_array_equal(picked.arr, [1.0, 4.0])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(x[fastgrad.tensor(1)].arr, a[1])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_random_basic_indices(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    a = np.random.default_rng(0).standard_normal(shape)
    out = Tensor(a, dtype=np.float64)[idx]
    np.testing.assert_array_equal(out.arr, a[idx])
    check_op(lambda t: t[idx], a)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_random_integer_array_indices(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    idx = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2,
                                                                                  max_side=4)))
    a = np.random.default_rng(1).standard_normal(shape)
    out = Tensor(a, dtype=np.float64)[idx]
    np.testing.assert_array_equal(out.arr, a[idx])
    check_op(lambda t: t[idx], a)
    # Summed over a cotangent of ones, each element's gradient counts how often it was picked.
    counts = np.zeros(shape)
    np.add.at(counts, idx, 1.0)
    fresh = Tensor(a, dtype=np.float64, requires_grad=True)
    fresh[idx].sum().backward()
    np.testing.assert_array_equal(fresh.grad.arr, counts)


def test_basic_indexing_returns_a_view():
    x = fastgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    row = x[1]
    row[0] = 30.0
    assert x.arr[1, 0] == 30.0
    assert x._version == row._version
    col = x[:, ::-1]
    col.fill_(0.0)
    assert x.arr.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_a_single_element_is_a_view_too():
    # x[1] of a 1-D tensor is a 0-d tensor viewing x, as in PyTorch (not a copied scalar).
    x = fastgrad.tensor([1.0, 2.0, 3.0])
    element = x[1]
    assert element.shape == ()
    element.fill_(20.0)
    assert x.arr.tolist() == [1.0, 20.0, 3.0]
    x[-1].zero_()
    assert x.arr.tolist() == [1.0, 20.0, 0.0]
    assert np.shares_memory(x[0, ...].arr, x.arr)


def test_advanced_indexing_copies():
    x = fastgrad.tensor([1.0, 2.0, 3.0])
    picked = x[[0, 1]]
    picked[0] = 100.0
    assert x.arr[0] == 1.0


# ------------------------------------------------------------------------------ __setitem__
SET_CASES = [
    (1, (5,)),
    (1, ()),
    (1, (1, 5)),  # NumPy and PyTorch accept extra leading size-1 dims in the value
    ((slice(None), 2), (4,)),
    ((slice(None), 2), (1,)),
    ((slice(1, 3), slice(0, 4, 2)), (2, 2)),
    ((slice(1, 3), slice(0, 4, 2)), (2, 1)),
    (Ellipsis, (5,)),
    ([0, 2], (2, 5)),
    ([0, 2], (5,)),
    ((np.array([0, 3]), np.array([4, 1])), (2,)),
    (np.array([True, False, True, False]), (1,)),
    (slice(2, 2), (0, 5)),  # writes nothing
    (np.array([False, False, False, False]), (5,)),
]


@pytest.mark.parametrize("idx,value_shape", SET_CASES, ids=repr)
def test_setitem_tensor_value_forward_and_gradient(idx, value_shape, rng):
    a, v = _source(rng), rng.standard_normal(value_shape)

    def fn(x, value):
        y = x * 1  # a non-leaf: a leaf that requires grad cannot be written in place
        y[idx] = value
        return y

    out = fn(Tensor(a, dtype=np.float64), Tensor(v, dtype=np.float64))
    expected = a.copy()
    expected[idx] = v
    np.testing.assert_array_equal(out.arr, expected)
    check_op(fn, a, v)


def test_setitem_gradients_hand_computed():
    x = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = fastgrad.tensor(7.0, requires_grad=True)
    y = x * 2
    y[1:] = v  # one value broadcast to two elements: its gradient sums them
    (y * fastgrad.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(y.arr, [2.0, 7.0, 7.0])
    np.testing.assert_array_equal(x.grad.arr, [2.0, 0.0, 0.0])
    assert v.grad.item() == 110.0


@pytest.mark.parametrize("value", [5.0, np.array([5.0, 6.0]), [5.0, 6.0]], ids=repr)
def test_setitem_constant_value(value, rng):
    a = rng.standard_normal(3)

    def fn(x):
        y = x * 3  # (not x.exp(): exp's backward reads its output, so writing it would fail)
        y[:2] = value
        return y

    out = fn(Tensor(a, dtype=np.float64))
    expected = a * 3
    expected[:2] = value
    np.testing.assert_array_equal(out.arr, expected)
    check_op(fn, a)
    x = Tensor(a, dtype=np.float64, requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 0.0, 3.0])  # overwritten: no gradient


def test_setitem_into_a_constant_tensor_makes_it_require_grad():
    buf = fastgrad.zeros(2, 3)
    w = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buf[1] = w
    assert buf.requires_grad and buf.grad_fn is not None and not buf.is_leaf
    (buf * fastgrad.tensor([[1.0], [4.0]])).sum().backward()
    np.testing.assert_array_equal(w.grad.arr, [4.0, 4.0, 4.0])


def test_augmented_assignment_to_an_element_of_a_constant_buffer():
    # x[0] += w is x.__setitem__(0, x[0].__iadd__(w)): both writes reach x's graph.
    x = fastgrad.zeros(3)
    w = fastgrad.tensor(2.0, requires_grad=True)
    x[0] += w
    x[2] -= 1.0  # through a view of a tensor that now requires grad, as PyTorch allows
    x[0] *= w
    assert x.tolist() == [4.0, 0.0, -1.0]
    (x * fastgrad.tensor([5.0, 6.0, 7.0])).sum().backward()
    assert w.grad.item() == 5.0 * 2 * 2.0  # d(w*w)/dw * 5


def test_a_write_into_a_view_reaches_the_base_graph():
    c = fastgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    buf = fastgrad.zeros(2, 3)
    w = fastgrad.tensor([10.0, 20.0], requires_grad=True)
    view = buf[1][1:]  # a view of a view
    view += w
    assert buf.tolist() == [[0.0, 0.0, 0.0], [0.0, 10.0, 20.0]]
    assert buf.requires_grad
    (buf * c).sum().backward()
    np.testing.assert_array_equal(w.grad.arr, [5.0, 6.0])
    w.grad = None
    buf2 = fastgrad.zeros(3)
    v = buf2[:2]
    v[0] = w[1]
    (buf2 * fastgrad.tensor([7.0, 8.0, 9.0])).sum().backward()
    np.testing.assert_array_equal(w.grad.arr, [0.0, 7.0])


def test_repeated_view_updates_match_the_out_of_place_gradient():
    rng = np.random.default_rng(3)
    ws = [fastgrad.tensor(rng.standard_normal(4), requires_grad=True) for _ in range(3)]
    x = fastgrad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = x * 1.0
    for i, w in enumerate(ws):
        y[i] += w * x[i]  # (w * y[i] would save y[i], which the write then changes)
    c = rng.standard_normal((3, 4)).astype(np.float32)
    (y * fastgrad.tensor(c)).sum().backward()
    grads_inplace = [x.grad.arr.copy()] + [w.grad.arr.copy() for w in ws]
    for t in [x] + ws:
        t.grad = None
    rows = [x[i] + ws[i] * x[i] for i in range(3)]
    (fastgrad.stack(rows) * fastgrad.tensor(c)).sum().backward()
    for got, expected in zip(grads_inplace, [x.grad.arr] + [w.grad.arr for w in ws]):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_view_made_before_its_base_was_written_is_refused():
    buf = fastgrad.zeros(3)
    stale = buf[1:3]
    w = fastgrad.tensor(2.0, requires_grad=True)
    buf[1] = w
    with pytest.raises(RuntimeError, match=r"view \(shape \(2,\)\) was made before an in-place write"):
        stale.sum()
    with fastgrad.no_grad():
        assert stale.sum().item() == 2.0  # the data itself is current
    assert buf[1:3].sum().requires_grad  # a view taken after the write is fine


def test_a_write_with_grad_into_a_reshaped_view_is_refused():
    buf = fastgrad.zeros(2, 2)
    flat = buf.reshape(4)
    w = fastgrad.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"view \(shape \(4,\)\) of a tensor of shape \(2, 2\) made by reshape"):
        flat[0] = w
    assert buf.tolist() == [[0.0, 0.0], [0.0, 0.0]]  # refused before writing
    flat[0] = 5.0  # without grad it is a plain data write
    assert buf.arr[0, 0] == 5.0


def test_a_view_write_still_invalidates_saved_values():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True) * 1.0
    y = x * x
    x[0:1] += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_setitem_without_grad_builds_no_graph():
    buf = fastgrad.zeros(3)
    buf[0] = 1.0
    buf[1:] = fastgrad.tensor([2.0, 3.0])
    assert buf.grad_fn is None and not buf.requires_grad
    assert buf.tolist() == [1.0, 2.0, 3.0]
    with fastgrad.no_grad():
        w = fastgrad.tensor(5.0, requires_grad=True)
        buf[0] = w
    assert buf.grad_fn is None and buf.arr[0] == 5.0


def test_setitem_casts_to_the_target_dtype():
    i = fastgrad.zeros(3, dtype=fastgrad.int64)
    i[0] = 2.7
    assert i.dtype == np.int64 and i.tolist() == [2, 0, 0]
    x = fastgrad.zeros(2, requires_grad=False)
    w = fastgrad.tensor([1.5, 2.5], dtype=fastgrad.float64, requires_grad=True)
    x[:] = w
    assert x.dtype == np.float32
    x.sum().backward()
    assert w.grad.dtype == np.float64


def test_copy_(rng):
    x = fastgrad.zeros(2, 3)
    src = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.copy_(src) is x
    np.testing.assert_array_equal(x.arr, [[1.0, 2.0, 3.0]] * 2)
    x.sum().backward()
    np.testing.assert_array_equal(src.grad.arr, [2.0, 2.0, 2.0])


def test_setitem_value_with_extra_leading_unit_axes_as_pytorch():
    # torch: x[0] = torch.tensor([5.]) and x[0] = torch.ones(1, 1, 3) work (leading 1s dropped).
    x = fastgrad.zeros(3)
    x[0] = fastgrad.tensor([5.0])
    np.testing.assert_array_equal(x.arr, [5.0, 0.0, 0.0])
    z = fastgrad.zeros(2, 3)
    z[1] = fastgrad.ones(1, 1, 3)
    np.testing.assert_array_equal(z.arr, [[0, 0, 0], [1, 1, 1]])
    # the value's gradient comes back in the value's own shape
    w = fastgrad.tensor([[2.0]], requires_grad=True)
    h = fastgrad.zeros(2, 3) * 1
    h[1, 2] = w * 3
    (h * fastgrad.tensor([[1.0, 2, 3], [4, 5, 6]])).sum().backward()
    assert w.grad.shape == (1, 1) and w.grad.arr[0, 0] == 18.0
    with pytest.raises(RuntimeError, match=r"value of shape \(2,\)"):
        x[0] = fastgrad.tensor([5.0, 6.0])


# ------------------------------------------------- ints with advanced indices: PyTorch's order
# PyTorch selects with the ints first, then applies the advanced indices to what is left; NumPy
# broadcasts the ints with the arrays, so when a slice separates them the arrays' axis goes
# first. Each case: the index into an array of shape (2, 3, 4, 5), and PyTorch's result written
# as the select followed by the advanced index.
TORCH_ORDER = [
    ((0, slice(None), [0, 2]), lambda a: a[0][:, [0, 2]], (3, 2, 5)),  # NumPy: (2, 3, 5)
    ((slice(None), 0, slice(None), [1, 1, 4]), lambda a: a[:, 0][:, :, [1, 1, 4]], (2, 4, 3)),
    ((1, slice(1, 3), 2, [0, 4]), lambda a: a[1, :, 2][1:3, [0, 4]], (2, 2)),
    ((slice(None), 1, None, [3, 0]), lambda a: a[:, 1, None][:, :, [3, 0]], (2, 1, 2, 5)),
    ((0, Ellipsis, [1, 2]), lambda a: a[0][..., [1, 2]], (3, 4, 2)),
    ((1, slice(None), np.array([True, False, True, True])),
     lambda a: a[1][:, [0, 2, 3]], (3, 3, 5)),
    ((0, slice(None), np.array([[0, 1], [3, 3]])), lambda a: a[0][:, [[0, 1], [3, 3]]],
     (3, 2, 2, 5)),
    # where NumPy and PyTorch agree (the int beside the array), the answer must not change
    ((0, [0, 2]), lambda a: a[0][[0, 2]], (2, 4, 5)),
    (([1, 0], 2), lambda a: a[:, 2][[1, 0]], (2, 4, 5)),
    ((slice(None), [0, 2], 1), lambda a: a[:, :, 1][:, [0, 2]], (2, 2, 5)),
    (([1, 0], 2, [3, 3]), lambda a: a[:, 2][[1, 0], [3, 3]], (2, 5)),
    # an Ellipsis standing for no axes does not separate two arrays (NumPy: (2, 2, 3, 4))
    ((slice(None), slice(None), [0, 1], Ellipsis, [2, 4]),
     lambda a: a[:, :, [0, 1], [2, 4]], (2, 3, 2)),
]


@pytest.mark.parametrize("idx,select_then_index,shape", TORCH_ORDER,
                         ids=[repr(case[0]) for case in TORCH_ORDER])
def test_ints_select_before_advanced_indices_as_pytorch(idx, select_then_index, shape, rng):
    a = rng.standard_normal((2, 3, 4, 5))
    out = Tensor(a, dtype=np.float64)[idx]
    assert out.shape == shape
    np.testing.assert_array_equal(out.arr, select_then_index(a))
    check_op(lambda t: t[idx], a)


def test_int_and_separated_advanced_index_hand_computed():
    x = fastgrad.tensor([[[1.0, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]], requires_grad=True)
    y = x[0, :, [0, 2]]
    assert y.shape == (2, 2)
    np.testing.assert_array_equal(y.arr, [[1.0, 3.0], [4.0, 6.0]])  # NumPy: [[1, 4], [3, 6]]
    (y * fastgrad.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.arr[0], [[1.0, 0.0, 2.0], [3.0, 0.0, 4.0]])
    np.testing.assert_array_equal(x.grad.arr[1], np.zeros((2, 3)))
    assert fastgrad.zeros(3, 4, 5)[0, :, [1, 2]].shape == (4, 2)
    assert fastgrad.zeros(3, 4, 5)[:, 0, [[1, 2]]].shape == (3, 1, 2)  # agrees with NumPy


def test_a_0d_integer_tensor_index_is_an_int():
    # PyTorch selects with a 0-d integer tensor: x[t] is a view, x[t, :, [0, 2]] as x[0, :, [0, 2]]
    x = fastgrad.tensor(np.arange(24.0).reshape(2, 3, 4))
    t = fastgrad.tensor(1)
    assert x[fastgrad.tensor(0), :, [0, 2]].shape == (3, 2)
    np.testing.assert_array_equal(x[fastgrad.tensor(0), :, [0, 2]].arr, [[0, 2], [4, 6], [8, 10]])
    row = x[t]
    assert np.shares_memory(row.arr, x.arr) and row._version == x._version
    np.testing.assert_array_equal(x[0, t].arr, [4.0, 5.0, 6.0, 7.0])
    z = fastgrad.zeros(2, 3)
    z[t, [0, 2]] = 5.0
    assert z.tolist() == [[0.0, 0.0, 0.0], [5.0, 0.0, 5.0]]


def test_setitem_int_and_separated_advanced_index_as_pytorch():
    z = fastgrad.zeros(2, 3, 4)
    z[0, :, [1, 2]] = fastgrad.ones(3, 2)  # NumPy refuses: its target has shape (2, 3)
    expected = np.zeros((2, 3, 4))
    expected[0, :, 1:3] = 1.0
    np.testing.assert_array_equal(z.arr, expected)
    w = fastgrad.zeros(2, 3, 4)
    w[1, :, [3, 0]] = fastgrad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(w.arr[1], [[2, 0, 0, 1], [4, 0, 0, 3], [6, 0, 0, 5]])
    assert not w.arr[0].any()
    # with grad: the overwritten elements of the old value get nothing, the value their gradient
    x = fastgrad.tensor(np.ones((2, 3, 4)), requires_grad=True)
    v = fastgrad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    c = np.arange(24.0).reshape(2, 3, 4)
    y = x * 2
    y[0, :, [1, 2]] = v
    (y * fastgrad.tensor(c)).sum().backward()
    grad_x = 2 * c
    grad_x[0, :, 1:3] = 0.0
    np.testing.assert_array_equal(x.grad.arr, grad_x)
    np.testing.assert_array_equal(v.grad.arr, [[1.0, 2.0], [5.0, 6.0], [9.0, 10.0]])


@pytest.mark.parametrize("idx,value_shape", [
    ((0, slice(None), [1, 2]), (3, 2, 5)),
    ((0, slice(None), [1, 2]), (1, 2, 1)),
    ((slice(None), 1, slice(None), [4, 0]), (2, 4, 2)),
    ((1, Ellipsis, [0, 3]), (1, 2)),
], ids=repr)
def test_setitem_int_and_advanced_index_gradcheck(idx, value_shape, rng):
    a, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal(value_shape)

    def fn(x, value):
        y = x * 1
        y[idx] = value
        return y

    check_op(fn, a, v)


def test_setitem_with_ints_writes_through_a_view_up_the_chain():
    # a write with a composed index into a view still reaches the base's graph
    buf = fastgrad.zeros(2, 2, 3)
    w = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    view = buf[1]
    view[0, [2, 0]] = w
    assert buf.arr[1, 0].tolist() == [2.0, 0.0, 1.0]
    (buf * fastgrad.tensor(np.arange(12.0).reshape(2, 2, 3))).sum().backward()
    np.testing.assert_array_equal(w.grad.arr, [8.0, 6.0])


# ------------------------------------------------------------------- writes into 0-d tensors
@pytest.mark.parametrize("write", [
    lambda y: y.__setitem__(Ellipsis, 5.0),
    lambda y: y.__setitem__((), 5.0),
    lambda y: y.fill_(5.0),
    lambda y: y.copy_(fastgrad.tensor(5.0)),
], ids=["[...]", "[()]", "fill_", "copy_"])
def test_a_write_into_a_0d_non_leaf_backpropagates(write):
    # (a 0-d gradient can reach the Setitem node as a NumPy scalar, which is immutable)
    x = fastgrad.tensor(1.0, requires_grad=True)
    y = x * 2
    write(y)
    (y * x).backward()
    assert y.item() == 5.0
    assert x.grad.shape == () and x.grad.item() == 5.0  # only through the factor x


def test_a_0d_write_of_a_tensor_value_gives_both_gradients():
    x = fastgrad.tensor(1.0, requires_grad=True)
    v = fastgrad.tensor(3.0, requires_grad=True)
    y = x * 2
    y[...] = v * 1
    (y * x).backward()
    assert x.grad.item() == 3.0 and v.grad.item() == 1.0
    x.grad = None
    y = x * 2
    y.zero_()
    (y * x).backward()
    assert x.grad.item() == 0.0
    check_op(_write_0d, np.array(1.5), np.array(-2.0))


def _write_0d(a, b):
    y = a * a
    y[()] = b * a
    return y * a


# ------------------------------------------------- bool-mask writes with leading size-1 axes
def test_mask_write_drops_the_value_leading_unit_axes_as_pytorch():
    # PyTorch drops every leading size-1 axis of the value, then broadcasts, for every write
    mask = fastgrad.tensor([[True, False], [False, True]])
    y = fastgrad.zeros(2, 2)
    y[mask] = fastgrad.tensor([[3.0, 4.0]])
    assert y.tolist() == [[3.0, 0.0], [0.0, 4.0]]
    y[mask] = fastgrad.ones(1, 1, 1)
    assert y.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    y[mask] = [[[7.0, 8.0]]]
    assert y.tolist() == [[7.0, 0.0], [0.0, 8.0]]
    rows = fastgrad.zeros(3, 2)
    rows[fastgrad.tensor([True, False, True])] = fastgrad.tensor([[[1.0, 2.0]]])
    assert rows.tolist() == [[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]]
    with pytest.raises(RuntimeError, match=r"value of shape \(2, 1\)"):
        y[mask] = fastgrad.ones(2, 1)  # (2, 1) cannot broadcast to the 2 selected elements
    # the value's gradient comes back in its own shape
    x = fastgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = fastgrad.tensor([[10.0, 20.0]], requires_grad=True)
    h = x * 1
    h[mask] = v
    (h * fastgrad.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert h.tolist() == [[10.0, 2.0], [3.0, 20.0]]
    assert v.grad.shape == (1, 2)
    np.testing.assert_array_equal(v.grad.arr, [[1.0, 4.0]])
    np.testing.assert_array_equal(x.grad.arr, [[0.0, 2.0], [3.0, 0.0]])
    check_op(_mask_write, np.ones((2, 2)), np.ones((1, 2)))


def _mask_write(a, b):
    y = a * 1
    y[np.array([[True, False], [False, True]])] = b
    return y
