"""Max-pool and average-pool 2-D kernels (NCHW), PyTorch semantics.

Plain serial loops over the N*C planes (``nogil``): the caller runs them on
one chunk of the batch per thread (``fastgrad/kernels/threads.py``).  Pooling
windows never cross planes, and a plane stays in L1 while it is worked on.
Kernels never allocate their outputs and never validate their arguments; the
caller must guarantee the preconditions given in each docstring.  All arrays
must be C-contiguous; floating arrays of one call share one dtype (float32 or
float64), the output dtype being the input dtype.

Output size, as PyTorch with ``ceil_mode=False`` (the only mode here)::

    out_h = (H + 2*ph - kh)//sh + 1        # max-pool also has no dilation here
    out_w = (W + 2*pw - kw)//sw + 1
"""

import numba

# Indices known to be >= 0 are cast to unsigned: a signed index makes numba
# test every access for negative wraparound, several times slower in these
# short loops (docs/performance.md, "Unsigned indices").  Planes are addressed
# through flat (N*C, H*W) views so the argmax indices can be used as they are.
_u = numba.uintp

__all__ = [
    "maxpool2d_forward",
    "maxpool2d_forward_2x2s2",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
]


@numba.njit(cache=True, nogil=True)
def _in_bounds(start, size, limit):
    """[lo, hi): the part of the window [start, start + size) inside [0, limit)."""
    return max(start, 0), min(start + size, limit)


@numba.njit(cache=True, nogil=True)
def _window_max(xf, ut, y0, x0, kh, kw, H, W):
    """PyTorch's max-pool scan of one window of plane ``xf[ut]`` (flat H*W).

    The window's top-left corner is (y0, x0) in unpadded coordinates (may be
    negative: padding); returns (max value, flat index of the chosen element).
    """
    y_lo, y_hi = _in_bounds(y0, kh, H)
    x_lo, x_hi = _in_bounds(x0, kw, W)
    # Starting from the first in-bounds element is the state PyTorch reaches
    # after it (it starts from -inf with that element's index), and
    # re-visiting it below changes nothing; this keeps `best` in x's dtype.
    best_i = y_lo * W + x_lo
    best = xf[ut, _u(best_i)]
    for y in range(y_lo, y_hi):
        for xx in range(x_lo, x_hi):
            i = y * W + xx
            v = xf[ut, _u(i)]
            if v > best or v != v:
                best = v
                best_i = i
    return best, best_i


@numba.njit(cache=True, nogil=True)
def maxpool2d_forward(x, kh, kw, sh, sw, ph, pw, out_h, out_w, out, argmax):
    """Max over each (kh, kw) window, with the position of the chosen element.

    x:      (N, C, H, W) input, read only.
    out:    (N, C, out_h, out_w) output, every element overwritten.
    argmax: (N, C, out_h, out_w) integer output (int32 or int64, each its own
            compiled specialisation), every element overwritten with the flat
            index ``h*W + w`` into the *unpadded* input plane ``x[n, c]``.

    Semantics are PyTorch's CPU kernel: padding counts as -inf; the scan is in
    row-major window order and an element replaces the running max when it is
    strictly greater (so ties keep the FIRST maximum) or when it is NaN (so a
    NaN always propagates; with several NaNs the LAST one is reported).  A
    window of only -inf reports its first in-bounds element.

    Preconditions: ``kh, kw, sh, sw >= 1``; ``0 <= ph <= kh//2`` and
    ``0 <= pw <= kw//2`` (so no window lies wholly in the padding);
    ``out_h = (H + 2*ph - kh)//sh + 1 >= 1``, likewise ``out_w``;
    ``H*W <= 2**31 - 1`` when ``argmax`` is int32.
    """
    N, C, H, W = x.shape
    OP = out_h * out_w
    xf = x.reshape(N * C, H * W)
    of = out.reshape(N * C, OP)
    af = argmax.reshape(N * C, OP)
    for t in range(N * C):
        ut = _u(t)
        for oy in range(out_h):
            o = oy * out_w
            y0 = oy * sh - ph
            for ox in range(out_w):
                best, best_i = _window_max(xf, ut, y0, ox * sw - pw, kh, kw, H, W)
                of[ut, _u(o + ox)] = best
                af[ut, _u(o + ox)] = best_i


@numba.njit(cache=True, nogil=True)
def maxpool2d_forward_2x2s2(x, out_h, out_w, out, argmax):
    """``maxpool2d_forward`` for the usual max-pool: 2x2 windows, stride 2, no padding.

    Same arguments, results and tie / NaN rules as the general kernel with
    ``kh = kw = sh = sw = 2, ph = pw = 0``.  Written as selects on a literal
    stride so that LLVM vectorises the loop over a row of windows (the general
    scan costs ~5x more per window; docs/performance.md, "Max-pool").

    Preconditions: ``out_h = H // 2 >= 1``, ``out_w = W // 2 >= 1``; as for the
    general kernel otherwise.
    """
    N, C, H, W = x.shape
    OP = out_h * out_w
    xf = x.reshape(N * C, H * W)
    of = out.reshape(N * C, OP)
    af = argmax.reshape(N * C, OP)
    for t in range(N * C):
        ut = _u(t)
        for oy in range(out_h):
            o = oy * out_w
            r = 2 * oy * W
            # Pairs first, then rows: (a, b) keeps a on a tie, (c, d) keeps c,
            # and the bottom pair wins only when strictly greater, so ties keep
            # the first maximum of the row-major scan.  Comparisons ignore NaN;
            # a NaN (or inf - inf) anywhere in the row makes a window sum NaN,
            # and only then the row is rescanned with the exact rule.
            bad = False
            for ox in range(out_w):
                i0 = r + ox * 2
                a = xf[ut, _u(i0)]
                b = xf[ut, _u(i0 + 1)]
                c = xf[ut, _u(i0 + W)]
                d = xf[ut, _u(i0 + W + 1)]
                top = b if b > a else a
                top_i = 1 if b > a else 0
                bottom = d if d > c else c
                bottom_i = W + 1 if d > c else W
                of[ut, _u(o + ox)] = bottom if bottom > top else top
                af[ut, _u(o + ox)] = i0 + (bottom_i if bottom > top else top_i)
                s = a + b + c + d
                bad = bad | (s != s)
            if bad:
                for ox in range(out_w):
                    best, best_i = _window_max(xf, ut, 2 * oy, ox * 2, 2, 2, H, W)
                    of[ut, _u(o + ox)] = best
                    af[ut, _u(o + ox)] = best_i


@numba.njit(cache=True, nogil=True)
def maxpool2d_backward(grad_out, argmax, dx):
    """Route each output gradient to the input element its window chose.

    grad_out: (N, C, out_h, out_w), read only.
    argmax:   (N, C, out_h, out_w) flat plane indices written by
              ``maxpool2d_forward`` (int32 or int64).
    dx:       (N, C, H, W) output.  The kernel zero-fills it first, plane by
              plane while it is in cache, then accumulates: when stride <
              kernel two windows can choose the same element and both count.

    Preconditions: every argmax value in ``[0, H*W)``; same dtype for
    grad_out and dx; C-contiguous.

    Why fill then scatter: writing each window's four elements directly is
    slower (branches on the random argmax position, or five scalar stores
    against the fill's vector stores; docs/performance.md, "Max-pool").
    """
    N, C, H, W = dx.shape
    HW = H * W
    OP = grad_out.shape[2] * grad_out.shape[3]
    gf = grad_out.reshape(N * C, OP)
    af = argmax.reshape(N * C, OP)
    df = dx.reshape(N * C, HW)
    for t in range(N * C):
        ut = _u(t)
        for i in range(HW):
            df[ut, _u(i)] = 0
        for o in range(OP):
            uo = _u(o)
            df[ut, _u(af[ut, uo])] += gf[ut, uo]


@numba.njit(cache=True, nogil=True)
def avgpool2d_forward(x, kh, kw, sh, sw, ph, pw, out_h, out_w, out):
    """Mean over each (kh, kw) window, zero padding included in the count.

    x:   (N, C, H, W) input, read only.
    out: (N, C, out_h, out_w) output, every element overwritten with the sum
         of the in-bounds window elements divided by ``kh*kw`` (PyTorch's
         ``count_include_pad=True, ceil_mode=False``; the sum is accumulated
         in float64 and rounded once).

    Preconditions: ``kh, kw, sh, sw >= 1``; ``0 <= ph <= kh//2``,
    ``0 <= pw <= kw//2``; ``out_h = (H + 2*ph - kh)//sh + 1 >= 1``,
    likewise ``out_w``.
    """
    N, C, H, W = x.shape
    OP = out_h * out_w
    xf = x.reshape(N * C, H * W)
    of = out.reshape(N * C, OP)
    div = float(kh * kw)
    for t in range(N * C):
        ut = _u(t)
        for oy in range(out_h):
            y0 = oy * sh - ph
            y_lo, y_hi = _in_bounds(y0, kh, H)
            for ox in range(out_w):
                x0 = ox * sw - pw
                x_lo, x_hi = _in_bounds(x0, kw, W)
                # float() keeps the sum in float64 both compiled and under
                # NUMBA_DISABLE_JIT (numpy would add np.float32 + 0.0 in
                # float32 there), so both modes give identical results.
                acc = 0.0
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        acc += float(xf[ut, _u(y * W + xx)])
                of[ut, _u(oy * out_w + ox)] = acc / div


@numba.njit(cache=True, nogil=True)
def avgpool2d_backward(grad_out, kh, kw, sh, sw, ph, pw, dx):
    """Adjoint of ``avgpool2d_forward``.

    grad_out: (N, C, out_h, out_w), read only.
    dx:       (N, C, H, W) output.  The kernel zero-fills it, then adds
              ``grad_out[n, c, oy, ox] / (kh*kw)`` to every in-bounds element
              of window (oy, ox) (overlapping windows accumulate, in float64
              per addition).

    Preconditions: as ``avgpool2d_forward`` for the same geometry; out_h,
    out_w are taken from grad_out, H, W from dx; same dtype; C-contiguous.
    """
    N, C, H, W = dx.shape
    out_h = grad_out.shape[2]
    out_w = grad_out.shape[3]
    HW = H * W
    gf = grad_out.reshape(N * C, out_h * out_w)
    df = dx.reshape(N * C, HW)
    div = float(kh * kw)
    for t in range(N * C):
        ut = _u(t)
        for i in range(HW):
            df[ut, _u(i)] = 0
        for oy in range(out_h):
            y0 = oy * sh - ph
            y_lo, y_hi = _in_bounds(y0, kh, H)
            for ox in range(out_w):
                x0 = ox * sw - pw
                x_lo, x_hi = _in_bounds(x0, kw, W)
                g = float(gf[ut, _u(oy * out_w + ox)]) / div
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        i = _u(y * W + xx)
                        df[ut, i] = float(df[ut, i]) + g
