"""Max-pool, average-pool, adaptive-pool and max-unpool 2-D kernels (NCHW), PyTorch semantics.

Plain serial loops over the N*C planes (``nogil``): the caller runs them on
one chunk of the batch per thread (``fastgrad/kernels/threads.py``).  Pooling
windows never cross planes, and a plane stays in L1 while it is worked on.
Kernels never allocate their outputs and never validate their arguments; the
caller must guarantee the preconditions given in each docstring
(``fastgrad/ops/conv_geometry.py`` does).  All arrays must be C-contiguous;
floating arrays of one call share one dtype (float32 or float64), the output
dtype being the input dtype (max-pool forward also takes integer inputs).
A 1-D pool is a 2-D one on planes of height 1.

Output size, as PyTorch (``conv_geometry.pool_output_size``)::

    out_h = (H + 2*ph - dh*(kh - 1) - 1 + (sh - 1 if ceil_mode else 0))//sh + 1
    # with ceil_mode, minus one when the last window would start at or past H + ph

so a window may run past the input (and the right padding): every kernel
clips windows to the input.
"""

import numba
import numpy as np

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
    "adaptive_avgpool2d_forward",
    "adaptive_avgpool2d_backward",
    "adaptive_maxpool2d_forward",
    "maxunpool2d_forward",
    "maxunpool2d_backward",
]


@numba.njit(cache=True, nogil=True)
def _in_bounds(start, size, limit):
    """[lo, hi): the part of the window [start, start + size) inside [0, limit)."""
    return max(start, 0), min(start + size, limit)


@numba.njit(cache=True, nogil=True)
def _taps(start, size, dilation, limit):
    """[lo, hi): the taps ``start + i*dilation``, i in [0, size), that lie in [0, limit),
    as a range of positions (step ``dilation``)."""
    lo = start
    while lo < 0:
        lo += dilation
    return lo, min(start + (size - 1) * dilation + 1, limit)


@numba.njit(cache=True, nogil=True)
def _window_max(xf, ut, y0, x0, kh, kw, H, W):
    """PyTorch's max-pool scan of one window of plane ``xf[ut]`` (flat H*W).

    The window's top-left corner is (y0, x0) in unpadded coordinates (may be
    negative: padding); returns (max value, flat index of the chosen element).
    """
    y_lo, y_hi = _in_bounds(y0, kh, H)
    x_lo, x_hi = _in_bounds(x0, kw, W)
    # The loops of _scan_max with literal steps: this is the NaN fallback of the 2x2 kernel,
    # which the variable-step version slows by ~5% even when it never runs.
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
def _scan_max(xf, ut, y_lo, y_hi, dh, x_lo, x_hi, dw, W):
    """Max of plane ``xf[ut]`` over rows range(y_lo, y_hi, dh) x columns
    range(x_lo, x_hi, dw) (non-empty, in bounds), with the flat index chosen."""
    # Starting from the first in-bounds element is the state PyTorch reaches
    # after it (it starts from -inf with that element's index), and
    # re-visiting it below changes nothing; this keeps `best` in x's dtype.
    best_i = y_lo * W + x_lo
    best = xf[ut, _u(best_i)]
    for y in range(y_lo, y_hi, dh):
        for xx in range(x_lo, x_hi, dw):
            i = y * W + xx
            v = xf[ut, _u(i)]
            if v > best or v != v:
                best = v
                best_i = i
    return best, best_i


@numba.njit(cache=True, nogil=True)
def maxpool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, out, argmax):
    """Max over each (kh, kw) window with taps (dh, dw) apart, with the position of the
    chosen element.

    x:      (N, C, H, W) input, read only (float, or integer: forward only).
    out:    (N, C, out_h, out_w) output, every element overwritten.
    argmax: (N, C, out_h, out_w) integer output (int32 or int64, each its own
            compiled specialisation), every element overwritten with the flat
            index ``h*W + w`` into the *unpadded* input plane ``x[n, c]``.

    Semantics are PyTorch's CPU kernel: padding counts as -inf; the scan is in
    row-major window order and an element replaces the running max when it is
    strictly greater (so ties keep the FIRST maximum) or when it is NaN (so a
    NaN always propagates; with several NaNs the LAST one is reported).  A
    window of only -inf reports its first in-bounds element.

    Preconditions: ``kh, kw, sh, sw, dh, dw >= 1``; ``0 <= ph <= kh//2``,
    ``0 <= pw <= kw//2``; ``out_h, out_w >= 1`` given by the output-size rule
    above (floor or ceil mode); every window holds at least one input element
    (only a dilated window starting in the padding can fail to);
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
            if dh == 1 and dw == 1:
                # Literal unit steps: the variable-step loops cost ~5% more per window.
                for ox in range(out_w):
                    best, best_i = _window_max(xf, ut, oy * sh - ph, ox * sw - pw, kh, kw, H, W)
                    of[ut, _u(o + ox)] = best
                    af[ut, _u(o + ox)] = best_i
                continue
            y_lo, y_hi = _taps(oy * sh - ph, kh, dh, H)
            for ox in range(out_w):
                x_lo, x_hi = _taps(ox * sw - pw, kw, dw, W)
                best, best_i = _scan_max(xf, ut, y_lo, y_hi, dh, x_lo, x_hi, dw, W)
                of[ut, _u(o + ox)] = best
                af[ut, _u(o + ox)] = best_i


@numba.njit(cache=True, nogil=True)
def maxpool2d_forward_2x2s2(x, out_h, out_w, out, argmax):
    """``maxpool2d_forward`` for the usual max-pool: 2x2 windows, stride 2, no padding.

    Same arguments, results and tie / NaN rules as the general kernel with
    ``kh = kw = sh = sw = 2, ph = pw = 0``.  Written as selects on a literal
    stride so that LLVM vectorises the loop over a row of windows (the general
    scan costs ~5x more per window; docs/performance.md, "Max-pool").

    Preconditions: ``out_h = H // 2 >= 1``, ``out_w = W // 2 >= 1`` (floor
    mode, or ceil mode on even sizes); float input; as for the general kernel
    otherwise.
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
              ``maxpool2d_forward`` or ``adaptive_maxpool2d_forward`` (int32
              or int64).
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
def _avg_spans(out_n, stride, size, pad, limit, count_include_pad):
    """One axis of PyTorch's avg-pool windows [o*stride - pad, ... + size), o < out_n, as an
    (out_n, 3) array of (lo, hi, count): the part inside the input [0, limit), and how many
    elements the divisor counts on this axis: with ``count_include_pad`` the window clipped
    to input + padding only (PyTorch's ``pool_size``: a ceil-mode window running past the
    right padding does not count the part beyond it), else the in-input part.

    Computed once per call rather than per window, where it costs more than a 2x2 sum."""
    # (measured: per window, the 2x2 avg forward was ~20% slower than with this table)
    spans = np.empty((out_n, 3), np.intp)
    for o in range(out_n):
        start = o * stride - pad
        lo, hi = _in_bounds(start, size, limit)
        spans[o, 0] = lo
        spans[o, 1] = hi
        spans[o, 2] = min(start + size, limit + pad) - start if count_include_pad else hi - lo
    return spans


@numba.njit(cache=True, nogil=True)
def avgpool2d_forward(x, kh, kw, sh, sw, ph, pw, out_h, out_w, count_include_pad,
                      divisor_override, out):
    """Mean over each (kh, kw) window, with PyTorch's divisor rules (``_avg_spans``).

    x:   (N, C, H, W) input, read only.
    out: (N, C, out_h, out_w) output, every element overwritten with the sum
         of the in-bounds window elements divided by ``divisor_override`` when
         it is not 0, else by the window's count (the sum is accumulated in
         float64 and rounded once).

    Preconditions: ``kh, kw, sh, sw >= 1``; ``0 <= ph <= kh//2``,
    ``0 <= pw <= kw//2``; ``out_h, out_w >= 1`` by the output-size rule above.
    """
    N, C, H, W = x.shape
    OP = out_h * out_w
    xf = x.reshape(N * C, H * W)
    of = out.reshape(N * C, OP)
    rows = _avg_spans(out_h, sh, kh, ph, H, count_include_pad)
    cols = _avg_spans(out_w, sw, kw, pw, W, count_include_pad)
    for t in range(N * C):
        ut = _u(t)
        for oy in range(out_h):
            uy = _u(oy)
            y_lo, y_hi = rows[uy, 0], rows[uy, 1]
            for ox in range(out_w):
                ux = _u(ox)
                x_lo, x_hi = cols[ux, 0], cols[ux, 1]
                div = divisor_override if divisor_override != 0 else rows[uy, 2] * cols[ux, 2]
                # float() keeps the sum in float64 both compiled and under
                # NUMBA_DISABLE_JIT (numpy would add np.float32 + 0.0 in
                # float32 there), so both modes give identical results.
                acc = 0.0
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        acc += float(xf[ut, _u(y * W + xx)])
                of[ut, _u(oy * out_w + ox)] = acc / div


@numba.njit(cache=True, nogil=True)
def avgpool2d_backward(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override,
                       dx):
    """Adjoint of ``avgpool2d_forward``.

    grad_out: (N, C, out_h, out_w), read only.
    dx:       (N, C, H, W) output.  The kernel zero-fills it, then adds
              ``grad_out[n, c, oy, ox] / divisor`` to every in-bounds element
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
    rows = _avg_spans(out_h, sh, kh, ph, H, count_include_pad)
    cols = _avg_spans(out_w, sw, kw, pw, W, count_include_pad)
    for t in range(N * C):
        ut = _u(t)
        for i in range(HW):
            df[ut, _u(i)] = 0
        for oy in range(out_h):
            uy = _u(oy)
            y_lo, y_hi = rows[uy, 0], rows[uy, 1]
            for ox in range(out_w):
                ux = _u(ox)
                x_lo, x_hi = cols[ux, 0], cols[ux, 1]
                div = divisor_override if divisor_override != 0 else rows[uy, 2] * cols[ux, 2]
                g = float(gf[ut, _u(oy * out_w + ox)]) / div
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        i = _u(y * W + xx)
                        df[ut, i] = float(df[ut, i]) + g


@numba.njit(cache=True, nogil=True)
def _adaptive_bounds(o, out_size, in_size):
    """PyTorch's adaptive window o of out_size over in_size elements:
    [floor(o*in/out), ceil((o+1)*in/out)), never empty."""
    return (o * in_size) // out_size, ((o + 1) * in_size + out_size - 1) // out_size


@numba.njit(cache=True, nogil=True)
def adaptive_avgpool2d_forward(x, out):
    """Mean over each adaptive window (``_adaptive_bounds`` on each axis).

    x:   (N, C, H, W) input, read only, H, W >= 1.
    out: (N, C, out_h, out_w) output (any out_h, out_w >= 0, smaller or larger
         than H, W), every element overwritten; sums in float64, rounded once.
    """
    N, C, H, W = x.shape
    out_h = out.shape[2]
    out_w = out.shape[3]
    xf = x.reshape(N * C, H * W)
    of = out.reshape(N * C, out_h * out_w)
    for t in range(N * C):
        ut = _u(t)
        for oy in range(out_h):
            y_lo, y_hi = _adaptive_bounds(oy, out_h, H)
            for ox in range(out_w):
                x_lo, x_hi = _adaptive_bounds(ox, out_w, W)
                acc = 0.0
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        acc += float(xf[ut, _u(y * W + xx)])
                of[ut, _u(oy * out_w + ox)] = acc / ((y_hi - y_lo) * (x_hi - x_lo))


@numba.njit(cache=True, nogil=True)
def adaptive_avgpool2d_backward(grad_out, dx):
    """Adjoint of ``adaptive_avgpool2d_forward``: dx (N, C, H, W) zero-filled, then each
    window's elements get ``grad_out / window size`` (overlaps accumulate in float64)."""
    N, C, H, W = dx.shape
    out_h = grad_out.shape[2]
    out_w = grad_out.shape[3]
    gf = grad_out.reshape(N * C, out_h * out_w)
    df = dx.reshape(N * C, H * W)
    for t in range(N * C):
        ut = _u(t)
        for i in range(H * W):
            df[ut, _u(i)] = 0
        for oy in range(out_h):
            y_lo, y_hi = _adaptive_bounds(oy, out_h, H)
            for ox in range(out_w):
                x_lo, x_hi = _adaptive_bounds(ox, out_w, W)
                g = float(gf[ut, _u(oy * out_w + ox)]) / ((y_hi - y_lo) * (x_hi - x_lo))
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        i = _u(y * W + xx)
                        df[ut, i] = float(df[ut, i]) + g


@numba.njit(cache=True, nogil=True)
def adaptive_maxpool2d_forward(x, out, argmax):
    """Max over each adaptive window, with the flat plane index of the chosen element
    (same tie / NaN rules as ``maxpool2d_forward``; its backward is
    ``maxpool2d_backward``).

    x: (N, C, H, W), H, W >= 1; out, argmax: (N, C, out_h, out_w), overwritten.
    """
    N, C, H, W = x.shape
    out_h = out.shape[2]
    out_w = out.shape[3]
    OP = out_h * out_w
    xf = x.reshape(N * C, H * W)
    of = out.reshape(N * C, OP)
    af = argmax.reshape(N * C, OP)
    for t in range(N * C):
        ut = _u(t)
        for oy in range(out_h):
            y_lo, y_hi = _adaptive_bounds(oy, out_h, H)
            for ox in range(out_w):
                x_lo, x_hi = _adaptive_bounds(ox, out_w, W)
                best, best_i = _scan_max(xf, ut, y_lo, y_hi, 1, x_lo, x_hi, 1, W)
                of[ut, _u(oy * out_w + ox)] = best
                af[ut, _u(oy * out_w + ox)] = best_i


@numba.njit(cache=True, nogil=True)
def maxunpool2d_forward(x, indices, out):
    """Scatter each input element to its flat index in the output plane, zeros elsewhere.

    x, indices: (N, C, H, W), read only; indices int64, every value in
                [0, out_h*out_w) (checked by the caller).
    out:        (N, C, out_h, out_w), zero-filled then written; when two
                elements share an index the later one (row-major) wins, as
                PyTorch's serial CPU loop.
    """
    N, C, H, W = x.shape
    HW = H * W
    OP = out.shape[2] * out.shape[3]
    xf = x.reshape(N * C, HW)
    jf = indices.reshape(N * C, HW)
    of = out.reshape(N * C, OP)
    for t in range(N * C):
        ut = _u(t)
        for o in range(OP):
            of[ut, _u(o)] = 0
        for i in range(HW):
            ui = _u(i)
            of[ut, _u(jf[ut, ui])] = xf[ut, ui]


@numba.njit(cache=True, nogil=True)
def maxunpool2d_backward(grad_out, indices, dx):
    """Adjoint of ``maxunpool2d_forward`` as PyTorch takes it: a gather,
    ``dx[n, c].flat[i] = grad_out[n, c].flat[indices[n, c].flat[i]]``.

    grad_out: (N, C, out_h, out_w); indices: as the forward's; dx: (N, C, H, W),
    every element overwritten.
    """
    N, C, H, W = dx.shape
    HW = H * W
    OP = grad_out.shape[2] * grad_out.shape[3]
    gf = grad_out.reshape(N * C, OP)
    jf = indices.reshape(N * C, HW)
    df = dx.reshape(N * C, HW)
    for t in range(N * C):
        ut = _u(t)
        for i in range(HW):
            ui = _u(i)
            df[ut, ui] = gf[ut, _u(jf[ut, ui])]
