"""conv2d as im2col + one GEMM per pass, with numba kernels for the data movement.

Shapes for a chunk of n images (P = OH*OW, K = C*KH*KW):
    forward   cols (K, n*P) = im2col(x);  y (O, n*P) = W.reshape(O, K) @ cols;  out = NCHW(y) + b
    backward  g (O, n*P) = rows of grad_output (db summed on the way)
              dW = (cols @ g.T).T;  dcols = W.reshape(O, K).T @ g;  dx = col2im(dcols)
The batch is cut into one chunk per core, each run on its own thread with single-threaded
kernels and BLAS (see ``fastgrad/kernels/threads.py`` for the measurements behind that), and
``fastgrad/kernels/im2col.py`` for why this column layout.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import cnhw_to_nchw, col2im, im2col, nchw_to_cnhw
from fastgrad.kernels.threads import batch_chunks, run_chunks
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import batched, conv2d_geometry
from fastgrad.ops.workspace import NO_WORKSPACE


class Conv2dGradFn(GradFn):
    def __init__(self, x, weight, bias, cols, chunks, geometry, workspace):
        super().__init__(x, weight, bias)
        self.cols = cols  # one column buffer per chunk of the batch
        self.chunks = chunks
        self.weight = weight.arr
        self.geometry = geometry
        self.workspace = workspace
        self.save_for_backward(weight)

    def backward(self, grad_output):
        g = self.geometry
        need_x, need_w, need_b = self.needs_input_grad
        dtype = self.weight.dtype
        k = g.c * g.kh * g.kw
        positions = g.out_h * g.out_w
        weight_matrix = self.weight.reshape(g.out_channels, k)
        grad_nchw = np.ascontiguousarray(grad_output, dtype=dtype)
        d_x = np.empty((g.n, g.c, g.h, g.w), dtype=dtype) if need_x else None
        grad_rows = [self.workspace.take((g.out_channels, (hi - lo) * positions), dtype)
                     for lo, hi in self.chunks]
        d_cols = [self.workspace.take((k, (hi - lo) * positions), dtype) if need_x else None
                  for lo, hi in self.chunks]

        def chunk(i, lo, hi):
            rows = grad_rows[i]
            d_bias = np.empty(g.out_channels, dtype=dtype) if need_b else None
            nchw_to_cnhw(grad_nchw[lo:hi].reshape(hi - lo, g.out_channels, positions), rows, d_bias)
            # (cols @ g.T) keeps the long n*P axis as the GEMM's inner dimension with both
            # operands in their stored order: measured faster than g @ cols.T.
            d_weight_t = self.cols[i] @ rows.T if need_w else None
            if need_x:
                np.matmul(weight_matrix.T, rows, out=d_cols[i])
                col2im(d_cols[i], hi - lo, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw,
                       g.dh, g.dw, g.out_h, g.out_w, d_x[lo:hi])
            return d_weight_t, d_bias

        parts = run_chunks(chunk, self.chunks)
        for buffer in grad_rows + d_cols:
            if buffer is not None:
                self.workspace.give_back(buffer)
        d_weight = d_bias = None
        if need_w:
            d_weight = np.ascontiguousarray(sum(p[0] for p in parts).T).reshape(self.weight.shape)
        if need_b:
            d_bias = sum(p[1] for p in parts)
        return d_x, d_weight, d_bias

    def release(self):
        workspace, cols = self.workspace, self.cols
        super().release()
        for buffer in cols:
            workspace.give_back(buffer)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, workspace=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` with groups=1.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C, KH, KW); bias (O,) or None;
    stride / padding / dilation an int or an (h, w) pair. Returns (N, O, OH, OW) with
    OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (likewise OW), in the input's dtype.
    ``workspace`` (a ``fastgrad.ops.workspace.Workspace``) lends reusable scratch buffers.
    """
    x, weight = as_tensor(input), as_tensor(weight)
    x, unbatched = batched(x, "conv2d")
    g = conv2d_geometry(x, weight, bias, stride, padding, dilation)
    ws = NO_WORKSPACE if workspace is None else workspace
    dtype = x.dtype
    k = g.c * g.kh * g.kw
    positions = g.out_h * g.out_w
    x_arr = np.ascontiguousarray(x.arr)
    weight_matrix = np.ascontiguousarray(weight.arr).reshape(g.out_channels, k)
    bias_arr = None if bias is None else np.ascontiguousarray(bias.arr)
    out = np.empty((g.n, g.out_channels, g.out_h, g.out_w), dtype=dtype)
    chunks = batch_chunks(g.n)
    cols = [ws.take((k, (hi - lo) * positions), dtype) for lo, hi in chunks]
    rows = [ws.take((g.out_channels, (hi - lo) * positions), dtype) for lo, hi in chunks]

    def chunk(i, lo, hi):
        im2col(x_arr[lo:hi], g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.out_h, g.out_w, cols[i])
        np.matmul(weight_matrix, cols[i], out=rows[i])
        cnhw_to_nchw(rows[i], bias_arr, out[lo:hi].reshape(hi - lo, g.out_channels, positions))

    run_chunks(chunk, chunks)
    for buffer in rows:
        ws.give_back(buffer)
    if needs_grad(x, weight, bias):
        fn = Conv2dGradFn(x, weight, bias, cols, chunks, g, ws)
    else:
        fn = None
        for buffer in cols:
            ws.give_back(buffer)
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result
