"""Properties of the ops without a gradient on varying shapes (hypothesis), their errors,
and the contract they share: a new tensor that requires no grad and aliases no input.
PyTorch's own results are checked in test_ops_nondiff_torch.py."""
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from fastgrad import Tensor

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torch_nondiff_ops.json")
with open(FIXTURE) as _f:
    REFERENCE = json.load(_f)

# Tensor.where(condition, other) is PyTorch's differentiable where with self as input: it
# belongs with the differentiable ops, not here.
NOT_HERE = {"where"}


# ------------------------------------------------------------------------------ the names
@pytest.mark.parametrize("name", REFERENCE["functions"])
def test_every_name_is_a_fastgrad_function(name):
    assert callable(getattr(fastgrad, name))


@pytest.mark.parametrize("name", sorted(set(REFERENCE["tensor_methods"]) - NOT_HERE))
def test_every_pytorch_method_is_a_tensor_method(name):
    assert callable(getattr(Tensor, name, None)), f"Tensor.{name} missing"


def test_methods_are_the_functions():
    x, y = fastgrad.tensor([5, 3, 0]), fastgrad.tensor([1, 2, 3])
    assert np.array_equal(x.bitwise_and(y).arr, fastgrad.bitwise_and(x, y).arr)
    assert np.array_equal((x & y).arr, [1, 2, 0]) and np.array_equal((6 & x).arr, [4, 2, 0])
    assert np.array_equal(x.count_nonzero().arr, 2)
    assert np.array_equal(x.argsort(descending=True).arr, [0, 1, 2])


# ----------------------------------------------------- new tensors, no grad, no aliasing
def _calls(f, i):
    """(name, call) pairs over a float tensor f and an int tensor i (both 1-D, length 4)."""
    return [
        ("isinf", lambda: fastgrad.isinf(f)), ("isfinite", lambda: fastgrad.isfinite(i)),
        ("isclose", lambda: fastgrad.isclose(f, f, rtol=0, atol=0)),
        ("all", lambda: fastgrad.all(f, dim=())), ("any", lambda: i.bool().any(dim=())),
        ("bitwise_and", lambda: i & i), ("bitwise_or 0", lambda: i | 0),
        ("left_shift 0", lambda: i << 0), ("logical_and", lambda: fastgrad.logical_and(f, f)),
        ("nonzero", lambda: fastgrad.nonzero(i, as_tuple=True)[0]),
        ("argwhere", lambda: fastgrad.argwhere(f)), ("argsort", lambda: fastgrad.argsort(i)),
        ("searchsorted", lambda: fastgrad.searchsorted(i, i)),
        ("count_nonzero", lambda: fastgrad.count_nonzero(i)),
        ("bincount", lambda: fastgrad.bincount(i)), ("histc", lambda: fastgrad.histc(f, bins=4)),
        ("unique", lambda: fastgrad.unique(i)), ("unique float", lambda: fastgrad.unique(f)),
    ]


@pytest.mark.parametrize("index", range(len(_calls(None, None))))
def test_result_is_new_and_needs_no_grad(index):
    f = fastgrad.tensor([0.0, 1.0, 2.0, 3.0], requires_grad=True)
    i = fastgrad.tensor([0, 1, 2, 3])
    name, call = _calls(f, i)[index]
    before = (f.arr.copy(), i.arr.copy())
    out = call()
    assert isinstance(out, Tensor) and not out.requires_grad and out.grad_fn is None, name
    for source in (f, i):
        assert out is not source and not np.shares_memory(out.arr, source.arr), name
    assert np.array_equal(f.arr, before[0]) and np.array_equal(i.arr, before[1]), name


def test_inplace_bitwise_writes_into_self():
    x = fastgrad.tensor([1, 2, 3], dtype=fastgrad.int8)
    array, version = x.arr, x._version
    y = x
    y &= fastgrad.tensor([3, 3, 1])  # int64 right side: the result is cast back to int8
    assert y is x and x.arr is array and x._version == version + 1
    assert x.dtype == np.int8 and np.array_equal(x.arr, [1, 2, 1])
    x <<= 2
    assert np.array_equal(x.arr, [4, 8, 4])
    flags = fastgrad.tensor([True, False])
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired "
                                           "output type Bool"):
        flags |= fastgrad.tensor([1, 2])
    assert np.array_equal(flags.arr, [True, False])  # untouched by the refused write


# ------------------------------------------------------------------- hypothesis properties
_int_dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8])
_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=_int_dtypes,
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
def test_bitwise_ops_match_python_ints(data, dtype, shapes):
    a = data.draw(hnp.arrays(dtype, shapes.input_shapes[0]))
    b = data.draw(hnp.arrays(dtype, shapes.input_shapes[1]))
    bits = np.dtype(dtype).itemsize * 8
    for op, python in ((fastgrad.bitwise_and, lambda p, q: p & q),
                       (fastgrad.bitwise_or, lambda p, q: p | q),
                       (fastgrad.bitwise_xor, lambda p, q: p ^ q)):
        out = op(Tensor(a), Tensor(b))
        assert out.shape == shapes.result_shape and out.dtype == dtype
        want = np.vectorize(python, otypes=[object])(*np.broadcast_arrays(a.astype(object),
                                                                          b.astype(object)))
        assert np.array_equal(out.arr.astype(object), want)
    amounts = data.draw(hnp.arrays(np.int64, shapes.input_shapes[1],
                                   elements=st.integers(-2, bits + 2))).astype(dtype)
    left = fastgrad.bitwise_left_shift(Tensor(a), Tensor(amounts)).arr.ravel()
    right = (Tensor(a) >> Tensor(amounts)).arr.ravel()
    values, amounts = (x.ravel() for x in np.broadcast_arrays(a, amounts))
    for got_left, got_right, value, amount in zip(left, right, values, amounts):
        value, amount = int(value), int(amount)
        in_range = 0 <= amount < bits
        assert int(got_left) % 2 ** bits == ((value << amount) % 2 ** bits if in_range else 0)
        # Python's >> on ints is arithmetic: past the width, a value keeps only its sign
        assert int(got_right) == value >> (amount if in_range else bits)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, _shapes,
                    elements=st.sampled_from([0.0, 1.0, -2.0, np.nan, np.inf])))
def test_nonzero_argwhere_count_all_any(x):
    t = Tensor(x, dtype=np.float64)
    rows = fastgrad.nonzero(t).arr
    assert rows.dtype == np.int64 and rows.shape == (np.count_nonzero(x), x.ndim)
    assert np.array_equal(rows, fastgrad.argwhere(t).arr)
    assert all(x[tuple(r)] != 0 for r in rows)
    columns = fastgrad.where(t != 0)
    assert len(columns) == max(x.ndim, 1)
    if x.ndim:
        assert np.array_equal(np.stack([c.arr for c in columns], axis=1).reshape(rows.shape), rows)
    assert fastgrad.count_nonzero(t).item() == np.count_nonzero(x)
    dims = tuple(range(x.ndim))[::2]
    if x.ndim:
        assert np.array_equal(fastgrad.all(t, dim=dims).arr, np.all(x, axis=dims))
        assert np.array_equal(fastgrad.any(t, dim=dims, keepdim=True).arr,
                              np.any(x, axis=dims, keepdims=True))
        assert np.array_equal(fastgrad.count_nonzero(t, dim=dims).arr,
                              np.count_nonzero(x, axis=dims))


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.sampled_from([0.0, 1.0, 1.0, 2.0, -3.0, np.nan])),
       descending=st.booleans(), data=st.data())
def test_argsort_is_stable_with_nan_largest(x, descending, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    order = fastgrad.argsort(Tensor(x), dim=dim, descending=descending, stable=True).arr
    moved, index = np.moveaxis(x, dim, -1), np.moveaxis(order, dim, -1)
    for row, idx in zip(moved.reshape(-1, moved.shape[-1]), index.reshape(-1, index.shape[-1])):
        keys = np.where(np.isnan(row), np.inf, row)[idx]  # NaN above inf: ranks, not values
        rank = np.where(np.isnan(row[idx]), 1, 0)
        pairs = list(zip(rank, keys, idx))
        for (r0, k0, i0), (r1, k1, i1) in zip(pairs, pairs[1:]):
            earlier = (r0, k0) < (r1, k1) if not descending else (r0, k0) > (r1, k1)
            assert earlier or ((r0, k0) == (r1, k1) and i0 < i1)


@settings(max_examples=30, deadline=None)
@given(seq=hnp.arrays(np.int64, st.integers(0, 8), elements=st.integers(-5, 5)),
       values=hnp.arrays(np.int64, _shapes, elements=st.integers(-7, 7)), right=st.booleans())
def test_searchsorted_inserts_in_order(seq, values, right):
    seq = np.sort(seq)
    out = fastgrad.searchsorted(Tensor(seq), Tensor(values), right=right).arr
    assert out.shape == values.shape and out.dtype == np.int64
    for v, i in zip(values.ravel(), out.ravel()):
        below, above = seq[:i], seq[i:]
        assert np.all(below <= v if right else below < v)
        assert np.all(above > v if right else above >= v)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.int16, _shapes, elements=st.integers(-3, 3)))
def test_unique_inverse_and_counts_rebuild_the_input(x):
    values, inverse, counts = fastgrad.unique(Tensor(x), return_inverse=True, return_counts=True)
    assert values.dtype == np.int16 and inverse.dtype == counts.dtype == np.int64
    assert np.all(np.diff(values.arr) > 0) and inverse.shape == x.shape
    assert np.array_equal(values.arr[inverse.arr], x) and counts.arr.sum() == x.size
    assert np.array_equal(counts.arr, [np.sum(x == v) for v in values.arr])


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, _shapes, elements=st.floats(-10, 10)), bins=st.integers(1, 7),
       low=st.floats(-5, 0), width=st.floats(0.5, 8))
def test_histc_counts_every_value_in_range_once(x, bins, low, width):
    high = low + width
    hist = fastgrad.histc(Tensor(x, dtype=np.float64), bins=bins, min=low, max=high).arr
    inside = x[(x >= low) & (x <= high)]
    assert hist.dtype == np.float64 and hist.shape == (bins,) and hist.sum() == inside.size
    # every value sits in its bin: [edge_k, edge_k+1), the last bin closed
    for k, count in enumerate(hist):
        lo, hi = low + width * k / bins, low + width * (k + 1) / bins
        near = inside[(inside > lo + 1e-9) & (inside < hi - 1e-9)]
        assert count >= near.size


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.int64, st.integers(0, 12), elements=st.integers(0, 6)),
       minlength=st.integers(0, 9), weighted=st.booleans())
def test_bincount(x, minlength, weighted):
    weights = np.linspace(0.5, 3, x.size).astype(np.float32) if weighted else None
    out = fastgrad.bincount(Tensor(x), None if weights is None else Tensor(weights),
                            minlength=minlength).arr
    assert out.shape == (max(minlength, x.max() + 1 if x.size else 0),)
    assert out.dtype == (np.float32 if weighted else np.int64)
    for value in range(out.size):
        want = weights[x == value].sum() if weighted else np.sum(x == value)
        assert np.isclose(out[value], want)


@settings(max_examples=30, deadline=None)
@given(row=st.integers(0, 6), col=st.integers(0, 6), offset=st.integers(-7, 7))
def test_tril_triu_indices_cover_the_triangles(row, col, offset):
    lower = fastgrad.tril_indices(row, col, offset).arr
    upper = fastgrad.triu_indices(row, col, offset + 1).arr
    assert lower.dtype == upper.dtype == np.int64 and lower.shape[0] == upper.shape[0] == 2
    mask = np.zeros((row, col), dtype=int)
    np.add.at(mask, tuple(lower), 1)
    np.add.at(mask, tuple(upper), 1)
    assert np.all(mask == 1)  # the two triangles tile the matrix exactly once
    assert np.all(lower[1] - lower[0] <= offset) and np.all(upper[1] - upper[0] > offset)


@settings(max_examples=30, deadline=None)
@given(start=st.integers(-50, 50), end=st.integers(-50, 50), steps=st.integers(2, 40))
def test_linspace_int_truncates_the_float_values(start, end, steps):
    ints = fastgrad.linspace(start, end, steps, dtype=fastgrad.int32).arr
    floats = fastgrad.linspace(start, end, steps, dtype=fastgrad.float64).arr
    assert ints.dtype == np.int32 and ints[0] == start and ints[-1] == end
    # toward zero, not down: at most one off where the float is a hair below an integer
    assert np.all(np.abs(ints - np.trunc(floats)) <= 1)
    assert np.all(np.abs(ints) <= np.abs(floats) + 1e-9)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call,error,match", [
    (lambda: fastgrad.tensor([1.5]) & fastgrad.tensor([1]), NotImplementedError,
     "\"bitwise_and_cpu\" not implemented for 'Float'"),
    (lambda: fastgrad.tensor([1]) << 1.5, NotImplementedError, "'Float'"),
    (lambda: fastgrad.tensor([True]) << fastgrad.tensor([True]), NotImplementedError, "'Bool'"),
    (lambda: fastgrad.tensor([1, 2, 3]) ^ fastgrad.tensor([1, 2]), RuntimeError,
     r"size of tensor a \(3\) must match the size of tensor b \(2\)"),
    (lambda: fastgrad.logical_or(fastgrad.ones(2, 3), fastgrad.ones(4)), RuntimeError,
     r"\(2, 3\) and \(4,\)"),
    (lambda: fastgrad.isclose(fastgrad.tensor([1]), fastgrad.tensor([1.0])), RuntimeError,
     "Long did not match Float"),
    (lambda: fastgrad.isclose(fastgrad.ones(2), fastgrad.ones(2), rtol=-0.5), RuntimeError,
     "rtol must be greater than or equal to zero, but got -0.5"),
    (lambda: fastgrad.all(fastgrad.ones(2, 3), dim=2), IndexError, r"range of \[-2, 1\].*got 2"),
    (lambda: fastgrad.count_nonzero(fastgrad.ones(2), dim=(0, 0)), RuntimeError,
     "appears multiple times"),
    (lambda: fastgrad.argsort(fastgrad.ones(2), dim=1), IndexError, "got 1"),
    (lambda: fastgrad.searchsorted(fastgrad.ones(1, 3), fastgrad.ones(2, 1)), RuntimeError,
     r"boundaries tensor \[1, 3\] and input value tensor \[2, 1\]"),
    (lambda: fastgrad.searchsorted(fastgrad.ones(3), 1.0, side="middle"), RuntimeError, "middle"),
    (lambda: fastgrad.searchsorted(fastgrad.ones(3), 1.0, sorter=fastgrad.tensor([0, 1])),
     RuntimeError, r"boundary tensor \[3\]and got sorter tensor \[2\]"),
    (lambda: fastgrad.bincount(fastgrad.tensor([1, -2])), RuntimeError, "min -2"),
    (lambda: fastgrad.bincount(fastgrad.tensor([[1]])), RuntimeError, r"shape \(1, 1\)"),
    (lambda: fastgrad.bincount(fastgrad.tensor([1.0])), NotImplementedError, "'Float'"),
    (lambda: fastgrad.bincount(fastgrad.tensor([1]), fastgrad.ones(2)), RuntimeError,
     r"weights of shape \(2,\), input of shape \(1,\)"),
    (lambda: fastgrad.histc(fastgrad.tensor([1, 2])), NotImplementedError, "'Long'"),
    (lambda: fastgrad.histc(fastgrad.ones(2), bins=0), RuntimeError, "but got 0"),
    (lambda: fastgrad.histc(fastgrad.ones(2), min=3, max=1), RuntimeError, "min=3, max=1"),
    (lambda: fastgrad.histc(fastgrad.tensor([1.0, float("inf")])), RuntimeError,
     r"range of \[1, inf\] is not finite"),
    (lambda: fastgrad.linspace(0, 1, 3, dtype=fastgrad.bool), NotImplementedError, "'Bool'"),
    (lambda: fastgrad.linspace(0, 1, -2), RuntimeError, "got -2"),
    (lambda: fastgrad.tril_indices(-1, 3), RuntimeError, "row must be non-negative, got -1"),
    (lambda: fastgrad.triu_indices(3, -2), RuntimeError, "col must be non-negative, got -2"),
    (lambda: fastgrad.rand_like(fastgrad.tensor([1])), NotImplementedError, "'Long'"),
    (lambda: fastgrad.where(fastgrad.tensor([True]), fastgrad.ones(1)), TypeError, "condition"),
])
def test_bad_input_raises_pytorchs_error_naming_the_fault(call, error, match):
    with pytest.raises(error, match=match):
        call()
