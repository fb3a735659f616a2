"""im2col / col2im kernels for Conv2d, and the one layout move around its GEMMs.

Layout ("CNHW columns"): ``cols`` has shape ``(C*kh*kw, N*out_h*out_w)``; row
``k = (c*kh + i)*kw + j`` is kernel tap ``(c, i, j)``, column
``q = (n*out_h + oy)*out_w + ox`` is output pixel ``(n, oy, ox)``.  With
``Wm = weight.reshape(O, C*kh*kw)`` a convolution is ``Wm @ cols``, its weight
gradient ``g @ cols.T`` and its column gradient ``Wm.T @ g``, with ``g`` the
output gradient as ``(O, N*out_h*out_w)`` (``nchw_to_cnhw``).  ``ops/conv.py``
runs the forward and input-gradient GEMMs per image on strided views of
``cols`` instead, reading and writing NCHW directly; why this layout and
those GEMM choices: docs/performance.md, "Convolution layout".

The kernels are serial and ``nogil``: conv2d runs them on one chunk of the
batch per thread (``threads.py``).  None of them allocates its output or
validates its arguments: the Python caller guarantees the preconditions in
each docstring.  Every array argument must be C-contiguous and all floating
arrays of one call must share one dtype (float32 or float64).
"""

import numba

# Array indices are cast to unsigned (``_u``) where they are known to be
# >= 0: with a signed index numba emits a negative-index wraparound test per
# access, which blocks vectorisation (docs/performance.md, "Unsigned
# indices").  Under NUMBA_DISABLE_JIT ``numba.uintp(i)`` is ``np.uint64(i)``,
# a valid numpy index.
_u = numba.uintp

__all__ = ["im2col", "col2im", "nchw_to_cnhw"]


@numba.njit(cache=True)
def _valid_ox_range(off, stride, width, out_w):
    """Range [lo, hi) of output columns ox with 0 <= ox*stride + off < width.

    Lets the copy loops run without a bounds test per element (so LLVM can
    vectorise the stride-1 case); everything outside the range is padding.
    """
    lo = 0
    if off < 0:
        lo = (-off + stride - 1) // stride
    last = width - 1 - off  # largest admissible ox*stride
    if last < 0:
        hi = 0
    else:
        hi = last // stride + 1
    if hi > out_w:
        hi = out_w
    if lo > out_w:
        lo = out_w
    if hi < lo:
        hi = lo
    return lo, hi


@numba.njit(cache=True, inline="always")
def _copy8(dst, d, src, s):
    """dst[d:d+8] = src[s:s+8] (1-D arrays), all loads before all stores.

    Written out so that LLVM's SLP vectoriser makes one vector load and one
    vector store of it: as a loop, it cannot rule out that dst and src overlap,
    and a run of 11 (conv2) costs a runtime overlap test plus a scalar tail.
    """
    a0 = src[_u(s)]
    a1 = src[_u(s + 1)]
    a2 = src[_u(s + 2)]
    a3 = src[_u(s + 3)]
    a4 = src[_u(s + 4)]
    a5 = src[_u(s + 5)]
    a6 = src[_u(s + 6)]
    a7 = src[_u(s + 7)]
    dst[_u(d)] = a0
    dst[_u(d + 1)] = a1
    dst[_u(d + 2)] = a2
    dst[_u(d + 3)] = a3
    dst[_u(d + 4)] = a4
    dst[_u(d + 5)] = a5
    dst[_u(d + 6)] = a6
    dst[_u(d + 7)] = a7


@numba.njit(cache=True, inline="always")
def _copy_run(dst, d, src, s, length):
    """dst[d:d+length] = src[s:s+length] for 1-D arrays that do not overlap.

    Blocks of 8, the last one shifted back to end at the run's end (it
    rewrites a few elements with the same values): no scalar tail, and not a
    single access outside the two ranges.
    """
    if length >= 8:
        o = 0
        while o + 8 <= length:
            _copy8(dst, d + o, src, s + o)
            o += 8
        if o < length:
            _copy8(dst, d + length - 8, src, s + length - 8)
    else:
        for o in range(length):
            dst[_u(d + o)] = src[_u(s + o)]


@numba.njit(cache=True, inline="always")
def _tap(k, kh, kw, sh, sw, ph, pw, dh, dw, H, W, out_h, out_w):
    """Where row ``k`` of the columns (kernel tap ``(c, i, j)``) reads the input.

    Returns ``(c, off_h, off_w, y_lo, y_hi, lo, hi)``: output position (oy, ox) reads input
    pixel ``(oy*sh + off_h, ox*sw + off_w)`` of channel c, inside the image exactly for
    output rows [y_lo, y_hi) and columns [lo, hi) (the rest is padding), so the copy loops
    need no bounds test.
    """
    KK = kh * kw
    c = k // KK
    r = k - c * KK
    i = r // kw
    j = r - i * kw
    off_h = i * dh - ph
    off_w = j * dw - pw
    y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
    lo, hi = _valid_ox_range(off_w, sw, W, out_w)
    return c, off_h, off_w, y_lo, y_hi, lo, hi


@numba.njit(cache=True, nogil=True)
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, cols):
    """Unfold the padded, dilated windows of ``x`` into columns.

    x:    (N, C, H, W) input, read only.
    cols: (R, N*out_h*out_w) output with R >= C*kh*kw; its first C*kh*kw
          rows are overwritten:
          ``cols[(c*kh+i)*kw+j, (n*out_h+oy)*out_w+ox] =
          x[n, c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]``, or 0 where that
          position falls in the (implicit, zero) padding; rows from C*kh*kw
          on are left as they are (conv2d keeps its bias row of ones there).

    Preconditions (the caller checks them): ``kh, kw, sh, sw, dh, dw >= 1``,
    ``ph, pw >= 0``, ``out_h = (H + 2*ph - dh*(kh-1) - 1)//sh + 1 >= 1`` and
    likewise ``out_w`` with the W quantities; ``x`` and ``cols`` C-contiguous
    with the same dtype.
    """
    N, C, H, W = x.shape
    P = out_h * out_w
    KK = kh * kw
    K = C * KK
    x_flat = x.reshape(N * C * H * W)
    for k in range(K):
        c, off_h, off_w, y_lo, y_hi, lo, hi = _tap(k, kh, kw, sh, sw, ph, pw, dh, dw, H, W,
                                                   out_h, out_w)
        # a 1-D row, running offsets and runs copied in blocks of 8: 2.5x
        # faster than cols[k, q] and a plain loop (docs/performance.md)
        row = cols[k]
        for n in range(N):
            base = n * P
            if y_lo > 0:
                for q in range(base, base + y_lo * out_w):
                    row[_u(q)] = 0
            q = base + y_lo * out_w
            s = ((n * C + c) * H + y_lo * sh + off_h) * W + off_w
            if sw == 1 and lo == 0 and hi == out_w:
                # no padding columns: the loop alone, which LLVM then keeps
                # tight (empty zero-fill loops beside it cost 1.4x on conv2)
                for oy in range(y_lo, y_hi):
                    _copy_run(row, q, x_flat, s, out_w)
                    q += out_w
                    s += sh * W
            else:
                for oy in range(y_lo, y_hi):
                    for ox in range(lo):
                        row[_u(q + ox)] = 0
                    if sw == 1:
                        _copy_run(row, q + lo, x_flat, s + lo, hi - lo)
                    else:
                        for ox in range(lo, hi):
                            row[_u(q + ox)] = x_flat[_u(s + ox * sw)]
                    for ox in range(hi, out_w):
                        row[_u(q + ox)] = 0
                    q += out_w
                    s += sh * W
            if y_hi < out_h:
                for q in range(base + y_hi * out_w, base + P):
                    row[_u(q)] = 0


@numba.njit(cache=True, nogil=True)
def col2im(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    """Adjoint of ``im2col``: sum every column entry back onto its input pixel.

    cols: (C*kh*kw, N*out_h*out_w), same layout as ``im2col`` writes; read only.
    dx:   (N, C, H, W) output.  The kernel zero-fills it first, so the caller
          can pass a reused buffer with stale contents; entries that fall in
          the padding are dropped.

    Preconditions: as for ``im2col`` with the same geometry arguments (N, C,
    H, W are those of the convolution input); ``cols`` and ``dx``
    C-contiguous with the same dtype.
    """
    P = out_h * out_w
    KK = kh * kw
    df = dx.reshape(N * C * H * W)
    for q in range(N * C * H * W):
        df[_u(q)] = 0
    # Row by row of cols, as im2col writes them (each row streamed once): 2.2x faster than
    # plane by plane, and a plain loop for stride 1 beats written-out blocks of 8 here
    # (docs/performance.md, "Kernels").
    for k in range(C * KK):
        c, off_h, off_w, y_lo, y_hi, lo, hi = _tap(k, kh, kw, sh, sw, ph, pw, dh, dw, H, W,
                                                   out_h, out_w)
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


@numba.njit(cache=True, nogil=True)
def nchw_to_cnhw(src, out):
    """Move grad_output from NCHW to the GEMM layout.

    src: (N, O, P) grad_output (view of (N, O, out_h, out_w)); read only.
    out: (O, N*P) output, every element overwritten:
         ``out[o, n*P + p] = src[n, o, p]``.

    Preconditions: ``out.shape == (O, N*P)``; C-contiguous; one dtype.
    """
    N, O, P = src.shape
    for o in range(O):
        uo = _u(o)
        for n in range(N):
            s = n * P
            un = _u(n)
            for p in range(P):
                out[uo, _u(s + p)] = src[un, uo, _u(p)]
