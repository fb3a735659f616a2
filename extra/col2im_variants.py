"""col2im loop orders compared on conv2 / conv1 shapes (CPU time, one thread); see docs/performance.md, "Kernels".

Run: python extra/col2im_variants.py (from the repository root, fastgrad importable)."""
import time, numpy as np, numba
from fastgrad.kernels.im2col import _valid_ox_range, _add_run
_u = numba.uintp

@numba.njit(cache=False, nogil=True)
def v_old_serial(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    P = out_h * out_w; KK = kh * kw
    df = dx.reshape(N * C, H * W)
    for t in range(N * C):
        n = t // C; c = t - n * C; up = _u(t)
        for i in range(H * W):
            df[up, _u(i)] = 0
        base = n * P
        for i in range(kh):
            for j in range(kw):
                uk = _u(c * KK + i * kw + j)
                off_w = j * dw - pw
                lo, hi = _valid_ox_range(off_w, sw, W, out_w)
                for oy in range(out_h):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    q = base + oy * out_w
                    s = y * W + off_w
                    if sw == 1:
                        for ox in range(lo, hi):
                            df[up, _u(s + ox)] += cols[uk, _u(q + ox)]
                    else:
                        for ox in range(lo, hi):
                            df[up, _u(s + ox * sw)] += cols[uk, _u(q + ox)]

@numba.njit(cache=False, nogil=True)
def _plane(cols, c, n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, plane):
    # plane: 1-D H*W output (noalias by construction: a separate small buffer)
    P = out_h * out_w; KK = kh * kw
    base = n * P
    for i in range(kh):
        for j in range(kw):
            row = cols[_u(c * KK + i * kw + j)]
            off_w = j * dw - pw
            lo, hi = _valid_ox_range(off_w, sw, W, out_w)
            for oy in range(out_h):
                y = oy * sh - ph + i * dh
                if y < 0 or y >= H:
                    continue
                q = base + oy * out_w
                s = y * W + off_w
                for ox in range(lo, hi):
                    plane[_u(s + ox * sw)] += row[_u(q + ox)]

@numba.njit(cache=False, nogil=True)
def v_local(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    # accumulate each plane in a local buffer, then copy out
    df = dx.reshape(N * C, H * W)
    acc = np.empty(H * W, dx.dtype)
    for t in range(N * C):
        n = t // C; c = t - n * C
        acc[:] = 0
        _plane(cols, c, n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, acc)
        df[t, :] = acc

@numba.njit(cache=False, nogil=True)
def v_rowmajor(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    # loop: tap row k outer, images inner: streams each cols row once (like im2col)
    P = out_h * out_w; KK = kh * kw
    df = dx.reshape(N * C * H * W)
    for q in range(N * C * H * W):
        df[_u(q)] = 0
    for k in range(C * KK):
        c = k // KK; r = k - c * KK; i = r // kw; j = r - i * kw
        off_w = j * dw - pw; off_h = i * dh - ph
        lo, hi = _valid_ox_range(off_w, sw, W, out_w)
        y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
        row = cols[k]
        for n in range(N):
            q = n * P + y_lo * out_w
            s = ((n * C + c) * H + y_lo * sh + off_h) * W + off_w
            for oy in range(y_lo, y_hi):
                for ox in range(lo, hi):
                    df[_u(s + ox * sw)] += row[_u(q + ox)]
                q += out_w
                s += sh * W

N, C, H, W = 32, 16, 13, 13
cols = np.random.default_rng(0).standard_normal((C*9, N*121)).astype(np.float32)
from fastgrad.kernels import col2im
ref = np.empty((N, C, H, W), np.float32); col2im(cols, N, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, 11, 11, ref)
for name, f in [("current", col2im), ("old_serial", v_old_serial), ("local", v_local), ("rowmajor", v_rowmajor)]:
    dx = np.empty((N, C, H, W), np.float32)
    f(cols, N, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, 11, 11, dx)
    assert np.allclose(dx, ref, atol=1e-5), name
    ts = []
    for rep in range(5):
        t = time.process_time()
        for _ in range(1000): f(cols, N, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, 11, 11, dx)
        ts.append((time.process_time() - t) / 1000 * 1e6)
    print(f"{name:12s} {min(ts):.1f} us")

@numba.njit(cache=False, nogil=True)
def v_rowmajor_s1(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    P = out_h * out_w; KK = kh * kw
    df = dx.reshape(N * C * H * W)
    for q in range(N * C * H * W):
        df[_u(q)] = 0
    for k in range(C * KK):
        c = k // KK; r = k - c * KK; i = r // kw; j = r - i * kw
        off_w = j * dw - pw; off_h = i * dh - ph
        lo, hi = _valid_ox_range(off_w, sw, W, out_w)
        y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
        row = cols[k]
        for n in range(N):
            q = n * P + y_lo * out_w
            s = ((n * C + c) * H + y_lo * sh + off_h) * W + off_w
            if sw == 1:
                for oy in range(y_lo, y_hi):
                    _add_run(df, s + lo, row, q + lo, hi - lo)
                    q += out_w
                    s += sh * W
            else:
                for oy in range(y_lo, y_hi):
                    for ox in range(lo, hi):
                        df[_u(s + ox * sw)] += row[_u(q + ox)]
                    q += out_w
                    s += sh * W

@numba.njit(cache=False, nogil=True)
def v_rowmajor_plain1(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    P = out_h * out_w; KK = kh * kw
    df = dx.reshape(N * C * H * W)
    for q in range(N * C * H * W):
        df[_u(q)] = 0
    for k in range(C * KK):
        c = k // KK; r = k - c * KK; i = r // kw; j = r - i * kw
        off_w = j * dw - pw; off_h = i * dh - ph
        lo, hi = _valid_ox_range(off_w, sw, W, out_w)
        y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
        row = cols[k]
        for n in range(N):
            q = n * P + y_lo * out_w
            s = ((n * C + c) * H + y_lo * sh + off_h) * W + off_w
            if sw == 1:
                for oy in range(y_lo, y_hi):
                    for ox in range(lo, hi):
                        df[_u(s + ox)] += row[_u(q + ox)]
                    q += out_w
                    s += sh * W
            else:
                for oy in range(y_lo, y_hi):
                    for ox in range(lo, hi):
                        df[_u(s + ox * sw)] += row[_u(q + ox)]
                    q += out_w
                    s += sh * W

for name, f in [("rowmajor_s1", v_rowmajor_s1), ("rowmajor_plain1", v_rowmajor_plain1), ("rowmajor", v_rowmajor)]:
    for (N, C, H, W, oh) in [(32, 16, 13, 13, 11), (32, 1, 28, 28, 26)]:
        cols = np.random.default_rng(0).standard_normal((C*9, N*oh*oh)).astype(np.float32)
        ref = np.empty((N, C, H, W), np.float32); col2im(cols, N, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, oh, oh, ref)
        dx = np.empty((N, C, H, W), np.float32)
        f(cols, N, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, oh, oh, dx)
        assert np.allclose(dx, ref, atol=1e-5), name
        ts = []
        for rep in range(5):
            t = time.process_time()
            for _ in range(1000): f(cols, N, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, oh, oh, dx)
            ts.append((time.process_time() - t) / 1000 * 1e6)
        print(f"{name:16s} C={C} {min(ts):.1f} us")
