"""Experiment: col2im for conv2's backward chunk (32 images, 16 channels, 3x3, 13x13 input) with
the loops ordered image by image (one image's dx, 11 KB, stays in L1 while its 144 column
segments are added in) against the kernel's row-by-row order (each column row streamed once,
dx of all 32 images touched per row).

    python extra/col2im_by_image.py
Prints medians in microseconds; see docs/performance.md, "col2im image by image".
"""
import os
import time

import numba
import numpy as np

from conv_backward_interleave import median_us  # extra/ is on sys.path when run as a script
from fastgrad.kernels.im2col import _tap, _u, col2im

N, C, H, W, KS = 32, 16, 13, 13, 3
OH, OW = H - KS + 1, W - KS + 1


@numba.njit(nogil=True)
def col2im_by_image(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    """Stride-1 columns only (the case measured)."""
    P = out_h * out_w
    df = dx.reshape(N * C * H * W)
    plane = C * H * W
    for n in range(N):
        for q in range(n * plane, (n + 1) * plane):
            df[_u(q)] = 0
        for k in range(C * kh * kw):
            c, off_h, off_w, y_lo, y_hi, lo, hi = _tap(k, kh, kw, sh, sw, ph, pw, dh, dw, H, W,
                                                       out_h, out_w)
            row = cols[k]
            q = n * P + y_lo * out_w
            s = ((n * C + c) * H + y_lo * sh + off_h) * W + off_w
            for oy in range(y_lo, y_hi):
                for ox in range(lo, hi):
                    df[_u(s + ox)] += row[_u(q + ox)]  # sw == 1 here, as the kernel's fast branch
                q += out_w
                s += sh * W


def main():
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((C * KS * KS, N * OH * OW)).astype(np.float32)
    args = (N, C, H, W, KS, KS, 1, 1, 0, 0, 1, 1, OH, OW)
    dx_rows, dx_images = np.empty((N, C, H, W), np.float32), np.empty((N, C, H, W), np.float32)
    variants = {"row by row (the kernel)": lambda: col2im(cols, *args, dx_rows),
                "image by image": lambda: col2im_by_image(cols, *args, dx_images)}
    for fn in variants.values():
        fn()
    np.testing.assert_allclose(dx_rows, dx_images, rtol=1e-5, atol=1e-5)
    load = os.getloadavg()[0]
    results = {name: [median_us(fn, 300)] for name, fn in variants.items()}
    for _ in range(4):
        for name, fn in variants.items():
            results[name].append(median_us(fn, 300))
    print(f"load {load:.2f} -> {os.getloadavg()[0]:.2f}")
    for name, values in results.items():
        print(f"{name:28s} median {np.median(values):6.1f} us  rounds {min(values):.1f}-"
              f"{max(values):.1f}")


if __name__ == "__main__":
    main()
