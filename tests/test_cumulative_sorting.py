"""cumsum / cumprod / cummax / cummin / logcumsumexp and sort / topk / kthvalue / median /
mode: the op contract (gradcheck and gradgradcheck in float64 on 0-d, empty, size-1 shapes),
NumPy oracles on random shapes (hypothesis), PyTorch's tie and NaN rules. (PyTorch's own
values and gradients: test_indexsort_torch.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
from fastgrad.testing import check_op

RNG = np.random.default_rng(1)
X = RNG.standard_normal((3, 5))
WITH_ZEROS = X.copy()
WITH_ZEROS[0, 1] = WITH_ZEROS[1, 0] = WITH_ZEROS[1, 3] = WITH_ZEROS[2, 4] = 0
SHAPES = [((),), ((1, 1),), ((3, 0),)]  # extra values drawn from X may tie: no longer rows


def _f64(values):
    return fastgrad.tensor(values, dtype=fastgrad.float64)


@pytest.mark.parametrize("op", [
    lambda x: x.cumsum(-1), lambda x: fastgrad.cumsum(x, 0), lambda x: x.cumprod(-1),
    lambda x: fastgrad.cumprod(x, 0), lambda x: x.cummax(-1).values,
    lambda x: fastgrad.cummin(x, 0).values, lambda x: x.logcumsumexp(-1),
    lambda x: fastgrad.logcumsumexp(x * 40, 0),
], ids=["cumsum", "cumsum0", "cumprod", "cumprod0", "cummax", "cummin0", "logcumsumexp",
        "logcumsumexp_large"])
def test_scans_contract(op):
    check_op(op, X, extra_shapes=SHAPES)


def test_cumprod_gradient_with_zeros_and_second_order():
    check_op(lambda x: x.cumprod(-1), WITH_ZEROS)
    check_op(lambda x: x.cumprod(0), WITH_ZEROS)
    check_op(lambda x: x.cumprod(0), np.zeros((3, 2)))  # every element zero


def test_logcumsumexp_is_finite_where_exp_overflows():
    x = fastgrad.tensor([-1000.0, 1000.0, 0.0, 1000.0], dtype=fastgrad.float64,
                        requires_grad=True)
    y = x.logcumsumexp(0)
    np.testing.assert_allclose(y.arr, [-1000.0, 1000.0, 1000.0, 1000.0 + np.log(2)])
    y.backward(_f64([1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_allclose(x.grad.arr, [1.0, 2.5, 0.0, 0.5])
    z = fastgrad.tensor([-np.inf, -np.inf, 1.0], dtype=fastgrad.float64, requires_grad=True)
    z.logcumsumexp(0).backward(_f64([1.0, -2.0, 1.0]))
    np.testing.assert_array_equal(z.grad.arr, [0.0, 0.0, 1.0])


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       data=st.data())
def test_scans_match_numpy(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64)  # ties and zeros
    t = _f64(x)
    np.testing.assert_allclose(t.cumsum(dim).arr, np.cumsum(x, dim))
    np.testing.assert_allclose(t.cumprod(dim).arr, np.cumprod(x, dim))
    values, indices = t.cummax(dim)
    np.testing.assert_array_equal(values.arr, np.maximum.accumulate(x, dim))
    assert indices.shape == x.shape and indices.dtype == np.int64
    # the index is the last position up to j holding the running maximum (PyTorch's rule)
    rows = np.moveaxis(x, dim, -1).reshape(-1, x.shape[dim]) if x.size else np.zeros((0, 0))
    expected = [[max(i for i in range(j + 1) if row[i] == max(row[:j + 1]))
                 for j in range(len(row))] for row in rows]
    got = np.moveaxis(indices.arr, dim, -1).reshape(rows.shape) if x.size else rows
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.int64).reshape(rows.shape))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(t.logcumsumexp(dim).arr, np.log(np.cumsum(np.exp(x), dim)))


def test_cummax_cummin_nan_and_ties_as_pytorch():
    values, indices = fastgrad.cummax(_f64([1, 3, 3, np.nan, 5, np.nan, 2]), 0)
    np.testing.assert_array_equal(indices.arr, [0, 1, 2, 3, 3, 5, 5])
    assert np.isnan(values.arr[3:]).all()
    assert indices.dtype == np.int64
    values, indices = fastgrad.cummin(fastgrad.tensor([2, 2, 1, 1, 3]), 0)
    np.testing.assert_array_equal(values.arr, [2, 2, 1, 1, 1])
    np.testing.assert_array_equal(indices.arr, [0, 1, 2, 3, 3])


@pytest.mark.parametrize("op", [
    lambda x: x.sort(-1).values, lambda x: fastgrad.sort(x, 0, descending=True)[0],
    lambda x: x.topk(1, -1).values, lambda x: fastgrad.topk(x, 1, 0, largest=False)[0],
    lambda x: x.kthvalue(1, -1).values, lambda x: x.median(-1).values,
    lambda x: fastgrad.median(x), lambda x: x.mode(-1).values,
], ids=["sort", "sort_desc", "topk", "topk_smallest", "kthvalue", "median_dim", "median",
        "mode"])
def test_order_statistics_contract(op):
    check_op(op, X, extra_shapes=[((),), ((1, 1),)])


def test_sorts_of_empty_slices():
    check_op(lambda x: x.sort(-1).values, np.zeros((0, 3)))
    check_op(lambda x: x.topk(0).values, X)
    assert np.isnan(fastgrad.median(fastgrad.zeros(0)).item())
    with pytest.raises(IndexError):
        fastgrad.zeros(2, 0).median(1)
    with pytest.raises(IndexError):
        fastgrad.zeros(2, 0).mode(1)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 4), n=st.integers(1, 7), seed=st.integers(0, 2**16),
       descending=st.booleans())
def test_sort_topk_kthvalue_median_mode_match_numpy(rows, n, seed, descending):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (rows, n)).astype(np.float64)
    t = _f64(x)
    values, indices = t.sort(1, descending=descending)
    order = np.argsort(-x if descending else x, axis=1, kind="stable")
    np.testing.assert_array_equal(indices.arr, order)
    np.testing.assert_array_equal(values.arr, np.take_along_axis(x, order, 1))
    k = int(rng.integers(1, n + 1))
    np.testing.assert_array_equal(t.topk(k, 1, largest=descending).values.arr,
                                  np.take_along_axis(x, order, 1)[:, :k])
    np.testing.assert_array_equal(t.kthvalue(k, 1).values.arr, np.sort(x, 1)[:, k - 1])
    np.testing.assert_array_equal(t.median(1).values.arr, np.sort(x, 1)[:, (n - 1) // 2])
    mode_values, mode_indices = t.mode(1)
    for r in range(rows):
        uniques, counts = np.unique(x[r], return_counts=True)
        assert mode_values.arr[r] == uniques[np.argmax(counts)]  # the smallest most frequent
        assert mode_indices.arr[r] == np.flatnonzero(x[r] == mode_values.arr[r])[-1]


def test_median_is_the_lower_median_and_nan_wins():
    assert fastgrad.tensor([4.0, 1.0, 3.0, 2.0]).median().item() == 2.0
    values, indices = _f64([[4, np.nan, 1, np.nan]]).median(1)
    assert np.isnan(values.arr[0]) and indices.arr[0] == 1


@pytest.mark.parametrize("call, error", [
    (lambda: fastgrad.topk(fastgrad.ones(4), 5), RuntimeError),
    (lambda: fastgrad.kthvalue(fastgrad.ones(4), 0), RuntimeError),
    (lambda: fastgrad.sort(fastgrad.ones(4), 1), IndexError),
    (lambda: fastgrad.cumsum(fastgrad.ones(2, 2), 2), IndexError),
    (lambda: fastgrad.logcumsumexp(fastgrad.tensor([1, 2]), 0), NotImplementedError),
])
def test_errors(call, error):
    with pytest.raises(error):
        call()
