"""max_pool2d / avg_pool2d: numba kernels against the naive reference, gradcheck, ties, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck
from fastgrad.nn import functional as F


def distinct(shape, seed=0):
    """float64 values that are all different, so the argmax of every window is unique."""
    rng = np.random.default_rng(seed)
    values = rng.permutation(int(np.prod(shape))).astype(np.float64) / 7.0 - 3.0
    return fastgrad.tensor(values.reshape(shape), dtype=fastgrad.float64, requires_grad=True)


CASES = [
    ((1, 1, 4, 4), 2, None, 0),
    ((2, 3, 7, 5), 3, 2, 1),       # windows that do not divide the input
    ((1, 2, 6, 9), (2, 3), (1, 2), (1, 1)),  # stride < kernel: overlapping windows
    ((3, 1, 5, 5), 3, 1, 1),
    ((1, 1, 28, 28), 2, 2, 0),
]


@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_max_pool_matches_naive_and_gradcheck(shape, kernel, stride, padding):
    x = distinct(shape)
    fast = F.max_pool2d(x, kernel, stride, padding)
    naive = F.max_pool2d_naive(x, kernel, stride, padding)
    np.testing.assert_array_equal(fast.arr, naive.arr)
    assert gradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding), [x])
    assert gradcheck(lambda x: F.max_pool2d_naive(x, kernel, stride, padding), [x])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 10), w=st.integers(1, 10),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 2**16),
       ties=st.booleans())
def test_kernel_and_naive_agree_on_random_geometry(n, c, h, w, kh, kw, sh, sw, ph, pw, seed, ties):
    if ph > kh // 2 or pw > kw // 2 or h + 2 * ph < kh or w + 2 * pw < kw:
        return  # invalid geometry: covered by the error tests
    rng = np.random.default_rng(seed)
    if ties:  # few distinct values: most windows hold a tie
        x = fastgrad.tensor(rng.integers(0, 3, (n, c, h, w)).astype(np.float64), requires_grad=True,
                            dtype=fastgrad.float64)
    else:
        x = distinct((n, c, h, w), seed)
    cotangent = fastgrad.tensor(rng.standard_normal(F.max_pool2d_naive(x, (kh, kw), (sh, sw), (ph, pw)).shape),
                                dtype=fastgrad.float64)
    results = []
    for pool in (F.max_pool2d, F.max_pool2d_naive):
        x.grad = None
        out = pool(x, (kh, kw), (sh, sw), (ph, pw))
        (out * cotangent).sum().backward()
        results.append((out.arr, x.grad.arr))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.max_pool2d_naive])
def test_ties_go_to_the_first_maximum(pool):
    # An all-zero window (most early MNIST windows) and a window with a repeated maximum.
    x = fastgrad.tensor([[[[0.0, 0.0, 1.0, 5.0],
                           [0.0, 0.0, 5.0, 2.0]]]], dtype=fastgrad.float64, requires_grad=True)
    out = pool(x, 2)
    np.testing.assert_array_equal(out.arr, [[[[0.0, 5.0]]]])
    (out * fastgrad.tensor([[[[2.0, 3.0]]]], dtype=fastgrad.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.arr, [[[[2.0, 0.0, 0.0, 3.0],
                                                  [0.0, 0.0, 0.0, 0.0]]]])


def test_return_indices_are_flat_plane_indices():
    x = distinct((2, 3, 6, 5))
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    assert indices.dtype == np.int64 and indices.shape == out.shape
    flat = x.arr.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, indices.arr.reshape(2, 3, -1), axis=2),
                                  out.arr.reshape(2, 3, -1))


def test_nan_propagates_like_pytorch():
    x = fastgrad.tensor([[[[1.0, np.nan], [3.0, 2.0]]]])
    assert np.isnan(F.max_pool2d(x, 2).arr).all()


def test_padding_counts_as_minus_infinity():
    x = fastgrad.tensor(-np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(F.max_pool2d(x, 2, 1, 1).arr, -np.ones((1, 1, 3, 3)))


def test_float32_stays_float32_and_unbatched_works():
    x = fastgrad.randn(3, 8, 8, requires_grad=True)
    out = F.max_pool2d(x, 2)
    assert out.shape == (3, 4, 4) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.arr.sum() == pytest.approx(48)
    assert F.avg_pool2d(x, 2).dtype == np.float32


def _avg_reference(x, k, s, p):
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n, c, h, w = x.shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = padded[:, :, i * s:i * s + k, j * s:j * s + k].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("shape, kernel, stride, padding", [((2, 3, 7, 5), 3, 2, 1), ((1, 1, 6, 6), 2, 2, 0),
                                                           ((1, 2, 5, 5), 3, 1, 1)])
def test_avg_pool_matches_reference_and_gradcheck(shape, kernel, stride, padding):
    x = distinct(shape)
    np.testing.assert_allclose(F.avg_pool2d(x, kernel, stride, padding).arr,
                               _avg_reference(x.arr, kernel, stride, padding), rtol=1e-12)
    assert gradcheck(lambda x: F.avg_pool2d(x, kernel, stride, padding), [x])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.max_pool2d_naive, F.avg_pool2d])
def test_bad_arguments_raise_clear_errors(pool):
    x = fastgrad.randn(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"pad should be at most half of effective kernel size, but got pad=\(2, 2\)"):
        pool(x, 3, 1, 2)
    with pytest.raises(RuntimeError, match=r"stride must be greater than zero, but got \(0, 0\)"):
        pool(x, 2, 0)
    with pytest.raises(RuntimeError, match=r"kernel_size must be greater than zero"):
        pool(x, 0)
    with pytest.raises(RuntimeError, match=r"padding must be non-negative"):
        pool(x, 2, 2, -1)
    with pytest.raises(RuntimeError, match=r"Given input size: \(3x5x5\). Calculated output size: \(3x0x0\)"):
        pool(x, 6)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D .* shape \(5, 5\)"):
        pool(fastgrad.randn(5, 5), 2)
    if pool is F.avg_pool2d:
        with pytest.raises(TypeError, match="must be a float tensor.*int64"):
            pool(fastgrad.zeros(1, 1, 4, 4, dtype=fastgrad.int64), 2)
    else:  # max pools take integers (forward only), as PyTorch; bool has no kernel there
        with pytest.raises(NotImplementedError, match='"max_pool2d" not implemented for dtype bool'):
            pool(fastgrad.zeros(1, 1, 4, 4, dtype=fastgrad.bool), 2)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair of ints"):
        pool(x, 2.5)
    with pytest.raises(RuntimeError, match=r"kernel_size must be an int or a pair of ints, got \(1, 2, 3\)"):
        pool(x, (1, 2, 3))


def test_pool_modules():
    x = distinct((2, 3, 8, 8))
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1, impl="naive")(x).arr, nn.MaxPool2d(3, 2, 1)(x).arr)
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).arr, _avg_reference(x.arr, 2, 2, 0))
    # PyTorch's reprs
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(3, 2, 1, True, False, 5)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"


@pytest.mark.parametrize("serial_max", [0, 10**9])
@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2)])
def test_max_pool_same_result_on_any_number_of_threads(kernel, stride, num_threads, serial_max,
                                                       monkeypatch):
    from fastgrad.ops import pooling

    monkeypatch.setattr(pooling, "_SERIAL_MAX_ELEMENTS", serial_max)
    rng = np.random.default_rng(3)
    x = fastgrad.tensor(rng.integers(0, 3, (5, 3, 11, 11)).astype(np.float32), requires_grad=True)
    cotangent = fastgrad.tensor(rng.standard_normal(F.max_pool2d(x, kernel, stride).shape),
                                dtype=fastgrad.float32)
    before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(num_threads)
    try:
        out = F.max_pool2d(x, kernel, stride)
        out.backward(cotangent)
    finally:
        fastgrad.set_num_threads(before)
    naive_x = fastgrad.tensor(x.arr, requires_grad=True)
    naive = F.max_pool2d_naive(naive_x, kernel, stride)
    naive.backward(cotangent)
    np.testing.assert_array_equal(out.arr, naive.arr)
    np.testing.assert_array_equal(x.grad.arr, naive_x.grad.arr)


def test_max_pool_module_returns_indices_when_asked():
    x = fastgrad.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    out, indices = nn.MaxPool2d(2, return_indices=True)(x)
    assert out.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert indices.dtype == np.int64 and indices.tolist() == [[[[5, 7], [13, 15]]]]
    assert not isinstance(nn.MaxPool2d(2)(x), tuple)
    naive_out, naive_indices = nn.MaxPool2d(2, return_indices=True, impl="naive")(x)
    assert naive_indices.tolist() == indices.tolist() and naive_out.tolist() == out.tolist()


@pytest.mark.parametrize("pool", [F.max_pool2d, F.max_pool2d_naive, F.avg_pool2d])
def test_pools_take_an_empty_batch(pool):
    x = fastgrad.zeros(0, 3, 4, 4, requires_grad=True)
    y = pool(x, 2)
    assert y.shape == (0, 3, 2, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 4, 4)
