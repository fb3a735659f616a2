"""Depthwise convolution kernels (groups == in channels == out channels): each output plane
is one input plane correlated with its own KH x KW filter.

Why not im2col: with one channel per group the columns are KH*KW copies of the input for
GEMMs of a single row, so the copy is all of the work; these loops read the input in place
instead. Each loop runs tap by tap over a whole plane (which stays in cache), the inner loop
over output columns without a bounds test (``_valid_ox_range``) and with unsigned indices
(``_u``, as in ``im2col.py``), so that it vectorises for stride 1.

Serial and ``nogil`` (``ops/conv.py`` runs them on one chunk of the batch per thread); none
allocates its output or validates its arguments. Arrays C-contiguous, one float dtype;
geometry as for ``im2col`` (``out_h``, ``out_w`` its output sizes).
"""
import numba

from .im2col import _u, _valid_ox_range

__all__ = ["depthwise_forward", "depthwise_input_grad", "depthwise_weight_grad"]


@numba.njit(cache=True, nogil=True)
def depthwise_forward(x, weight, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """out[n, c, oy, ox] = sum_ij weight[c, i, j] * x[n, c, oy*sh - ph + i*dh, ox*sw - pw + j*dw]
    (zero padding). x (N, C, H, W); weight (C, KH, KW); out (N, C, OH, OW), overwritten."""
    N, C, H, W = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            plane = out[n, c]
            src = x[n, c]
            plane[:, :] = 0
            for i in range(kh):
                off_h = i * dh - ph
                y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
                for j in range(kw):
                    off_w = j * dw - pw
                    lo, hi = _valid_ox_range(off_w, sw, W, out_w)
                    tap = weight[c, i, j]
                    for oy in range(y_lo, y_hi):
                        row = src[oy * sh + off_h]
                        dst = plane[oy]
                        for ox in range(lo, hi):
                            dst[_u(ox)] += tap * row[_u(ox * sw + off_w)]


@numba.njit(cache=True, nogil=True)
def depthwise_input_grad(grad, weight, kh, kw, sh, sw, ph, pw, dh, dw, d_x):
    """The adjoint of ``depthwise_forward`` in x: each grad entry times each tap added onto
    the input pixel it read. grad (N, C, OH, OW); weight (C, KH, KW); d_x (N, C, H, W),
    overwritten."""
    N, C, H, W = d_x.shape
    out_h, out_w = grad.shape[2], grad.shape[3]
    for n in range(N):
        for c in range(C):
            plane = d_x[n, c]
            src = grad[n, c]
            plane[:, :] = 0
            for i in range(kh):
                off_h = i * dh - ph
                y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
                for j in range(kw):
                    off_w = j * dw - pw
                    lo, hi = _valid_ox_range(off_w, sw, W, out_w)
                    tap = weight[c, i, j]
                    for oy in range(y_lo, y_hi):
                        row = src[oy]
                        dst = plane[oy * sh + off_h]
                        for ox in range(lo, hi):
                            dst[_u(ox * sw + off_w)] += tap * row[_u(ox)]


@numba.njit(cache=True, nogil=True)
def depthwise_weight_grad(x, grad, kh, kw, sh, sw, ph, pw, dh, dw, partial, d_weight):
    """d_weight[c, i, j] = sum over n, oy, ox of grad[n, c, oy, ox] * the x pixel tap (i, j)
    read. x (N, C, H, W); grad (N, C, OH, OW); partial (OW,) scratch; d_weight (C, KH, KW),
    overwritten.

    Each tap's products are summed down the rows into ``partial``, one sum per output
    column, then across it: the loop over columns is then an elementwise
    multiply-add, which vectorises, where one running scalar sum would not (a float
    reduction is not reordered without fastmath).
    """
    N, C, H, W = x.shape
    out_h, out_w = grad.shape[2], grad.shape[3]
    d_weight[:, :, :] = 0
    for n in range(N):
        for c in range(C):
            src = x[n, c]
            g = grad[n, c]
            for i in range(kh):
                off_h = i * dh - ph
                y_lo, y_hi = _valid_ox_range(off_h, sh, H, out_h)
                for j in range(kw):
                    off_w = j * dw - pw
                    lo, hi = _valid_ox_range(off_w, sw, W, out_w)
                    partial[:] = 0
                    for oy in range(y_lo, y_hi):
                        row = src[oy * sh + off_h]
                        g_row = g[oy]
                        for ox in range(lo, hi):
                            partial[_u(ox)] += g_row[_u(ox)] * row[_u(ox * sw + off_w)]
                    d_weight[c, i, j] += partial.sum()
