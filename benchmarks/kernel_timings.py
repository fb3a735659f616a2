"""Timings that chose the conv column layout and the CPU threading policy.

Plain script (not a pytest file)::

    .venv/bin/python benchmarks/kernel_timings.py            # everything (~25 min)
    .venv/bin/python benchmarks/kernel_timings.py policies   # one section
    sections: overhead (cost of switching BLAS threads), compile (cold /
    warm numba compile), layouts (conv column layouts), policies (one
    process per threading policy), interleaved (thread counts switched in
    one process, the steadiest comparison); --rounds N, --steps N,
    --policies a,b,..., --envs default_env,passive_env

Workload: the MNIST CNN of the project at batch 64, float32::

    conv1 1->16 k3  (64,1,28,28)  -> (64,16,26,26)   (no grad w.r.t. the images)
    pool1 max 2     -> (64,16,13,13)
    conv2 16->32 k3 -> (64,32,11,11)
    pool2 max 2     -> (64,32,5,5)
    fc    800->128->10 (GEMMs only, to put the BLAS calls of a real step
          between the kernels)

A "step" runs the forwards in order, then the backwards in reverse order, as
a training step does, so each kernel runs right after whatever ran before it
in a real step (this matters: idle BLAS / OpenMP threads spin for a while
after their work, and starve whoever runs next).  Each layer's fwd+bwd time
is the sum of its own stages inside that step.

Each policy runs in its own subprocess (thread pools and their environment
variables are fixed when the libraries load); the policies are run in
``--rounds`` interleaved rounds and the medians are printed, with ratios to
policy (a) measured in the same run.  The machine is shared, so compare
ratios, not absolute numbers, and repeat.
"""

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from timing import median_seconds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (description, kernels, blas threads, gemm mode, extra environment)
#   kernels: "par" = the package's parallel=True kernels, 2 numba threads;
#            "ser" = the same code compiled without parallel=True.
#   gemm:    "plain" = np.matmul; "limit1" = np.matmul inside a (pre-built)
#            threadpoolctl controller's limit(1); "split" = the GEMM's output
#            rows split over two Python threads, BLAS at 1 thread;
#            "batch" = every layer runs as two half-batches on two Python
#            threads (serial kernels, BLAS at 1 thread).
POLICIES = {
    "a": ("numba par 2 + BLAS 2", "par", 2, "plain", {}),
    "b": ("numba serial + BLAS 2", "ser", 2, "plain", {}),
    "c": ("numba par 2 + BLAS 1 (global)", "par", 1, "plain", {}),
    "c_ctx": ("numba par 2 + BLAS 1 around GEMMs (threadpoolctl)", "par", 2, "limit1", {}),
    "a_passive": ("a + OMP_WAIT_POLICY=PASSIVE", "par", 2, "plain", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "a_obt": ("a + OPENBLAS_THREAD_TIMEOUT=4", "par", 2, "plain", {"OPENBLAS_THREAD_TIMEOUT": "4"}),
    "a_both": ("a + PASSIVE + THREAD_TIMEOUT=4", "par", 2, "plain",
               {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}),
    "a_wq": ("a, numba workqueue layer", "par", 2, "plain", {"NUMBA_THREADING_LAYER": "workqueue"}),
    "b_passive": ("b + PASSIVE (no effect expected)", "ser", 2, "plain", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "c_passive": ("c + OMP_WAIT_POLICY=PASSIVE", "par", 1, "plain", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "e": ("numba par 2 + GEMM rows split on 2 py threads, BLAS 1", "par", 1, "split", {}),
    "e_passive": ("e + OMP_WAIT_POLICY=PASSIVE", "par", 1, "split", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "f": ("half batch per thread (threads.split_batch), BLAS 1", "par", 1, "batch", {}),
    "shipped": ("package defaults; convs split_batch, pools/fc whole batch", "pkg", None,
                "shipped", {}),
    "shipped_all": ("package defaults; every layer split_batch", "pkg", None, "batch", {}),
    "g": ("all serial: numba serial + BLAS 1", "ser", 1, "plain", {}),
    # environments for the in-process interleaved comparison
    "default_env": ("numba's default OpenMP wait policy", "par", 2, "plain", {}),
    "passive_env": ("OMP_WAIT_POLICY=PASSIVE", "par", 2, "plain", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "spin10k_env": ("GOMP_SPINCOUNT=10000 (short spin, then sleep)", "par", 2, "plain",
                    {"GOMP_SPINCOUNT": "10000"}),
    "spin100k_env": ("GOMP_SPINCOUNT=100000", "par", 2, "plain", {"GOMP_SPINCOUNT": "100000"}),
}

LAYERS = ["conv1", "pool1", "conv2", "pool2", "fc"]


# --------------------------------------------------------------------------
# child side
# --------------------------------------------------------------------------

def _child_setup(policy):
    """Import numpy/numba/the kernels under ``policy``; return a namespace."""
    sys.path.insert(0, ROOT)
    import numba
    import numpy as np
    from threadpoolctl import ThreadpoolController

    import fastgrad.kernels as K

    desc, kind, blas, gemm_mode, _env = POLICIES[policy]
    ctl = ThreadpoolController()
    if kind == "pkg":  # the package's own policy, applied at its import
        kern = {name: getattr(K, name) for name in K.__all__ if name != "threads"}
        return numba, np, ctl, kern, gemm_mode
    ctl.limit(limits=blas, user_api="blas")  # stays in force: object not used as a context
    if kind == "par":
        numba.set_num_threads(2)
        kern = {name: getattr(K, name) for name in K.__all__ if name != "threads"}
    else:
        kern = {name: numba.njit(nogil=True)(getattr(K, name).py_func)
                for name in K.__all__ if name != "threads"}
    if gemm_mode == "batch":  # after numba started: keeps the OpenMP env as given
        K.threads.configure(num_threads=2, blas_threads=blas)
    return numba, np, ctl, kern, gemm_mode


class _Worker:
    """One persistent Python thread; ``run2`` runs two callables at once."""

    def __init__(self):
        self._in = queue.SimpleQueue()
        self._out = queue.SimpleQueue()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            fn = self._in.get()
            fn()
            self._out.put(None)

    def run2(self, f_here, f_there):
        self._in.put(f_there)
        f_here()
        self._out.get()


def _make_gemm(np, ctl, mode, worker):
    if mode == "limit1":
        def gemm(a, b, out):
            with ctl.limit(limits=1, user_api="blas"):
                np.matmul(a, b, out=out)
    elif mode == "split":
        def gemm(a, b, out):
            m = out.shape[0]
            if m < 2 or m * a.shape[1] * out.shape[1] < 1 << 20:
                np.matmul(a, b, out=out)
                return
            h = m // 2
            worker.run2(lambda: np.matmul(a[:h], b, out=out[:h]),
                        lambda: np.matmul(a[h:], b, out=out[h:]))
    else:
        def gemm(a, b, out):
            np.matmul(a, b, out=out)
    return gemm


class _Conv:
    """Conv2d fwd/bwd in the CNHW-columns layout, from the package kernels."""

    def __init__(self, np, kern, gemm, N, C, H, W, O, k, need_dx, seed):
        rng = np.random.default_rng(seed)
        self.np, self.k, self.gemm = np, kern, gemm
        self.N, self.C, self.H, self.W, self.O, self.ks = N, C, H, W, O, k
        self.oh, self.ow = H - k + 1, W - k + 1
        P = self.oh * self.ow
        f = np.float32
        self.Wm = (rng.standard_normal((O, C * k * k)) * 0.1).astype(f)
        self.b = rng.standard_normal(O).astype(f)
        self.cols = np.empty((C * k * k, N * P), f)
        self.y2 = np.empty((O, N * P), f)
        self.out = np.empty((N, O, self.oh, self.ow), f)
        self.g2 = np.empty((O, N * P), f)
        self.dW = np.empty_like(self.Wm)
        self.db = np.empty(O, f)
        self.need_dx = need_dx
        self.dcols = np.empty_like(self.cols)
        self.dx = np.empty((N, C, H, W), f)

    def fwd(self, x):
        k, ks = self.k, self.ks
        k["im2col"](x, ks, ks, 1, 1, 0, 0, 1, 1, self.oh, self.ow, self.cols)
        self.gemm(self.Wm, self.cols, self.y2)
        k["cnhw_to_nchw"](self.y2, self.b, self.out.reshape(self.N, self.O, -1))
        return self.out

    def bwd(self, g):
        k, ks = self.k, self.ks
        k["nchw_to_cnhw"](g.reshape(self.N, self.O, -1), self.g2, self.db)
        self.gemm(self.g2, self.cols.T, self.dW)
        if self.need_dx:
            self.gemm(self.Wm.T, self.g2, self.dcols)
            k["col2im"](self.dcols, self.N, self.C, self.H, self.W, ks, ks, 1, 1,
                        0, 0, 1, 1, self.oh, self.ow, self.dx)
        return self.dx


class _Pool:
    def __init__(self, np, kern, N, C, H, W):
        self.np, self.k = np, kern
        self.oh, self.ow = H // 2, W // 2
        self.out = np.empty((N, C, self.oh, self.ow), np.float32)
        self.am = np.empty((N, C, self.oh, self.ow), np.int32)
        self.dx = np.empty((N, C, H, W), np.float32)

    def fwd(self, x):
        self.k["maxpool2d_forward"](x, 2, 2, 2, 2, 0, 0, self.oh, self.ow, self.out, self.am)
        return self.out

    def bwd(self, g):
        self.k["maxpool2d_backward"](g, self.am, self.dx)
        return self.dx


class _FC:
    def __init__(self, np, gemm, N, seed):
        rng = np.random.default_rng(seed)
        f = np.float32
        self.np, self.gemm = np, gemm
        self.W1 = (rng.standard_normal((128, 800)) * 0.03).astype(f)
        self.W2 = (rng.standard_normal((10, 128)) * 0.1).astype(f)
        self.h = np.empty((N, 128), f)
        self.o = np.empty((N, 10), f)
        self.dW1 = np.empty_like(self.W1)
        self.dW2 = np.empty_like(self.W2)
        self.dh = np.empty((N, 128), f)
        self.da = np.empty((N, 800), f)

    def fwd(self, a):
        self.a = a.reshape(a.shape[0], -1)
        self.gemm(self.a, self.W1.T, self.h)
        self.gemm(self.h, self.W2.T, self.o)
        return self.o

    def bwd(self, go):
        self.gemm(go.T, self.h, self.dW2)
        self.gemm(go, self.W2, self.dh)
        self.gemm(self.dh.T, self.a, self.dW1)
        self.gemm(self.dh, self.W1, self.da)
        return self.da.reshape(-1, 32, 5, 5)


class _Net:
    def __init__(self, np, kern, gemm, N, seed=0):
        self.conv1 = _Conv(np, kern, gemm, N, 1, 28, 28, 16, 3, False, seed)
        self.pool1 = _Pool(np, kern, N, 16, 26, 26)
        self.conv2 = _Conv(np, kern, gemm, N, 16, 13, 13, 32, 3, True, seed + 1)
        self.pool2 = _Pool(np, kern, N, 32, 11, 11)
        self.fc = _FC(np, gemm, N, seed + 2)
        self.layers = [self.conv1, self.pool1, self.conv2, self.pool2, self.fc]


class _ConvSplit(_Conv):
    """Conv2d as an op would run it under ``threads.split_batch``: each chunk
    of the batch does im2col -> GEMM -> NCHW (and back) into its own column
    buffers and its own slice of the shared NCHW output / input grad; the
    chunks' weight and bias gradients are summed at the end."""

    def __init__(self, np, kern, gemm, N, C, H, W, O, k, need_dx, seed):
        super().__init__(np, kern, gemm, N, C, H, W, O, k, need_dx, seed)
        from fastgrad.kernels import threads

        self.split = threads.split_batch
        self.parts = {}

    def _part(self, lo, hi):
        p = self.parts.get((lo, hi))
        if p is None:
            np = self.np
            f = np.float32
            n, P = hi - lo, self.oh * self.ow
            K = self.Wm.shape[1]
            p = dict(cols=np.empty((K, n * P), f), y2=np.empty((self.O, n * P), f),
                     g2=np.empty((self.O, n * P), f), dcols=np.empty((K, n * P), f),
                     dW=np.empty_like(self.Wm), db=np.empty(self.O, f))
            self.parts[(lo, hi)] = p
        return p

    def fwd(self, x):
        k, ks, np = self.k, self.ks, self.np

        def chunk(lo, hi):
            p = self._part(lo, hi)
            k["im2col"](x[lo:hi], ks, ks, 1, 1, 0, 0, 1, 1, self.oh, self.ow, p["cols"])
            np.matmul(self.Wm, p["cols"], out=p["y2"])
            k["cnhw_to_nchw"](p["y2"], self.b, self.out[lo:hi].reshape(hi - lo, self.O, -1))
        self.split(self.N, chunk)
        return self.out

    def bwd(self, g):
        k, ks, np = self.k, self.ks, self.np

        def chunk(lo, hi):
            p = self._part(lo, hi)
            k["nchw_to_cnhw"](g[lo:hi].reshape(hi - lo, self.O, -1), p["g2"], p["db"])
            np.matmul(p["g2"], p["cols"].T, out=p["dW"])
            if self.need_dx:
                np.matmul(self.Wm.T, p["g2"], out=p["dcols"])
                k["col2im"](p["dcols"], hi - lo, self.C, self.H, self.W, ks, ks, 1, 1,
                            0, 0, 1, 1, self.oh, self.ow, self.dx[lo:hi])
            return p["dW"], p["db"]
        parts = self.split(self.N, chunk)
        np.add(parts[0][0], parts[1][0], out=self.dW) if len(parts) == 2 else None
        np.add(parts[0][1], parts[1][1], out=self.db) if len(parts) == 2 else None
        return self.dx


class _NetShipped(_Net):
    """The recommended use of the policy: convs through split_batch, pools as
    whole-batch parallel kernels, the linear layers as plain GEMMs."""

    def __init__(self, np, kern, gemm, N, seed=0):
        super().__init__(np, kern, gemm, N, seed)
        self.conv1 = _ConvSplit(np, kern, gemm, N, 1, 28, 28, 16, 3, False, seed)
        self.conv2 = _ConvSplit(np, kern, gemm, N, 16, 13, 13, 32, 3, True, seed + 1)
        self.layers = [self.conv1, self.pool1, self.conv2, self.pool2, self.fc]


class _SplitNet:
    """Two half-batch nets, each stage run as two chunks by the package's
    ``threads.split_batch`` (the shipped mechanism).  The halves' weight
    gradients would be summed afterwards (a few KB, not timed)."""

    def __init__(self, np, kern, gemm, N):
        from fastgrad.kernels import threads

        h = N // 2
        self.nets = [_Net(np, kern, gemm, h), _Net(np, kern, gemm, N - h)]
        self.split = threads.split_batch
        self.h = h

    def stage(self, idx, direction, inputs):
        nets = self.nets
        return self.split(2, lambda lo, hi: getattr(nets[lo].layers[idx], direction)(inputs[lo]))


def _cpu_snapshot():
    """(machine busy seconds, this process's CPU seconds, wall) for load checks.

    The machine is shared with other containers whose processes ps cannot
    see, but /proc/stat counts them: busy(machine) - cpu(us) over a run is
    the CPU other tenants took, in cores when divided by the wall time.  A
    2-thread kernel that finds the other core taken waits a scheduler tick
    (4-12 ms) at its barrier, so runs with foreign load are flagged."""
    with open("/proc/stat") as fh:
        v = [int(t) for t in fh.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / hz
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()


def _foreign_cores(a, b):
    return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / (b[2] - a[2]))


def _steps(net, split, x, gout, n):
    """Run n training steps; return (per-layer times, step times) lists [s]."""
    pc = time.perf_counter
    per_layer = {name: [] for name in LAYERS}
    step_t = []
    for _ in range(n):
        per = [0.0] * 5
        t_step = pc()
        if split:
            a = [x[:net.h], x[net.h:]]
            for i in range(5):
                t0 = pc()
                a = net.stage(i, "fwd", a)
                per[i] += pc() - t0
            g = [gout[:net.h], gout[net.h:]]
            for i in reversed(range(5)):
                t0 = pc()
                g = net.stage(i, "bwd", g)
                per[i] += pc() - t0
        else:
            a = x
            for i, layer in enumerate(net.layers):
                t0 = pc()
                a = layer.fwd(a)
                per[i] += pc() - t0
            g = gout
            for i in reversed(range(5)):
                t0 = pc()
                g = net.layers[i].bwd(g)
                per[i] += pc() - t0
        step_t.append(pc() - t_step)
        for name, v in zip(LAYERS, per):
            per_layer[name].append(v)
    return per_layer, step_t


def _inputs(np, N=64):
    rng = np.random.default_rng(1)
    # MNIST-like: mostly exact zeros (blank background), so max-pool windows
    # tie often, as they do on the real data.
    x = rng.random((N, 1, 28, 28), dtype=np.float32)
    x[x < 0.8] = 0.0
    gout = rng.standard_normal((N, 10)).astype(np.float32)
    return x, gout


def child_policies(policy, steps, warmup):
    numba, np, ctl, kern, mode = _child_setup(policy)
    worker = _Worker() if mode == "split" else None
    gemm = _make_gemm(np, ctl, mode, worker)
    N = 64
    x, gout = _inputs(np, N)
    if mode == "batch":
        net = _SplitNet(np, kern, gemm, N)
    elif mode == "shipped":
        net = _NetShipped(np, kern, gemm, N)
    else:
        net = _Net(np, kern, gemm, N)
    _steps(net, mode == "batch", x, gout, warmup)
    snap = _cpu_snapshot()
    times, step_t = _steps(net, mode == "batch", x, gout, steps)
    res = {name: statistics.median(v) * 1e3 for name, v in times.items()}
    res["step"] = statistics.median(step_t) * 1e3
    res["foreign"] = _foreign_cores(snap, _cpu_snapshot())
    return res


# In-process comparison of thread counts, switched at run time: host noise on
# this shared machine drifts over seconds and shifts whole runs by up to 40%,
# so configurations compared in one process, in alternating blocks of steps,
# give far steadier ratios than separate processes.  Each block starts with
# steps that are thrown away: OpenBLAS workers keep spinning ~0.1 s after
# their last GEMM, which would otherwise leak into the next configuration.
INTERLEAVED = [("numba 2, BLAS 2", 2, 2), ("numba 1, BLAS 2", 1, 2),
               ("numba 2, BLAS 1", 2, 1), ("numba 1, BLAS 1", 1, 1)]
SPLIT_LABEL = "split_batch halves, numba 1, BLAS 1"
SHIPPED_LABEL = "convs split, pools numba 2, BLAS 1"


def child_interleaved(policy, steps, warmup):
    numba, np, ctl, kern, mode = _child_setup(policy)
    lib = [lc for lc in ctl.lib_controllers if lc.user_api == "blas"][0]
    N = 64
    x, gout = _inputs(np, N)
    gemm = _make_gemm(np, ctl, "plain", None)
    net = _Net(np, kern, gemm, N)
    from fastgrad.kernels import threads

    threads.configure(num_threads=2, blas_threads=1)
    split = _SplitNet(np, kern, gemm, N)
    shipped = _NetShipped(np, kern, gemm, N)
    configs = INTERLEAVED + [(SPLIT_LABEL, 0, 1), (SHIPPED_LABEL, -1, 1)]
    res = {c[0]: {name: [] for name in LAYERS + ["step"]} for c in configs}
    snap = _cpu_snapshot()
    for _block in range(max(1, steps // 20)):
        for label, nthreads, blas in configs:
            if nthreads > 0:
                lib.set_num_threads(blas)
                numba.set_num_threads(nthreads)
                _steps(net, False, x, gout, 20)  # discarded, see above
                per, st = _steps(net, False, x, gout, 20)
            elif nthreads == 0:
                threads.configure(num_threads=2, blas_threads=1)
                _steps(split, True, x, gout, 20)
                per, st = _steps(split, True, x, gout, 20)
            else:
                threads.configure(num_threads=2, blas_threads=1)
                _steps(shipped, False, x, gout, 20)
                per, st = _steps(shipped, False, x, gout, 20)
            for name in LAYERS:
                res[label][name].append(statistics.median(per[name]) * 1e3)
            res[label]["step"].append(statistics.median(st) * 1e3)
    out = {label: {k: statistics.median(v) for k, v in d.items()} for label, d in res.items()}
    out["foreign"] = _foreign_cores(snap, _cpu_snapshot())
    return out


# --- alternative layouts, only for the layout comparison -------------------

def _layout_kernels(numba, parallel):
    """Kernels of the two layouts that were not chosen (see child_layouts)."""
    prange = numba.prange
    u = numba.uintp  # unsigned indices, as in the package's kernels (fair comparison)
    jit = numba.njit(nogil=True, parallel=parallel)

    @jit
    def im2row(x, kh, kw, out_h, out_w, rows):
        # rows (N*oh*ow, C*kh*kw); stride 1, no padding, no dilation: enough
        # to compare the layouts on the MNIST shapes.
        N, C, H, W = x.shape
        for t in prange(N * out_h):
            n = t // out_h
            oy = t - n * out_h
            for ox in range(out_w):
                q = t * out_w + ox
                k = 0
                for c in range(C):
                    for i in range(kh):
                        for j in range(kw):
                            rows[u(q), u(k)] = x[u(n), u(c), u(oy + i), u(ox + j)]
                            k += 1

    @jit
    def row2im(rows, kh, kw, out_h, out_w, dx):
        N, C, H, W = dx.shape
        for n in prange(N):
            for c in range(C):
                for y in range(H):
                    for xx in range(W):
                        dx[u(n), u(c), u(y), u(xx)] = 0
            for oy in range(out_h):
                for ox in range(out_w):
                    q = (n * out_h + oy) * out_w + ox
                    k = 0
                    for c in range(C):
                        for i in range(kh):
                            for j in range(kw):
                                dx[u(n), u(c), u(oy + i), u(ox + j)] += rows[u(q), u(k)]
                                k += 1

    @jit
    def nhwc_to_nchw_bias(y, bias, out):
        N, O, P = out.shape
        for n in prange(N):
            for p in range(P):
                for o in range(O):
                    out[u(n), u(o), u(p)] = y[u(n * P + p), u(o)] + bias[u(o)]

    @jit
    def nchw_to_nhwc(g, out):
        N, O, P = g.shape
        for n in prange(N):
            for o in range(O):
                for p in range(P):
                    out[u(n * P + p), u(o)] = g[u(n), u(o), u(p)]

    @jit
    def im2col_nkp(x, kh, kw, out_h, out_w, cols):
        # cols (N, C*kh*kw, oh*ow): one im2col matrix per sample.
        N, C, H, W = x.shape
        K = C * kh * kw
        for t in prange(N * K):
            n = t // K
            k = t - n * K
            c = k // (kh * kw)
            r = k - c * kh * kw
            i = r // kw
            j = r - i * kw
            for oy in range(out_h):
                for ox in range(out_w):
                    cols[u(n), u(k), u(oy * out_w + ox)] = x[u(n), u(c), u(oy + i), u(ox + j)]

    @jit
    def col2im_nkp(cols, kh, kw, out_h, out_w, dx):
        N, C, H, W = dx.shape
        for t in prange(N * C):
            n = t // C
            c = t - n * C
            for y in range(H):
                for xx in range(W):
                    dx[u(n), u(c), u(y), u(xx)] = 0
            for i in range(kh):
                for j in range(kw):
                    k = (c * kh + i) * kw + j
                    for oy in range(out_h):
                        for ox in range(out_w):
                            dx[u(n), u(c), u(oy + i), u(ox + j)] += cols[u(n), u(k), u(oy * out_w + ox)]

    return dict(im2row=im2row, row2im=row2im, nhwc_to_nchw_bias=nhwc_to_nchw_bias,
                nchw_to_nhwc=nchw_to_nhwc, im2col_nkp=im2col_nkp, col2im_nkp=col2im_nkp)


def child_layouts(policy, steps, warmup):
    """conv1/conv2 fwd+bwd (and each part) in three column layouts.

    A  cols (K, N*P)      Wm @ cols -> (O, N*P); cnhw_to_nchw(+bias);
                          bwd nchw_to_cnhw(+dbias), g2 @ cols.T, Wm.T @ g2, col2im
    B  rows (N*P, K)      rows @ Wm.T -> (N*P, O) = NHWC; transpose per sample;
                          bwd transpose, g2.T @ rows, g2 @ Wm, row2im
    C  cols (N, K, P)     batched np.matmul(Wm, cols) -> (N, O, P) = NCHW, no
                          transpose; bwd batched Wm.T @ g, dW by a batched
                          matmul + sum or one einsum (the faster is used)
    A' what ops/conv.py ships: A's columns plus a bias row of ones, per-image
                          GEMMs on strided (K+1, P) views of them straight to /
                          from NCHW (fwd, dcols; dW+db too while K+1 is small)
    (K = C*kh*kw, P = oh*ow.)
    """
    numba, np, ctl, kern, mode = _child_setup(policy)
    alt = _layout_kernels(numba, POLICIES[policy][1] in ("par", "pkg"))
    f = np.float32
    rng = np.random.default_rng(0)
    res = {}
    for name, (N, C, H, O, need_dx) in {"conv1": (64, 1, 28, 16, False),
                                        "conv2": (64, 16, 13, 32, True)}.items():
        k = 3
        oh = H - k + 1
        P = oh * oh
        Kc = C * k * k
        x = rng.standard_normal((N, C, H, H)).astype(f)
        g = rng.standard_normal((N, O, oh, oh)).astype(f)
        g3 = g.reshape(N, O, P)
        Wm = rng.standard_normal((O, Kc)).astype(f)
        b = rng.standard_normal(O).astype(f)
        out = np.empty((N, O, P), f)
        dx = np.empty((N, C, H, H), f)
        dW = np.empty((O, Kc), f)
        db = np.empty(O, f)
        # A
        cols = np.empty((Kc, N * P), f)
        y2 = np.empty((O, N * P), f)
        g2 = np.empty((O, N * P), f)
        dcols = np.empty_like(cols)
        parts = {
            "A im2col": lambda: kern["im2col"](x, k, k, 1, 1, 0, 0, 1, 1, oh, oh, cols),
            "A gemm fwd": lambda: np.matmul(Wm, cols, out=y2),
            "A to nchw+bias": lambda: kern["cnhw_to_nchw"](y2, b, out),
            "A from nchw+dbias": lambda: kern["nchw_to_cnhw"](g3, g2, db),
            "A gemm dW": lambda: np.matmul(g2, cols.T, out=dW),
        }
        # the same dW as N per-sample GEMMs on strided views of the same
        # buffers, summed (no copy: each view is BLAS-compatible)
        g2v = g2.reshape(O, N, P).transpose(1, 0, 2)
        colsv = cols.reshape(Kc, N, P).transpose(1, 2, 0)
        tmpA = np.empty((N, O, Kc), f)
        dWT = np.empty((Kc, O), f)
        # What ops/conv.py ships: layout A's columns with a bias row of ones, per-image
        # GEMMs on strided (K+1, P) views of them, reading and writing NCHW directly.
        cols1 = np.ones((Kc + 1, N * P), f)
        cols1v = cols1.reshape(Kc + 1, N, P).transpose(1, 0, 2)
        Wb = np.concatenate([Wm, b[:, None]], axis=1)
        dcolsv = dcols.reshape(Kc, N, P).transpose(1, 0, 2)
        variants = {
            "A dW alt: (cols @ g2.T).T": lambda: np.matmul(cols, g2.T, out=dWT),
            "A dW alt: per-sample bmm+sum": lambda: np.matmul(g2v, colsv, out=tmpA).sum(0, out=dW),
            "A' per-image fwd+bias to NCHW": lambda: np.matmul(Wb, cols1v, out=out),
            "A' per-image dW+db from NCHW": lambda: np.matmul(g3, cols1v.transpose(0, 2, 1)).sum(0),
            "A' per-image dcols from NCHW": lambda: np.matmul(Wm.T, g3, out=dcolsv),
        }
        if need_dx:
            parts["A gemm dcols"] = lambda: np.matmul(Wm.T, g2, out=dcols)
            parts["A col2im"] = lambda: kern["col2im"](dcols, N, C, H, H, k, k, 1, 1, 0, 0,
                                                       1, 1, oh, oh, dx)
        # B
        rows = np.empty((N * P, Kc), f)
        yr = np.empty((N * P, O), f)
        gr = np.empty((N * P, O), f)
        drows = np.empty_like(rows)
        parts.update({
            "B im2row": lambda: alt["im2row"](x, k, k, oh, oh, rows),
            "B gemm fwd": lambda: np.matmul(rows, Wm.T, out=yr),
            "B to nchw+bias": lambda: alt["nhwc_to_nchw_bias"](yr, b, out),
            "B from nchw": lambda: alt["nchw_to_nhwc"](g3, gr),
            "B dbias": lambda: g3.sum(axis=(0, 2), out=db),
            "B gemm dW": lambda: np.matmul(gr.T, rows, out=dW),
        })
        if need_dx:
            parts["B gemm drows"] = lambda: np.matmul(gr, Wm, out=drows)
            parts["B row2im"] = lambda: alt["row2im"](drows, k, k, oh, oh, dx)
        # C
        cn = np.empty((N, Kc, P), f)
        dcn = np.empty_like(cn)
        tmp = np.empty((N, O, Kc), f)
        parts.update({
            "C im2col": lambda: alt["im2col_nkp"](x, k, k, oh, oh, cn),
            "C gemm fwd": lambda: np.matmul(Wm, cn, out=out),
            "C bias": lambda: np.add(out, b[:, None], out=out),
            "C dbias": lambda: g3.sum(axis=(0, 2), out=db),
            "C gemm dW (bmm+sum)": lambda: np.matmul(g3, cn.transpose(0, 2, 1), out=tmp).sum(0, out=dW),
            "C gemm dW (einsum)": lambda: np.einsum("nop,nkp->ok", g3, cn, optimize=True),
        })
        if need_dx:
            parts["C gemm dcols"] = lambda: np.matmul(Wm.T, g3, out=dcn)
            parts["C col2im"] = lambda: alt["col2im_nkp"](dcn, k, k, oh, oh, dx)
        reps = max(steps, 20)
        for pname, fn in parts.items():
            res[f"{name}|{pname}"] = median_seconds(fn, reps, warmup=5) * 1e3
        for pname, fn in variants.items():
            res[f"{name}|{pname}"] = median_seconds(fn, reps, warmup=5) * 1e3
        # as ops/conv.py: per-image dW only up to its row threshold, else layout A's
        # long dW GEMM on grad_output moved to (O, N*P)
        from fastgrad.ops.conv import _PER_IMAGE_DW_MAX_ENTRIES
        per_image_dw = (Kc + 1) * O <= _PER_IMAGE_DW_MAX_ENTRIES
        res[f"{name}|A' total"] = (
            res[f"{name}|A im2col"] + res[f"{name}|A' per-image fwd+bias to NCHW"]
            + (res[f"{name}|A' per-image dW+db from NCHW"] if per_image_dw else
               res[f"{name}|A from nchw+dbias"] + res[f"{name}|A dW alt: (cols @ g2.T).T"])
            + (res[f"{name}|A' per-image dcols from NCHW"] + res[f"{name}|A col2im"]
               if need_dx else 0.0))
        for lay in "ABC":
            tot = sum(v for kk, v in res.items()
                      if kk.startswith(f"{name}|{lay} ") and "dW (" not in kk
                      and "dW alt" not in kk)
            if lay == "C":
                tot += min(res[f"{name}|C gemm dW (bmm+sum)"], res[f"{name}|C gemm dW (einsum)"])
            res[f"{name}|{lay} total"] = tot
            gemm_only = sum(v for kk, v in res.items()
                            if kk.startswith(f"{name}|{lay} gemm") and "dW (" not in kk)
            if lay == "C":
                gemm_only += min(res[f"{name}|C gemm dW (bmm+sum)"], res[f"{name}|C gemm dW (einsum)"])
            res[f"{name}|{lay} gemms"] = gemm_only
    return res


def child_overhead(policy, steps, warmup):
    """Per-call cost of changing the BLAS thread count."""
    import ctypes

    numba, np, ctl, kern, mode = _child_setup(policy)
    from threadpoolctl import threadpool_limits, ThreadpoolController

    res = {}
    n = 2000

    def per_call(fn):
        for _ in range(50):
            fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    def ctl_limit():
        with ctl.limit(limits=1, user_api="blas"):
            pass

    def fresh_limit():
        with threadpool_limits(limits=1, user_api="blas"):
            pass

    lib = [lc for lc in ctl.lib_controllers if lc.user_api == "blas"][0]
    dyn = lib.dynlib
    setter = getattr(dyn, lib._symbol_prefix + "openblas_set_num_threads" + lib._symbol_suffix,
                     None) if hasattr(lib, "_symbol_prefix") else None
    res["ThreadpoolController().limit(1) enter+exit, controller reused [us]"] = per_call(ctl_limit)
    res["threadpool_limits(1) enter+exit, new controller each call [us]"] = per_call(fresh_limit)
    res["ThreadpoolController() construction [us]"] = per_call(ThreadpoolController)
    if setter is not None:
        setter.argtypes = [ctypes.c_int]

        def direct():
            setter(1)
            setter(2)
        res["direct openblas_set_num_threads(1) + (2) via ctypes [us]"] = per_call(direct)
    res["lib_controller.set_num_threads(1) + (2) [us]"] = per_call(
        lambda: (lib.set_num_threads(1), lib.set_num_threads(2)))
    a = np.ones((32, 32), np.float32)
    res["np.matmul 32x32x32 for scale [us]"] = per_call(lambda: a @ a)
    return res


KERNEL_CALLS = """
import numpy as np
f = np.{dt}
x = np.ones((2, 3, 6, 7), f)
cols = np.empty((3*9, 2*4*5), f)
out = np.empty((2, 3, 3, 3), f); am = np.empty((2, 3, 3, 3), np.int32)
dx = np.empty_like(x); y2 = np.empty((4, 2*9), f); o3 = np.empty((2, 4, 9), f)
b = np.ones(4, f)
calls = [
 ("im2col", lambda: K.im2col(x, 3, 3, 1, 1, 0, 0, 1, 1, 4, 5, cols)),
 ("col2im", lambda: K.col2im(cols, 2, 3, 6, 7, 3, 3, 1, 1, 0, 0, 1, 1, 4, 5, dx)),
 ("cnhw_to_nchw", lambda: K.cnhw_to_nchw(y2, b, o3)),
 ("nchw_to_cnhw", lambda: K.nchw_to_cnhw(o3, y2, b)),
 ("maxpool2d_forward", lambda: K.maxpool2d_forward(x, 2, 2, 2, 2, 0, 0, 3, 3, out, am)),
 ("maxpool2d_backward", lambda: K.maxpool2d_backward(out, am, dx)),
 ("avgpool2d_forward", lambda: K.avgpool2d_forward(x, 2, 2, 2, 2, 0, 0, 3, 3, out)),
 ("avgpool2d_backward", lambda: K.avgpool2d_backward(out, 2, 2, 2, 2, 0, 0, dx)),
]
"""


def child_compile(policy, steps, warmup):
    """Cold compile (empty NUMBA_CACHE_DIR) and warm import + first calls."""
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
        for label in ("cold", "warm", "warm again"):
            code = (
                "import time, json\nt0 = time.perf_counter()\n"
                "import fastgrad.kernels as K\nt_imp = time.perf_counter() - t0\n"
                + KERNEL_CALLS.format(dt="float32")
                + "r = {'import': t_imp}\n"
                "for name, fn in calls:\n"
                "    t = time.perf_counter(); fn(); r[name] = time.perf_counter() - t\n"
                "r['import + first calls'] = time.perf_counter() - t0\n"
                "print(json.dumps(r))\n")
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True)
            wall = time.perf_counter() - t0
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["process wall (incl. interpreter start)"] = wall
            res[label + " float32"] = r
        # the float64 specialisations, cold (cache already holds float32)
        code = ("import time, json\nimport fastgrad.kernels as K\n"
                + KERNEL_CALLS.format(dt="float64")
                + "r = {}\nfor name, fn in calls:\n"
                "    t = time.perf_counter(); fn(); r[name] = time.perf_counter() - t\n"
                "print(json.dumps(r))\n")
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True)
        res["cold float64"] = json.loads(p.stdout.strip().splitlines()[-1])
    # explicit signature (eager) vs lazy, same kernel, no cache
    code = (
        "import time, numba, numpy as np, sys\nsys.path.insert(0, %r)\n"
        "import importlib\n"
        "f = importlib.import_module('fastgrad.kernels.im2col').im2col.py_func\n"
        "t = time.perf_counter()\n"
        "numba.njit('void(float32[:,:,:,::1], int64, int64, int64, int64, int64, int64,"
        " int64, int64, int64, int64, float32[:,::1])', nogil=True, parallel=True)(f)\n"
        "t_sig = time.perf_counter() - t\n"
        "g = numba.njit(nogil=True, parallel=True)(f)\n"
        "x = np.ones((2, 3, 6, 7), np.float32); c = np.empty((27, 40), np.float32)\n"
        "t = time.perf_counter(); g(x, 3, 3, 1, 1, 0, 0, 1, 1, 4, 5, c)\n"
        "t_lazy = time.perf_counter() - t\n"
        "h = numba.njit(nogil=True)(f)\n"
        "t = time.perf_counter(); h(x, 3, 3, 1, 1, 0, 0, 1, 1, 4, 5, c)\n"
        "t_ser = time.perf_counter() - t\n"
        "print(t_sig, t_lazy, t_ser)\n" % ROOT)
    env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp())
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       check=True)
    t_sig, t_lazy, t_ser = map(float, p.stdout.split())
    res["im2col compile, parallel, explicit signature [s]"] = t_sig
    res["im2col compile, parallel, lazy (first call) [s]"] = t_lazy
    res["im2col compile, serial (no parallel=True), lazy [s]"] = t_ser
    return res


CHILDREN = {"policies": child_policies, "interleaved": child_interleaved,
            "layouts": child_layouts,
            "overhead": child_overhead, "compile": child_compile}


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------

def run_child(section, policy, steps, warmup):
    env = dict(os.environ)
    if POLICIES[policy][1] != "pkg":
        env["FASTGRAD_THREADING"] = "off"  # the child sets the policy under test itself
    env.update(POLICIES[policy][4])
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", section,
                        "--policy", policy, "--steps", str(steps), "--warmup", str(warmup)],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"child {section}/{policy} failed")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _clean_median(rs, key, limit=0.15):
    """Median of key over runs with little foreign load (all runs if none)."""
    clean = [r for r in rs if r.get("foreign", 0.0) < limit]
    return statistics.median(r[key] for r in (clean or rs)), len(clean)


def section_policies(args):
    names = args.policies.split(",") if args.policies else list(POLICIES)
    runs = {n: [] for n in names}
    for r in range(args.rounds):
        for n in names:
            runs[n].append(run_child("policies", n, args.steps, args.warmup))
            print(f"  round {r + 1}/{args.rounds} {n:10s} step "
                  f"{runs[n][-1]['step']:7.2f} ms  foreign load "
                  f"{runs[n][-1]['foreign']:4.2f} cores", flush=True)
    med, nclean = {}, {}
    for n in names:
        med[n] = {k: _clean_median(runs[n], k)[0] for k in LAYERS + ["step"]}
        nclean[n] = _clean_median(runs[n], "step")[1]
    base = med.get("a", med[names[0]])
    print("\nms per layer, fwd+bwd inside a full step (median over rounds without "
          f"foreign load of the median of {args.steps} steps); (ratio to policy a)")
    head = (f"{'policy':10s} " + " ".join(f"{c:>13s}" for c in LAYERS + ["step"])
            + "   img/s clean")
    print(head)
    for n in names:
        cells = []
        for c in LAYERS + ["step"]:
            cells.append(f"{med[n][c]:6.2f} ({med[n][c] / base[c]:4.2f})")
        print(f"{n:10s} " + " ".join(cells)
              + f"  {64e3 / med[n]['step']:6.0f} {nclean[n]}/{len(runs[n])}")
    print("\npolicies:")
    for n in names:
        print(f"  {n:10s} {POLICIES[n][0]}")
    print("PyTorch CPU reference on this machine (from the brief): conv2 fwd+bwd "
          "1.8 ms, pool1 fwd+bwd 2.6 ms, whole CNN step ~9400 img/s")
    return med


def section_interleaved(args):
    envs = args.envs.split(",")
    for env in envs:
        runs = [run_child("interleaved", env, args.steps, args.warmup)
                for _ in range(args.rounds)]
        foreign = [r.pop("foreign") for r in runs]
        labels = list(runs[0])
        print(f"\nin-process, blocks alternating, env {env} ({POLICIES[env][0]}); "
              f"foreign load per run {', '.join(f'{f:.2f}' for f in foreign)}")
        print("ms fwd+bwd per layer (ratio to the first row), median over "
              f"{args.rounds} runs x {max(1, args.steps // 20)} blocks")
        med = {lab: {k: statistics.median(r[lab][k] for r in runs) for k in LAYERS + ["step"]}
               for lab in labels}
        base = med[labels[0]]
        print(f"{'config':34s} " + " ".join(f"{c:>13s}" for c in LAYERS + ["step"]) + "  img/s")
        for lab in labels:
            print(f"{lab:34s} " + " ".join(f"{med[lab][c]:6.2f} ({med[lab][c] / base[c]:4.2f})"
                                           for c in LAYERS + ["step"])
                  + f"  {64e3 / med[lab]['step']:6.0f}")


def section_layouts(args):
    names = args.layout_policies.split(",")
    for n in names:
        runs = [run_child("layouts", n, args.steps, args.warmup) for _ in range(args.rounds)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"\nlayouts under policy {n} ({POLICIES[n][0]}), ms, median of {args.rounds}")
        for conv in ("conv1", "conv2"):
            print(f"  {conv}:")
            for k, v in med.items():
                if k.startswith(conv + "|") and "total" not in k and "gemms" not in k:
                    print(f"    {k.split('|')[1]:24s} {v:7.3f}")
            ta = med[f"{conv}|A total"]
            for lay in "ABC":
                t = med[f"{conv}|{lay} total"]
                print(f"    {lay} total fwd+bwd {t:7.3f} ms (ratio to A {t / ta:4.2f}); "
                      f"of which GEMMs {med[f'{conv}|{lay} gemms']:7.3f}")
            t = med[f"{conv}|A' total"]
            print(f"    A' (shipped: A's columns, per-image GEMMs to/from NCHW) fwd+bwd {t:7.3f} ms "
                  f"(ratio to A {t / ta:4.2f})")


def section_overhead(args):
    res = run_child("overhead", args.overhead_policy, args.steps, args.warmup)
    print(f"\nBLAS thread-count switching cost (policy {args.overhead_policy}):")
    for k, v in res.items():
        print(f"  {k:75s} {v:8.2f}")


def section_compile(args):
    res = run_child("compile", "a", args.steps, args.warmup)
    print("\ncompile / load times [s]:")
    for label, r in res.items():
        if isinstance(r, dict):
            tot = sum(v for k, v in r.items() if k not in ("import", "import + first calls",
                                                           "process wall (incl. interpreter start)"))
            print(f"  {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items())
                  + f"; sum of first calls {tot:.2f}")
        else:
            print(f"  {label}: {r:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sections", nargs="*", default=["overhead", "compile", "layouts", "policies", "interleaved"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=15)
    ap.add_argument("--policies", default="")
    ap.add_argument("--layout-policies", default="shipped,b")
    ap.add_argument("--envs", default="default_env,passive_env")
    ap.add_argument("--overhead-policy", default="a")
    ap.add_argument("--child")
    ap.add_argument("--policy")
    args = ap.parse_args()
    if args.child:
        res = CHILDREN[args.child](args.policy, args.steps, args.warmup)
        print(json.dumps(res))
        return
    for s in args.sections:
        print(f"== {s} ==", flush=True)
        globals()["section_" + s](args)


if __name__ == "__main__":
    main()
