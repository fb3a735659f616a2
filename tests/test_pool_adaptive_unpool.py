"""adaptive_avg_pool1d/2d, adaptive_max_pool2d, max_unpool2d and the 1-D pools: against the
naive loop reference (fastgrad/ops/naive.py), gradcheck, PyTorch's modules, reprs and errors.
(PyTorch's own numbers for the same rules: test_pool_torch_reference.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.ops.naive import (adaptive_avg_pool2d_naive, adaptive_max_pool2d_naive,
                                avg_pool2d_naive, max_pool2d_naive, max_unpool2d_naive)
from fastgrad.testing import check_op


def _values(shape, seed, ties):
    rng = np.random.default_rng(seed)
    if ties:  # mostly zeros, as MNIST: ties in most windows
        return (rng.integers(0, 3, shape) * (rng.random(shape) < 0.3)).astype(np.float64)
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 5.0 - 2.0


def _run(pool, values, cotangent_seed, **kwargs):
    x = fastgrad.tensor(values, dtype=fastgrad.float64, requires_grad=True)
    result = pool(x, **kwargs)
    out, indices = result if isinstance(result, tuple) else (result, None)
    out.backward(fastgrad.tensor(np.random.default_rng(cotangent_seed).standard_normal(out.shape),
                                 dtype=fastgrad.float64))
    return out.arr, None if indices is None else indices.arr, x.grad.arr


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       oh=st.integers(0, 11), ow=st.integers(0, 11), seed=st.integers(0, 2**16),
       ties=st.booleans(), unbatched=st.booleans())
def test_adaptive_pools_match_naive_for_any_output_size(n, c, h, w, oh, ow, seed, ties, unbatched):
    values = _values((c, h, w) if unbatched else (n, c, h, w), seed, ties)
    fast = _run(F.adaptive_max_pool2d, values, seed, output_size=(oh, ow), return_indices=True)
    naive = _run(adaptive_max_pool2d_naive, values, seed, output_size=(oh, ow), return_indices=True)
    for a, b in zip(fast, naive):
        np.testing.assert_array_equal(a, b)
    fast = _run(F.adaptive_avg_pool2d, values, seed, output_size=(oh, ow))
    naive = _run(adaptive_avg_pool2d_naive, values, seed, output_size=(oh, ow))
    np.testing.assert_allclose(fast[0], naive[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[2], naive[2], rtol=1e-12, atol=1e-12)


def test_adaptive_windows_overlap_when_the_size_does_not_divide():
    # 5 -> 3: windows [0, 2), [1, 4), [3, 5)
    x = fastgrad.tensor(np.arange(5.0).reshape(1, 1, 1, 5), dtype=fastgrad.float64)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (1, 3)).arr, [[[[0.5, 2.0, 3.5]]]])
    out, indices = F.adaptive_max_pool2d(x, (1, 3), return_indices=True)
    assert out.tolist() == [[[[1.0, 3.0, 4.0]]]] and indices.tolist() == [[[[1, 3, 4]]]]
    # 2 -> 5 (larger than the input): windows [0,1), [0,1), [0,2), [1,2), [1,2)
    y = fastgrad.tensor([[[[1.0, 3.0]]]], dtype=fastgrad.float64)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(y, (1, 5)).arr, [[[[1, 1, 2, 3, 3]]]])
    assert F.adaptive_avg_pool2d(fastgrad.randn(2, 3, 5, 7), (None, 2)).shape == (2, 3, 5, 2)
    assert F.adaptive_avg_pool2d(fastgrad.randn(2, 3, 5, 7), 0).shape == (2, 3, 0, 0)


def test_adaptive_max_nan_propagates_and_ties_go_first():
    x = fastgrad.tensor([[[[0.0, 0.0, 0.0, np.nan], [0.0, 0.0, 1.0, 1.0]]]], dtype=fastgrad.float64)
    out, indices = F.adaptive_max_pool2d(x, (1, 2), return_indices=True)
    assert out.arr[0, 0, 0, 0] == 0.0 and indices.arr[0, 0, 0, 0] == 0
    assert np.isnan(out.arr[0, 0, 0, 1]) and indices.arr[0, 0, 0, 1] == 3


def _rows(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h * w)


@pytest.mark.parametrize("op", [lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
                                lambda x: F.adaptive_max_pool2d(x, (3, 4)),
                                lambda x: F.adaptive_avg_pool1d(_rows(x), 5),
                                lambda x: F.max_pool1d(_rows(x), 3, 2, 1, 2, True),
                                lambda x: F.avg_pool1d(_rows(x), 3, 2, 1, True, False)])
def test_gradcheck(op):
    values = _values((2, 2, 5, 7), 0, ties=False)
    check_op(op, values, extra_shapes=[((0, 2, 5, 7),)])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 2), c=st.integers(1, 3), length=st.integers(1, 12), k=st.integers(1, 4),
       s=st.integers(1, 5), p=st.integers(0, 2), d=st.integers(1, 3), ceil_mode=st.booleans(),
       count_include_pad=st.booleans(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_1d_pools_are_the_2d_reference_on_rows(n, c, length, k, s, p, d, ceil_mode,
                                               count_include_pad, seed, ties):
    values = _values((n, c, length), seed, ties)
    rows = values[:, :, None, :]
    max_kwargs = dict(stride=(1, s), padding=(0, p), dilation=(1, d), ceil_mode=ceil_mode,
                      return_indices=True)
    try:
        naive = _run(max_pool2d_naive, rows, seed, kernel_size=(1, k), **max_kwargs)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            F.max_pool1d(fastgrad.tensor(values), k, s, p, d, ceil_mode)
        return
    fast = _run(F.max_pool1d, values, seed, kernel_size=k, stride=s, padding=p, dilation=d,
                ceil_mode=ceil_mode, return_indices=True)
    np.testing.assert_array_equal(fast[0], naive[0][:, :, 0])
    np.testing.assert_array_equal(fast[1], naive[1][:, :, 0])
    np.testing.assert_allclose(fast[2], naive[2][:, :, 0], rtol=1e-12, atol=1e-12)
    if d == 1:
        avg_kwargs = dict(ceil_mode=ceil_mode, count_include_pad=count_include_pad)
        naive = _run(avg_pool2d_naive, rows, seed, kernel_size=(1, k), stride=(1, s),
                     padding=(0, p), **avg_kwargs)
        fast = _run(F.avg_pool1d, values, seed, kernel_size=k, stride=s, padding=p, **avg_kwargs)
        np.testing.assert_allclose(fast[0], naive[0][:, :, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fast[2], naive[2][:, :, 0], rtol=1e-12, atol=1e-12)
    naive = _run(adaptive_avg_pool2d_naive, rows, seed, output_size=(1, k + s))
    fast = _run(F.adaptive_avg_pool1d, values, seed, output_size=k + s)
    np.testing.assert_allclose(fast[0], naive[0][:, :, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[2], naive[2][:, :, 0], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ max_unpool2d
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 2), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9),
       k=st.integers(2, 3), s=st.integers(1, 3), p=st.integers(0, 1), extra=st.integers(0, 2),
       seed=st.integers(0, 2**16), ties=st.booleans(), unbatched=st.booleans())
def test_max_unpool_inverts_max_pool_and_matches_naive(n, c, h, w, k, s, p, extra, seed, ties,
                                                       unbatched):
    values = _values((c, h, w) if unbatched else (n, c, h, w), seed, ties)
    x = fastgrad.tensor(values, dtype=fastgrad.float64)
    try:
        pooled, indices = F.max_pool2d(x, k, s, p, return_indices=True)
    except RuntimeError:
        return  # invalid geometry
    default = [(size - 1) * s - 2 * p + k for size in pooled.shape[-2:]]
    size = [min(d + extra, d + s - 1) for d in default]
    if indices.arr.size and indices.arr.max() >= size[0] * size[1]:
        # a plane smaller than the pooled one's indices (PyTorch raises the same)
        with pytest.raises(RuntimeError, match="Found an invalid max index"):
            F.max_unpool2d(pooled, indices, k, s, p, size)
        return
    fast = _run(F.max_unpool2d, pooled.arr, seed, indices=indices, kernel_size=k, stride=s,
                padding=p, output_size=size)
    naive = _run(max_unpool2d_naive, pooled.arr, seed, indices=indices, kernel_size=k, stride=s,
                 padding=p, output_size=size)
    assert fast[0].shape == x.shape[:-2] + tuple(size)
    np.testing.assert_array_equal(fast[0], naive[0])
    np.testing.assert_array_equal(fast[2], naive[2])
    if s == k and p == 0 and size == list(x.shape[-2:]) and not ties:
        # non-overlapping windows: every maximum goes back where it came from
        kept = fast[0] != 0
        np.testing.assert_array_equal(fast[0][kept], values[kept])


def test_max_unpool_gradcheck_and_module():
    x = fastgrad.tensor(_values((2, 3, 6, 5), 1, False), dtype=fastgrad.float64)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    pooled, indices = pool(x)
    check_op(lambda p: F.max_unpool2d(p, indices, 2, output_size=(6, 5)), pooled.arr)
    out = unpool(pooled, indices, output_size=x.shape)
    assert out.shape == (2, 3, 6, 5)
    np.testing.assert_array_equal(out.arr, F.max_unpool2d(pooled, indices, 2, output_size=(6, 5)).arr)
    assert repr(unpool) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    y = F.max_unpool2d(pooled[0], indices[0], 2, output_size=(6, 5))  # unbatched
    assert y.shape == (3, 6, 5) and y._base is None
    np.testing.assert_array_equal(y.arr, out.arr[0])
    in_default_plane = fastgrad.tensor(indices.arr[0] % 24)
    assert F.max_unpool2d(pooled[0], in_default_plane, 2).shape == (3, 6, 4)  # default size


def test_max_unpool_errors_as_pytorch():
    plane = fastgrad.tensor(np.arange(32.0).reshape(1, 2, 4, 4))
    pooled, indices = F.max_pool2d(plane, 2, return_indices=True)  # indices 5, 7, 13, 15
    with pytest.raises(RuntimeError, match="elements in indices should be type int64 but got: int32"):
        F.max_unpool2d(pooled, indices.to(fastgrad.int32), 2)
    with pytest.raises(RuntimeError, match=r"Expected shape of indices to be same as that of the input "
                                            r"tensor \(\[1, 2, 2, 2\]\) but got indices tensor with shape: "
                                            r"\[1, 1, 2, 2\]"):
        F.max_unpool2d(pooled, indices[:, :1], 2)
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: 105 \(output volumes are of size 4x4\)"):
        F.max_unpool2d(pooled, indices + 100, 2)
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: -95 "):
        F.max_unpool2d(pooled, indices - 100, 2)
    with pytest.raises(ValueError, match=r'invalid output_size "\(6, 5\)" \(dim 0 must be between 4 and 5\)'):
        F.max_unpool2d(pooled, indices, 2, output_size=(6, 5))
    with pytest.raises(ValueError, match="output_size should be a sequence containing 2 or 4 elements"):
        F.max_unpool2d(pooled, indices, 2, output_size=[5])
    with pytest.raises(RuntimeError, match="should be a 3d or 4d Tensor, but got a tensor with 2 dimensions"):
        F.max_unpool2d(pooled[0, 0], indices[0, 0], 2)


# ------------------------------------------------------------------------------ modules, errors
def test_modules_have_pytorch_arguments_and_reprs():
    assert repr(nn.MaxPool2d((2, 3), 1, 1, 2, True, True)) == \
        "MaxPool2d(kernel_size=(2, 3), stride=1, padding=1, dilation=2, ceil_mode=True)"
    assert repr(nn.MaxPool1d(3)) == "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3, 2, 1, True, False)) == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))"
    assert repr(nn.AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"
    assert repr(nn.AdaptiveMaxPool2d(3, True)) == "AdaptiveMaxPool2d(output_size=3)"
    assert repr(nn.AdaptiveAvgPool1d(4)) == "AdaptiveAvgPool1d(output_size=4)"
    x = fastgrad.tensor(_values((2, 3, 7, 6), 2, False), dtype=fastgrad.float64)
    out, indices = nn.MaxPool2d(3, 2, 1, 1, True, True)(x)
    expected = F.max_pool2d(x, 3, 2, 1, 1, True, True)
    np.testing.assert_array_equal(out.arr, expected[0].arr)
    np.testing.assert_array_equal(indices.arr, expected[1].arr)
    np.testing.assert_array_equal(nn.AvgPool2d(3, 2, 1, True, False, 2)(x).arr,
                                  F.avg_pool2d(x, 3, 2, 1, True, False, 2).arr)
    out, indices = nn.AdaptiveMaxPool2d((4, 5), return_indices=True)(x)
    assert out.shape == indices.shape == (2, 3, 4, 5)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    rows = x.reshape(2, 3, 42)
    assert nn.MaxPool1d(4, 3, 2, ceil_mode=True)(rows).shape == (2, 3, 15)
    assert nn.AvgPool1d(4)(rows).shape == (2, 3, 10)
    assert nn.AdaptiveAvgPool1d(8)(rows).shape == (2, 3, 8)


def test_errors_name_the_values_at_fault():
    x = fastgrad.randn(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d: elements of output_size must be "
                                            r"greater than or equal to 0 but received -1"):
        F.adaptive_avg_pool2d(x, -1)
    with pytest.raises(RuntimeError, match=r"output_size must be 2, got \(1, 2, 3\)"):
        F.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(TypeError, match="output_size must be an int or a pair of ints"):
        F.adaptive_max_pool2d(x, 2.5)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D .* shape \(5, 5\)"):
        F.adaptive_max_pool2d(fastgrad.randn(5, 5), 2)
    with pytest.raises(RuntimeError, match=r"non-zero size for non-batch dimensions, but input has "
                                            r"sizes \[2, 3, 0, 5\]"):
        F.adaptive_avg_pool2d(fastgrad.randn(2, 3, 0, 5), 2)
    with pytest.raises(RuntimeError, match=r"max_pool1d: Expected 2D or 3D .* shape \(2, 3, 5, 5\)"):
        F.max_pool1d(x, 2)
    with pytest.raises(RuntimeError, match=r"avg_pool1d: Expected 2D or 3D"):
        F.avg_pool1d(x, 2)
    with pytest.raises(RuntimeError, match=r"kernel_size must be an int or a tuple of one int, got \(2, 2\)"):
        F.max_pool1d(fastgrad.randn(2, 3, 5), (2, 2))
    with pytest.raises(RuntimeError, match=r"max_pool1d: Given input size: \(3x1x5\). Calculated output "
                                            r"size: \(3x1x0\)"):
        F.max_pool1d(fastgrad.randn(2, 3, 5), 6)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.avg_pool1d(fastgrad.randn(2, 3, 5), 3, 1, 2)
    with pytest.raises(TypeError, match="must be a float tensor"):
        F.adaptive_avg_pool2d(fastgrad.zeros(1, 1, 4, 4, dtype=fastgrad.int64), 2)
