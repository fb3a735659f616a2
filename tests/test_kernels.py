"""Tests of fastgrad.kernels against plain NumPy references written here.

The references are deliberately naive (np.pad + slicing, explicit window
loops) so that they are obviously right; the kernels must match them exactly
where the kernel only moves or compares values (im2col, layout moves,
max-pool), and to rounding where it sums (col2im, avg-pool, bias grad).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad.kernels as K

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = [np.float32, np.float64]


# --------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------

def conv_out(size, k, s, p, d=1):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def ref_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    N, C, H, W = x.shape
    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw, pw, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((C, kh, kw, N, oh, ow), x.dtype)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                     j * dw: j * dw + sw * (ow - 1) + 1: sw]
            cols[:, i, j] = win.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * oh * ow)


def ref_col2im(cols, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    N, C, H, W = shape
    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw, pw, dw)
    c6 = cols.reshape(C, kh, kw, N, oh, ow)
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            # within one (i, j) the strided positions are distinct: += on a
            # slice is safe here (no repeated index in one assignment)
            xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
               j * dw: j * dw + sw * (ow - 1) + 1: sw] += c6[:, i, j].transpose(1, 0, 2, 3)
    return xp[:, :, ph: ph + H, pw: pw + W]


def ref_conv2d(x, w, b, sh, sw, ph, pw, dh, dw):
    """Direct convolution (cross-correlation), loops over the kernel taps."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw, pw, dw)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    y = np.zeros((N, O, oh, ow))
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                     j * dw: j * dw + sw * (ow - 1) + 1: sw]
            y += np.einsum("nchw,oc->nohw", win, w[:, :, i, j].astype(np.float64))
    return y + b.astype(np.float64)[None, :, None, None]


def ref_maxpool(x, kh, kw, sh, sw, ph, pw):
    """PyTorch semantics: first max on ties, NaN wins (the last NaN)."""
    N, C, H, W = x.shape
    oh, ow = conv_out(H, kh, sh, ph), conv_out(W, kw, sw, pw)
    out = np.empty((N, C, oh, ow), x.dtype)
    am = np.empty((N, C, oh, ow), np.int64)
    for n in range(N):
        for c in range(C):
            for oy in range(oh):
                for ox in range(ow):
                    ys = [y for y in range(oy * sh - ph, oy * sh - ph + kh) if 0 <= y < H]
                    xs = [v for v in range(ox * sw - pw, ox * sw - pw + kw) if 0 <= v < W]
                    win = x[n, c][np.ix_(ys, xs)].ravel()
                    flat = [y * W + v for y in ys for v in xs]
                    nan = np.flatnonzero(np.isnan(win))
                    k = nan[-1] if nan.size else int(np.argmax(win))
                    out[n, c, oy, ox] = win[k]
                    am[n, c, oy, ox] = flat[k]
    return out, am


def ref_maxpool_backward(g, am, shape):
    dx = np.zeros(shape, g.dtype)
    N, C, H, W = shape
    for n in range(N):
        for c in range(C):
            plane = dx[n, c].reshape(-1)
            for k, gv in zip(am[n, c].ravel(), g[n, c].ravel()):
                plane[k] += gv
    return dx


def ref_avgpool(x, kh, kw, sh, sw, ph, pw):
    N, C, H, W = x.shape
    oh, ow = conv_out(H, kh, sh, ph), conv_out(W, kw, sw, pw)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    acc = np.zeros((N, C, oh, ow))
    for i in range(kh):
        for j in range(kw):
            acc += xp[:, :, i: i + sh * (oh - 1) + 1: sh, j: j + sw * (ow - 1) + 1: sw]
    return acc / (kh * kw)


def ref_avgpool_backward(g, shape, kh, kw, sh, sw, ph, pw):
    N, C, H, W = shape
    oh, ow = g.shape[2:]
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i: i + sh * (oh - 1) + 1: sh, j: j + sw * (ow - 1) + 1: sw] += g / (kh * kw)
    return dxp[:, :, ph: ph + H, pw: pw + W]


# --------------------------------------------------------------------------
# helpers calling the kernels the way the ops will (caller-allocated buffers)
# --------------------------------------------------------------------------

def run_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    N, C, H, W = x.shape
    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw, pw, dw)
    cols = np.full((C * kh * kw, N * oh * ow), np.nan, x.dtype)  # stale contents
    K.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    return cols


def run_col2im(cols, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    N, C, H, W = shape
    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw, pw, dw)
    dx = np.full(shape, 123.0, cols.dtype)  # stale contents: the kernel zero-fills
    K.col2im(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, dx)
    return dx


def run_maxpool(x, kh, kw, sh, sw, ph, pw, idx_dtype=np.int32):
    N, C, H, W = x.shape
    oh, ow = conv_out(H, kh, sh, ph), conv_out(W, kw, sw, pw)
    out = np.full((N, C, oh, ow), -7.0, x.dtype)
    am = np.full((N, C, oh, ow), -1, idx_dtype)
    K.maxpool2d_forward(x, kh, kw, sh, sw, ph, pw, 1, 1, oh, ow, out, am)
    return out, am


def run_maxpool_backward(g, am, shape):
    dx = np.full(shape, 5.0, g.dtype)
    K.maxpool2d_backward(g, am, dx)
    return dx


def run_avgpool(x, kh, kw, sh, sw, ph, pw):
    N, C, H, W = x.shape
    oh, ow = conv_out(H, kh, sh, ph), conv_out(W, kw, sw, pw)
    out = np.full((N, C, oh, ow), np.nan, x.dtype)
    K.avgpool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, True, 0, out)
    return out


def run_avgpool_backward(g, shape, kh, kw, sh, sw, ph, pw):
    dx = np.full(shape, np.nan, g.dtype)
    K.avgpool2d_backward(g, kh, kw, sh, sw, ph, pw, True, 0, dx)
    return dx


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


# (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw)
CONV_CASES = [
    (2, 1, 28, 28, 3, 3, 1, 1, 0, 0, 1, 1),    # conv1 of the MNIST net
    (3, 16, 13, 13, 3, 3, 1, 1, 0, 0, 1, 1),   # conv2 of the MNIST net
    (1, 1, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1),      # batch 1, C=1, "same" padding
    (1, 3, 7, 9, 2, 3, 2, 1, 0, 1, 1, 1),      # non-square input and kernel
    (2, 2, 10, 8, 3, 2, 3, 2, 2, 1, 1, 1),     # stride 3, padding 2
    (2, 3, 9, 11, 3, 3, 2, 3, 1, 2, 2, 2),     # dilation 2 and strides
    (1, 2, 6, 7, 1, 1, 1, 1, 0, 0, 1, 1),      # 1x1 kernel
    (2, 1, 8, 8, 5, 5, 3, 3, 2, 2, 1, 1),      # windows not dividing input
    (1, 2, 4, 5, 3, 3, 1, 1, 2, 2, 2, 1),      # padding 2 with dilation
    (3, 2, 12, 5, 4, 2, 2, 1, 0, 1, 2, 2),     # tall input, dilated rect kernel
    # im2col copies unit-stride runs in blocks of 8, the last block shifted back:
    (1, 1, 4, 10, 1, 3, 1, 1, 0, 0, 1, 1),     # runs of exactly 8
    (1, 1, 4, 18, 1, 3, 1, 1, 0, 0, 1, 1),     # runs of exactly 16
    (2, 2, 5, 19, 3, 3, 1, 1, 1, 1, 1, 1),     # runs of 17-19 beside padding columns
]


# --------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_matches_reference(case, dtype):
    N, C, H, W, *g = case
    x = np.random.default_rng(0).standard_normal((N, C, H, W)).astype(dtype)
    cols = run_im2col(x, *g)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, ref_im2col(x, *g))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_matches_reference_and_is_adjoint(case, dtype):
    N, C, H, W, *g = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    cshape = ref_im2col(x, *g).shape
    c = rng.standard_normal(cshape).astype(dtype)
    dx = run_col2im(c, x.shape, *g)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, ref_col2im(c, x.shape, *g), **tol(dtype))
    # <im2col(x), c> == <x, col2im(c)>, in float64 to make the test sharp
    lhs = np.vdot(ref_im2col(x.astype(np.float64), *g), c.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), dx.astype(np.float64))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", CONV_CASES[:6])
def test_conv_through_gemm_layout(case, dtype, bias):
    """im2col -> Wm @ cols equals a direct convolution, and the backward path
    nchw_to_cnhw / GEMMs / col2im gives the reference grads."""
    N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw = case
    g = (kh, kw, sh, sw, ph, pw, dh, dw)
    rng = np.random.default_rng(2)
    O = 4
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, kh, kw)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype) if bias else None
    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw, pw, dw)
    P = oh * ow
    cols = run_im2col(x, *g)
    y2 = w.reshape(O, -1) @ cols
    y = y2.reshape(O, N, oh, ow).transpose(1, 0, 2, 3) + (b.reshape(O, 1, 1) if bias else 0)
    ref = ref_conv2d(x, w, b if bias else np.zeros(O, dtype), sh, sw, ph, pw, dh, dw)
    np.testing.assert_allclose(y, ref, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)

    gy = rng.standard_normal((N, O, oh, ow)).astype(dtype)
    g2 = np.full((O, N * P), np.nan, dtype)
    K.nchw_to_cnhw(gy.reshape(N, O, P), g2)
    np.testing.assert_array_equal(g2, gy.transpose(1, 0, 2, 3).reshape(O, N * P))
    dW = g2 @ cols.T
    dx = run_col2im(w.reshape(O, -1).T @ g2, x.shape, *g)
    # references for the grads by the adjoint identities of the direct conv
    gy64 = gy.astype(np.float64)
    ref_dW = np.einsum("on,kn->ok", gy64.transpose(1, 0, 2, 3).reshape(O, -1),
                       ref_im2col(x.astype(np.float64), *g))
    np.testing.assert_allclose(dW, ref_dW, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-3 if dtype == np.float32 else 1e-10)
    ref_dx = ref_col2im(w.reshape(O, -1).T.astype(np.float64)
                        @ gy64.transpose(1, 0, 2, 3).reshape(O, -1), x.shape, *g)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)


# --------------------------------------------------------------------------
# max-pool
# --------------------------------------------------------------------------

# (N, C, H, W, kh, kw, sh, sw, ph, pw)
POOL_CASES = [
    (2, 3, 26, 26, 2, 2, 2, 2, 0, 0),    # pool1 of the MNIST net
    (2, 2, 11, 11, 2, 2, 2, 2, 0, 0),    # pool2: 11 -> 5, last row/col dropped
    (1, 1, 5, 5, 3, 3, 1, 1, 1, 1),      # overlapping, padded, batch 1
    (1, 2, 7, 9, 3, 2, 2, 1, 1, 1),      # non-square everything
    (2, 1, 8, 6, 2, 3, 1, 3, 1, 0),      # stride 3 in w, stride 1 in h
    (1, 2, 10, 10, 5, 5, 3, 3, 2, 2),    # padding 2, windows not dividing
    (2, 2, 4, 4, 1, 1, 1, 1, 0, 0),      # 1x1 window
    (1, 1, 9, 7, 2, 2, 1, 1, 1, 1),      # 2x2 with padding (generic path)
    (1, 1, 6, 6, 2, 2, 3, 3, 0, 0),      # 2x2 fast path with stride 3 (gaps)
]


@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_forward_backward(case, dtype, idx_dtype):
    N, C, H, W, *g = case
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    out, am = run_maxpool(x, *g, idx_dtype=idx_dtype)
    ref_out, ref_am = ref_maxpool(x, *g)
    assert out.dtype == dtype and am.dtype == idx_dtype
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(am, ref_am)
    gy = rng.standard_normal(out.shape).astype(dtype)
    dx = run_maxpool_backward(gy, am, x.shape)
    np.testing.assert_allclose(dx, ref_maxpool_backward(gy, ref_am, x.shape), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_ties_pick_first_in_window(case, dtype):
    N, C, H, W, *g = case
    rng = np.random.default_rng(5)
    # few distinct values: most windows hold several equal maxima
    x = rng.integers(0, 3, (N, C, H, W)).astype(dtype)
    out, am = run_maxpool(x, *g)
    ref_out, ref_am = ref_maxpool(x, *g)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(am, ref_am)
    # all-zero input (a blank MNIST border): every window reports its first
    # in-bounds element
    z = np.zeros_like(x)
    _, am0 = run_maxpool(z, *g)
    np.testing.assert_array_equal(am0, ref_maxpool(z, *g)[1])


def test_maxpool_ties_explicit_2x2():
    x = np.array([[[[1, 1, 0, 2],
                    [1, 1, 2, 2]]]], np.float32)
    out, am = run_maxpool(x, 2, 2, 2, 2, 0, 0)
    np.testing.assert_array_equal(out.ravel(), [1, 2])
    np.testing.assert_array_equal(am.ravel(), [0, 3])  # first max, row-major


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [POOL_CASES[0], POOL_CASES[2], POOL_CASES[5], POOL_CASES[7]])
def test_maxpool_nan_propagates(case, dtype):
    N, C, H, W, *g = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    x[rng.random(x.shape) < 0.15] = np.nan  # some windows get several NaNs
    out, am = run_maxpool(x, *g)
    ref_out, ref_am = ref_maxpool(x, *g)
    np.testing.assert_array_equal(out, ref_out)  # NaN positions equal too
    np.testing.assert_array_equal(am, ref_am)
    assert np.isnan(out).any()


def test_maxpool_nan_cases_explicit():
    nan, inf = np.nan, np.inf
    x = np.array([[[[5, nan, 1, 2, nan, nan, -inf, inf, 7, 1],
                    [9, 1, 9, 9, 1, 3, -inf, -inf, nan, 9]]]], np.float64)
    out, am = run_maxpool(x, 2, 2, 2, 2, 0, 0)
    # window 0: NaN beats the larger 9; window 1: ties of 9 -> first;
    # window 2: two NaNs -> the last one (PyTorch's `val > max || isnan(val)`);
    # window 3: inf beside -inf (its sum is NaN, without a NaN in the data);
    # window 4: NaN after the 7 and 1.
    np.testing.assert_array_equal(out.ravel(), [nan, 9, nan, inf, nan])
    np.testing.assert_array_equal(am.ravel(), [1, 12, 5, 7, 18])
    # all -inf window: value -inf, index of its first element
    y = np.full((1, 1, 2, 2), -np.inf)
    out, am = run_maxpool(y, 2, 2, 2, 2, 0, 0)
    assert out.ravel()[0] == -np.inf and am.ravel()[0] == 0


def test_maxpool_backward_accumulates_overlapping_windows():
    # stride 1, kernel 3: the global max is chosen by every window holding it
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 2] = 10.0
    out, am = run_maxpool(x, 3, 3, 1, 1, 0, 0)
    assert (am == 12).all()
    g = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    dx = run_maxpool_backward(g, am, x.shape)
    assert dx[0, 0, 2, 2] == g.sum()
    assert np.count_nonzero(dx) == 1


# --------------------------------------------------------------------------
# avg-pool
# --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_avgpool_forward_backward(case, dtype):
    N, C, H, W, *g = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    out = run_avgpool(x, *g)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref_avgpool(x, *g), **tol(dtype))
    gy = rng.standard_normal(out.shape).astype(dtype)
    dx = run_avgpool_backward(gy, x.shape, *g)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, ref_avgpool_backward(gy.astype(np.float64), x.shape, *g),
                               **tol(dtype))
    # adjoint: <avg(x), g> == <x, avg_backward(g)>
    np.testing.assert_allclose(np.vdot(out.astype(np.float64), gy),
                               np.vdot(x.astype(np.float64), dx),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_avgpool_counts_padding_in_divisor():
    x = np.ones((1, 1, 3, 3), np.float64)
    out = run_avgpool(x, 3, 3, 1, 1, 1, 1)
    # corner window holds 4 real ones of 9 slots (count_include_pad=True)
    assert out[0, 0, 0, 0] == pytest.approx(4 / 9)
    assert out[0, 0, 1, 1] == pytest.approx(1.0)


# --------------------------------------------------------------------------
# random geometry
# --------------------------------------------------------------------------

@st.composite
def conv_geometry(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    # input at least as large as the dilated kernel minus the padding
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 12))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 12))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(DTYPES))
    return (N, C, H, W), (kh, kw, sh, sw, ph, pw, dh, dw), dtype


@settings(max_examples=40, deadline=None)
@given(conv_geometry(), st.integers(0, 2**32 - 1))
def test_im2col_col2im_random_geometry(geom, seed):
    shape, g, dtype = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    cols = run_im2col(x, *g)
    np.testing.assert_array_equal(cols, ref_im2col(x, *g))
    c = rng.standard_normal(cols.shape).astype(dtype)
    np.testing.assert_allclose(run_col2im(c, shape, *g), ref_col2im(c, shape, *g), **tol(dtype))


@st.composite
def pool_geometry(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    H = draw(st.integers(max(1, kh - 2 * ph), 11))
    W = draw(st.integers(max(1, kw - 2 * pw), 11))
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(DTYPES))
    return (N, C, H, W), (kh, kw, sh, sw, ph, pw), dtype


@settings(max_examples=40, deadline=None)
@given(pool_geometry(), st.integers(0, 2**32 - 1), st.sampled_from(["normal", "ties", "nan"]))
def test_pooling_random_geometry(geom, seed, kind):
    shape, g, dtype = geom
    rng = np.random.default_rng(seed)
    if kind == "ties":
        x = rng.integers(-1, 2, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
        if kind == "nan":
            x[rng.random(shape) < 0.2] = np.nan
    out, am = run_maxpool(x, *g)
    ref_out, ref_am = ref_maxpool(x, *g)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(am, ref_am)
    gy = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(run_maxpool_backward(gy, am, shape),
                               ref_maxpool_backward(gy, ref_am, shape), **tol(dtype))
    if kind != "nan":
        np.testing.assert_allclose(run_avgpool(x, *g), ref_avgpool(x, *g), **tol(dtype))
        np.testing.assert_allclose(run_avgpool_backward(gy, shape, *g),
                                   ref_avgpool_backward(gy.astype(np.float64), shape, *g),
                                   **tol(dtype))


# --------------------------------------------------------------------------
# NUMBA_DISABLE_JIT: same package, plain Python, identical results
# --------------------------------------------------------------------------

TINY_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import numba
    import fastgrad.kernels as K
    rng = np.random.default_rng(11)
    res = {}
    for dt in (np.float32, np.float64):
        x = rng.standard_normal((2, 2, 5, 6)).astype(dt)
        x[0, 1, 2, 3] = np.nan
        cols = np.empty((2 * 3 * 2, 2 * 2 * 3), dt)   # k 3x2, s (2,2), p (1,0), d (1,2)
        K.im2col(x, 3, 2, 2, 2, 1, 0, 1, 2, 2, 3, cols)
        dx = np.empty_like(x)
        K.col2im(cols * 0.5 + 1, 2, 2, 5, 6, 3, 2, 2, 2, 1, 0, 1, 2, 2, 3, dx)
        out = np.empty((2, 2, 3, 3), dt); am = np.empty((2, 2, 3, 3), np.int32)
        K.maxpool2d_forward(x, 3, 3, 2, 2, 1, 1, 1, 1, 3, 3, out, am)
        out2 = np.empty((2, 2, 2, 3), dt); am2 = np.empty((2, 2, 2, 3), np.int64)
        K.maxpool2d_forward(x, 2, 2, 2, 2, 0, 0, 1, 1, 2, 3, out2, am2)
        out3 = np.empty((2, 2, 2, 3), dt); am3 = np.empty((2, 2, 2, 3), np.int32)
        K.maxpool2d_forward_2x2s2(x, 2, 3, out3, am3)
        mdx = np.empty_like(x)
        K.maxpool2d_backward(out2 + 1, am2, mdx)
        xa = np.nan_to_num(x)
        av = np.empty((2, 2, 3, 3), dt)
        K.avgpool2d_forward(xa, 3, 3, 2, 2, 1, 1, 3, 3, True, 0, av)
        adx = np.empty_like(x)
        K.avgpool2d_backward(av, 3, 3, 2, 2, 1, 1, True, 0, adx)
        y = rng.standard_normal((2, 3, 4)).astype(dt)
        g2 = np.empty((3, 2 * 4), dt)
        K.nchw_to_cnhw(y, g2)
        for name, a in dict(cols=cols, dx=dx, out=out, am=am, out2=out2, am2=am2, out3=out3,
                            am3=am3, mdx=mdx, av=av, adx=adx, g2=g2).items():
            res[f"{np.dtype(dt).name}/{name}"] = [a.dtype.str, a.tobytes().hex()]
    res["jit_disabled"] = bool(numba.config.DISABLE_JIT)
    res["chunks"] = K.threads.run_chunks(lambda i, lo, hi: [i, lo, hi], [(0, 2), (2, 5)])
    print(json.dumps(res))
""")


def _run_tiny(disable_jit):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NUMBA_DISABLE_JIT", None)
    if disable_jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    p = subprocess.run([sys.executable, "-c", TINY_SCRIPT], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_disable_jit_gives_identical_results():
    plain = _run_tiny(disable_jit=True)
    jitted = _run_tiny(disable_jit=False)
    assert plain.pop("jit_disabled") is True
    assert jitted.pop("jit_disabled") is False
    assert plain.keys() == jitted.keys()
    for key in plain:
        assert plain[key] == jitted[key], key  # bit-identical, NaNs included


# --------------------------------------------------------------------------
# conv2d's use of the kernels: per-image GEMMs on strided views of the columns
# --------------------------------------------------------------------------

def test_im2col_leaves_rows_beyond_k_untouched():
    # conv2d keeps a row of ones for the bias below the C*kh*kw rows im2col writes.
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 5)).astype(np.float32)
    cols = np.full((2 * 9 + 1, 2 * 9), 7.0, np.float32)
    K.im2col(x, 3, 3, 1, 1, 0, 0, 1, 1, 3, 3, cols)
    np.testing.assert_array_equal(cols[:18], ref_im2col(x, 3, 3, 1, 1, 0, 0, 1, 1))
    np.testing.assert_array_equal(cols[18], 7.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("per_image_max_entries", [0, 10**6])
def test_conv2d_both_weight_gradient_paths_match_naive(dtype, bias, per_image_max_entries,
                                                      monkeypatch):
    """The per-image dW (small K) and the one-long-GEMM dW (large K) give the same gradients."""
    import fastgrad
    from fastgrad.ops import conv as conv_op
    from fastgrad.ops.naive import conv2d_naive

    monkeypatch.setattr(conv_op, "_PER_IMAGE_DW_MAX_ENTRIES", per_image_max_entries)
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((5, 3, 8, 7), (4, 3, 3, 2), (4,))]
    cot = rng.standard_normal((5, 4, 8, 4)).astype(dtype)
    grads = []
    for conv in (conv_op.conv2d, conv2d_naive):
        x, w, b = (fastgrad.tensor(a, dtype=dtype, requires_grad=True) for a in arrays)
        y = conv(x, w, b if bias else None, stride=(1, 2), padding=1, dilation=(1, 2))
        assert y.dtype == dtype and y.shape == cot.shape
        (y * fastgrad.tensor(cot, dtype=dtype)).sum().backward()
        grads.append([y.arr, x.grad.arr, w.grad.arr] + ([b.grad.arr] if bias else []))
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for got, want in zip(*grads):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
