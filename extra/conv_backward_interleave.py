"""Experiment: conv2's backward chunk (32 images, 16 -> 32 channels, 3x3, 13x13 input) on one
thread, in compiled code: is it faster to (a) compute dW as (O, K') = G @ cols.T instead of
(K', O) = cols @ G.T, and (b) make dcols one image at a time into a small buffer that col2im
reads while it is still in cache, instead of one long GEMM and one col2im over the chunk?

    python extra/conv_backward_interleave.py [repeats]
Prints medians in microseconds per variant; see docs/performance.md, "conv2 backward".
"""
import os
import sys
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from fastgrad.kernels.im2col import col2im, im2col, nchw_to_cnhw
from fastgrad.kernels.native import NO_TRANS, TRANS, blas_gemm, blas_gemm_addresses, pointer_to

N, C, H, W, O, KS = 32, 16, 13, 13, 32, 3
OH, OW = H - KS + 1, W - KS + 1
P, K = OH * OW, C * KS * KS
LIKE = np.zeros(0, np.float32)


@numba.njit(nogil=True)
def dw_k_by_o(gemm, cols, grad_rows, d_wb, like):  # (K', O) = cols @ G.T
    rows, long_rows = cols.shape
    o = grad_rows.shape[0]
    blas_gemm(gemm, like, NO_TRANS, TRANS, rows, o, long_rows, cols.ctypes.data, long_rows,
              grad_rows.ctypes.data, long_rows, 0.0, d_wb.ctypes.data, o)


@numba.njit(nogil=True)
def dw_o_by_k(gemm, cols, grad_rows, d_wt, like):  # (O, K') = G @ cols.T
    rows, long_rows = cols.shape
    o = grad_rows.shape[0]
    blas_gemm(gemm, like, NO_TRANS, TRANS, o, rows, long_rows, grad_rows.ctypes.data,
              long_rows, cols.ctypes.data, long_rows, 0.0, d_wt.ctypes.data, rows)


@numba.njit(nogil=True)
def dw_blocks(gemm, cols, grad_rows, d_wb, like, images):  # cols @ G.T, `images` at a time
    rows, long_rows = cols.shape
    o = grad_rows.shape[0]
    size = like.itemsize
    step = images * P
    for lo in range(0, long_rows, step):
        blas_gemm(gemm, like, NO_TRANS, TRANS, rows, o, min(step, long_rows - lo),
                  cols.ctypes.data + lo * size, long_rows, grad_rows.ctypes.data + lo * size,
                  long_rows, 0.0 if lo == 0 else 1.0, d_wb.ctypes.data, o)


@numba.njit(nogil=True)
def dx_long(gemm, weight, grad_rows, d_cols, d_x, like):
    k, long_rows = d_cols.shape
    o = weight.shape[0]
    blas_gemm(gemm, like, TRANS, NO_TRANS, k, long_rows, o, weight.ctypes.data, k,
              grad_rows.ctypes.data, long_rows, 0.0, d_cols.ctypes.data, long_rows)
    col2im(d_cols, N, C, H, W, KS, KS, 1, 1, 0, 0, 1, 1, OH, OW, d_x)


@numba.njit(nogil=True)
def dx_per_image(gemm, weight, grad, d_cols_one, d_x, like):
    k = d_cols_one.shape[0]
    o = weight.shape[0]
    size = like.itemsize
    for i in range(N):
        blas_gemm(gemm, like, TRANS, NO_TRANS, k, P, o, weight.ctypes.data, k,
                  grad.ctypes.data + i * o * P * size, P, 0.0, d_cols_one.ctypes.data, P)
        col2im(d_cols_one, 1, C, H, W, KS, KS, 1, 1, 0, 0, 1, 1, OH, OW, d_x[i:i + 1])


def median_us(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e6 * float(np.median(times))


def time_variants(variants, repeats, rounds=5):
    """Time each of ``variants`` (name -> callable) in ``rounds`` interleaved rounds of
    ``repeats // rounds`` calls, so that a slow minute hits every variant; print each one's
    median over the rounds' medians, their range, and the load before and after."""
    load = os.getloadavg()[0]
    results = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            results[name].append(median_us(fn, repeats // rounds))
    print(f"load {load:.2f} -> {os.getloadavg()[0]:.2f}")
    width = max(len(name) for name in variants)
    for name, values in results.items():
        print(f"{name:{width}s} median {np.median(values):7.1f} us  rounds {min(values):.1f}-"
              f"{max(values):.1f}")


def main(repeats=400):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    weight = rng.standard_normal((O, K)).astype(np.float32)
    grad = rng.standard_normal((N, O, P)).astype(np.float32)
    cols = np.ones((K + 1, N * P), np.float32)
    im2col(x, KS, KS, 1, 1, 0, 0, 1, 1, OH, OW, cols)
    grad_rows = np.empty((O, N * P), np.float32)
    nchw_to_cnhw(grad, grad_rows)
    gemm = blas_gemm_addresses()[0]
    d_wb, d_wt = np.empty((K + 1, O), np.float32), np.empty((O, K + 1), np.float32)
    d_wb_blocks = np.empty((K + 1, O), np.float32)
    d_cols, d_cols_one = np.empty((K, N * P), np.float32), np.empty((K, P), np.float32)
    d_x_long, d_x_image = np.empty((N, C, H, W), np.float32), np.empty((N, C, H, W), np.float32)
    variants = {
        "dW (K', O) = cols @ G.T": lambda: dw_k_by_o(gemm, cols, grad_rows, d_wb, LIKE),
        "dW (O, K') = G @ cols.T": lambda: dw_o_by_k(gemm, cols, grad_rows, d_wt, LIKE),
        "dW (K, O) without the bias row": lambda: dw_k_by_o(gemm, cols[:K], grad_rows,
                                                          d_wb[:K], LIKE),
        **{f"dW (K', O) in blocks of {b} images": (
            lambda b=b: dw_blocks(gemm, cols, grad_rows, d_wb_blocks, LIKE, b)) for b in (1, 4, 8)},
        "dx: long GEMM + col2im": lambda: dx_long(gemm, weight, grad_rows, d_cols, d_x_long, LIKE),
        "dx: per image GEMM + col2im": lambda: dx_per_image(gemm, weight, grad, d_cols_one,
                                                          d_x_image, LIKE),
    }
    with threadpool_limits(1):
        for fn in variants.values():
            fn()
        np.testing.assert_allclose(d_wb.T, d_wt, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(d_wb, d_wb_blocks, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(d_x_long, d_x_image, rtol=1e-4, atol=1e-3)
        time_variants(variants, repeats)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
