"""Experiment: conv2's forward chunk (32 images, 16 -> 32 channels, 3x3, 13x13 input) on one
thread, in compiled code: is it faster to unfold a few images at a time and run their GEMMs
while their columns are still in L2, than to unfold the whole chunk (2.2 MB of columns, more
than L2) and then run the per-image GEMMs over it (what ships)?

    python extra/conv_forward_interleave.py [repeats]
Prints medians in microseconds per variant; see docs/performance.md, "conv2: where its limit
is". The blocked variants keep the columns block by block, (blocks, K', b*P), which the
backward would then read block by block (its dW in blocks of >= 4 images costs what the long
GEMM does: "conv2's backward chunk"). Run it in a quiet minute: the rounds of one variant should
agree within a few percent.
"""
import sys

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from conv_backward_interleave import time_variants  # extra/ is on sys.path when run as a script
from fastgrad.kernels.im2col import im2col
from fastgrad.kernels.native import NO_TRANS, blas_gemm, blas_gemm_addresses

N, C, H, W, O, KS = 32, 16, 13, 13, 32, 3
OH, OW = H - KS + 1, W - KS + 1
P, K = OH * OW, C * KS * KS
LIKE = np.zeros(0, np.float32)


@numba.njit(nogil=True)
def gemms(gemm, weight, cols, first, images, out, like):
    """out[first + i] (O, P) = [W | b] @ cols[:, i*P:(i+1)*P] for i < images."""
    rows, long_rows = cols.shape
    size = like.itemsize
    for i in range(images):
        blas_gemm(gemm, like, NO_TRANS, NO_TRANS, O, P, rows, weight.ctypes.data, rows,
                  cols.ctypes.data + i * P * size, long_rows, 0.0,
                  out.ctypes.data + (first + i) * O * P * size, P)


@numba.njit(nogil=True)
def whole_chunk(gemm, x, weight, cols, out, like):
    im2col(x, KS, KS, 1, 1, 0, 0, 1, 1, OH, OW, cols)
    cols[K] = 1
    gemms(gemm, weight, cols, 0, N, out, like)


@numba.njit(nogil=True)
def by_blocks(gemm, x, weight, blocks, out, like):
    b = blocks.shape[2] // P
    for j in range(blocks.shape[0]):
        im2col(x[j * b:(j + 1) * b], KS, KS, 1, 1, 0, 0, 1, 1, OH, OW, blocks[j])
        blocks[j, K] = 1
        gemms(gemm, weight, blocks[j], j * b, b, out, like)


def main(repeats=400):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    weight = rng.standard_normal((O, K + 1)).astype(np.float32)
    gemm = blas_gemm_addresses()[0]
    cols = np.empty((K + 1, N * P), np.float32)
    out = np.empty((N, O, P), np.float32)
    variants = {"whole chunk, then GEMMs": lambda: whole_chunk(gemm, x, weight, cols, out, LIKE)}
    outs = {}
    for b in (1, 2, 4, 8):
        blocks = np.empty((N // b, K + 1, b * P), np.float32)
        outs[b] = np.empty((N, O, P), np.float32)
        variants[f"blocks of {b} images"] = (
            lambda b=b, blocks=blocks: by_blocks(gemm, x, weight, blocks, outs[b], LIKE))
    with threadpool_limits(1):
        for fn in variants.values():
            fn()
        for b in outs:
            np.testing.assert_array_equal(outs[b], out)
        time_variants(variants, repeats)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
