"""im2col / col2im kernels for Conv2d, and the layout moves around the GEMM.

Layout ("CNHW columns")
-----------------------
``cols`` has shape ``(C*kh*kw, N*out_h*out_w)``: row ``k = (c*kh + i)*kw + j``
is kernel tap ``(c, i, j)``, column ``q = (n*out_h + oy)*out_w + ox`` is output
pixel ``(n, oy, ox)``.  With ``Wm = weight.reshape(O, C*kh*kw)`` the three
GEMMs of a convolution are single large 2-D GEMMs on contiguous operands::

    forward   y    = Wm @ cols          # (O, N*oh*ow)   "CNHW" output
    backward  dW   = g  @ cols.T        # (O, C*kh*kw)
              dcol = Wm.T @ g           # (C*kh*kw, N*oh*ow) -> col2im

where ``g`` is grad_output in the same ``(O, N*oh*ow)`` layout.  Getting from
and to NCHW costs one block copy of the (small) output: ``cnhw_to_nchw``
(adds the bias on the way) and ``nchw_to_cnhw`` (sums the bias gradient on the
way).  Those moves are of contiguous runs of ``oh*ow`` elements, unlike the
per-element transpose the ``(N*oh*ow, C*kh*kw)`` row layout needs.

Why this layout (``benchmarks/kernel_timings.py layouts``, batch 64 float32,
conv fwd+bwd in ms, kernels and GEMMs timed separately and summed; A this
layout, B rows ``(N*P, K)`` with ``rows @ Wm.T``, C per-sample ``(N, K, P)``
with batched ``np.matmul`` straight into NCHW)::

                        BLAS 2 threads           BLAS 1 thread
                        A      B      C          A      B      C
    conv2 16->32 k3     2.52   3.22   3.18       4.13   4.31   3.51
    conv1  1->16 k3     1.05   1.65   0.58       1.11   1.51   0.73

A is the fastest at BLAS 2 threads; C's many small GEMMs do not thread.

Since the batch is split into one chunk per core with BLAS at 1 thread,
``ops/conv.py`` keeps layout A for the columns but runs the forward and the
input-gradient GEMMs per image, on strided (K, P) views of ``cols`` (leading
dimension N*P, which BLAS takes as it is), reading and writing NCHW directly:
no ``cnhw_to_nchw`` at all, and ``nchw_to_cnhw`` only for a long dW GEMM.
Measured interleaved (one chunk of 32 images, BLAS 1 thread, us)::

                        per image   layout A GEMM (+ layout move)
    conv1 forward          86          119  (+ cnhw_to_nchw)
    conv1 dW               87          283  (+ nchw_to_cnhw)
    conv2 forward         395          419  (+ cnhw_to_nchw)
    conv2 dW              690          469  (+ nchw_to_cnhw)   <- stays A
    conv2 dcols           386          391   <- stays A (G is there for dW)

conv1 fwd+bwd 1.46 -> 0.55 ms, conv2 4.15 -> 4.12 (a loaded run, same
process, interleaved); per-image dW on conv2 as well: 4.41.  Inside whole
steps conv2's dcols as one GEMM on G measured 0.94-0.98x of the per-image
GEMMs, and its forward per image 0.94-0.95x of A's GEMM + ``cnhw_to_nchw``
(layer fwd+bwd, interleaved).
B pays for the per-element transposes and a scattered row2im (0.7-0.9 ms on
conv2).  Two GEMM choices close most of the gap where C wins; they are made
by the caller, who owns the GEMMs:

* dW of conv2: ``(cols @ g.T).T`` (0.51 ms at BLAS 2, 1.02 at BLAS 1) beats
  ``g @ cols.T`` (0.77 / 1.43): same product, better operand order for
  OpenBLAS.
* dW of conv1 (K = 9, N*P = 43264): N per-sample GEMMs on strided views of
  the same buffers, ``np.matmul(g.reshape(O, N, P).transpose(1, 0, 2),
  cols.reshape(K, N, P).transpose(1, 2, 0)).sum(0)`` (no copies), takes 0.15
  ms against 0.50 for the one tall-skinny GEMM; conv1 in A then totals
  0.70 / 0.77 ms against C's 0.58 / 0.73.

The kernels here are serial (``nogil``), but for ``col2im`` (see there):
conv2d runs them inside ``run_chunks``, one chunk of the batch per core, on
one thread anyway (see ``threads.py``).  As ``parallel=True`` kernels,
im2col and the layout moves ran no faster inside chunks, yet took 5.5 s of
the 12 s cold compile of a first training step (im2col 5.0 -> 2.1 s serial),
and cost 70-130 us per call to wake the OpenMP threads for a single image.
Each kernel's loop runs over an axis on which no two iterations write the
same element, so it could be made parallel again.
None of them allocates its output or validates its
arguments: the Python caller must guarantee the preconditions in each
docstring.  Every array argument must be C-contiguous and all floating arrays
of one call must share one dtype (float32 or float64).
"""

import numba

# Array indices are cast to unsigned (``_u``) where they are known to be
# >= 0: with a signed index numba emits a negative-index wraparound test per
# access, which blocks vectorisation and made these copy loops ~5x slower
# (im2col of conv2: 1.3 ms -> 0.24 ms, serial).  Under NUMBA_DISABLE_JIT
# ``numba.uintp(i)`` is ``np.uint64(i)``, a valid numpy index.
_u = numba.uintp

__all__ = ["im2col", "col2im", "cnhw_to_nchw", "nchw_to_cnhw"]


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
    # One iteration writes row k of cols, which no other iteration touches.
    # (Splitting rows into blocks of samples, for more iterations than K = 9
    # on conv1, cost 1.1-1.3x.)
    for k in range(K):
        c = k // KK
        r = k - c * KK
        i = r // kw
        j = r - i * kw
        off_w = j * dw - pw
        off_h = i * dh - ph
        # output rows [y_lo, y_hi) and columns [lo, hi) read the image, the
        # rest reads padding: no bounds test inside the copy loops
        y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
        lo, hi = _valid_ox_range(off_w, sw, W, out_w)
        # a 1-D row, running offsets and runs copied in blocks of 8
        # (_copy_run): conv2's im2col 0.27 -> 0.11 ms per 32 images, conv1's
        # 0.036 -> 0.022 (1 thread); cols[k, q] with q computed per run and
        # a plain copy loop, 1.7x slower each
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


@numba.njit(cache=True, nogil=True, parallel=True)
def col2im(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, dx):
    """Adjoint of ``im2col``: sum every column entry back onto its input pixel.

    cols: (C*kh*kw, N*out_h*out_w), same layout as ``im2col`` writes; read only.
    dx:   (N, C, H, W) output.  The kernel zero-fills it first (each thread its
          own planes, while they are in cache), so the caller can pass a
          reused buffer with stale contents; entries that fall in the padding
          are dropped.

    Preconditions: as for ``im2col`` with the same geometry arguments (N, C,
    H, W are those of the convolution input); ``cols`` and ``dx``
    C-contiguous with the same dtype.
    """
    P = out_h * out_w
    KK = kh * kw
    df = dx.reshape(N * C, H * W)
    # Parallel over (n, c) planes: windows overlap inside a plane, never
    # across planes, so no two iterations accumulate into the same element.
    # The one parallel kernel here, though conv2d runs it on one thread: as a
    # parfor body it runs 0.85x the time of the same loops compiled serially
    # (conv2, 32 images, interleaved; likely numba's no-alias arguments for
    # the body, which spare the += loop its overlap tests).
    for t in numba.prange(N * C):
        n = t // C
        c = t - n * C
        up = _u(t)
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


@numba.njit(cache=True, nogil=True)
def cnhw_to_nchw(src, bias, out):
    """Move the forward GEMM result to NCHW and add the bias.

    src:  (O, N*P) with column (n*P + p), i.e. ``Wm @ cols``; read only.
    bias: (O,) or None (no bias: that is a separate compiled specialisation).
    out:  (N, O, P) output (a view of the (N, O, out_h, out_w) result with
          P = out_h*out_w), every element overwritten:
          ``out[n, o, p] = src[o, n*P + p] + bias[o]``.

    Preconditions: ``src.shape[1] == N*P``; C-contiguous; one dtype.
    """
    N, O, P = out.shape
    for t in range(N * O):
        n = t // O
        o = t - n * O
        s = n * P
        un, uo = _u(n), _u(o)
        if bias is None:
            for p in range(P):
                out[un, uo, _u(p)] = src[uo, _u(s + p)]
        else:
            b = bias[uo]
            for p in range(P):
                out[un, uo, _u(p)] = src[uo, _u(s + p)] + b


@numba.njit(cache=True, nogil=True)
def nchw_to_cnhw(src, out, dbias):
    """Move grad_output from NCHW to the GEMM layout, summing the bias grad.

    src:   (N, O, P) grad_output (view of (N, O, out_h, out_w)); read only.
    out:   (O, N*P) output, every element overwritten:
           ``out[o, n*P + p] = src[n, o, p]``.
    dbias: (O,) output overwritten with ``src.sum(axis=(0, 2))`` (accumulated
           in float64, rounded once to dbias's dtype), or None to skip it.

    Preconditions: ``out.shape == (O, N*P)``; C-contiguous; one dtype.
    """
    N, O, P = src.shape
    # One iteration per o owns whole rows of out and a whole dbias entry: no
    # two iterations write the same element.
    for o in range(O):
        uo = _u(o)
        for n in range(N):
            s = n * P
            un = _u(n)
            for p in range(P):
                out[uo, _u(s + p)] = src[un, uo, _u(p)]
        if dbias is not None:
            # A separate pass over the row just written (in cache): keeping
            # the float64 sum out of the copy loop lets that loop vectorise.
            # Four interleaved float64 partial sums: one running sum is
            # bound by the add latency (0.2 ms on conv2, 4x this).
            NP = N * P
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            q = 0
            while q + 4 <= NP:
                a0 += float(out[uo, _u(q)])
                a1 += float(out[uo, _u(q + 1)])
                a2 += float(out[uo, _u(q + 2)])
                a3 += float(out[uo, _u(q + 3)])
                q += 4
            while q < NP:
                a0 += float(out[uo, _u(q)])
                q += 1
            dbias[uo] = (a0 + a1) + (a2 + a3)
