"""Which operand order and output layout OpenBLAS runs fastest for a Linear layer's three GEMMs
(one BLAS thread, CPU time, min of 5 x 300 calls). Shapes: the reference CNN's fc1 and fc2,
the MLP's fc1, at batch 64. See docs/performance.md, "Linear layers".

Run: python extra/linear_gemm_layouts.py
"""
import time

import numpy as np

from fastgrad.kernels.threads import blas_limit


def best_us(f, n=300):
    for _ in range(20):
        f()
    best = 1e9
    for _ in range(5):
        t = time.process_time()
        for _ in range(n):
            f()
        best = min(best, (time.process_time() - t) / n * 1e6)
    return best


rng = np.random.default_rng(0)
with blas_limit(1):
    for (n, i, o) in [(64, 800, 120), (64, 784, 256), (64, 120, 84), (256, 800, 120)]:
        x = rng.standard_normal((n, i)).astype(np.float32)
        w = rng.standard_normal((o, i)).astype(np.float32)
        g = rng.standard_normal((n, o)).astype(np.float32)
        out_no = np.empty((n, o), np.float32)
        out_on = np.empty((o, n), np.float32)
        dw = np.empty((o, i), np.float32)
        dwt = np.empty((i, o), np.float32)
        dx = np.empty((n, i), np.float32)
        dxt = np.empty((i, n), np.float32)
        variants = {
            "fwd  x @ W.T -> (N,O)": lambda: np.matmul(x, w.T, out=out_no),
            "fwd  W @ x.T -> (O,N)": lambda: np.matmul(w, x.T, out=out_on),
            "dW   g.T @ x -> (O,I)": lambda: np.matmul(g.T, x, out=dw),
            "dW   x.T @ g -> (I,O)": lambda: np.matmul(x.T, g, out=dwt),
            "dX   g @ W -> (N,I)": lambda: np.matmul(g, w, out=dx),
            "dX   W.T @ g.T -> (I,N)": lambda: np.matmul(w.T, g.T, out=dxt),
        }
        print((n, i, o), "  ".join(f"{k}: {best_us(f):.1f}" for k, f in variants.items()))
