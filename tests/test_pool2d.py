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


# ---------------------------------------------------------------- dilation, ceil_mode, avg rules
def _valid_geometry(h, w, kh, kw, sh, sw, ph, pw, dh=1, dw=1, ceil_mode=False):
    from fastgrad.ops.conv_geometry import pool2d_geometry

    try:
        pool2d_geometry((1, 1, h, w), (kh, kw), (sh, sw), (ph, pw), "pool", (dh, dw), ceil_mode)
    except RuntimeError:
        return False
    return True


def _input(shape, seed, ties):
    rng = np.random.default_rng(seed)
    if ties:  # MNIST-like: mostly zeros, so most windows hold a tie
        values = rng.integers(0, 3, shape) * (rng.random(shape) < 0.3)
        return fastgrad.tensor(values.astype(np.float64), dtype=fastgrad.float64, requires_grad=True)
    return distinct(shape, seed)


def _forward_backward(pool, x, cotangent, **kwargs):
    x.grad = None
    result = pool(x, **kwargs)
    out, indices = result if isinstance(result, tuple) else (result, None)
    out.backward(cotangent)
    return out.arr, None if indices is None else indices.arr, x.grad.arr


geometries = dict(n=st.integers(0, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
                  kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 5), sw=st.integers(1, 5),
                  ph=st.integers(0, 2), pw=st.integers(0, 2), ceil_mode=st.booleans(),
                  seed=st.integers(0, 2**16), ties=st.booleans())


@settings(max_examples=60, deadline=None)
@given(dh=st.integers(1, 3), dw=st.integers(1, 3), unbatched=st.booleans(), **geometries)
def test_max_pool_with_dilation_and_ceil_mode_matches_naive(n, c, h, w, kh, kw, sh, sw, ph, pw,
                                                            dh, dw, ceil_mode, seed, ties, unbatched):
    if not _valid_geometry(h, w, kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode):
        return  # invalid geometry: covered by the error tests
    x = _input((c, h, w) if unbatched else (n, c, h, w), seed, ties)
    kwargs = dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw),
                  ceil_mode=ceil_mode, return_indices=True)
    expected_shape = F.max_pool2d_naive(x, **kwargs)[0].shape
    cotangent = fastgrad.tensor(np.random.default_rng(seed).standard_normal(expected_shape),
                                dtype=fastgrad.float64)
    fast = _forward_backward(F.max_pool2d, x, cotangent, **kwargs)
    naive = _forward_backward(F.max_pool2d_naive, x, cotangent, **kwargs)
    np.testing.assert_array_equal(fast[0], naive[0])
    np.testing.assert_array_equal(fast[1], naive[1])
    np.testing.assert_allclose(fast[2], naive[2], rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(count_include_pad=st.booleans(), divisor_override=st.sampled_from([None, 1, 3, -2]),
       **geometries)
def test_avg_pool_rules_match_naive(n, c, h, w, kh, kw, sh, sw, ph, pw, ceil_mode, seed, ties,
                                    count_include_pad, divisor_override):
    if not _valid_geometry(h, w, kh, kw, sh, sw, ph, pw, ceil_mode=ceil_mode):
        return
    x = _input((n, c, h, w), seed, ties)
    kwargs = dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw), ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor_override)
    shape = F.avg_pool2d(x, **kwargs).shape
    cotangent = fastgrad.tensor(np.random.default_rng(seed).standard_normal(shape),
                                dtype=fastgrad.float64)
    from fastgrad.ops.naive import avg_pool2d_naive

    fast = _forward_backward(F.avg_pool2d, x, cotangent, **kwargs)
    naive = _forward_backward(avg_pool2d_naive, x, cotangent, **kwargs)
    np.testing.assert_allclose(fast[0], naive[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[2], naive[2], rtol=1e-12, atol=1e-12)


def test_ceil_mode_window_past_the_padding_is_counted_as_pytorch():
    # 5 wide, kernel 3, stride 2, padding 1, ceil mode: windows start at -1, 1, 3 (the last
    # runs to 5, one past the right padding): PyTorch divides it by 2*3 = 6 with
    # count_include_pad (input + padding part), by 2*2 = 4 without.
    x = fastgrad.ones(1, 1, 2, 5, dtype=fastgrad.float64)
    with_pad = F.avg_pool2d(x, (2, 3), (2, 2), (1, 1), ceil_mode=True)
    assert with_pad.shape == (1, 1, 2, 3)
    np.testing.assert_allclose(with_pad.arr[0, 0, 0], [2 / 6, 3 / 6, 2 / 6])
    without = F.avg_pool2d(x, (2, 3), (2, 2), (1, 1), ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(without.arr, np.ones((1, 1, 2, 3)))
    np.testing.assert_allclose(F.avg_pool2d(x, 2, divisor_override=3).arr, [[[[4 / 3, 4 / 3]]]])


def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding():
    # H = 4, k = 2, s = 2, p = 1: (4 + 2 - 2 + 1)//2 + 1 = 3 windows would start at -1, 1, 3;
    # with ceil mode a 4th (start 5) is dropped by PyTorch's rule, floor mode gives 3 too.
    x = fastgrad.randn(1, 1, 4, 4)
    assert F.max_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(fastgrad.randn(1, 1, 5, 5), 2, 2, 0, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(fastgrad.randn(1, 1, 5, 5), 2, 2, 0).shape == (1, 1, 2, 2)
    # 5 wide, kernel 2, stride 4, padding 1, ceil: starts -1, 3, (7 >= 5 + 1: dropped)
    assert F.avg_pool2d(fastgrad.randn(1, 1, 5, 5), 2, 4, 1, ceil_mode=True).shape == (1, 1, 2, 2)


def test_stride_larger_than_kernel_skips_elements():
    x = fastgrad.tensor(np.arange(36.0).reshape(1, 1, 6, 6), dtype=fastgrad.float64, requires_grad=True)
    out, indices = F.max_pool2d(x, 2, 4, return_indices=True)
    assert out.tolist() == [[[[7.0, 11.0], [31.0, 35.0]]]]
    assert indices.tolist() == [[[[7, 11], [31, 35]]]]
    out.sum().backward()
    assert x.grad.arr.sum() == 4 and x.grad.arr[0, 0, 1, 1] == 1


def test_dilation_picks_spaced_taps():
    x = fastgrad.tensor(np.arange(25.0).reshape(1, 1, 5, 5)[..., ::-1].copy(), dtype=fastgrad.float64)
    out, indices = F.max_pool2d(x, 2, 1, 0, dilation=3, return_indices=True)
    # taps (0, 0), (0, 3), (3, 0), (3, 3) of each window: the row-reversed plane's max is at
    # the window's bottom-left tap.
    np.testing.assert_array_equal(indices.arr, [[[[15, 16], [20, 21]]]])
    np.testing.assert_array_equal(out.arr, x.arr.reshape(1, 1, 25)[:, :, [[15, 16], [20, 21]]])


def test_max_pool_nan_propagates_with_padding_dilation_and_ceil_mode():
    x = fastgrad.tensor(np.arange(30.0).reshape(1, 1, 5, 6), dtype=fastgrad.float64)
    x.arr[0, 0, 4, 5] = np.nan
    out, indices = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    assert np.isnan(out.arr[0, 0, -1, -1]) and indices.arr[0, 0, -1, -1] == 29
    assert not np.isnan(out.arr[0, 0, :-1]).any()


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
def test_max_pool_on_integers_forward_only(dtype):
    values = np.random.default_rng(0).integers(0, 100, (2, 3, 7, 6)).astype(dtype)
    x = fastgrad.tensor(values)
    for kwargs in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                   dict(kernel_size=2, stride=1, dilation=2)]:
        out, indices = F.max_pool2d(x, return_indices=True, **kwargs)
        naive_out, naive_indices = F.max_pool2d_naive(x, return_indices=True, **kwargs)
        assert out.dtype == dtype and not out.requires_grad
        np.testing.assert_array_equal(out.arr, naive_out.arr)
        np.testing.assert_array_equal(indices.arr, naive_indices.arr)


@pytest.mark.parametrize("pool", [lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2),
                                  lambda x: F.max_pool2d(x, 2, return_indices=True)[0],
                                  lambda x: F.max_pool2d_naive(x, 2)])
def test_unbatched_output_is_not_a_view_of_a_temporary(pool):
    # issue 12: an in-place op on the output must work, as in PyTorch, and still backprop.
    x = fastgrad.rand(2, 4, 4, requires_grad=True)
    y = pool(x)
    assert y.shape == (2, 2, 2) and y._base is None
    y.add_(1.0)
    y.backward(fastgrad.ones(2, 2, 2))
    assert x.grad.shape == (2, 4, 4) and x.grad.arr.sum() == pytest.approx(8)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
                                    dict(kernel_size=(2, 3), stride=(3, 1), padding=(1, 0), ceil_mode=True)])
def test_max_pool_gradcheck_with_new_arguments(kwargs):
    from fastgrad.testing import check_op

    x = distinct((2, 2, 7, 6)).arr
    check_op(lambda x: F.max_pool2d(x, **kwargs), x, name="max_pool2d",
             extra_shapes=[((0, 2, 7, 6),), ((2, 7, 6),)])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False),
                                    dict(kernel_size=(2, 3), stride=(3, 1), padding=(1, 1),
                                         divisor_override=4)])
def test_avg_pool_gradcheck_with_new_arguments(kwargs):
    from fastgrad.testing import check_op

    x = distinct((2, 2, 7, 6)).arr
    check_op(lambda x: F.avg_pool2d(x, **kwargs), x, name="avg_pool2d",
             extra_shapes=[((0, 2, 7, 6),), ((2, 7, 6),)])


def test_errors_for_the_new_arguments():
    x = fastgrad.randn(1, 1, 4, 4)
    with pytest.raises(RuntimeError, match=r"dilation must be greater than zero, but got \(0, 1\)"):
        F.max_pool2d(x, 2, dilation=(0, 1))
    with pytest.raises(TypeError, match="dilation must be an int or a pair of ints"):
        F.max_pool2d(x, 2, dilation=1.5)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="'divisor_override' must be int, not float"):
        F.avg_pool2d(x, 2, divisor_override=2.5)
    # a dilated window starting in the padding that holds no input element (PyTorch returns
    # -inf with an index outside the plane): refused
    with pytest.raises(RuntimeError, match=r"holds no element of the \(1x3\) input"):
        F.max_pool2d(fastgrad.randn(1, 1, 1, 3), 2, 1, 1, dilation=2)
    with pytest.raises(RuntimeError, match=r"Calculated output size: \(1x4x0\)"):
        F.max_pool2d(x, (1, 3), dilation=(1, 2))


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pool_arguments_may_be_numpy_integers(pool):
    # PyTorch takes NumPy integers for kernel_size / stride / padding; a NumPy scalar stride
    # used to be compared with [] elementwise (ValueError).
    f = getattr(fastgrad.nn.functional, pool)
    x = fastgrad.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9)))
    got = f(x, np.int32(2), stride=np.uint16(2), padding=np.int8(1))
    np.testing.assert_array_equal(got.arr, f(x, 2, stride=2, padding=1).arr)
    np.testing.assert_array_equal(f(x, 3, stride=[]).arr, f(x, 3).arr)  # empty: the default
