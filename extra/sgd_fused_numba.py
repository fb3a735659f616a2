"""A fused SGD-with-momentum update over all parameters as one numba kernel taking tuples of
arrays, against the per-parameter NumPy loop (CPU time, the reference CNN's 10 parameters).
See docs/performance.md, "Rejected this session"."""
import time, numpy as np, numba
@numba.njit(nogil=True, cache=True)
def sgd_momentum(params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, first):
    for k in range(len(params)):
        p = params[k]; g = grads[k]; b = bufs[k]
        for i in range(p.size):
            d = g[i]
            if weight_decay != 0: d += weight_decay * p[i]
            if first: b[i] = d
            else: b[i] = momentum * b[i] + (1 - dampening) * d
            if nesterov: d = d + momentum * b[i]
            else: d = b[i]
            p[i] -= lr * d
rng = np.random.default_rng(0)
shapes = [(16,1,3,3),(16,),(32,16,3,3),(32,),(120,800),(120,),(84,120),(84,),(10,84),(10,)]
P = [rng.standard_normal(s).astype(np.float32) for s in shapes]
G = [rng.standard_normal(s).astype(np.float32) for s in shapes]
B = [np.zeros(s, np.float32) for s in shapes]
def fused():
    sgd_momentum(tuple(p.reshape(-1) for p in P), tuple(g.reshape(-1) for g in G), tuple(b.reshape(-1) for b in B), 0.01, 0.9, 0.0, 0.0, False, False)
def plain():
    for p, g, b in zip(P, G, B):
        b *= 0.9; b += g; p += -0.01 * b
for f in (fused, plain):
    for _ in range(100): f()
    ts = []
    for rep in range(5):
        t = time.process_time()
        for _ in range(2000): f()
        ts.append((time.process_time() - t) / 2000 * 1e6)
    print(f.__name__, round(min(ts), 1), "us")
