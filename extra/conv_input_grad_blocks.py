"""conv2's input-gradient on one chunk of 32 images: one long dcols GEMM + col2im over the
chunk, against the same per block of B images (dcols for a block stays in L2)."""
import time, numpy as np
from fastgrad.kernels import col2im, nchw_to_cnhw
from fastgrad.kernels.threads import blas_limit
n, C, H, W, O, k, oh = 32, 16, 13, 13, 32, 3, 11
P = oh * oh; K = C * k * k
rng = np.random.default_rng(0)
w_t = rng.standard_normal((O, K)).astype(np.float32).T
g = rng.standard_normal((O, n * P)).astype(np.float32)
dcols = np.empty((K, n * P), np.float32)
dx = np.empty((n, C, H, W), np.float32)
def whole():
    np.matmul(w_t, g, out=dcols)
    col2im(dcols, n, C, H, W, k, k, 1, 1, 0, 0, 1, 1, oh, oh, dx)
def blocked(B):
    buf = np.empty((K, B * P), np.float32)
    def run():
        for b in range(0, n, B):
            e = min(b + B, n)
            out = buf[:, :(e - b) * P]
            np.matmul(w_t, g[:, b * P:e * P], out=out)
            col2im(out, e - b, C, H, W, k, k, 1, 1, 0, 0, 1, 1, oh, oh, dx[b:e])
    run.__name__ = f"blocked{B}"
    return run
ref = None
with blas_limit(1):
    for f in [whole] + [blocked(B) for B in (2, 4, 8, 16)]:
        f(); r = dx.copy()
        if ref is None: ref = r
        assert np.allclose(r, ref, atol=1e-4)
        ts = []
        for rep in range(7):
            t = time.process_time()
            for _ in range(300): f()
            ts.append((time.process_time() - t) / 300 * 1e6)
        print(f"{f.__name__:10s} {min(ts):7.1f} us  (median {np.median(ts):.1f})")
